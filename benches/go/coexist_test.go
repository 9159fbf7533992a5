package benches

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/inferkit/inferkit/benches/go/harness"
	inferkit "github.com/inferkit/inferkit/bindings/go"
)

// inferkit (linked statically) and onnxruntime_go share one ONNX Runtime in the process: the
// same file, mapped once, each library with its environment, both running models.
func TestOneRuntimeForBoth(t *testing.T) {
	root := harness.RepoRoot()
	path := *ortLib
	if path == "" {
		path = filepath.Join(root, "target", "onnxruntime", "libonnxruntime.so.1.31.1")
	}
	if _, err := os.Stat(path); err != nil {
		t.Skip(err)
	}
	if err := harness.InitORT(path); err != nil {
		t.Fatal(err)
	}
	if inferkit.RuntimePath() != path {
		t.Fatalf("inferkit loaded %s", inferkit.RuntimePath())
	}
	spec := harness.Specs(root)["mlp"]
	row := harness.Row(spec, 3)
	var outs [2][]float32
	for i, mk := range []func(harness.Spec) (harness.Backend, error){
		func(s harness.Spec) (harness.Backend, error) { return harness.NewInferkit(s, 1) },
		harness.NewORTShared,
	} {
		be, err := mk(spec)
		if err != nil {
			t.Fatal(err)
		}
		c, err := be.NewCaller()
		if err != nil {
			t.Fatal(err)
		}
		if outs[i], err = c.Call(context.Background(), row); err != nil {
			t.Fatal(err)
		}
		c.Close()
		be.Close()
	}
	for j := range outs[0] {
		if outs[0][j] != outs[1][j] {
			t.Fatalf("inferkit %v, onnxruntime_go %v", outs[0], outs[1])
		}
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	files := map[string]bool{}
	for _, line := range strings.Split(string(maps), "\n") {
		if f := strings.Fields(line); len(f) >= 6 && strings.Contains(f[5], "libonnxruntime") {
			files[f[5]] = true
		}
	}
	if len(files) != 1 || !files[path] {
		t.Fatalf("ONNX Runtime files mapped: %v", files)
	}
}
