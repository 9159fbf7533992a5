/* C helpers of the Go binding: submission and completion, a monotonic clock, and readers that
 * gather several C calls into one cgo call.
 *
 * Completion. inferkit calls a request's callback on the thread that completes it: the
 * submitting thread, or one running other requests of the model, which goes on running queued
 * requests afterwards. Calling into Go from those threads would make each of them take a Go P
 * for every result, starving the goroutines that submit and wait (the drain threads would keep
 * the Ps in a syscall state that the Go scheduler does not take back while it keeps changing).
 * So the callback (ikgo_trampoline) only stores the result in its slot and queues the slot in C;
 * one Go goroutine waits in ikgo_wait and delivers the slots to the waiting goroutines. A result
 * that completes on its own submitting thread while nothing else is queued is left in its slot
 * (inline_done) for the submitter to take when inferkit_request_submit returns, which it is
 * about to do. */
#ifndef INFERKIT_GO_SHIM_H
#define INFERKIT_GO_SHIM_H

#include <stdint.h>

#include "inferkit.h"

/* One tensor output, as inferkit_outputs_get (shape) or inferkit_tensor_read (dims) read it. */
typedef struct {
  const char *name;
  uint32_t dtype;
  const int64_t *shape; /* numeric outputs (ikgo_output_get) */
  const size_t *dims;   /* tensors read through a value (ikgo_output_tensor) */
  size_t rank;
  size_t elements; /* ikgo_output_tensor only */
  const void *data;
  size_t len;
} ikgo_output;

/* What the Go side reads first from outputs: their count, their class rows, and output 0 (all
 * but its name, which the Go side knows from the model's signature or asks for). */
typedef struct {
  size_t count;
  size_t class_rows;
  inferkit_status first_status; /* of reading output 0 as a numeric tensor */
  ikgo_output first;
} ikgo_outputs_head;

/* Most dims of a tensor that ikgo_submit1 takes (more go through a request built call by
 * call). */
#define IKGO_MAX_RANK 8

/* One request in flight, in C memory (ikgo_slot_new); reused from request to request. */
typedef struct ikgo_slot {
  struct ikgo_slot *next; /* in the completion queue */
  uintptr_t handle;       /* the Go call's cgo.Handle */
  /* in (ikgo_submit1) */
  int64_t shape[IKGO_MAX_RANK];
  size_t rank;
  uint32_t dtype;
  size_t len;             /* bytes of data */
  int64_t deadline_in_ns; /* > 0: a deadline that far from now on CLOCK_MONOTONIC; 0: none */
  inferkit_cancel_token *cancel; /* the Go context's, when it can be cancelled; else NULL */
  int queue_only; /* submit with inferkit_request_set_queue_only: a helper thread runs it */
  /* out of the submission */
  inferkit_error *error; /* a refused submission's error */
  const inferkit_model *model; /* during the submission only */
  /* the result */
  int inline_done; /* completed on the submitting thread, left here, not queued */
  inferkit_status status;
  inferkit_outputs *outputs;
  inferkit_error *result_error;
  ikgo_outputs_head head;
  /* Small outputs the Go side has read and let go: freed by the slot's next submission, or with
   * the slot (one cgo call less per request). */
  inferkit_outputs *spent;
} ikgo_slot;

ikgo_slot *ikgo_slot_new(uintptr_t handle);
void ikgo_slot_free(ikgo_slot *slot);

/* Submits `request` (made from slot->model, which stays open during the call) with the
 * trampoline; its result goes to the slot. */
inferkit_status ikgo_submit(const inferkit_request *request, ikgo_slot *slot);

/* A model's request kept for reuse between calls (ikgo_submit1, ikgo_run1): at most one, taken
 * and put back atomically, so that calls on any threads may share the cache. C memory, made
 * with the Go Model and freed after its handle is closed. */
typedef struct {
  inferkit_request *request; /* empty: no input, no option; NULL when none is kept */
} ikgo_request_cache;

ikgo_request_cache *ikgo_request_cache_new(void);
void ikgo_request_cache_free(ikgo_request_cache *cache);

/* Makes a request to `model` with one input (or empties the one `cache` keeps), sets its
 * deadline and cancel token, submits it as ikgo_submit does and lets go of it: one cgo call for
 * the common request. The request borrows `data`; inferkit_request_submit copies it, so nothing
 * holds it once this returns. */
inferkit_status ikgo_submit1(const inferkit_model *model, ikgo_request_cache *cache,
                             const char *name, const void *data, ikgo_slot *slot);

/* Runs a request to `model` with one input (borrowed: the run is over when this returns) on this
 * thread, blocking, and leaves the result in the slot (inline_done) as the callback of a
 * submission would. Returns a failure to build the request (slot->error); the run's own status
 * is slot->status. */
inferkit_status ikgo_run1(const inferkit_model *model, ikgo_request_cache *cache,
                          const char *name, const void *data, ikgo_slot *slot);
/* The completion queue's eventfd (non-blocking): readable when slots were queued. */
int ikgo_queue_fd(void);

/* Takes up to `max` completed slots, without waiting. */
size_t ikgo_wait(ikgo_slot **out, size_t max);

/* CLOCK_MONOTONIC now, in nanoseconds (the clock of inferkit_request_set_deadline_ns). */
uint64_t ikgo_monotonic_ns(void);

/* Sets the request's deadline `from_now_ns` nanoseconds from now on CLOCK_MONOTONIC. */
inferkit_status ikgo_set_deadline_in(inferkit_request *request, int64_t from_now_ns,
                                     inferkit_error **error_out);

/* inferkit_outputs_get into one struct. */
inferkit_status ikgo_output_get(const inferkit_outputs *outputs, size_t index, ikgo_output *out,
                                inferkit_error **error_out);

/* Output `index` read as a tensor value (string tensors, which inferkit_outputs_get refuses):
 * the tensor (for inferkit_tensor_string), its name, dtype, dims, element count and bytes.
 * Returns INFERKIT_STATUS_TYPE_MISMATCH when the output is a sequence, map or optional. */
inferkit_status ikgo_output_tensor(const inferkit_outputs *outputs, size_t index,
                                   const inferkit_tensor **tensor_out, ikgo_output *out,
                                   inferkit_error **error_out);

void ikgo_outputs_head_read(const inferkit_outputs *outputs, ikgo_outputs_head *head);

#endif
