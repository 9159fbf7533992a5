//! Finding and initialising ONNX Runtime, once per process.
//!
//! inferkit loads ONNX Runtime as a shared library at run time. The library is looked up, in order:
//!
//! 1. the path given to [`Runtime::init_from`] (`inferkit_runtime_init` in C);
//! 2. the `INFERKIT_ORT_DYLIB` environment variable;
//! 3. the `ORT_DYLIB_PATH` environment variable (the one `ort` itself reads);
//! 4. `libonnxruntime.so.1.31.1` next to the running executable;
//! 5. the copy provisioned into this source tree's `target/onnxruntime/` by `make` (`.ci/provision-ort.sh`).
//!
//! The first candidate that loads wins. When none does, the error is
//! [`Error::RuntimeUnavailable`] and names every path tried with its reason; nothing panics.
//! Loading models initialises the runtime on first use, so calling [`Runtime::init`] yourself is
//! only needed to choose the library or to see the error early.
//!
//! ```
//! let rt = inferkit::Runtime::init()?;
//! assert!(rt.ort_version().starts_with("1."));
//! // Initialising again is cheap and returns the same runtime.
//! assert!(std::ptr::eq(rt, inferkit::Runtime::init()?));
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use parking_lot::Mutex;

use crate::error::{Error, Result, TriedPath};

/// The ONNX Runtime release inferkit is built and tested against.
pub const ORT_VERSION: &str = "1.31.1";

/// File name of the ONNX Runtime library on this platform.
pub const ORT_LIBRARY_NAME: &str = "libonnxruntime.so.1.31.1";

/// The process-wide ONNX Runtime backend.
pub struct Runtime {
    env: ort::environment::Environment,
    dylib: PathBuf,
    version: String,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("dylib", &self.dylib).field("version", &self.version).finish()
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());

impl Runtime {
    /// Initialises the runtime from the first library found in the discovery order (see the module
    /// docs), or returns the runtime already initialised.
    pub fn init() -> Result<&'static Runtime> {
        if let Some(rt) = RUNTIME.get() {
            return Ok(rt);
        }
        Self::init_inner(None)
    }

    /// Initialises the runtime from this library. Calling it again with the same library returns
    /// the same runtime; with another library it is [`Error::RuntimeAlreadyInitialized`], since a
    /// process can hold only one ONNX Runtime.
    pub fn init_from(path: impl AsRef<Path>) -> Result<&'static Runtime> {
        Self::init_inner(Some(path.as_ref()))
    }

    /// The runtime, if it has been initialised.
    pub fn get() -> Option<&'static Runtime> {
        RUNTIME.get()
    }

    /// The library in use.
    pub fn dylib_path(&self) -> &Path {
        &self.dylib
    }

    /// ONNX Runtime's version, as the library reports it (`1.31.1`).
    pub fn ort_version(&self) -> &str {
        &self.version
    }

    pub(crate) fn env(&self) -> &ort::environment::Environment {
        &self.env
    }

    fn init_inner(explicit: Option<&Path>) -> Result<&'static Runtime> {
        let _guard = INIT.lock();
        if let Some(rt) = RUNTIME.get() {
            return match explicit {
                Some(p) if !same_file(p, &rt.dylib) => Err(Error::RuntimeAlreadyInitialized {
                    current: rt.dylib.clone(),
                    requested: p.to_path_buf(),
                }),
                _ => Ok(rt),
            };
        }
        let mut tried = Vec::new();
        for (source, path) in candidates(explicit) {
            match load(&path) {
                Ok(rt) => return Ok(RUNTIME.get_or_init(|| rt)),
                Err(reason) => tried.push(TriedPath { source, path, reason }),
            }
            // An explicit path is what the caller asked for: do not fall back to another library.
            if explicit.is_some() {
                break;
            }
        }
        Err(Error::RuntimeUnavailable { tried })
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// The discovery order, as `(source, path)` pairs.
fn candidates(explicit: Option<&Path>) -> Vec<(&'static str, PathBuf)> {
    if let Some(p) = explicit {
        return vec![("explicit", p.to_path_buf())];
    }
    let mut out = Vec::new();
    for var in ["INFERKIT_ORT_DYLIB", "ORT_DYLIB_PATH"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            out.push((var, PathBuf::from(v)));
        }
    }
    if let Some(dir) = std::env::current_exe().ok().and_then(|exe| exe.parent().map(Path::to_path_buf)) {
        out.push(("beside the executable", dir.join(ORT_LIBRARY_NAME)));
    }
    out.push(("provisioned", provisioned_path()));
    out
}

/// Where `.ci/provision-ort.sh` puts the library for this source tree.
pub fn provisioned_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("onnxruntime").join(ORT_LIBRARY_NAME)
}

fn load(path: &Path) -> std::result::Result<Runtime, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    // `ort` resolves relative paths against the executable and panics if it cannot: hand it an absolute one.
    let abs = std::path::absolute(path).map_err(|e| e.to_string())?;
    let builder = ort::init_from(&abs).map_err(|e| e.to_string())?;
    let env = builder
        .with_name("inferkit")
        .with_telemetry(false)
        .build()
        .map_err(|e| format!("library loaded but its environment failed: {e}"))?;
    let version = version_from_build_info(ort::info()).unwrap_or_else(|| "unknown".into());
    Ok(Runtime { env, dylib: abs, version })
}

/// `ORT Build Info: git-branch=rel-1.31.1, …` → `1.31.1`.
fn version_from_build_info(info: &str) -> Option<String> {
    let branch = info.split("git-branch=").nth(1)?;
    let branch = branch.split([',', ' ']).next()?;
    Some(branch.strip_prefix("rel-").unwrap_or(branch).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_build_info() {
        assert_eq!(
            version_from_build_info("ORT Build Info: git-branch=rel-1.31.1, git-commit-id=abc, build type=Release").as_deref(),
            Some("1.31.1")
        );
        assert_eq!(version_from_build_info("nonsense"), None);
    }

    #[test]
    fn explicit_path_is_tried_alone() {
        let c = candidates(Some(Path::new("/x/lib.so")));
        assert_eq!(c, vec![("explicit", PathBuf::from("/x/lib.so"))]);
        let c = candidates(None);
        assert_eq!(c.last().map(|(s, _)| *s), Some("provisioned"));
    }
}
