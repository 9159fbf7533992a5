/*
 * C ABI: values besides numeric tensors. String tensors, sequences, maps, optionals and packed
 * element types, in (through a request) and out (through outputs), and the typed errors around
 * them (NULLs, wrong kinds, nesting and lengths past their bounds); element sizes.
 *
 * Models: tests/fixtures/values/ (tests/fixtures/make_value_fixtures.py). Built with -Wall -Wextra
 * -Wpedantic -Werror, run under ASan/UBSan and under valgrind by `make test-c`.
 * Usage: test_values <tests/fixtures directory>
 */
#define _POSIX_C_SOURCE 200809L
#include "inferkit.h"
#include "inferkit.h" /* included twice on purpose: the include guard must hold */

#include "common.h"

/* A model of tests/fixtures/values/; the test stops if it does not open. */
static inferkit_model *open_model(const char *name) {
  char file[256];
  inferkit_model *model;
  snprintf(file, sizeof file, "values/%s", name);
  model = open_fixture(file, NULL);
  if (!model) test_finish("test_values");
  return model;
}

static inferkit_value *f32_value(const float *data, int64_t n) {
  inferkit_value *v = NULL;
  CHECK(inferkit_value_new_tensor(INFERKIT_DTYPE_F32, &n, 1, data, (size_t)n * sizeof(float), &v, NULL) == INFERKIT_STATUS_OK, "f32 value");
  return v;
}

/* The numbers of a tensor read out of a value. */
static const void *tensor_data(const inferkit_tensor *t, uint32_t want_dtype, size_t *elements) {
  uint32_t dtype = 0;
  const size_t *dims = NULL;
  size_t rank = 0, len = 0;
  const void *data = NULL;
  CHECK(inferkit_tensor_read(t, &dtype, &dims, &rank, elements, &data, &len, NULL) == INFERKIT_STATUS_OK, "read");
  CHECK(dtype == want_dtype, "dtype %u, want %u", dtype, want_dtype);
  return data;
}

static void strings_in_and_out(void) {
  inferkit_model *model = open_model("strings.onnx");
  inferkit_request *req = new_request(model);
  /* With lengths: an embedded NUL survives. */
  const char *words[3] = {"cat", "d\0g", "emu"};
  size_t lengths[3] = {3, 3, 3};
  int64_t shape[1] = {3};
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_strings(req, "words", shape, 1, words, lengths, 3, error_out));
  inferkit_outputs *outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_run(req, &outputs, error_out));
  if (outputs) {
    const inferkit_value *plural = inferkit_outputs_value(outputs, 0);
    CHECK(inferkit_value_get_kind(plural) == INFERKIT_VALUE_KIND_TENSOR, "plural is a tensor");
    const inferkit_tensor *t = inferkit_value_tensor(plural);
    size_t n = 0;
    (void)tensor_data(t, INFERKIT_DTYPE_STRING, &n);
    CHECK(n == 3, "3 strings, got %zu", n);
    const char *s = NULL;
    size_t len = 0;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_tensor_string(t, 1, &s, &len, error_out));
    CHECK(len == 4 && memcmp(s, "d\0gs", 4) == 0, "string 1 has %zu bytes", len);
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_tensor_string(t, 3, &s, &len, error_out));
    /* A string output is not read as raw numbers. */
    EXPECT_STATUS(INFERKIT_STATUS_TYPE_MISMATCH, "inferkit_outputs_value",
                  inferkit_outputs_get(outputs, 0, NULL, NULL, NULL, NULL, NULL, NULL, error_out));
    const inferkit_value *ids = inferkit_outputs_value(outputs, 1);
    const int64_t *id = tensor_data(inferkit_value_tensor(ids), INFERKIT_DTYPE_I64, &n);
    CHECK(n == 3 && id[0] == 1 && id[1] == -1 && id[2] == -1, "ids");
    EXPECT_STATUS(INFERKIT_STATUS_TYPE_MISMATCH, "string tensor", inferkit_tensor_string(inferkit_value_tensor(ids), 0, &s, &len, error_out));
    CHECK(inferkit_outputs_value(outputs, 2) == NULL, "no output 2");
    inferkit_outputs_free(outputs);
  }
  /* Without lengths: NUL-terminated. NULL strings are typed errors. */
  inferkit_request_clear(req);
  const char *dog[1] = {"dog"};
  int64_t one[1] = {1};
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_strings(req, "words", one, 1, dog, NULL, 1, error_out));
  outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_run(req, &outputs, error_out));
  inferkit_outputs_free(outputs);
  const char *null_string[1] = {NULL};
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "strings", inferkit_request_add_strings(req, "words", one, 1, null_string, NULL, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "strings", inferkit_request_add_strings(req, "words", one, 1, NULL, NULL, 1, error_out));
  /* The type is described for C readers. */
  uint32_t kind = 0;
  const char *type = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_value_type(model, INFERKIT_IO_INPUT, 0, &kind, &type, error_out));
  CHECK(kind == INFERKIT_VALUE_KIND_TENSOR && strcmp(type, "string[n]") == 0, "type %s", type);
  inferkit_request_free(req);
  inferkit_model_close(model);
}

static void sequences_in_and_out(void) {
  inferkit_model *model = open_model("seq_len.onnx");
  float a[2] = {1, 2}, b[3] = {3, 4, 5};
  inferkit_value *items[2] = {f32_value(a, 2), f32_value(b, 3)};
  inferkit_value *seq = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_value_new_sequence((const inferkit_value *const *)items, 2, &seq, error_out));
  /* The sequence holds copies: the items may go now. */
  inferkit_value_free(items[0]);
  inferkit_value_free(items[1]);
  CHECK(inferkit_value_get_kind(seq) == INFERKIT_VALUE_KIND_SEQUENCE && inferkit_value_count(seq) == 2, "sequence of 2");
  inferkit_request *req = new_request(model);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_value(req, "items", seq, error_out));
  inferkit_value_free(seq);
  inferkit_outputs *outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_run(req, &outputs, error_out));
  if (outputs) {
    size_t n = 0;
    const int64_t *count = tensor_data(inferkit_value_tensor(inferkit_outputs_value(outputs, 0)), INFERKIT_DTYPE_I64, &n);
    CHECK(n == 1 && count[0] == 2, "count");
    inferkit_outputs_free(outputs);
  }
  /* A tensor where the model takes a sequence. */
  inferkit_request_clear(req);
  float x[1] = {1};
  inferkit_value *tensor = f32_value(x, 1);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_value(req, "items", tensor, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_TYPE_MISMATCH, "seq(f32[..])", inferkit_request_run(req, &outputs, error_out));
  inferkit_value_free(tensor);
  uint32_t kind = 0;
  const char *type = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_value_type(model, INFERKIT_IO_INPUT, 0, &kind, &type, error_out));
  CHECK(kind == INFERKIT_VALUE_KIND_SEQUENCE && strcmp(type, "seq(f32[..])") == 0, "type %s", type);
  inferkit_request_free(req);
  inferkit_model_close(model);

  /* A sequence output, element by element. */
  model = open_model("seq_split.onnx");
  float five[5] = {1, 2, 3, 4, 5};
  int64_t shape[1] = {5};
  req = new_request(model);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 1, five, sizeof five, error_out));
  outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_run(req, &outputs, error_out));
  if (outputs) {
    const inferkit_value *parts = inferkit_outputs_value(outputs, 0);
    CHECK(inferkit_value_count(parts) == 3, "3 parts");
    size_t n = 0;
    const float *last = tensor_data(inferkit_value_tensor(inferkit_value_item(parts, 2)), INFERKIT_DTYPE_F32, &n);
    CHECK(n == 1 && last[0] == 5.0f, "last part");
    CHECK(inferkit_value_item(parts, 3) == NULL, "no part 3");
    CHECK(inferkit_value_tensor(parts) == NULL, "a sequence is not a tensor");
    inferkit_outputs_free(outputs);
  }
  inferkit_request_free(req);
  inferkit_model_close(model);
}

static void maps_in_and_out(void) {
  inferkit_model *model = open_model("dict_in.onnx");
  int64_t keys[2] = {30, 10};
  float values[2] = {3, 1};
  int64_t two = 2;
  inferkit_value *k = NULL, *v = NULL, *map = NULL;
  CHECK(inferkit_value_new_tensor(INFERKIT_DTYPE_I64, &two, 1, keys, sizeof keys, &k, NULL) == INFERKIT_STATUS_OK, "keys");
  v = f32_value(values, 2);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_value_new_map(k, v, &map, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "keys", inferkit_value_new_map(NULL, v, &map, error_out));
  inferkit_request *req = new_request(model);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_value(req, "counts", map, error_out));
  inferkit_outputs *outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_run(req, &outputs, error_out));
  if (outputs) {
    size_t n = 0;
    const float *dense = tensor_data(inferkit_value_tensor(inferkit_outputs_value(outputs, 0)), INFERKIT_DTYPE_F32, &n);
    CHECK(n == 3 && dense[0] == 1 && dense[1] == 0 && dense[2] == 3, "dense");
    inferkit_outputs_free(outputs);
  }
  /* A map is not a sequence of anything. */
  inferkit_value *not_a_map = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "tensor", inferkit_value_new_map(map, v, &not_a_map, error_out));
  inferkit_value_free(map);
  inferkit_value_free(k);
  inferkit_value_free(v);
  inferkit_request_free(req);
  inferkit_model_close(model);

  model = open_model("zipmap.onnx");
  float probs[2] = {0.25f, 0.75f};
  int64_t shape[2] = {1, 2};
  req = new_request(model);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "probs", INFERKIT_DTYPE_F32, shape, 2, probs, sizeof probs, error_out));
  outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_run(req, &outputs, error_out));
  if (outputs) {
    const inferkit_value *rows = inferkit_outputs_value(outputs, 0);
    const inferkit_value *row = inferkit_value_item(rows, 0);
    CHECK(inferkit_value_get_kind(row) == INFERKIT_VALUE_KIND_MAP && inferkit_value_count(row) == 2, "a map of 2");
    size_t n = 0;
    const int64_t *ids = tensor_data(inferkit_value_map_tensor(row, false), INFERKIT_DTYPE_I64, &n);
    const float *p = tensor_data(inferkit_value_map_tensor(row, true), INFERKIT_DTYPE_F32, &n);
    CHECK(n == 2 && ids[0] == 0 && ids[1] == 1 && p[0] == 0.25f && p[1] == 0.75f, "zipmap row");
    CHECK(inferkit_value_map_tensor(rows, false) == NULL, "a sequence has no keys");
    inferkit_outputs_free(outputs);
  }
  inferkit_request_free(req);
  inferkit_model_close(model);
}

static void optionals_in_and_out(void) {
  inferkit_model *model = open_model("optional.onnx");
  inferkit_value *none = NULL, *some = NULL;
  float x[2] = {1.5f, 2.5f};
  inferkit_value *tensor = f32_value(x, 2);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_value_new_optional(NULL, &none, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_value_new_optional(tensor, &some, error_out));
  CHECK(inferkit_value_count(none) == 0 && inferkit_value_count(some) == 1, "counts");
  const inferkit_value *given[3] = {none, some, NULL /* left out */};
  for (int i = 0; i < 3; i++) {
    inferkit_request *req = new_request(model);
    if (given[i]) EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_value(req, "maybe", given[i], error_out));
    inferkit_outputs *outputs = NULL;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_run(req, &outputs, error_out));
    if (outputs) {
      size_t n = 0;
      const bool *has = tensor_data(inferkit_value_tensor(inferkit_outputs_value(outputs, 0)), INFERKIT_DTYPE_BOOL, &n);
      CHECK(n == 1 && has[0] == (i == 1), "has %d", i);
      const inferkit_value *same = inferkit_outputs_value(outputs, 1);
      CHECK(inferkit_value_get_kind(same) == INFERKIT_VALUE_KIND_OPTIONAL, "optional");
      CHECK(inferkit_value_count(same) == (i == 1 ? 1u : 0u), "present %d", i);
      if (i == 1) {
        const float *f = tensor_data(inferkit_value_tensor(inferkit_value_item(same, 0)), INFERKIT_DTYPE_F32, &n);
        CHECK(n == 2 && f[1] == 2.5f, "same");
      } else {
        CHECK(inferkit_value_item(same, 0) == NULL, "absent");
      }
      inferkit_outputs_free(outputs);
    }
    inferkit_request_free(req);
  }
  inferkit_value_free(none);
  inferkit_value_free(some);
  inferkit_value_free(tensor);
  inferkit_model_close(model);
}

static void packed_types_and_nulls(void) {
  inferkit_model *model = open_model("two_bit.onnx");
  uint8_t a = 0xE4; /* i2 [0, 1, -2, -1] */
  float b[4] = {0, 1, 2, 3};
  uint8_t e[2] = {127, 128};
  int64_t four = 4, two = 2;
  inferkit_request *req = new_request(model);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "a", INFERKIT_DTYPE_I2, &four, 1, &a, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "b", INFERKIT_DTYPE_F32, &four, 1, b, sizeof b, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "e", INFERKIT_DTYPE_F8E8M0, &two, 1, e, 2, error_out));
  inferkit_outputs *outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_run(req, &outputs, error_out));
  if (outputs) {
    size_t n = 0;
    const float *a32 = tensor_data(inferkit_value_tensor(inferkit_outputs_value(outputs, 0)), INFERKIT_DTYPE_F32, &n);
    CHECK(n == 4 && a32[2] == -2.0f && a32[3] == -1.0f, "a32");
    uint32_t dtype = 0;
    const void *data = NULL;
    size_t len = 0;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_outputs_get(outputs, 1, NULL, &dtype, NULL, NULL, &data, &len, error_out));
    CHECK(dtype == INFERKIT_DTYPE_U2 && len == 1 && *(const uint8_t *)data == 0xE4, "b2");
    inferkit_outputs_free(outputs);
  }
  CHECK(inferkit_dtype_size(INFERKIT_DTYPE_I2) == 0 && inferkit_dtype_size(INFERKIT_DTYPE_F8E8M0) == 1, "sizes");
  /* Two bytes for four 2-bit elements is a typed error. */
  inferkit_request_clear(req);
  uint8_t too_many[2] = {0, 0};
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "a", INFERKIT_DTYPE_I2, &four, 1, too_many, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "b", INFERKIT_DTYPE_F32, &four, 1, b, sizeof b, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "e", INFERKIT_DTYPE_F8E8M0, &two, 1, e, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, "a", inferkit_request_run(req, &outputs, error_out));
  inferkit_request_free(req);
  inferkit_model_close(model);

  /* NULLs are typed errors or NULL answers, never crashes. */
  inferkit_value *v = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "value_out", inferkit_value_new_optional(NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "items", inferkit_value_new_sequence(NULL, 2, &v, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_add_value(NULL, "x", NULL, error_out));
  {
    inferkit_model *m = open_model("optional.onnx");
    inferkit_request *in = new_request(m);
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "value", inferkit_request_add_value(in, "x", NULL, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "name", inferkit_request_add_value(in, NULL, NULL, error_out));
    inferkit_request_free(in);
    inferkit_model_close(m);
  }
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_dtype", inferkit_value_new_tensor(99, &two, 1, e, 2, &v, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, "", inferkit_value_new_tensor(INFERKIT_DTYPE_F32, &two, 1, e, 2, &v, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_value_new_strings", inferkit_value_new_tensor(INFERKIT_DTYPE_STRING, &two, 1, e, 2, &v, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "tensor", inferkit_tensor_read(NULL, NULL, NULL, NULL, NULL, NULL, NULL, error_out));
  CHECK(inferkit_value_get_kind(NULL) == 0 && inferkit_value_count(NULL) == 0, "NULL value");
  CHECK(inferkit_value_item(NULL, 0) == NULL && inferkit_value_tensor(NULL) == NULL, "NULL value");
  CHECK(inferkit_outputs_value(NULL, 0) == NULL, "NULL outputs");
  inferkit_value_free(NULL);
}

/* A graph input that is also an output: ONNX Runtime hands the fed buffer back as the output. A
 * misaligned borrowed input is copied into aligned memory for the run, and that copy must outlive
 * the reading of the outputs (ASan reported a heap-use-after-free when it did not). */
static void passthrough_of_a_misaligned_input(void) {
  inferkit_model *model = open_model("passthrough.onnx");
  float x[4] = {1.5f, -2.0f, 3.25f, 8.0f};
  uint64_t storage[3];
  unsigned char *bytes = (unsigned char *)storage + 1; /* not aligned for float */
  memcpy(bytes, x, sizeof x);
  int64_t four = 4;
  inferkit_request *req = new_request(model);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, &four, 1, bytes, sizeof x, error_out));
  for (int round = 0; round < 3; round++) {
    inferkit_outputs *outputs = NULL;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_run(req, &outputs, error_out));
    if (!outputs) continue;
    const void *data = NULL;
    size_t len = 0;
    const char *name = NULL;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_outputs_get(outputs, 0, &name, NULL, NULL, NULL, &data, &len, error_out));
    CHECK(strcmp(name, "x") == 0 && len == sizeof x && memcmp(data, x, sizeof x) == 0, "x comes back as fed");
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_outputs_get(outputs, 1, &name, NULL, NULL, NULL, &data, &len, error_out));
    CHECK(len == sizeof x && ((const float *)data)[3] == -8.0f, "y = -x");
    inferkit_outputs_free(outputs);
  }
  inferkit_request_free(req);
  inferkit_model_close(model);
}

/* Values made through the C ABI nest at most 16 deep; lengths past what memory can hold are
 * typed errors, not undefined behaviour. */
static void nesting_and_lengths_are_bounded(void) {
  float one = 1.0f;
  inferkit_value *v = f32_value(&one, 1);
  int made = 0;
  for (int i = 0; i < 20; i++) {
    inferkit_value *wrapped = NULL;
    inferkit_error *err = NULL;
    inferkit_status status = inferkit_value_new_optional(v, &wrapped, &err);
    if (status != INFERKIT_STATUS_OK) {
      CHECK(status == INFERKIT_STATUS_INVALID_ARGUMENT && strstr(inferkit_error_message(err), "nest at most 16") != NULL,
            "depth %d: %s", i, inferkit_error_message(err));
      inferkit_error_free(err);
      break;
    }
    inferkit_value_free(v);
    v = wrapped;
    made++;
  }
  CHECK(made == 16, "%d optionals deep", made);
  inferkit_value_free(v);
  const inferkit_value *items[1] = {NULL};
  inferkit_value *seq = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_value_new_sequence(items, SIZE_MAX / 4, &seq, error_out));
  int64_t huge[2] = {INT64_C(1) << 40, INT64_C(1) << 20};
  const char *s[1] = {"a"};
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "count is 1", inferkit_value_new_strings(huge, 2, s, NULL, 1, &seq, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_value_new_strings(huge, 2, s, NULL, (size_t)1 << 60, &seq, error_out));
}

/* Element sizes; 0 for strings, packed types narrower than a byte, and numbers that are no dtype. */
static void dtype_sizes(void) {
  CHECK(inferkit_dtype_size(INFERKIT_DTYPE_BF16) == 2 && inferkit_dtype_size(8) == 0, "dtype sizes");
  CHECK(inferkit_dtype_size(INFERKIT_DTYPE_F32) == 4 && inferkit_dtype_size(INFERKIT_DTYPE_F64) == 8 &&
            inferkit_dtype_size(INFERKIT_DTYPE_BOOL) == 1 && inferkit_dtype_size(INFERKIT_DTYPE_U64) == 8,
        "numeric sizes");
  CHECK(inferkit_dtype_size(INFERKIT_DTYPE_U4) == 0 && inferkit_dtype_size(INFERKIT_DTYPE_I4) == 0 &&
            inferkit_dtype_size(INFERKIT_DTYPE_F4E2M1) == 0 && inferkit_dtype_size(INFERKIT_DTYPE_U2) == 0,
        "packed types have no element size");
  CHECK(inferkit_dtype_size(INFERKIT_DTYPE_F8E4M3FN) == 1 && inferkit_dtype_size(INFERKIT_DTYPE_F8E5M2FNUZ) == 1, "8-bit floats");
  CHECK(inferkit_dtype_size(0) == 0 && inferkit_dtype_size(99) == 0 && inferkit_dtype_size(UINT32_MAX) == 0, "no dtype");
}

/* Element types ort rc.14 does not know are read by their numbers (containment item 3: they
 * crashed in ort's enum conversion). */
static void newer_element_types_are_read_by_their_numbers(void) {
  static const struct {
    const char *file;
    uint32_t io, dtype;
  } cases[] = {
      {"int2_in.onnx", INFERKIT_IO_INPUT, INFERKIT_DTYPE_I2},
      {"uint2_out.onnx", INFERKIT_IO_OUTPUT, INFERKIT_DTYPE_U2},
      {"f8e8m0_in.onnx", INFERKIT_IO_INPUT, INFERKIT_DTYPE_F8E8M0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    inferkit_model *model = open_fixture(cases[i].file, NULL);
    uint32_t dtype = 0;
    CHECK(model && inferkit_model_tensor_info(model, cases[i].io, 0, NULL, &dtype, NULL, NULL) == INFERKIT_STATUS_OK &&
              dtype == cases[i].dtype,
          "%s: dtype %u, want %u", cases[i].file, dtype, cases[i].dtype);
    inferkit_model_close(model);
  }
}

int main(int argc, char **argv) {
  test_start(argc, argv, 1);
  strings_in_and_out();
  sequences_in_and_out();
  maps_in_and_out();
  optionals_in_and_out();
  packed_types_and_nulls();
  passthrough_of_a_misaligned_input();
  nesting_and_lengths_are_bounded();
  dtype_sizes();
  newer_element_types_are_read_by_their_numbers();
  test_finish("test_values");
  return 0;
}
