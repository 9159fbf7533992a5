//! Runtime discovery and one-time initialisation. The runtime is process-wide, so the steps run in
//! order inside one test (this file is its own process).
use std::path::PathBuf;

use inferkit::{Error, ErrorCode, Runtime};

#[test]
fn discovery_errors_then_init_then_refuses_a_second_library() {
    assert!(Runtime::get().is_none());

    // A missing library: an error naming the path, no panic.
    let err = Runtime::init_from("/nonexistent/libonnxruntime.so.1.31.1").unwrap_err();
    match &err {
        Error::RuntimeUnavailable { tried } => {
            assert_eq!(tried.len(), 1);
            assert_eq!(tried[0].source, "explicit");
            assert_eq!(
                tried[0].path,
                PathBuf::from("/nonexistent/libonnxruntime.so.1.31.1")
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.code(), ErrorCode::RuntimeUnavailable);
    // How to fix it names this platform's library and per-user cache (`%LOCALAPPDATA%` on
    // Windows, `~/.cache` on Linux).
    let cache = inferkit::runtime::cache_root().expect("HOME or LOCALAPPDATA is set");
    let message = err.to_string();
    assert!(message.contains(&cache.display().to_string()), "{message}");
    assert!(
        message.contains(inferkit::runtime::ORT_LIBRARY_NAME),
        "{message}"
    );
    if cfg!(windows) {
        let local = PathBuf::from(std::env::var_os("LOCALAPPDATA").expect("wine sets it"));
        assert!(cache.starts_with(local), "{}", cache.display());
    }

    // A file that is not a shared library at all.
    let not_a_lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let err = Runtime::init_from(&not_a_lib).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RuntimeUnavailable);
    assert!(err.to_string().contains("Cargo.toml"), "{err}");

    // A real shared library that is not ONNX Runtime: on Linux the C library this process runs
    // on, found in its memory map (any architecture, any distribution's layout); on Windows
    // kernel32.dll.
    let libc = if cfg!(windows) {
        std::env::var_os("SystemRoot")
            .map(|root| PathBuf::from(root).join("System32\\kernel32.dll"))
    } else {
        std::fs::read_to_string("/proc/self/maps")
            .ok()
            .and_then(|maps| {
                maps.lines()
                    .filter_map(|l| l.split_whitespace().nth(5))
                    .find(|p| p.contains("/libc.so") || p.contains("/libc-"))
                    .map(PathBuf::from)
            })
    }
    .filter(|p| p.is_file());
    assert!(
        libc.is_some() || !cfg!(any(target_os = "linux", windows)),
        "no C library (kernel32.dll) to try"
    );
    if let Some(libc) = libc {
        let err = Runtime::init_from(&libc).unwrap_err();
        assert!(err.to_string().contains("OrtGetApiBase"), "{err}");
    }
    assert!(
        Runtime::get().is_none(),
        "failed attempts leave the runtime uninitialised"
    );

    // Discovery then finds the provisioned library.
    let rt = Runtime::init().unwrap();
    assert_eq!(rt.ort_version(), "1.31.1");
    assert!(rt.dylib_path().is_absolute());

    // The same library again is fine; another one is refused with both paths named.
    assert!(std::ptr::eq(
        Runtime::init_from(rt.dylib_path()).unwrap(),
        rt
    ));
    let err = Runtime::init_from(&not_a_lib).unwrap_err();
    match &err {
        Error::RuntimeAlreadyInitialized { current, requested } => {
            assert_eq!(current, rt.dylib_path());
            assert_eq!(requested, &not_a_lib);
        }
        other => panic!("{other:?}"),
    }
}
