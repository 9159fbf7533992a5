package inferkit

/*
#include <stdlib.h>
#include "shim.h"
*/
import "C"

import (
	"context"
	"os"
	"runtime"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// RunOption configures one request.
type RunOption func(*runConfig)

type runConfig struct {
	timeout time.Duration
	outputs []string
}

// WithTimeout gives the request a timeout, counted from its submission, besides its context's
// deadline (the earlier applies). A request not started in time, or running past it alone, fails
// with ErrDeadlineExceeded.
func WithTimeout(d time.Duration) RunOption { return func(c *runConfig) { c.timeout = d } }

// WithOutputs asks for only the named outputs, in this order; ONNX Runtime skips the work only
// the others need. An unknown name fails with ErrUnknownOutput.
func WithOutputs(names ...string) RunOption {
	return func(c *runConfig) { c.outputs = append([]string(nil), names...) }
}

// result is one request's answer, for the goroutine waiting in Infer.
type result struct {
	status  C.inferkit_status
	outputs *C.inferkit_outputs
	err     *C.inferkit_error
	head    C.ikgo_outputs_head // the outputs' first reading, made by the C callback
	refused error               // set instead when the request was not submitted
}

// release frees what C handed over with a result nobody reads.
func (r result) release() {
	C.inferkit_outputs_free(r.outputs)
	C.inferkit_error_free(r.err)
}

// call is one request in flight. Infer's goroutine waits on ch, which holds one result so that
// no sender ever blocks. Its slot (C memory) carries the submission's arguments and the result
// to the C callback and back; the slot's handle (a cgo.Handle of the call) lets the completion
// dispatcher find the call. Calls are recycled with their slot and handle.
type call struct {
	ch     chan result
	handle cgo.Handle
	slot   *C.ikgo_slot

	// the request
	m        *Model
	in       Input
	opts     []RunOption
	deadline time.Time // the context's deadline, if it has one
	plain    bool      // one tensor in, every output out: the outputs are the model's, in order

	// A cancel token for requests whose context can be cancelled, kept from request to request
	// until one cancels it (a cancelled token stays cancelled); cancel, the context's AfterFunc,
	// cancels it and then sends on fired.
	token  *C.inferkit_cancel_token
	cancel func()
	fired  chan struct{}
}

var freeCalls struct {
	sync.Mutex
	list []*call
}

// lastCall holds the call freed last, taken and put back with one atomic operation each, ahead
// of freeCalls' lock: a goroutine that infers again and again reuses it without locking.
var lastCall atomic.Pointer[call]

const maxFreeCalls = 4096

// The free calls that may hold outputs of their last request (at most maxSpent bytes each).
const maxSpentCalls = 16

func getCall() *call {
	if c := lastCall.Swap(nil); c != nil {
		return c
	}
	freeCalls.Lock()
	n := len(freeCalls.list)
	if n > 0 {
		c := freeCalls.list[n-1]
		freeCalls.list = freeCalls.list[:n-1]
		freeCalls.Unlock()
		return c
	}
	freeCalls.Unlock()
	startDispatcher()
	c := &call{ch: make(chan result, 1), fired: make(chan struct{}, 1)}
	// Made once per call: c.token is written only while no AfterFunc of the call is registered.
	c.cancel = func() {
		C.inferkit_cancel_token_cancel(c.token)
		c.fired <- struct{}{}
	}
	c.handle = cgo.NewHandle(c)
	c.slot = C.ikgo_slot_new(C.uintptr_t(c.handle))
	if c.slot == nil {
		panic("inferkit: out of memory")
	}
	return c
}

// recycle keeps the call for another request.
func (c *call) recycle() {
	c.m, c.in, c.opts, c.deadline, c.plain = nil, nil, nil, time.Time{}, false
	if lastCall.CompareAndSwap(nil, c) {
		return // keeps its last outputs, as the top of freeCalls does
	}
	var spent *C.inferkit_outputs
	freeCalls.Lock()
	if n := len(freeCalls.list); n < maxFreeCalls {
		// Only the calls on top of the list, reused first, keep their last outputs for their
		// next request to free: after a burst, the calls below may wait long for one.
		if n >= maxSpentCalls {
			spent, c.slot.spent = c.slot.spent, nil
		}
		freeCalls.list = append(freeCalls.list, c)
		c = nil
	}
	freeCalls.Unlock()
	if spent != nil {
		C.inferkit_outputs_free(spent)
	}
	if c != nil {
		C.inferkit_cancel_token_free(c.token)
		C.ikgo_slot_free(c.slot)
		c.handle.Delete()
	}
}

// cancelToken returns the call's token, making one if it has none.
func (c *call) cancelToken() *C.inferkit_cancel_token {
	if c.token == nil {
		if C.inferkit_cancel_token_new(&c.token, nil) != C.INFERKIT_STATUS_OK {
			panic("inferkit: out of memory")
		}
	}
	return c.token
}

// slotResult reads the result the C callback stored in the slot.
func (c *call) slotResult() result {
	s := c.slot
	return result{status: s.status, outputs: s.outputs, err: s.result_error, head: s.head}
}

// The completion dispatcher: one goroutine that waits in C for completed requests (queued by
// the C callback, see shim.h) and hands each to its waiting goroutine. inferkit's threads never
// call into Go.
var startDispatcher = sync.OnceFunc(func() {
	fd := int(C.ikgo_queue_fd()) // made before any request can complete
	if fd < 0 {
		panic("inferkit: cannot make the completion pipe")
	}
	go dispatch(os.NewFile(uintptr(fd), "inferkit-completions")) // non-blocking: waits in the netpoller
})

func dispatch(events *os.File) {
	var buf [64]byte
	slots := make([]*C.ikgo_slot, 256)
	for {
		if _, err := events.Read(buf[:]); err != nil {
			panic("inferkit: reading the completion pipe: " + err.Error())
		}
		for {
			n := int(C.ikgo_wait(&slots[0], C.size_t(len(slots))))
			if n == 0 {
				break
			}
			for _, s := range slots[:n] {
				c := cgo.Handle(s.handle).Value().(*call)
				c.ch <- c.slotResult()
			}
		}
	}
}

// Infer runs one request and returns its outputs.
//
// Thousands of goroutines may infer at once without an OS thread each. When the model has no
// other request of this process in flight, or when the request's run is short (10 µs at most by
// inferkit's estimate, on a model without a queue delay: a waiting goroutine then waits for one
// of Go's Ps, not in C), inferkit runs the request blocking on the calling goroutine's thread
// (queued first if no session is idle), with at most one batch of requests that queued behind it
// meanwhile (inferkit's helper threads run the rest). Otherwise the request is only queued (inferkit copies the inputs), and
// a batch when the model batches: inferkit's helper threads run it, the cgo call returns at
// once, the calling goroutine parks, and Infer returns as soon as its own result is ready.
//
// The context bounds the request. Its deadline becomes the request's deadline on inferkit's
// clock: a request not started by then is not run, one running past it alone is stopped. Its
// cancellation (through an inferkit cancel token) withdraws a queued request or stops a running
// one, whether it runs on the calling goroutine's thread or one of inferkit's (one running in a
// batch with others finishes); Infer then waits for inferkit's answer, so nothing runs on the
// request's behalf once it has returned. Such failures are *Error values with
// CodeDeadlineExceeded or CodeCancelled that also match the context's error (errors.Is(err,
// context.DeadlineExceeded)). A context already done returns its error at once and runs
// nothing. A request that completed despite its context returns its outputs.
//
// Errors are *Error values; the most common: ErrUnknownInput, ErrMissingInput,
// ErrDtypeMismatch, ErrRankMismatch, ErrDimMismatch, ErrByteLengthMismatch, ErrQueueFull,
// ErrDeadlineExceeded, ErrCancelled, ErrClosed.
func (m *Model) Infer(ctx context.Context, in Input, opts ...RunOption) (*Outputs, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	if ctx.Err() != nil {
		return nil, contextError(ctx, "")
	}
	if in == nil {
		return nil, errorf(CodeNullArgument, "nil Input")
	}
	deadline, hasDeadline := ctx.Deadline()
	if hasDeadline && time.Until(deadline) <= 0 {
		return nil, contextError(withDeadlinePassed(ctx), "")
	}
	c := getCall()
	c.m, c.in, c.opts, c.deadline = m, in, opts, deadline
	// A context that can be cancelled cancels the request's token (from a goroutine of its
	// own, while this one may be inside a cgo call that runs the request).
	c.slot.cancel = nil
	var stopCancel func() bool
	if ctx.Done() != nil {
		c.slot.cancel = c.cancelToken()
		stopCancel = context.AfterFunc(ctx, c.cancel)
	}
	load := m.load
	// Nothing else in flight, or a model whose runs are short (see shortRun): run it here (no
	// copy of the result through the completion queue). Otherwise only queue it: the cgo call
	// returns at once and inferkit's threads run it, so no goroutine's thread stays in C for
	// others' runs.
	c.slot.queue_only = 0
	if load.Add(1) != 1 && !m.shortRuns(in) {
		c.slot.queue_only = 1
	}
	// A cancel withdraws a queued request (its callback runs on the cancelling goroutine) or
	// stops a running one; one running in a batch finishes. The result comes either way,
	// exactly once: from the submission itself, or on ch.
	r, ok := c.submit()
	if !ok {
		r = <-c.ch
	}
	ctxDone := false
	if stopCancel != nil && !stopCancel() {
		// The token was cancelled, or is being: wait for that, then retire it.
		<-c.fired
		C.inferkit_cancel_token_free(c.token)
		c.token = nil
		ctxDone = true
	}
	load.Add(-1)
	out, err := c.finish(ctx, r, ctxDone, hasDeadline, deadline)
	c.recycle()
	return out, err
}

// A request whose run is expected to take at most this long (inferkit_model_run_estimate_ns
// per row, times its rows) is run blocking on the calling goroutine's thread even with other
// requests in flight, unless the model waits to fill batches (a queue delay: its callers would
// wait that long in C). Such a call gives its thread back about as soon as the Go scheduler
// would take a P from a thread in a cgo call (sysmon, after 20 µs at the soonest), so goroutines
// waiting for the model wait for a P, not in C with a thread each, and their requests skip the
// queue's hand-offs: a helper thread's wake-up, the completion pipe, the dispatcher. The tiny
// MLP (a 1.5 µs run) on 2 CPUs (Intel Xeon), queued against blocking: 8 goroutines 111 k against
// 455 k requests/s, 1,024 goroutines 242 k against 404 k, with 13 OS threads. Blocking calls to a
// larger model (mlp_large, a 180 µs run) would have the Go runtime start a thread for each
// goroutine waiting in C (72 threads at 64 goroutines, and smaller batches): it is queued.
const shortRun = 10 * time.Microsecond

// How often (in decisions) shortRuns asks inferkit for the model's run estimate again.
const estimateEvery = 1024

// shortRuns says whether a request with input in is expected to run within shortRun, from
// inferkit's estimate for one row (refreshed every estimateEvery calls) and the request's rows
// (dim 0 of its first tensor).
func (m *Model) shortRuns(in Input) bool {
	if m.queueDelay {
		return false
	}
	if m.decisions.Add(1)%estimateEvery == 1 {
		if d, err := m.RunEstimate(1); err == nil {
			m.runEstimate.Store(uint64(d))
		}
	}
	ns := m.runEstimate.Load()
	return ns != 0 && ns*uint64(rowsOf(in)) <= uint64(shortRun)
}

// rowsOf is dim 0 of the request's tensor (the first one in Inputs, in no particular order when
// there are several), or 1.
func rowsOf(in Input) int64 {
	var t *Tensor
	switch in := in.(type) {
	case *Tensor:
		t = in
	case Inputs:
		for _, v := range in {
			t = v
			break
		}
	}
	if t == nil || len(t.shape) == 0 || t.shape[0] < 1 {
		return 1
	}
	return t.shape[0]
}

// submit builds and submits the request. It returns a refusal, or a result left in the slot,
// and true; false when the result is to come on ch (the dispatcher sends it).
func (c *call) submit() (result, bool) {
	if err := c.submitRequest(); err != nil {
		return result{refused: err}, true // no callback comes for a refused request
	}
	if c.slot.inline_done != 0 {
		return c.slotResult(), true
	}
	return result{}, false
}

func (c *call) submitRequest() error {
	m := c.m
	if !m.acquire() {
		return closedError("model " + m.name)
	}
	defer m.release()
	s := c.slot
	s.deadline_in_ns = 0
	if !c.deadline.IsZero() {
		// On inferkit's clock, CLOCK_MONOTONIC: that far from now (read in C). One that has
		// passed meanwhile stays 1 ns away, and inferkit answers DEADLINE_EXCEEDED.
		s.deadline_in_ns = C.int64_t(max(time.Until(c.deadline), 1))
	}
	// The common request, one numeric tensor and no options: one cgo call.
	t, cname, err := c.single()
	if err != nil {
		return err
	}
	if t != nil && t.dtype != String && len(t.shape) <= C.IKGO_MAX_RANK {
		for i, d := range t.shape {
			s.shape[i] = C.int64_t(d)
		}
		s.rank, s.dtype, s.len = C.size_t(len(t.shape)), C.uint32_t(t.dtype), C.size_t(t.size)
		c.plain = true
		var st C.inferkit_status
		if s.queue_only == 0 {
			// A blocking run on this thread, on the slice itself.
			st = C.ikgo_run1(m.p, m.cache, cname, dataPtr(t.data), s)
		} else {
			st = C.ikgo_submit1(m.p, m.cache, cname, dataPtr(t.data), s)
		}
		runtime.KeepAlive(t)
		return takeError(st, s.error)
	}
	var req *C.inferkit_request
	var cerr *C.inferkit_error
	if err := takeError(C.inferkit_request_new(m.p, &req, &cerr), cerr); err != nil {
		return err
	}
	defer C.inferkit_request_free(req)
	if err := c.in.apply(m, req); err != nil {
		return err
	}
	if err := applyRunOptions(req, c.opts); err != nil {
		return err
	}
	if s.queue_only != 0 {
		if err := takeError(C.inferkit_request_set_queue_only(req, true, &cerr), cerr); err != nil {
			return err
		}
	}
	if s.cancel != nil {
		if err := takeError(C.inferkit_request_set_cancel_token(req, s.cancel, &cerr), cerr); err != nil {
			return err
		}
	}
	if s.deadline_in_ns > 0 {
		if err := takeError(C.ikgo_set_deadline_in(req, s.deadline_in_ns, &cerr), cerr); err != nil {
			return err
		}
	}
	s.model = m.p
	return takeError(C.ikgo_submit(req, s), s.error)
}

// single is the request's one tensor and its input's C name, when it has one tensor and no
// options; a *Tensor alone is the model's only input, whatever its name. nil otherwise.
func (c *call) single() (*Tensor, *C.char, error) {
	if len(c.opts) > 0 {
		return nil, nil, nil
	}
	switch in := c.in.(type) {
	case *Tensor:
		if in != nil {
			cname, err := c.m.onlyInput()
			return in, cname, err
		}
	case Inputs:
		if len(in) == 1 {
			for name, t := range in {
				if t != nil {
					cname, err := c.m.cname(name)
					return t, cname, err
				}
			}
		}
	}
	return nil, nil, nil
}

func applyRunOptions(req *C.inferkit_request, opts []RunOption) error {
	if len(opts) == 0 {
		return nil
	}
	var rc runConfig
	for _, o := range opts {
		o(&rc)
	}
	var cerr *C.inferkit_error
	if rc.timeout > 0 {
		if err := takeError(C.inferkit_request_set_timeout_us(req, micros(rc.timeout), &cerr), cerr); err != nil {
			return err
		}
	}
	if len(rc.outputs) > 0 {
		// An array of pointers may not point into Go memory: C memory for the names.
		names := make([]*C.char, len(rc.outputs))
		defer func() {
			for _, n := range names {
				C.free(unsafe.Pointer(n))
			}
		}()
		for i, n := range rc.outputs {
			s, err := cString(n, "output name")
			if err != nil {
				return err
			}
			names[i] = s
		}
		arr := (**C.char)(C.malloc(C.size_t(len(names)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
		defer C.free(unsafe.Pointer(arr))
		copy(unsafe.Slice(arr, len(names)), names)
		if err := takeError(C.inferkit_request_set_outputs(req, arr, C.size_t(len(names)), &cerr), cerr); err != nil {
			return err
		}
	}
	return nil
}

// finish turns a result into outputs or an error, releasing what C handed over.
func (c *call) finish(ctx context.Context, r result, ctxDone, hasDeadline bool, deadline time.Time) (*Outputs, error) {
	if r.refused != nil {
		return nil, r.refused
	}
	if r.status == C.INFERKIT_STATUS_OK {
		if r.head.count == 1 && r.head.class_rows == 0 && r.head.first_status == C.INFERKIT_STATUS_OK {
			out := singleOutput(&r.head.first, c.firstOutputName(r.outputs))
			if r.head.first.len <= maxSpent {
				c.slot.spent = r.outputs // freed by the slot's next submission
			} else {
				C.inferkit_outputs_free(r.outputs)
			}
			return out, nil
		}
		defer C.inferkit_outputs_free(r.outputs)
		return readOutputs(r.outputs)
	}
	e := newError(r.status, r.err)
	switch e.Code {
	case CodeCancelled:
		if ctxDone || ctx.Err() != nil {
			return nil, contextError(ctx, e.Message)
		}
	case CodeDeadlineExceeded:
		// inferkit's clock may pass the context's deadline a moment before the context's timer.
		if ctx.Err() != nil {
			return nil, contextError(ctx, e.Message)
		}
		if hasDeadline && time.Until(deadline) <= time.Millisecond {
			return nil, contextError(withDeadlinePassed(ctx), e.Message)
		}
	}
	return nil, e
}

// Outputs of at most this many bytes are freed by the call's next request (in the cgo call that
// makes it) rather than by a cgo call of their own.
const maxSpent = 64 << 10

// firstOutputName is the name of output 0: the model's only output for a plain request (no
// copy from C), else as the outputs name it.
func (c *call) firstOutputName(outputs *C.inferkit_outputs) string {
	if c.plain && len(c.m.outputs) == 1 {
		return c.m.outputs[0].Name
	}
	return C.GoString(C.inferkit_outputs_name(outputs, 0))
}

// withDeadlinePassed returns a context whose Err is context.DeadlineExceeded, for a context
// whose deadline has passed but whose timer has not fired yet.
func withDeadlinePassed(ctx context.Context) context.Context {
	if ctx.Err() != nil {
		return ctx
	}
	return deadlinePassed{ctx}
}

type deadlinePassed struct{ context.Context }

func (deadlinePassed) Err() error { return context.DeadlineExceeded }
