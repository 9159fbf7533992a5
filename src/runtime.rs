//! Finding and initialising ONNX Runtime, once per process.
//!
//! inferkit loads ONNX Runtime as a shared library at run time. The library is looked up, in order:
//!
//! 1. the path given to [`Runtime::init_from`] (`inferkit_runtime_init` in C);
//! 2. the `INFERKIT_ORT_DYLIB` environment variable, else `ORT_DYLIB_PATH` (the one `ort` itself
//!    reads). Like an explicit path, a variable that is set is the only candidate: if it does not
//!    load, that is the error, and no other library is tried;
//! 3. the system loader, by ONNX Runtime's loader name (`libonnxruntime.so.1` on Linux, its
//!    SONAME): `LD_LIBRARY_PATH`, the host's rpath and `ldconfig` work, and a library the host
//!    already loaded is reused. On Apple's systems `@rpath/libonnxruntime.dylib`, searched in the
//!    `LC_RPATH` entries of the program and of libinferkit. Not on Windows, whose search reaches an older
//!    `onnxruntime.dll` some Windows releases keep in `System32`: there the loader is not asked;
//! 4. the directory libinferkit itself was loaded from, and `inferkit/` inside it (an installed
//!    `<prefix>/lib/libinferkit.so` finds `<prefix>/lib/inferkit/`; a program linked with
//!    `libinferkit.a` is its own "libinferkit");
//! 5. the directory of the running executable (cargo's build script copies a provisioned library
//!    to `target/<profile>/`, `deps/` and `examples/`, so tests and examples find it there), and
//!    where the platform's applications keep libraries: a macOS bundle's `Contents/Frameworks/`,
//!    an iOS app's `Frameworks/`;
//! 6. inferkit's per-user cache, `inferkit/ort-1.31.1/` in `${XDG_CACHE_HOME:-~/.cache}` (Linux),
//!    `~/Library/Caches` (macOS) or `%LOCALAPPDATA%` (Windows), filled by one command (see
//!    [`PROVISION_COMMAND`]).
//!
//! In a directory, the link name is tried first (`libonnxruntime.so.1`, `libonnxruntime.dylib`, as
//! ONNX Runtime's own archives and an install link it), then the file's name in ONNX Runtime's packages ([`ORT_LIBRARY_NAME`]:
//! `libonnxruntime.so.1.31.1`, `libonnxruntime.1.31.1.dylib`, `onnxruntime.dll`, Android's
//! `libonnxruntime.so`), then, on Apple's systems, `onnxruntime.framework/onnxruntime`. No path of
//! the source tree inferkit was built from is compiled in. What differs between systems is in one
//! module (`src/platform.rs`).
//!
//! The first candidate that loads wins. When none does, the error is
//! [`Error::RuntimeUnavailable`]: it names every path tried with its reason, and how to fix it;
//! nothing panics. Loading models initialises the runtime on first use, so calling
//! [`Runtime::init`] yourself is only needed to choose the library or to see the error early.
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
use crate::platform;

/// The ONNX Runtime release inferkit is built and tested against.
pub const ORT_VERSION: &str = "1.31.1";

/// File name of the ONNX Runtime library on this platform, as ONNX Runtime's packages ship it
/// (`libonnxruntime.so.1.31.1` on Linux, `libonnxruntime.1.31.1.dylib` on Apple's systems,
/// `onnxruntime.dll` on Windows, `libonnxruntime.so` on Android).
pub const ORT_LIBRARY_NAME: &str = crate::platform::ORT_FILE;

/// The name the system loader is asked for on this platform: ONNX Runtime's SONAME
/// `libonnxruntime.so.1` on Linux, `@rpath/libonnxruntime.dylib` on Apple's systems,
/// `libonnxruntime.so` on Android. On Windows the loader is not asked (see the module docs) and
/// this is the file's name, `onnxruntime.dll`.
pub const ORT_SONAME: &str = match crate::platform::LOADER_NAME {
    Some(name) => name,
    None => crate::platform::ORT_FILE,
};

/// The one command that provisions ONNX Runtime into inferkit's per-user cache (the last place
/// discovery looks) from the official wheel on PyPI, for this platform's default cache directory.
/// A failed discovery's error prints it with this machine's cache directory.
#[cfg(not(any(windows, target_vendor = "apple")))]
pub const PROVISION_COMMAND: &str = "python3 -m pip install --no-deps --only-binary=:all: \
--target ~/.cache/inferkit/ort-1.31.1 onnxruntime==1.31.1";
/// The one command that provisions ONNX Runtime into inferkit's per-user cache.
#[cfg(target_vendor = "apple")]
pub const PROVISION_COMMAND: &str = "python3 -m pip install --no-deps --only-binary=:all: \
--target ~/Library/Caches/inferkit/ort-1.31.1 onnxruntime==1.31.1";
/// The one command that provisions ONNX Runtime into inferkit's per-user cache (as typed in
/// `cmd.exe`; PowerShell writes the directory `$env:LOCALAPPDATA\inferkit\ort-1.31.1`).
#[cfg(windows)]
pub const PROVISION_COMMAND: &str = "py -m pip install --no-deps --only-binary=:all: \
--target %LOCALAPPDATA%\\inferkit\\ort-1.31.1 onnxruntime==1.31.1";

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
    /// (Never where no library can be loaded.)
    #[cfg_attr(not(any(unix, windows)), allow(dead_code))]
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
        for (source, path, lookup) in candidates(explicit) {
            match load(&path, lookup) {
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
            // An explicit path or variable is what the host asked for: the candidate list holds
            // only it, so there is no other library to fall back to.
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

/// How a candidate is looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lookup {
    /// A path to a file.
    File,
    /// A name for the system loader's search (Linux: `LD_LIBRARY_PATH`, rpath, ld.so.cache; Apple:
    /// `@rpath`, the `LC_RPATH` entries of the program and libinferkit; Android: the app's library directory).
    Loader,
}

/// The discovery order, as `(source, path, lookup)`.
fn candidates(explicit: Option<&Path>) -> Vec<(&'static str, PathBuf, Lookup)> {
    if let Some(p) = explicit {
        return vec![("explicit", p.to_path_buf(), Lookup::File)];
    }
    // A variable the host set is an order, like an explicit path: when it names something that
    // does not load, that is the error, rather than quietly running another ONNX Runtime.
    for var in ["INFERKIT_ORT_DYLIB", "ORT_DYLIB_PATH"] {
        if let Some(v) = std::env::var_os(var).filter(|v| !v.is_empty()) {
            return vec![(var, PathBuf::from(v), Lookup::File)];
        }
    }
    let mut out = Vec::new();
    let loader =
        platform::LOADER_NAME.map(|name| ("system loader", PathBuf::from(name), Lookup::Loader));
    if platform::LOADER_FIRST {
        out.extend(loader.clone());
    }
    let own = own_dir();
    if let Some(dir) = &own {
        out.push(("beside libinferkit", in_dir(dir), Lookup::File));
        out.push((
            "libinferkit's inferkit/",
            in_dir(&dir.join("inferkit")),
            Lookup::File,
        ));
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| std::path::absolute(exe).ok())
        .and_then(|exe| exe.parent().map(Path::to_path_buf));
    if let Some(dir) = exe_dir {
        if !own.as_ref().is_some_and(|own| same_file(own, &dir)) {
            out.push(("beside the executable", in_dir(&dir), Lookup::File));
        }
        for app_dir in platform::app_library_dirs(&dir) {
            out.push((
                "the application's libraries",
                in_dir(&app_dir),
                Lookup::File,
            ));
        }
    }
    if !platform::LOADER_FIRST {
        out.extend(loader);
    }
    if let Some(dir) = cache_dir() {
        out.push(("per-user cache", dir.join(ORT_LIBRARY_NAME), Lookup::File));
    }
    out
}

/// The library's path in `dir`: the first of the platform's names that exists there, else the
/// file's own name (so that the error names the file a user would put there).
fn in_dir(dir: &Path) -> PathBuf {
    platform::names_in_dir()
        .into_iter()
        .map(|name| dir.join(name))
        .find(|path| path.exists())
        .unwrap_or_else(|| dir.join(ORT_LIBRARY_NAME))
}

/// The directory of the object inferkit's code was loaded from: libinferkit's directory (`.so`,
/// `.dylib`, `.dll`), or the executable's for a program linked with the static library.
fn own_dir() -> Option<PathBuf> {
    let here = own_dir as fn() -> Option<PathBuf> as *const std::ffi::c_void;
    platform::loaded_from(here).and_then(|p| p.parent().map(Path::to_path_buf))
}

/// inferkit's per-user cache, `inferkit/ort-1.31.1` in `${XDG_CACHE_HOME:-$HOME/.cache}` (Linux,
/// Android), `~/Library/Caches` (Apple's systems) or `%LOCALAPPDATA%` (Windows), where
/// [`PROVISION_COMMAND`] installs the wheel (the library lands in its `onnxruntime/capi/`).
pub fn cache_root() -> Option<PathBuf> {
    let base = platform::user_cache_base()?;
    Some(base.join("inferkit").join(format!("ort-{ORT_VERSION}")))
}

fn cache_dir() -> Option<PathBuf> {
    cache_root().map(|r| r.join("onnxruntime").join("capi"))
}

/// What to do when no library was found, with this machine's cache directory.
pub(crate) fn how_to_fix() -> String {
    let target = cache_root()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|| "<cache directory>".to_string());
    let loader = match platform::LOADER_NAME {
        Some(name) => format!(
            "where the system loader finds {name} ({}), ",
            platform::LOADER_SEARCH
        ),
        None => String::new(),
    };
    // The provisioning command's Python launcher (`python3`, or `py` on Windows).
    let python = PROVISION_COMMAND.split(' ').next().unwrap_or("python3");
    format!(
        "to fix: set INFERKIT_ORT_DYLIB to the path of {ORT_LIBRARY_NAME} (ONNX Runtime 1.{}.x or \
         newer); or put it {loader}beside the executable or beside libinferkit; or provision a copy \
         with `{python} -m pip install --no-deps --only-binary=:all: --target {target} \
         onnxruntime=={ORT_VERSION}`",
        ort::MINOR_VERSION
    )
}

/// Loads the library at `path` and checks that it is an ONNX Runtime `ort` can drive, without
/// touching `ort`'s global state. Returns the library's version.
///
/// `ort::init_from` may be called only once per process: in ort 2.0.0-rc.14 a failed call leaves
/// its library slot marked as initialised (its `OnceLock` completes even when loading fails), and
/// the next use of ort reads that slot. So every check ort would make is made here first.
#[cfg(any(unix, windows))]
fn probe(path: &Path, lookup: Lookup) -> std::result::Result<(String, PathBuf), String> {
    if lookup == Lookup::File {
        let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
    }
    // SAFETY: loading a shared library runs its initialisers; the caller chose this path (or the
    // loader found this SONAME) as ONNX Runtime.
    let lib = unsafe { libloading::Library::new(path) }.map_err(|e| match lookup {
        Lookup::File => e.to_string(),
        Lookup::Loader => {
            format!("not found on {} ({e})", platform::LOADER_SEARCH)
        }
    })?;
    // SAFETY: the symbol's type is the one ONNX Runtime's C API declares.
    let get_base: libloading::Symbol<'_, unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> =
        unsafe { lib.get(b"OrtGetApiBase\0") }
            .map_err(|_| "does not export `OrtGetApiBase`: not ONNX Runtime".to_string())?;
    // SAFETY: OrtGetApiBase takes no arguments and returns a static table or NULL.
    let base = unsafe { get_base() };
    // Where the loader found it: `ort` is handed this absolute path.
    let found = match lookup {
        Lookup::File => path.to_path_buf(),
        Lookup::Loader => platform::loaded_from(*get_base as *const std::ffi::c_void)
            .ok_or_else(|| "loaded, but the loader does not say from where".to_string())?,
    };
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
    Ok((version, found))
}

/// Where there are no shared libraries to load (WebAssembly), ONNX Runtime cannot be loaded; the
/// tract backend runs models there.
#[cfg(not(any(unix, windows)))]
fn load(_path: &Path, _lookup: Lookup) -> std::result::Result<Runtime, LoadError> {
    Err(LoadError::Rejected(
        "this target cannot load shared libraries; models run on the tract backend here".into(),
    ))
}

#[cfg(any(unix, windows))]
fn load(path: &Path, lookup: Lookup) -> std::result::Result<Runtime, LoadError> {
    // `ort` resolves relative paths against the executable and panics if it cannot: hand it an
    // absolute one (for a loader lookup, where the loader found the library).
    let path = match lookup {
        Lookup::File => {
            std::path::absolute(path).map_err(|e| LoadError::Rejected(e.to_string()))?
        }
        Lookup::Loader => path.to_path_buf(),
    };
    let (version, abs) = probe(&path, lookup).map_err(LoadError::Rejected)?;
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
        assert_eq!(
            c,
            vec![("explicit", PathBuf::from("/x/lib.so"), Lookup::File)]
        );
        let sources: Vec<&str> = candidates(None).iter().map(|(s, _, _)| *s).collect();
        let loader = sources.iter().position(|s| *s == "system loader");
        let own = sources
            .iter()
            .position(|s| *s == "beside libinferkit")
            .unwrap();
        // Where the loader is asked, it is asked first (Linux, Android, Apple); on Windows not at
        // all (its search reaches System32).
        match platform::LOADER_NAME {
            Some(_) => assert!(loader.unwrap() < own, "{sources:?}"),
            None => assert_eq!(loader, None, "{sources:?}"),
        }
        assert!(sources.contains(&"libinferkit's inferkit/"), "{sources:?}");
    }

    #[test]
    fn own_dir_is_where_this_code_was_loaded_from() {
        // A unit test is an executable holding inferkit's code: its own directory.
        let exe_dir = std::env::current_exe()
            .unwrap()
            .parent()
            .unwrap()
            .to_path_buf();
        assert_eq!(
            own_dir().unwrap().canonicalize().unwrap(),
            exe_dir.canonicalize().unwrap()
        );
    }
}
