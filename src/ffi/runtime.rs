//! Library version and runtime initialisation.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use super::{c_str, guard, guard_value, inferkit_error, to_cstring};
use crate::error::ErrorCode;
use crate::runtime::Runtime;

/// inferkit's version, "MAJOR.MINOR.PATCH", equal to INFERKIT_VERSION_STRING for a matching
/// header. The string is static. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_version() -> *const c_char {
    static VERSION: OnceLock<CString> = OnceLock::new();
    guard_value(c"".as_ptr(), || {
        VERSION.get_or_init(|| to_cstring(crate::VERSION)).as_ptr()
    })
}

/// Initialises ONNX Runtime for the process. `dylib_path` is the library to load, or NULL to look
/// it up (INFERKIT_ORT_DYLIB, ORT_DYLIB_PATH, next to the executable, the provisioned copy).
/// Optional: opening a model initialises the runtime on first use. Calling it again is cheap;
/// asking for a different library than the one loaded is INFERKIT_STATUS_RUNTIME_ALREADY_INITIALIZED.
/// On INFERKIT_STATUS_RUNTIME_UNAVAILABLE the message names every path tried. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_runtime_init(
    dylib_path: *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        if dylib_path.is_null() {
            Runtime::init()?;
        } else {
            Runtime::init_from(c_str(dylib_path, "dylib_path")?)?;
        }
        Ok(())
    })
}

/// The version of the loaded ONNX Runtime ("1.31.1"), or NULL before the runtime is initialised.
/// The string is static. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_runtime_ort_version() -> *const c_char {
    static VERSION: OnceLock<CString> = OnceLock::new();
    guard_value(std::ptr::null(), || match Runtime::get() {
        Some(rt) => VERSION
            .get_or_init(|| to_cstring(rt.ort_version()))
            .as_ptr(),
        None => std::ptr::null(),
    })
}
