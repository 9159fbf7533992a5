package inferkit_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

func openRegistry(t *testing.T, opts ...inferkit.RegistryOption) *inferkit.Registry {
	t.Helper()
	r, err := inferkit.OpenRegistry(modelsDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// yOf runs the mlp reference inputs through m.
func yOf(t testing.TB, m *inferkit.Model) []float32 {
	t.Helper()
	x := readPack(t, "mlp.inputs.tpk")[0]
	out, err := m.Infer(context.Background(), inferkit.Inputs{"x": x.tensor()})
	if err != nil {
		t.Fatal(err)
	}
	y, _, err := inferkit.Output[float32](out, "y")
	if err != nil {
		t.Fatal(err)
	}
	return y
}

func TestRegistrySelection(t *testing.T) {
	r := openRegistry(t)
	v1, err := r.Version("classifier", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer v1.Close()
	v2, err := r.Version("classifier", 2)
	if err != nil {
		t.Fatal(err)
	}
	defer v2.Close()
	if v1.Version() != 1 || v2.Version() != 2 || v1.Name() != "classifier" {
		t.Fatalf("versions %d %d name %q", v1.Version(), v2.Version(), v1.Name())
	}
	runPack(t, v1, "mlp")    // version 1 has mlp's weights
	runPack(t, v2, "mlp_v2") // version 2 has mlp_v2's
	y1, y2 := yOf(t, v1), yOf(t, v2)
	if slices.Equal(y1, y2) {
		t.Fatal("both versions give the same outputs")
	}
	for label, want := range map[string]uint64{"stable": 1, "canary": 2} {
		m, err := r.Label("classifier", label)
		if err != nil {
			t.Fatal(err)
		}
		if m.Version() != want {
			t.Fatalf("label %s: version %d", label, m.Version())
		}
		m.Close()
	}
	def, err := r.Model("classifier")
	if err != nil || def.Version() != 2 {
		t.Fatalf("default: %v %v", def, err)
	}
	def.Close()
	// a routing key always gets the same version
	first, err := r.Route("classifier", "user-42")
	if err != nil {
		t.Fatal(err)
	}
	first.Close()
	for i := 0; i < 10; i++ {
		m, err := r.Route("classifier", "user-42")
		if err != nil || m.Version() != first.Version() {
			t.Fatalf("route: %v %v", m, err)
		}
		m.Close()
	}
	random, err := r.Route("classifier", "")
	if err != nil {
		t.Fatal(err)
	}
	random.Close()
	// a moved label: new selections follow it, a handle stays on its version
	pinned, err := r.Label("classifier", "stable")
	if err != nil {
		t.Fatal(err)
	}
	defer pinned.Close()
	if err := r.SetLabel("classifier", "stable", 2); err != nil {
		t.Fatal(err)
	}
	moved, err := r.Label("classifier", "stable")
	if err != nil || moved.Version() != 2 {
		t.Fatalf("moved label: %v %v", moved, err)
	}
	moved.Close()
	if !slices.Equal(yOf(t, pinned), y1) {
		t.Fatal("a selected model changed version")
	}
}

func TestRegistryErrors(t *testing.T) {
	_, err := inferkit.OpenRegistry(fixture("no-such-dir"))
	wantCode(t, err, inferkit.CodeRepositoryUnreadable, "no-such-dir")
	r := openRegistry(t)
	_, err = r.Model("nope")
	wantCode(t, err, inferkit.CodeUnknownModel, "nope")
	_, err = r.Label("classifier", "beta")
	wantCode(t, err, inferkit.CodeUnknownLabel, "beta")
	_, err = r.Version("classifier", 7)
	wantCode(t, err, inferkit.CodeUnknownVersion, "7")
	_, err = r.Version("classifier", 0)
	wantCode(t, err, inferkit.CodeInvalidArgument, "")
	_, err = r.Route("nope", "k")
	wantCode(t, err, inferkit.CodeUnknownModel, "nope")
	wantCode(t, r.SetLabel("classifier", "stable", 9), inferkit.CodeVersionNotReady, "9")
	wantCode(t, r.UnloadVersion("classifier", 2, false), inferkit.CodeLabelInUse, "")
	wantCode(t, r.Load("../x"), inferkit.CodeInvalidModelName, "../x")
	wantCode(t, r.Unload("nope"), inferkit.CodeUnknownModel, "nope")
	_, err = r.Model("bad\x00name")
	wantCode(t, err, inferkit.CodeInvalidArgument, "NUL")
}

func TestRegistryExplicitLoadingStatusAndMetrics(t *testing.T) {
	r := openRegistry(t, inferkit.WithExplicitLoading())
	if _, err := r.Model("classifier"); err == nil {
		t.Fatal("a model before loading")
	}
	if err := r.Load("classifier"); err != nil {
		t.Fatal(err)
	}
	m, err := r.Label("classifier", "stable")
	if err != nil {
		t.Fatal(err)
	}
	yOf(t, m)
	m.Close()
	if n, err := r.Reload(); err != nil || n != 0 {
		t.Fatalf("reload: %d failures, %v", n, err)
	}
	status, err := r.StatusJSON()
	if err != nil || !strings.Contains(status, `"classifier"`) || !strings.Contains(status, `"ready"`) {
		t.Fatalf("status: %v %s", err, status)
	}
	text, err := r.MetricsPrometheus()
	if err != nil || !strings.Contains(text, `inferkit_model_loads_total{model="classifier",version="1"}`) {
		t.Fatalf("metrics: %v\n%s", err, text)
	}
	if err := r.UnloadVersion("classifier", 2, true); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Version("classifier", 2); !errors.Is(err, inferkit.ErrUnknownVersion) {
		t.Fatalf("unloaded version: %v", err)
	}
	if err := r.Unload("classifier"); err != nil {
		t.Fatal(err)
	}
}

// Goroutines select and infer while others reload the repository and move labels: every
// request succeeds with its version's outputs.
func TestRegistryReloadUnderLoad(t *testing.T) {
	r := openRegistry(t)
	var refs [3][]float32
	for v := uint64(1); v <= 2; v++ {
		m, err := r.Version("classifier", v)
		if err != nil {
			t.Fatal(err)
		}
		refs[v] = yOf(t, m)
		m.Close()
	}
	x := readPack(t, "mlp.inputs.tpk")[0].tensor()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var requests, byVersion [3]atomic.Int64
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var m *inferkit.Model
				var err error
				switch i % 3 {
				case 0:
					m, err = r.Label("classifier", "stable")
				case 1:
					m, err = r.Route("classifier", "")
				default:
					m, err = r.Model("classifier")
				}
				if err != nil {
					t.Errorf("select: %v", err)
					return
				}
				out, err := m.Infer(context.Background(), inferkit.Inputs{"x": x})
				v := m.Version()
				m.Close()
				if err != nil {
					t.Errorf("infer on version %d: %v", v, err)
					return
				}
				y, _, _ := inferkit.Output[float32](out, "y")
				if v < 1 || v > 2 || !slices.Equal(y, refs[v]) {
					t.Errorf("version %d: outputs of another version", v)
					return
				}
				requests[i%3].Add(1)
				byVersion[v].Add(1)
			}
		}()
	}
	deadline := time.Now().Add(1500 * time.Millisecond)
	reloads := 0
	for time.Now().Before(deadline) {
		if n, err := r.Reload(); err != nil || n != 0 {
			t.Fatalf("reload: %d, %v", n, err)
		}
		if err := r.SetLabel("classifier", "stable", uint64(reloads%2+1)); err != nil {
			t.Fatal(err)
		}
		reloads++
	}
	close(stop)
	wg.Wait()
	total := requests[0].Load() + requests[1].Load() + requests[2].Load()
	t.Logf("%d requests (v1 %d, v2 %d) during %d reloads and label moves", total, byVersion[1].Load(), byVersion[2].Load(), reloads)
	if total == 0 || reloads == 0 || byVersion[1].Load() == 0 || byVersion[2].Load() == 0 {
		t.Fatal("no load, no reloads, or one version never served")
	}
}

// A Model keeps one C request between calls, and that request holds its model version loaded:
// Close lets it go, so that a version unloaded while a handle held it leaves the "unloading"
// state once that handle is closed.
func TestClosedModelLetsItsVersionGo(t *testing.T) {
	r := openRegistry(t)
	m, err := r.Version("classifier", 1)
	if err != nil {
		t.Fatal(err)
	}
	yOf(t, m) // one tensor: the request is kept for the next call
	if err := r.UnloadVersion("classifier", 1, true); err != nil {
		t.Fatal(err)
	}
	status := func() string {
		s, err := r.StatusJSON()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := status(); !strings.Contains(s, `"unloading"`) {
		t.Fatalf("version 1 is held by an open Model, yet: %s", s)
	}
	yOf(t, m) // still served through the open handle
	m.Close()
	if s := status(); strings.Contains(s, `"unloading"`) {
		t.Fatalf("version 1 is still held after its only Model was closed: %s", s)
	}
}
