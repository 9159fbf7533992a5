/*
 * C ABI test: every fixture's outputs through inferkit.h match onnxruntime in Python, and every
 * error path a C caller can hit returns its status without crashing.
 *
 * Built with -Wall -Wextra -Wpedantic -Werror and run under AddressSanitizer and
 * UndefinedBehaviorSanitizer by `make test-c`. Usage: test_model <tests/fixtures directory>
 */
#define _POSIX_C_SOURCE 200809L /* _exit */
#include "inferkit.h"
#include "inferkit.h" /* included twice on purpose: the include guard must hold */

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "check.h"

/* ---- tensor packs (format in tests/fixtures/make_fixtures.py) ---- */

typedef struct {
  char name[64];
  uint32_t dtype;
  uint32_t rank;
  int64_t shape[8];
  uint64_t len;
  void *data;
} pack_tensor;

typedef struct {
  uint32_t count;
  pack_tensor tensors[16];
} pack;

static int read_exact(FILE *f, void *buf, size_t n) { return fread(buf, 1, n, f) == n; }

static int pack_read(const char *path, pack *p) {
  FILE *f = fopen(path, "rb");
  char magic[4];
  uint32_t version;
  memset(p, 0, sizeof *p);
  if (!f) return 0;
  if (!read_exact(f, magic, 4) || memcmp(magic, "IKTP", 4) != 0 || !read_exact(f, &version, 4) ||
      version != 1 || !read_exact(f, &p->count, 4) || p->count > 16) {
    fclose(f);
    return 0;
  }
  for (uint32_t i = 0; i < p->count; i++) {
    pack_tensor *t = &p->tensors[i];
    uint32_t name_len;
    if (!read_exact(f, &name_len, 4) || name_len >= sizeof t->name || !read_exact(f, t->name, name_len) ||
        !read_exact(f, &t->dtype, 4) || !read_exact(f, &t->rank, 4) || t->rank > 8 ||
        !read_exact(f, t->shape, 8 * (size_t)t->rank) || !read_exact(f, &t->len, 8)) {
      fclose(f);
      return 0;
    }
    t->data = malloc(t->len ? t->len : 1);
    if (!t->data || !read_exact(f, t->data, t->len)) {
      fclose(f);
      return 0;
    }
  }
  fclose(f);
  return 1;
}

static void pack_free(pack *p) {
  for (uint32_t i = 0; i < p->count; i++) free(p->tensors[i].data);
}

static float half_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h >> 15) << 31, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
  float f;
  if (exp == 0) {
    f = ldexpf((float)man, -24);
    return sign ? -f : f;
  }
  bits = exp == 31 ? sign | 0x7f800000u | (man << 13) : sign | ((exp + 112) << 23) | (man << 13);
  memcpy(&f, &bits, 4);
  return f;
}

static double element(uint32_t dtype, const void *data, size_t i) {
  const unsigned char *b = data;
  switch (dtype) {
    case INFERKIT_DTYPE_F32: { float v; memcpy(&v, b + 4 * i, 4); return v; }
    case INFERKIT_DTYPE_F64: { double v; memcpy(&v, b + 8 * i, 8); return v; }
    case INFERKIT_DTYPE_F16: { uint16_t v; memcpy(&v, b + 2 * i, 2); return half_to_float(v); }
    case INFERKIT_DTYPE_BF16: { uint16_t v; uint32_t w; float f; memcpy(&v, b + 2 * i, 2); w = (uint32_t)v << 16; memcpy(&f, &w, 4); return f; }
    default: return 0.0;
  }
}

static int is_float(uint32_t dtype) {
  return dtype == INFERKIT_DTYPE_F32 || dtype == INFERKIT_DTYPE_F64 || dtype == INFERKIT_DTYPE_F16 ||
         dtype == INFERKIT_DTYPE_BF16;
}

/* Exact for integers and bools, relative 1e-5 (absolute floor 1e-6) for floats. */
static void compare(const char *what, const pack_tensor *want, uint32_t dtype, const int64_t *shape, size_t rank,
                    const void *data, size_t len) {
  CHECK(dtype == want->dtype, "%s: dtype %u, want %u", what, dtype, want->dtype);
  CHECK(rank == want->rank, "%s: rank %zu, want %u", what, rank, want->rank);
  for (size_t d = 0; d < rank && d < want->rank; d++)
    CHECK(shape[d] == want->shape[d], "%s: dim %zu is %lld, want %lld", what, d, (long long)shape[d], (long long)want->shape[d]);
  CHECK(len == want->len, "%s: %zu bytes, want %llu", what, len, (unsigned long long)want->len);
  if (len != want->len) return;
  if (is_float(dtype)) {
    size_t n = len / inferkit_dtype_size(dtype);
    for (size_t i = 0; i < n; i++) {
      double a = element(dtype, data, i), b = element(dtype, want->data, i);
      double tol = 1e-5 * fmax(fabs(a), fabs(b)) + 1e-6;
      CHECK(fabs(a - b) <= tol, "%s[%zu]: got %g, want %g", what, i, a, b);
    }
  } else {
    CHECK(len == 0 || memcmp(data, want->data, len) == 0, "%s: bytes differ", what);
  }
}

static char fixtures[4096];

static const char *fixture(const char *file) {
  static char path[8192];
  snprintf(path, sizeof path, "%s/%s", fixtures, file);
  return path;
}

static inferkit_model *open_model(const char *name) {
  char file[256];
  inferkit_model *model = NULL;
  inferkit_error *err = NULL;
  snprintf(file, sizeof file, "%s.onnx", name);
  if (inferkit_model_open(fixture(file), NULL, &model, &err) != INFERKIT_STATUS_OK) {
    fprintf(stderr, "open %s: %s\n", name, inferkit_error_message(err));
    inferkit_error_free(err);
    return NULL;
  }
  return model;
}

/* Runs a fixture's reference inputs through the C ABI and compares every output. */
static void check_fixture(const char *name) {
  char file[256];
  pack in, want;
  inferkit_model *model = open_model(name);
  inferkit_inputs *inputs = inferkit_inputs_new();
  inferkit_outputs *outputs = NULL;
  inferkit_error *err = NULL;
  CHECK(model != NULL, "%s: model did not open", name);
  snprintf(file, sizeof file, "%s.inputs.tpk", name);
  CHECK(pack_read(fixture(file), &in), "%s: cannot read %s", name, file);
  snprintf(file, sizeof file, "%s.outputs.tpk", name);
  CHECK(pack_read(fixture(file), &want), "%s: cannot read %s", name, file);
  if (!model) goto done;

  CHECK(strcmp(inferkit_model_name(model), name) == 0, "model name %s", inferkit_model_name(model));
  CHECK(inferkit_model_tensor_count(model, INFERKIT_IO_INPUT) == in.count, "%s: input count", name);
  CHECK(inferkit_model_tensor_count(model, INFERKIT_IO_OUTPUT) == want.count, "%s: output count", name);

  for (uint32_t i = 0; i < in.count; i++) {
    const pack_tensor *t = &in.tensors[i];
    inferkit_status st = inferkit_inputs_add(inputs, t->name, t->dtype, t->shape, t->rank, t->data, t->len, &err);
    CHECK(st == INFERKIT_STATUS_OK, "%s: add %s: %s", name, t->name, err ? inferkit_error_message(err) : "");
  }
  if (inferkit_model_infer(model, inputs, &outputs, &err) != INFERKIT_STATUS_OK) {
    CHECK(0, "%s: infer failed: %s", name, inferkit_error_message(err));
    goto done;
  }
  CHECK(inferkit_outputs_count(outputs) == want.count, "%s: %zu outputs", name, inferkit_outputs_count(outputs));
  for (uint32_t i = 0; i < want.count; i++) {
    const char *out_name = NULL;
    uint32_t dtype = 0;
    const int64_t *shape = NULL;
    size_t rank = 0, len = 0, index = 99;
    const void *data = NULL;
    char what[128];
    CHECK(inferkit_outputs_get(outputs, i, &out_name, &dtype, &shape, &rank, &data, &len, &err) == INFERKIT_STATUS_OK,
          "%s: get output %u", name, i);
    CHECK(strcmp(out_name, want.tensors[i].name) == 0, "%s: output %u is %s, want %s", name, i, out_name,
          want.tensors[i].name);
    CHECK(inferkit_outputs_find(outputs, want.tensors[i].name, &index, NULL) == INFERKIT_STATUS_OK && index == i,
          "%s: find %s", name, want.tensors[i].name);
    snprintf(what, sizeof what, "%s.%s", name, out_name);
    compare(what, &want.tensors[i], dtype, shape, rank, data, len);
  }
done:
  inferkit_error_free(err);
  inferkit_outputs_free(outputs);
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);
  pack_free(&in);
  pack_free(&want);
}

static void check_signature(void) {
  inferkit_model *model = open_model("sequence");
  const char *name = NULL, *symbol = NULL;
  uint32_t dtype = 0;
  size_t rank = 0;
  int64_t dim = 0;
  if (!model) { CHECK(0, "sequence did not open"); return; }
  CHECK(inferkit_model_tensor_info(model, INFERKIT_IO_INPUT, 0, &name, &dtype, &rank, NULL) == INFERKIT_STATUS_OK, "info");
  CHECK(strcmp(name, "tokens") == 0 && dtype == INFERKIT_DTYPE_F32 && rank == 3, "tokens f32 rank 3, got %s %u %zu", name, dtype, rank);
  CHECK(inferkit_model_tensor_dim(model, INFERKIT_IO_INPUT, 0, 1, &dim, &symbol, NULL) == INFERKIT_STATUS_OK, "dim");
  CHECK(dim == -1 && symbol && strcmp(symbol, "seq") == 0, "axis 1 is seq/-1, got %lld %s", (long long)dim, symbol ? symbol : "NULL");
  CHECK(inferkit_model_tensor_dim(model, INFERKIT_IO_INPUT, 0, 2, &dim, &symbol, NULL) == INFERKIT_STATUS_OK, "dim");
  CHECK(dim == 8 && symbol == NULL, "axis 2 is 8 without a symbol, got %lld", (long long)dim);
  CHECK(inferkit_model_tensor_info(model, INFERKIT_IO_OUTPUT, 1, &name, NULL, NULL, NULL) == INFERKIT_STATUS_OK && strcmp(name, "scores") == 0, "output 1 is scores");
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_model_tensor_info(model, INFERKIT_IO_INPUT, 5, &name, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_model_tensor_dim(model, INFERKIT_IO_INPUT, 0, 3, &dim, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_io", inferkit_model_tensor_info(model, 7, 0, &name, NULL, NULL, error_out));
  CHECK(inferkit_model_tensor_count(model, 7) == 0, "unknown io counts 0");

  /* a clone is an independent handle to the same model */
  {
    inferkit_model *clone = inferkit_model_clone(model);
    inferkit_model_free(model);
    CHECK(clone && strcmp(inferkit_model_name(clone), "sequence") == 0, "clone outlives the original handle");
    inferkit_model_free(clone);
  }
}

static void check_errors(void) {
  inferkit_model *model = open_model("mlp");
  inferkit_model *never = NULL;
  inferkit_inputs *inputs = inferkit_inputs_new();
  inferkit_outputs *outputs = NULL;
  inferkit_model_options *opts = inferkit_model_options_new();
  float x[16] = {0};
  double xd[16] = {0};
  int64_t shape[2] = {1, 16}, bad_shape[2] = {1, 15}, neg_shape[2] = {-1, 16}, flat[1] = {16};
  const char *names[1] = {"nope"};
  unsigned char not_a_model[5] = {1, 2, 3, 4, 5};
  if (!model) { CHECK(0, "mlp did not open"); return; }

  /* NULL pointers */
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "path", inferkit_model_open(NULL, NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model_out", inferkit_model_open(fixture("mlp.onnx"), NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model", inferkit_model_infer(NULL, inputs, &outputs, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "inputs", inferkit_model_infer(model, NULL, &outputs, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "outputs_out", inferkit_model_infer(model, inputs, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "name", inferkit_inputs_add(inputs, NULL, INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "shape", inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_F32, NULL, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "data", inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_F32, shape, 2, NULL, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "inputs", inferkit_inputs_add(NULL, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  CHECK(never == NULL, "no model written on failure");
  CHECK(inferkit_error_code(NULL) == INFERKIT_STATUS_NULL_ARGUMENT, "error_code(NULL)");
  CHECK(strcmp(inferkit_error_message(NULL), "") == 0, "error_message(NULL)");
  CHECK(inferkit_model_tensor_count(NULL, INFERKIT_IO_INPUT) == 0, "count(NULL)");
  CHECK(inferkit_model_clone(NULL) == NULL, "clone(NULL)");
  CHECK(strcmp(inferkit_model_name(NULL), "") == 0, "name(NULL)");
  CHECK(inferkit_outputs_count(NULL) == 0, "outputs_count(NULL)");
  /* a NULL error_out is allowed: only the status comes back */
  CHECK(inferkit_model_open(NULL, NULL, &never, NULL) == INFERKIT_STATUS_NULL_ARGUMENT, "status without error object");

  /* bad enum values and shapes */
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_dtype", inferkit_inputs_add(inputs, "x", 99, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_inputs_add_strings", inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_STRING, shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "negative", inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_F32, neg_shape, 2, x, sizeof x, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_optimization_level", inferkit_model_options_set_optimization_level(opts, 42, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "intra_op_threads", inferkit_model_options_set_threads(opts, 0, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNSUPPORTED, "CUDA: this build of inferkit runs on ONNX Runtime's CPU provider only", inferkit_model_options_add_execution_provider(opts, INFERKIT_EXECUTION_PROVIDER_CUDA, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_execution_provider", inferkit_model_options_add_execution_provider(opts, 99, error_out));
  CHECK(inferkit_inputs_count(inputs) == 0, "rejected inputs are not added");

  /* validation against the signature */
  inferkit_inputs_clear(inputs);
  inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_F64, shape, 2, xd, sizeof xd, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_DTYPE_MISMATCH, "expected dtype f32, given f64", inferkit_model_infer(model, inputs, &outputs, error_out));
  inferkit_inputs_clear(inputs);
  inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_F32, bad_shape, 2, x, 15 * sizeof(float), NULL);
  EXPECT_STATUS(INFERKIT_STATUS_DIM_MISMATCH, "axis 1: expected 16, given 15", inferkit_model_infer(model, inputs, &outputs, error_out));
  inferkit_inputs_clear(inputs);
  inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_F32, flat, 1, x, sizeof x, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_RANK_MISMATCH, "expected rank 2", inferkit_model_infer(model, inputs, &outputs, error_out));
  inferkit_inputs_clear(inputs);
  inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x - 4, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, "needs 64 bytes, given 60", inferkit_model_infer(model, inputs, &outputs, error_out));
  inferkit_inputs_clear(inputs);
  EXPECT_STATUS(INFERKIT_STATUS_MISSING_INPUT, "`x`", inferkit_model_infer(model, inputs, &outputs, error_out));
  inferkit_inputs_add(inputs, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, NULL);
  inferkit_inputs_add(inputs, "z", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_INPUT, "`z`", inferkit_model_infer(model, inputs, &outputs, error_out));
  CHECK(outputs == NULL, "no outputs written on failure");
  inferkit_inputs_clear(inputs);
  inferkit_inputs_add_copy(inputs, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", inferkit_model_infer_select(model, inputs, names, 1, &outputs, error_out));
  names[0] = "y";
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_select(model, inputs, names, 1, &outputs, error_out));
  CHECK(outputs && inferkit_outputs_count(outputs) == 1, "selected one output");
  {
    size_t idx = 0;
    EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", inferkit_outputs_find(outputs, "nope", &idx, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_outputs_get(outputs, 1, NULL, NULL, NULL, NULL, NULL, NULL, error_out));
  }

  /* bad model files */
  EXPECT_STATUS(INFERKIT_STATUS_MODEL_NOT_FOUND, "missing.onnx", inferkit_model_open(fixture("missing.onnx"), NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_MODEL_UNREADABLE, "directory", inferkit_model_open(fixtures, NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "empty", inferkit_model_open(fixture("empty.onnx"), NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "corrupt", inferkit_model_open(fixture("corrupt.onnx"), NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "truncated", inferkit_model_open(fixture("truncated.onnx"), NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "bytes", inferkit_model_open_bytes("bytes", not_a_model, sizeof not_a_model, NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "no bytes", inferkit_model_open_bytes("nothing", NULL, 0, NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_RUNTIME_ALREADY_INITIALIZED, "already", inferkit_runtime_init(fixture("mlp.onnx"), error_out));
  CHECK(never == NULL, "no model written on failure");

  /* options that work */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_name(opts, "renamed", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_threads(opts, 2, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_optimization_level(opts, INFERKIT_OPTIMIZATION_LEVEL_BASIC, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_add_execution_provider(opts, INFERKIT_EXECUTION_PROVIDER_CPU, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open(fixture("mlp.onnx"), opts, &never, error_out));
  CHECK(never && strcmp(inferkit_model_name(never), "renamed") == 0, "name from options");

  /* every _free accepts NULL */
  inferkit_model_free(NULL);
  inferkit_inputs_free(NULL);
  inferkit_outputs_free(NULL);
  inferkit_error_free(NULL);
  inferkit_model_options_free(NULL);
  inferkit_inputs_clear(NULL);

  CHECK(strcmp(inferkit_status_name(INFERKIT_STATUS_DTYPE_MISMATCH), "DTYPE_MISMATCH") == 0, "status name as the header and README spell it");
  CHECK(strcmp(inferkit_status_name(INFERKIT_STATUS_QUEUE_FULL), "QUEUE_FULL") == 0, "status name QUEUE_FULL");
  CHECK(strcmp(inferkit_status_name(12345), "UNKNOWN") == 0, "unknown status name");
  CHECK(inferkit_dtype_size(INFERKIT_DTYPE_BF16) == 2 && inferkit_dtype_size(8) == 0, "dtype sizes");

  inferkit_model_free(never);
  inferkit_model_options_free(opts);
  inferkit_outputs_free(outputs);
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);
}

/* ---- pool, batching, request options, async callbacks ---- */

typedef struct {
  pack in, want;
  inferkit_model *model;
  int failures;
} shared_mlp;

static void *hammer(void *arg) {
  shared_mlp *sh = arg;
  const pack_tensor *x = &sh->in.tensors[0];
  inferkit_inputs *inputs = inferkit_inputs_new();
  inferkit_inputs_add(inputs, "x", x->dtype, x->shape, x->rank, x->data, x->len, NULL);
  for (int i = 0; i < 200; i++) {
    inferkit_outputs *out = NULL;
    const void *data = NULL;
    size_t len = 0;
    if (inferkit_model_infer(sh->model, inputs, &out, NULL) != INFERKIT_STATUS_OK ||
        inferkit_outputs_get(out, 0, NULL, NULL, NULL, NULL, &data, &len, NULL) != INFERKIT_STATUS_OK ||
        len != sh->want.tensors[0].len || memcmp(data, sh->want.tensors[0].data, len) != 0) {
      __atomic_add_fetch(&sh->failures, 1, __ATOMIC_RELAXED);
    }
    inferkit_outputs_free(out);
  }
  inferkit_inputs_free(inputs);
  return NULL;
}

typedef struct {
  int calls;
  int ok;
  inferkit_status last_status;
  size_t last_count;
} callback_state;

static void on_result(void *userdata, inferkit_status status, inferkit_outputs *outputs, inferkit_error *error) {
  callback_state *st = userdata;
  st->calls++;
  st->last_status = status;
  if (status == INFERKIT_STATUS_OK && outputs != NULL && error == NULL) st->ok++;
  st->last_count = inferkit_outputs_count(outputs);
  inferkit_outputs_free(outputs);
  inferkit_error_free(error);
}

static void check_pool_and_async(void) {
  shared_mlp sh;
  inferkit_model_options *opts = inferkit_model_options_new();
  inferkit_infer_options *req_opts = inferkit_infer_options_new();
  inferkit_inputs *inputs = inferkit_inputs_new();
  inferkit_outputs *outputs = NULL;
  inferkit_request *request = NULL;
  callback_state st = {0, 0, INFERKIT_STATUS_OK, 0};
  pthread_t threads[8];
  size_t instances = 0, idle = 0, queued = 0, sizes[2] = {4, 8}, bad_sizes[1] = {64};
  uint64_t executions = 0, requests_run = 0;
  const char *names[1] = {"y"}, *bad_names[1] = {"nope"};
  float scratch[16];

  memset(&sh, 0, sizeof sh);
  CHECK(pack_read(fixture("mlp.inputs.tpk"), &sh.in) && pack_read(fixture("mlp.outputs.tpk"), &sh.want), "mlp packs");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_instances(opts, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "instances", inferkit_model_options_set_instances(opts, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_batching(opts, 16, 0, 256, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_batch_size", inferkit_model_options_set_batching(opts, 0, 0, 256, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_queue_size", inferkit_model_options_set_batching(opts, 16, 0, 0, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_preferred_batch_sizes(opts, sizes, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "preferred_batch_sizes", inferkit_model_options_set_preferred_batch_sizes(opts, bad_sizes, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open(fixture("mlp.onnx"), opts, &sh.model, error_out));
  if (!sh.model) goto done;

  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_stats(sh.model, &instances, &idle, &queued, &executions, &requests_run, error_out));
  CHECK(instances == 2 && idle == 2 && queued == 0 && executions == 0, "fresh stats %zu %zu %zu %llu", instances, idle, queued, (unsigned long long)executions);

  /* 8 threads share the model's 2 sessions: every result equals the reference */
  for (int t = 0; t < 8; t++) pthread_create(&threads[t], NULL, hammer, &sh);
  for (int t = 0; t < 8; t++) pthread_join(threads[t], NULL);
  CHECK(sh.failures == 0, "%d threaded inferences differ from the reference", sh.failures);
  inferkit_model_stats(sh.model, NULL, &idle, &queued, &executions, &requests_run, NULL);
  CHECK(requests_run == 1600 && executions <= requests_run && idle == 2 && queued == 0,
        "after the hammer: %llu runs for %llu requests", (unsigned long long)executions, (unsigned long long)requests_run);

  /* request options */
  inferkit_inputs_add(inputs, "x", sh.in.tensors[0].dtype, sh.in.tensors[0].shape, sh.in.tensors[0].rank,
                      sh.in.tensors[0].data, sh.in.tensors[0].len, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_infer_options_set_timeout_us(req_opts, 1000000, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_infer_options_set_outputs(req_opts, names, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_with_options(sh.model, inputs, req_opts, &outputs, error_out));
  CHECK(inferkit_outputs_count(outputs) == 1, "one output selected");
  inferkit_outputs_free(outputs);
  outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_with_options(sh.model, inputs, NULL, &outputs, error_out));
  inferkit_outputs_free(outputs);
  outputs = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_infer_options_set_outputs(req_opts, bad_names, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", inferkit_model_infer_with_options(sh.model, inputs, req_opts, &outputs, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_infer_options_set_outputs(req_opts, NULL, 0, error_out));

  /* async with a callback: the data are copied, so the caller's buffer may change at once */
  memcpy(scratch, sh.in.tensors[0].data, sizeof scratch);
  {
    int64_t one_row[2] = {1, 16};
    inferkit_inputs *async_in = inferkit_inputs_new();
    inferkit_inputs_add(async_in, "x", INFERKIT_DTYPE_F32, one_row, 2, scratch, sizeof scratch, NULL);
    for (int i = 0; i < 20; i++) {
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_async(sh.model, async_in, req_opts, on_result, &st, &request, error_out));
      CHECK(request != NULL, "request handle");
      scratch[0] += 1.0f;
      inferkit_request_free(request);
      request = NULL;
    }
    /* with idle sessions each request ran on this thread before the call returned */
    CHECK(st.calls == 20 && st.ok == 20 && st.last_count == 1, "callbacks: %d calls, %d ok", st.calls, st.ok);
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_async(sh.model, async_in, NULL, on_result, &st, &request, error_out));
    CHECK(inferkit_request_is_done(request), "done");
    CHECK(!inferkit_request_cancel(request), "a finished request cannot be cancelled");
    inferkit_request_free(request);
    /* submission errors come back here, and the callback is not called */
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "callback", inferkit_model_infer_async(sh.model, async_in, NULL, NULL, &st, NULL, error_out));
    inferkit_inputs_clear(async_in);
    EXPECT_STATUS(INFERKIT_STATUS_MISSING_INPUT, "`x`", inferkit_model_infer_async(sh.model, async_in, NULL, on_result, &st, NULL, error_out));
    CHECK(st.calls == 21, "no callback for refused requests (%d)", st.calls);
    inferkit_inputs_free(async_in);
  }
  CHECK(!inferkit_request_cancel(NULL) && !inferkit_request_is_done(NULL), "NULL request");
  inferkit_request_free(NULL);
  inferkit_infer_options_free(NULL);

done:
  inferkit_inputs_free(inputs);
  inferkit_infer_options_free(req_opts);
  inferkit_model_options_free(opts);
  inferkit_model_free(sh.model);
  pack_free(&sh.in);
  pack_free(&sh.want);
}

/* ---- model repository ---- */

/* Runs the reference inputs of fixture `ref` (mlp-shaped) through `model` and compares with its
 * reference outputs. */
static void check_against(inferkit_model *model, const char *ref, const char *what) {
  char in_file[256], want_file[256];
  pack in, want;
  inferkit_inputs *inputs = inferkit_inputs_new();
  inferkit_outputs *outputs = NULL;
  const void *data = NULL;
  const int64_t *shape = NULL;
  size_t len = 0, rank = 0;
  uint32_t dtype = 0;
  snprintf(in_file, sizeof in_file, "%s.inputs.tpk", ref);
  snprintf(want_file, sizeof want_file, "%s.outputs.tpk", ref);
  CHECK(pack_read(fixture(in_file), &in) && pack_read(fixture(want_file), &want), "%s: packs", what);
  inferkit_inputs_add(inputs, "x", in.tensors[0].dtype, in.tensors[0].shape, in.tensors[0].rank, in.tensors[0].data, in.tensors[0].len, NULL);
  if (inferkit_model_infer(model, inputs, &outputs, NULL) == INFERKIT_STATUS_OK &&
      inferkit_outputs_get(outputs, 0, NULL, &dtype, &shape, &rank, &data, &len, NULL) == INFERKIT_STATUS_OK) {
    compare(what, &want.tensors[0], dtype, shape, rank, data, len);
  } else {
    CHECK(0, "%s: inference failed", what);
  }
  inferkit_outputs_free(outputs);
  inferkit_inputs_free(inputs);
  pack_free(&in);
  pack_free(&want);
}

static void check_registry(void) {
  char root[8192];
  inferkit_registry *reg = NULL, *none = NULL;
  inferkit_model *stable = NULL, *v2 = NULL, *m = NULL;
  uint64_t version = 0, first = 0;
  size_t reload_failures = 99;
  char *json = NULL;
  snprintf(root, sizeof root, "%s/../../examples/models", fixtures);

  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "root", inferkit_registry_open(NULL, true, 0, &reg, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_REPOSITORY_UNREADABLE, "no-such-dir", inferkit_registry_open("no-such-dir", true, 0, &none, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_open(root, true, 0, &reg, error_out));
  if (!reg) return;

  /* stable is version 1, which has the MLP's weights; version 2 has mlp_v2's */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "classifier", 0, "stable", &stable, &version, error_out));
  CHECK(version == 1, "stable is version %llu", (unsigned long long)version);
  if (stable) check_against(stable, "mlp", "classifier@stable");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "classifier", 2, NULL, &v2, &version, error_out));
  CHECK(version == 2, "version 2");
  if (v2) check_against(v2, "mlp_v2", "classifier@2");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "classifier", 0, NULL, &m, &version, error_out));
  CHECK(version == 2, "the default is the newest version the policy serves (%llu)", (unsigned long long)version);
  inferkit_model_free(m);
  m = NULL;

  /* routing: one key, one version */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_route(reg, "classifier", "user-42", &m, &first, error_out));
  inferkit_model_free(m);
  m = NULL;
  for (int i = 0; i < 20; i++) {
    inferkit_registry_route(reg, "classifier", "user-42", &m, &version, NULL);
    CHECK(version == first, "routing key user-42 moved from %llu to %llu", (unsigned long long)first, (unsigned long long)version);
    inferkit_model_free(m);
    m = NULL;
  }
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_route(reg, "classifier", NULL, &m, NULL, error_out));
  inferkit_model_free(m);
  m = NULL;

  /* labels: move stable to 2; the handle taken before stays on version 1 */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_set_label(reg, "classifier", "stable", 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_model(reg, "classifier", 0, "stable", &m, &version, error_out));
  CHECK(version == 2, "stable moved to 2");
  inferkit_model_free(m);
  m = NULL;
  if (stable) check_against(stable, "mlp", "pinned classifier@1 after the label moved");
  EXPECT_STATUS(INFERKIT_STATUS_VERSION_NOT_READY, "version 9", inferkit_registry_set_label(reg, "classifier", "stable", 9, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_LABEL_IN_USE, "stable", inferkit_registry_unload_version(reg, "classifier", 2, false, error_out));

  /* errors */
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_MODEL, "nope", inferkit_registry_model(reg, "nope", 0, NULL, &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_LABEL, "beta", inferkit_registry_model(reg, "classifier", 0, "beta", &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_VERSION, "version 7", inferkit_registry_model(reg, "classifier", 7, NULL, &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model_out", inferkit_registry_model(reg, "classifier", 0, NULL, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "registry", inferkit_registry_model(NULL, "classifier", 0, NULL, &m, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL_NAME, "../x", inferkit_registry_load(reg, "../x", error_out));
  CHECK(m == NULL, "no model written on failure");

  /* metrics: Prometheus text for the registry and one version, a JSON summary */
  {
    char *text = NULL;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_metrics_prometheus(reg, &text, error_out));
    CHECK(text && strstr(text, "# TYPE inferkit_request_duration_us histogram") &&
              strstr(text, "inferkit_model_loads_total{model=\"classifier\",version=\"1\"} 1"),
          "registry metrics lack the expected lines");
    inferkit_string_free(text);
    text = NULL;
    if (stable) {
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_metrics_prometheus(stable, &text, error_out));
      /* version 1 served the 2 inferences of check_against above, after 2 warmups counted apart */
      CHECK(text && strstr(text, "inferkit_inference_request_success_total{model=\"classifier\",version=\"1\"} 2") &&
                strstr(text, "inferkit_warmup_requests_total{model=\"classifier\",version=\"1\"} 2"),
            "version 1 success count in %s", text ? text : "(null)");
      inferkit_string_free(text);
      text = NULL;
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_metrics_json(stable, &text, error_out));
      CHECK(text && strstr(text, "\"requests_success\":2") && strstr(text, "\"warmup_requests\":2") && strstr(text, "\"p99_us\""), "json %s", text ? text : "(null)");
      inferkit_string_free(text);
    }
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "text_out", inferkit_registry_metrics_prometheus(reg, NULL, error_out));
  }

  /* reload and status */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_reload(reg, &reload_failures, error_out));
  CHECK(reload_failures == 0, "%zu failures on reload", reload_failures);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_registry_status_json(reg, &json, error_out));
  CHECK(json && strstr(json, "\"name\":\"classifier\"") && strstr(json, "\"state\":\"ready\"") &&
            strstr(json, "\"stable\":2"),
        "status %s", json ? json : "(null)");
  inferkit_string_free(json);
  inferkit_string_free(NULL);

  /* handles outlive the registry */
  inferkit_registry_close(reg);
  inferkit_registry_close(NULL);
  if (v2) check_against(v2, "mlp_v2", "classifier@2 after close");
  inferkit_model_free(stable);
  inferkit_model_free(v2);
}

/* ---- pipelines: an image through a pipeline declared in TOML ---- */

static void check_pipeline(void) {
  char toml[8192], labels[4096];
  inferkit_model_options *opts = inferkit_model_options_new();
  inferkit_model *model = NULL, *never = NULL;
  inferkit_result *result = NULL;
  pack img, want;
  const pack_tensor *src;
  size_t idx = 99, rows = 0, n = 0;
  const char *label = NULL;
  float score = 0;
  memset(&img, 0, sizeof img);
  memset(&want, 0, sizeof want);
  snprintf(labels, sizeof labels, "%s", fixture("tiny_cnn_labels.txt"));
  snprintf(toml, sizeof toml,
           "image = [ { op = \"resize\", width = 8, height = 8 } ]\n"
           "pre = [ { op = \"scale\", factor = 0.00392156862745098 },\n"
           "        { op = \"normalize\", mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225] },\n"
           "        { op = \"layout\", from = \"hwc\", to = \"chw\" }, { op = \"add_batch_dim\" } ]\n"
           "post = [ { op = \"top_k\", k = 2, labels = \"%s\" } ]\n",
           labels);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(opts, toml, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open(fixture("tiny_cnn.onnx"), opts, &model, error_out));
  CHECK(pack_read(fixture("resize.tpk"), &img) && pack_read(fixture("tiny_cnn.outputs.tpk"), &want), "packs");
  src = &img.tensors[0];
  if (model && src->rank == 3) {
    size_t h = (size_t)src->shape[0], w = (size_t)src->shape[1];
    const inferkit_outputs *outs;
    const void *data = NULL;
    size_t len = 0;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_image(model, src->data, src->len, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w * 3, &result, error_out));
    outs = inferkit_result_outputs(result);
    CHECK(outs && inferkit_outputs_get(outs, 0, NULL, NULL, NULL, NULL, &data, &len, NULL) == INFERKIT_STATUS_OK && len == 16, "outputs");
    if (data && len == 16) {
      float got[4], ref[4];
      size_t best = 0;
      memcpy(got, data, 16);
      memcpy(ref, want.tensors[0].data, 16);
      for (int i = 0; i < 4; i++) {
        CHECK(fabsf(got[i] - ref[i]) <= 0.02f * fmaxf(fabsf(ref[i]), 1.0f), "logit %d: %g vs Python %g", i, got[i], ref[i]);
        if (ref[i] > ref[best]) best = (size_t)i;
      }
      rows = inferkit_result_rows(result);
      n = inferkit_result_class_count(result, 0);
      CHECK(rows == 1 && n == 2, "%zu rows, %zu classes", rows, n);
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_result_class(result, 0, 0, &idx, &label, &score, error_out));
      CHECK(idx == best && label && strcmp(label, (const char *[]){"red", "green", "blue", "gray"}[best]) == 0 && score == got[best],
            "best class %zu %s %g", idx, label ? label : "(null)", score);
      EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_result_class(result, 0, 2, &idx, &label, &score, error_out));
    }
    inferkit_result_free(result);
    result = NULL;
    /* the same image as PNG bytes gives the same logits */
    {
      FILE *f = fopen(fixture("image.png"), "rb");
      unsigned char png[65536];
      size_t png_len = f ? fread(png, 1, sizeof png, f) : 0;
      const void *a = NULL, *b = NULL;
      size_t alen = 0, blen = 0;
      inferkit_result *raw = NULL;
      if (f) fclose(f);
      CHECK(png_len > 0, "read image.png");
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_encoded_image(model, png, png_len, &result, error_out));
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_image(model, src->data, src->len, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w * 3, &raw, error_out));
      if (result && raw) {
        inferkit_outputs_get(inferkit_result_outputs(result), 0, NULL, NULL, NULL, NULL, &a, &alen, NULL);
        inferkit_outputs_get(inferkit_result_outputs(raw), 0, NULL, NULL, NULL, NULL, &b, &blen, NULL);
        CHECK(alen == blen && alen > 0 && memcmp(a, b, alen) == 0, "PNG and raw pixels give the same outputs");
      }
      inferkit_result_free(raw);
      inferkit_result_free(result);
      result = NULL;
      EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_STEP, "decode", inferkit_model_infer_encoded_image(model, png, 16, &result, error_out));
    }
    /* bad images */
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_pixel_format", inferkit_model_infer_image(model, src->data, src->len, 9, w, h, w * 3, &result, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_STEP, "size of zero", inferkit_model_infer_image(model, src->data, src->len, INFERKIT_PIXEL_FORMAT_RGB8, 0, h, w * 3, &result, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_STEP, "stride", inferkit_model_infer_image(model, src->data, src->len, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w, &result, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "pixels", inferkit_model_infer_image(model, NULL, src->len, INFERKIT_PIXEL_FORMAT_RGB8, w, h, w * 3, &result, error_out));
    CHECK(result == NULL, "no result written on failure");
  }
  /* token ids padded with an attention mask; text needs the tokenizer feature */
  {
    inferkit_model_options *seq_opts = inferkit_model_options_new();
    inferkit_model *text_model = NULL;
    int64_t ids[3] = {5, 7, 9};
    const void *y = NULL;
    size_t ylen = 0;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(seq_opts, "sequence = { max_length = 6 }", error_out));
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open(fixture("tiny_text.onnx"), seq_opts, &text_model, error_out));
    if (text_model) {
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_sequence(text_model, ids, 3, &result, error_out));
      if (result) {
        int64_t sum = 0;
        inferkit_outputs_get(inferkit_result_outputs(result), 0, NULL, NULL, NULL, NULL, &y, &ylen, NULL);
        if (ylen == sizeof sum) memcpy(&sum, y, sizeof sum);
        CHECK(sum == 21, "sum of the ids, padding masked out: %lld", (long long)sum);
      }
      inferkit_result_free(result);
      result = NULL;
      EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_CONFIG, "no `text`", inferkit_model_infer_text(text_model, "hello", &result, error_out));
      EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "ids", inferkit_model_infer_sequence(text_model, NULL, 3, &result, error_out));
    }
    inferkit_model_free(text_model);
    /* a text stage needs the tokenizer feature, which this build of the library leaves out */
    {
      inferkit_model *never_text = NULL;
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(seq_opts, "text = { tokenizer = \"tokenizer.json\", max_length = 8 }", error_out));
      EXPECT_STATUS(INFERKIT_STATUS_UNSUPPORTED, "`tokenizer`", inferkit_model_open(fixture("tiny_text.onnx"), seq_opts, &never_text, error_out));
      CHECK(never_text == NULL, "no model on failure");
    }
    inferkit_model_options_free(seq_opts);
  }
  /* bad pipelines */
  EXPECT_STATUS(INFERKIT_STATUS_CONFIG, "line 1", inferkit_model_options_set_pipeline_toml(opts, "pre = [ { op = \"blur\" } ]", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(opts, "pre = [ { op = \"layout\", from = \"hwc\", to = \"chw\" } ]", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_CONFIG, "pre[0] Layout", inferkit_model_open(fixture("tiny_cnn.onnx"), opts, &never, error_out));
  CHECK(inferkit_result_rows(NULL) == 0 && inferkit_result_outputs(NULL) == NULL, "NULL result");
  inferkit_result_free(NULL);
  pack_free(&img);
  pack_free(&want);
  inferkit_model_free(model);
  inferkit_model_options_free(opts);
}

int main(int argc, char **argv) {
  inferkit_error *err = NULL;
  char version[32];
  if (argc != 2) {
    fprintf(stderr, "usage: %s <fixtures directory>\n", argv[0]);
    return 2;
  }
  snprintf(fixtures, sizeof fixtures, "%s", argv[1]);

  snprintf(version, sizeof version, "%d.%d.%d", INFERKIT_VERSION_MAJOR, INFERKIT_VERSION_MINOR, INFERKIT_VERSION_PATCH);
  CHECK(strcmp(inferkit_version(), version) == 0, "library %s, header %s", inferkit_version(), version);
  CHECK(strcmp(inferkit_version(), INFERKIT_VERSION_STRING) == 0, "version string");
  CHECK(inferkit_runtime_ort_version() == NULL, "no runtime before init");
  if (inferkit_runtime_init(NULL, &err) != INFERKIT_STATUS_OK) {
    fprintf(stderr, "runtime: %s\n", inferkit_error_message(err));
    inferkit_error_free(err);
    return 1;
  }
  CHECK(strcmp(inferkit_runtime_ort_version(), "1.31.1") == 0, "ORT version %s", inferkit_runtime_ort_version());
  CHECK(inferkit_runtime_init(NULL, NULL) == INFERKIT_STATUS_OK, "second init is a no-op");

  check_fixture("mlp");
  check_fixture("two_io");
  check_fixture("f16");
  check_fixture("int_bool");
  check_fixture("sequence");
  check_fixture("identity_all");
  check_signature();
  check_errors();
  check_pool_and_async();
  check_registry();
  check_pipeline();

  printf("%d passed, %d failed\n", checks - failures, failures);
  fflush(stdout);
  /* Everything this test owns is freed above. Leave without running static destructors: ONNX
   * Runtime keeps an internal thread that can still read ONNX Runtime's own static data while
   * exit() destroys it (valgrind reported this now and then). Leak checks still run: valgrind's at
   * the end of the process, LeakSanitizer's here (it would otherwise run from exit()). */
#if defined(__SANITIZE_ADDRESS__)
  __lsan_do_leak_check();
#endif
  _exit(failures == 0 ? 0 : 1);
}
