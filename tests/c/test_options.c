/*
 * C ABI: model options. Options that work reach the model; every number out of its documented
 * bound, every unknown enum value and every provider this build lacks is refused with its typed
 * status and leaves the options as they were; pipeline TOML is checked when set (CONFIG, with its
 * line) and against the model when it opens (PIPELINE_CONFIG naming the step, UNSUPPORTED for a
 * feature this build leaves out).
 *
 * Built with -Wall -Wextra -Wpedantic -Werror, run under ASan/UBSan and under valgrind by
 * `make test-c`. Usage: test_options <tests/fixtures directory>
 */
#define _POSIX_C_SOURCE 200809L
#include "inferkit.h"
#include "inferkit.h" /* included twice on purpose: the include guard must hold */

#include "common.h"

/* The number of sessions of a model opened from `opts` (0 if it does not open). */
static size_t instances_of(const inferkit_model_options *opts) {
  inferkit_model *model = open_fixture("mlp.onnx", opts);
  size_t instances = 0;
  if (model) inferkit_model_stats(model, &instances, NULL, NULL, NULL, NULL, NULL);
  inferkit_model_close(model);
  return instances;
}

static void constructor_and_nulls(void) {
  inferkit_model_options *opts = NULL;
  size_t one[1] = {1};
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options_out", inferkit_model_options_new(NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_new(&opts, error_out));
  CHECK(opts != NULL, "options made");
  /* the defaults open a model named after its file */
  {
    inferkit_model *model = open_fixture("mlp.onnx", opts);
    CHECK(model && strcmp(inferkit_model_name(model), "mlp") == 0, "default name %s", inferkit_model_name(model));
    inferkit_model_close(model);
  }
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options", inferkit_model_options_set_name(NULL, "x", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "name", inferkit_model_options_set_name(opts, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options", inferkit_model_options_set_threads(NULL, 1, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options", inferkit_model_options_set_spinning(NULL, true, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options", inferkit_model_options_set_optimization_level(NULL, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options", inferkit_model_options_add_execution_provider(NULL, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options", inferkit_model_options_set_instances(NULL, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options", inferkit_model_options_set_batching(NULL, 1, 0, 1, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options", inferkit_model_options_set_preferred_batch_sizes(NULL, one, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "sizes", inferkit_model_options_set_preferred_batch_sizes(opts, NULL, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options", inferkit_model_options_set_pipeline_toml(NULL, "", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "toml_text", inferkit_model_options_set_pipeline_toml(opts, NULL, error_out));
  /* 0 sizes clear them, whatever the pointer */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_preferred_batch_sizes(opts, NULL, 0, error_out));
  inferkit_model_options_free(opts);
  inferkit_model_options_free(NULL);
}

static void options_that_work(void) {
  inferkit_model_options *opts = new_options();
  inferkit_model *model = NULL;
  size_t sizes[2] = {4, 8};
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_name(opts, "renamed", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_threads(opts, 2, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_spinning(opts, false, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_optimization_level(opts, INFERKIT_OPTIMIZATION_LEVEL_BASIC, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_add_execution_provider(opts, INFERKIT_EXECUTION_PROVIDER_CPU, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_instances(opts, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_batching(opts, 16, 0, 256, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_preferred_batch_sizes(opts, sizes, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_open(fixture("mlp.onnx"), opts, &model, error_out));
  CHECK(model && strcmp(inferkit_model_name(model), "renamed") == 0, "name from options");
  {
    size_t instances = 0, idle = 0;
    inferkit_model_stats(model, &instances, &idle, NULL, NULL, NULL, NULL);
    CHECK(instances == 2 && idle == 2, "2 sessions from options, got %zu (%zu idle)", instances, idle);
  }
  /* the model keeps its own copy: the options may change or go */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_name(opts, "changed", error_out));
  CHECK(strcmp(inferkit_model_name(model), "renamed") == 0, "the model's copy of its options");
  inferkit_model_options_free(opts);
  CHECK(strcmp(inferkit_model_name(model), "renamed") == 0, "the model outlives its options");
  inferkit_model_close(model);

  /* every level and the largest bounds are accepted */
  opts = new_options();
  for (uint32_t level = INFERKIT_OPTIMIZATION_LEVEL_DISABLED; level <= INFERKIT_OPTIMIZATION_LEVEL_ALL; level++)
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_optimization_level(opts, level, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_threads(opts, INFERKIT_MAX_THREADS, INFERKIT_MAX_THREADS, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_instances(opts, INFERKIT_MAX_INSTANCES, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "",
                inferkit_model_options_set_batching(opts, INFERKIT_MAX_BATCH_SIZE, INFERKIT_MAX_QUEUE_DELAY_US,
                                                    INFERKIT_MAX_QUEUE_SIZE, INFERKIT_MAX_DEFAULT_TIMEOUT_US, error_out));
  inferkit_model_options_free(opts);
}

/* Refused values leave the options as they were: what the model opens with shows it. */
static void bounds_are_refused_and_leave_the_options_unchanged(void) {
  inferkit_model_options *opts = new_options();
  size_t sizes[2] = {4, 8}, bad_sizes[1] = {64}, zero_size[1] = {0}, sixteen[1] = {16}, seventeen[1] = {17};
  size_t too_many[INFERKIT_MAX_PREFERRED_BATCH_SIZES + 1];
  for (size_t i = 0; i < sizeof too_many / sizeof too_many[0]; i++) too_many[i] = 1;

  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_name(opts, "renamed", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_model_options_set_name(opts, "\xff\xfe", error_out));

  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_optimization_level", inferkit_model_options_set_optimization_level(opts, 42, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "intra_op_threads", inferkit_model_options_set_threads(opts, 0, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inter_op_threads", inferkit_model_options_set_threads(opts, 1, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "intra_op_threads", inferkit_model_options_set_threads(opts, INFERKIT_MAX_THREADS + 1, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inter_op_threads", inferkit_model_options_set_threads(opts, 1, SIZE_MAX, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNSUPPORTED, "CUDA: this build of inferkit runs on ONNX Runtime's CPU provider only", inferkit_model_options_add_execution_provider(opts, INFERKIT_EXECUTION_PROVIDER_CUDA, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNSUPPORTED, "CPU provider only", inferkit_model_options_add_execution_provider(opts, INFERKIT_EXECUTION_PROVIDER_XNNPACK, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_execution_provider", inferkit_model_options_add_execution_provider(opts, 99, error_out));
  {
    /* at most INFERKIT_MAX_EXECUTION_PROVIDERS; one more is refused and changes nothing */
    inferkit_model_options *many = NULL;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_new(&many, error_out));
    for (int i = 0; i < INFERKIT_MAX_EXECUTION_PROVIDERS; i++)
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_add_execution_provider(many, INFERKIT_EXECUTION_PROVIDER_CPU, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "at most 16", inferkit_model_options_add_execution_provider(many, INFERKIT_EXECUTION_PROVIDER_CPU, error_out));
    inferkit_model_options_free(many);
  }

  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_instances(opts, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "instances", inferkit_model_options_set_instances(opts, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "instances", inferkit_model_options_set_instances(opts, INFERKIT_MAX_INSTANCES + 1, error_out));

  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_batching(opts, 16, 0, 256, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_batch_size", inferkit_model_options_set_batching(opts, 0, 0, 256, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_batch_size", inferkit_model_options_set_batching(opts, INFERKIT_MAX_BATCH_SIZE + 1, 0, 256, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_queue_size", inferkit_model_options_set_batching(opts, 16, 0, 0, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_queue_size", inferkit_model_options_set_batching(opts, 16, 0, INFERKIT_MAX_QUEUE_SIZE + 1, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_queue_size", inferkit_model_options_set_batching(opts, 16, 0, SIZE_MAX, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_queue_delay_us", inferkit_model_options_set_batching(opts, 16, INFERKIT_MAX_QUEUE_DELAY_US + 1, 256, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "default_timeout_us", inferkit_model_options_set_batching(opts, 16, 0, 256, INFERKIT_MAX_DEFAULT_TIMEOUT_US + 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "default_timeout_us", inferkit_model_options_set_batching(opts, 16, 0, 256, UINT64_MAX, error_out));

  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_preferred_batch_sizes(opts, sizes, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "preferred_batch_sizes", inferkit_model_options_set_preferred_batch_sizes(opts, bad_sizes, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "preferred_batch_sizes", inferkit_model_options_set_preferred_batch_sizes(opts, zero_size, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "preferred_batch_sizes",
                inferkit_model_options_set_preferred_batch_sizes(opts, too_many, sizeof too_many / sizeof too_many[0], error_out));
  /* the preferred sizes {4, 8} were kept: a max_batch_size below 8 no longer fits them */
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "preferred_batch_sizes", inferkit_model_options_set_batching(opts, 4, 0, 256, 0, error_out));
  /* and max_batch_size is still 16: 16 fits, 17 does not */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_preferred_batch_sizes(opts, sixteen, 1, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "max_batch_size (16)", inferkit_model_options_set_preferred_batch_sizes(opts, seventeen, 1, error_out));

  /* the name, the instances and the CPU-only provider list are as before the refusals */
  {
    inferkit_model *model = open_fixture("mlp.onnx", opts);
    size_t instances = 0;
    CHECK(model && strcmp(inferkit_model_name(model), "renamed") == 0, "name kept: %s", inferkit_model_name(model));
    if (model) inferkit_model_stats(model, &instances, NULL, NULL, NULL, NULL, NULL);
    CHECK(instances == 2, "instances kept: %zu", instances);
    inferkit_model_close(model);
  }
  inferkit_model_options_free(opts);

  /* a list of providers is bounded too (16), and the refusal keeps the list */
  opts = new_options();
  for (int i = 0; i < 16; i++)
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_add_execution_provider(opts, INFERKIT_EXECUTION_PROVIDER_CPU, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "at most 16", inferkit_model_options_add_execution_provider(opts, INFERKIT_EXECUTION_PROVIDER_CPU, error_out));
  CHECK(instances_of(opts) > 0, "the options still open a model");
  inferkit_model_options_free(opts);
}

static void pipeline_toml_errors(void) {
  inferkit_model_options *opts = new_options();
  inferkit_model *never = NULL;
  /* TOML that is not a pipeline: CONFIG with its line, at once */
  EXPECT_STATUS(INFERKIT_STATUS_CONFIG, "line 1", inferkit_model_options_set_pipeline_toml(opts, "pre = [ { op = \"blur\" } ]", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_CONFIG, "line 2", inferkit_model_options_set_pipeline_toml(opts, "post = []\npre = [ { op = \"scale\", factor = \"big\" } ]", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_CONFIG, "<pipeline TOML>", inferkit_model_options_set_pipeline_toml(opts, "pre = [", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "UTF-8", inferkit_model_options_set_pipeline_toml(opts, "pre = [] # \xff", error_out));
  /* a pipeline that does not fit its model: PIPELINE_CONFIG naming the step, when it opens */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(opts, "pre = [ { op = \"layout\", from = \"hwc\", to = \"chw\" } ]", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_CONFIG, "pre[0] Layout", inferkit_model_open(fixture("tiny_cnn.onnx"), opts, &never, error_out));
  /* refused TOML keeps the pipeline set before it: the model still fails on the layout step */
  EXPECT_STATUS(INFERKIT_STATUS_CONFIG, "line 1", inferkit_model_options_set_pipeline_toml(opts, "pre = [ { op = \"blur\" } ]", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_CONFIG, "pre[0] Layout", inferkit_model_open(fixture("tiny_cnn.onnx"), opts, &never, error_out));
  /* a label file that does not exist */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(opts, "post = [ { op = \"top_k\", k = 2, labels = \"no-such-labels.txt\" } ]", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_PIPELINE_CONFIG, "post[0] TopK: label file `no-such-labels.txt`", inferkit_model_open(fixture("tiny_cnn.onnx"), opts, &never, error_out));
  /* a text stage needs the tokenizer feature, which this build of the library leaves out */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(opts, "text = { tokenizer = \"tokenizer.json\", max_length = 8 }", error_out));
  EXPECT_STATUS(INFERKIT_STATUS_UNSUPPORTED, "`tokenizer`", inferkit_model_open(fixture("tiny_text.onnx"), opts, &never, error_out));
  CHECK(never == NULL, "no model on failure");
  /* an empty pipeline is no pipeline */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_pipeline_toml(opts, "", error_out));
  {
    inferkit_model *model = open_fixture("mlp.onnx", opts);
    CHECK(model != NULL, "an empty pipeline opens");
    inferkit_model_close(model);
  }
  inferkit_model_options_free(opts);
}

/* The backend: unknown values refused, tract where the library has it (answering as ONNX Runtime
 * does on the pack's inputs), UNSUPPORTED where it does not, AUTO choosing ONNX Runtime here. */
static void backends(void) {
  inferkit_model_options *opts = new_options();
  inferkit_model *model = NULL;
  pack in, want;
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "options", inferkit_model_options_set_backend(NULL, INFERKIT_BACKEND_AUTO, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "inferkit_backend", inferkit_model_options_set_backend(opts, 42, error_out));
  CHECK(inferkit_backend_available(INFERKIT_BACKEND_ONNX_RUNTIME) && inferkit_backend_available(INFERKIT_BACKEND_AUTO),
        "ONNX Runtime and AUTO are always built");
  CHECK(!inferkit_backend_available(42), "an unknown backend is not available");
  CHECK(inferkit_model_backend(NULL) == INFERKIT_BACKEND_AUTO, "NULL reports AUTO");

  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_backend(opts, INFERKIT_BACKEND_AUTO, error_out));
  model = open_fixture("mlp.onnx", opts);
  CHECK(model && inferkit_model_backend(model) == INFERKIT_BACKEND_ONNX_RUNTIME, "AUTO chose ONNX Runtime, which loads here");
  inferkit_model_close(model);

  if (!inferkit_backend_available(INFERKIT_BACKEND_TRACT)) {
    EXPECT_STATUS(INFERKIT_STATUS_UNSUPPORTED, "tract", inferkit_model_options_set_backend(opts, INFERKIT_BACKEND_TRACT, error_out));
    printf("test_options: this library is built without tract\n");
    inferkit_model_options_free(opts);
    return;
  }
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_backend(opts, INFERKIT_BACKEND_TRACT, error_out));
  model = open_fixture("two_io.onnx", opts);
  CHECK(model && inferkit_model_backend(model) == INFERKIT_BACKEND_TRACT, "opened on tract");
  if (model && packs_of("two_io", &in, &want)) {
    inferkit_request *req = new_request(model);
    inferkit_outputs *out = NULL;
    add_pack(req, &in, 0);
    out = run_ok(req, "two_io on tract");
    if (out) compare_outputs("two_io on tract", out, &want);
    inferkit_outputs_free(out);
    inferkit_request_free(req);
    pack_free(&in);
    pack_free(&want);
  }
  inferkit_model_close(model);
  /* a fixed input shape narrows the signature, on either backend */
  {
    const int64_t two[2] = {2, 16}, negative[2] = {-1, 16};
    int64_t size = 0;
    EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "shape", inferkit_model_options_set_input_shape(opts, "x", NULL, 2, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_INVALID_ARGUMENT, "negative", inferkit_model_options_set_input_shape(opts, "x", negative, 2, error_out));
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_input_shape(opts, "x", two, 2, error_out));
    model = open_fixture("mlp.onnx", opts);
    CHECK(model != NULL, "mlp with a fixed shape opens on tract");
    if (model) {
      EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_tensor_dim(model, INFERKIT_IO_INPUT, 0, 0, &size, NULL, error_out));
      CHECK(size == 2, "the batch dim is fixed at 2, got %lld", (long long)size);
    }
    inferkit_model_close(model);
    EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_INPUT, "", inferkit_model_open(fixture("two_io.onnx"), opts, &model, error_out));
  }
  inferkit_model_options_free(opts);
  /* a model tract cannot run: its Loop is named in the error */
  opts = new_options();
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_backend(opts, INFERKIT_BACKEND_TRACT, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_INVALID_MODEL, "Loop", inferkit_model_open(fixture("loop.onnx"), opts, &model, error_out));
  inferkit_model_options_free(opts);
}

int main(int argc, char **argv) {
  test_start(argc, argv, 1);
  constructor_and_nulls();
  options_that_work();
  bounds_are_refused_and_leave_the_options_unchanged();
  pipeline_toml_errors();
  backends();
  test_finish("test_options");
  return 0;
}
