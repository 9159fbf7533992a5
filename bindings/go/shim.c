/* C helpers of the Go binding (see shim.h). */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

#include "shim.h"

ikgo_slot *ikgo_slot_new(uintptr_t handle) {
  ikgo_slot *slot = calloc(1, sizeof *slot);
  if (slot) slot->handle = handle;
  return slot;
}

/* Frees the outputs the slot's last request left behind. */
static void release_spent(ikgo_slot *slot) {
  if (slot->spent) {
    inferkit_outputs_free(slot->spent);
    slot->spent = NULL;
  }
}

void ikgo_slot_free(ikgo_slot *slot) {
  if (slot) release_spent(slot);
  free(slot);
}

/* ---- the completion queue ---- */

static pthread_mutex_t queue_mu = PTHREAD_MUTEX_INITIALIZER;
static ikgo_slot *queue_head = NULL, *queue_tail = NULL;
static int queue_pipe[2] = {-1, -1}; /* [0]: the Go dispatcher reads; [1]: written on wake-ups */

int ikgo_queue_fd(void) {
  pthread_mutex_lock(&queue_mu);
  if (queue_pipe[0] < 0) {
    int fds[2];
    if (pipe(fds) == 0) {
      for (int i = 0; i < 2; i++) {
        fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK);
        fcntl(fds[i], F_SETFD, FD_CLOEXEC);
      }
      queue_pipe[0] = fds[0];
      queue_pipe[1] = fds[1];
    }
  }
  pthread_mutex_unlock(&queue_mu);
  return queue_pipe[0];
}

static void queue_push(ikgo_slot *slot) {
  int was_empty;
  pthread_mutex_lock(&queue_mu);
  slot->next = NULL;
  was_empty = queue_head == NULL;
  if (queue_tail)
    queue_tail->next = slot;
  else
    queue_head = slot;
  queue_tail = slot;
  pthread_mutex_unlock(&queue_mu);
  if (was_empty) {
    /* Wakes the Go dispatcher, which waits in Go's poller. Only the dispatcher empties the
     * queue, so there is at most one byte per emptying: the pipe never fills. */
    char one = 1;
    ssize_t w = write(queue_pipe[1], &one, 1);
    (void)w;
  }
}

size_t ikgo_wait(ikgo_slot **out, size_t max) {
  size_t n = 0;
  pthread_mutex_lock(&queue_mu);
  while (queue_head != NULL && n < max) {
    out[n++] = queue_head;
    queue_head = queue_head->next;
  }
  if (queue_head == NULL) queue_tail = NULL;
  pthread_mutex_unlock(&queue_mu);
  return n;
}

/* ---- submission ---- */

/* The slot whose submission runs on this thread now (kept only during ikgo_submit). */
static __thread ikgo_slot *submitting = NULL;

/* Leaves a request's result in its slot, with the outputs' first reading. */
static void store_result(ikgo_slot *slot, inferkit_status status, inferkit_outputs *outputs,
                         inferkit_error *error) {
  slot->status = status;
  slot->outputs = outputs;
  slot->result_error = error;
  memset(&slot->head, 0, sizeof slot->head);
  if (status == INFERKIT_STATUS_OK) ikgo_outputs_head_read(outputs, &slot->head);
}

/* The inferkit_callback. userdata is the slot (C memory). */
static void ikgo_trampoline(void *userdata, inferkit_status status, inferkit_outputs *outputs,
                            inferkit_error *error) {
  ikgo_slot *slot = userdata;
  store_result(slot, status, outputs, error);
  if (slot == submitting) {
    /* This thread's own request, before submit returns: it returns at once unless requests are
     * queued (it would run them first), so leave the result for it. */
    size_t queued = 1;
    if (inferkit_model_stats(slot->model, NULL, NULL, &queued, NULL, NULL, NULL) ==
            INFERKIT_STATUS_OK &&
        queued == 0) {
      slot->inline_done = 1;
      return;
    }
  }
  queue_push(slot);
}

inferkit_status ikgo_submit(const inferkit_request *request, ikgo_slot *slot) {
  ikgo_slot *saved = submitting;
  inferkit_status st;
  release_spent(slot);
  slot->inline_done = 0;
  slot->error = NULL;
  submitting = slot;
  st = inferkit_request_submit(request, ikgo_trampoline, slot, NULL, &slot->error);
  submitting = saved;
  return st;
}

/* ---- requests kept for reuse ---- */

ikgo_request_cache *ikgo_request_cache_new(void) { return calloc(1, sizeof(ikgo_request_cache)); }

void ikgo_request_cache_free(ikgo_request_cache *cache) {
  if (cache) {
    inferkit_request_free(cache->request);
    free(cache);
  }
}

/* A request to `model` with the slot's one input (borrowed: the caller lets go of the request
 * before it returns), queue-only flag, deadline and cancel token; failures go to slot->error.
 * The model's kept request when there is one (it holds no input and no option), else a new
 * one. */
static inferkit_status request1(const inferkit_model *model, ikgo_request_cache *cache,
                                const char *name, const void *data, ikgo_slot *slot,
                                inferkit_request **request_out) {
  const int64_t *shape = slot->rank ? slot->shape : NULL;
  inferkit_request *request = __atomic_exchange_n(&cache->request, NULL, __ATOMIC_ACQUIRE);
  inferkit_status st = INFERKIT_STATUS_OK;
  slot->error = NULL;
  if (request == NULL) st = inferkit_request_new(model, &request, &slot->error);
  if (st != INFERKIT_STATUS_OK) return st;
  *request_out = request;
  st = inferkit_request_add_tensor(request, name, slot->dtype, shape, slot->rank, data, slot->len,
                                   &slot->error);
  if (st == INFERKIT_STATUS_OK && slot->queue_only)
    st = inferkit_request_set_queue_only(request, true, &slot->error);
  if (st == INFERKIT_STATUS_OK && slot->deadline_in_ns > 0)
    st = ikgo_set_deadline_in(request, slot->deadline_in_ns, &slot->error);
  if (st == INFERKIT_STATUS_OK && slot->cancel)
    st = inferkit_request_set_cancel_token(request, slot->cancel, &slot->error);
  return st;
}

/* Lets go of a request made by request1: back to its empty state and kept for the model's next
 * one (which saves making and freeing one per call), or freed when one is kept already. */
static void request1_done(ikgo_request_cache *cache, inferkit_request *request,
                          const ikgo_slot *slot) {
  inferkit_request *none = NULL;
  inferkit_request_clear(request);
  if (slot->queue_only) inferkit_request_set_queue_only(request, false, NULL);
  if (slot->deadline_in_ns > 0) inferkit_request_set_deadline_ns(request, 0, NULL);
  if (slot->cancel) inferkit_request_set_cancel_token(request, NULL, NULL);
  if (!__atomic_compare_exchange_n(&cache->request, &none, request, 0, __ATOMIC_RELEASE,
                                   __ATOMIC_RELAXED))
    inferkit_request_free(request);
}

inferkit_status ikgo_submit1(const inferkit_model *model, ikgo_request_cache *cache,
                             const char *name, const void *data, ikgo_slot *slot) {
  inferkit_request *request = NULL;
  /* Borrowed, not copied into the request: inferkit_request_submit copies a request's inputs
   * before it queues or runs it, and the request lets go of them before this returns. */
  inferkit_status st = request1(model, cache, name, data, slot, &request);
  if (st == INFERKIT_STATUS_OK) {
    slot->model = model;
    st = ikgo_submit(request, slot);
  }
  if (request) request1_done(cache, request, slot);
  return st;
}

inferkit_status ikgo_run1(const inferkit_model *model, ikgo_request_cache *cache,
                          const char *name, const void *data, ikgo_slot *slot) {
  inferkit_request *request = NULL;
  inferkit_outputs *outputs = NULL;
  inferkit_error *error = NULL;
  inferkit_status st, run;
  release_spent(slot);
  slot->inline_done = 0;
  /* Borrowed: the run is over before this call returns. A request withdrawn at its deadline or
   * by its cancel token stays in inferkit's queue until a session pops it, still holding this
   * pointer, but is never read again (a worker skips withdrawn requests). The session that ran
   * it keeps the ONNX Runtime value it made over these bytes, which is fed again only to a run
   * whose caller lends bytes at the same address, length, dtype and dims (and so only reads
   * memory lent for that run); it is never read otherwise. */
  st = request1(model, cache, name, data, slot, &request);
  if (st == INFERKIT_STATUS_OK) {
    /* Accepted: from here the result goes to the slot, as a callback's would. */
    run = inferkit_request_run(request, &outputs, &error);
    store_result(slot, run, outputs, error);
    slot->inline_done = 1;
  }
  if (request) request1_done(cache, request, slot);
  return st;
}

/* ---- time ---- */

uint64_t ikgo_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

inferkit_status ikgo_set_deadline_in(inferkit_request *request, int64_t from_now_ns,
                                     inferkit_error **error_out) {
  uint64_t deadline = ikgo_monotonic_ns();
  if (from_now_ns > 0) deadline += (uint64_t)from_now_ns;
  return inferkit_request_set_deadline_ns(request, deadline, error_out);
}

/* ---- outputs ---- */

inferkit_status ikgo_output_get(const inferkit_outputs *outputs, size_t index, ikgo_output *out,
                                inferkit_error **error_out) {
  return inferkit_outputs_get(outputs, index, &out->name, &out->dtype, &out->shape, &out->rank,
                              &out->data, &out->len, error_out);
}

inferkit_status ikgo_output_tensor(const inferkit_outputs *outputs, size_t index,
                                   const inferkit_tensor **tensor_out, ikgo_output *out,
                                   inferkit_error **error_out) {
  const inferkit_value *value = inferkit_outputs_value(outputs, index);
  const inferkit_tensor *tensor = inferkit_value_tensor(value);
  if (value == NULL) return INFERKIT_STATUS_INVALID_ARGUMENT;
  if (tensor == NULL) return INFERKIT_STATUS_TYPE_MISMATCH;
  out->name = inferkit_outputs_name(outputs, index);
  *tensor_out = tensor;
  return inferkit_tensor_read(tensor, &out->dtype, &out->dims, &out->rank, &out->elements,
                              &out->data, &out->len, error_out);
}

void ikgo_outputs_head_read(const inferkit_outputs *outputs, ikgo_outputs_head *head) {
  head->count = inferkit_outputs_count(outputs);
  head->class_rows = inferkit_outputs_class_rows(outputs);
  head->first.name = NULL;
  head->first_status =
      head->count ? inferkit_outputs_get(outputs, 0, NULL, &head->first.dtype, &head->first.shape,
                                         &head->first.rank, &head->first.data, &head->first.len,
                                         NULL)
                  : INFERKIT_STATUS_OK;
}
