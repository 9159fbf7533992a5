/*
 * C ABI: versions and errors. The library's version (text and number) and ABI version match the
 * header's macros; ONNX Runtime loads once; every status has the name the header spells; error
 * objects carry code and message; NULL is answered, never dereferenced, by every release and every
 * query that takes a handle.
 *
 * Built with -Wall -Wextra -Wpedantic -Werror, run under ASan/UBSan and under valgrind by
 * `make test-c`. Usage: test_version <tests/fixtures directory>
 */
#define _POSIX_C_SOURCE 200809L
#include "inferkit.h"
#include "inferkit.h" /* included twice on purpose: the include guard must hold */

#include "common.h"

/* `got >= want` through a function: written inline with the minor 0, `minor >= 0` is
 * -Wtype-limits' "comparison always true" (an error under -Werror). */
static int at_least(uint32_t got, uint32_t want) { return got >= want; }

static void versions_match_the_header(void) {
  char version[32];
  uint32_t major = 99, minor = 99;
  snprintf(version, sizeof version, "%d.%d.%d", INFERKIT_VERSION_MAJOR, INFERKIT_VERSION_MINOR, INFERKIT_VERSION_PATCH);
  CHECK(strcmp(inferkit_version(), version) == 0, "library %s, header %s", inferkit_version(), version);
  CHECK(strcmp(inferkit_version(), INFERKIT_VERSION_STRING) == 0, "version string");
  CHECK(INFERKIT_VERSION_NUMBER == INFERKIT_VERSION_MAJOR * 10000 + INFERKIT_VERSION_MINOR * 100 + INFERKIT_VERSION_PATCH,
        "INFERKIT_VERSION_NUMBER %d", INFERKIT_VERSION_NUMBER);
  CHECK(inferkit_version_number() == INFERKIT_VERSION_NUMBER, "library number %u, header %d", inferkit_version_number(),
        INFERKIT_VERSION_NUMBER);

  /* the start-up check the header asks of hosts */
  inferkit_abi_version(&major, &minor);
  CHECK(major == INFERKIT_ABI_VERSION_MAJOR, "ABI major %u, header %d", major, INFERKIT_ABI_VERSION_MAJOR);
  CHECK(at_least(minor, INFERKIT_ABI_VERSION_MINOR), "ABI minor %u, header %d", minor, INFERKIT_ABI_VERSION_MINOR);
  CHECK(INFERKIT_ABI_VERSION_MAJOR >= 1, "ABI major %d", INFERKIT_ABI_VERSION_MAJOR);
  /* either out-parameter may be NULL */
  major = 99;
  inferkit_abi_version(&major, NULL);
  CHECK(major == INFERKIT_ABI_VERSION_MAJOR, "major alone");
  minor = 99;
  inferkit_abi_version(NULL, &minor);
  CHECK(minor == (uint32_t)INFERKIT_ABI_VERSION_MINOR, "minor alone");
  inferkit_abi_version(NULL, NULL);
  /* inferkit_abi_compatible does that check for the host */
  CHECK(inferkit_abi_compatible(INFERKIT_ABI_VERSION_MAJOR, INFERKIT_ABI_VERSION_MINOR), "this header is served");
  CHECK(inferkit_abi_compatible(INFERKIT_ABI_VERSION_MAJOR, 0), "an older minor is served");
  CHECK(!inferkit_abi_compatible(INFERKIT_ABI_VERSION_MAJOR, minor + 1), "a newer minor is not");
  CHECK(!inferkit_abi_compatible(INFERKIT_ABI_VERSION_MAJOR + 1, 0), "another major is not");
}

static void runtime_loads_once(void) {
  inferkit_error *err = NULL;
  CHECK(inferkit_runtime_ort_version() == NULL, "no runtime before init");
  CHECK(inferkit_runtime_ort_path() == NULL, "no library path before init");
  if (inferkit_runtime_init(NULL, &err) != INFERKIT_STATUS_OK) {
    fprintf(stderr, "runtime: %s\n", inferkit_error_message(err));
    inferkit_error_free(err);
    test_finish("test_version");
  }
  CHECK(err == NULL, "no error object on success");
  CHECK(inferkit_runtime_ort_version() && strcmp(inferkit_runtime_ort_version(), "1.31.1") == 0, "ORT version %s",
        inferkit_runtime_ort_version() ? inferkit_runtime_ort_version() : "(null)");
  /* The library discovery found: an absolute path to a file named like ONNX Runtime. */
  const char *path = inferkit_runtime_ort_path();
  CHECK(path && path[0] == '/' && strstr(path, "libonnxruntime.so.1"), "ORT path %s", path ? path : "(null)");
  CHECK(inferkit_runtime_init(path, NULL) == INFERKIT_STATUS_OK, "init with the path in use is a no-op");
  CHECK(inferkit_runtime_init(NULL, NULL) == INFERKIT_STATUS_OK, "second init is a no-op");
  EXPECT_STATUS(INFERKIT_STATUS_RUNTIME_ALREADY_INITIALIZED, "already", inferkit_runtime_init(fixture("mlp.onnx"), error_out));
}

/* Every status number has the name the header gives it, without its prefix. */
static void status_names_are_the_headers(void) {
#define NAMED(s) {INFERKIT_STATUS_##s, #s}
  static const struct {
    inferkit_status status;
    const char *name;
  } all[] = {
      NAMED(OK), NAMED(PANIC), NAMED(NULL_ARGUMENT), NAMED(INVALID_ARGUMENT), NAMED(RUNTIME_UNAVAILABLE),
      NAMED(RUNTIME_ALREADY_INITIALIZED), NAMED(UNSUPPORTED), NAMED(MODEL_NOT_FOUND), NAMED(MODEL_UNREADABLE),
      NAMED(INVALID_MODEL), NAMED(UNKNOWN_INPUT), NAMED(MISSING_INPUT), NAMED(DUPLICATE_INPUT), NAMED(DTYPE_MISMATCH),
      NAMED(RANK_MISMATCH), NAMED(DIM_MISMATCH), NAMED(BYTE_LENGTH_MISMATCH), NAMED(SHAPE_OVERFLOW),
      NAMED(UNKNOWN_OUTPUT), NAMED(INVALID_TENSOR_DATA), NAMED(TYPE_MISMATCH), NAMED(INFERENCE), NAMED(QUEUE_FULL),
      NAMED(DEADLINE_EXCEEDED), NAMED(CANCELLED), NAMED(WOULD_DEADLOCK), NAMED(CONFIG), NAMED(UNKNOWN_MODEL),
      NAMED(UNKNOWN_VERSION), NAMED(UNKNOWN_LABEL), NAMED(VERSION_NOT_READY), NAMED(LABEL_IN_USE),
      NAMED(CHECKSUM_MISMATCH), NAMED(MODEL_TOO_LARGE), NAMED(INVALID_MODEL_NAME), NAMED(REPOSITORY_UNREADABLE),
      NAMED(NO_VERSION_AVAILABLE), NAMED(PIPELINE_CONFIG), NAMED(PIPELINE_STEP),
  };
#undef NAMED
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    CHECK(strcmp(inferkit_status_name(all[i].status), all[i].name) == 0, "status %u is named %s, want %s",
          (unsigned)all[i].status, inferkit_status_name(all[i].status), all[i].name);
  /* the ones the README quotes */
  CHECK(strcmp(inferkit_status_name(INFERKIT_STATUS_DTYPE_MISMATCH), "DTYPE_MISMATCH") == 0, "status name as the header and README spell it");
  CHECK(strcmp(inferkit_status_name(INFERKIT_STATUS_QUEUE_FULL), "QUEUE_FULL") == 0, "status name QUEUE_FULL");
  /* numbers that are no status: a host prints them, it does not crash */
  CHECK(strcmp(inferkit_status_name(12345), "UNKNOWN") == 0, "unknown status name");
  CHECK(strcmp(inferkit_status_name(42), "UNKNOWN") == 0, "a gap in the numbers is unknown");
  CHECK(strcmp(inferkit_status_name(UINT32_MAX), "UNKNOWN") == 0, "UINT32_MAX is unknown");
}

static void error_objects(void) {
  inferkit_model *never = NULL;
  inferkit_error *err = NULL;
  /* a failed call hands out an error the caller owns, with the status and a message */
  inferkit_status st = inferkit_model_open(fixture("missing.onnx"), NULL, &never, &err);
  CHECK(st == INFERKIT_STATUS_MODEL_NOT_FOUND, "status %s", inferkit_status_name(st));
  CHECK(err != NULL && inferkit_error_code(err) == st, "error code");
  CHECK(err != NULL && strstr(inferkit_error_message(err), "missing.onnx") != NULL, "message names the file: %s",
        inferkit_error_message(err));
  CHECK(never == NULL, "no model written on failure");
  inferkit_error_free(err);
  /* a NULL error_out is allowed: only the status comes back */
  CHECK(inferkit_model_open(NULL, NULL, &never, NULL) == INFERKIT_STATUS_NULL_ARGUMENT, "status without error object");
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "path", inferkit_model_open(NULL, NULL, &never, error_out));
  CHECK(never == NULL, "no model written on failure");
  /* NULL errors */
  CHECK(inferkit_error_code(NULL) == INFERKIT_STATUS_NULL_ARGUMENT, "error_code(NULL)");
  CHECK(strcmp(inferkit_error_message(NULL), "") == 0, "error_message(NULL)");
  inferkit_error_free(NULL);
  inferkit_string_free(NULL);
}

/* Every release accepts NULL; every query that takes a handle answers NULL with its documented
 * fallback or NULL_ARGUMENT. */
static void null_handles(void) {
  size_t idx = 0;
  inferkit_model_close(NULL);
  inferkit_model_options_free(NULL);
  inferkit_request_free(NULL);
  inferkit_request_clear(NULL);
  inferkit_outputs_free(NULL);
  inferkit_pending_free(NULL);
  inferkit_value_free(NULL);
  inferkit_registry_close(NULL);
  inferkit_error_free(NULL);
  inferkit_string_free(NULL);

  CHECK(inferkit_model_clone(NULL) == NULL, "clone(NULL)");
  CHECK(strcmp(inferkit_model_name(NULL), "") == 0, "name(NULL)");
  CHECK(inferkit_model_tensor_count(NULL, INFERKIT_IO_INPUT) == 0, "count(NULL)");
  CHECK(inferkit_outputs_count(NULL) == 0, "outputs_count(NULL)");
  CHECK(inferkit_outputs_value(NULL, 0) == NULL, "outputs_value(NULL)");
  CHECK(inferkit_outputs_class_rows(NULL) == 0, "class_rows(NULL)");
  CHECK(inferkit_outputs_class_count(NULL, 0) == 0, "class_count(NULL)");
  CHECK(!inferkit_pending_cancel(NULL) && !inferkit_pending_is_done(NULL), "NULL pending");
  CHECK(inferkit_value_get_kind(NULL) == 0 && inferkit_value_count(NULL) == 0, "NULL value");
  CHECK(inferkit_value_item(NULL, 0) == NULL && inferkit_value_tensor(NULL) == NULL, "NULL value");
  CHECK(inferkit_value_map_tensor(NULL, false) == NULL, "NULL map");

  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model", inferkit_model_tensor_info(NULL, INFERKIT_IO_INPUT, 0, NULL, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model", inferkit_model_tensor_dim(NULL, INFERKIT_IO_INPUT, 0, 0, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model", inferkit_model_value_type(NULL, INFERKIT_IO_INPUT, 0, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model", inferkit_model_stats(NULL, NULL, NULL, NULL, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model", inferkit_model_metrics_json(NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "model", inferkit_model_metrics_prometheus(NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "outputs", inferkit_outputs_get(NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "outputs", inferkit_outputs_find(NULL, "y", &idx, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "outputs", inferkit_outputs_class(NULL, 0, 0, NULL, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "tensor", inferkit_tensor_read(NULL, NULL, NULL, NULL, NULL, NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_run(NULL, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "registry", inferkit_registry_status_json(NULL, NULL, error_out));
}

int main(int argc, char **argv) {
  test_start(argc, argv, 0);
  versions_match_the_header();
  status_names_are_the_headers();
  runtime_loads_once();
  error_objects();
  null_handles();
  test_finish("test_version");
  return 0;
}
