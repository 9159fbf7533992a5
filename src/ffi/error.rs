//! `inferkit_error`: the owned error object, status names, and strings inferkit hands out.

use std::ffi::{c_char, CString};

use super::ownership::{boxed, free_box, try_ref, Castable, Opaque, OwnershipBox};
use super::{guard_value, to_cstring};
use crate::error::ErrorCode;

/// An error: a status code and a message naming what to fix. Returned through the
/// `inferkit_error **error_out` parameter of a call that failed, or passed to a callback.
pub struct inferkit_error {
    _opaque: Opaque,
}

pub(crate) struct ErrorData {
    code: ErrorCode,
    message: CString,
}

impl Castable for inferkit_error {
    type Ownership = OwnershipBox;
    type RustType = ErrorData;
}

pub(crate) fn new(code: ErrorCode, message: String) -> *mut inferkit_error {
    boxed(ErrorData {
        code,
        message: to_cstring(&message),
    })
}

/// \brief The status code of an error.
///
/// \param error An error from inferkit, or NULL.
/// \return The error's `inferkit_status`; INFERKIT_STATUS_NULL_ARGUMENT for NULL.
///
/// Ownership: `error` stays the caller's.
/// Thread safety: thread-safe; an error is read-only.
#[no_mangle]
pub extern "C" fn inferkit_error_code(error: *const inferkit_error) -> ErrorCode {
    guard_value(ErrorCode::Panic, || {
        try_ref(error, "error").map_or(ErrorCode::NullArgument, |e| e.code)
    })
}

/// \brief The message of an error.
///
/// \param error An error from inferkit, or NULL.
/// \return NUL-terminated UTF-8 naming what went wrong and what to fix; "" for NULL.
///
/// Ownership: the string belongs to `error` and lives until inferkit_error_free(error).
/// Thread safety: thread-safe; an error is read-only.
#[no_mangle]
pub extern "C" fn inferkit_error_message(error: *const inferkit_error) -> *const c_char {
    guard_value(c"".as_ptr(), || {
        try_ref(error, "error").map_or(c"".as_ptr(), |e| e.message.as_ptr())
    })
}

/// \brief Releases an error.
///
/// \param error An error from inferkit, or NULL (nothing happens).
///
/// Ownership: takes `error` back from the caller; release each error once.
/// Thread safety: must not race with other calls on the same error.
#[no_mangle]
pub extern "C" fn inferkit_error_free(error: *mut inferkit_error) {
    guard_value((), || free_box(error))
}

/// \brief The name of a status code, as the header spells it without its prefix.
///
/// \param status A status number.
/// \return "OK", "DTYPE_MISMATCH", …; "UNKNOWN" for a number that is not a status.
///
/// Ownership: the string is static.
/// Thread safety: thread-safe.
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

/// Hands a string to the caller, who releases it with `inferkit_string_free`.
pub(crate) fn give_string(out: *mut *mut c_char, text: String) {
    super::write_opt(out, to_cstring(&text).into_raw());
}

/// \brief Releases a string inferkit returned (JSON, Prometheus text).
///
/// \param s A string from a call whose documentation says it is released here, or NULL
///        (nothing happens).
///
/// Ownership: takes `s` back from the caller; release each string once.
/// Thread safety: must not race with other uses of the same string.
#[no_mangle]
pub extern "C" fn inferkit_string_free(s: *mut c_char) {
    guard_value((), || {
        if !s.is_null() {
            // SAFETY: from CString::into_raw in `give_string`, released once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
