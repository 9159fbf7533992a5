//! `inferkit_outputs`: what a request returns — the model's outputs and, from a pipeline that ends
//! with `top_k`, classes per row.

use std::ffi::{c_char, c_void, CString};
use std::sync::{Arc, OnceLock};

use super::ownership::{boxed, free_box, lend, try_ref, Castable, Opaque, OwnershipBox};
use super::value::inferkit_value;
use super::{c_str, guard, guard_value, inferkit_error, out, to_cstring, write_opt};
use crate::error::{Error, ErrorCode};
use crate::pipeline::PipelineOutput;
use crate::session::Outputs;
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// The outputs of one request. Read-only once made.
pub struct inferkit_outputs {
    _opaque: Opaque,
}

/// What an outputs handle points to: the outputs, the C strings and shapes handed out from them,
/// and the classes of a pipeline's `top_k`.
pub(crate) struct OutputsData {
    /// The model that answered, for error messages.
    model: Arc<str>,
    outputs: Outputs,
    /// The outputs' names, NUL-terminated: made when first asked for (a caller that knows them
    /// from the model's signature never does).
    names: OnceLock<Vec<CString>>,
    /// The tensors' dims as `i64`, where `usize` is not 64 bits wide (elsewhere the tensors' own).
    #[cfg(not(target_pointer_width = "64"))]
    shapes: OnceLock<Vec<Vec<i64>>>,
    /// Per row: (index along the class axis, label, score), best first.
    classes: Vec<Vec<(usize, Option<CString>, f32)>>,
}

impl Castable for inferkit_outputs {
    type Ownership = OwnershipBox;
    type RustType = OutputsData;
}

fn data(model: &Arc<str>, outputs: Outputs) -> OutputsData {
    OutputsData {
        model: model.clone(),
        outputs,
        names: OnceLock::new(),
        #[cfg(not(target_pointer_width = "64"))]
        shapes: OnceLock::new(),
        classes: Vec::new(),
    }
}

impl OutputsData {
    fn names(&self) -> &[CString] {
        self.names
            .get_or_init(|| self.outputs.iter().map(|(n, _)| to_cstring(n)).collect())
    }

    /// The dims of tensor output `index`, as C reads them.
    #[cfg(target_pointer_width = "64")]
    fn shape(&self, _index: usize, tensor: &Tensor) -> &[i64] {
        let dims = tensor.shape();
        // SAFETY: usize and i64 have the same size and alignment on 64-bit targets, and any bit
        // pattern is an i64: the dims read as `*d as i64` would, without a copy. The slice
        // borrows the tensor, which `self` owns.
        unsafe { std::slice::from_raw_parts(dims.as_ptr().cast::<i64>(), dims.len()) }
    }

    #[cfg(not(target_pointer_width = "64"))]
    fn shape(&self, index: usize, _tensor: &Tensor) -> &[i64] {
        let shapes = self.shapes.get_or_init(|| {
            self.outputs
                .iter()
                .map(|(_, v)| {
                    v.as_tensor()
                        .map(|t| t.shape().iter().map(|d| *d as i64).collect())
                        .unwrap_or_default()
                })
                .collect()
        });
        &shapes[index]
    }
}

/// A new outputs handle for the caller.
pub(crate) fn new_outputs(model: &Arc<str>, outputs: Outputs) -> *mut inferkit_outputs {
    boxed(data(model, outputs))
}

/// A new outputs handle, with classes, for the result of a pipeline.
pub(crate) fn new_pipeline_outputs(
    model: &Arc<str>,
    result: PipelineOutput,
) -> *mut inferkit_outputs {
    let mut d = data(model, result.outputs);
    d.classes = result
        .classes
        .unwrap_or_default()
        .into_iter()
        .map(|row| {
            row.into_iter()
                .map(|c| (c.index, c.label.as_deref().map(to_cstring), c.score))
                .collect()
        })
        .collect();
    boxed(d)
}

/// \brief Number of outputs.
///
/// \param outputs Outputs from a request, or NULL.
/// \return The count; 0 for NULL.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe; outputs are read-only.
#[no_mangle]
pub extern "C" fn inferkit_outputs_count(outputs: *const inferkit_outputs) -> usize {
    guard_value(0, || {
        try_ref(outputs, "outputs").map_or(0, |o| o.outputs.len())
    })
}

/// \brief The name of output `index`, whatever its kind.
///
/// \param outputs Outputs from a request, or NULL.
/// \param index From 0 to inferkit_outputs_count - 1.
/// \return NUL-terminated UTF-8; NULL for NULL or an index out of range.
///
/// Ownership: the name belongs to `outputs` and lives until inferkit_outputs_free.
/// Thread safety: thread-safe; outputs are read-only.
#[no_mangle]
pub extern "C" fn inferkit_outputs_name(
    outputs: *const inferkit_outputs,
    index: usize,
) -> *const c_char {
    guard_value(std::ptr::null(), || {
        try_ref(outputs, "outputs")
            .ok()
            .and_then(|o| o.names().get(index))
            .map_or(std::ptr::null(), |n| n.as_ptr())
    })
}

/// \brief Finds an output by name.
///
/// \param outputs Outputs from a request.
/// \param name NUL-terminated UTF-8.
/// \param index_out Receives the output's index.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_UNKNOWN_OUTPUT or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: `name` is read during the call only.
/// Thread safety: thread-safe; outputs are read-only.
#[no_mangle]
pub extern "C" fn inferkit_outputs_find(
    outputs: *const inferkit_outputs,
    name: *const c_char,
    index_out: *mut usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let o = try_ref(outputs, "outputs")?;
        let name = c_str(name, "name")?;
        let index_out = out(index_out, "index_out")?;
        let index = (0..o.outputs.len())
            .find(|i| o.outputs.name(*i) == Some(name))
            .ok_or_else(|| Error::UnknownOutput {
                model: o.model.to_string(),
                output: name.to_string(),
                expected: o.outputs.iter().map(|(n, _)| n.to_string()).collect(),
            })?;
        write_opt(index_out, index);
        Ok(())
    })
}

/// \brief Reads numeric tensor output `index`.
///
/// String tensors, sequences, maps and optionals are INFERKIT_STATUS_TYPE_MISMATCH: read them
/// with inferkit_outputs_value.
///
/// \param outputs Outputs from a request.
/// \param index From 0 to inferkit_outputs_count - 1.
/// \param name_out Receives the output's name; may be NULL.
/// \param dtype_out Receives an inferkit_dtype; may be NULL.
/// \param shape_out Receives the dims (`*rank_out` of them); may be NULL.
/// \param rank_out Receives the number of dims; may be NULL.
/// \param data_out Receives the bytes: row-major, native byte order, aligned for the dtype; may
///        be NULL.
/// \param data_len_out Receives the number of bytes; may be NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_TYPE_MISMATCH, INFERKIT_STATUS_INVALID_ARGUMENT
///         (index out of range) or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: every pointer written belongs to `outputs` and lives until inferkit_outputs_free.
/// Thread safety: thread-safe; outputs are read-only.
#[no_mangle]
pub extern "C" fn inferkit_outputs_get(
    outputs: *const inferkit_outputs,
    index: usize,
    name_out: *mut *const c_char,
    dtype_out: *mut u32,
    shape_out: *mut *const i64,
    rank_out: *mut usize,
    data_out: *mut *const c_void,
    data_len_out: *mut usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let o = try_ref(outputs, "outputs")?;
        if index >= o.outputs.len() {
            return Err(Error::InvalidArgument {
                name: "index",
                reason: format!(
                    "{index} is out of range; there are {} outputs",
                    o.outputs.len()
                ),
            });
        }
        let name = o.outputs.name(index).unwrap_or_default();
        let t = match o.outputs.value_at(index) {
            Some(Value::Tensor(t)) if t.dtype() != DType::String => t,
            other => {
                return Err(Error::TypeMismatch {
                    model: o.model.to_string(),
                    input: name.to_string(),
                    expected: "a numeric tensor (read other outputs with inferkit_outputs_value)"
                        .into(),
                    given: other.map_or_else(String::new, Value::describe),
                })
            }
        };
        if !name_out.is_null() {
            write_opt(name_out, o.names()[index].as_ptr());
        }
        write_opt(dtype_out, t.dtype() as u32);
        let shape = o.shape(index, t);
        write_opt(shape_out, shape.as_ptr());
        write_opt(rank_out, shape.len());
        write_opt(data_out, t.as_bytes().as_ptr().cast::<c_void>());
        write_opt(data_len_out, t.as_bytes().len());
        Ok(())
    })
}

/// \brief Output `index` as a value of any kind: tensor, string tensor, sequence, map, optional.
///
/// \param outputs Outputs from a request, or NULL.
/// \param index From 0 to inferkit_outputs_count - 1.
/// \return The value; NULL for NULL or an index out of range.
///
/// Ownership: the value belongs to `outputs` (never free it) and lives until
/// inferkit_outputs_free.
/// Thread safety: thread-safe; outputs are read-only.
#[no_mangle]
pub extern "C" fn inferkit_outputs_value(
    outputs: *const inferkit_outputs,
    index: usize,
) -> *const inferkit_value {
    guard_value(std::ptr::null(), || {
        try_ref(outputs, "outputs")
            .ok()
            .and_then(|o| o.outputs.value_at(index))
            .map_or(std::ptr::null(), lend::<inferkit_value>)
    })
}

/// \brief Number of rows with classes: the batch rows of a pipeline that ends with `top_k`.
///
/// \param outputs Outputs from a request, or NULL.
/// \return The number of rows; 0 for NULL and for outputs without classes.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe; outputs are read-only.
#[no_mangle]
pub extern "C" fn inferkit_outputs_class_rows(outputs: *const inferkit_outputs) -> usize {
    guard_value(0, || {
        try_ref(outputs, "outputs").map_or(0, |o| o.classes.len())
    })
}

/// \brief Number of classes in `row`: the `k` of `top_k`, or fewer.
///
/// \param outputs Outputs from a request, or NULL.
/// \param row From 0 to inferkit_outputs_class_rows - 1.
/// \return The number of classes; 0 for NULL or a row out of range.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe; outputs are read-only.
#[no_mangle]
pub extern "C" fn inferkit_outputs_class_count(
    outputs: *const inferkit_outputs,
    row: usize,
) -> usize {
    guard_value(0, || {
        try_ref(outputs, "outputs").map_or(0, |o| o.classes.get(row).map_or(0, Vec::len))
    })
}

/// \brief Reads class `rank` (0 is the best) of `row`.
///
/// \param outputs Outputs from a request.
/// \param row From 0 to inferkit_outputs_class_rows - 1.
/// \param rank From 0 to inferkit_outputs_class_count - 1.
/// \param index_out Receives the class's index along the class axis; may be NULL.
/// \param label_out Receives its label, or NULL without a label file; may be NULL.
/// \param score_out Receives its score; may be NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT (out of range) or
///         INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the label belongs to `outputs` and lives until inferkit_outputs_free.
/// Thread safety: thread-safe; outputs are read-only.
#[no_mangle]
pub extern "C" fn inferkit_outputs_class(
    outputs: *const inferkit_outputs,
    row: usize,
    rank: usize,
    index_out: *mut usize,
    label_out: *mut *const c_char,
    score_out: *mut f32,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let o = try_ref(outputs, "outputs")?;
        let class = o
            .classes
            .get(row)
            .and_then(|c| c.get(rank))
            .ok_or_else(|| Error::InvalidArgument {
                name: "rank",
                reason: format!("row {row}, rank {rank} is out of range"),
            })?;
        write_opt(index_out, class.0);
        write_opt(
            label_out,
            class.1.as_ref().map_or(std::ptr::null(), |l| l.as_ptr()),
        );
        write_opt(score_out, class.2);
        Ok(())
    })
}

/// \brief Releases outputs.
///
/// \param outputs Outputs from a request, or NULL (nothing happens).
///
/// Ownership: takes `outputs` back from the caller; release them once. Every pointer read from
/// them dies with them.
/// Thread safety: must not race with other calls on the same outputs.
#[no_mangle]
pub extern "C" fn inferkit_outputs_free(outputs: *mut inferkit_outputs) {
    guard_value((), || free_box(outputs))
}
