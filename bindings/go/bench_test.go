package inferkit_test

import (
	"context"
	"testing"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

func BenchmarkInferMLP(b *testing.B) {
	m, err := inferkit.Open(fixture("mlp.onnx"), inferkit.WithInstances(2))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	x := inferkit.NewTensor(make([]float32, 16), 1, 16)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Infer(ctx, inferkit.Inputs{"x": x}); err != nil {
			b.Fatal(err)
		}
	}
}
