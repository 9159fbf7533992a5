// Package harness runs the same single-row inference through inferkit's Go binding and through
// github.com/yalue/onnxruntime_go, for the benchmarks of this module and its load generator.
package harness

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	inferkit "github.com/inferkit/inferkit/bindings/go"
	ort "github.com/yalue/onnxruntime_go"
)

// Spec is one benchmark model: a file with one f32 input and one f32 output, run one row per
// call.
type Spec struct {
	Name     string
	Path     string
	Input    string
	Output   string
	RowShape []int64 // one row's dims, without the batch dim
	// Batching is the inferkit batch size to open it with (1: off).
	Batching int
	// BatchDelay is how long inferkit may wait for a fuller batch (0: never).
	BatchDelay time.Duration
}

// RowElems is the number of elements in one row.
func (s Spec) RowElems() int {
	n := 1
	for _, d := range s.RowShape {
		n *= int(d)
	}
	return n
}

// Shape is the shape of a one-row input.
func (s Spec) Shape() []int64 { return append([]int64{1}, s.RowShape...) }

// Specs returns the benchmark models under the repository root.
func Specs(root string) map[string]Spec {
	fx := filepath.Join(root, "tests", "fixtures")
	return map[string]Spec{
		"mlp":       {Name: "mlp", Path: filepath.Join(fx, "mlp.onnx"), Input: "x", Output: "y", RowShape: []int64{16}, Batching: 1},
		"mlp_large": {Name: "mlp_large", Path: filepath.Join(fx, "mlp_large.onnx"), Input: "x", Output: "y", RowShape: []int64{256}, Batching: 32},
		"ppocr_cls": {Name: "ppocr_cls", Path: filepath.Join(root, "target", "models", "ch_ppocr_mobile_v2.0_cls_infer.onnx"),
			Input: "x", Output: "", RowShape: []int64{3, 48, 192}, Batching: 1},
	}
}

// RepoRoot finds the repository root from the working directory (benches/go or below).
func RepoRoot() string {
	if d := os.Getenv("INFERKIT_REPO"); d != "" {
		return d
	}
	dir, _ := os.Getwd()
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "include", "inferkit.h")); err == nil {
			return d
		}
	}
	return filepath.Join(dir, "..", "..")
}

// Caller runs one row and returns the output row. Each goroutine of a load test uses its own
// Caller; Callers of one Backend may share sessions.
type Caller interface {
	Call(ctx context.Context, row []float32) ([]float32, error)
	Close()
}

// Backend makes Callers.
type Backend interface {
	Name() string
	NewCaller() (Caller, error)
	Close()
}

var (
	ortOnce sync.Once
	ortErr  error
)

// InitORT loads ONNX Runtime from ortPath for both libraries, so the process holds one copy:
// inferkit first (inferkit_runtime_init with that file), then onnxruntime_go (dlopen of the same
// file, which the loader finds already loaded, and its own OrtEnv).
func InitORT(ortPath string) error {
	ortOnce.Do(func() {
		if err := inferkit.InitRuntime(ortPath); err != nil {
			ortErr = fmt.Errorf("inferkit runtime: %w", err)
			return
		}
		ort.SetSharedLibraryPath(ortPath)
		if err := ort.InitializeEnvironment(); err != nil {
			ortErr = fmt.Errorf("onnxruntime_go environment: %w", err)
		}
	})
	return ortErr
}

// OutputName finds the spec's output name (the model's first output when the spec has none).
func OutputName(s Spec) (string, error) {
	if s.Output != "" {
		return s.Output, nil
	}
	m, err := inferkit.Open(s.Path, inferkit.WithInstances(1))
	if err != nil {
		return "", err
	}
	defer m.Close()
	outs := m.Outputs()
	if len(outs) == 0 {
		return "", errors.New("model has no outputs")
	}
	return outs[0].Name, nil
}

// ---- inferkit ----

type ikBackend struct {
	m     *inferkit.Model
	spec  Spec
	name  string
	named bool // the input named in inferkit.Inputs, not the tensor alone
}

// NewInferkitNamed is NewInferkit with every request's tensor named in inferkit.Inputs (a map
// per request), as a request to a model with several inputs is made.
func NewInferkitNamed(s Spec, instances int) (Backend, error) {
	b, err := NewInferkit(s, instances)
	if err != nil {
		return nil, err
	}
	ik := b.(*ikBackend)
	ik.named, ik.name = true, ik.name+" (Inputs)"
	return ik, nil
}

// NewInferkit opens the spec's model with inferkit: intra-op threads 1, `instances` sessions
// (0: inferkit's default), batching as the spec says, a queue of 16384.
func NewInferkit(s Spec, instances int) (Backend, error) {
	// A queue for every goroutine of the load test (the default holds 1024).
	opts := []inferkit.Option{inferkit.WithThreads(1, 1), inferkit.WithMaxQueueSize(16384)}
	if instances > 0 {
		opts = append(opts, inferkit.WithInstances(instances))
	}
	name := "inferkit"
	if s.Batching > 1 {
		opts = append(opts, inferkit.WithBatching(s.Batching, s.BatchDelay))
		name += " (batch " + strconv.Itoa(s.Batching) + ")"
	}
	m, err := inferkit.Open(s.Path, opts...)
	if err != nil {
		return nil, err
	}
	if s.Output == "" {
		s.Output = m.Outputs()[0].Name
	}
	return &ikBackend{m: m, spec: s, name: name}, nil
}

func (b *ikBackend) Name() string { return b.name }

// MetricsJSON is the inferkit model's metrics as JSON.
func (b *ikBackend) MetricsJSON() (string, error) { return b.m.MetricsJSON() }

// Stats are the inferkit model's scheduler counters.
func (b *ikBackend) Stats() (inferkit.Stats, error) { return b.m.Stats() }
func (b *ikBackend) Close()                         { b.m.Close() }
func (b *ikBackend) NewCaller() (Caller, error) {
	return &ikCaller{b: b, shape: b.spec.Shape()}, nil
}

type ikCaller struct {
	b     *ikBackend
	shape []int64
}

func (c *ikCaller) Call(ctx context.Context, row []float32) ([]float32, error) {
	// The model's one input: the tensor alone, or named in Inputs (NewInferkitNamed).
	var in inferkit.Input = inferkit.NewTensor(row, c.shape...)
	if c.b.named {
		in = inferkit.Inputs{c.b.spec.Input: inferkit.NewTensor(row, c.shape...)}
	}
	out, err := c.b.m.Infer(ctx, in)
	if err != nil {
		return nil, err
	}
	y, _, err := inferkit.Output[float32](out, c.b.spec.Output)
	return y, err
}

func (c *ikCaller) Close() {}

// ---- onnxruntime_go ----

func ortSession(s Spec) (*ort.DynamicAdvancedSession, error) {
	opts, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer opts.Destroy()
	if err := opts.SetIntraOpNumThreads(1); err != nil {
		return nil, err
	}
	if err := opts.SetInterOpNumThreads(1); err != nil {
		return nil, err
	}
	return ort.NewDynamicAdvancedSession(s.Path, []string{s.Input}, []string{s.Output}, opts)
}

type ortBackend struct {
	spec       Spec
	shared     *ort.DynamicAdvancedSession // nil: a session per caller
	mu         sync.Mutex
	perCaller  []*ort.DynamicAdvancedSession
	outputDims []int64
}

// NewORTShared makes onnxruntime_go callers that share one DynamicAdvancedSession (ONNX
// Runtime allows concurrent Run calls on one session).
func NewORTShared(s Spec) (Backend, error) {
	var err error
	if s.Output, err = OutputName(s); err != nil {
		return nil, err
	}
	sess, err := ortSession(s)
	if err != nil {
		return nil, err
	}
	return &ortBackend{spec: s, shared: sess}, nil
}

// NewORTPerCaller makes onnxruntime_go callers that each own a DynamicAdvancedSession.
func NewORTPerCaller(s Spec) (Backend, error) {
	var err error
	if s.Output, err = OutputName(s); err != nil {
		return nil, err
	}
	return &ortBackend{spec: s}, nil
}

func (b *ortBackend) Name() string {
	if b.shared != nil {
		return "onnxruntime_go shared session"
	}
	return "onnxruntime_go session per goroutine"
}

func (b *ortBackend) Close() {
	if b.shared != nil {
		b.shared.Destroy()
	}
	b.mu.Lock()
	for _, s := range b.perCaller {
		s.Destroy()
	}
	b.perCaller = nil
	b.mu.Unlock()
}

// NewCaller makes a caller with its own input and output tensors (reused by every call: the
// fastest way to use onnxruntime_go) and, per caller, its own session when not shared.
func (b *ortBackend) NewCaller() (Caller, error) {
	sess := b.shared
	if sess == nil {
		var err error
		if sess, err = ortSession(b.spec); err != nil {
			return nil, err
		}
		b.mu.Lock()
		b.perCaller = append(b.perCaller, sess)
		b.mu.Unlock()
	}
	in, err := ort.NewEmptyTensor[float32](ort.NewShape(b.spec.Shape()...))
	if err != nil {
		return nil, err
	}
	return &ortCaller{sess: sess, in: in}, nil
}

type ortCaller struct {
	sess *ort.DynamicAdvancedSession
	in   *ort.Tensor[float32]
	out  ort.Value
}

func (c *ortCaller) Call(_ context.Context, row []float32) ([]float32, error) {
	copy(c.in.GetData(), row)
	outputs := []ort.Value{c.out}
	if err := c.sess.Run([]ort.Value{c.in}, outputs); err != nil {
		return nil, err
	}
	c.out = outputs[0] // allocated by the first run, reused afterwards
	t, ok := c.out.(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("output is %T", c.out)
	}
	return append([]float32(nil), t.GetData()...), nil
}

func (c *ortCaller) Close() {
	c.in.Destroy()
	if c.out != nil {
		c.out.Destroy()
	}
}

// ---- process ----

// OSThreads returns the process's OS thread count (/proc/self/status), or -1.
func OSThreads() int {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	return -1
}

// Row makes a deterministic input row.
func Row(s Spec, seed int) []float32 {
	row := make([]float32, s.RowElems())
	for i := range row {
		row[i] = float32((i*7+seed*13)%97)/97.0 - 0.5
	}
	return row
}

// GOMAXPROCS is runtime.GOMAXPROCS(0), for reports.
func GOMAXPROCS() int { return runtime.GOMAXPROCS(0) }
