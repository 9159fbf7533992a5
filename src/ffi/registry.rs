//! `inferkit_registry`: a model repository with versions, labels and reloads.

use std::ffi::{c_char, CString};
use std::time::Duration;

use super::model::{inferkit_model, new_model_handle};
use super::{arg, c_str, guard, guard_value, inferkit_error, out, write_opt};
use crate::error::{ErrorCode, Result};
use crate::repository::{Registry, RegistryOptions, Select};

/// A model repository. Thread-safe: select, infer and reload from any threads. Open with
/// `inferkit_registry_open`, release with `inferkit_registry_close`.
pub struct inferkit_registry {
    registry: Registry,
}

impl inferkit_registry {
    pub(crate) fn registry(&self) -> &Registry {
        &self.registry
    }
}

/// Opens the repository at `root` (`<root>/<model>/<version>/model.onnx`, optional
/// `<root>/<model>/config.toml`). `load_all`: load every model now (false: explicit mode, models
/// load with `inferkit_registry_load`). `poll_interval_ms`: re-scan on a background thread at this
/// interval (0: only on `inferkit_registry_reload`). Versions that fail to load do not fail the
/// open; `inferkit_registry_status_json` shows them. On success `*registry_out` receives a handle.
#[no_mangle]
pub extern "C" fn inferkit_registry_open(
    root: *const c_char,
    load_all: bool,
    poll_interval_ms: u64,
    registry_out: *mut *mut inferkit_registry,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let root = c_str(root, "root")?;
        let registry_out = out(registry_out, "registry_out")?;
        let options = RegistryOptions {
            load_all,
            poll_interval: (poll_interval_ms > 0).then(|| Duration::from_millis(poll_interval_ms)),
            ..Default::default()
        };
        let registry = Registry::open(root, options)?;
        write_opt(
            registry_out,
            Box::into_raw(Box::new(inferkit_registry { registry })),
        );
        Ok(())
    })
}

/// Closes a registry: stops its polling thread. Model handles taken from it stay valid (each pins
/// its version) until freed. `inferkit_registry_close(NULL)` does nothing.
#[no_mangle]
pub extern "C" fn inferkit_registry_close(registry: *mut inferkit_registry) {
    guard_value((), || {
        if !registry.is_null() {
            // SAFETY: from inferkit_registry_open, closed once.
            drop(unsafe { Box::from_raw(registry) });
        }
    })
}

fn selected(
    registry: *const inferkit_registry,
    name: *const c_char,
    select: impl FnOnce() -> Result<SelectOwned>,
    model_out: *mut *mut inferkit_model,
    version_out: *mut u64,
) -> Result<()> {
    let r = arg(registry, "registry")?;
    let name = c_str(name, "name")?;
    let model_out = out(model_out, "model_out")?;
    let sel = select()?;
    let m = r.registry.model(name, sel.as_select())?;
    write_opt(version_out, m.version());
    write_opt(model_out, new_model_handle(m.model().clone()));
    Ok(())
}

enum SelectOwned {
    Default,
    Version(u64),
    Label(String),
    Split(Option<String>),
}

impl SelectOwned {
    fn as_select(&self) -> Select<'_> {
        match self {
            SelectOwned::Default => Select::Default,
            SelectOwned::Version(v) => Select::Version(*v),
            SelectOwned::Label(l) => Select::Label(l),
            SelectOwned::Split(k) => Select::Split(k.as_deref()),
        }
    }
}

/// Selects a version of model `name`: `version` if it is not 0, else the version `label` points at
/// if `label` is not NULL, else the default (the newest ready version the policy serves). On
/// success `*model_out` receives a model handle pinned to that version (free it with
/// `inferkit_model_free`; it stays on its version across reloads) and `*version_out` (may be NULL)
/// its number. Errors: UNKNOWN_MODEL, UNKNOWN_VERSION, UNKNOWN_LABEL, NO_VERSION_AVAILABLE.
/// Thread-safe; never waits for a reload.
#[no_mangle]
pub extern "C" fn inferkit_registry_model(
    registry: *const inferkit_registry,
    name: *const c_char,
    version: u64,
    label: *const c_char,
    model_out: *mut *mut inferkit_model,
    version_out: *mut u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        selected(
            registry,
            name,
            || {
                Ok(if version != 0 {
                    SelectOwned::Version(version)
                } else if !label.is_null() {
                    SelectOwned::Label(c_str(label, "label")?.to_string())
                } else {
                    SelectOwned::Default
                })
            },
            model_out,
            version_out,
        )
    })
}

/// Selects a version of `name` through its traffic split: the same non-NULL `routing_key` always
/// gets the same version (while the split and versions stay the same); a NULL key picks at random
/// by weight. A model without a split serves its default. Otherwise as `inferkit_registry_model`.
#[no_mangle]
pub extern "C" fn inferkit_registry_route(
    registry: *const inferkit_registry,
    name: *const c_char,
    routing_key: *const c_char,
    model_out: *mut *mut inferkit_model,
    version_out: *mut u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        selected(
            registry,
            name,
            || {
                let key = if routing_key.is_null() {
                    None
                } else {
                    Some(c_str(routing_key, "routing_key")?.to_string())
                };
                Ok(SelectOwned::Split(key))
            },
            model_out,
            version_out,
        )
    })
}

/// Points `label` at `version` of model `name`; the version must be ready
/// (INFERKIT_STATUS_VERSION_NOT_READY otherwise). Atomic for concurrent requests.
#[no_mangle]
pub extern "C" fn inferkit_registry_set_label(
    registry: *const inferkit_registry,
    name: *const c_char,
    label: *const c_char,
    version: u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = arg(registry, "registry")?;
        r.registry
            .set_label(c_str(name, "name")?, c_str(label, "label")?, version)
    })
}

/// Loads (or reloads) model `name` from the repository (explicit mode). Versions that fail are
/// reported by the status, not by this call, which fails only when the model cannot be read.
#[no_mangle]
pub extern "C" fn inferkit_registry_load(
    registry: *const inferkit_registry,
    name: *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = arg(registry, "registry")?;
        r.registry.load(c_str(name, "name")?).map(|_| ())
    })
}

/// Unloads model `name`; requests in flight finish.
#[no_mangle]
pub extern "C" fn inferkit_registry_unload(
    registry: *const inferkit_registry,
    name: *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = arg(registry, "registry")?;
        r.registry.unload(c_str(name, "name")?)
    })
}

/// Unloads one version; refused with INFERKIT_STATUS_LABEL_IN_USE while a label points at it
/// unless `force`, which removes those labels.
#[no_mangle]
pub extern "C" fn inferkit_registry_unload_version(
    registry: *const inferkit_registry,
    name: *const c_char,
    version: u64,
    force: bool,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = arg(registry, "registry")?;
        r.registry
            .unload_version(c_str(name, "name")?, version, force)
    })
}

/// Re-scans the repository (new versions are loaded and warmed before they become selectable).
/// `*failures_out` (may be NULL) receives how many models or versions failed; their reasons are
/// in the status.
#[no_mangle]
pub extern "C" fn inferkit_registry_reload(
    registry: *const inferkit_registry,
    failures_out: *mut usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = arg(registry, "registry")?;
        let errors = r.registry.reload()?;
        write_opt(failures_out, errors.len());
        Ok(())
    })
}

/// The status of every model as JSON: `[{"name", "versions": [{"version", "state":
/// "loading"|"ready"|"failed"|"unloading", "reason"?}], "labels": {label: version},
/// "default_version"}]`. The caller owns the string and frees it with `inferkit_string_free`.
#[no_mangle]
pub extern "C" fn inferkit_registry_status_json(
    registry: *const inferkit_registry,
    json_out: *mut *mut c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = arg(registry, "registry")?;
        let json_out = out(json_out, "json_out")?;
        let text = serde_json::to_string(&r.registry.status()).unwrap_or_else(|_| "[]".into());
        write_opt(json_out, CString::new(text).unwrap_or_default().into_raw());
        Ok(())
    })
}

/// Frees a string returned by inferkit. `inferkit_string_free(NULL)` does nothing.
#[no_mangle]
pub extern "C" fn inferkit_string_free(s: *mut c_char) {
    guard_value((), || {
        if !s.is_null() {
            // SAFETY: from CString::into_raw in inferkit, freed once.
            drop(unsafe { CString::from_raw(s) });
        }
    })
}
