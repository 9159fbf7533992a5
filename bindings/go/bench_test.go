package inferkit_test

import (
	"context"
	"testing"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

func benchmarkInferMLP(b *testing.B, ctx context.Context) {
	m, err := inferkit.Open(fixture("mlp.onnx"), inferkit.WithInstances(2))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	x := inferkit.NewTensor(make([]float32, 16), 1, 16)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Infer(ctx, inferkit.Inputs{"x": x}); err != nil {
			b.Fatal(err)
		}
	}
}

// A context that is never cancelled: nothing to watch.
func BenchmarkInferMLP(b *testing.B) { benchmarkInferMLP(b, context.Background()) }

// A context that can be cancelled, as an HTTP handler's: the request carries a cancel token
// that the context cancels.
func BenchmarkInferMLPCancellable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	benchmarkInferMLP(b, ctx)
}
