//! Where a process finds ONNX Runtime, with nothing set but what each case names: the system
//! loader (`LD_LIBRARY_PATH`), `inferkit/` beside the object holding inferkit, the per-user cache,
//! and the error when nothing is anywhere. Each case runs this test binary again as a child
//! process (the runtime is initialised once per process), from a directory with only what the case
//! puts there.
// Linux's loader and conventions (`LD_LIBRARY_PATH`, the SONAME link); the discovery order of the
// other systems is in `src/platform.rs`, compile-checked by `make check-platforms`.
#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::Command;

const CHILD: &str = "INFERKIT_LOOKUP_CHILD";
const LIB: &str = "libonnxruntime.so.1.31.1";

/// In a child: initialise the runtime and print where it came from, or the error.
#[test]
fn child() {
    if std::env::var_os(CHILD).is_none() {
        return;
    }
    match inferkit::Runtime::init() {
        Ok(rt) => println!("FOUND {}", rt.dylib_path().display()),
        Err(e) => println!("ERROR {:?} {e}", e.code()),
    }
}

/// The library this build found (the build script put it beside the test binaries).
fn ort() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let lib = exe.parent().unwrap().join(LIB);
    assert!(
        lib.is_file(),
        "the build script places {LIB} beside the tests"
    );
    lib
}

/// A scratch directory on the same file system as the test binary (so hard links work).
fn scratch(name: &str) -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe
        .parent()
        .unwrap()
        .join(format!("lookup-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn link(from: &Path, to: &Path) {
    std::fs::create_dir_all(to.parent().unwrap()).unwrap();
    std::fs::hard_link(from, to)
        .or_else(|_| std::fs::copy(from, to).map(|_| ()))
        .unwrap();
}

/// Runs a copy of this test binary that sits alone in `dir`, with a clean environment plus `env`.
fn run_child(dir: &Path, env: &[(&str, &Path)]) -> String {
    let exe = std::env::current_exe().unwrap();
    let copy = dir.join("lookup-child");
    if !copy.exists() {
        link(&exe, &copy);
    }
    let empty_home = dir.join("home");
    std::fs::create_dir_all(&empty_home).unwrap();
    let mut cmd = Command::new(&copy);
    cmd.args(["--exact", "child", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env(CHILD, "1")
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &empty_home);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "child failed: {text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The line reads `test child ... FOUND <path>` (or `ERROR <code> <message>`).
    text.lines()
        .find_map(|l| {
            l.find("FOUND ")
                .or_else(|| l.find("ERROR "))
                .map(|at| &l[at..])
        })
        .unwrap_or_else(|| panic!("child printed no result: {text}"))
        .to_string()
}

#[test]
fn nothing_anywhere_is_an_error_that_lists_every_place_and_how_to_fix_it() {
    let dir = scratch("none");
    let line = run_child(&dir, &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(line.starts_with("ERROR RuntimeUnavailable"), "{line}");
    for place in [
        "system loader `libonnxruntime.so.1`",
        "beside libinferkit",
        "libinferkit's inferkit/",
        "per-user cache",
        "set INFERKIT_ORT_DYLIB",
        "pip install --no-deps --only-binary=:all: --target",
        "onnxruntime==1.31.1",
    ] {
        assert!(line.contains(place), "missing {place:?} in {line}");
    }
    // The source tree's provisioned copy is not among the places tried.
    assert!(!line.contains("target/onnxruntime"), "{line}");
}

#[test]
fn the_system_loader_finds_it_on_ld_library_path() {
    let dir = scratch("loader");
    let libdir = dir.join("ortlib");
    std::fs::create_dir_all(&libdir).unwrap();
    link(&ort(), &libdir.join(LIB));
    std::os::unix::fs::symlink(LIB, libdir.join("libonnxruntime.so.1")).unwrap();
    let line = run_child(&dir, &[("LD_LIBRARY_PATH", &libdir)]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        line,
        format!("FOUND {}", libdir.join("libonnxruntime.so.1").display())
    );
}

#[test]
fn an_inferkit_directory_beside_the_object_holding_inferkit_is_found() {
    // This binary links inferkit statically, as a C program linked with libinferkit.a does:
    // `<its dir>/inferkit/` is where an install puts ONNX Runtime.
    let dir = scratch("own");
    link(&ort(), &dir.join("inferkit").join(LIB));
    let line = run_child(&dir, &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        line,
        format!("FOUND {}", dir.join("inferkit").join(LIB).display())
    );
}

#[test]
fn the_per_user_cache_is_found_last() {
    let dir = scratch("cache");
    let cache = dir.join("cache");
    let lib = cache.join("inferkit/ort-1.31.1/onnxruntime/capi").join(LIB);
    link(&ort(), &lib);
    let line = run_child(&dir, &[("XDG_CACHE_HOME", &cache)]);
    assert_eq!(line, format!("FOUND {}", lib.display()));
    // The environment variable comes first.
    let other = dir.join("elsewhere").join(LIB);
    link(&ort(), &other);
    let line = run_child(
        &dir,
        &[("XDG_CACHE_HOME", &cache), ("INFERKIT_ORT_DYLIB", &other)],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(line, format!("FOUND {}", other.display()));
}

#[test]
fn a_variable_that_names_no_library_is_the_error_not_a_fallback() {
    // A typo in INFERKIT_ORT_DYLIB (or ORT_DYLIB_PATH) must not quietly run another ONNX Runtime,
    // even with a good one in the cache and inside `inferkit/`.
    let dir = scratch("typo");
    let cache = dir.join("cache");
    link(
        &ort(),
        &cache.join("inferkit/ort-1.31.1/onnxruntime/capi").join(LIB),
    );
    link(&ort(), &dir.join("inferkit").join(LIB));
    let typo = dir.join("no-such-dir").join(LIB);
    for var in ["INFERKIT_ORT_DYLIB", "ORT_DYLIB_PATH"] {
        let line = run_child(&dir, &[("XDG_CACHE_HOME", &cache), (var, &typo)]);
        assert!(
            line.starts_with("ERROR RuntimeUnavailable"),
            "{var}: {line}"
        );
        assert!(
            line.contains(&format!("{var} `{}`", typo.display())),
            "{line}"
        );
        assert!(!line.contains("per-user cache"), "{var}: fell back: {line}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
