package inferkit

/*
#include <stdlib.h>
#include "inferkit.h"
*/
import "C"

import (
	"sync"
	"unsafe"
)

// takeError turns a failed status and the inferkit_error written with it into an *Error, and
// frees the C error. It returns nil for INFERKIT_STATUS_OK.
func takeError(status C.inferkit_status, cerr *C.inferkit_error) error {
	if status == C.INFERKIT_STATUS_OK {
		if cerr != nil { // never written on success
			C.inferkit_error_free(cerr)
		}
		return nil
	}
	return newError(status, cerr)
}

// newError is takeError for a status known to be a failure; it always returns an *Error.
func newError(status C.inferkit_status, cerr *C.inferkit_error) *Error {
	msg := ""
	if cerr != nil {
		msg = C.GoString(C.inferkit_error_message(cerr))
		C.inferkit_error_free(cerr)
	}
	return &Error{Code: Code(status), Message: msg}
}

var abiCheck = sync.OnceValue(func() error {
	if !C.inferkit_abi_compatible(C.INFERKIT_ABI_VERSION_MAJOR, C.INFERKIT_ABI_VERSION_MINOR) {
		var major, minor C.uint32_t
		C.inferkit_abi_version(&major, &minor)
		return errorf(CodeUnsupported, "libinferkit implements ABI %d.%d; this binding was built for %d.%d",
			major, minor, C.INFERKIT_ABI_VERSION_MAJOR, C.INFERKIT_ABI_VERSION_MINOR)
	}
	return nil
})

// Version returns the version of the linked inferkit library ("0.1.0").
func Version() string { return C.GoString(C.inferkit_version()) }

// InitRuntime loads ONNX Runtime for the process from the library at path, or, when path is "",
// from where inferkit looks it up: INFERKIT_ORT_DYLIB, ORT_DYLIB_PATH, the system loader (which
// sees the rpath that inferkit-static.pc adds), libinferkit's directory and its inferkit/
// subdirectory, the executable's directory. Calling it is optional: opening a model does the
// lookup. Use it to choose the library, for example the one another ONNX Runtime binding of
// the same process loads. Asking for another library than the loaded one returns
// ErrRuntimeAlreadyInitialized.
func InitRuntime(path string) error {
	if err := abiCheck(); err != nil {
		return err
	}
	var cpath *C.char
	if path != "" {
		cpath = C.CString(path)
		defer C.free(unsafe.Pointer(cpath))
	}
	var cerr *C.inferkit_error
	st := C.inferkit_runtime_init(cpath, &cerr)
	return takeError(st, cerr)
}

// RuntimeVersion returns the version of the loaded ONNX Runtime ("1.31.1"), or "" before it is
// loaded.
func RuntimeVersion() string {
	if s := C.inferkit_runtime_ort_version(); s != nil {
		return C.GoString(s)
	}
	return ""
}

// RuntimePath returns the path of the loaded ONNX Runtime library, or "" before it is loaded.
func RuntimePath() string {
	if s := C.inferkit_runtime_ort_path(); s != nil {
		return C.GoString(s)
	}
	return ""
}

// cStatusName is inferkit_status_name, for tests that compare Code.String with the library.
func cStatusName(c Code) string { return C.GoString(C.inferkit_status_name(C.uint32_t(c))) }

// takeString copies a string inferkit handed out and releases it with inferkit_string_free.
// ownedText runs a C call that hands out a string the caller frees, and returns a Go copy.
func ownedText(call func(out **C.char, cerr **C.inferkit_error) C.inferkit_status) (string, error) {
	var s *C.char
	var cerr *C.inferkit_error
	if err := takeError(call(&s, &cerr), cerr); err != nil {
		return "", err
	}
	return takeString(s), nil
}

func takeString(s *C.char) string {
	if s == nil {
		return ""
	}
	defer C.inferkit_string_free(s)
	return C.GoString(s)
}
