/*
 * C ABI: submitting requests. Callbacks get every result once, with the contract of
 * inferkit_callback; inferkit_pending cancels a queued request (and stops a running one) and says
 * when it is done; submitted inputs are copies; a callback may submit, may close its model, may not
 * block on its own model (WOULD_DEADLOCK); a full queue refuses at once (QUEUE_FULL); threads share
 * models and requests, run and submit at once, and every result equals the reference.
 *
 * Also the containment items that were in test_containment.c: a callback releasing the last handle
 * of its model, on the direct path and when queued (ASan reported a heap-use-after-free in both),
 * and a submission without a pending handle (it leaked the request and its input copy).
 *
 * Built with -Wall -Wextra -Wpedantic -Werror, run under ASan/UBSan and under valgrind by
 * `make test-c`. Usage: test_submit <tests/fixtures directory>
 */
#define _POSIX_C_SOURCE 200809L
#include "inferkit.h"
#include "inferkit.h" /* included twice on purpose: the include guard must hold */

#include "common.h"

static pack mlp_in, mlp_want;

/* Whether output 0 of `out` equals the first `rows` rows of the mlp reference, exactly (the same
 * model on the same CPU). */
static int is_mlp_reference(const inferkit_outputs *out, size_t rows) {
  size_t len = 0;
  const void *data = output_data(out, 0, &len);
  return data && len == rows * 4 * sizeof(float) && memcmp(data, mlp_want.tensors[0].data, len) == 0;
}

/* A request to `model` with the first `rows` rows of the mlp reference input, copied. */
static inferkit_request *mlp_request(const inferkit_model *model, size_t rows) {
  inferkit_request *req = new_request(model);
  int64_t shape[2] = {(int64_t)rows, 16};
  if (req)
    CHECK(inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_F32, shape, 2, mlp_in.tensors[0].data, rows * 16 * sizeof(float), NULL) ==
              INFERKIT_STATUS_OK,
          "add x");
  return req;
}

/* ---- threads share a model of 2 sessions ---- */

typedef struct {
  inferkit_model *model;
  inferkit_request *shared; /* one request run by every thread at once */
  int runs;
  int failures;
} hammer_state;

/* Each thread runs its own request (borrowing the pack) `runs` times. */
static void *hammer_own(void *arg) {
  hammer_state *h = arg;
  inferkit_request *req = NULL;
  const pack_tensor *x = &mlp_in.tensors[0];
  inferkit_request_new(h->model, &req, NULL);
  inferkit_request_add_tensor(req, "x", x->dtype, x->shape, x->rank, x->data, x->len, NULL);
  for (int i = 0; i < h->runs; i++) {
    inferkit_outputs *out = NULL;
    if (inferkit_request_run(req, &out, NULL) != INFERKIT_STATUS_OK || !is_mlp_reference(out, 3))
      __atomic_add_fetch(&h->failures, 1, __ATOMIC_RELAXED);
    inferkit_outputs_free(out);
  }
  inferkit_request_free(req);
  return NULL;
}

/* Each thread runs the one shared request (documented: several threads may run one request). */
static void *hammer_shared(void *arg) {
  hammer_state *h = arg;
  for (int i = 0; i < h->runs; i++) {
    inferkit_outputs *out = NULL;
    if (inferkit_request_run(h->shared, &out, NULL) != INFERKIT_STATUS_OK || !is_mlp_reference(out, 3))
      __atomic_add_fetch(&h->failures, 1, __ATOMIC_RELAXED);
    inferkit_outputs_free(out);
  }
  return NULL;
}

/* A callback that checks its result against the reference. */
static void check_reference(void *userdata, inferkit_status status, inferkit_outputs *outputs, inferkit_error *error) {
  recorder *r = userdata;
  if (status != INFERKIT_STATUS_OK || !is_mlp_reference(outputs, 3)) {
    pthread_mutex_lock(&r->mu);
    r->contract_broken++;
    pthread_mutex_unlock(&r->mu);
  }
  record(userdata, status, outputs, error);
}

typedef struct {
  hammer_state *h;
  recorder *rec;
} submitter_args;

/* Each thread submits the shared request `runs` times; results go to the recorder. */
static void *hammer_submit(void *arg) {
  submitter_args *a = arg;
  for (int i = 0; i < a->h->runs; i++) {
    if (inferkit_request_submit(a->h->shared, check_reference, a->rec, NULL, NULL) != INFERKIT_STATUS_OK)
      __atomic_add_fetch(&a->h->failures, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

static void threads_share_a_model(void) {
  inferkit_model_options *opts = new_options();
  size_t sizes[2] = {4, 8}, instances = 0, idle = 0, queued = 0;
  uint64_t executions = 0, requests_run = 0;
  hammer_state h;
  pthread_t threads[8];
  recorder rec;
  submitter_args args = {&h, &rec};
  memset(&h, 0, sizeof h);
  recorder_init(&rec);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_instances(opts, 2, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_batching(opts, 16, 0, 256, 0, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_options_set_preferred_batch_sizes(opts, sizes, 2, error_out));
  h.model = open_fixture("mlp.onnx", opts);
  if (!h.model) goto done;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_model_stats(h.model, &instances, &idle, &queued, &executions, &requests_run, error_out));
  CHECK(instances == 2 && idle == 2 && queued == 0 && executions == 0, "fresh stats %zu %zu %zu %llu", instances, idle, queued, (unsigned long long)executions);

  /* 8 threads, each with its own request, share the model's 2 sessions: every result equals the
   * reference */
  h.runs = 200;
  for (int t = 0; t < 8; t++) pthread_create(&threads[t], NULL, hammer_own, &h);
  for (int t = 0; t < 8; t++) pthread_join(threads[t], NULL);
  CHECK(h.failures == 0, "%d threaded inferences differ from the reference", h.failures);
  inferkit_model_stats(h.model, NULL, &idle, &queued, &executions, &requests_run, NULL);
  CHECK(requests_run == 1600 && executions <= requests_run && idle == 2 && queued == 0,
        "after the hammer: %llu runs for %llu requests", (unsigned long long)executions, (unsigned long long)requests_run);

  /* 4 threads run one request at once */
  h.shared = new_request(h.model);
  add_pack(h.shared, &mlp_in, 0);
  h.runs = 50;
  for (int t = 0; t < 4; t++) pthread_create(&threads[t], NULL, hammer_shared, &h);
  for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
  CHECK(h.failures == 0, "%d runs of the shared request differ from the reference", h.failures);

  /* 4 threads submit it at once; every callback comes, once, with the reference */
  for (int t = 0; t < 4; t++) pthread_create(&threads[t], NULL, hammer_submit, &args);
  for (int t = 0; t < 4; t++) pthread_join(threads[t], NULL);
  CHECK(h.failures == 0, "%d submissions refused", h.failures);
  CHECK(recorder_wait(&rec, 200, 60), "callbacks: %d of 200", recorder_calls(&rec));
  CHECK(rec.calls == 200 && rec.ok == 200 && rec.contract_broken == 0, "callbacks %d, ok %d, wrong %d", rec.calls, rec.ok, rec.contract_broken);
  /* A callback runs before its thread gives the session back: wait for both to be idle. */
  {
    uint64_t t0 = monotonic_ns();
    do {
      inferkit_model_stats(h.model, NULL, &idle, &queued, NULL, &requests_run, NULL);
      if (idle < 2) sleep_ms(1);
    } while (idle < 2 && monotonic_ns() - t0 < UINT64_C(10000000000));
  }
  CHECK(requests_run == 1600 + 200 + 200 && idle == 2 && queued == 0, "%llu requests run, %zu idle, %zu queued", (unsigned long long)requests_run, idle, queued);
done:
  inferkit_request_free(h.shared);
  inferkit_model_close(h.model);
  inferkit_model_options_free(opts);
  recorder_destroy(&rec);
}

/* ---- callbacks on the direct path ---- */

static void callbacks(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = NULL;
  inferkit_pending *pending = NULL;
  recorder st;
  float scratch[16];
  int64_t one_row[2] = {1, 16};
  recorder_init(&st);
  if (!model) goto done;
  req = new_request(model);
  /* borrowed: submission copies the data, so the caller's buffer may change at once */
  memcpy(scratch, mlp_in.tensors[0].data, sizeof scratch);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, one_row, 2, scratch, sizeof scratch, NULL);
  for (int i = 0; i < 20; i++) {
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &st, &pending, error_out));
    CHECK(pending != NULL, "pending handle");
    scratch[0] += 1.0f;
    inferkit_pending_free(pending);
    pending = NULL;
  }
  /* with idle sessions each request ran on this thread before the call returned */
  CHECK(st.calls == 20 && st.ok == 20 && st.last_count == 1 && st.contract_broken == 0, "callbacks: %d calls, %d ok", st.calls, st.ok);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &st, &pending, error_out));
  CHECK(inferkit_pending_is_done(pending), "done");
  CHECK(!inferkit_pending_cancel(pending), "a finished request cannot be cancelled");
  CHECK(inferkit_pending_is_done(pending), "still done");
  inferkit_pending_free(pending);
  pending = NULL;
  /* submission errors come back here, and the callback is not called */
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "callback", inferkit_request_submit(req, NULL, &st, NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_submit(NULL, record, &st, &pending, error_out));
  CHECK(pending == NULL, "no pending handle written on failure");
  inferkit_request_clear(req);
  EXPECT_STATUS(INFERKIT_STATUS_MISSING_INPUT, "`x`", inferkit_request_submit(req, record, &st, &pending, error_out));
  CHECK(pending == NULL, "no pending handle written on failure");
  CHECK(st.calls == 21, "no callback for refused requests (%d)", st.calls);
  /* an unknown output name does not fit the signature: refused at submission too */
  {
    const char *nope[1] = {"nope"};
    add_pack(req, &mlp_in, 1);
    inferkit_request_set_outputs(req, nope, 1, NULL);
    EXPECT_STATUS(INFERKIT_STATUS_UNKNOWN_OUTPUT, "nope", inferkit_request_submit(req, record, &st, &pending, error_out));
    CHECK(pending == NULL && st.calls == 21, "no pending handle and no callback for a refused request");
  }
  CHECK(st.contract_broken == 0, "every callback kept the contract");
  CHECK(!inferkit_pending_cancel(NULL) && !inferkit_pending_is_done(NULL), "NULL pending");
  inferkit_pending_free(NULL);
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
  recorder_destroy(&st);
}

/* A submitted request holds its model: the handle may be closed before the callback. */
static void model_closed_before_submission(void) {
  inferkit_model *model = open_fixture("mlp.onnx", NULL);
  inferkit_request *req = mlp_request(model, 3);
  recorder st;
  recorder_init(&st);
  st.keep = 1;
  inferkit_model_close(model);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &st, NULL, error_out));
  CHECK(recorder_wait(&st, 1, 30) && st.ok == 1 && is_mlp_reference(st.kept, 3), "the reference, after the model handle was closed");
  inferkit_request_free(req);
  recorder_destroy(&st);
}

/* ---- inside a callback: queued requests, QUEUE_FULL, WOULD_DEADLOCK, cancelling ---- */

typedef struct {
  inferkit_model *model;       /* 1 session, a queue of 2 */
  inferkit_model *other;       /* another model */
  recorder queued_a, queued_b, refused;
  inferkit_pending *a, *b;
  inferkit_status a_status, b_status, c_status, own_status, other_status;
  char own_message[512];
  int a_done_inside, b_cancelled, b_called_by_cancel, b_cancel_again, b_done;
  int finished;
} inside_state;

/* Runs inside inferkit_request_submit of the outer request, on the thread that holds the model's
 * only session. */
static void inside_callback(void *userdata, inferkit_status status, inferkit_outputs *outputs, inferkit_error *error) {
  inside_state *s = userdata;
  float buf[16];
  int64_t one_row[2] = {1, 16};
  inferkit_request *inner = NULL;
  inferkit_outputs *out = NULL;
  inferkit_error *err = NULL;
  (void)status;
  inferkit_outputs_free(outputs);
  inferkit_error_free(error);

  /* A: borrowed data, scribbled over and the request freed at once: the submission copied it */
  memcpy(buf, mlp_in.tensors[0].data, sizeof buf);
  inferkit_request_new(s->model, &inner, NULL);
  inferkit_request_add_tensor(inner, "x", INFERKIT_DTYPE_F32, one_row, 2, buf, sizeof buf, NULL);
  s->a_status = inferkit_request_submit(inner, record, &s->queued_a, &s->a, NULL);
  memset(buf, 0xff, sizeof buf);
  inferkit_request_free(inner);
  s->a_done_inside = inferkit_pending_is_done(s->a);

  /* B fills the queue; C is refused at once, and its callback is never called */
  inner = mlp_request(s->model, 1);
  s->b_status = inferkit_request_submit(inner, record, &s->queued_b, &s->b, NULL);
  s->c_status = inferkit_request_submit(inner, record, &s->refused, NULL, NULL);

  /* a blocking call on the same model would wait for ever for this thread's session */
  s->own_status = inferkit_request_run(inner, &out, &err);
  snprintf(s->own_message, sizeof s->own_message, "%s", inferkit_error_message(err));
  inferkit_outputs_free(out);
  inferkit_error_free(err);
  inferkit_request_free(inner);
  /* a blocking call on another model works */
  inner = mlp_request(s->other, 1);
  out = NULL;
  s->other_status = inferkit_request_run(inner, &out, NULL);
  inferkit_outputs_free(out);
  inferkit_request_free(inner);

  /* cancelling B, queued: withdrawn, and its callback called before inferkit_pending_cancel returns */
  s->b_cancelled = inferkit_pending_cancel(s->b);
  s->b_called_by_cancel = recorder_calls(&s->queued_b);
  s->b_cancel_again = inferkit_pending_cancel(s->b);
  s->b_done = inferkit_pending_is_done(s->b);
}

static void *inside_thread(void *arg) {
  inside_state *s = arg;
  inferkit_request *outer = mlp_request(s->model, 1);
  s->finished = -1;
  if (inferkit_request_submit(outer, inside_callback, s, NULL, NULL) == INFERKIT_STATUS_OK) s->finished = 1;
  inferkit_request_free(outer);
  return NULL;
}

static void inside_a_callback(void) {
  inferkit_model_options *opts = pool_options(1, 2);
  inside_state s;
  pthread_t thread;
  uint64_t requests_run = 0;
  memset(&s, 0, sizeof s);
  recorder_init(&s.queued_a);
  recorder_init(&s.queued_b);
  recorder_init(&s.refused);
  s.queued_a.keep = 1;
  s.model = open_fixture("mlp.onnx", opts);
  s.other = open_fixture("mlp_v2.onnx", NULL);
  if (!s.model || !s.other) goto done;
  /* on another thread: a deadlock fails this test after 60 s instead of hanging it */
  pthread_create(&thread, NULL, inside_thread, &s);
  if (!recorder_wait(&s.queued_a, 1, 60)) {
    CHECK(0, "the queued request never completed: a deadlock?");
    test_finish("test_submit");
  }
  pthread_join(thread, NULL);
  CHECK(s.finished == 1, "outer submission");
  CHECK(s.a_status == INFERKIT_STATUS_OK && !s.a_done_inside, "A queued: %s", inferkit_status_name(s.a_status));
  CHECK(s.b_status == INFERKIT_STATUS_OK, "B queued: %s", inferkit_status_name(s.b_status));
  CHECK(s.c_status == INFERKIT_STATUS_QUEUE_FULL, "C: %s", inferkit_status_name(s.c_status));
  CHECK(s.own_status == INFERKIT_STATUS_WOULD_DEADLOCK && strstr(s.own_message, "callback"), "own model: %s %s",
        inferkit_status_name(s.own_status), s.own_message);
  CHECK(s.other_status == INFERKIT_STATUS_OK, "another model: %s", inferkit_status_name(s.other_status));
  CHECK(s.b_cancelled && s.b_called_by_cancel == 1 && !s.b_cancel_again && s.b_done, "B cancelled %d, called %d, again %d, done %d",
        s.b_cancelled, s.b_called_by_cancel, s.b_cancel_again, s.b_done);
  CHECK(s.queued_b.last_status == INFERKIT_STATUS_CANCELLED && s.queued_b.calls == 1, "B's callback: %s",
        inferkit_status_name(s.queued_b.last_status));
  /* A ran on the outer thread before its submission returned, on the data as submitted */
  CHECK(s.queued_a.calls == 1 && s.queued_a.ok == 1 && is_mlp_reference(s.queued_a.kept, 1), "A's result is the reference for its data");
  CHECK(inferkit_pending_is_done(s.a), "A done");
  CHECK(!inferkit_pending_cancel(s.a), "A cannot be cancelled once done");
  CHECK(s.refused.calls == 0, "no callback for the refused request");
  CHECK(s.queued_a.contract_broken + s.queued_b.contract_broken == 0, "callback contract");
  inferkit_model_stats(s.model, NULL, NULL, NULL, NULL, &requests_run, NULL);
  CHECK(requests_run == 2, "the outer request and A ran, B did not: %llu", (unsigned long long)requests_run);
  /* outside callbacks the model serves blocking calls as before */
  {
    inferkit_request *req = mlp_request(s.model, 3);
    inferkit_outputs *out = run_ok(req, "after the callback");
    CHECK(is_mlp_reference(out, 3), "reference after the callback");
    inferkit_outputs_free(out);
    inferkit_request_free(req);
  }
done:
  inferkit_pending_free(s.a);
  inferkit_pending_free(s.b);
  inferkit_model_close(s.model);
  inferkit_model_close(s.other);
  inferkit_model_options_free(opts);
  recorder_destroy(&s.queued_a);
  recorder_destroy(&s.queued_b);
  recorder_destroy(&s.refused);
}

/* ---- a callback closes the last handle of its model (containment item 1) ---- */

typedef struct {
  inferkit_model *to_close;
  volatile int called;
  inferkit_status status;
} close_in_callback;

static void callback_closes_model(void *userdata, inferkit_status status, inferkit_outputs *outputs, inferkit_error *error) {
  close_in_callback *f = userdata;
  f->status = status;
  inferkit_outputs_free(outputs);
  inferkit_error_free(error);
  inferkit_model_close(f->to_close); /* the last handle: the host is done with this model */
  __atomic_store_n(&f->called, 1, __ATOMIC_SEQ_CST);
}

static void close_on_the_direct_path(void) {
  inferkit_model_options *opts = pool_options(1, 0);
  inferkit_model *model = open_fixture("mlp.onnx", opts);
  inferkit_request *req = mlp_request(model, 1);
  close_in_callback f = {model, 0, INFERKIT_STATUS_PANIC};
  /* A session is idle: the request runs, and its callback closes the model, inside this call. */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, callback_closes_model, &f, NULL, error_out));
  CHECK(f.called == 1, "the callback ran inside the call");
  CHECK(f.status == INFERKIT_STATUS_OK, "status %u", (unsigned)f.status);
  inferkit_request_free(req); /* the request's hold on the model goes last */
  inferkit_model_options_free(opts);
}

typedef struct {
  inferkit_model *model;
  close_in_callback *inner;
  inferkit_status submitted;
  int inner_called_inside;
} resubmit;

/* Runs inside the drain loop of the outer call, with this thread holding the model's only
 * session: the request it submits is queued, and this same thread runs it (and its callback,
 * which closes the model) before the outer call returns. */
static void callback_submits_queued(void *userdata, inferkit_status status, inferkit_outputs *outputs, inferkit_error *error) {
  resubmit *r = userdata;
  inferkit_request *req = mlp_request(r->model, 1);
  (void)status;
  inferkit_outputs_free(outputs);
  inferkit_error_free(error);
  r->submitted = inferkit_request_submit(req, callback_closes_model, r->inner, NULL, NULL);
  inferkit_request_free(req); /* the queued request holds a copy */
  r->inner_called_inside = r->inner->called;
}

static void close_when_queued(void) {
  inferkit_model_options *opts = pool_options(1, 0);
  inferkit_model *model = open_fixture("mlp.onnx", opts);
  inferkit_model *outer_handle = inferkit_model_clone(model);
  inferkit_request *req = mlp_request(outer_handle, 1);
  close_in_callback inner = {model, 0, INFERKIT_STATUS_PANIC};
  resubmit outer = {model, &inner, INFERKIT_STATUS_PANIC, -1};
  inferkit_model_close(outer_handle); /* the outer request holds the model; `model` is its last handle */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, callback_submits_queued, &outer, NULL, error_out));
  CHECK(outer.submitted == INFERKIT_STATUS_OK, "resubmission %u", (unsigned)outer.submitted);
  CHECK(outer.inner_called_inside == 0, "the inner request is queued, not run inside this callback");
  CHECK(inner.called == 1, "the queued request ran before the outer call returned");
  CHECK(inner.status == INFERKIT_STATUS_OK, "queued status %u", (unsigned)inner.status);
  inferkit_request_free(req);
  inferkit_model_options_free(opts);
}

/* ---- pending_out == NULL releases the handle (containment item 4) ---- */

static void no_pending_handle_no_leak(void) {
  inferkit_model_options *opts = pool_options(1, 0);
  inferkit_model *model = open_fixture("mlp.onnx", opts);
  inferkit_request *req = mlp_request(model, 2);
  recorder st;
  recorder_init(&st);
  for (int i = 0; i < 100; i++)
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &st, NULL, error_out));
  CHECK(st.ok == 100 && st.calls == 100, "callbacks %d", st.ok);
  inferkit_request_free(req);
  inferkit_model_close(model);
  inferkit_model_options_free(opts);
  recorder_destroy(&st);
}

/* ---- cancelling a request that runs alone stops its run ---- */

typedef struct {
  inferkit_request *req;
  inferkit_status status;
} blocking_run;

static void *run_blocking(void *arg) {
  blocking_run *b = arg;
  inferkit_outputs *out = NULL;
  b->status = inferkit_request_run(b->req, &out, NULL);
  inferkit_outputs_free(out);
  return NULL;
}

/* After a cancellation: the session serves the next request, a loop of 5 steps run with `req`
 * (its inputs replaced). */
static void loop_five(inferkit_request *req) {
  int64_t five = 5, one[1] = {1};
  float zero = 0.0f;
  inferkit_outputs *out;
  size_t len = 0;
  const float *y;
  inferkit_request_clear(req);
  inferkit_request_add_tensor(req, "n", INFERKIT_DTYPE_I64, NULL, 0, &five, sizeof five, NULL);
  inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, one, 1, &zero, sizeof zero, NULL);
  out = run_ok(req, "loop 5 after the cancellation");
  y = output_data(out, 0, &len);
  CHECK(y && len == 4 && y[0] == 5.0f, "y = 5");
  inferkit_outputs_free(out);
}

/* A queued request holds copies of the data its request borrowed: the caller may overwrite or
 * free the buffers as soon as inferkit_request_submit returns (the Go binding submits its
 * goroutines' slices borrowed). loop.onnx gives y = x + n; thread A's run of n = 10^9 holds the
 * only session until its 300 ms timeout, so the submitted request waits in the queue while its
 * borrowed n and x are overwritten with 10^9 and 100. Run from copies it gives 5 + 0.5. */
static void queued_request_holds_copies_of_borrowed_data(void) {
  inferkit_model_options *opts = pool_options(1, 0);
  inferkit_model *model = open_fixture("loop.onnx", opts);
  inferkit_request *a_req = new_request(model), *req = new_request(model);
  inferkit_pending *pending = NULL;
  int64_t forever = 1000000000, n = 5, one[1] = {1};
  float zero = 0.0f, x = 0.5f;
  blocking_run a = {a_req, INFERKIT_STATUS_PANIC};
  pthread_t thread;
  recorder st;
  size_t idle = 1;
  uint64_t t0;
  recorder_init(&st);
  st.keep = 1;
  if (!a_req || !req) goto done;
  inferkit_request_add_tensor_copy(a_req, "n", INFERKIT_DTYPE_I64, NULL, 0, &forever, sizeof forever, NULL);
  inferkit_request_add_tensor_copy(a_req, "x", INFERKIT_DTYPE_F32, one, 1, &zero, sizeof zero, NULL);
  inferkit_request_set_timeout_us(a_req, 300000, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "n", INFERKIT_DTYPE_I64, NULL, 0, &n, sizeof n, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_add_tensor(req, "x", INFERKIT_DTYPE_F32, one, 1, &x, sizeof x, error_out));
  inferkit_request_set_timeout_us(req, 60000000, NULL); /* a safety net if it ran the overwritten n */

  pthread_create(&thread, NULL, run_blocking, &a);
  t0 = monotonic_ns();
  while (idle > 0 && monotonic_ns() - t0 < UINT64_C(10000000000)) {
    inferkit_model_stats(model, NULL, &idle, NULL, NULL, NULL, NULL);
    sleep_ms(1);
  }
  CHECK(idle == 0, "the session became busy");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &st, &pending, error_out));
  CHECK(!inferkit_pending_is_done(pending), "queued behind A");
  n = forever; /* the borrowed buffers change while the request waits */
  x = 100.0f;
  inferkit_request_free(req);
  req = NULL;
  CHECK(recorder_wait(&st, 1, 30), "the callback came");
  CHECK(st.last_status == INFERKIT_STATUS_OK, "status %s: %s", inferkit_status_name(st.last_status), st.last_message);
  if (st.kept) {
    const void *data = NULL;
    size_t len = 0;
    EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_outputs_get(st.kept, 0, NULL, NULL, NULL, NULL, &data, &len, error_out));
    CHECK(len == sizeof(float) && data && *(const float *)data == 5.5f, "y = %g, 5.5 expected (from the data as submitted)", data ? *(const float *)data : -1.0f);
  }
  pthread_join(thread, NULL);
  CHECK(a.status == INFERKIT_STATUS_DEADLINE_EXCEEDED, "A stopped at its timeout: %s", inferkit_status_name(a.status));
done:
  inferkit_pending_free(pending);
  inferkit_request_free(req);
  inferkit_request_free(a_req);
  recorder_destroy(&st);
  inferkit_model_close(model);
  inferkit_model_options_free(opts);
}

/* loop.onnx adds 1 n times: n = 10^9 runs for many minutes. One session. Thread A's blocking run
 * of such a loop is stopped by its 2 s timeout; meanwhile the request submitted here waits in the
 * queue, and A, draining it, runs it next. Cancelling it then stops that run: its callback gets
 * CANCELLED on A's thread. */
static void cancel_a_running_request(void) {
  inferkit_model_options *opts = pool_options(1, 0);
  inferkit_model *model = open_fixture("loop.onnx", opts);
  inferkit_request *a_req = new_request(model), *req = new_request(model);
  inferkit_pending *pending = NULL;
  int64_t forever = 1000000000, one[1] = {1};
  float zero = 0.0f;
  blocking_run a = {a_req, INFERKIT_STATUS_PANIC};
  pthread_t thread;
  recorder st;
  size_t idle = 1, queued = 1;
  uint64_t t0;
  int cancelled = 0;
  recorder_init(&st);
  if (!a_req || !req) goto done;
  inferkit_request_add_tensor_copy(a_req, "n", INFERKIT_DTYPE_I64, NULL, 0, &forever, sizeof forever, NULL);
  inferkit_request_add_tensor_copy(a_req, "x", INFERKIT_DTYPE_F32, one, 1, &zero, sizeof zero, NULL);
  inferkit_request_set_timeout_us(a_req, 2000000, NULL);
  inferkit_request_add_tensor_copy(req, "n", INFERKIT_DTYPE_I64, NULL, 0, &forever, sizeof forever, NULL);
  inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_F32, one, 1, &zero, sizeof zero, NULL);
  inferkit_request_set_timeout_us(req, 120000000, NULL); /* a safety net: never minutes */

  pthread_create(&thread, NULL, run_blocking, &a);
  t0 = monotonic_ns();
  while (idle > 0 && monotonic_ns() - t0 < UINT64_C(10000000000)) {
    inferkit_model_stats(model, NULL, &idle, NULL, NULL, NULL, NULL);
    sleep_ms(1);
  }
  CHECK(idle == 0, "the session became busy");
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &st, &pending, error_out));
  CHECK(!inferkit_pending_is_done(pending), "queued behind A");
  /* wait until A has taken it from the queue, then cancel it while it runs */
  t0 = monotonic_ns();
  do {
    inferkit_model_stats(model, NULL, NULL, &queued, NULL, NULL, NULL);
    if (queued) sleep_ms(5);
  } while (queued > 0 && monotonic_ns() - t0 < UINT64_C(60000000000));
  CHECK(queued == 0, "never left the queue");
  t0 = monotonic_ns();
  while (!(cancelled = inferkit_pending_cancel(pending)) && !inferkit_pending_is_done(pending) &&
         monotonic_ns() - t0 < UINT64_C(10000000000))
    sleep_ms(5);
  CHECK(cancelled, "cancelled while running");
  CHECK(recorder_wait(&st, 1, 30), "the callback came");
  CHECK(st.last_status == INFERKIT_STATUS_CANCELLED, "callback status %s: %s", inferkit_status_name(st.last_status), st.last_message);
  CHECK(inferkit_pending_is_done(pending) && !inferkit_pending_cancel(pending), "done, and not cancelled twice");
  pthread_join(thread, NULL);
  CHECK(a.status == INFERKIT_STATUS_DEADLINE_EXCEEDED, "A: %s", inferkit_status_name(a.status));
  /* the session serves the next request */
  loop_five(req);
done:
  inferkit_pending_free(pending);
  inferkit_request_free(a_req);
  inferkit_request_free(req);
  inferkit_model_close(model);
  inferkit_model_options_free(opts);
  recorder_destroy(&st);
}

/* A blocking run on the caller's own thread (a session idle, nothing queued) has no pending
 * handle; its cancel token, cancelled from this thread, stops it: the 10^9-step loop returns
 * CANCELLED in far less than its minutes. A token cancelled already runs nothing, and a
 * submission that carries it is accepted and answered CANCELLED in its callback. */
static void cancel_token_stops_a_blocking_run(void) {
  inferkit_model_options *opts = pool_options(1, 0);
  inferkit_model *model = open_fixture("loop.onnx", opts);
  inferkit_request *req = new_request(model);
  inferkit_cancel_token *token = NULL;
  int64_t forever = 1000000000, one[1] = {1};
  float zero = 0.0f;
  blocking_run a = {req, INFERKIT_STATUS_PANIC};
  pthread_t thread;
  recorder st;
  size_t idle = 1, queued = 1;
  uint64_t t0, runs_before = 0, runs_after = 1;
  recorder_init(&st);
  if (!req) goto done;
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "token_out", inferkit_cancel_token_new(NULL, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_cancel_token_new(&token, error_out));
  CHECK(!inferkit_cancel_token_is_cancelled(token) && !inferkit_cancel_token_is_cancelled(NULL), "not cancelled");
  inferkit_cancel_token_cancel(NULL); /* nothing happens */
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_set_cancel_token(NULL, token, error_out));
  inferkit_request_add_tensor_copy(req, "n", INFERKIT_DTYPE_I64, NULL, 0, &forever, sizeof forever, NULL);
  inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_F32, one, 1, &zero, sizeof zero, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_cancel_token(req, token, error_out));
  inferkit_request_set_timeout_us(req, 120000000, NULL); /* a safety net: never minutes */

  pthread_create(&thread, NULL, run_blocking, &a);
  t0 = monotonic_ns();
  while (idle > 0 && monotonic_ns() - t0 < UINT64_C(10000000000)) {
    inferkit_model_stats(model, NULL, &idle, &queued, NULL, NULL, NULL);
    sleep_ms(1);
  }
  CHECK(idle == 0 && queued == 0, "running on the calling thread, not queued");
  t0 = monotonic_ns();
  inferkit_cancel_token_cancel(token);
  CHECK(inferkit_cancel_token_is_cancelled(token), "cancelled");
  pthread_join(thread, NULL);
  CHECK(a.status == INFERKIT_STATUS_CANCELLED, "run: %s", inferkit_status_name(a.status));
  CHECK(monotonic_ns() - t0 < UINT64_C(30000000000), "stopped, not run to its end");
  /* cancelled already: nothing runs */
  inferkit_model_stats(model, NULL, NULL, NULL, &runs_before, NULL, NULL);
  a.status = INFERKIT_STATUS_PANIC;
  run_blocking(&a);
  inferkit_model_stats(model, NULL, NULL, NULL, &runs_after, NULL, NULL);
  CHECK(a.status == INFERKIT_STATUS_CANCELLED && runs_after == runs_before, "run again: %s, %llu runs",
        inferkit_status_name(a.status), (unsigned long long)(runs_after - runs_before));
  /* the request keeps its own reference: the token may be freed first */
  inferkit_cancel_token_free(token);
  token = NULL;
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &st, NULL, error_out));
  CHECK(recorder_wait(&st, 1, 30) && st.last_status == INFERKIT_STATUS_CANCELLED, "submitted: %s",
        inferkit_status_name(st.last_status));
  /* removed: the request runs (5 steps) */
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_cancel_token(req, NULL, error_out));
  loop_five(req);
done:
  inferkit_cancel_token_free(token);
  inferkit_request_free(req);
  inferkit_model_close(model);
  inferkit_model_options_free(opts);
  recorder_destroy(&st);
}

/* A queue-only submission returns as soon as the request is queued, even with the session idle:
 * inferkit's helper threads run it (a 300,000-step loop, a fraction of a second). A plain one
 * runs it on this thread before it returns. */
static void queue_only_submission(void) {
  inferkit_model_options *opts = pool_options(1, 0);
  inferkit_model *model = open_fixture("loop.onnx", opts);
  inferkit_request *req = new_request(model);
  inferkit_pending *pending = NULL;
  int64_t steps = 300000, one[1] = {1};
  float zero = 0.0f;
  recorder st;
  recorder_init(&st);
  if (!req) goto done;
  inferkit_request_add_tensor_copy(req, "n", INFERKIT_DTYPE_I64, NULL, 0, &steps, sizeof steps, NULL);
  inferkit_request_add_tensor_copy(req, "x", INFERKIT_DTYPE_F32, one, 1, &zero, sizeof zero, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_NULL_ARGUMENT, "request", inferkit_request_set_queue_only(NULL, true, error_out));

  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &st, &pending, error_out));
  CHECK(inferkit_pending_is_done(pending), "a plain submission ran before it returned");
  CHECK(recorder_calls(&st) == 1, "its callback came on this thread");
  inferkit_pending_free(pending);
  pending = NULL;

  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_set_queue_only(req, true, error_out));
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &st, &pending, error_out));
  CHECK(!inferkit_pending_is_done(pending), "a queue-only submission returned before the run");
  CHECK(recorder_wait(&st, 2, 60), "a helper ran it");
  CHECK(st.ok == 2 && st.contract_broken == 0, "both succeeded");
  /* a blocking run waits for its result all the same */
  {
    inferkit_outputs *out = run_ok(req, "queue-only run");
    size_t len = 0;
    const float *y = output_data(out, 0, &len);
    CHECK(y && len == 4 && y[0] == 300000.0f, "y = 300000");
    inferkit_outputs_free(out);
  }
done:
  inferkit_pending_free(pending);
  inferkit_request_free(req);
  inferkit_model_close(model);
  inferkit_model_options_free(opts);
  recorder_destroy(&st);
}

/* ---- deadlines of submitted requests ---- */

typedef struct {
  inferkit_model *model;
  recorder *rec;
  inferkit_status submitted;
} late_state;

/* Inside the outer callback (the only session held): a request with a deadline 1 ms away is
 * queued, and the deadline passes before the session is free. */
static void callback_queues_a_late_request(void *userdata, inferkit_status status, inferkit_outputs *outputs, inferkit_error *error) {
  late_state *l = userdata;
  inferkit_request *req = mlp_request(l->model, 1);
  (void)status;
  inferkit_outputs_free(outputs);
  inferkit_error_free(error);
  inferkit_request_set_deadline_ns(req, monotonic_ns() + 1000000, NULL);
  l->submitted = inferkit_request_submit(req, record, l->rec, NULL, NULL);
  inferkit_request_free(req);
  sleep_ms(20);
}

static void submitted_deadlines(void) {
  inferkit_model_options *opts = pool_options(1, 0);
  inferkit_model *model = open_fixture("mlp.onnx", opts);
  inferkit_request *req = mlp_request(model, 1);
  recorder st, late;
  late_state l = {model, &late, INFERKIT_STATUS_PANIC};
  recorder_init(&st);
  recorder_init(&late);
  if (!req) goto done;
  /* a deadline passed before submission is accepted, and fails in the callback (here, on this
   * thread before the submission returns) with DEADLINE_EXCEEDED and its error */
  inferkit_request_set_deadline_ns(req, monotonic_ns() - 1000000, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, record, &st, NULL, error_out));
  CHECK(st.calls == 1 && st.last_status == INFERKIT_STATUS_DEADLINE_EXCEEDED && strstr(st.last_message, "deadline") &&
            st.contract_broken == 0,
        "callback %s: %s", inferkit_status_name(st.last_status), st.last_message);
  /* a deadline that passes in the queue: the callback gets DEADLINE_EXCEEDED and its error */
  inferkit_request_set_deadline_ns(req, 0, NULL);
  EXPECT_STATUS(INFERKIT_STATUS_OK, "", inferkit_request_submit(req, callback_queues_a_late_request, &l, NULL, error_out));
  CHECK(l.submitted == INFERKIT_STATUS_OK, "late request accepted: %s", inferkit_status_name(l.submitted));
  CHECK(recorder_wait(&late, 1, 30), "the late request's callback came");
  CHECK(late.last_status == INFERKIT_STATUS_DEADLINE_EXCEEDED && late.contract_broken == 0, "late: %s (%s)",
        inferkit_status_name(late.last_status), late.last_message);
done:
  inferkit_request_free(req);
  inferkit_model_close(model);
  inferkit_model_options_free(opts);
  recorder_destroy(&st);
  recorder_destroy(&late);
}

int main(int argc, char **argv) {
  test_start(argc, argv, 1);
  CHECK(packs_of("mlp", &mlp_in, &mlp_want), "mlp packs");
  threads_share_a_model();
  callbacks();
  model_closed_before_submission();
  inside_a_callback();
  close_on_the_direct_path();
  close_when_queued();
  no_pending_handle_no_leak();
  cancel_a_running_request();
  queued_request_holds_copies_of_borrowed_data();
  cancel_token_stops_a_blocking_run();
  queue_only_submission();
  submitted_deadlines();
  pack_free(&mlp_in);
  pack_free(&mlp_want);
  test_finish("test_submit");
  return 0;
}
