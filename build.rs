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
    config.after_includes = Some(format!(
        "\n#define INFERKIT_VERSION_MAJOR {major}\n#define INFERKIT_VERSION_MINOR {minor}\n#define INFERKIT_VERSION_PATCH {patch}\n#define INFERKIT_VERSION_STRING \"{major}.{minor}.{patch}\"\n"
    ));
    let bindings = cbindgen::Builder::new()
        .with_crate(&crate_dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate include/inferkit.h");
    let generated = out_dir.join("inferkit.h");
    bindings.write_to_file(&generated);
    if std::env::var_os("INFERKIT_UPDATE_HEADER").is_some_and(|v| v == "1") {
        let committed = crate_dir.join("include").join("inferkit.h");
        std::fs::create_dir_all(committed.parent().expect("include/ has a parent"))
            .expect("create include/");
        std::fs::copy(&generated, &committed).expect("write include/inferkit.h");
    }
}
