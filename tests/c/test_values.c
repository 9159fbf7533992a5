/*
 * The C ABI for values besides numeric tensors: string tensors, sequences, maps, optionals and
 * packed element types, in and out, and the typed errors around them (NULLs, wrong kinds).
 *
 * Models: tests/fixtures/values/ (tests/fixtures/make_value_fixtures.py). Built with -Wall -Wextra
 * -Wpedantic -Werror, run under ASan/UBSan and under valgrind by `make test-c`.
 * Usage: test_values <tests/fixtures directory>
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

static char fixtures[4096];

static inferkit_model *open_model(const char *name) {
  char path[4200];
  inferkit_model *model = NULL;
  inferkit_error *err = NULL;
  snprintf(path, sizeof path, "%s/values/%s", fixtures, name);
  if (inferkit_model_open(path, NULL, &model, &err) != INFERKIT_STATUS_OK) {
    fprintf(stderr, "open %s: %s\n", path, inferkit_error_message(err));
    inferkit_error_free(err);
    exit(1);
  }
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
  inferkit_inputs *inputs = inferkit_inputs_new();
  /* With lengths: an embedded NUL survives. */
  const char *words[3] = {"cat", "d\0g", "emu"};
  size_t lengths[3] = {3, 3, 3};
  int64_t shape[1] = {3};
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add_strings(inputs, "words", shape, 1, words, lengths, error_out));
  inferkit_outputs *outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer(model, inputs, &outputs, error_out));
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
  inferkit_inputs_clear(inputs);
  const char *dog[1] = {"dog"};
  int64_t one[1] = {1};
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add_strings(inputs, "words", one, 1, dog, NULL, error_out));
  outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer(model, inputs, &outputs, error_out));
  inferkit_outputs_free(outputs);
  const char *null_string[1] = {NULL};
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "strings", inferkit_inputs_add_strings(inputs, "words", one, 1, null_string, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "strings", inferkit_inputs_add_strings(inputs, "words", one, 1, NULL, NULL, error_out));
  /* The type is described for C readers. */
  uint32_t kind = 0;
  const char *type = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_value_type(model, INFERKIT_IO_INPUT, 0, &kind, &type, error_out));
  CHECK(kind == INFERKIT_VALUE_KIND_TENSOR && strcmp(type, "string[n]") == 0, "type %s", type);
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);
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
  inferkit_inputs *inputs = inferkit_inputs_new();
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add_value(inputs, "items", seq, error_out));
  inferkit_value_free(seq);
  inferkit_outputs *outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer(model, inputs, &outputs, error_out));
  if (outputs) {
    size_t n = 0;
    const int64_t *count = tensor_data(inferkit_value_tensor(inferkit_outputs_value(outputs, 0)), INFERKIT_DTYPE_I64, &n);
    CHECK(n == 1 && count[0] == 2, "count");
    inferkit_outputs_free(outputs);
  }
  /* A tensor where the model takes a sequence. */
  inferkit_inputs_clear(inputs);
  float x[1] = {1};
  inferkit_value *tensor = f32_value(x, 1);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add_value(inputs, "items", tensor, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_TYPE_MISMATCH, "seq(f32[..])", inferkit_model_infer(model, inputs, &outputs, error_out));
  inferkit_value_free(tensor);
  uint32_t kind = 0;
  const char *type = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_value_type(model, INFERKIT_IO_INPUT, 0, &kind, &type, error_out));
  CHECK(kind == INFERKIT_VALUE_KIND_SEQUENCE && strcmp(type, "seq(f32[..])") == 0, "type %s", type);
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);

  /* A sequence output, element by element. */
  model = open_model("seq_split.onnx");
  float five[5] = {1, 2, 3, 4, 5};
  int64_t shape[1] = {5};
  inputs = inferkit_inputs_new();
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_F32, shape, 1, five, sizeof five, error_out));
  outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer(model, inputs, &outputs, error_out));
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
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);
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
  inferkit_inputs *inputs = inferkit_inputs_new();
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add_value(inputs, "counts", map, error_out));
  inferkit_outputs *outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer(model, inputs, &outputs, error_out));
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
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);

  model = open_model("zipmap.onnx");
  float probs[2] = {0.25f, 0.75f};
  int64_t shape[2] = {1, 2};
  inputs = inferkit_inputs_new();
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add(inputs, "probs", INFERKIT_DTYPE_F32, shape, 2, probs, sizeof probs, error_out));
  outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer(model, inputs, &outputs, error_out));
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
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);
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
    inferkit_inputs *inputs = inferkit_inputs_new();
    if (given[i]) EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add_value(inputs, "maybe", given[i], error_out));
    inferkit_outputs *outputs = NULL;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer(model, inputs, &outputs, error_out));
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
    inferkit_inputs_free(inputs);
  }
  inferkit_value_free(none);
  inferkit_value_free(some);
  inferkit_value_free(tensor);
  inferkit_model_free(model);
}

static void packed_types_and_nulls(void) {
  inferkit_model *model = open_model("two_bit.onnx");
  uint8_t a = 0xE4; /* i2 [0, 1, -2, -1] */
  float b[4] = {0, 1, 2, 3};
  uint8_t e[2] = {127, 128};
  int64_t four = 4, two = 2;
  inferkit_inputs *inputs = inferkit_inputs_new();
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add(inputs, "a", INFERKIT_DTYPE_I2, &four, 1, &a, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add(inputs, "b", INFERKIT_DTYPE_F32, &four, 1, b, sizeof b, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add(inputs, "e", INFERKIT_DTYPE_F8E8M0, &two, 1, e, 2, error_out));
  inferkit_outputs *outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer(model, inputs, &outputs, error_out));
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
  inferkit_inputs_clear(inputs);
  uint8_t too_many[2] = {0, 0};
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add(inputs, "a", INFERKIT_DTYPE_I2, &four, 1, too_many, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add(inputs, "b", INFERKIT_DTYPE_F32, &four, 1, b, sizeof b, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add(inputs, "e", INFERKIT_DTYPE_F8E8M0, &two, 1, e, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, "a", inferkit_model_infer(model, inputs, &outputs, error_out));
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);

  /* NULLs are typed errors or NULL answers, never crashes. */
  inferkit_value *v = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "value_out", inferkit_value_new_optional(NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "items", inferkit_value_new_sequence(NULL, 2, &v, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "inputs", inferkit_inputs_add_value(NULL, "x", NULL, error_out));
  {
    inferkit_inputs *in = inferkit_inputs_new();
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "value", inferkit_inputs_add_value(in, "x", NULL, error_out));
    inferkit_inputs_free(in);
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
  inferkit_inputs *inputs = inferkit_inputs_new();
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_F32, &four, 1, bytes, sizeof x, error_out));
  for (int round = 0; round < 3; round++) {
    inferkit_outputs *outputs = NULL;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer(model, inputs, &outputs, error_out));
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
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);
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
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "more than memory", inferkit_value_new_strings(huge, 2, s, NULL, &seq, error_out));
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <tests/fixtures directory>\n", argv[0]);
    return 2;
  }
  snprintf(fixtures, sizeof fixtures, "%s", argv[1]);
  strings_in_and_out();
  sequences_in_and_out();
  maps_in_and_out();
  optionals_in_and_out();
  packed_types_and_nulls();
  passthrough_of_a_misaligned_input();
  nesting_and_lengths_are_bounded();
  printf("test_values: %d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
