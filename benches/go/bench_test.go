package benches

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/inferkit/inferkit/benches/go/harness"
)

var ortLib = flag.String("ort", "", "ONNX Runtime library (default: <repo>/target/onnxruntime/libonnxruntime.so.1.31.1)")

func setup(b *testing.B, model string) harness.Spec {
	root := harness.RepoRoot()
	path := *ortLib
	if path == "" {
		path = filepath.Join(root, "target", "onnxruntime", "libonnxruntime.so.1.31.1")
	}
	if err := harness.InitORT(path); err != nil {
		b.Fatal(err)
	}
	spec, ok := harness.Specs(root)[model]
	if !ok {
		b.Fatalf("no model %s", model)
	}
	if _, err := os.Stat(spec.Path); err != nil {
		b.Skipf("%s: %v", model, err)
	}
	return spec
}

func benchOne(b *testing.B, backend harness.Backend, spec harness.Spec) {
	defer backend.Close()
	c, err := backend.NewCaller()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	row := harness.Row(spec, 1)
	ctx := context.Background()
	if _, err := c.Call(ctx, row); err != nil { // warm up
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Call(ctx, row); err != nil {
			b.Fatal(err)
		}
	}
}

// One goroutine, one row per call: per-call time of each library. inferkit passes the tensor
// alone, inferkit_inputs names it in inferkit.Inputs.
func BenchmarkSingle(b *testing.B) {
	for _, model := range []string{"mlp", "mlp_large", "ppocr_cls"} {
		for _, mk := range []struct {
			name string
			make func(harness.Spec) (harness.Backend, error)
		}{
			{"inferkit", func(s harness.Spec) (harness.Backend, error) { return harness.NewInferkit(s, 2) }},
			{"inferkit_inputs", func(s harness.Spec) (harness.Backend, error) { return harness.NewInferkitNamed(s, 2) }},
			{"onnxruntime_go", harness.NewORTShared},
		} {
			b.Run(model+"/"+mk.name, func(b *testing.B) {
				spec := setup(b, model)
				be, err := mk.make(spec)
				if err != nil {
					b.Fatal(err)
				}
				benchOne(b, be, spec)
			})
		}
	}
}

// Many goroutines (b.RunParallel, GOMAXPROCS × -cpu goroutines) on one model.
func BenchmarkParallel(b *testing.B) {
	for _, model := range []string{"mlp", "mlp_large"} {
		for _, mk := range []struct {
			name string
			make func(harness.Spec) (harness.Backend, error)
		}{
			{"inferkit", func(s harness.Spec) (harness.Backend, error) { return harness.NewInferkit(s, 2) }},
			{"onnxruntime_go_shared", harness.NewORTShared},
			{"onnxruntime_go_per_goroutine", harness.NewORTPerCaller},
		} {
			b.Run(model+"/"+mk.name, func(b *testing.B) {
				spec := setup(b, model)
				be, err := mk.make(spec)
				if err != nil {
					b.Fatal(err)
				}
				defer be.Close()
				b.SetParallelism(32)
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					c, err := be.NewCaller()
					if err != nil {
						b.Error(err)
						return
					}
					defer c.Close()
					row := harness.Row(spec, 2)
					for pb.Next() {
						if _, err := c.Call(context.Background(), row); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
