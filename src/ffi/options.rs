//! `inferkit_model_options`: how a model is loaded (threads, instances, batching, pipeline).

use std::ffi::c_char;

use super::ownership::{free_box, give_box, try_mut, Castable, Opaque, OwnershipBox};
use super::{c_slice, c_str, guard, guard_value, inferkit_error, out};
use crate::backend::Backend;
use crate::error::{Error, ErrorCode, Result};
use crate::model::ModelOptions;
use crate::pipeline::PipelineSpec;
use crate::session::{ExecutionProvider, OptimizationLevel};

/// Options for loading a model. Only read by the calls they are passed to.
pub struct inferkit_model_options {
    _opaque: Opaque,
}

impl Castable for inferkit_model_options {
    type Ownership = OwnershipBox;
    type RustType = ModelOptions;
}

/// Applies `change` to a copy of the options, checks the result, and keeps it only if it is valid.
fn edit(
    options: *mut inferkit_model_options,
    change: impl FnOnce(&mut ModelOptions),
) -> Result<()> {
    let o = try_mut(options, "options")?;
    let mut next = o.clone();
    change(&mut next);
    next.check()?;
    *o = next;
    Ok(())
}

/// \brief Creates model options with the defaults.
///
/// The defaults: the name from the file, 1 intra-op and 1 inter-op thread, spinning off, all graph
/// optimisations, the CPU provider, as many instances as CPUs (at most 4), no batching (a batch
/// size of 1: turn it on with inferkit_model_options_set_batching), a queue of 1024, no default
/// timeout, no pipeline.
///
/// \param options_out Receives the options.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the caller owns `*options_out` and releases it with inferkit_model_options_free.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_options_new(
    options_out: *mut *mut inferkit_model_options,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let options_out = out(options_out, "options_out")?;
        give_box(options_out, ModelOptions::default());
        Ok(())
    })
}

/// \brief Releases model options.
///
/// \param options Options from inferkit_model_options_new, or NULL (nothing happens).
///
/// Ownership: takes `options` back from the caller; release them once. Models opened with them
/// keep their own copy.
/// Thread safety: must not race with other calls on the same options.
#[no_mangle]
pub extern "C" fn inferkit_model_options_free(options: *mut inferkit_model_options) {
    guard_value((), || free_box(options))
}

/// \brief Sets the model's name, used in errors and metrics.
///
/// \param options The options to change.
/// \param name NUL-terminated UTF-8.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_NULL_ARGUMENT or INFERKIT_STATUS_INVALID_ARGUMENT.
///
/// Ownership: `name` is copied.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_name(
    options: *mut inferkit_model_options,
    name: *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let name = c_str(name, "name")?.to_string();
        edit(options, |o| o.name = Some(name))
    })
}

/// \brief Sets ONNX Runtime's thread counts per session.
///
/// \param options The options to change.
/// \param intra_op_threads Threads inside one operator (1 to INFERKIT_MAX_THREADS).
/// \param inter_op_threads Threads across operators (1 to INFERKIT_MAX_THREADS).
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, or INFERKIT_STATUS_INVALID_ARGUMENT (the options are unchanged).
///
/// Ownership: nothing is handed out.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_threads(
    options: *mut inferkit_model_options,
    intra_op_threads: usize,
    inter_op_threads: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        edit(options, |o| {
            o.session.intra_op_threads = intra_op_threads;
            o.session.inter_op_threads = inter_op_threads;
        })
    })
}

/// \brief Turns spinning of ONNX Runtime's worker threads on or off.
///
/// \param options The options to change.
/// \param spinning True: idle threads spin (lower latency, CPU while idle). Default false.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: nothing is handed out.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_spinning(
    options: *mut inferkit_model_options,
    spinning: bool,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        edit(options, |o| o.session.spinning = spinning)
    })
}

/// \brief Sets the graph optimisation level.
///
/// \param options The options to change.
/// \param level An inferkit_optimization_level.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, or INFERKIT_STATUS_INVALID_ARGUMENT for an unknown level.
///
/// Ownership: nothing is handed out.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_optimization_level(
    options: *mut inferkit_model_options,
    level: u32,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let level = OptimizationLevel::from_u32(level).ok_or_else(|| Error::InvalidArgument {
            name: "level",
            reason: format!("{level} is not an inferkit_optimization_level"),
        })?;
        edit(options, |o| o.session.optimization_level = level)
    })
}

/// \brief Sets the engine that runs the model: ONNX Runtime (the default), tract (a pure-Rust ONNX
/// engine, in builds with the `tract` feature), or AUTO (ONNX Runtime when it can be loaded, tract
/// when it cannot). inferkit_model_backend says which one a loaded model runs on.
///
/// \param options The options to change.
/// \param backend An inferkit_backend.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_INVALID_ARGUMENT for an unknown backend;
///         INFERKIT_STATUS_UNSUPPORTED for tract in a build without it (see
///         inferkit_backend_available).
///
/// Ownership: nothing is handed out.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_backend(
    options: *mut inferkit_model_options,
    backend: u32,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let backend = Backend::from_u32(backend).ok_or_else(|| Error::InvalidArgument {
            name: "backend",
            reason: format!("{backend} is not an inferkit_backend"),
        })?;
        if !backend.is_built() {
            return Err(Error::Unsupported {
                what: format!("the {backend} backend"),
                feature: Some("tract"),
            });
        }
        edit(options, |o| o.backend = backend)
    })
}

/// \brief Fixes the shape input `name` always has: its dynamic dims take these sizes in the
/// model's signature (fixed dims must match), so requests of another shape are refused. On the
/// tract backend this lets a graph whose shapes are computed from dynamic dims load (tract types
/// a graph before it runs it). Setting a shape for the same input again replaces it.
///
/// \param options The options to change.
/// \param name The input's name, NUL-terminated UTF-8.
/// \param shape `rank` sizes, each 0 or more.
/// \param rank Number of dims; `shape` may be NULL when it is 0.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_NULL_ARGUMENT; INFERKIT_STATUS_INVALID_ARGUMENT for a
///         negative size or a shape too large. Whether the shape fits the model is checked when it
///         opens (INFERKIT_STATUS_INVALID_ARGUMENT, or INFERKIT_STATUS_UNKNOWN_INPUT for a name it
///         does not have).
///
/// Ownership: `name` and `shape` are copied.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_input_shape(
    options: *mut inferkit_model_options,
    name: *const c_char,
    shape: *const i64,
    rank: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let name = c_str(name, "name")?.to_string();
        let dims = c_slice(shape, rank, "shape")?
            .iter()
            .map(|d| {
                usize::try_from(*d).map_err(|_| Error::InvalidArgument {
                    name: "shape",
                    reason: format!("input `{name}`: size {d} is negative or too large"),
                })
            })
            .collect::<Result<Vec<usize>>>()?;
        edit(options, |o| *o = o.clone().with_input_shape(&name, &dims))
    })
}

/// \brief Whether this build of inferkit can run models on `backend`.
///
/// \param backend An inferkit_backend.
/// \return true for INFERKIT_BACKEND_ONNX_RUNTIME and INFERKIT_BACKEND_AUTO; for
///         INFERKIT_BACKEND_TRACT, whether the library was built with the `tract` feature; false
///         for an unknown value. Whether ONNX Runtime itself can be loaded is
///         inferkit_runtime_init's answer.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_backend_available(backend: u32) -> bool {
    guard_value(false, || {
        Backend::from_u32(backend).is_some_and(Backend::is_built)
    })
}

/// \brief Appends an execution provider to the preference list.
///
/// \param options The options to change.
/// \param provider An inferkit_execution_provider.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_INVALID_ARGUMENT for an unknown provider or one
///         more than INFERKIT_MAX_EXECUTION_PROVIDERS; INFERKIT_STATUS_UNSUPPORTED for a provider
///         this build lacks (it runs on the CPU one).
///
/// Ownership: nothing is handed out.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_add_execution_provider(
    options: *mut inferkit_model_options,
    provider: u32,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let ep = ExecutionProvider::from_u32(provider).ok_or_else(|| Error::InvalidArgument {
            name: "provider",
            reason: format!("{provider} is not an inferkit_execution_provider"),
        })?;
        edit(options, |o| o.session.execution_providers.push(ep))
    })
}

/// \brief Sets how many ONNX Runtime sessions (instances) serve the model at once.
///
/// \param options The options to change.
/// \param instances 1 to INFERKIT_MAX_INSTANCES; they share pre-packed weights.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, or INFERKIT_STATUS_INVALID_ARGUMENT (the options are unchanged).
///
/// Ownership: nothing is handed out.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_instances(
    options: *mut inferkit_model_options,
    instances: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || edit(options, |o| o.instances = instances))
}

/// \brief Sets queueing and batching.
///
/// \param options The options to change.
/// \param max_batch_size Rows per batch, 1 to INFERKIT_MAX_BATCH_SIZE (1, the default, turns
///        batching off).
/// \param max_queue_delay_us How long to wait for a fuller batch, up to
///        INFERKIT_MAX_QUEUE_DELAY_US (0, the default: never wait).
/// \param max_queue_size Requests waiting at most, 1 to INFERKIT_MAX_QUEUE_SIZE (default 1024;
///        one more is INFERKIT_STATUS_QUEUE_FULL).
/// \param default_timeout_us Timeout of requests that set none, up to
///        INFERKIT_MAX_DEFAULT_TIMEOUT_US (0: none).
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, or INFERKIT_STATUS_INVALID_ARGUMENT (the options are unchanged).
///
/// Ownership: nothing is handed out.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_batching(
    options: *mut inferkit_model_options,
    max_batch_size: usize,
    max_queue_delay_us: u64,
    max_queue_size: usize,
    default_timeout_us: u64,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        edit(options, |o| {
            o.batching.max_batch_size = max_batch_size;
            o.batching.max_queue_delay_us = max_queue_delay_us;
            o.batching.max_queue_size = max_queue_size;
            o.batching.default_timeout_us = default_timeout_us;
        })
    })
}

/// \brief Sets the batch sizes worth waiting for under a timed batching policy.
///
/// \param options The options to change; set max_batch_size first.
/// \param sizes `count` sizes, each from 1 to max_batch_size.
/// \param count Up to INFERKIT_MAX_PREFERRED_BATCH_SIZES; 0 clears them.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, or INFERKIT_STATUS_INVALID_ARGUMENT (the options are unchanged).
///
/// Ownership: `sizes` is copied.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_preferred_batch_sizes(
    options: *mut inferkit_model_options,
    sizes: *const usize,
    count: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let sizes = c_slice(sizes, count, "sizes")?.to_vec();
        edit(options, |o| o.batching.preferred_batch_sizes = sizes)
    })
}

/// \brief Sets the model's pipeline (pre- and post-processing) from TOML text.
///
/// The text is the body of a `[pipeline]` table as in a repository's config.toml (`input`,
/// `output`, `image`, `text`, `sequence`, `pre`, `post`). Label files are relative to the working
/// directory. The pipeline is checked against the model when it opens
/// (INFERKIT_STATUS_PIPELINE_CONFIG naming the step).
///
/// \param options The options to change.
/// \param toml_text NUL-terminated UTF-8.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_CONFIG with the key and line;
///         INFERKIT_STATUS_NULL_ARGUMENT; INFERKIT_STATUS_INVALID_ARGUMENT (not UTF-8).
///
/// Ownership: `toml_text` is read during the call only.
/// Thread safety: not thread-safe for `options`; use them from one thread at a time.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_pipeline_toml(
    options: *mut inferkit_model_options,
    toml_text: *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let text = c_str(toml_text, "toml_text")?;
        let spec: PipelineSpec = toml::from_str(text).map_err(|e| Error::Config {
            file: "<pipeline TOML>".into(),
            message: e.to_string().trim_end().to_string(),
        })?;
        edit(options, |o| o.pipeline = Some(spec))
    })
}
