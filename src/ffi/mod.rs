//! The C ABI, and nothing else: a thin layer over the Rust API (`include/inferkit.h` is generated
//! from these files by cbindgen).
//!
//! This module holds what every exported function shares: the panic boundary, the error object,
//! and the checks on pointers that come from C. One file per concept follows.
// Handle types keep C's lower-case names (`inferkit_model`), which cbindgen copies into the header.
#![allow(non_camel_case_types)]
// The exported functions are meant for C, where every call is unchecked: they are not `unsafe fn`
// in Rust (as in rustls-ffi), and instead check every pointer against NULL and document the
// lifetime each pointer must have.
#![allow(clippy::not_unsafe_ptr_arg_deref)]

use std::ffi::{c_char, CStr, CString};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::error::{Error, ErrorCode, Result};

// The modules in the order the header presents them (cbindgen follows this order).
pub(crate) mod ownership;
// Version, ABI version, ONNX Runtime.
pub mod runtime;
// Errors, status names, strings.
pub mod error;
// Options for loading a model.
pub mod options;
// Models: open, share, describe, metrics.
pub mod model;
// Values: tensors, sequences, maps, optionals.
pub mod value;
// Requests: inputs, pipeline inputs, options; run or submit.
pub mod request;
// Outputs and classes.
pub mod outputs;
// The versioned model repository.
pub mod registry;

pub use error::inferkit_error;

/// Runs `body` inside the panic boundary. A returned error, or a caught panic, becomes a status
/// and, if `error_out` is not NULL, an `inferkit_error` written there.
pub(crate) fn guard(
    error_out: *mut *mut inferkit_error,
    body: impl FnOnce() -> Result<()>,
) -> ErrorCode {
    let (code, message) = match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => return ErrorCode::Ok,
        Ok(Err(e)) => (e.code(), e.to_string()),
        Err(panic) => (
            ErrorCode::Panic,
            format!(
                "inferkit panicked (this is a bug): {}",
                panic_message(&panic)
            ),
        ),
    };
    if !error_out.is_null() {
        // SAFETY: the caller passes NULL or a valid `inferkit_error **`.
        unsafe { *error_out = error::new(code, message) };
    }
    code
}

/// Runs `body` inside the panic boundary for a function without a status: a panic returns `fallback`.
pub(crate) fn guard_value<T>(fallback: T, body: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or(fallback)
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = panic.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".into()
    }
}

/// Checks that an out-parameter is not NULL before any work is done.
pub(crate) fn out<T>(ptr: *mut T, name: &'static str) -> Result<*mut T> {
    if ptr.is_null() {
        Err(Error::NullArgument { name })
    } else {
        Ok(ptr)
    }
}

/// Writes a plain value (or a pointer the caller does not own) to an out-parameter that may be
/// NULL. Objects the caller would own go through [`hand_over`].
pub(crate) fn write_opt<T>(ptr: *mut T, value: T) {
    if !ptr.is_null() {
        // SAFETY: non-NULL out-parameters point to writable storage for a `T`.
        unsafe { ptr.write(value) };
    }
}

/// A UTF-8 string from a NUL-terminated C string that must not be NULL.
pub(crate) fn c_str<'a>(ptr: *const c_char, name: &'static str) -> Result<&'a str> {
    if ptr.is_null() {
        return Err(Error::NullArgument { name });
    }
    // SAFETY: non-NULL and NUL-terminated per the documented contract.
    unsafe { CStr::from_ptr(ptr) }
        .to_str()
        .map_err(|_| Error::InvalidArgument {
            name,
            reason: "not valid UTF-8".into(),
        })
}

/// A slice from C: `len == 0` is empty whatever the pointer; otherwise the pointer must not be NULL.
pub(crate) fn c_slice<'a, T>(ptr: *const T, len: usize, name: &'static str) -> Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(Error::NullArgument { name });
    }
    // No object in memory is larger than isize::MAX bytes: a larger length is a wrong argument
    // (and would be undefined behaviour in `from_raw_parts`).
    if len
        .checked_mul(std::mem::size_of::<T>())
        .is_none_or(|bytes| bytes > isize::MAX as usize)
    {
        return Err(Error::InvalidArgument {
            name,
            reason: format!("{len} elements is more than memory can hold"),
        });
    }
    // SAFETY: the caller guarantees `len` readable elements at `ptr`; the length is in range.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A C string for a Rust string that holds no NUL (names read from models never do; a NUL would
/// be replaced rather than panic).
pub(crate) fn to_cstring(s: &str) -> CString {
    CString::new(s.replace('\0', "\u{FFFD}")).unwrap_or_default()
}
