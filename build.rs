//! Generates the C header from `src/ffi/` with cbindgen, names the shared library, and puts
//! ONNX Runtime beside what cargo builds.
//!
//! The header is written to `$OUT_DIR/inferkit.h`. The committed copy, `include/inferkit.h`, is
//! compared with it by the test `tests/header.rs`; `make header` (or `INFERKIT_UPDATE_HEADER=1
//! cargo build`) refreshes the committed copy.
//!
//! On Linux, `libinferkit.so` gets the SONAME `libinferkit.so.<major>` (`libinferkit.so.0`), which
//! `make install` links to the versioned file.
//!
//! ONNX Runtime: when a copy is found at build time (`INFERKIT_ORT_DYLIB`, this source tree's
//! `target/onnxruntime/` as `.ci/provision-ort.sh` fills it, or inferkit's per-user cache; for a
//! cross build only `target/onnxruntime-<target>/`), it is
//! linked (or copied) into `target/<profile>/`, `deps/` and `examples/`, so that tests, examples
//! and a program shipped from `target/release/` find it beside the executable, as `ort`'s
//! `copy-dylibs` does. Nothing is downloaded, and no path is compiled into the library.
use std::path::{Path, PathBuf};

fn main() {
    soname();
    place_onnxruntime();

    // Exported types live outside src/ffi too (DType, ValueKind, PixelFormat, the bounds).
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    println!("cargo:rerun-if-env-changed=INFERKIT_UPDATE_HEADER");

    let crate_dir =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    let mut config = cbindgen::Config::from_file(crate_dir.join("cbindgen.toml"))
        .expect("cbindgen.toml is valid");
    let (major, minor, patch) = (
        std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version"),
        std::env::var("CARGO_PKG_VERSION_MINOR").expect("cargo sets the version"),
        std::env::var("CARGO_PKG_VERSION_PATCH").expect("cargo sets the version"),
    );
    let number = |v: &str| v.parse::<u32>().expect("numeric version part");
    let version_number = number(&major) * 10000 + number(&minor) * 100 + number(&patch);
    config.after_includes = Some(format!(
        r#"
#define INFERKIT_VERSION_MAJOR {major}
#define INFERKIT_VERSION_MINOR {minor}
#define INFERKIT_VERSION_PATCH {patch}
#define INFERKIT_VERSION_STRING "{major}.{minor}.{patch}"
/** MAJOR * 10000 + MINOR * 100 + PATCH, to compare with inferkit_version_number(). */
#define INFERKIT_VERSION_NUMBER {version_number}

/**
 * Marks every function of the C ABI. Defaults: default symbol visibility with GCC and Clang;
 * dllimport on Windows unless INFERKIT_STATIC is defined (static linking). Define INFERKIT_API
 * before including this header to override it.
 */
#ifndef INFERKIT_API
#  if defined(_WIN32) && !defined(INFERKIT_STATIC)
#    define INFERKIT_API __declspec(dllimport)
#  elif defined(__GNUC__) || defined(__clang__)
#    define INFERKIT_API __attribute__((visibility("default")))
#  else
#    define INFERKIT_API
#  endif
#endif
"#
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/inferkit.h");
    let generated = out_dir.join("inferkit.h");
    bindings.write_to_file(&generated);
    let text = std::fs::read_to_string(&generated).expect("read the generated header");
    std::fs::write(&generated, with_sections(&text)).expect("write the generated header");
    if std::env::var_os("INFERKIT_UPDATE_HEADER").is_some_and(|v| v == "1") {
        let committed = crate_dir.join("include").join("inferkit.h");
        std::fs::create_dir_all(committed.parent().expect("include/ has a parent"))
            .expect("create include/");
        std::fs::copy(&generated, &committed).expect("write include/inferkit.h");
    }
}

/// The header's sections, each named before its first function (the functions come in the order
/// of the modules in src/ffi/mod.rs).
const SECTIONS: &[(&str, &str)] = &[
    ("inferkit_version", "Version and ABI"),
    ("inferkit_runtime_init", "ONNX Runtime"),
    ("inferkit_error_code", "Errors and strings"),
    ("inferkit_model_options_new", "Model options"),
    ("inferkit_model_open", "Models"),
    ("inferkit_value_new_tensor", "Values"),
    ("inferkit_request_new", "Requests"),
    ("inferkit_outputs_count", "Outputs"),
    ("inferkit_registry_open", "Model repository"),
];

/// Puts a banner before the doc comment of each section's first function.
fn with_sections(header: &str) -> String {
    let mut lines: Vec<String> = header.lines().map(str::to_string).collect();
    for (first, title) in SECTIONS.iter().rev() {
        let (call, pointer) = (format!(" {first}("), format!("*{first}("));
        let at = lines
            .iter()
            .position(|l| {
                (l.contains(&call) || l.contains(&pointer)) && !l.trim_start().starts_with('*')
            })
            .unwrap_or_else(|| {
                panic!("build.rs: section `{title}` starts at `{first}`, which the header lacks")
            });
        let doc = (0..at)
            .rev()
            .find(|i| lines[*i].starts_with("/**"))
            .expect("every function has a doc comment");
        let rule = "=".repeat(88 - title.len());
        lines.insert(doc, String::new());
        lines.insert(doc, format!("/* {title} {rule} */"));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    out
}

/// `-Wl,-soname,libinferkit.so.<major>` for the cdylib on Linux (0.x versions: the minor is the
/// ABI-breaking part, but the C ABI carries its own major, so the crate's major names the file).
/// A program linked against `target/<profile>/libinferkit.so` asks the loader for that SONAME, so
/// the profile directory also gets `libinferkit.so.<major>` -> `libinferkit.so`, as a build tree
/// made by libtool has.
fn soname() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() != Ok("linux") {
        return;
    }
    let major = std::env::var("CARGO_PKG_VERSION_MAJOR").expect("cargo sets the version");
    let soname = format!("libinferkit.so.{major}");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,{soname}");
    if let Some(profile_dir) = profile_dir() {
        let link = profile_dir.join(&soname);
        if std::fs::read_link(&link).ok().as_deref() != Some(Path::new("libinferkit.so")) {
            let _ = std::fs::remove_file(&link);
            // The build script runs on the host: only a Unix host makes the link.
            #[cfg(unix)]
            if let Err(e) = std::os::unix::fs::symlink("libinferkit.so", &link) {
                println!("cargo:warning=could not link {}: {e}", link.display());
            }
        }
    }
}

/// `target/<profile>/`: OUT_DIR is `<target>/<profile>/build/inferkit-<hash>/out`.
fn profile_dir() -> Option<PathBuf> {
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    out_dir.ancestors().nth(3).map(Path::to_path_buf)
}

/// Links ONNX Runtime into the profile directory and its `deps/` and `examples/`, when a copy is
/// found at build time (Linux, Windows and macOS targets: the file names of ONNX Runtime's wheels,
/// as `src/platform.rs` looks for them).
fn place_onnxruntime() {
    println!("cargo:rerun-if-env-changed=INFERKIT_ORT_DYLIB");
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    let ort_file = match target_os.as_str() {
        "linux" => "libonnxruntime.so.1.31.1",
        "windows" => "onnxruntime.dll",
        "macos" => "libonnxruntime.1.31.1.dylib",
        _ => return,
    };
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    // A cross build (aarch64 Linux from x86_64, say) takes only the copy provisioned for its
    // target (`.ci/provision-ort.sh <target>`): this machine's own copies are of another machine.
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let cross = std::env::var("HOST").ok().as_deref() != Some(target.as_str());
    let provisioned = if cross {
        manifest.join(format!("target/onnxruntime-{target}"))
    } else {
        manifest.join("target/onnxruntime")
    }
    .join(ort_file);
    // The per-user cache, as src/platform.rs places it on this (the building) machine.
    let absolute = |v: std::ffi::OsString| Some(PathBuf::from(v)).filter(|p| p.is_absolute());
    let home = || std::env::var_os("HOME").and_then(absolute);
    let cache_base = match target_os.as_str() {
        "windows" => std::env::var_os("LOCALAPPDATA").and_then(absolute),
        "macos" => home().map(|h| h.join("Library/Caches")),
        _ => std::env::var_os("XDG_CACHE_HOME")
            .and_then(absolute)
            .or_else(|| home().map(|h| h.join(".cache"))),
    };
    let cache = cache_base
        .map(|c| {
            c.join("inferkit/ort-1.31.1/onnxruntime/capi")
                .join(ort_file)
        })
        .filter(|_| !cross);
    // INFERKIT_ORT_DYLIB names this machine's library (the one discovery loads here), not a
    // cross target's.
    let source = std::env::var_os("INFERKIT_ORT_DYLIB")
        .filter(|_| !cross)
        .map(PathBuf::from)
        .into_iter()
        .chain(Some(provisioned.clone()))
        .chain(cache)
        .find(|p| p.is_file());
    let Some(source) = source else {
        // In a checkout of this repository, `make` provisions into target/onnxruntime/ (or
        // target/onnxruntime-<target>/): watch that path, so the first build after provisioning
        // links it (a missing path reruns this script on every build until it appears). Only for
        // what .ci/provision-ort.sh provisions; a dependent crate's build watches nothing.
        let provisionable = if cross {
            matches!(
                target.as_str(),
                "aarch64-unknown-linux-gnu" | "x86_64-pc-windows-gnu"
            )
        } else {
            target == "x86_64-unknown-linux-gnu"
        };
        if provisionable && manifest.join(".git").exists() {
            println!("cargo:rerun-if-changed={}", provisioned.display());
        }
        return;
    };
    // Only a library that exists is watched: a missing path would rerun this script, and rebuild
    // inferkit, on every build.
    println!("cargo:rerun-if-changed={}", source.display());
    let Some(profile_dir) = profile_dir() else {
        return;
    };
    for dir in [
        profile_dir.to_path_buf(),
        profile_dir.join("deps"),
        profile_dir.join("examples"),
    ] {
        if let Err(e) = place(&source, &dir.join(ort_file)) {
            println!(
                "cargo:warning=could not put ONNX Runtime in {}: {e}",
                dir.display()
            );
        }
    }
}

/// Hard-links `source` to `dest` (a copy across file systems), unless `dest` already has its bytes.
fn place(source: &Path, dest: &Path) -> std::io::Result<()> {
    let from = std::fs::metadata(source)?;
    if let Ok(to) = std::fs::metadata(dest) {
        if to.len() == from.len() && to.modified()? >= from.modified()? {
            return Ok(());
        }
        std::fs::remove_file(dest)?;
    }
    std::fs::create_dir_all(dest.parent().expect("a file in a directory"))?;
    std::fs::hard_link(source, dest).or_else(|_| std::fs::copy(source, dest).map(|_| ()))
}
