package inferkit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

// loop.onnx adds 1 n times: n = 1e9 runs for minutes unless stopped.
func loopInputs(n int64) inferkit.Inputs {
	return inferkit.Inputs{"n": inferkit.Scalar(n), "x": inferkit.NewTensor([]float32{0}, 1)}
}

const forever = 1_000_000_000

func openLoop(t *testing.T, opts ...inferkit.Option) *inferkit.Model {
	t.Helper()
	m, err := inferkit.Open(fixture("loop.onnx"), append([]inferkit.Option{inferkit.WithInstances(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// waitFor polls cond until it holds (true) or 20 s pass (false).
func waitFor(cond func() bool) bool {
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(2 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return false
}

func stats(t *testing.T, m *inferkit.Model) inferkit.Stats {
	t.Helper()
	s, err := m.Stats()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// block occupies the model's only session with an endless loop stopped after d; the channel
// gets its error.
func block(t *testing.T, m *inferkit.Model, d time.Duration) <-chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		_, err := m.Infer(context.Background(), loopInputs(forever), inferkit.WithTimeout(d))
		done <- err
	}()
	if !waitFor(func() bool { return stats(t, m).Idle == 0 }) {
		t.Fatal("the session never became busy")
	}
	return done
}

func TestLoopRuns(t *testing.T) {
	m := openLoop(t)
	out, err := m.Infer(context.Background(), loopInputs(5))
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := inferkit.Output[float32](out, "y")
	if err != nil || len(y) != 1 || y[0] != 5 {
		t.Fatalf("y = %v, %v", y, err)
	}
}

func TestContextDeadlineStopsARun(t *testing.T) {
	m := openLoop(t)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Infer(ctx, loopInputs(forever))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, inferkit.ErrDeadlineExceeded) {
		t.Fatalf("want both deadline errors, got %v", err)
	}
	var e *inferkit.Error
	if !errors.As(err, &e) || e.Code != inferkit.CodeDeadlineExceeded {
		t.Fatalf("errors.As: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Fatalf("stopped after %v", took)
	}
	// the session serves the next request
	if _, err := m.Infer(context.Background(), loopInputs(5)); err != nil {
		t.Fatal(err)
	}
}

func TestContextDeadlineWhileQueued(t *testing.T) {
	m := openLoop(t)
	blocked := block(t, m, 2*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Infer(ctx, loopInputs(5))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, inferkit.ErrDeadlineExceeded) {
		t.Fatalf("want both deadline errors, got %v", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("a queued request outlived its deadline: %v", took)
	}
	if err := <-blocked; !errors.Is(err, inferkit.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("blocker: %v", err)
	}
}

func TestTimeoutOptions(t *testing.T) {
	// per request
	m := openLoop(t)
	_, err := m.Infer(context.Background(), loopInputs(forever), inferkit.WithTimeout(100*time.Millisecond))
	if !errors.Is(err, inferkit.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WithTimeout: %v", err)
	}
	// the model's default
	d := openLoop(t, inferkit.WithDefaultTimeout(100*time.Millisecond))
	_, err = d.Infer(context.Background(), loopInputs(forever))
	wantCode(t, err, inferkit.CodeDeadlineExceeded, "")
	if _, err := d.Infer(context.Background(), loopInputs(5)); err != nil {
		t.Fatal(err)
	}
}

func TestContextAlreadyDone(t *testing.T) {
	m := openLoop(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.Infer(ctx, loopInputs(5))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, inferkit.ErrCancelled) {
		t.Fatalf("cancelled context: %v", err)
	}
	past, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	_, err = m.Infer(past, loopInputs(5))
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, inferkit.ErrDeadlineExceeded) {
		t.Fatalf("expired context: %v", err)
	}
	cause := errors.New("client went away")
	withCause, cancel3 := context.WithCancelCause(context.Background())
	cancel3(cause)
	_, err = m.Infer(withCause, loopInputs(5))
	if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) || !errors.Is(err, inferkit.ErrCancelled) {
		t.Fatalf("cancel cause: %v", err)
	}
	if s := stats(t, m); s.RequestsRun != 0 {
		t.Fatalf("%d requests ran", s.RequestsRun)
	}
}

// A queued request is withdrawn when its context is cancelled; a full queue refuses at once.
func TestCancelQueuedAndQueueFull(t *testing.T) {
	m := openLoop(t, inferkit.WithMaxQueueSize(1))
	blocked := block(t, m, 3*time.Second)
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		_, err := m.Infer(ctx, loopInputs(5))
		queued <- err
	}()
	if !waitFor(func() bool { return stats(t, m).Queued == 1 }) {
		t.Fatal("never queued")
	}
	// the queue (of 1) is full
	_, err := m.Infer(context.Background(), loopInputs(5))
	wantCode(t, err, inferkit.CodeQueueFull, "")
	if !errors.Is(err, inferkit.ErrQueueFull) {
		t.Fatal("errors.Is ErrQueueFull")
	}
	cancel()
	select {
	case err := <-queued:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, inferkit.ErrCancelled) {
			t.Fatalf("withdrawn request: %v", err)
		}
	case <-time.After(time.Second):
		t.Fatal("cancelling a queued request did not return promptly")
	}
	// inferkit leaves a withdrawn request in its lock-free queue until a session pops it: it
	// still counts in Stats.Queued and against WithMaxQueueSize until then.
	_, err = m.Infer(context.Background(), loopInputs(5))
	t.Logf("after the withdrawal: stats %+v, a new request: %v", stats(t, m), err)
	if err := <-blocked; !errors.Is(err, inferkit.ErrDeadlineExceeded) {
		t.Fatalf("blocker: %v", err)
	}
	if !waitFor(func() bool { return stats(t, m).Queued == 0 }) {
		t.Fatal("the queue never emptied")
	}
	if s := stats(t, m); s.RequestsRun != 1 {
		t.Fatalf("the withdrawn request ran: %+v", s)
	}
}

// A request running on another goroutine's thread is stopped when its context is cancelled.
func TestCancelRunning(t *testing.T) {
	m := openLoop(t)
	blocked := block(t, m, 300*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	running := make(chan error, 1)
	go func() {
		_, err := m.Infer(ctx, loopInputs(forever), inferkit.WithTimeout(2*time.Minute))
		running <- err
	}()
	if !waitFor(func() bool { return stats(t, m).Queued == 1 }) {
		t.Fatal("never queued")
	}
	// When the blocker's timeout stops it, its thread (which holds the only session) runs the
	// queued request.
	if !waitFor(func() bool { s := stats(t, m); return s.Queued == 0 && s.Idle == 0 && s.RequestsRun == 1 }) {
		t.Fatal("never ran")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-running:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, inferkit.ErrCancelled) {
			t.Fatalf("stopped request: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("cancelling a running request did not stop it")
	}
	t.Logf("a running request stopped %v after its context was cancelled", time.Since(start))
	if err := <-blocked; !errors.Is(err, inferkit.ErrDeadlineExceeded) {
		t.Fatalf("blocker: %v", err)
	}
	if _, err := m.Infer(context.Background(), loopInputs(5)); err != nil {
		t.Fatal(err)
	}
}

// A request that runs on its own caller's thread (the model had nothing else in flight, so the
// goroutine's cgo call runs it) is stopped when its context is cancelled: inferkit's answer is
// CANCELLED, not the 2-minute timeout, and comes at once.
func TestCancelDirectRun(t *testing.T) {
	m := openLoop(t)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := m.Infer(ctx, loopInputs(forever), inferkit.WithTimeout(2*time.Minute))
		errc <- err
	}()
	if !waitFor(func() bool { s := stats(t, m); return s.Idle == 0 && s.Queued == 0 }) {
		t.Fatal("never ran")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, inferkit.ErrCancelled) {
			t.Fatalf("cancelled: %v", err)
		}
		t.Logf("returned %v after cancel(): %v", time.Since(start), err)
	case <-time.After(20 * time.Second):
		t.Fatal("cancelling the context did not stop the run on the caller's thread")
	}
	// The session serves the next request, with a context that is never cancelled, many times:
	// a cancel's stop never reaches a later run.
	for i := 0; i < 50; i++ {
		ctx, cancel := context.WithCancel(context.Background())
		out, err := m.Infer(ctx, loopInputs(5))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		if y, _, _ := inferkit.Output[float32](out, "y"); len(y) != 1 || y[0] != 5 {
			t.Fatalf("y = %v", y)
		}
	}
}

// A request submitted while another is in flight is only queued (queue-only), so Infer holds
// its handle at once; cancelling its context stops it while one of inferkit's helper threads
// runs it.
func TestCancelHelperRun(t *testing.T) {
	m, err := inferkit.Open(fixture("loop.onnx"), inferkit.WithInstances(2))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	first := make(chan error, 1)
	go func() {
		_, err := m.Infer(context.Background(), loopInputs(forever), inferkit.WithTimeout(1500*time.Millisecond))
		first <- err
	}()
	if !waitFor(func() bool { return stats(t, m).Idle == 1 }) {
		t.Fatal("the first request never ran")
	}
	ctx, cancel := context.WithCancel(context.Background())
	second := make(chan error, 1)
	go func() {
		_, err := m.Infer(ctx, loopInputs(forever), inferkit.WithTimeout(time.Second))
		second <- err
	}()
	if !waitFor(func() bool { return stats(t, m).Idle == 0 }) {
		t.Fatal("the second request never ran")
	}
	start := time.Now()
	cancel()
	select {
	case err := <-second:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, inferkit.ErrCancelled) {
			t.Fatalf("cancelled: %v", err)
		}
		if took := time.Since(start); took > 300*time.Millisecond {
			t.Fatalf("returned %v after cancel()", took)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Infer did not return")
	}
	if err := <-first; !errors.Is(err, inferkit.ErrDeadlineExceeded) {
		t.Fatalf("first: %v", err)
	}
	// both sessions come back, and serve
	if !waitFor(func() bool { return stats(t, m).Idle == 2 }) {
		t.Fatal("the sessions never came back")
	}
	if _, err := m.Infer(context.Background(), loopInputs(5)); err != nil {
		t.Fatal(err)
	}
}

// A model keeps one C request between calls and empties it after each: a deadline, a cancel
// token or the queue-only flag one call set must not apply to the next. A call after the first
// one's deadline has passed succeeds.
func TestOptionsDoNotOutliveTheirCall(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x := inferkit.NewTensor(make([]float32, 16), 1, 16)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	if _, err := m.Infer(ctx, x); err != nil {
		t.Fatal(err)
	}
	cancel()
	time.Sleep(40 * time.Millisecond) // that deadline has passed
	for i := 0; i < 3; i++ {
		if _, err := m.Infer(context.Background(), x); err != nil {
			t.Fatalf("call %d after a call with a deadline: %v", i, err)
		}
	}
}
