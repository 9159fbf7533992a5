/*
 * C ABI containment: what a host's callback or a NULL out-parameter does must not become a crash
 * or a leak inside inferkit (issue "Containment", items 1 and 4).
 *
 * 1. A callback that releases the last handle of its model, on the direct path (it runs inside
 *    inferkit_model_infer_async) and when queued (it runs on the thread draining the queue, inside
 *    that thread's own inferkit call, which then gives its session back to the freed model). ASan
 *    reported a heap-use-after-free in both.
 * 4. inferkit_model_infer_async with request_out == NULL, documented as allowed, leaked the request
 *    and its input copy (LeakSanitizer and valgrind report it at the end of this test).
 * 17. inferkit_model_infer_select with 0 names returned INFERKIT_STATUS_INFERENCE; status names
 *    were lower-case while the README documents the header's spelling.
 *
 * Built with -Wall -Wextra -Wpedantic -Werror, run under ASan/UBSan and under valgrind by
 * `make test-c`. Usage: test_containment <tests/fixtures directory>
 */
#define _POSIX_C_SOURCE 200809L /* _exit */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif

#include "check.h"

static char fixtures[4096];

static inferkit_model *open_model(const char *name, size_t instances) {
  char path[4200];
  inferkit_model *model = NULL;
  inferkit_error *err = NULL;
  inferkit_model_options *opts = inferkit_model_options_new();
  snprintf(path, sizeof path, "%s/%s", fixtures, name);
  CHECK(inferkit_model_options_set_instances(opts, instances, NULL) == INFERKIT_STATUS_OK, "instances");
  if (inferkit_model_open(path, opts, &model, &err) != INFERKIT_STATUS_OK) {
    fprintf(stderr, "open %s: %s\n", path, inferkit_error_message(err));
    inferkit_error_free(err);
    exit(1);
  }
  inferkit_model_options_free(opts);
  return model;
}

/* One input `x` of `rows` x `width` f32 values (owned copies). */
static inferkit_inputs *f32_inputs(size_t rows, size_t width) {
  float data[4096];
  int64_t shape[2] = {(int64_t)rows, (int64_t)width};
  inferkit_inputs *inputs = inferkit_inputs_new();
  for (size_t i = 0; i < rows * width && i < 4096; i++) data[i] = (float)(i % 7) * 0.25f;
  CHECK(inferkit_inputs_add_copy(inputs, "x", INFERKIT_DTYPE_F32, shape, 2, data, rows * width * sizeof(float), NULL) == INFERKIT_STATUS_OK, "inputs");
  return inputs;
}

/* ---- 1. a callback frees the last handle of its model ---- */

typedef struct {
  inferkit_model *to_free;
  volatile int called;
  inferkit_status status;
} free_in_callback;

static void callback_frees_model(void *userdata, inferkit_status status, inferkit_outputs *outputs, inferkit_error *error) {
  free_in_callback *f = userdata;
  f->status = status;
  inferkit_outputs_free(outputs);
  inferkit_error_free(error);
  inferkit_model_free(f->to_free); /* the last handle: the host is done with this model */
  __atomic_store_n(&f->called, 1, __ATOMIC_SEQ_CST);
}

static void check_free_on_direct_path(void) {
  inferkit_model *model = open_model("mlp.onnx", 1);
  inferkit_inputs *inputs = f32_inputs(1, 16);
  free_in_callback f = {model, 0, INFERKIT_STATUS_PANIC};
  /* A session is idle: the request runs, and its callback frees the model, inside this call. */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_async(model, inputs, NULL, callback_frees_model, &f, NULL, error_out));
  CHECK(f.called == 1, "the callback ran inside the call");
  CHECK(f.status == INFERKIT_STATUS_OK, "status %u", (unsigned)f.status);
  inferkit_inputs_free(inputs);
}

typedef struct {
  inferkit_model *model;
  inferkit_inputs *inputs;
  free_in_callback *inner;
  inferkit_status submitted;
} resubmit;

/* Runs inside the drain loop of the outer call, with this thread holding the model's only
 * session: the request it submits is queued, and this same thread runs it (and its callback,
 * which frees the model) before the outer call returns. */
static void callback_submits_queued(void *userdata, inferkit_status status, inferkit_outputs *outputs, inferkit_error *error) {
  resubmit *r = userdata;
  (void)status;
  inferkit_outputs_free(outputs);
  inferkit_error_free(error);
  r->submitted = inferkit_model_infer_async(r->model, r->inputs, NULL, callback_frees_model, r->inner, NULL, NULL);
  CHECK(r->inner->called == 0, "the inner request is queued, not run inside this callback");
}

static void check_free_when_queued(void) {
  inferkit_model *model = open_model("mlp.onnx", 1);
  inferkit_inputs *inputs = f32_inputs(1, 16);
  free_in_callback inner = {model, 0, INFERKIT_STATUS_PANIC};
  resubmit outer = {model, inputs, &inner, INFERKIT_STATUS_PANIC};
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_async(model, inputs, NULL, callback_submits_queued, &outer, NULL, error_out));
  CHECK(outer.submitted == INFERKIT_STATUS_OK, "resubmission %u", (unsigned)outer.submitted);
  CHECK(inner.called == 1, "the queued request ran before the outer call returned");
  CHECK(inner.status == INFERKIT_STATUS_OK, "queued status %u", (unsigned)inner.status);
  inferkit_inputs_free(inputs);
}

/* ---- 4. request_out == NULL releases the request ---- */

static void count_callback(void *userdata, inferkit_status status, inferkit_outputs *outputs, inferkit_error *error) {
  int *n = userdata;
  if (status == INFERKIT_STATUS_OK) (*n)++;
  inferkit_outputs_free(outputs);
  inferkit_error_free(error);
}

static void check_no_request_handle_no_leak(void) {
  inferkit_model *model = open_model("mlp.onnx", 1);
  inferkit_inputs *inputs = f32_inputs(2, 16);
  int done = 0;
  for (int i = 0; i < 100; i++) {
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_async(model, inputs, NULL, count_callback, &done, NULL, error_out));
  }
  CHECK(done == 100, "callbacks %d", done);
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);
}

/* ---- 17. asking for no outputs by name means all of them, as in inferkit_infer_options ---- */

static void check_empty_selection(void) {
  inferkit_model *model = open_model("two_io.onnx", 1);
  inferkit_inputs *inputs = inferkit_inputs_new();
  float features[6] = {1, 2, 3, 4, 5, 6};
  int64_t offsets[2] = {7, 8};
  int64_t fshape[2] = {2, 3}, oshape[1] = {2};
  inferkit_outputs *outputs = NULL;
  CHECK(inferkit_inputs_add(inputs, "features", INFERKIT_DTYPE_F32, fshape, 2, features, sizeof features, NULL) == INFERKIT_STATUS_OK, "features");
  CHECK(inferkit_inputs_add(inputs, "offsets", INFERKIT_DTYPE_I64, oshape, 1, offsets, sizeof offsets, NULL) == INFERKIT_STATUS_OK, "offsets");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_infer_select(model, inputs, NULL, 0, &outputs, error_out));
  CHECK(inferkit_outputs_count(outputs) == 2, "all %zu outputs", inferkit_outputs_count(outputs));
  inferkit_outputs_free(outputs);
  inferkit_inputs_free(inputs);
  inferkit_model_free(model);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <fixtures directory>\n", argv[0]);
    return 2;
  }
  snprintf(fixtures, sizeof fixtures, "%s", argv[1]);
  check_free_on_direct_path();
  check_free_when_queued();
  check_no_request_handle_no_leak();
  check_empty_selection();
  CHECK(strcmp(inferkit_status_name(INFERKIT_STATUS_QUEUE_FULL), "QUEUE_FULL") == 0, "status names as the header spells them");

  printf("%d passed, %d failed\n", checks - failures, failures);
  fflush(stdout);
  /* As in test_model.c: leave without static destructors (ONNX Runtime's exit-time race), after
   * LeakSanitizer's check. */
#if defined(__SANITIZE_ADDRESS__)
  __lsan_do_leak_check();
#endif
  _exit(failures == 0 ? 0 : 1);
}
