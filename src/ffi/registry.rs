//! `inferkit_registry`: a model repository with versions, labels and reloads.

use std::ffi::c_char;
use std::time::Duration;

use super::error::give_string;
use super::model::{inferkit_model, new_model_handle};
use super::ownership::{free_box, give_box, try_ref, Castable, Opaque, OwnershipBox};
use super::{c_str, guard, guard_value, inferkit_error, out, write_opt};
use crate::error::{Error, ErrorCode, Result};
use crate::repository::{Registry, RegistryOptions, Select};

/// A model repository. Thread-safe: select versions, change labels and reload from any threads. Open with
/// `inferkit_registry_open`, release with `inferkit_registry_close`.
pub struct inferkit_registry {
    _opaque: Opaque,
}

impl Castable for inferkit_registry {
    type Ownership = OwnershipBox;
    type RustType = Registry;
}

/// \brief Opens a model repository: `<root>/<model>/<version>/model.onnx`, with an optional
/// `<root>/<model>/config.toml`.
///
/// Versions that fail to load do not fail the open; inferkit_registry_status_json shows them.
///
/// \param root The repository's folder, NUL-terminated UTF-8.
/// \param load_all True: load every model now. False (explicit mode): models load with
///        inferkit_registry_load.
/// \param poll_interval_ms Re-scan on a background thread at this interval; 0: only on
///        inferkit_registry_reload.
/// \param registry_out Receives the registry.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_REPOSITORY_UNREADABLE, _CONFIG, _INVALID_ARGUMENT.
///
/// Ownership: `root` is read during the call only; the caller owns `*registry_out` and releases it
/// with inferkit_registry_close.
/// Thread safety: thread-safe.
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
        give_box(registry_out, registry);
        Ok(())
    })
}

/// \brief Closes a registry and stops its polling thread.
///
/// Model handles taken from it stay valid (each holds its version) until closed.
///
/// \param registry A registry, or NULL (nothing happens).
///
/// Ownership: takes `registry` back from the caller; close it once.
/// Thread safety: must not race with other calls on the same registry.
#[no_mangle]
pub extern "C" fn inferkit_registry_close(registry: *mut inferkit_registry) {
    guard_value((), || free_box(registry))
}

fn selected(
    registry: *const inferkit_registry,
    name: *const c_char,
    select: impl FnOnce() -> Result<SelectOwned>,
    model_out: *mut *mut inferkit_model,
    version_out: *mut u64,
) -> Result<()> {
    let r = try_ref(registry, "registry")?;
    let name = c_str(name, "name")?;
    let model_out = out(model_out, "model_out")?;
    let sel = select()?;
    let m = r.model(name, sel.as_select())?;
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

/// \brief Selects a version of a model: by number, by label, or the default.
///
/// The handle stays on its version across reloads. Never waits for a reload.
///
/// \param registry The registry.
/// \param name The model's name, NUL-terminated.
/// \param version The version number, or 0 to select by `label` or by default.
/// \param label A label (NUL-terminated), or NULL; with version 0 and no label, the default: the
///        newest ready version the policy serves.
/// \param model_out Receives a model handle.
/// \param version_out Receives the version's number; may be NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_UNKNOWN_MODEL, _UNKNOWN_VERSION, _UNKNOWN_LABEL,
///         _NO_VERSION_AVAILABLE; _INVALID_ARGUMENT for a version and a label together;
///         _NULL_ARGUMENT.
///
/// Ownership: the caller owns `*model_out` and releases it with inferkit_model_close.
/// Thread safety: thread-safe.
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
                if version != 0 && !label.is_null() {
                    return Err(Error::InvalidArgument {
                        name: "label",
                        reason: "give a version or a label, not both".into(),
                    });
                }
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

/// \brief Selects a version of a model through its traffic split.
///
/// The same routing key always gets the same version while the split and the versions stay the
/// same. A model without a split serves its default.
///
/// \param registry The registry.
/// \param name The model's name, NUL-terminated.
/// \param routing_key A key (NUL-terminated), or NULL to pick at random by weight.
/// \param model_out Receives a model handle.
/// \param version_out Receives the version's number; may be NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return As inferkit_registry_model.
///
/// Ownership: the caller owns `*model_out` and releases it with inferkit_model_close.
/// Thread safety: thread-safe.
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

/// \brief Points a label at a version, atomically for concurrent requests.
///
/// \param registry The registry.
/// \param name The model's name, NUL-terminated.
/// \param label The label, NUL-terminated.
/// \param version A ready version.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_VERSION_NOT_READY, _UNKNOWN_MODEL, _UNKNOWN_VERSION.
///
/// Ownership: `name` and `label` are copied.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_registry_set_label(
    registry: *const inferkit_registry,
    name: *const c_char,
    label: *const c_char,
    version: u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_ref(registry, "registry")?;
        r.set_label(c_str(name, "name")?, c_str(label, "label")?, version)
    })
}

/// \brief Loads (or reloads) a model from the repository (explicit mode).
///
/// Versions that fail are reported by the status, not by this call.
///
/// \param registry The registry.
/// \param name The model's name, NUL-terminated.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, or the status of why the model cannot be read at all.
///
/// Ownership: `name` is read during the call only.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_registry_load(
    registry: *const inferkit_registry,
    name: *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_ref(registry, "registry")?;
        r.load(c_str(name, "name")?).map(|_| ())
    })
}

/// \brief Unloads a model; requests in flight finish.
///
/// \param registry The registry.
/// \param name The model's name, NUL-terminated.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_UNKNOWN_MODEL.
///
/// Ownership: `name` is read during the call only; handles already taken stay valid.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_registry_unload(
    registry: *const inferkit_registry,
    name: *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_ref(registry, "registry")?;
        r.unload(c_str(name, "name")?)
    })
}

/// \brief Unloads one version of a model; requests in flight finish.
///
/// \param registry The registry.
/// \param name The model's name, NUL-terminated.
/// \param version The version's number.
/// \param force Also remove the labels that point at it; without it such a version is refused with
///        INFERKIT_STATUS_LABEL_IN_USE.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_LABEL_IN_USE, _UNKNOWN_MODEL, _UNKNOWN_VERSION.
///
/// Ownership: `name` is read during the call only; handles already taken stay valid.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_registry_unload_version(
    registry: *const inferkit_registry,
    name: *const c_char,
    version: u64,
    force: bool,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_ref(registry, "registry")?;
        r.unload_version(c_str(name, "name")?, version, force)
    })
}

/// \brief Re-scans the repository; new versions are loaded and warmed before they become
/// selectable.
///
/// \param registry The registry.
/// \param failures_out Receives how many models or versions failed (their reasons are in the
///        status); may be NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, or the status of why the repository cannot be read.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_registry_reload(
    registry: *const inferkit_registry,
    failures_out: *mut usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_ref(registry, "registry")?;
        let errors = r.reload()?;
        write_opt(failures_out, errors.len());
        Ok(())
    })
}

/// \brief The status of every model as JSON.
///
/// The shape: `[{"name", "versions": [{"version", "state": "loading"|"ready"|"failed"|"unloading",
/// "reason"?}], "labels": {label: version}, "default_version"}]`.
///
/// \param registry The registry.
/// \param json_out Receives the JSON text.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the caller owns `*json_out` and releases it with inferkit_string_free.
/// Thread safety: thread-safe; never waits for a reload.
#[no_mangle]
pub extern "C" fn inferkit_registry_status_json(
    registry: *const inferkit_registry,
    json_out: *mut *mut c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_ref(registry, "registry")?;
        let json_out = out(json_out, "json_out")?;
        give_string(
            json_out,
            serde_json::to_string(&r.status()).unwrap_or_else(|_| "[]".into()),
        );
        Ok(())
    })
}

/// \brief Metrics of every model version in the registry, with load, failure and unload events, in
/// the Prometheus text format.
///
/// \param registry The registry.
/// \param text_out Receives the text.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the caller owns `*text_out` and releases it with inferkit_string_free.
/// Thread safety: thread-safe; never waits for a reload.
#[no_mangle]
pub extern "C" fn inferkit_registry_metrics_prometheus(
    registry: *const inferkit_registry,
    text_out: *mut *mut c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let r = try_ref(registry, "registry")?;
        let text_out = out(text_out, "text_out")?;
        give_string(text_out, r.metrics_prometheus());
        Ok(())
    })
}
