// Package inferkit is the Go binding of inferkit, an embeddable inference library on ONNX
// Runtime: models with a pool of sessions, request queueing and batching, deadlines and
// cancellation, pre- and post-processing pipelines, a versioned model repository and metrics.
//
// Open a model and run requests from any number of goroutines:
//
//	m, err := inferkit.Open("mlp.onnx", inferkit.WithInstances(2), inferkit.WithBatching(32, 0))
//	if err != nil { ... }
//	defer m.Close()
//	out, err := m.Infer(ctx, inferkit.Inputs{"x": inferkit.NewTensor(x, 1, 16)})
//	y, shape, err := inferkit.Output[float32](out, "y")
//
// A model with one input also takes the tensor alone, without a map of names:
// m.Infer(ctx, inferkit.NewTensor(x, 1, 16)).
//
// Requests take a context: its deadline becomes the request's deadline inside inferkit, and its
// cancellation withdraws or stops the request (see Model.Infer). Thousands of goroutines may
// wait at once without an OS thread each: a request to a model whose runs are short runs on its
// goroutine's thread, which the others wait for as for any running goroutine; a longer one is
// queued for inferkit's threads while its goroutine parks.
//
// Every error is an *Error with a Code mirroring the C ABI's inferkit_status; compare with the
// sentinels (errors.Is(err, inferkit.ErrQueueFull)) or read the Code with errors.As.
//
// Handles (Model, Registry) are safe for concurrent use and are released with Close, which may
// be called more than once; a cleanup closes a handle that becomes unreachable unclosed, as a
// safety net only. Inputs are copied into inferkit when a request is submitted, and outputs are
// copied into Go memory: no Go memory is lent to C beyond a call, and Outputs need no closing.
//
// Linking: libinferkit is linked statically by default, through pkg-config's inferkit-static
// (PKG_CONFIG_PATH=$PREFIX/lib/pkgconfig after `make install PREFIX=...`); build with
// -tags inferkit_dynamic to link libinferkit.so through inferkit.pc. ONNX Runtime is loaded at
// run time the way the C library finds it (see InitRuntime).
//
// The nested module github.com/inferkit/inferkit/bindings/go/promcollector exposes the metrics
// as a prometheus.Collector; this module itself has no dependencies.
package inferkit
