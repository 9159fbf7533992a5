package inferkit

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
)

// After a burst of concurrent requests leaves many calls on the free list, only the top
// maxSpentCalls of them still hold their last request's outputs (freed by their next request):
// the others, which may wait long for one, freed theirs when they were recycled.
func TestFreeCallsHoldFewOutputs(t *testing.T) {
	m, err := Open(filepath.Join("..", "..", "tests", "fixtures", "mlp_large.onnx"), WithInstances(1))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	x := make([]float32, 256)
	const burst = 256
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < burst; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if _, err := m.Infer(context.Background(), NewTensor(x, 1, 256)); err != nil {
				t.Error(err)
			}
		}()
	}
	close(start)
	wg.Wait()
	freeCalls.Lock()
	free, holding := len(freeCalls.list), 0
	for _, c := range freeCalls.list {
		if c.slot.spent != nil {
			holding++
		}
	}
	freeCalls.Unlock()
	if free <= maxSpentCalls {
		t.Fatalf("the burst left %d free calls; the test needs more than %d", free, maxSpentCalls)
	}
	if holding > maxSpentCalls {
		t.Fatalf("%d of %d free calls hold outputs; at most %d may", holding, free, maxSpentCalls)
	}
	t.Logf("%d free calls, %d holding outputs", free, holding)
}

// A request holds the model's handle (acquire) from before it reads the signature. A Close in
// between must not leave the signature unread for it: a *Tensor alone still finds the model's
// one input. (The signature was read through a new hold, which a closed model refuses, and a
// bare tensor then failed with "has 0 inputs".)
func TestSignatureReadWithTheHandleARequestHolds(t *testing.T) {
	m, err := Open(filepath.Join("..", "..", "tests", "fixtures", "mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.acquire() {
		t.Fatal("a model just opened refused a hold")
	}
	m.Close() // the handle closes when the hold ends
	cname, err := m.onlyInput()
	m.release()
	if err != nil || cname == nil {
		t.Fatalf("the input's name with the handle held: %v", err)
	}
	if len(m.inputs) != 1 || m.inputs[0].Name != "x" {
		t.Fatalf("inputs %v", m.inputs)
	}
}
