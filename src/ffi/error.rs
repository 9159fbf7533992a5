//! `inferkit_error`: the owned error object, and status names.

use std::ffi::{c_char, CString};

use super::{guard_value, to_cstring};
use crate::error::ErrorCode;

/// An error returned through an `inferkit_error **error_out` parameter: a status code and a
/// message naming what to fix. Owned by the caller; release it with `inferkit_error_free`.
pub struct inferkit_error {
    code: ErrorCode,
    message: CString,
}

pub(crate) fn new(code: ErrorCode, message: String) -> *mut inferkit_error {
    Box::into_raw(Box::new(inferkit_error {
        code,
        message: to_cstring(&message),
    }))
}

/// The status code of `error` (an `inferkit_status`), or INFERKIT_STATUS_NULL_ARGUMENT if `error` is NULL.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_error_code(error: *const inferkit_error) -> ErrorCode {
    guard_value(ErrorCode::Panic, || {
        // SAFETY: NULL or an error from inferkit that has not been freed.
        unsafe { error.as_ref() }.map_or(ErrorCode::NullArgument, |e| e.code)
    })
}

/// The message of `error`, NUL-terminated UTF-8, or "" if `error` is NULL. The string belongs to
/// `error` and lives until `inferkit_error_free(error)`. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_error_message(error: *const inferkit_error) -> *const c_char {
    guard_value(c"".as_ptr(), || {
        // SAFETY: NULL or an error from inferkit that has not been freed.
        unsafe { error.as_ref() }.map_or(c"".as_ptr(), |e| e.message.as_ptr())
    })
}

/// Releases an error. `inferkit_error_free(NULL)` does nothing.
#[no_mangle]
pub extern "C" fn inferkit_error_free(error: *mut inferkit_error) {
    guard_value((), || {
        if !error.is_null() {
            // SAFETY: `error` came from `Box::into_raw` in this module and is freed once.
            drop(unsafe { Box::from_raw(error) });
        }
    })
}

/// The name of a status code as the header spells it without its prefix ("OK", "DTYPE_MISMATCH",
/// …), or "UNKNOWN" for a number that is not a status. The string is static. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_status_name(status: u32) -> *const c_char {
    guard_value(c"UNKNOWN".as_ptr(), || match ErrorCode::from_u32(status) {
        Some(code) => static_name(code),
        None => c"UNKNOWN".as_ptr(),
    })
}

fn static_name(code: ErrorCode) -> *const c_char {
    use std::sync::OnceLock;
    static NAMES: OnceLock<Vec<(ErrorCode, CString)>> = OnceLock::new();
    let names = NAMES.get_or_init(|| {
        ErrorCode::ALL
            .iter()
            .map(|c| (*c, to_cstring(&c.name().to_ascii_uppercase())))
            .collect()
    });
    names
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(c"UNKNOWN".as_ptr(), |(_, s)| s.as_ptr())
}
