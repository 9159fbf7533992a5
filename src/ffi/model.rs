//! `inferkit_model`: opening a model, sharing it, describing its signature, its counters and
//! metrics. Requests to it are made with `inferkit_request` (request.rs).

use std::ffi::{c_char, CString};
use std::sync::Arc;

use super::error::give_string;
use super::options::inferkit_model_options;
use super::ownership::{free_arc, shared, try_clone_arc, try_ref, Castable, Opaque, OwnershipArc};
use super::{c_slice, c_str, guard, guard_value, inferkit_error, out, to_cstring, write_opt};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Model, ModelOptions};
use crate::signature::TensorSpec;

/// Which side of a model's signature a query is about (`inferkit_io`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// The model's inputs.
    Input = 0,
    /// The model's outputs.
    Output = 1,
}

/// A loaded model, shared: every handle (from inferkit_model_open*, inferkit_model_clone or the
/// registry) holds the model loaded until it is closed. Thread-safe: any number of threads may
/// use one handle at once.
pub struct inferkit_model {
    _opaque: Opaque,
}

/// What a model handle points to: the model, and the C strings its queries hand out.
pub(crate) struct ModelHandle {
    pub(crate) model: Arc<Model>,
    name: CString,
    inputs: Vec<SpecStrings>,
    outputs: Vec<SpecStrings>,
}

impl Castable for inferkit_model {
    type Ownership = OwnershipArc;
    type RustType = ModelHandle;
}

/// C strings for one tensor spec, kept for the handle's lifetime.
struct SpecStrings {
    name: CString,
    /// The type as the signature writes it: `f32[batch, 16]`, `seq(map(i64, f32))`.
    ty: CString,
    symbols: Vec<Option<CString>>,
}

fn spec_strings(specs: &[TensorSpec]) -> Vec<SpecStrings> {
    specs
        .iter()
        .map(|s| SpecStrings {
            name: to_cstring(&s.name),
            ty: to_cstring(&s.ty.to_string()),
            symbols: s.dims.iter().map(|d| d.symbol().map(to_cstring)).collect(),
        })
        .collect()
}

/// A new shared handle to `model`, for the caller.
pub(crate) fn new_model_handle(model: Arc<Model>) -> *mut inferkit_model {
    let sig = model.signature();
    shared(Arc::new(ModelHandle {
        name: to_cstring(model.name()),
        inputs: spec_strings(&sig.inputs),
        outputs: spec_strings(&sig.outputs),
        model,
    }))
}

/// The model behind a handle, held for the rest of the call.
///
/// Every call that can run a request holds its model this way: callbacks run inside inferkit
/// calls (this one, or another thread's that is draining the queue), and a callback may close the
/// last handle of its model, which must not unload the model while the call that runs the
/// callback still uses it.
pub(crate) fn pinned(model: *const inferkit_model) -> Result<Arc<Model>> {
    Ok(try_ref(model, "model")?.model.clone())
}

fn options_or_default(options: *const inferkit_model_options) -> Result<ModelOptions> {
    if options.is_null() {
        return Ok(ModelOptions::default());
    }
    Ok(try_ref(options, "options")?.clone())
}

/// \brief Loads a model file.
///
/// \param path The ONNX file, NUL-terminated UTF-8. Weights stored beside it (external data) are
///        found relative to it.
/// \param options Loading options, or NULL for the defaults.
/// \param model_out Receives the model.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_MODEL_NOT_FOUND, _MODEL_UNREADABLE,
///         _INVALID_MODEL, _RUNTIME_UNAVAILABLE, _UNSUPPORTED, _INVALID_ARGUMENT,
///         _PIPELINE_CONFIG (a pipeline in `options` that does not fit the model), _NULL_ARGUMENT.
///
/// Ownership: `path` and `options` are read during the call only; the caller owns `*model_out`
/// and releases it with inferkit_model_close.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_open(
    path: *const c_char,
    options: *const inferkit_model_options,
    model_out: *mut *mut inferkit_model,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let path = c_str(path, "path")?;
        let model_out = out(model_out, "model_out")?;
        let model = Model::open_with(path, &options_or_default(options)?)?;
        write_opt(model_out, new_model_handle(Arc::new(model)));
        Ok(())
    })
}

/// \brief Loads a model from bytes in memory.
///
/// \param name The model's name in errors and metrics (NUL-terminated), or NULL for "model"; a
///        name set in `options` wins.
/// \param bytes The ONNX model, `len` bytes.
/// \param len Length of `bytes`.
/// \param options Loading options, or NULL for the defaults.
/// \param model_out Receives the model.
/// \param error_out Receives an error on failure; may be NULL.
/// \return As inferkit_model_open.
///
/// Ownership: `name`, `bytes` and `options` are read during the call only; the caller owns
/// `*model_out` and releases it with inferkit_model_close.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_open_bytes(
    name: *const c_char,
    bytes: *const u8,
    len: usize,
    options: *const inferkit_model_options,
    model_out: *mut *mut inferkit_model,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let name = if name.is_null() {
            "model"
        } else {
            c_str(name, "name")?
        };
        let bytes = c_slice(bytes, len, "bytes")?;
        let model_out = out(model_out, "model_out")?;
        let model = Model::from_bytes(name, bytes, &options_or_default(options)?)?;
        write_opt(model_out, new_model_handle(Arc::new(model)));
        Ok(())
    })
}

/// \brief Another handle to the same loaded model (nothing is reloaded).
///
/// A model handle is one count of a shared model, and the new handle may be the same pointer as
/// `model`: a host keeps no per-handle state keyed on the pointer, and closes a pointer as many
/// times as it was handed out (by open, clone or the registry).
///
/// \param model A model handle, or NULL.
/// \return The new handle; NULL for NULL (and if inferkit fails internally).
///
/// Ownership: the caller owns the returned handle (one more count) and releases it with
/// inferkit_model_close; the model stays loaded until every count is closed.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_clone(model: *const inferkit_model) -> *mut inferkit_model {
    guard_value(std::ptr::null_mut(), || {
        try_clone_arc(model, "model").map_or(std::ptr::null_mut(), shared)
    })
}

/// \brief Closes a model handle.
///
/// Requests already made with it finish; the model is unloaded when its last handle is closed
/// and its last request is done.
///
/// \param model A model handle, or NULL (nothing happens).
///
/// Ownership: takes one count back from the caller; close a pointer as many times as it was handed
/// out. Strings read from the model live until its last count is closed.
/// Thread safety: must not race with calls that use the count it closes; it may run while other
/// counts of the model are in use, even when their pointer is equal.
#[no_mangle]
pub extern "C" fn inferkit_model_close(model: *mut inferkit_model) {
    guard_value((), || free_arc(model))
}

/// \brief The model's name.
///
/// \param model A model handle, or NULL.
/// \return NUL-terminated UTF-8; "" for NULL.
///
/// Ownership: the string belongs to the handle and lives until it is closed.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_name(model: *const inferkit_model) -> *const c_char {
    guard_value(c"".as_ptr(), || {
        try_ref(model, "model").map_or(c"".as_ptr(), |m| m.name.as_ptr())
    })
}

/// \brief The engine a model runs on.
///
/// \param model A model handle, or NULL.
/// \return INFERKIT_BACKEND_ONNX_RUNTIME or INFERKIT_BACKEND_TRACT (for a model opened with
///         INFERKIT_BACKEND_AUTO, the one chosen at load); INFERKIT_BACKEND_AUTO for NULL, which a
///         loaded model never reports.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_backend(model: *const inferkit_model) -> u32 {
    guard_value(crate::Backend::Auto as u32, || {
        try_ref(model, "model").map_or(crate::Backend::Auto as u32, |m| m.model.backend() as u32)
    })
}

fn side(m: &ModelHandle, io: u32) -> Result<(&[TensorSpec], &[SpecStrings])> {
    let sig = m.model.signature();
    match io {
        x if x == Io::Input as u32 => Ok((&sig.inputs, &m.inputs)),
        x if x == Io::Output as u32 => Ok((&sig.outputs, &m.outputs)),
        other => Err(Error::InvalidArgument {
            name: "io",
            reason: format!("{other} is not an inferkit_io"),
        }),
    }
}

/// Input or output `index` of a model handle, with its C strings.
fn spec_at<'a>(
    model: *const inferkit_model,
    io: u32,
    index: usize,
) -> Result<(&'a TensorSpec, &'a SpecStrings)> {
    let m: &'a ModelHandle = try_ref(model, "model")?;
    let (specs, strings) = side(m, io)?;
    let spec = specs.get(index).ok_or_else(|| Error::InvalidArgument {
        name: "index",
        reason: format!("{index} is out of range; there are {}", specs.len()),
    })?;
    Ok((spec, &strings[index]))
}

/// \brief Number of inputs or outputs of the model.
///
/// \param model A model handle, or NULL.
/// \param io INFERKIT_IO_INPUT or INFERKIT_IO_OUTPUT.
/// \return The count; 0 for NULL or an unknown `io`.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_tensor_count(model: *const inferkit_model, io: u32) -> usize {
    guard_value(0, || {
        try_ref(model, "model")
            .and_then(|m| side(m, io))
            .map_or(0, |(specs, _)| specs.len())
    })
}

/// \brief Describes input or output `index`: name, dtype, rank.
///
/// For a sequence, map or optional these are the innermost tensor's (a map's values');
/// inferkit_model_value_type gives the whole type. A tensor type the model gives no shape reports
/// rank 0, like a scalar, and takes any shape: its type string ends in `[..]`.
///
/// \param model A model handle.
/// \param io INFERKIT_IO_INPUT or INFERKIT_IO_OUTPUT.
/// \param index From 0 to inferkit_model_tensor_count - 1.
/// \param name_out Receives the name; may be NULL.
/// \param dtype_out Receives an inferkit_dtype; may be NULL.
/// \param rank_out Receives the number of dims; may be NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_NULL_ARGUMENT or INFERKIT_STATUS_INVALID_ARGUMENT.
///
/// Ownership: the name belongs to the handle and lives until it is closed.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_tensor_info(
    model: *const inferkit_model,
    io: u32,
    index: usize,
    name_out: *mut *const c_char,
    dtype_out: *mut u32,
    rank_out: *mut usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let (spec, strings) = spec_at(model, io, index)?;
        write_opt(name_out, strings.name.as_ptr());
        write_opt(dtype_out, spec.dtype as u32);
        write_opt(rank_out, spec.rank());
        Ok(())
    })
}

/// \brief The kind and full type of input or output `index`.
///
/// \param model A model handle.
/// \param io INFERKIT_IO_INPUT or INFERKIT_IO_OUTPUT.
/// \param index From 0 to inferkit_model_tensor_count - 1.
/// \param kind_out Receives an inferkit_value_kind (TENSOR, SEQUENCE, MAP, OPTIONAL); may be
///        NULL.
/// \param type_out Receives the type as inferkit writes it: `f32[batch, 16]`, `string[?]`,
///        `seq(map(i64, f32))`, `optional(f32[?])`; may be NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_NULL_ARGUMENT or INFERKIT_STATUS_INVALID_ARGUMENT.
///
/// Ownership: the type string belongs to the handle and lives until it is closed.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_value_type(
    model: *const inferkit_model,
    io: u32,
    index: usize,
    kind_out: *mut u32,
    type_out: *mut *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let (spec, strings) = spec_at(model, io, index)?;
        write_opt(kind_out, spec.ty.kind() as u32);
        write_opt(type_out, strings.ty.as_ptr());
        Ok(())
    })
}

/// \brief Reads one dim of input or output `index`.
///
/// \param model A model handle.
/// \param io INFERKIT_IO_INPUT or INFERKIT_IO_OUTPUT.
/// \param index From 0 to inferkit_model_tensor_count - 1.
/// \param axis From 0 to the rank - 1.
/// \param dim_out Receives the size, or -1 when each request chooses it; may be NULL.
/// \param symbol_out Receives the dim's name ("batch", "seq"), or NULL when it has none; may be
///        NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_NULL_ARGUMENT or INFERKIT_STATUS_INVALID_ARGUMENT.
///
/// Ownership: the symbol belongs to the handle and lives until it is closed.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_tensor_dim(
    model: *const inferkit_model,
    io: u32,
    index: usize,
    axis: usize,
    dim_out: *mut i64,
    symbol_out: *mut *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let (spec, strings) = spec_at(model, io, index)?;
        let dim = spec.dims.get(axis).ok_or_else(|| Error::InvalidArgument {
            name: "axis",
            reason: format!(
                "{axis} is out of range; `{}` has rank {}",
                spec.name,
                spec.rank()
            ),
        })?;
        write_opt(dim_out, dim.as_i64());
        write_opt(
            symbol_out,
            strings.symbols[axis]
                .as_ref()
                .map_or(std::ptr::null(), |s| s.as_ptr()),
        );
        Ok(())
    })
}

/// \brief Reads the model's scheduler counters, right now.
///
/// \param model A model handle.
/// \param instances_out Receives the number of sessions; may be NULL.
/// \param idle_out Receives the number of sessions idle now; may be NULL.
/// \param queued_out Receives the number of requests queued now; may be NULL.
/// \param executions_out Receives the number of session runs so far; may be NULL.
/// \param requests_run_out Receives the number of requests those runs served; may be NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_stats(
    model: *const inferkit_model,
    instances_out: *mut usize,
    idle_out: *mut usize,
    queued_out: *mut usize,
    executions_out: *mut u64,
    requests_run_out: *mut u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let stats = try_ref(model, "model")?.model.stats();
        write_opt(instances_out, stats.instances);
        write_opt(idle_out, stats.idle_instances);
        write_opt(queued_out, stats.queued);
        write_opt(executions_out, stats.executions);
        write_opt(requests_run_out, stats.requests_run);
        Ok(())
    })
}

/// \brief Reads the queueing and batching options the model runs with (those it was opened with,
/// or its repository config's), as inferkit_model_options_set_batching takes them.
///
/// \param model A model handle.
/// \param max_batch_size_out Receives the largest batch in rows (1: no batching); may be NULL.
/// \param max_queue_delay_us_out Receives how long a batch waits to fill (0: it never waits);
///        may be NULL.
/// \param max_queue_size_out Receives how many requests may wait; may be NULL.
/// \param default_timeout_us_out Receives the timeout of requests that set none (0: none); may
///        be NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_batching(
    model: *const inferkit_model,
    max_batch_size_out: *mut usize,
    max_queue_delay_us_out: *mut u64,
    max_queue_size_out: *mut usize,
    default_timeout_us_out: *mut u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let b = try_ref(model, "model")?.model.batching();
        write_opt(max_batch_size_out, b.max_batch_size);
        write_opt(max_queue_delay_us_out, b.max_queue_delay_us);
        write_opt(max_queue_size_out, b.max_queue_size);
        write_opt(default_timeout_us_out, b.default_timeout_us);
        Ok(())
    })
}

/// \brief How long a run of `rows` rows is expected to take on one session, from the runs
/// measured so far.
///
/// About one run in eight is timed; the estimate is the nearest batch size group measured
/// (1, 2–3, 4–7, …), scaled to `rows`. A host may read it to choose a timeout, or how its callers
/// wait: inferkit's Go binding has goroutines block on threads of their own when runs are short,
/// and queues their requests for inferkit's threads when they are long.
///
/// \param model A model handle.
/// \param rows Rows (dim 0) of the run; 0 counts as 1.
/// \param ns_out Receives the estimate in nanoseconds: 0 before any run was measured.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_run_estimate_ns(
    model: *const inferkit_model,
    rows: usize,
    ns_out: *mut u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let model = &try_ref(model, "model")?.model;
        let ns_out = out(ns_out, "ns_out")?;
        let ns = model
            .run_estimate(rows)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
        write_opt(ns_out, ns);
        Ok(())
    })
}

/// \brief The model's metrics in the Prometheus text format.
///
/// \param model A model handle.
/// \param text_out Receives the text.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the caller owns `*text_out` and releases it with inferkit_string_free.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_metrics_prometheus(
    model: *const inferkit_model,
    text_out: *mut *mut c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let m = pinned(model)?;
        let text_out = out(text_out, "text_out")?;
        give_string(text_out, m.metrics_prometheus());
        Ok(())
    })
}

/// \brief The model's metrics as JSON, with percentiles.
///
/// The shape: `{"requests_success", "warmup_requests", "requests_failed": {code: n}, "rows",
/// "executions", "pending", "inflight", "batch_size": {count, sum, p50, p90, p99},
/// "request_duration"|"queue_duration"|"compute_duration": {count, sum_us, p50_us, p90_us,
/// p99_us}}`. Percentiles are interpolated within histogram buckets, as Prometheus's
/// histogram_quantile does.
///
/// \param model A model handle.
/// \param json_out Receives the JSON text.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the caller owns `*json_out` and releases it with inferkit_string_free.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_metrics_json(
    model: *const inferkit_model,
    json_out: *mut *mut c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let m = pinned(model)?;
        let json_out = out(json_out, "json_out")?;
        give_string(json_out, m.metrics_json());
        Ok(())
    })
}
