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
        f.debug_struct("Runtime")
            .field("dylib", &self.dylib)
            .field("version", &self.version)
            .finish()
    }
}

static RUNTIME: OnceLock<Runtime> = OnceLock::new();
static INIT: Mutex<()> = Mutex::new(());
/// Set when a library passed the probe but `ort` still failed with it: `ort` cannot be retried.
static POISONED: OnceLock<String> = OnceLock::new();

enum LoadError {
    /// The library was refused before `ort` saw it; another candidate may be tried.
    Rejected(String),
    /// `ort` itself failed; its global state cannot be initialised again in this process.
    Poisoned(String),
}

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

    /// The `ort` environment, for code that uses `ort` directly beside inferkit (the benchmarks'
    /// raw-ort baselines do). Its type belongs to the pinned `ort` release.
    pub fn environment(&self) -> &ort::environment::Environment {
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
        if let Some(reason) = POISONED.get() {
            return Err(Error::RuntimeUnavailable {
                tried: vec![TriedPath {
                    source: "earlier attempt",
                    path: PathBuf::new(),
                    reason: reason.clone(),
                }],
            });
        }
        let mut tried = Vec::new();
        for (source, path) in candidates(explicit) {
            match load(&path) {
                Ok(rt) => return Ok(RUNTIME.get_or_init(|| rt)),
                Err(LoadError::Rejected(reason)) => tried.push(TriedPath {
                    source,
                    path,
                    reason,
                }),
                Err(LoadError::Poisoned(reason)) => {
                    let reason = format!(
                        "ONNX Runtime failed after loading; restart the process to retry: {reason}"
                    );
                    let _ = POISONED.set(reason.clone());
                    tried.push(TriedPath {
                        source,
                        path,
                        reason,
                    });
                    break;
                }
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
    if let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
    {
        out.push(("beside the executable", dir.join(ORT_LIBRARY_NAME)));
    }
    out.push(("provisioned", provisioned_path()));
    out
}

/// Where `.ci/provision-ort.sh` puts the library for this source tree.
pub fn provisioned_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("onnxruntime")
        .join(ORT_LIBRARY_NAME)
}

/// Loads the library at `path` and checks that it is an ONNX Runtime `ort` can drive, without
/// touching `ort`'s global state. Returns the library's version.
///
/// `ort::init_from` may be called only once per process: in ort 2.0.0-rc.14 a failed call leaves
/// its library slot marked as initialised (its `OnceLock` completes even when loading fails), and
/// the next use of ort reads that slot. So every check ort would make is made here first.
fn probe(path: &Path) -> std::result::Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    // SAFETY: loading a shared library runs its initialisers; the caller chose this path as ONNX Runtime.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| e.to_string())?;
    // SAFETY: the symbol's type is the one ONNX Runtime's C API declares.
    let get_base: libloading::Symbol<'_, unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
        unsafe { lib.get(b"OrtGetApiBase\0") }
            .map_err(|_| "does not export `OrtGetApiBase`: not ONNX Runtime".to_string())?;
    // SAFETY: OrtGetApiBase takes no arguments and returns a static table or NULL.
    let base = unsafe { get_base() };
    if base.is_null() {
        return Err("`OrtGetApiBase` returned NULL".into());
    }
    // SAFETY: `base` is the library's static, non-NULL OrtApiBase; the version is a static C string.
    let version = unsafe {
        let v = ((*base).GetVersionString)();
        if v.is_null() {
            return Err("`GetVersionString` returned NULL".into());
        }
        std::ffi::CStr::from_ptr(v).to_string_lossy().into_owned()
    };
    let minor: u32 = version
        .split('.')
        .nth(1)
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    if !version.starts_with("1.") || minor < ort::MINOR_VERSION {
        return Err(format!(
            "ONNX Runtime {version} is too old; inferkit needs 1.{}.x or newer",
            ort::MINOR_VERSION
        ));
    }
    // SAFETY: as above; GetApi returns NULL for an API version the library does not provide.
    if unsafe { ((*base).GetApi)(ort::sys::ORT_API_VERSION) }.is_null() {
        return Err(format!(
            "ONNX Runtime {version} does not provide C API version {}",
            ort::sys::ORT_API_VERSION
        ));
    }
    Ok(version)
}

fn load(path: &Path) -> std::result::Result<Runtime, LoadError> {
    // `ort` resolves relative paths against the executable and panics if it cannot: hand it an absolute one.
    let abs = std::path::absolute(path).map_err(|e| LoadError::Rejected(e.to_string()))?;
    let version = probe(&abs).map_err(LoadError::Rejected)?;
    let builder = ort::init_from(&abs).map_err(|e| LoadError::Poisoned(e.to_string()))?;
    let env = builder
        .with_name("inferkit")
        .with_telemetry(false)
        .build()
        .map_err(|e| {
            LoadError::Poisoned(format!("library loaded but its environment failed: {e}"))
        })?;
    Ok(Runtime {
        env,
        dylib: abs,
        version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_path_is_tried_alone() {
        let c = candidates(Some(Path::new("/x/lib.so")));
        assert_eq!(c, vec![("explicit", PathBuf::from("/x/lib.so"))]);
        let c = candidates(None);
        assert_eq!(c.last().map(|(s, _)| *s), Some("provisioned"));
    }
}
