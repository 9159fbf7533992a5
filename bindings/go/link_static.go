//go:build !inferkit_dynamic

package inferkit

// Static linking (the default): libinferkit.a, found through pkg-config's inferkit-static.pc,
// which also adds -lpthread -ldl -lm and an rpath to the directory where `make install` puts
// ONNX Runtime. Build with -tags inferkit_dynamic to link libinferkit.so instead.

// #cgo pkg-config: inferkit-static
import "C"
