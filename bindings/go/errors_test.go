package inferkit_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	inferkit "github.com/inferkit/inferkit/bindings/go"
)

func TestErrorType(t *testing.T) {
	err := error(&inferkit.Error{Code: inferkit.CodeQueueFull, Message: "model `m`: 4 waiting"})
	wrapped := fmt.Errorf("serving: %w", err)
	if !errors.Is(wrapped, inferkit.ErrQueueFull) || errors.Is(wrapped, inferkit.ErrCancelled) {
		t.Fatal("errors.Is compares codes")
	}
	var e *inferkit.Error
	if !errors.As(wrapped, &e) || e.Code != inferkit.CodeQueueFull || e.Message != "model `m`: 4 waiting" {
		t.Fatalf("errors.As: %+v", e)
	}
	if err.Error() != "inferkit: QUEUE_FULL: model `m`: 4 waiting" {
		t.Fatalf("Error() = %q", err.Error())
	}
	if inferkit.CodeDtypeMismatch.String() != "DTYPE_MISMATCH" || inferkit.Code(999).String() != "Code(999)" {
		t.Fatal("Code.String")
	}
	if !errors.Is(inferkit.ErrClosed, inferkit.ErrNullArgument) {
		t.Fatal("ErrClosed has NULL_ARGUMENT's code")
	}
}

// Every error a Go user can make a model hit, with its code and a word of its message.
func TestRequestErrors(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	x := make([]float32, 16)
	cases := []struct {
		name   string
		in     inferkit.Input
		opts   []inferkit.RunOption
		code   inferkit.Code
		needle string
	}{
		{"unknown input", inferkit.Inputs{"x": inferkit.NewTensor(x, 1, 16), "z": inferkit.NewTensor(x, 1, 16)}, nil, inferkit.CodeUnknownInput, "z"},
		{"missing input", inferkit.Inputs{}, nil, inferkit.CodeMissingInput, "x"},
		{"dtype mismatch", inferkit.Inputs{"x": inferkit.NewTensor(make([]float64, 16), 1, 16)}, nil, inferkit.CodeDtypeMismatch, "f64"},
		{"rank mismatch", inferkit.Inputs{"x": inferkit.NewTensor(x, 16)}, nil, inferkit.CodeRankMismatch, "x"},
		{"dim mismatch", inferkit.Inputs{"x": inferkit.NewTensor(x, 2, 8)}, nil, inferkit.CodeDimMismatch, "x"},
		{"byte length", inferkit.Inputs{"x": inferkit.NewTensor(x[:15], 1, 16)}, nil, inferkit.CodeByteLengthMismatch, "x"},
		{"shape overflow", inferkit.Inputs{"x": inferkit.NewTensor(x, 1<<62, 16)}, nil, inferkit.CodeShapeOverflow, ""},
		{"nil tensor", inferkit.Inputs{"x": nil}, nil, inferkit.CodeNullArgument, "nil"},
		{"NUL in a name", inferkit.Inputs{"x\x00": inferkit.NewTensor(x, 1, 16)}, nil, inferkit.CodeInvalidArgument, "NUL"},
		{"unknown output", inferkit.Inputs{"x": inferkit.NewTensor(x, 1, 16)}, []inferkit.RunOption{inferkit.WithOutputs("nope")}, inferkit.CodeUnknownOutput, "nope"},
		{"bool tensor bytes", inferkit.Inputs{"x": inferkit.NewRawTensor(inferkit.Bool, []byte{2}, 1)}, nil, inferkit.CodeDtypeMismatch, ""},
		{"text without a pipeline", inferkit.Text("hello"), nil, inferkit.CodePipelineConfig, ""},
		{"nil input", nil, nil, inferkit.CodeNullArgument, "nil"},
		{"nil image", inferkit.Image(nil), nil, inferkit.CodeNullArgument, "nil"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, err := m.Infer(ctx, c.in, c.opts...)
			if out != nil {
				t.Fatal("outputs with an error")
			}
			wantCode(t, err, c.code, c.needle)
		})
	}
	// A refused request leaves the model serving.
	runPack(t, m, "mlp")
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name   string
		open   func() (*inferkit.Model, error)
		code   inferkit.Code
		needle string
	}{
		{"no such file", func() (*inferkit.Model, error) { return inferkit.Open(fixture("no-such.onnx")) }, inferkit.CodeModelNotFound, "no-such.onnx"},
		{"a directory", func() (*inferkit.Model, error) { return inferkit.Open(dir) }, inferkit.CodeModelUnreadable, ""},
		{"corrupt", func() (*inferkit.Model, error) { return inferkit.Open(fixture("corrupt.onnx")) }, inferkit.CodeInvalidModel, ""},
		{"empty", func() (*inferkit.Model, error) { return inferkit.Open(fixture("empty.onnx")) }, inferkit.CodeInvalidModel, ""},
		{"truncated", func() (*inferkit.Model, error) { return inferkit.Open(fixture("truncated.onnx")) }, inferkit.CodeInvalidModel, ""},
		{"garbage bytes", func() (*inferkit.Model, error) { return inferkit.OpenBytes("junk", []byte("not a model")) }, inferkit.CodeInvalidModel, ""},
		{"no bytes", func() (*inferkit.Model, error) { return inferkit.OpenBytes("", nil) }, inferkit.CodeInvalidModel, ""},
		{"NUL in path", func() (*inferkit.Model, error) { return inferkit.Open("a\x00b") }, inferkit.CodeInvalidArgument, "NUL"},
		{"too many instances", func() (*inferkit.Model, error) {
			return inferkit.Open(fixture("mlp.onnx"), inferkit.WithInstances(1000))
		}, inferkit.CodeInvalidArgument, ""},
		{"zero threads", func() (*inferkit.Model, error) { return inferkit.Open(fixture("mlp.onnx"), inferkit.WithThreads(0, 1)) }, inferkit.CodeInvalidArgument, ""},
		{"batch too large", func() (*inferkit.Model, error) {
			return inferkit.Open(fixture("mlp.onnx"), inferkit.WithBatching(1<<20, 0))
		}, inferkit.CodeInvalidArgument, ""},
		{"provider", func() (*inferkit.Model, error) {
			return inferkit.Open(fixture("mlp.onnx"), inferkit.WithExecutionProviders(inferkit.ProviderCUDA))
		}, inferkit.CodeUnsupported, ""},
		{"pipeline TOML", func() (*inferkit.Model, error) {
			return inferkit.Open(fixture("mlp.onnx"), inferkit.WithPipelineTOML(`pre = [ { op = "blur" } ]`))
		}, inferkit.CodeConfig, "line 1"},
		{"pipeline misfit", func() (*inferkit.Model, error) {
			return inferkit.Open(fixture("tiny_cnn.onnx"), inferkit.WithPipelineTOML(`pre = [ { op = "layout", from = "hwc", to = "chw" } ]`))
		}, inferkit.CodePipelineConfig, "pre[0] Layout"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, err := c.open()
			if m != nil {
				m.Close()
				t.Fatal("a model with an error")
			}
			wantCode(t, err, c.code, c.needle)
		})
	}
}

func TestRuntimeAlreadyInitialized(t *testing.T) {
	m, err := inferkit.Open(fixture("mlp.onnx")) // loads the runtime if no test did yet
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := inferkit.InitRuntime(""); err != nil {
		t.Fatalf("init again: %v", err)
	}
	if err := inferkit.InitRuntime(inferkit.RuntimePath()); err != nil {
		t.Fatalf("init with the loaded library: %v", err)
	}
	other := t.TempDir() + "/libonnxruntime.so"
	if err := os.WriteFile(other, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	wantCode(t, inferkit.InitRuntime(other), inferkit.CodeRuntimeAlreadyInitialized, "")
}

func TestBoolTensors(t *testing.T) {
	m, err := inferkit.Open(fixture("int_bool.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	values := inferkit.NewTensor([]int64{-1, 2, 3, -4}, 1, 4)
	out, err := m.Infer(context.Background(), inferkit.Inputs{"values": values, "keep": inferkit.NewTensor([]bool{true, true, false, true}, 1, 4)})
	if err != nil {
		t.Fatal(err)
	}
	kept, _, err1 := inferkit.Output[int64](out, "kept")
	positive, _, err2 := inferkit.Output[bool](out, "positive")
	if err1 != nil || err2 != nil || fmt.Sprint(kept) != "[-1 2 0 -4]" || fmt.Sprint(positive) != "[false true true false]" {
		t.Fatalf("kept %v positive %v (%v, %v)", kept, positive, err1, err2)
	}
	// a bool byte other than 0 or 1
	_, err = m.Infer(context.Background(), inferkit.Inputs{"values": values, "keep": inferkit.NewRawTensor(inferkit.Bool, []byte{0, 1, 2, 0}, 1, 4)})
	wantCode(t, err, inferkit.CodeInvalidTensorData, "")
}

// No usable ONNX Runtime: checked in a child process (this one has it loaded already) that asks
// for a file that is not a library. (INFERKIT_ORT_DYLIB naming such a file is not enough: the
// lookup goes on to the library the rpath finds.)
func TestRuntimeUnavailable(t *testing.T) {
	if os.Getenv("INFERKIT_GO_TEST_CHILD") == "1" {
		err := inferkit.InitRuntime(os.Getenv("INFERKIT_GO_TEST_ORT"))
		var e *inferkit.Error
		if errors.As(err, &e) {
			fmt.Printf("code=%s\n", e.Code)
		} else {
			fmt.Printf("err=%v\n", err)
		}
		return
	}
	bogus := t.TempDir() + "/libonnxruntime.so.1"
	if err := os.WriteFile(bogus, []byte("not a library"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestRuntimeUnavailable$", "-test.count=1")
	cmd.Env = append(os.Environ(), "INFERKIT_GO_TEST_CHILD=1", "INFERKIT_GO_TEST_ORT="+bogus)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "code=RUNTIME_UNAVAILABLE") {
		t.Fatalf("child said:\n%s", out)
	}
}
