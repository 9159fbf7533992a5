/*
 * C ABI: models. Every fixture's outputs through inferkit.h match onnxruntime in Python (the
 * reference packs); models open from files and from bytes, with the typed status of each way a
 * model file can be wrong; handles are cloned and closed independently; the signature is described
 * (names, dtypes, ranks, dims with their symbols, value types).
 *
 * Built with -Wall -Wextra -Wpedantic -Werror, run under ASan/UBSan and under valgrind by
 * `make test-c`. Usage: test_model <tests/fixtures directory>
 */
#define _POSIX_C_SOURCE 200809L
#include "inferkit.h"
#include "inferkit.h" /* included twice on purpose: the include guard must hold */

#include "common.h"

/* Runs a fixture's reference inputs through the C ABI and compares every output; then again with
 * copied inputs given in reverse order (inputs are matched by name). `stem` is the path without
 * `.onnx` under the fixtures directory, `name` the model name it should get. */
static void check_fixture(const char *stem, const char *name) {
  char file[256];
  pack in, want;
  inferkit_model *model;
  inferkit_request *req = NULL;
  inferkit_outputs *outputs = NULL;
  snprintf(file, sizeof file, "%s.onnx", stem);
  model = open_fixture(file, NULL);
  CHECK(packs_of(stem, &in, &want), "%s: cannot read its packs", stem);
  if (!model) goto done;

  CHECK(strcmp(inferkit_model_name(model), name) == 0, "model name %s, want %s", inferkit_model_name(model), name);
  CHECK(inferkit_model_tensor_count(model, INFERKIT_IO_INPUT) == in.count, "%s: input count", stem);
  CHECK(inferkit_model_tensor_count(model, INFERKIT_IO_OUTPUT) == want.count, "%s: output count", stem);
  /* the signature lists the inputs and outputs as the packs do */
  for (uint32_t i = 0; i < in.count; i++) {
    const char *n = NULL;
    uint32_t dtype = 0;
    size_t rank = 99;
    CHECK(inferkit_model_tensor_info(model, INFERKIT_IO_INPUT, i, &n, &dtype, &rank, NULL) == INFERKIT_STATUS_OK, "%s: info", stem);
    CHECK(n && strcmp(n, in.tensors[i].name) == 0 && dtype == in.tensors[i].dtype && rank == in.tensors[i].rank,
          "%s: input %u is %s %u rank %zu, want %s %u rank %u", stem, i, n ? n : "(null)", dtype, rank, in.tensors[i].name,
          in.tensors[i].dtype, in.tensors[i].rank);
  }
  for (uint32_t i = 0; i < want.count; i++) {
    const char *n = NULL;
    uint32_t dtype = 0;
    CHECK(inferkit_model_tensor_info(model, INFERKIT_IO_OUTPUT, i, &n, &dtype, NULL, NULL) == INFERKIT_STATUS_OK &&
              strcmp(n, want.tensors[i].name) == 0 && dtype == want.tensors[i].dtype,
          "%s: output %u", stem, i);
  }

  req = new_request(model);
  if (!req) goto done;
  add_pack(req, &in, 0);
  outputs = run_ok(req, stem);
  if (outputs) compare_outputs(stem, outputs, &want);
  inferkit_outputs_free(outputs);

  /* copied, in reverse order */
  inferkit_request_clear(req);
  for (uint32_t i = in.count; i-- > 0;) {
    const pack_tensor *t = &in.tensors[i];
    CHECK(inferkit_request_add_tensor_copy(req, t->name, t->dtype, t->shape, t->rank, t->data, t->len, NULL) == INFERKIT_STATUS_OK,
          "%s: add %s", stem, t->name);
  }
  outputs = run_ok(req, stem);
  if (outputs) compare_outputs(stem, outputs, &want);
  inferkit_outputs_free(outputs);
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
  pack_free(&in);
  pack_free(&want);
}

static void every_fixture_matches_its_reference(void) {
  static const char *const fixtures[] = {
      "mlp", "mlp_v2", "mlp_large", "two_io", "f16", "int_bool", "sequence", "identity_all", "gather",
      "batch_mean", "reverse_rows", "no_inputs", "slow", "tiny_cnn", "tiny_text",
  };
  for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) check_fixture(fixtures[i], fixtures[i]);
  /* weights in a file beside the model (external data) are found relative to it */
  check_fixture("external/model", "model");
}

static void check_signature(void) {
  inferkit_model *model = open_fixture("sequence.onnx", NULL);
  const char *name = NULL, *symbol = NULL, *type = NULL;
  uint32_t dtype = 0, kind = 0;
  size_t rank = 0;
  int64_t dim = 0;
  if (!model) return;
  CHECK(inferkit_model_tensor_info(model, INFERKIT_IO_INPUT, 0, &name, &dtype, &rank, NULL) == INFERKIT_STATUS_OK, "info");
  CHECK(strcmp(name, "tokens") == 0 && dtype == INFERKIT_DTYPE_F32 && rank == 3, "tokens f32 rank 3, got %s %u %zu", name, dtype, rank);
  CHECK(inferkit_model_tensor_dim(model, INFERKIT_IO_INPUT, 0, 1, &dim, &symbol, NULL) == INFERKIT_STATUS_OK, "dim");
  CHECK(dim == -1 && symbol && strcmp(symbol, "seq") == 0, "axis 1 is seq/-1, got %lld %s", (long long)dim, symbol ? symbol : "NULL");
  CHECK(inferkit_model_tensor_dim(model, INFERKIT_IO_INPUT, 0, 2, &dim, &symbol, NULL) == INFERKIT_STATUS_OK, "dim");
  CHECK(dim == 8 && symbol == NULL, "axis 2 is 8 without a symbol, got %lld", (long long)dim);
  CHECK(inferkit_model_tensor_dim(model, INFERKIT_IO_INPUT, 0, 0, NULL, NULL, NULL) == INFERKIT_STATUS_OK, "every out-parameter may be NULL");
  CHECK(inferkit_model_tensor_info(model, INFERKIT_IO_OUTPUT, 1, &name, NULL, NULL, NULL) == INFERKIT_STATUS_OK && strcmp(name, "scores") == 0, "output 1 is scores");
  CHECK(inferkit_model_value_type(model, INFERKIT_IO_INPUT, 0, &kind, &type, NULL) == INFERKIT_STATUS_OK, "value type");
  CHECK(kind == INFERKIT_VALUE_KIND_TENSOR && type && strncmp(type, "f32[", 4) == 0 && strstr(type, "seq") && strstr(type, "8]"),
        "tokens is a tensor f32[.., seq, 8]: %u %s", kind, type ? type : "(null)");
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_model_tensor_info(model, INFERKIT_IO_INPUT, 5, &name, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_model_tensor_info(model, INFERKIT_IO_OUTPUT, 2, &name, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_model_tensor_dim(model, INFERKIT_IO_INPUT, 0, 3, &dim, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "out of range", inferkit_model_value_type(model, INFERKIT_IO_INPUT, 1, &kind, &type, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_io", inferkit_model_tensor_info(model, 7, 0, &name, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_io", inferkit_model_tensor_dim(model, 7, 0, 0, &dim, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_io", inferkit_model_value_type(model, 7, 0, &kind, NULL, error_out));
  CHECK(inferkit_model_tensor_count(model, 7) == 0, "unknown io counts 0");

  /* the mlp as the Rust signature writes it: (x: f32[batch, 16]) -> (y: f32[batch, 4]) */
  {
    inferkit_model *mlp = open_fixture("mlp.onnx", NULL);
    CHECK(mlp && inferkit_model_value_type(mlp, INFERKIT_IO_INPUT, 0, &kind, &type, NULL) == INFERKIT_STATUS_OK &&
              strcmp(type, "f32[batch, 16]") == 0,
          "x: %s", type ? type : "(null)");
    CHECK(mlp && inferkit_model_value_type(mlp, INFERKIT_IO_OUTPUT, 0, &kind, &type, NULL) == INFERKIT_STATUS_OK &&
              strcmp(type, "f32[batch, 4]") == 0,
          "y: %s", type ? type : "(null)");
    inferkit_model_close(mlp);
  }

  /* a clone is an independent handle to the same model */
  {
    inferkit_model *clone = inferkit_model_clone(model);
    inferkit_model_close(model);
    CHECK(clone && strcmp(inferkit_model_name(clone), "sequence") == 0, "clone outlives the original handle");
    CHECK(inferkit_model_tensor_count(clone, INFERKIT_IO_OUTPUT) == 2, "the clone describes the model");
    inferkit_model_close(clone);
  }
}

/* Clones share one model: what one handle runs, the other's counters show. */
static void clones_share_the_model(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL), *clone, *clone2;
  inferkit_request *req;
  inferkit_outputs *out;
  pack in, want;
  uint64_t runs = 0;
  CHECK(packs_of("mlp", &in, &want), "mlp packs");
  if (!model) goto done;
  clone = inferkit_model_clone(model);
  clone2 = inferkit_model_clone(clone);
  /* (a clone may be the same pointer, with one more count behind it: each is closed once) */
  CHECK(clone && clone2, "clones");
  req = new_request(clone);
  add_pack(req, &in, 0);
  out = run_ok(req, "through a clone");
  if (out) compare_outputs("through a clone", out, &want);
  inferkit_outputs_free(out);
  inferkit_request_free(req);
  CHECK(inferkit_model_stats(model, NULL, NULL, NULL, NULL, &runs, NULL) == INFERKIT_STATUS_OK && runs == 1,
        "the original handle counts the clone's run: %llu", (unsigned long long)runs);
  inferkit_model_close(model);
  inferkit_model_close(clone);
  CHECK(strcmp(inferkit_model_name(clone2), "mlp") == 0, "the last handle still holds the model");
  inferkit_model_close(clone2);
done:
  pack_free(&in);
  pack_free(&want);
}

static void open_errors(void) {
  inferkit_model *never = NULL;
  unsigned char not_a_model[5] = {1, 2, 3, 4, 5};
  /* NULL pointers */
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "path", inferkit_model_open(NULL, NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model_out", inferkit_model_open(fixture("mlp.onnx"), NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model_out", inferkit_model_open_bytes("m", not_a_model, sizeof not_a_model, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "bytes", inferkit_model_open_bytes("m", NULL, 5, NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_model_open("\xff.onnx", NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_model_open_bytes("\xff", not_a_model, sizeof not_a_model, NULL, &never, error_out));
  /* bad model files */
  EXPECT_STATUS(INFERKIT_STATUS_MODEL_NOT_FOUND, "missing.onnx", inferkit_model_open(fixture("missing.onnx"), NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_MODEL_UNREADABLE, "directory", inferkit_model_open(fixtures_dir(), NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "empty", inferkit_model_open(fixture("empty.onnx"), NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "corrupt", inferkit_model_open(fixture("corrupt.onnx"), NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "truncated", inferkit_model_open(fixture("truncated.onnx"), NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "bytes", inferkit_model_open_bytes("bytes", not_a_model, sizeof not_a_model, NULL, &never, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "no bytes", inferkit_model_open_bytes("nothing", NULL, 0, NULL, &never, error_out));
  CHECK(never == NULL, "no model written on failure");
}

static void open_from_bytes(void) {
  static unsigned char bytes[1 << 16];
  size_t len = read_file(fixture("mlp.onnx"), bytes, sizeof bytes);
  inferkit_model *a = NULL, *b = NULL, *c = NULL;
  inferkit_model_options *opts = new_options();
  pack in, want;
  CHECK(len > 0 && len < sizeof bytes, "read mlp.onnx (%zu bytes)", len);
  CHECK(packs_of("mlp", &in, &want), "mlp packs");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open_bytes(NULL, bytes, len, NULL, &a, error_out));
  CHECK(a && strcmp(inferkit_model_name(a), "model") == 0, "a NULL name is \"model\": %s", inferkit_model_name(a));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open_bytes("from-memory", bytes, len, NULL, &b, error_out));
  CHECK(b && strcmp(inferkit_model_name(b), "from-memory") == 0, "name given: %s", inferkit_model_name(b));
  inferkit_model_options_set_name(opts, "from-options", NULL);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open_bytes("from-memory", bytes, len, opts, &c, error_out));
  CHECK(c && strcmp(inferkit_model_name(c), "from-options") == 0, "the options' name wins: %s", inferkit_model_name(c));
  /* the bytes are read during the call only */
  memset(bytes, 0, len);
  if (b) {
    inferkit_request *req = new_request(b);
    inferkit_outputs *out;
    add_pack(req, &in, 0);
    out = run_ok(req, "a model from bytes");
    if (out) compare_outputs("a model from bytes", out, &want);
    inferkit_outputs_free(out);
    inferkit_request_free(req);
  }
  inferkit_model_close(a);
  inferkit_model_close(b);
  inferkit_model_close(c);
  inferkit_model_options_free(opts);
  pack_free(&in);
  pack_free(&want);
}

static void stats(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  size_t instances = 0, idle = 0, queued = 99;
  uint64_t executions = 99, runs = 99;
  if (!model) return;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_stats(model, &instances, &idle, &queued, &executions, &runs, error_out));
  CHECK(instances >= 1 && instances <= 4 && idle == instances && queued == 0 && executions == 0 && runs == 0,
        "fresh: %zu instances, %zu idle, %zu queued, %llu executions, %llu runs", instances, idle, queued,
        (unsigned long long)executions, (unsigned long long)runs);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_stats(model, NULL, NULL, NULL, NULL, NULL, error_out));
  inferkit_model_close(model);
}

/* The batching options read back as they were set; NULL outputs are skipped. */
static void batching(void) {
  inferkit_model_options *opts = NULL;
  inferkit_model *model = NULL;
  size_t max_batch = 0, queue_size = 0;
  uint64_t delay = 0, timeout = 0;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_new(&opts, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_batching(opts, 8, 500, 64, 2000, error_out));
  model = open_fixture("mlp.onnx", opts);
  inferkit_model_options_free(opts);
  if (!model) return;
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model", inferkit_model_batching(NULL, &max_batch, NULL, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_batching(model, &max_batch, &delay, &queue_size, &timeout, error_out));
  CHECK(max_batch == 8 && delay == 500 && queue_size == 64 && timeout == 2000, "batching read back: %zu, %llu us, %zu, %llu us",
        max_batch, (unsigned long long)delay, queue_size, (unsigned long long)timeout);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_batching(model, NULL, NULL, NULL, NULL, error_out));
  inferkit_model_close(model);
}

/* The run estimate: 0 before any run, then what runs took; NULL arguments are refused. */
static void run_estimate(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = NULL;
  float x[16] = {0};
  int64_t shape[2] = {1, 16};
  uint64_t ns = 99;
  if (!model) return;
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model", inferkit_model_run_estimate_ns(NULL, 1, &ns, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "ns_out", inferkit_model_run_estimate_ns(model, 1, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_run_estimate_ns(model, 1, &ns, error_out));
  CHECK(ns == 0, "an estimate before any run: %llu ns", (unsigned long long)ns);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_new(model, &req, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, error_out));
  for (int i = 0; i < 3; i++) inferkit_outputs_free(run_ok(req, "a run to measure"));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_run_estimate_ns(model, 1, &ns, error_out));
  CHECK(ns > 0 && ns < 1000000000u, "the estimate after three runs: %llu ns", (unsigned long long)ns);
  inferkit_request_free(req);
  inferkit_model_close(model);
}

int main(int argc, char **argv) {
  test_start(argc, argv, 1);
  every_fixture_matches_its_reference();
  check_signature();
  clones_share_the_model();
  open_errors();
  open_from_bytes();
  stats();
  run_estimate();
  batching();
  test_finish("test_model");
  return 0;
}
