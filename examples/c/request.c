/*
 * inferkit from C: check the ABI, open a model, run a request blocking, then submit it with a
 * callback and wait for the answer.
 *
 *     make example-c            (builds the library, then this file, and runs it on tests/fixtures/mlp.onnx)
 *     ./target/c/example_request path/to/mlp.onnx
 *
 * mlp.onnx takes x: f32[batch, 16] and returns y: f32[batch, 4].
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "inferkit.h"

/* Prints the error, releases it, and says whether the call failed. */
static int failed(inferkit_status status, inferkit_error *err, const char *what) {
  if (status == INFERKIT_STATUS_OK) return 0;
  fprintf(stderr, "%s: %s: %s\n", what, inferkit_status_name(status), inferkit_error_message(err));
  inferkit_error_free(err);
  return 1;
}

static void print_y(const char *how, const inferkit_outputs *out) {
  const char *name;
  const int64_t *shape;
  size_t rank;
  const void *data;
  inferkit_error *err = NULL;
  if (failed(inferkit_outputs_get(out, 0, &name, NULL, &shape, &rank, &data, NULL, &err), err,
             "inferkit_outputs_get"))
    return;
  const float *y = data;
  printf("%s: %s[%lld, %lld] = [%.4f, %.4f, %.4f, %.4f]\n", how, name, (long long)shape[0],
         (long long)shape[1], y[0], y[1], y[2], y[3]);
}

/* What the callback hands back to main: it runs on whichever thread completes the request. */
struct answer {
  pthread_mutex_t lock;
  pthread_cond_t done_cond;
  int done;
  inferkit_status status;
};

static void on_done(void *userdata, inferkit_status status, inferkit_outputs *out, inferkit_error *err) {
  struct answer *a = userdata;
  if (status == INFERKIT_STATUS_OK) print_y("submit", out);
  else fprintf(stderr, "submit: %s\n", inferkit_error_message(err));
  inferkit_outputs_free(out); /* the callback owns what it is given */
  inferkit_error_free(err);
  pthread_mutex_lock(&a->lock);
  a->status = status;
  a->done = 1;
  pthread_cond_signal(&a->done_cond);
  pthread_mutex_unlock(&a->lock);
}

int main(int argc, char **argv) {
  const char *path = argc > 1 ? argv[1] : "tests/fixtures/mlp.onnx";
  uint32_t major = 0, minor = 0;
  inferkit_abi_version(&major, &minor);
  if (!inferkit_abi_compatible(INFERKIT_ABI_VERSION_MAJOR, INFERKIT_ABI_VERSION_MINOR)) {
    fprintf(stderr, "built for ABI %d.%d, the library has %u.%u\n", INFERKIT_ABI_VERSION_MAJOR,
            INFERKIT_ABI_VERSION_MINOR, major, minor);
    return 1;
  }
  printf("inferkit %s (ABI %u.%u)\n", inferkit_version(), major, minor);

  inferkit_error *err = NULL;
  inferkit_model_options *options = NULL;
  inferkit_model *model = NULL;
  if (failed(inferkit_model_options_new(&options, &err), err, "options")) return 1;
  if (failed(inferkit_model_options_set_instances(options, 1, &err), err, "instances")) return 1;
  inferkit_status status = inferkit_model_open(path, options, &model, &err);
  inferkit_model_options_free(options); /* the model keeps its own copy */
  if (failed(status, err, path)) return 1;
  printf("model %s on ONNX Runtime %s (%s)\n", inferkit_model_name(model), inferkit_runtime_ort_version(),
         inferkit_runtime_ort_path());

  float x[16];
  for (int i = 0; i < 16; i++) x[i] = 0.25f;
  const int64_t shape[2] = {1, 16};
  inferkit_request *req = NULL;
  if (failed(inferkit_request_new(model, &req, &err), err, "request")) return 1;
  inferkit_model_close(model); /* the request holds the model */
  if (failed(inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, shape, 2, x, sizeof x, &err), err,
             "add x") ||
      failed(inferkit_request_set_timeout_us(req, 1000000, &err), err, "timeout"))
    return 1;

  /* Blocking. */
  inferkit_outputs *out = NULL;
  if (failed(inferkit_request_run(req, &out, &err), err, "run")) return 1;
  print_y("run", out);
  inferkit_outputs_free(out);

  /* Submitted: the inputs are copied, the answer comes to the callback. */
  struct answer a = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, INFERKIT_STATUS_OK};
  inferkit_pending *pending = NULL;
  if (failed(inferkit_request_submit(req, on_done, &a, &pending, &err), err, "submit")) return 1;
  pthread_mutex_lock(&a.lock);
  while (!a.done) pthread_cond_wait(&a.done_cond, &a.lock);
  pthread_mutex_unlock(&a.lock);
  printf("pending is done: %s\n", inferkit_pending_is_done(pending) ? "yes" : "no");
  inferkit_pending_free(pending);

  /* A bad request is a typed error, caught before ONNX Runtime sees it. */
  inferkit_request_clear(req);
  const int64_t wrong[2] = {1, 15};
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, wrong, 2, x, 15 * sizeof(float), NULL);
  status = inferkit_request_run(req, &out, &err);
  printf("x: f32[1, 15] -> %s: %s\n", inferkit_status_name(status), inferkit_error_message(err));
  inferkit_error_free(err);
  inferkit_request_free(req);
  return a.status == INFERKIT_STATUS_OK && status == INFERKIT_STATUS_DIM_MISMATCH ? 0 : 1;
}
