//! What differs between the operating systems inferkit runs on, in one place: ONNX Runtime's file
//! names and where an application keeps its libraries, the system loader's search, the per-user
//! cache, which loaded object holds an address, and the clock C callers' absolute deadlines are
//! read on.
//!
//! | | Linux | Android | macOS, iOS | Windows |
//! |---|---|---|---|---|
//! | ONNX Runtime's file | `libonnxruntime.so.1.31.1` | `libonnxruntime.so` | `libonnxruntime.1.31.1.dylib` | `onnxruntime.dll` |
//! | asked of the loader | `libonnxruntime.so.1` (SONAME) | `libonnxruntime.so` | `@rpath/libonnxruntime.dylib` | (only full paths) |
//! | beside the application | executable's directory | APK's native library directory (the loader's) | `Contents/Frameworks/` (macOS bundle, Mac Catalyst), `Frameworks/` (iOS), `onnxruntime.framework` in either | executable's directory |
//! | per-user cache | `${XDG_CACHE_HOME:-~/.cache}/inferkit/` | as Linux | `~/Library/Caches/inferkit/` | `%LOCALAPPDATA%\inferkit\` |
//! | which object holds code | `dladdr` | `dladdr` | `dladdr` | `GetModuleHandleExW` |
//! | C deadlines' clock | `CLOCK_MONOTONIC` | as Linux | as Linux | `QueryPerformanceCounter` in ns |
//!
//! The file names are those of ONNX Runtime's own packages: the PyPI wheels (Linux, macOS,
//! Windows), the Android AAR (`jni/<abi>/libonnxruntime.so`) and the iOS framework.
//!
//! Windows asks the loader for nothing by bare name: its search reaches `System32`, where some
//! Windows releases keep an `onnxruntime.dll` of their own (an older one, for Windows ML). The
//! directories an application controls are tried, in full, instead. Apple's systems ask for
//! `@rpath/…`, which searches the `LC_RPATH` entries of the program and of libinferkit (and
//! `DYLD_LIBRARY_PATH`): a bare name would also search the current directory and `/usr/local/lib`.
//!
//! ONNX Runtime's official iOS pod is a static framework, which cannot be loaded at run time; an
//! iOS app ships a dynamic `onnxruntime.framework` (ONNX Runtime's `--build_apple_framework`
//! build) in its `Frameworks/`.

use std::path::{Path, PathBuf};

/// ONNX Runtime's file name on this platform, as its packages ship it.
#[cfg(target_os = "linux")]
pub(crate) const ORT_FILE: &str = "libonnxruntime.so.1.31.1";
#[cfg(target_os = "android")]
pub(crate) const ORT_FILE: &str = "libonnxruntime.so";
#[cfg(target_vendor = "apple")]
pub(crate) const ORT_FILE: &str = "libonnxruntime.1.31.1.dylib";
#[cfg(windows)]
pub(crate) const ORT_FILE: &str = "onnxruntime.dll";
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    windows
)))]
pub(crate) const ORT_FILE: &str = "libonnxruntime.so";

/// The name the system loader is asked for, when this platform asks it for one.
#[cfg(target_os = "linux")]
pub(crate) const LOADER_NAME: Option<&str> = Some("libonnxruntime.so.1");
#[cfg(target_os = "android")]
pub(crate) const LOADER_NAME: Option<&str> = Some("libonnxruntime.so");
#[cfg(target_vendor = "apple")]
pub(crate) const LOADER_NAME: Option<&str> = Some("@rpath/libonnxruntime.dylib");
#[cfg(windows)]
pub(crate) const LOADER_NAME: Option<&str> = None;
#[cfg(not(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple",
    windows
)))]
pub(crate) const LOADER_NAME: Option<&str> = Some("libonnxruntime.so");

/// Where the system loader looks, for error messages.
#[cfg(target_os = "linux")]
pub(crate) const LOADER_SEARCH: &str = "LD_LIBRARY_PATH, the program's rpath or the ld.so cache";
#[cfg(target_os = "android")]
pub(crate) const LOADER_SEARCH: &str = "the app's native library directory or LD_LIBRARY_PATH";
#[cfg(target_vendor = "apple")]
pub(crate) const LOADER_SEARCH: &str = "the LC_RPATH entries of the program and libinferkit";
#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
pub(crate) const LOADER_SEARCH: &str = "the system loader's search path";

/// The link name an install or ONNX Runtime's own archive puts beside the file, tried first in a
/// directory.
#[cfg(target_os = "linux")]
const LINK_NAME: Option<&str> = Some("libonnxruntime.so.1");
#[cfg(target_vendor = "apple")]
const LINK_NAME: Option<&str> = Some("libonnxruntime.dylib");
#[cfg(not(any(target_os = "linux", target_vendor = "apple")))]
const LINK_NAME: Option<&str> = None;

/// The names tried in a directory, in order: the link name, the file's own name, and on Apple's
/// systems the framework.
pub(crate) fn names_in_dir() -> Vec<PathBuf> {
    let mut names: Vec<PathBuf> = LINK_NAME.iter().map(PathBuf::from).collect();
    names.push(PathBuf::from(ORT_FILE));
    // Apple's packages ship ONNX Runtime as a framework too (the iOS one only as a framework).
    if cfg!(target_vendor = "apple") {
        names.push(Path::new("onnxruntime.framework").join("onnxruntime"));
    }
    names
}

/// Directories an application of this platform keeps its libraries in, given its executable's
/// directory (beside the executable itself, which every platform tries).
pub(crate) fn app_library_dirs(exe_dir: &Path) -> Vec<PathBuf> {
    if cfg!(any(target_os = "macos", target_abi = "macabi")) {
        // `App.app/Contents/MacOS/App` keeps libraries in `App.app/Contents/Frameworks/` (Mac
        // Catalyst apps too, though their target_os is "ios").
        exe_dir
            .parent()
            .map(|contents| vec![contents.join("Frameworks")])
            .unwrap_or_default()
    } else if cfg!(target_vendor = "apple") {
        // iOS, tvOS, visionOS: `App.app/App` keeps them in `App.app/Frameworks/`.
        vec![exe_dir.join("Frameworks")]
    } else {
        Vec::new()
    }
}

/// Whether the system loader is asked before the directories: where it also finds a library the
/// host already loaded and follows the host's own configuration (rpath, `LD_LIBRARY_PATH`). Not on
/// Windows (see the module docs).
pub(crate) const LOADER_FIRST: bool = !cfg!(windows);

/// The base of inferkit's per-user cache on this platform (`inferkit/` is added by the caller).
pub(crate) fn user_cache_base() -> Option<PathBuf> {
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let home = || std::env::var_os("HOME").and_then(absolute);
    if cfg!(windows) {
        std::env::var_os("LOCALAPPDATA").and_then(absolute)
    } else if cfg!(target_vendor = "apple") {
        home().map(|h| h.join("Library").join("Caches"))
    } else {
        std::env::var_os("XDG_CACHE_HOME")
            .and_then(absolute)
            .or_else(|| home().map(|h| h.join(".cache")))
    }
}

/// The absolute path of the loaded object (shared library or executable) that holds `addr`.
#[cfg(unix)]
pub(crate) fn loaded_from(addr: *const std::ffi::c_void) -> Option<PathBuf> {
    let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
    // SAFETY: dladdr reads the loader's tables for an address and writes `info`; it returns 0
    // when no loaded object holds the address, and then `info` is not read.
    let info = unsafe {
        if libc::dladdr(addr, info.as_mut_ptr()) == 0 {
            return None;
        }
        info.assume_init()
    };
    if info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is the loader's NUL-terminated path of the object, valid while it is loaded.
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    use std::os::unix::ffi::OsStrExt;
    normalized(Path::new(std::ffi::OsStr::from_bytes(name.to_bytes())))
}

/// The absolute path of the loaded module (DLL or executable) that holds `addr`.
#[cfg(windows)]
pub(crate) fn loaded_from(addr: *const std::ffi::c_void) -> Option<PathBuf> {
    use std::os::windows::ffi::OsStringExt;
    use windows_sys::Win32::System::LibraryLoader::{
        GetModuleFileNameW, GetModuleHandleExW, GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS,
        GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
    };
    let mut module = std::ptr::null_mut();
    // SAFETY: with FROM_ADDRESS the name argument is an address inside a module; UNCHANGED_REFCOUNT
    // takes no reference, so nothing is to be released. `module` is a valid out-pointer.
    let found = unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT,
            addr.cast(),
            &mut module,
        )
    };
    if found == 0 {
        return None;
    }
    let mut buf = vec![0u16; 260];
    loop {
        // SAFETY: `buf` holds `buf.len()` u16s; the call writes at most that many and returns the
        // count written (without the NUL), or the size itself when the name was cut short.
        let n = unsafe { GetModuleFileNameW(module, buf.as_mut_ptr(), buf.len() as u32) } as usize;
        if n == 0 {
            return None;
        }
        if n < buf.len() {
            buf.truncate(n);
            break;
        }
        if buf.len() >= 1 << 15 {
            return None;
        }
        buf.resize(buf.len() * 2, 0);
    }
    // A module's path is already absolute and without `..`; canonicalizing it would give the
    // `\\?\` form, which compares unequal to the executable's path and reads badly in errors.
    let path = PathBuf::from(std::ffi::OsString::from_wide(&buf));
    (!path.as_os_str().is_empty()).then_some(path)
}

#[cfg(not(any(unix, windows)))]
pub(crate) fn loaded_from(_addr: *const std::ffi::c_void) -> Option<PathBuf> {
    None
}

/// An absolute path, with its directory canonical and the file's own name kept.
#[cfg(unix)]
fn normalized(path: &Path) -> Option<PathBuf> {
    if path.as_os_str().is_empty() {
        return None;
    }
    let path = std::path::absolute(path).ok()?;
    // A loader path may run through `..` (an rpath of `<prefix>/lib/pkgconfig/../../lib`): name
    // the directory as it is, keeping the file's own name (the SONAME link, not its target).
    match (path.parent().map(Path::canonicalize), path.file_name()) {
        (Some(Ok(dir)), Some(name)) => Some(dir.join(name)),
        _ => Some(path),
    }
}

/// CLOCK_MONOTONIC now, in nanoseconds (the clock C callers' absolute deadlines are read on).
#[cfg(unix)]
pub(crate) fn monotonic_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write to.
    if unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) } != 0 {
        return None;
    }
    Some(
        (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64),
    )
}

/// Windows' monotonic clock, QueryPerformanceCounter, in nanoseconds: `count × 10⁹ / frequency`,
/// the reading MSVC's and MinGW's `std::chrono::steady_clock` give (and winpthreads'
/// `clock_gettime(CLOCK_MONOTONIC)`).
#[cfg(windows)]
pub(crate) fn monotonic_ns() -> Option<u64> {
    use windows_sys::Win32::System::Performance::{
        QueryPerformanceCounter, QueryPerformanceFrequency,
    };
    let (mut count, mut frequency) = (0i64, 0i64);
    // SAFETY: both are valid out-pointers; the calls cannot fail on Windows XP and later.
    let read = unsafe {
        QueryPerformanceFrequency(&mut frequency) != 0 && QueryPerformanceCounter(&mut count) != 0
    };
    if !read || frequency <= 0 || count < 0 {
        return None;
    }
    let ns =
        u128::from(count.unsigned_abs()) * 1_000_000_000 / u128::from(frequency.unsigned_abs());
    Some(u64::try_from(ns).unwrap_or(u64::MAX))
}

/// No monotonic clock a C caller shares elsewhere (WebAssembly): C callers there give timeouts.
#[cfg(not(any(unix, windows)))]
pub(crate) fn monotonic_ns() -> Option<u64> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ORT_VERSION;

    #[test]
    fn names_in_a_directory_start_with_the_link_name_and_hold_the_package_file() {
        let names = names_in_dir();
        if let Some(link) = LINK_NAME {
            assert_eq!(names[0], Path::new(link));
        }
        assert!(names.contains(&PathBuf::from(ORT_FILE)), "{names:?}");
        // The packages of Linux and Apple's systems name the version; Android's and Windows' not.
        if cfg!(any(target_os = "linux", target_vendor = "apple")) {
            assert!(ORT_FILE.contains(ORT_VERSION), "{ORT_FILE}");
        }
    }
}
