//go:build inferkit_dynamic

package inferkit

// Dynamic linking (-tags inferkit_dynamic): libinferkit.so through pkg-config's inferkit.pc. The
// program then needs libinferkit.so at run time (the prefix's lib/ on the loader's path, or an
// rpath: CGO_LDFLAGS="-Wl,-rpath,$PREFIX/lib").

// #cgo pkg-config: inferkit
import "C"
