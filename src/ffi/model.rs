//! `inferkit_model_options` and `inferkit_model`: loading, signature queries, inference.

use std::ffi::{c_char, CString};
use std::sync::Arc;

use super::tensor::{inferkit_inputs, inferkit_outputs, new_outputs};
use super::{
    arg, arg_mut, c_slice, c_str, guard, guard_value, inferkit_error, out, to_cstring, write_opt,
};
use crate::error::{Error, ErrorCode, Result};
use crate::model::{Model, ModelOptions};
use crate::session::{ExecutionProvider, OptimizationLevel};
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

/// Options for loading a model. Not thread-safe. Create with `inferkit_model_options_new`,
/// release with `inferkit_model_options_free`.
pub struct inferkit_model_options {
    options: ModelOptions,
}

impl inferkit_model_options {
    pub(crate) fn set_pipeline(&mut self, spec: crate::pipeline::PipelineSpec) {
        self.options.pipeline = Some(spec);
    }
}

/// Applies `change` to a copy of the options, checks the result, and keeps it only if it is valid.
fn edit(
    options: *mut inferkit_model_options,
    change: impl FnOnce(&mut ModelOptions),
) -> Result<()> {
    let o = arg_mut(options, "options")?;
    let mut next = o.options.clone();
    change(&mut next);
    next.check()?;
    o.options = next;
    Ok(())
}

/// Creates options with the defaults: name from the file, 1 intra-op and 1 inter-op thread,
/// spinning off, all graph optimisations, CPU. Never returns NULL.
#[no_mangle]
pub extern "C" fn inferkit_model_options_new() -> *mut inferkit_model_options {
    guard_value(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(inferkit_model_options {
            options: ModelOptions::default(),
        }))
    })
}

/// Releases options. `inferkit_model_options_free(NULL)` does nothing.
#[no_mangle]
pub extern "C" fn inferkit_model_options_free(options: *mut inferkit_model_options) {
    guard_value((), || {
        if !options.is_null() {
            // SAFETY: `options` came from inferkit_model_options_new and is freed once.
            drop(unsafe { Box::from_raw(options) });
        }
    })
}

/// Sets the model's name (used in errors and metrics). `name` is copied.
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_name(
    options: *mut inferkit_model_options,
    name: *const c_char,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let o = arg_mut(options, "options")?;
        o.options.name = Some(c_str(name, "name")?.to_string());
        Ok(())
    })
}

/// Sets the intra-op and inter-op thread counts (each at least 1).
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

/// Turns spinning of ONNX Runtime's worker threads on or off (default off: no CPU while idle).
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_spinning(
    options: *mut inferkit_model_options,
    spinning: bool,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        arg_mut(options, "options")?.options.session.spinning = spinning;
        Ok(())
    })
}

/// Sets the graph optimisation level (an `inferkit_optimization_level`).
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_optimization_level(
    options: *mut inferkit_model_options,
    level: u32,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let o = arg_mut(options, "options")?;
        o.options.session.optimization_level =
            OptimizationLevel::from_u32(level).ok_or_else(|| Error::InvalidArgument {
                name: "level",
                reason: format!("{level} is not an inferkit_optimization_level"),
            })?;
        Ok(())
    })
}

/// Appends an execution provider (an `inferkit_execution_provider`) to the preference list. This
/// build runs on ONNX Runtime's CPU provider: any other is INFERKIT_STATUS_UNSUPPORTED.
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

/// Sets the number of ONNX Runtime sessions (instances) that serve the model concurrently (at
/// least 1; default: the number of CPUs, at most 4).
#[no_mangle]
pub extern "C" fn inferkit_model_options_set_instances(
    options: *mut inferkit_model_options,
    instances: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || edit(options, |o| o.instances = instances))
}

/// Sets queueing and batching: `max_batch_size` rows per batch (1 turns batching off; default 32),
/// `max_queue_delay_us` (0, the default: never wait for a fuller batch), `max_queue_size`
/// requests waiting at most (default 1024; one more is INFERKIT_STATUS_QUEUE_FULL), and
/// `default_timeout_us` for requests that set none (0: none).
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

/// Sets the batch sizes worth waiting for under a timed policy (`count` sizes, each between 1 and
/// max_batch_size; `count` 0 clears them). Set max_batch_size first.
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

/// A loaded model. Thread-safe: any number of threads may run inferences on one handle at once.
/// Each handle (from `inferkit_model_open*` or `inferkit_model_clone`) is released with
/// `inferkit_model_free`; the model is unloaded when its last handle is.
pub struct inferkit_model {
    model: Arc<Model>,
    name: CString,
    inputs: Vec<SpecStrings>,
    outputs: Vec<SpecStrings>,
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

pub(crate) fn new_model_handle(model: Arc<Model>) -> *mut inferkit_model {
    new_model(model)
}

fn new_model(model: Arc<Model>) -> *mut inferkit_model {
    let sig = model.signature();
    let handle = inferkit_model {
        name: to_cstring(model.name()),
        inputs: spec_strings(&sig.inputs),
        outputs: spec_strings(&sig.outputs),
        model,
    };
    Box::into_raw(Box::new(handle))
}

fn options_or_default(options: *const inferkit_model_options) -> ModelOptions {
    // SAFETY: NULL or options from inferkit_model_options_new, not being modified concurrently.
    unsafe { options.as_ref() }.map_or_else(ModelOptions::default, |o| o.options.clone())
}

/// Loads the model file at `path` (NUL-terminated UTF-8). `options` may be NULL for the defaults;
/// it is only read during the call. On success `*model_out` receives a handle the caller owns.
/// Errors: INFERKIT_STATUS_MODEL_NOT_FOUND, _MODEL_UNREADABLE, _INVALID_MODEL,
/// _RUNTIME_UNAVAILABLE, _UNSUPPORTED. Thread-safe.
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
        let model = Model::open_with(path, &options_or_default(options))?;
        write_opt(model_out, new_model(Arc::new(model)));
        Ok(())
    })
}

/// Loads a model from `len` bytes at `bytes`, which are only read during the call. `name`
/// (used in errors and metrics) may be NULL for "model"; a name set in `options` wins.
/// Otherwise as `inferkit_model_open`.
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
        let opts = options_or_default(options);
        let model = Model::from_bytes(name, bytes, &opts)?;
        write_opt(model_out, new_model(Arc::new(model)));
        Ok(())
    })
}

/// A new handle to the same loaded model (no reload), or NULL if `model` is NULL. Release each
/// handle with `inferkit_model_free`. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_clone(model: *const inferkit_model) -> *mut inferkit_model {
    guard_value(std::ptr::null_mut(), || match arg(model, "model") {
        Ok(m) => new_model(m.model.clone()),
        Err(_) => std::ptr::null_mut(),
    })
}

/// Releases a model handle. `inferkit_model_free(NULL)` does nothing. Must not race with calls
/// that use the same handle; other handles to the model stay valid.
#[no_mangle]
pub extern "C" fn inferkit_model_free(model: *mut inferkit_model) {
    guard_value((), || {
        if !model.is_null() {
            // SAFETY: `model` came from this module and is freed once.
            drop(unsafe { Box::from_raw(model) });
        }
    })
}

/// The model's name, or "" for NULL. The string belongs to the handle. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_name(model: *const inferkit_model) -> *const c_char {
    guard_value(c"".as_ptr(), || {
        arg(model, "model").map_or(c"".as_ptr(), |m| m.name.as_ptr())
    })
}

fn side(m: &inferkit_model, io: u32) -> Result<(&[TensorSpec], &[SpecStrings])> {
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
    let m: &'a inferkit_model = arg(model, "model")?;
    let (specs, strings) = side(m, io)?;
    let spec = specs.get(index).ok_or_else(|| Error::InvalidArgument {
        name: "index",
        reason: format!("{index} is out of range; there are {}", specs.len()),
    })?;
    Ok((spec, &strings[index]))
}

/// Number of inputs (`io` = INFERKIT_IO_INPUT) or outputs (INFERKIT_IO_OUTPUT) of the model, or 0
/// for NULL or an unknown `io`. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_model_tensor_count(model: *const inferkit_model, io: u32) -> usize {
    guard_value(0, || {
        arg(model, "model")
            .and_then(|m| side(m, io))
            .map_or(0, |(specs, _)| specs.len())
    })
}

/// Describes input or output `index`: its name (belongs to the handle), dtype (an
/// `inferkit_dtype`) and rank. For a sequence, map or optional these are the innermost tensor's
/// (a map's values'); `inferkit_model_value_type` gives the whole type. A tensor type the model
/// gives no shape reports rank 0, like a scalar, and takes any shape: its type string ends in
/// `[..]`. Out-parameters may be NULL when not wanted. Thread-safe.
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

/// The kind and type of input or output `index`: `*kind_out` is an `inferkit_value_kind`
/// (TENSOR, SEQUENCE, MAP, OPTIONAL) and `*type_out` the type as inferkit writes it
/// (`f32[batch, 16]`, `string[?]`, `seq(map(i64, f32))`, `optional(f32[?])`; the string belongs
/// to the handle). For the tensor inside a sequence, map or optional, `inferkit_model_tensor_info`
/// gives its dtype. Out-parameters may be NULL when not wanted. Thread-safe.
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

/// Reads dim `axis` of input or output `index`: `*dim_out` is the size, or -1 when it is chosen
/// per request; `*symbol_out` is the dim's name ("batch", "seq") or NULL when it has none (the
/// string belongs to the handle). Out-parameters may be NULL when not wanted. Thread-safe.
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

/// Reads the model's scheduler counters; out-parameters may be NULL when not wanted: sessions,
/// sessions idle now, requests queued now, session runs so far, requests those runs served.
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
        let stats = arg(model, "model")?.model.stats();
        write_opt(instances_out, stats.instances);
        write_opt(idle_out, stats.idle_instances);
        write_opt(queued_out, stats.queued);
        write_opt(executions_out, stats.executions);
        write_opt(requests_run_out, stats.requests_run);
        Ok(())
    })
}

/// The model behind a handle, pinned for the rest of the call.
///
/// Every call that can run a request pins its model this way: callbacks run inside inferkit calls
/// (this one, or another thread's that is draining the queue), and a callback may release the last
/// handle of its model (`inferkit_model_free`), which must not free the model while the call that
/// runs the callback still uses it.
pub(crate) fn pinned(model: *const inferkit_model) -> Result<Arc<Model>> {
    Ok(arg(model, "model")?.model.clone())
}

/// Runs the model on `inputs` and, on success, writes to `*outputs_out` all outputs in signature
/// order; the caller owns them and releases them with `inferkit_outputs_free`. Borrowed input data
/// must stay valid until this returns. A request that does not fit the signature fails with the
/// matching status (UNKNOWN_INPUT, MISSING_INPUT, DTYPE_MISMATCH, RANK_MISMATCH, DIM_MISMATCH,
/// BYTE_LENGTH_MISMATCH, …) before ONNX Runtime sees it. Thread-safe for `model`; `inputs` must not
/// be modified during the call.
#[no_mangle]
pub extern "C" fn inferkit_model_infer(
    model: *const inferkit_model,
    inputs: *const inferkit_inputs,
    outputs_out: *mut *mut inferkit_outputs,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let m = pinned(model)?;
        let inputs = arg(inputs, "inputs")?;
        let outputs_out = out(outputs_out, "outputs_out")?;
        let result = m.infer(&inputs.views())?;
        write_opt(outputs_out, new_outputs(result));
        Ok(())
    })
}

/// Like `inferkit_model_infer`, but returns only the `count` outputs named in `output_names`, in
/// that order; ONNX Runtime skips work that only other outputs need. An unknown name is
/// INFERKIT_STATUS_UNKNOWN_OUTPUT.
#[no_mangle]
pub extern "C" fn inferkit_model_infer_select(
    model: *const inferkit_model,
    inputs: *const inferkit_inputs,
    output_names: *const *const c_char,
    count: usize,
    outputs_out: *mut *mut inferkit_outputs,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let m = pinned(model)?;
        let inputs = arg(inputs, "inputs")?;
        let names = c_slice(output_names, count, "output_names")?
            .iter()
            .map(|p| c_str(*p, "output_names"))
            .collect::<Result<Vec<&str>>>()?;
        let outputs_out = out(outputs_out, "outputs_out")?;
        let result = m.infer_with(
            &inputs.views(),
            &crate::InferOptions::default().with_outputs(names),
        )?;
        write_opt(outputs_out, new_outputs(result));
        Ok(())
    })
}
