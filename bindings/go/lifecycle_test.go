package inferkit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

func TestCloseTwiceAndConcurrently(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Close(); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := inferkit.OpenRegistry(modelsDir())
	if err != nil {
		t.Fatal(err)
	}
	r.Close()
	r.Close()
}

// Every call on a closed handle is a typed error, never a crash.
func TestClosedHandles(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	_, err = m.Infer(context.Background(), inferkit.Inputs{"x": inferkit.NewTensor(make([]float32, 16), 1, 16)})
	if !errors.Is(err, inferkit.ErrClosed) {
		t.Fatalf("Infer: %v", err)
	}
	wantCode(t, err, inferkit.CodeNullArgument, "closed")
	if _, err := m.Stats(); !errors.Is(err, inferkit.ErrClosed) {
		t.Fatalf("Stats: %v", err)
	}
	if _, err := m.MetricsPrometheus(); !errors.Is(err, inferkit.ErrClosed) {
		t.Fatalf("Metrics: %v", err)
	}
	if m.Name() != "mlp" {
		t.Fatalf("name %q", m.Name())
	}

	r, err := inferkit.OpenRegistry(modelsDir())
	if err != nil {
		t.Fatal(err)
	}
	kept, err := r.Label("classifier", "stable")
	if err != nil {
		t.Fatal(err)
	}
	defer kept.Close()
	r.Close()
	for name, f := range map[string]func() error{
		"Model":    func() error { _, err := r.Model("classifier"); return err },
		"Version":  func() error { _, err := r.Version("classifier", 1); return err },
		"Label":    func() error { _, err := r.Label("classifier", "stable"); return err },
		"Route":    func() error { _, err := r.Route("classifier", "k"); return err },
		"SetLabel": func() error { return r.SetLabel("classifier", "stable", 2) },
		"Reload":   func() error { _, err := r.Reload(); return err },
		"Load":     func() error { return r.Load("classifier") },
		"Status":   func() error { _, err := r.StatusJSON(); return err },
		"Metrics":  func() error { _, err := r.MetricsPrometheus(); return err },
	} {
		if err := f(); !errors.Is(err, inferkit.ErrClosed) {
			t.Fatalf("%s on a closed registry: %v", name, err)
		}
	}
	// a model selected before stays valid after its registry closed
	runPack(t, kept, "mlp")
}

// Closing a model while goroutines infer: each request succeeds or fails with ErrClosed, and
// every later one fails with ErrClosed.
func TestCloseDuringInflightRequests(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp.onnx"), inferkit.WithInstances(2))
	if err != nil {
		t.Fatal(err)
	}
	in, want := readPack(t, "mlp.inputs.tpk"), readPack(t, "mlp.outputs.tpk")
	x := in[0].tensor()
	var ok, closed atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for i := 0; ; i++ {
				out, err := m.Infer(context.Background(), inferkit.Inputs{"x": x})
				if errors.Is(err, inferkit.ErrClosed) {
					closed.Add(1)
					return
				}
				if err != nil {
					t.Errorf("request %d: %v", i, err)
					return
				}
				y, _, _ := inferkit.Output[float32](out, "y")
				if !closeTo(y, want[0].floats()) {
					t.Error("wrong outputs")
					return
				}
				ok.Add(1)
			}
		}()
	}
	close(start)
	time.Sleep(100 * time.Millisecond)
	m.Close()
	wg.Wait()
	if ok.Load() == 0 || closed.Load() != 32 {
		t.Fatalf("%d succeeded, %d saw ErrClosed", ok.Load(), closed.Load())
	}
	t.Logf("%d requests before Close", ok.Load())
}

// A request running when its model is closed finishes normally (it holds the model).
func TestCloseWhileARequestRuns(t *testing.T) {
	m, err := inferkit.Open(fixture("loop.onnx"), inferkit.WithInstances(1))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := m.Infer(context.Background(), loopInputs(forever), inferkit.WithTimeout(300*time.Millisecond))
		done <- err
	}()
	if !waitFor(func() bool { s, err := m.Stats(); return err == nil && s.Idle == 0 }) {
		t.Fatal("never ran")
	}
	m.Close()
	if _, err := m.Infer(context.Background(), loopInputs(5)); !errors.Is(err, inferkit.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := <-done; !errors.Is(err, inferkit.ErrDeadlineExceeded) {
		t.Fatalf("the running request: %v", err)
	}
}
