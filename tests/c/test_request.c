/*
 * C ABI: the request path, run blocking. Tensors borrowed and copied, strings and values; which
 * outputs come back (inferkit_request_set_outputs); timeouts and CLOCK_MONOTONIC deadlines; a
 * request carries tensors or one pipeline input, not both; a request is reused after
 * inferkit_request_clear, and outlives the model handle it was made from; every validation status
 * a request can meet, each before ONNX Runtime sees the request, with nothing written on failure.
 *
 * Built with -Wall -Wextra -Wpedantic -Werror, run under ASan/UBSan and under valgrind by
 * `make test-c`. Usage: test_request <tests/fixtures directory>
 */
#define _POSIX_C_SOURCE 200809L
#include "inferkit.h"
#include "inferkit.h" /* included twice on purpose: the include guard must hold */

#include "common.h"

static pack mlp_in, mlp_want;

/* Runs `req` and compares output 0 with the first `rows` rows of the mlp reference. */
static void expect_mlp_rows(const inferkit_request *req, size_t rows, const char *what) {
  inferkit_outputs *out = run_ok(req, what);
  const int64_t *shape = NULL;
  size_t rank = 0, len = 0;
  uint32_t dtype = 0;
  const void *data = NULL;
  pack_tensor want = mlp_want.tensors[0];
  if (!out) return;
  want.shape[0] = (int64_t)rows;
  want.len = rows * 4 * sizeof(float);
  CHECK(inferkit_outputs_get(out, 0, NULL, &dtype, &shape, &rank, &data, &len, NULL) == INFERKIT_STATUS_OK, "%s: get", what);
  compare(what, &want, dtype, shape, rank, data, len);
  inferkit_outputs_free(out);
}

static void nulls_and_bad_arguments(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = NULL, *never = NULL;
  inferkit_outputs *outputs = NULL;
  float x[16] = {0};
  int64_t shape[2] = {1, 16}, neg_shape[2] = {-1, 16};
  const char *null_name[1] = {NULL};
  if (!model) return;
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model", inferkit_request_new(NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request_out", inferkit_request_new(model, NULL, error_out));
  CHECK(never == NULL, "no request written on failure");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_new(model, &req, error_out));
  if (!req) goto done;

  /* NULL pointers */
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_run(NULL, &outputs, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "outputs_out", inferkit_request_run(req, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "name", inferkit_request_add_tensor(req, NULL, INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "shape", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, NULL, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "data", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 2, NULL, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_add_tensor(NULL, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "name", inferkit_request_add_tensor_copy(req, NULL, INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "shape", inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_F32, NULL, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "data", inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_F32, shape, 2, NULL, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_add_tensor_copy(NULL, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_add_value(NULL, "x", NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "value", inferkit_request_add_value(req, "x", NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_set_timeout_us(NULL, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_set_deadline_ns(NULL, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_set_outputs(NULL, NULL, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "names", inferkit_request_set_outputs(req, NULL, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "names", inferkit_request_set_outputs(req, null_name, 1, error_out));

  /* bad enum values, shapes and strings */
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_dtype", inferkit_request_add_tensor(req, "x", 99, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_dtype", inferkit_request_add_tensor_copy(req, "x", 0, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_request_add_strings", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_STRING, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_request_add_strings", inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_STRING, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "negative", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, neg_shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_request_add_tensor(req, "\xc3", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  /* rejected inputs are not added: the request still takes exactly one `x` */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_run(req, &outputs, error_out));
  CHECK(inferkit_outputs_count(outputs) == 1, "one output");
  inferkit_outputs_free(outputs);
  outputs = NULL;
  /* a NULL error_out is allowed: only the status comes back */
  CHECK(inferkit_request_run(req, NULL, NULL) == INFERKIT_STATUS_NULL_ARGUMENT, "status without error object");
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
}

/* Every status a request meets in validation, each before ONNX Runtime sees it. */
static void every_validation_status(void) {
  inferkit_model *mlp = open_fixture("mlp.onnx", NULL), *two_io = open_fixture("two_io.onnx", NULL),
                 *int_bool = open_fixture("int_bool.onnx", NULL);
  inferkit_request *req = new_request(mlp), *req2 = new_request(two_io), *req3 = new_request(int_bool);
  float x[16] = {0}, f[12] = {0};
  double xd[16] = {0};
  int64_t shape[2] = {1, 16}, bad_shape[2] = {1, 15}, flat[1] = {16}, overflow[2] = {INT64_C(1) << 62, 16};
  int64_t fshape[2] = {4, 3}, oshape[1] = {3}, o[3] = {0}, bshape[2] = {1, 4}, v[4] = {1, 1, 1, 1};
  uint8_t keep[4] = {1, 0, 7, 1};
  inferkit_value *item = NULL, *seq = NULL;
  if (!req || !req2 || !req3) goto done;

  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F64, shape, 2, xd, sizeof xd, NULL);
  EXPECT_RUN(INFERKIT_STATUS_DTYPE_MISMATCH, "expected dtype f32, given f64", req);
  inferkit_request_clear(req);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, bad_shape, 2, x, 15 * sizeof(float), NULL);
  EXPECT_RUN(INFERKIT_STATUS_DIM_MISMATCH, "axis 1: expected 16, given 15", req);
  inferkit_request_clear(req);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, flat, 1, x, sizeof x, NULL);
  EXPECT_RUN(INFERKIT_STATUS_RANK_MISMATCH, "expected rank 2", req);
  inferkit_request_clear(req);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x - 4, NULL);
  EXPECT_RUN(INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, "needs 64 bytes, given 60", req);
  inferkit_request_clear(req);
  inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_F32, shape, 2, xd, sizeof x + 4, NULL); /* (xd holds 128 bytes) */
  EXPECT_RUN(INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, "needs 64 bytes, given 68", req);
  inferkit_request_clear(req);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, overflow, 2, NULL, 0, NULL);
  EXPECT_RUN(INFERKIT_STATUS_SHAPE_OVERFLOW, "x", req);
  inferkit_request_clear(req);
  EXPECT_RUN(INFERKIT_STATUS_MISSING_INPUT, "`x`", req);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, NULL);
  inferkit_request_add_tensor(req, "z", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, NULL);
  EXPECT_RUN(INFERKIT_STATUS_UNKNOWN_INPUT, "`z`", req);
  inferkit_request_clear(req);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, NULL);
  inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, NULL);
  EXPECT_RUN(INFERKIT_STATUS_DUPLICATE_INPUT, "x", req);
  /* a sequence where the model takes a tensor */
  inferkit_request_clear(req);
  CHECK(inferkit_value_new_tensor(INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, &item, NULL) == INFERKIT_STATUS_OK, "item");
  CHECK(inferkit_value_new_sequence((const inferkit_value *const *)&item, 1, &seq, NULL) == INFERKIT_STATUS_OK, "sequence");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_value(req, "x", seq, error_out));
  EXPECT_RUN(INFERKIT_STATUS_TYPE_MISMATCH, "x", req);
  /* an unknown output */
  {
    const char *names[2] = {"y", "logits"};
    inferkit_request_clear(req);
    inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, NULL);
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_outputs(req, names, 2, error_out));
    EXPECT_RUN(INFERKIT_STATUS_UNKNOWN_OUTPUT, "logits", req);
  }

  /* a symbolic dim bound by one input and contradicted by another */
  inferkit_request_add_tensor(req2, "features", INFERKIT_DTYPE_F32, fshape, 2, f, sizeof f, NULL);
  EXPECT_RUN(INFERKIT_STATUS_MISSING_INPUT, "offsets", req2);
  inferkit_request_add_tensor(req2, "offsets", INFERKIT_DTYPE_I64, oshape, 1, o, sizeof o, NULL);
  EXPECT_RUN(INFERKIT_STATUS_DIM_MISMATCH, "offsets", req2);

  /* a bool byte that is neither 0 nor 1 */
  inferkit_request_add_tensor(req3, "values", INFERKIT_DTYPE_I64, bshape, 2, v, sizeof v, NULL);
  inferkit_request_add_tensor(req3, "keep", INFERKIT_DTYPE_BOOL, bshape, 2, keep, sizeof keep, NULL);
  EXPECT_RUN(INFERKIT_STATUS_INVALID_TENSOR_DATA, "byte value 7", req3);
  /* and with it fixed, the same request runs */
  keep[2] = 1;
  {
    inferkit_outputs *out = run_ok(req3, "int_bool fixed");
    inferkit_outputs_free(out);
  }
done:
  inferkit_value_free(item);
  inferkit_value_free(seq);
  inferkit_request_free(req);
  inferkit_request_free(req2);
  inferkit_request_free(req3);
  inferkit_model_close(mlp);
  inferkit_model_close(two_io);
  inferkit_model_close(int_bool);
}

static void output_selection(void) {
  inferkit_model *model = open_fixture("two_io.onnx", NULL);
  inferkit_request *req = new_request(model);
  inferkit_outputs *outputs = NULL;
  pack in, want;
  const char *reversed[2] = {"doubled", "sum"}, *one[1] = {"sum"}, *nope[1] = {"nope"};
  size_t idx = 0;
  CHECK(packs_of("two_io", &in, &want), "two_io packs");
  if (!req) goto done;
  add_pack(req, &in, 0);
  /* all outputs, in signature order */
  outputs = run_ok(req, "all outputs");
  if (outputs) compare_outputs("all outputs", outputs, &want);
  inferkit_outputs_free(outputs);
  /* in the order named */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_outputs(req, reversed, 2, error_out));
  outputs = run_ok(req, "reversed");
  if (outputs) {
    pack swapped = want;
    swapped.tensors[0] = want.tensors[1];
    swapped.tensors[1] = want.tensors[0];
    compare_outputs("in the order named", outputs, &swapped);
  }
  inferkit_outputs_free(outputs);
  /* one */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_outputs(req, one, 1, error_out));
  outputs = run_ok(req, "one");
  CHECK(inferkit_outputs_count(outputs) == 1, "selected one output");
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", inferkit_outputs_find(outputs, "nope", &idx, error_out));
  /* the message names the model that answered */
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_OUTPUT, "model `two_io`", inferkit_outputs_find(outputs, "nope", &idx, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_outputs_find(outputs, "sum", &idx, error_out));
  CHECK(idx == 0, "sum is output 0");
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "name", inferkit_outputs_find(outputs, NULL, &idx, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "index_out", inferkit_outputs_find(outputs, "sum", NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_outputs_get(outputs, 1, NULL, NULL, NULL, NULL, NULL, NULL, error_out));
  CHECK(inferkit_outputs_value(outputs, 1) == NULL, "no value 1");
  inferkit_outputs_free(outputs);
  /* an unknown name fails the run, not the call that names it */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_outputs(req, nope, 1, error_out));
  EXPECT_RUN(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", req);
  /* asking for no outputs by name means all of them (containment item 17: it was INFERENCE) */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_outputs(req, NULL, 0, error_out));
  outputs = run_ok(req, "none named");
  CHECK(inferkit_outputs_count(outputs) == 2, "all %zu outputs", inferkit_outputs_count(outputs));
  inferkit_outputs_free(outputs);
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
  pack_free(&in);
  pack_free(&want);
}

/* Borrowed data is read when the request runs; copied data when it is added. */
static void borrowed_and_copied(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *borrowed = new_request(model), *copied = new_request(model);
  const pack_tensor *x = &mlp_in.tensors[0];
  float *buf = calloc(1, x->len);
  if (!borrowed || !copied || !buf) goto done;
  /* borrowed: zeros when added, the reference when run */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(borrowed, "x", x->dtype, x->shape, x->rank, buf, x->len, error_out));
  memcpy(buf, x->data, x->len);
  expect_mlp_rows(borrowed, 3, "borrowed data read at run time");
  /* copied: the reference when added, zeros when run */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor_copy(copied, "x", x->dtype, x->shape, x->rank, buf, x->len, error_out));
  memset(buf, 0, x->len);
  expect_mlp_rows(copied, 3, "copied data kept from the add");
  /* a request runs as often as wanted */
  expect_mlp_rows(copied, 3, "copied, run again");
  memcpy(buf, x->data, x->len);
  expect_mlp_rows(borrowed, 3, "borrowed, run again");
done:
  free(buf);
  inferkit_request_free(borrowed);
  inferkit_request_free(copied);
  inferkit_model_close(model);
}

/* A dynamic dim may be 0: an empty batch is a request, and a buffer of length 0 is empty
 * whatever its pointer. */
static void zero_rows(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = new_request(model);
  int64_t shape[2] = {0, 16};
  inferkit_outputs *out;
  const int64_t *oshape = NULL;
  size_t rank = 0, len = 99;
  if (!req) goto done;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 2, NULL, 0, error_out));
  out = run_ok(req, "zero rows");
  CHECK(out && inferkit_outputs_get(out, 0, NULL, NULL, &oshape, &rank, NULL, &len, NULL) == INFERKIT_STATUS_OK && rank == 2 &&
            oshape[0] == 0 && oshape[1] == 4 && len == 0,
        "y is [0, 4], %zu bytes", len);
  inferkit_outputs_free(out);
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
}

/* String tensors and values go through the same request as tensors. */
static void strings_and_values(void) {
  inferkit_model *strings = open_fixture("values/strings.onnx", NULL), *mlp = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = new_request(strings), *vreq = new_request(mlp);
  const char *words[2] = {"cat", "dog"};
  int64_t two[1] = {2}, row[2] = {1, 16};
  inferkit_value *value = NULL;
  inferkit_outputs *out;
  if (!req || !vreq) goto done;
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "name", inferkit_request_add_strings(req, NULL, two, 1, words, NULL, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_add_strings(NULL, "words", two, 1, words, NULL, 2, error_out));
  /* the count must be the shape's: one string short is refused, not read past */
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "holds 2 strings; count is 1", inferkit_request_add_strings(req, "words", two, 1, words, NULL, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_strings(req, "words", two, 1, words, NULL, 2, error_out));
  out = run_ok(req, "strings");
  CHECK(inferkit_outputs_count(out) == 2, "plural and ids");
  /* every output has a readable name by index, whatever its kind (a string tensor here) */
  for (size_t i = 0; i < inferkit_outputs_count(out); i++) {
    const char *name = inferkit_outputs_name(out, i);
    size_t found = 99;
    CHECK(name != NULL && inferkit_outputs_find(out, name, &found, NULL) == INFERKIT_STATUS_OK && found == i,
          "output %zu is named and found by its name", i);
  }
  CHECK(inferkit_outputs_name(out, 2) == NULL && inferkit_outputs_name(NULL, 0) == NULL, "no name out of range");
  inferkit_outputs_free(out);
  /* a tensor given as a value runs as the same tensor given as a tensor */
  CHECK(inferkit_value_new_tensor(INFERKIT_DTYPE_F32, row, 2, mlp_in.tensors[0].data, 16 * sizeof(float), &value, NULL) == INFERKIT_STATUS_OK, "value");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_value(vreq, "x", value, error_out));
  inferkit_value_free(value); /* copied by the request */
  expect_mlp_rows(vreq, 1, "a tensor value");
done:
  inferkit_request_free(req);
  inferkit_request_free(vreq);
  inferkit_model_close(strings);
  inferkit_model_close(mlp);
}

static void timeouts_and_deadlines(void) {
  inferkit_model *mlp = open_fixture("mlp.onnx", NULL), *loop = open_fixture("loop.onnx", NULL);
  inferkit_request *req = new_request(mlp), *lreq = new_request(loop);
  const char *y[1] = {"y"};
  int64_t forever = 1000000000, five = 5, one[1] = {1};
  float zero = 0.0f;
  uint64_t t0;
  if (!req || !lreq) goto done;
  add_pack(req, &mlp_in, 0);
  /* a timeout that does not expire, with an output selection */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_timeout_us(req, 1000000, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_outputs(req, y, 1, error_out));
  expect_mlp_rows(req, 3, "with a timeout");
  /* a deadline already passed on CLOCK_MONOTONIC: the request is not run */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_deadline_ns(req, monotonic_ns() - 1000000, error_out));
  EXPECT_RUN(INFERKIT_STATUS_DEADLINE_EXCEEDED, "", req);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_deadline_ns(req, 1, error_out));
  EXPECT_RUN(INFERKIT_STATUS_DEADLINE_EXCEEDED, "", req);
  /* with a timeout too, the earlier applies */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_timeout_us(req, 60000000, error_out));
  EXPECT_RUN(INFERKIT_STATUS_DEADLINE_EXCEEDED, "", req);
  /* 0 removes the deadline; a deadline in the future lets it run */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_deadline_ns(req, 0, error_out));
  expect_mlp_rows(req, 3, "deadline removed");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_deadline_ns(req, monotonic_ns() + UINT64_C(60000000000), error_out));
  expect_mlp_rows(req, 3, "a deadline a minute away");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_deadline_ns(req, UINT64_MAX, error_out));
  expect_mlp_rows(req, 3, "the farthest deadline");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_timeout_us(req, UINT64_MAX, error_out));
  expect_mlp_rows(req, 3, "the longest timeout");

  /* a run past its timeout is stopped (loop.onnx adds 1 n times: n = 10^9 runs for minutes) */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(lreq, "n", INFERKIT_DTYPE_I64, NULL, 0, &forever, sizeof forever, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(lreq, "x", INFERKIT_DTYPE_F32, one, 1, &zero, sizeof zero, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_timeout_us(lreq, 200000, error_out));
  t0 = monotonic_ns();
  EXPECT_RUN(INFERKIT_STATUS_DEADLINE_EXCEEDED, "", lreq);
  /* Natively it stops within milliseconds, under valgrind within a few seconds (valgrind runs one
   * thread at a time; without --fair-sched=yes the looping thread starved the watchdog for minutes).
   * Unstopped it would run for minutes natively, hours under valgrind. */
  CHECK(monotonic_ns() - t0 < UINT64_C(20000000000), "stopped after %.1f s", (double)(monotonic_ns() - t0) / 1e9);
  /* the session serves the next request (its stop flag was cleared); borrowed data re-read */
  forever = five;
  {
    inferkit_outputs *out = run_ok(lreq, "loop 5");
    size_t len = 0;
    const float *yv = output_data(out, 0, &len);
    CHECK(yv && len == sizeof(float) && yv[0] == 5.0f, "y = 5, got %g", yv ? (double)yv[0] : -1.0);
    inferkit_outputs_free(out);
  }
done:
  inferkit_request_free(req);
  inferkit_request_free(lreq);
  inferkit_model_close(mlp);
  inferkit_model_close(loop);
}

/* A request carries tensors or one pipeline input, not both; inferkit_request_clear empties it. */
static void tensors_or_a_pipeline_input(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = new_request(model);
  const pack_tensor *x = &mlp_in.tensors[0];
  unsigned char pixels[12] = {0};
  int64_t ids[2] = {1, 2};
  if (!req) goto done;
  add_pack(req, &mlp_in, 0);
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", inferkit_request_set_pipeline_tensor(req, x->dtype, x->shape, x->rank, x->data, x->len, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", inferkit_request_set_image(req, pixels, sizeof pixels, INFERKIT_PIXEL_FORMAT_RGB8, 2, 2, 6, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", inferkit_request_set_encoded_image(req, pixels, sizeof pixels, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", inferkit_request_set_text(req, "hello", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", inferkit_request_set_tokens(req, ids, 2, error_out));
  /* the refusals left the tensors alone */
  expect_mlp_rows(req, 3, "tensors kept");
  /* and the other way round */
  inferkit_request_clear(req);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_pipeline_tensor(req, x->dtype, x->shape, x->rank, x->data, x->len, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", inferkit_request_add_tensor(req, "x", x->dtype, x->shape, x->rank, x->data, x->len, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", inferkit_request_add_tensor_copy(req, "x", x->dtype, x->shape, x->rank, x->data, x->len, error_out));
  {
    const char *w[1] = {"a"};
    int64_t one[1] = {1};
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "not both", inferkit_request_add_strings(req, "x", one, 1, w, NULL, 1, error_out));
  }
  /* without a declared pipeline the tensor feeds the model's first input */
  expect_mlp_rows(req, 3, "pipeline tensor without a pipeline");
  /* a second pipeline input replaces the first */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_pipeline_tensor(req, x->dtype, x->shape, x->rank, x->data, x->len, error_out));
  expect_mlp_rows(req, 3, "pipeline tensor set twice");
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
}

/* Clear removes the inputs and keeps the options; the request is reused. */
static void reused_after_clear(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = new_request(model);
  const pack_tensor *x = &mlp_in.tensors[0];
  int64_t row[2] = {1, 16};
  const char *nope[1] = {"nope"};
  if (!req) goto done;
  add_pack(req, &mlp_in, 1);
  expect_mlp_rows(req, 3, "three rows");
  inferkit_request_clear(req);
  EXPECT_RUN(INFERKIT_STATUS_MISSING_INPUT, "`x`", req);
  /* the first row alone gives the first row of the reference */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_F32, row, 2, x->data, 16 * sizeof(float), error_out));
  expect_mlp_rows(req, 1, "one row after clear");
  /* options survive clear */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_outputs(req, nope, 1, error_out));
  inferkit_request_clear(req);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, row, 2, x->data, 16 * sizeof(float), NULL);
  EXPECT_RUN(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", req);
  inferkit_request_set_outputs(req, NULL, 0, NULL);
  expect_mlp_rows(req, 1, "selection removed");
  /* clear twice, and on an empty request */
  inferkit_request_clear(req);
  inferkit_request_clear(req);
  EXPECT_RUN(INFERKIT_STATUS_MISSING_INPUT, "`x`", req);
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
}

/* The request holds the model: the handle it was made from may be closed first. */
static void model_closed_before_the_run(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = new_request(model);
  inferkit_model_close(model);
  if (!req) return;
  add_pack(req, &mlp_in, 0);
  expect_mlp_rows(req, 3, "after the model handle was closed");
  expect_mlp_rows(req, 3, "again");
  inferkit_request_free(req);
}

int main(int argc, char **argv) {
  test_start(argc, argv, 1);
  CHECK(packs_of("mlp", &mlp_in, &mlp_want), "mlp packs");
  nulls_and_bad_arguments();
  every_validation_status();
  output_selection();
  borrowed_and_copied();
  zero_rows();
  strings_and_values();
  timeouts_and_deadlines();
  tensors_or_a_pipeline_input();
  reused_after_clear();
  model_closed_before_the_run();
  pack_free(&mlp_in);
  pack_free(&mlp_want);
  test_finish("test_request");
  return 0;
}
