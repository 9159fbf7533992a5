package inferkit

/*
#include <stdlib.h>
#include "inferkit.h"
*/
import "C"

import (
	"time"
	"unsafe"
)

// OptimizationLevel is ONNX Runtime's graph optimisation level.
type OptimizationLevel uint32

// The optimisation levels (inferkit_optimization_level).
const (
	OptimizationDisabled OptimizationLevel = 0 // No graph rewrites.
	OptimizationBasic    OptimizationLevel = 1 // Constant folding, redundant node elimination.
	OptimizationExtended OptimizationLevel = 2 // Basic plus node fusions.
	OptimizationAll      OptimizationLevel = 3 // Everything (the default).
)

// ExecutionProvider names where a session runs. This build runs on the CPU provider; asking for
// another one fails with ErrUnsupported.
type ExecutionProvider uint32

// The execution providers (inferkit_execution_provider).
const (
	ProviderCPU      ExecutionProvider = 0 // ONNX Runtime's CPU provider.
	ProviderCUDA     ExecutionProvider = 1 // NVIDIA CUDA.
	ProviderTensorRT ExecutionProvider = 2 // NVIDIA TensorRT.
	ProviderCoreML   ExecutionProvider = 3 // Apple Core ML.
	ProviderDirectML ExecutionProvider = 4 // DirectML.
	ProviderOpenVINO ExecutionProvider = 5 // Intel OpenVINO.
	ProviderXNNPACK  ExecutionProvider = 6 // XNNPACK.
)

// Backend is the engine that runs a model's sessions (inferkit_backend).
type Backend uint32

// The backends.
const (
	BackendONNXRuntime Backend = 0 // ONNX Runtime (the default).
	BackendTract       Backend = 1 // tract, a pure-Rust ONNX engine, in libraries built with it.
	BackendAuto        Backend = 2 // ONNX Runtime when it can be loaded, tract when it cannot.
)

// String returns the backend's name as config.toml writes it.
func (b Backend) String() string {
	switch b {
	case BackendONNXRuntime:
		return "onnxruntime"
	case BackendTract:
		return "tract"
	case BackendAuto:
		return "auto"
	}
	return "unknown"
}

// BackendAvailable reports whether the linked libinferkit can run models on b (tract only in
// libraries built with the `tract` cargo feature). Whether ONNX Runtime itself loads is Init's
// answer.
func BackendAvailable(b Backend) bool {
	return bool(C.inferkit_backend_available(C.uint32_t(b)))
}

// Option configures how Open and OpenBytes load a model.
type Option func(*modelConfig)

type modelConfig struct {
	name                *string
	intraOp, interOp    int
	threadsSet          bool
	spinning            *bool
	optimization        *OptimizationLevel
	providers           []ExecutionProvider
	instances           int
	batchingSet         bool
	maxBatchSize        int
	maxQueueDelay       time.Duration
	maxQueueSize        int
	defaultTimeout      time.Duration
	preferredBatchSizes []int
	pipelineTOML        *string
	backend             *Backend
	inputShapes         []inputShape
}

type inputShape struct {
	name  string
	shape []int64
}

// WithBackend sets the engine that runs the model (default BackendONNXRuntime). Asking for tract
// from a library without it fails with ErrUnsupported; Model.Backend says which one BackendAuto
// chose.
func WithBackend(b Backend) Option { return func(c *modelConfig) { c.backend = &b } }

// WithInputShape fixes the shape input name always has: its dynamic dims take these sizes in
// the signature (fixed dims must match), and requests of another shape are refused. On the tract
// backend this lets a graph whose shapes are computed from dynamic dims load.
func WithInputShape(name string, shape ...int64) Option {
	return func(c *modelConfig) {
		c.inputShapes = append(c.inputShapes, inputShape{name, append([]int64(nil), shape...)})
	}
}

// WithName sets the model's name, used in errors and metrics (default: the file's name).
func WithName(name string) Option { return func(c *modelConfig) { c.name = &name } }

// WithThreads sets ONNX Runtime's intra-op and inter-op thread counts per session (default 1
// and 1).
func WithThreads(intraOp, interOp int) Option {
	return func(c *modelConfig) { c.intraOp, c.interOp, c.threadsSet = intraOp, interOp, true }
}

// WithSpinning turns spinning of ONNX Runtime's idle worker threads on or off (default off).
func WithSpinning(on bool) Option { return func(c *modelConfig) { c.spinning = &on } }

// WithOptimizationLevel sets the graph optimisation level (default OptimizationAll).
func WithOptimizationLevel(l OptimizationLevel) Option {
	return func(c *modelConfig) { c.optimization = &l }
}

// WithExecutionProviders appends execution providers to the preference list.
func WithExecutionProviders(p ...ExecutionProvider) Option {
	return func(c *modelConfig) { c.providers = append(c.providers, p...) }
}

// WithInstances sets how many ONNX Runtime sessions serve the model at once (default: the
// number of CPUs, at most 4).
func WithInstances(n int) Option { return func(c *modelConfig) { c.instances = n } }

// WithBatching turns on batching across requests: up to maxBatchSize rows (dim 0) per run,
// waiting up to maxQueueDelay for a fuller batch (0: never wait, run what is queued). Batching
// is off by default (a batch size of 1), since a dynamic dim 0 does not prove rows independent.
func WithBatching(maxBatchSize int, maxQueueDelay time.Duration) Option {
	return func(c *modelConfig) {
		c.batchingSet, c.maxBatchSize, c.maxQueueDelay = true, maxBatchSize, maxQueueDelay
	}
}

// WithPreferredBatchSizes sets the batch sizes worth waiting for under a timed batching policy
// (WithBatching with a delay).
func WithPreferredBatchSizes(sizes ...int) Option {
	return func(c *modelConfig) { c.preferredBatchSizes = append([]int(nil), sizes...) }
}

// WithMaxQueueSize bounds the requests waiting for a session (default 1024); a request beyond
// it fails at once with ErrQueueFull.
func WithMaxQueueSize(n int) Option {
	return func(c *modelConfig) { c.batchingSet, c.maxQueueSize = true, n }
}

// WithDefaultTimeout sets the timeout of requests that have no deadline of their own (neither
// from their context nor from WithTimeout). Requests past it fail with ErrDeadlineExceeded.
func WithDefaultTimeout(d time.Duration) Option {
	return func(c *modelConfig) { c.batchingSet, c.defaultTimeout = true, d }
}

// WithPipelineTOML gives the model a pipeline (pre- and post-processing): the body of a
// `[pipeline]` table as in a repository's config.toml. Label files are relative to the working
// directory.
func WithPipelineTOML(toml string) Option { return func(c *modelConfig) { c.pipelineTOML = &toml } }

// micros converts a duration to microseconds, rounding up; negative durations are 0.
func micros(d time.Duration) C.uint64_t {
	if d <= 0 {
		return 0
	}
	return C.uint64_t((d + time.Microsecond - 1) / time.Microsecond)
}

// build makes the C options; the caller frees them with inferkit_model_options_free.
func (c *modelConfig) build() (*C.inferkit_model_options, error) {
	var opts *C.inferkit_model_options
	var cerr *C.inferkit_error
	if err := takeError(C.inferkit_model_options_new(&opts, &cerr), cerr); err != nil {
		return nil, err
	}
	fail := func(st C.inferkit_status, cerr *C.inferkit_error) error {
		err := takeError(st, cerr)
		if err != nil {
			C.inferkit_model_options_free(opts)
		}
		return err
	}
	if c.name != nil {
		s, err := cString(*c.name, "name")
		if err != nil {
			C.inferkit_model_options_free(opts)
			return nil, err
		}
		err = fail(C.inferkit_model_options_set_name(opts, s, &cerr), cerr)
		C.free(unsafe.Pointer(s))
		if err != nil {
			return nil, err
		}
	}
	if c.threadsSet {
		if c.intraOp < 0 || c.interOp < 0 {
			C.inferkit_model_options_free(opts)
			return nil, errorf(CodeInvalidArgument, "thread counts must be positive (got %d, %d)", c.intraOp, c.interOp)
		}
		if err := fail(C.inferkit_model_options_set_threads(opts, C.size_t(c.intraOp), C.size_t(c.interOp), &cerr), cerr); err != nil {
			return nil, err
		}
	}
	if c.spinning != nil {
		if err := fail(C.inferkit_model_options_set_spinning(opts, C.bool(*c.spinning), &cerr), cerr); err != nil {
			return nil, err
		}
	}
	for _, in := range c.inputShapes {
		name, err := cString(in.name, "input name")
		if err != nil {
			C.inferkit_model_options_free(opts)
			return nil, err
		}
		var shape *C.int64_t
		if len(in.shape) > 0 {
			shape = (*C.int64_t)(unsafe.Pointer(&in.shape[0]))
		}
		st := C.inferkit_model_options_set_input_shape(opts, name, shape, C.size_t(len(in.shape)), &cerr)
		C.free(unsafe.Pointer(name))
		if err := fail(st, cerr); err != nil {
			return nil, err
		}
	}
	if c.backend != nil {
		if err := fail(C.inferkit_model_options_set_backend(opts, C.uint32_t(*c.backend), &cerr), cerr); err != nil {
			return nil, err
		}
	}
	if c.optimization != nil {
		if err := fail(C.inferkit_model_options_set_optimization_level(opts, C.uint32_t(*c.optimization), &cerr), cerr); err != nil {
			return nil, err
		}
	}
	for _, p := range c.providers {
		if err := fail(C.inferkit_model_options_add_execution_provider(opts, C.uint32_t(p), &cerr), cerr); err != nil {
			return nil, err
		}
	}
	if c.instances != 0 {
		if c.instances < 0 {
			C.inferkit_model_options_free(opts)
			return nil, errorf(CodeInvalidArgument, "instances must be positive (got %d)", c.instances)
		}
		if err := fail(C.inferkit_model_options_set_instances(opts, C.size_t(c.instances), &cerr), cerr); err != nil {
			return nil, err
		}
	}
	if c.batchingSet {
		batch, queue := c.maxBatchSize, c.maxQueueSize
		if batch == 0 {
			batch = 1
		}
		if queue == 0 {
			queue = 1024
		}
		if batch < 0 || queue < 0 || c.maxQueueDelay < 0 || c.defaultTimeout < 0 {
			C.inferkit_model_options_free(opts)
			return nil, errorf(CodeInvalidArgument, "batching options must not be negative")
		}
		st := C.inferkit_model_options_set_batching(opts, C.size_t(batch), micros(c.maxQueueDelay), C.size_t(queue), micros(c.defaultTimeout), &cerr)
		if err := fail(st, cerr); err != nil {
			return nil, err
		}
	}
	if len(c.preferredBatchSizes) > 0 {
		sizes := make([]C.size_t, len(c.preferredBatchSizes))
		for i, s := range c.preferredBatchSizes {
			if s < 0 {
				C.inferkit_model_options_free(opts)
				return nil, errorf(CodeInvalidArgument, "preferred batch sizes must be positive (got %d)", s)
			}
			sizes[i] = C.size_t(s)
		}
		if err := fail(C.inferkit_model_options_set_preferred_batch_sizes(opts, &sizes[0], C.size_t(len(sizes)), &cerr), cerr); err != nil {
			return nil, err
		}
	}
	if c.pipelineTOML != nil {
		s, err := cString(*c.pipelineTOML, "pipeline TOML")
		if err != nil {
			C.inferkit_model_options_free(opts)
			return nil, err
		}
		err = fail(C.inferkit_model_options_set_pipeline_toml(opts, s, &cerr), cerr)
		C.free(unsafe.Pointer(s))
		if err != nil {
			return nil, err
		}
	}
	return opts, nil
}
