package inferkit_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

// runPack runs the inputs of <name>.inputs.tpk and compares every output with
// <name>.outputs.tpk: names, order, dtypes, shapes and data.
func runPack(t *testing.T, m *inferkit.Model, name string) {
	t.Helper()
	in, want := readPack(t, name+".inputs.tpk"), readPack(t, name+".outputs.tpk")
	inputs := inferkit.Inputs{}
	for _, p := range in {
		inputs[p.Name] = p.tensor()
	}
	out, err := m.Infer(context.Background(), inputs)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if out.Len() != len(want) {
		t.Fatalf("%s: %d outputs, want %d", name, out.Len(), len(want))
	}
	for i, w := range want {
		if got := out.Names()[i]; got != w.Name {
			t.Fatalf("%s: output %d is %s, want %s", name, i, got, w.Name)
		}
		dtype, shape, data, err := out.Raw(w.Name)
		if err != nil {
			t.Fatalf("%s.%s: %v", name, w.Name, err)
		}
		if dtype != w.DType || !slices.Equal(shape, w.Shape) {
			t.Fatalf("%s.%s: %v%v, want %v%v", name, w.Name, dtype, shape, w.DType, w.Shape)
		}
		if dtype == inferkit.Float32 {
			if !closeTo(packTensor{Data: data}.floats(), w.floats()) {
				t.Fatalf("%s.%s: values differ from the reference", name, w.Name)
			}
		} else if !bytes.Equal(data, w.Data) {
			t.Fatalf("%s.%s: bytes differ from the reference", name, w.Name)
		}
	}
}

func TestOutputsEqualReferences(t *testing.T) {
	for _, name := range []string{"mlp", "mlp_large", "mlp_v2", "two_io", "identity_all", "tiny_cnn", "gather", "int_bool", "f16"} {
		t.Run(name, func(t *testing.T) {
			m, err := inferkit.Open(fixture(name + ".onnx"))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			runPack(t, m, name)
		})
	}
}

func TestTypedTensorsAndOutputs(t *testing.T) {
	m, err := inferkit.Open(fixture("two_io.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	features := []float32{1, 2, 3, 4, 5, 6}
	offsets := []int64{10, 20}
	out, err := m.Infer(context.Background(), inferkit.Inputs{
		"features": inferkit.NewTensor(features, 2, 3),
		"offsets":  inferkit.NewTensor(offsets), // 1-D by default
	})
	if err != nil {
		t.Fatal(err)
	}
	sum, shape, err := inferkit.Output[float32](out, "sum")
	if err != nil || !slices.Equal(shape, []int64{2, 3}) || !slices.Equal(sum, []float32{11, 12, 13, 24, 25, 26}) {
		t.Fatalf("sum = %v %v %v", sum, shape, err)
	}
	doubled, shape, err := inferkit.Output[int64](out, "doubled")
	if err != nil || !slices.Equal(shape, []int64{2}) || !slices.Equal(doubled, []int64{20, 40}) {
		t.Fatalf("doubled = %v %v %v", doubled, shape, err)
	}
	// the wrong Go type for an output's dtype, and a name that is not there
	_, _, err = inferkit.Output[int32](out, "sum")
	wantCode(t, err, inferkit.CodeDtypeMismatch, "f32, not i32")
	_, _, err = inferkit.Output[float32](out, "nope")
	wantCode(t, err, inferkit.CodeUnknownOutput, "nope")
	if kind, dt, sh, err := out.Info("doubled"); err != nil || kind != inferkit.KindTensor || dt != inferkit.Int64 || !slices.Equal(sh, []int64{2}) {
		t.Fatalf("info: %v %v %v %v", kind, dt, sh, err)
	}
	// only some outputs, in the order asked
	out, err = m.Infer(context.Background(), inferkit.Inputs{
		"features": inferkit.NewTensor(features, 2, 3), "offsets": inferkit.NewTensor(offsets),
	}, inferkit.WithOutputs("doubled"))
	if err != nil || !slices.Equal(out.Names(), []string{"doubled"}) {
		t.Fatalf("WithOutputs: %v %v", out, err)
	}
	// the input slices may change once Infer has returned: the outputs are copies
	features[0] = 100
	if sum[0] != 11 {
		t.Fatal("outputs alias the inputs")
	}
}

func TestSignature(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp_large.onnx"), inferkit.WithName("big"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Name() != "big" || m.Version() != 0 {
		t.Fatalf("name %q version %d", m.Name(), m.Version())
	}
	in, out := m.Inputs(), m.Outputs()
	if len(in) != 1 || in[0].Name != "x" || in[0].DType != inferkit.Float32 || !slices.Equal(in[0].Shape, []int64{-1, 256}) ||
		in[0].DimNames[0] != "batch" || in[0].Kind != inferkit.KindTensor || in[0].Type != "f32[batch, 256]" {
		t.Fatalf("inputs %+v", in)
	}
	if len(out) != 1 || out[0].Name != "y" || !slices.Equal(out[0].Shape, []int64{-1, 10}) {
		t.Fatalf("outputs %+v", out)
	}
	if inferkit.Version() == "" || inferkit.RuntimeVersion() == "" || inferkit.RuntimePath() == "" {
		t.Fatalf("versions: %q %q %q", inferkit.Version(), inferkit.RuntimeVersion(), inferkit.RuntimePath())
	}
}

func TestOpenBytes(t *testing.T) {
	data, err := os.ReadFile(fixture("mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := inferkit.OpenBytes("from-memory", data, inferkit.WithInstances(1))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Name() != "from-memory" {
		t.Fatalf("name %q", m.Name())
	}
	runPack(t, m, "mlp")
	if s, err := m.Stats(); err != nil || s.Instances != 1 || s.RequestsRun != 1 || s.Idle != 1 {
		t.Fatalf("stats %+v %v", s, err)
	}
}

func TestStringTensors(t *testing.T) {
	m, err := inferkit.Open(fixture("values/strings.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	out, err := m.Infer(context.Background(), inferkit.Inputs{"words": inferkit.NewStringTensor([]string{"cat", "dog", "emu\x00x"})})
	if err != nil {
		t.Fatal(err)
	}
	plural, shape, err := out.Strings("plural")
	if err != nil || !slices.Equal(plural, []string{"cats", "dogs", "emu\x00xs"}) || !slices.Equal(shape, []int64{3}) {
		t.Fatalf("plural %q %v %v", plural, shape, err)
	}
	ids, _, err := inferkit.Output[int64](out, "ids")
	if err != nil || !slices.Equal(ids, []int64{1, 2, -1}) {
		t.Fatalf("ids %v %v", ids, err)
	}
	_, _, err = out.Strings("ids")
	wantCode(t, err, inferkit.CodeDtypeMismatch, "not string")
	_, _, _, err = out.Raw("plural")
	wantCode(t, err, inferkit.CodeDtypeMismatch, "Strings")
	// a count that is not the shape's
	_, err = m.Infer(context.Background(), inferkit.Inputs{"words": inferkit.NewStringTensor([]string{"cat"}, 2)})
	wantCode(t, err, inferkit.CodeInvalidArgument, "")
}

func TestMetrics(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp.onnx"), inferkit.WithName("metered"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	runPack(t, m, "mlp")
	text, err := m.MetricsPrometheus()
	if err != nil || !strings.Contains(text, `inferkit_inference_request_success_total{model="metered"`) {
		t.Fatalf("metrics: %v\n%s", err, text)
	}
	js, err := m.MetricsJSON()
	if err != nil || !strings.Contains(js, `"requests_success":1`) {
		t.Fatalf("json: %v %s", err, js)
	}
}

// The backend: Auto runs on ONNX Runtime where it loads; tract where the linked library has it
// (answering as ONNX Runtime does), ErrUnsupported where it does not.
func TestBackends(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp.onnx"), inferkit.WithBackend(inferkit.BackendAuto))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if b, err := m.Backend(); err != nil || b != inferkit.BackendONNXRuntime {
		t.Fatalf("Auto chose %v (%v), want onnxruntime", b, err)
	}
	if !inferkit.BackendAvailable(inferkit.BackendONNXRuntime) || inferkit.BackendAvailable(inferkit.Backend(42)) {
		t.Fatal("BackendAvailable")
	}
	if _, err := inferkit.Open(fixture("mlp.onnx"), inferkit.WithBackend(inferkit.Backend(42))); !errors.Is(err, inferkit.ErrInvalidArgument) {
		t.Fatalf("unknown backend: %v", err)
	}
	fixed, err := inferkit.Open(fixture("mlp.onnx"), inferkit.WithInputShape("x", 3, 16))
	if err != nil {
		t.Fatal(err)
	}
	if got := fixed.Inputs()[0].Shape; !slices.Equal(got, []int64{3, 16}) {
		t.Fatalf("fixed shape: %v", got)
	}
	fixed.Close()
	if _, err := inferkit.Open(fixture("mlp.onnx"), inferkit.WithInputShape("x", -1, 16)); !errors.Is(err, inferkit.ErrInvalidArgument) {
		t.Fatalf("a negative size: %v", err)
	}
	m.Close()
	if _, err := m.Backend(); !errors.Is(err, inferkit.ErrClosed) {
		t.Fatalf("Backend after Close: %v", err)
	}
	tract, err := inferkit.Open(fixture("mlp.onnx"), inferkit.WithBackend(inferkit.BackendTract))
	// make test-go runs this test once more against the debug library, which has tract.
	if os.Getenv("INFERKIT_GO_EXPECT_TRACT") == "1" && !inferkit.BackendAvailable(inferkit.BackendTract) {
		t.Fatal("the linked library lacks tract")
	}
	if !inferkit.BackendAvailable(inferkit.BackendTract) {
		if !errors.Is(err, inferkit.ErrUnsupported) {
			t.Fatalf("tract from a library without it: %v, want ErrUnsupported", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	defer tract.Close()
	if b, _ := tract.Backend(); b != inferkit.BackendTract {
		t.Fatalf("backend %v", b)
	}
	runPack(t, tract, "mlp")
}

// A *Tensor alone is the input of a model with one input: the same outputs as the tensor named
// in Inputs, on the one-cgo-call path (no options) and on the request path (options); a model
// with more inputs, and a nil *Tensor, are typed errors.
func TestTensorAloneIsTheOnlyInput(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	for i := 0; i < 3; i++ {
		x := make([]float32, 2*16)
		for j := range x {
			x[j] = float32((i*7+j)%11)/4 - 1
		}
		named, err := m.Infer(ctx, inferkit.Inputs{"x": inferkit.NewTensor(x, 2, 16)})
		if err != nil {
			t.Fatal(err)
		}
		want, wantShape, _ := inferkit.Output[float32](named, "y")
		for _, opts := range [][]inferkit.RunOption{nil, {inferkit.WithTimeout(time.Minute)}, {inferkit.WithOutputs("y")}} {
			alone, err := m.Infer(ctx, inferkit.NewTensor(x, 2, 16), opts...)
			if err != nil {
				t.Fatalf("options %d: %v", len(opts), err)
			}
			got, shape, err := inferkit.Output[float32](alone, "y")
			if err != nil || !slices.Equal(got, want) || !slices.Equal(shape, wantShape) {
				t.Fatalf("options %d: %v %v (%v), want %v %v", len(opts), got, shape, err, want, wantShape)
			}
		}
	}
	_, err = m.Infer(ctx, (*inferkit.Tensor)(nil))
	wantCode(t, err, inferkit.CodeNullArgument, "nil *Tensor")

	two, err := inferkit.Open(fixture("int_bool.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer two.Close()
	_, err = two.Infer(ctx, inferkit.NewTensor([]int64{1, 2, 3, 4}, 1, 4))
	wantCode(t, err, inferkit.CodeInvalidArgument, "has 2 inputs")
}

// RunEstimate is 0 before any run, then what runs took; a closed model is ErrClosed.
func TestRunEstimate(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	if d, err := m.RunEstimate(1); err != nil || d != 0 {
		t.Fatalf("before any run: %v, %v", d, err)
	}
	x := inferkit.NewTensor(make([]float32, 16), 1, 16)
	for i := 0; i < 3; i++ {
		if _, err := m.Infer(context.Background(), x); err != nil {
			t.Fatal(err)
		}
	}
	if d, err := m.RunEstimate(1); err != nil || d <= 0 || d > time.Second {
		t.Fatalf("after three runs: %v, %v", d, err)
	}
	m.Close()
	if _, err := m.RunEstimate(1); !errors.Is(err, inferkit.ErrClosed) {
		t.Fatalf("closed: %v", err)
	}
}
