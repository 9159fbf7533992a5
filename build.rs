//! Generates the C header from `src/ffi/` with cbindgen.
//!
//! The header is written to `$OUT_DIR/inferkit.h`. The committed copy, `include/inferkit.h`, is
//! compared with it by the test `tests/header.rs`; `make header` (or `INFERKIT_UPDATE_HEADER=1
//! cargo build`) refreshes the committed copy.
use std::path::PathBuf;

fn main() {
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
