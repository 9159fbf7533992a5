//! The library's version, the C ABI's version, and ONNX Runtime's initialisation.

use std::ffi::{c_char, CString};
use std::sync::OnceLock;

use super::{c_str, guard, guard_value, inferkit_error, to_cstring, write_opt};
use crate::error::ErrorCode;
use crate::runtime::Runtime;

/// The C ABI's major version (`INFERKIT_ABI_VERSION_MAJOR`): raised when a function, type or
/// number of the header changes or goes away. A host built against one major version must not run
/// with a library of another.
pub const ABI_VERSION_MAJOR: u32 = 1;
/// The C ABI's minor version (`INFERKIT_ABI_VERSION_MINOR`): raised when functions or enum values
/// are added. A library serves every host built with the same major and a minor up to its own.
pub const ABI_VERSION_MINOR: u32 = 2;

/// \brief inferkit's version as text.
///
/// \return "MAJOR.MINOR.PATCH", equal to INFERKIT_VERSION_STRING for a matching header.
///
/// Ownership: the string is static.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_version() -> *const c_char {
    static VERSION: OnceLock<CString> = OnceLock::new();
    guard_value(c"".as_ptr(), || {
        VERSION.get_or_init(|| to_cstring(crate::VERSION)).as_ptr()
    })
}

/// \brief inferkit's version as a number, to compare with INFERKIT_VERSION_NUMBER.
///
/// \return MAJOR * 10000 + MINOR * 100 + PATCH.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_version_number() -> u32 {
    guard_value(0, || version_number(crate::VERSION))
}

fn version_number(version: &str) -> u32 {
    let mut parts = version
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor, patch) = (
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
        parts.next().unwrap_or(0),
    );
    major * 10000 + minor * 100 + patch
}

/// \brief The version of the C ABI this library implements.
///
/// inferkit_abi_compatible does the check a host needs; see "ABI promises" at the top of this
/// header.
///
/// \param major_out Receives the ABI's major version; may be NULL.
/// \param minor_out Receives the ABI's minor version; may be NULL.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_abi_version(major_out: *mut u32, minor_out: *mut u32) {
    guard_value((), || {
        write_opt(major_out, ABI_VERSION_MAJOR);
        write_opt(minor_out, ABI_VERSION_MINOR);
    })
}

/// \brief Whether this library serves a host built with a header of ABI `built_major`.`built_minor`.
///
/// A host calls it once at start-up with the header's macros:
/// `inferkit_abi_compatible(INFERKIT_ABI_VERSION_MAJOR, INFERKIT_ABI_VERSION_MINOR)`.
///
/// \param built_major INFERKIT_ABI_VERSION_MAJOR of the host's header.
/// \param built_minor INFERKIT_ABI_VERSION_MINOR of the host's header.
/// \return True when the majors are equal and the library's minor is at least `built_minor`.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_abi_compatible(built_major: u32, built_minor: u32) -> bool {
    // (`built_minor <= ABI_VERSION_MINOR`, written so that it stays a comparison while the minor
    // is 0.)
    guard_value(false, || {
        built_major == ABI_VERSION_MAJOR && ABI_VERSION_MINOR.checked_sub(built_minor).is_some()
    })
}

/// \brief Loads ONNX Runtime for the process.
///
/// Optional: opening a model does it on first use. Calling it again is cheap; asking for another
/// library than the one loaded is INFERKIT_STATUS_RUNTIME_ALREADY_INITIALIZED.
///
/// \param dylib_path The ONNX Runtime library to load (NUL-terminated UTF-8), or NULL to look it
///        up: INFERKIT_ORT_DYLIB, ORT_DYLIB_PATH, the system loader (Linux: libonnxruntime.so.1 on
///        LD_LIBRARY_PATH, the program's rpath, ldconfig; Apple: libonnxruntime.dylib; Android:
///        libonnxruntime.so; not asked on Windows), the directory of libinferkit and its
///        inferkit/ subdirectory (where `make install` puts it), the executable's directory (and
///        an app bundle's Frameworks directory), inferkit's per-user cache.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_RUNTIME_UNAVAILABLE with every path tried in the
///         message; INFERKIT_STATUS_RUNTIME_ALREADY_INITIALIZED.
///
/// Ownership: `dylib_path` is read during the call only; the caller owns `*error_out`.
/// Thread safety: thread-safe.
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

/// \brief The version of the loaded ONNX Runtime.
///
/// \return "1.31.1", …; NULL before the runtime is loaded.
///
/// Ownership: the string is static.
/// Thread safety: thread-safe.
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

/// \brief The path of the loaded ONNX Runtime library, as discovery found it.
///
/// \return An absolute path; NULL before the runtime is loaded.
///
/// Ownership: the string is static.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_runtime_ort_path() -> *const c_char {
    static PATH: OnceLock<CString> = OnceLock::new();
    guard_value(std::ptr::null(), || match Runtime::get() {
        Some(rt) => PATH
            .get_or_init(|| to_cstring(&rt.dylib_path().to_string_lossy()))
            .as_ptr(),
        None => std::ptr::null(),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_number_reads_major_minor_patch() {
        assert_eq!(super::version_number("0.1.0"), 100);
        assert_eq!(super::version_number("1.2.3"), 10203);
        assert_eq!(super::version_number("2.0.1-rc.1"), 20001);
    }

    #[test]
    fn abi_compatibility_is_same_major_and_no_newer_minor() {
        use super::{
            inferkit_abi_compatible as ok, ABI_VERSION_MAJOR as M, ABI_VERSION_MINOR as m,
        };
        assert!(ok(M, m));
        assert!(ok(M, 0));
        assert!(
            !ok(M, m + 1),
            "a host built for a newer minor needs functions this lacks"
        );
        assert!(!ok(M + 1, 0));
        assert!(!ok(M.wrapping_sub(1), m));
    }
}
