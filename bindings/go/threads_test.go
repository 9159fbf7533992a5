package inferkit_test

import (
	"context"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

// Thousands of goroutines infer at once: they cost goroutines, not OS threads. The peak OS
// thread count (/proc/self/status) stays bounded, both for a model whose requests are queued for
// inferkit's threads (mlp_large, batched) and for one whose short runs are made blocking on the
// callers' threads (the tiny MLP).
func TestThreadsStayBounded(t *testing.T) {
	t.Run("queued", func(t *testing.T) {
		m, err := inferkit.Open(fixture("mlp_large.onnx"), inferkit.WithInstances(2), inferkit.WithBatching(32, 0),
			inferkit.WithMaxQueueSize(20000))
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		in, want := readPack(t, "mlp_large.inputs.tpk")[0], readPack(t, "mlp_large.outputs.tpk")[0]
		threadsStayBounded(t, m, in.floats()[:256], want.floats()[:10], 2)
	})
	t.Run("blocking", func(t *testing.T) {
		m, row, rowWant := openShortMLP(t)
		threadsStayBounded(t, m, row, rowWant, 20)
	})
}

// A model with a queue delay keeps its callers' requests queued even when its runs are short:
// blocking callers would each wait the delay in C on a thread of their own.
func TestThreadsStayBoundedWithAQueueDelay(t *testing.T) {
	m, row, rowWant := openShortMLP(t, inferkit.WithBatching(32, 2*time.Millisecond))
	before, _ := m.Stats()
	threadsStayBounded(t, m, row, rowWant, 2)
	// Queued, the requests wait for company and run in batches; made blocking, each caller ran
	// its own (batches of 1.7 rows, and 12 s instead of 0.15 s for the 10,000 goroutines).
	after, _ := m.Stats()
	runs, requests := after.Executions-before.Executions, after.RequestsRun-before.RequestsRun
	if runs == 0 || requests < 4*runs {
		t.Fatalf("%d requests in %d runs: not batched", requests, runs)
	}
}

// openShortMLP opens the tiny MLP (closed when the test ends) and runs it until its runs are
// measured, with a row and its expected output; it skips the test where those runs are not
// short (see shortRun in infer.go).
func openShortMLP(t *testing.T, opts ...inferkit.Option) (*inferkit.Model, []float32, []float32) {
	t.Helper()
	m, err := inferkit.Open(fixture("mlp.onnx"),
		append([]inferkit.Option{inferkit.WithInstances(2), inferkit.WithMaxQueueSize(20000)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	in, want := readPack(t, "mlp.inputs.tpk")[0], readPack(t, "mlp.outputs.tpk")[0]
	row, rowWant := in.floats()[:16], want.floats()[:len(want.floats())/int(in.Shape[0])]
	x := inferkit.NewTensor(row, 1, 16)
	for i := 0; i < 50; i++ { // runs to measure
		if _, err := m.Infer(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := m.RunEstimate(1); err != nil || d <= 0 || d > 10*time.Microsecond {
		t.Skipf("the tiny MLP's runs are estimated at %v here (%v): not short", d, err)
	}
	return m, row, rowWant
}

// threadsStayBounded has 1,024 and then 10,000 goroutines make perGoroutine requests each with
// one row, checks every result against want, and the peak OS thread count.
func threadsStayBounded(t *testing.T, m *inferkit.Model, rowIn, rowWant []float32, perGoroutine int) {
	x := inferkit.NewTensor(rowIn, 1, int64(len(rowIn)))
	for _, n := range []int{1024, 10000} {
		before := osThreads(t)
		var peak atomic.Int64
		stop := make(chan struct{})
		sampled := make(chan struct{})
		go func() {
			defer close(sampled)
			for {
				if th := int64(osThreads(t)); th > peak.Load() {
					peak.Store(th)
				}
				select {
				case <-stop:
					return
				case <-time.After(time.Millisecond):
				}
			}
		}()
		start := time.Now()
		var wg sync.WaitGroup
		var failures atomic.Int64
		gate := make(chan struct{})
		for g := 0; g < n; g++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-gate
				for i := 0; i < perGoroutine; i++ {
					out, err := m.Infer(context.Background(), inferkit.Inputs{"x": x})
					if err != nil {
						t.Error(err)
						failures.Add(1)
						return
					}
					y, _, _ := inferkit.Output[float32](out, "y")
					for j := range y {
						if math.Abs(float64(y[j]-rowWant[j])) > 1e-3*math.Max(1, math.Abs(float64(rowWant[j]))) {
							failures.Add(1)
							return
						}
					}
				}
			}()
		}
		close(gate)
		wg.Wait()
		close(stop)
		<-sampled
		s, _ := m.Stats()
		t.Logf("%5d goroutines x %d requests: %v, OS threads before %d, peak %d (GOMAXPROCS %d); %d session runs so far",
			n, perGoroutine, time.Since(start).Round(time.Millisecond), before, peak.Load(), runtime.GOMAXPROCS(0), s.Executions)
		if failures.Load() != 0 {
			t.Fatalf("%d goroutines failed", failures.Load())
		}
		if peak.Load() >= 200 {
			t.Fatalf("%d goroutines took %d OS threads", n, peak.Load())
		}
	}
}
