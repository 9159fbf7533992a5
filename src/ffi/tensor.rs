//! `inferkit_inputs` (values passed to a model) and `inferkit_outputs` (values it returns).

use std::ffi::{c_char, c_void, CString};

use super::{
    arg, arg_mut, c_slice, c_str, guard, guard_value, inferkit_error, out, to_cstring, write_opt,
};
use crate::error::{Error, ErrorCode, Result};
use crate::session::Outputs;
use crate::tensor::{AlignedBytes, DType, TensorView};
use crate::value::{AsInput, Input, Value};

enum Data {
    /// Borrowed from the caller, who keeps it valid until the inference that uses it returns.
    Borrowed(*const u8, usize),
    /// Copied into inferkit's memory.
    Owned(AlignedBytes),
    /// A string tensor, sequence, map or optional, copied.
    Value(Value),
}

struct Entry {
    name: String,
    dtype: DType,
    shape: Vec<usize>,
    data: Data,
}

/// A set of named input tensors for one inference. Not thread-safe: use it from one thread at a
/// time. Create with `inferkit_inputs_new`, release with `inferkit_inputs_free`.
pub struct inferkit_inputs {
    entries: Vec<Entry>,
}

impl inferkit_inputs {
    /// Copies the entries into owned values, for requests that outlive the call.
    pub(crate) fn to_owned_values(&self) -> Vec<(String, Value)> {
        self.views()
            .into_iter()
            .map(|(name, input)| {
                let value = match input {
                    Input::Tensor(view) => Value::Tensor(view.to_owned_unchecked()),
                    Input::Value(v) => v.clone(),
                };
                (name.to_string(), value)
            })
            .collect()
    }

    /// The entries as request inputs, for `Model::infer`.
    pub(crate) fn views(&self) -> Vec<(&str, Input<'_>)> {
        self.entries
            .iter()
            .map(|e| {
                let bytes: &[u8] = match &e.data {
                    // The caller keeps borrowed data valid until the inference returns (documented on
                    // inferkit_inputs_add); the pointer was checked against NULL when it was added.
                    Data::Borrowed(ptr, len) => c_slice(*ptr, *len, "data").unwrap_or(&[]),
                    Data::Owned(buf) => buf.as_bytes(),
                    Data::Value(v) => return (e.name.as_str(), v.as_input()),
                };
                (
                    e.name.as_str(),
                    Input::Tensor(TensorView::new(e.dtype, &e.shape[..], bytes)),
                )
            })
            .collect()
    }

    pub(crate) fn push_value(&mut self, name: String, value: Value) {
        self.entries.push(Entry {
            name,
            dtype: DType::U8,
            shape: Vec::new(),
            data: Data::Value(value),
        });
    }
}

/// Creates an empty set of inputs. Never returns NULL (allocation failure aborts). Release it with
/// `inferkit_inputs_free`.
#[no_mangle]
pub extern "C" fn inferkit_inputs_new() -> *mut inferkit_inputs {
    guard_value(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(inferkit_inputs {
            entries: Vec::new(),
        }))
    })
}

/// Releases a set of inputs (copied data with it; borrowed data stays the caller's).
/// `inferkit_inputs_free(NULL)` does nothing.
#[no_mangle]
pub extern "C" fn inferkit_inputs_free(inputs: *mut inferkit_inputs) {
    guard_value((), || {
        if !inputs.is_null() {
            // SAFETY: `inputs` came from inferkit_inputs_new and is freed once.
            drop(unsafe { Box::from_raw(inputs) });
        }
    })
}

/// Removes every input, keeping the allocation for reuse. NULL does nothing.
#[no_mangle]
pub extern "C" fn inferkit_inputs_clear(inputs: *mut inferkit_inputs) {
    guard_value((), || {
        if let Ok(inputs) = arg_mut(inputs, "inputs") {
            inputs.entries.clear();
        }
    })
}

/// Number of inputs in the set (0 for NULL).
#[no_mangle]
pub extern "C" fn inferkit_inputs_count(inputs: *const inferkit_inputs) -> usize {
    guard_value(0, || arg(inputs, "inputs").map_or(0, |i| i.entries.len()))
}

/// Raw bytes cannot describe strings: those come through `inferkit_inputs_add_strings`.
pub(crate) fn no_strings(dtype: DType) -> Result<()> {
    if dtype == DType::String {
        return Err(Error::InvalidArgument {
            name: "dtype",
            reason: "string tensors are added with inferkit_inputs_add_strings or inferkit_value_new_strings".into(),
        });
    }
    Ok(())
}

pub(crate) fn parse_entry(
    name: *const c_char,
    dtype: u32,
    shape: *const i64,
    rank: usize,
) -> Result<(String, DType, Vec<usize>)> {
    let name = c_str(name, "name")?.to_string();
    let dtype = DType::from_u32(dtype).ok_or_else(|| Error::InvalidArgument {
        name: "dtype",
        reason: format!("{dtype} is not an inferkit_dtype"),
    })?;
    let dims = c_slice(shape, rank, "shape")?;
    let shape = dims
        .iter()
        .enumerate()
        .map(|(i, d)| {
            usize::try_from(*d).map_err(|_| Error::InvalidArgument {
                name: "shape",
                reason: format!("dim {i} of `{name}` is {d}, which is negative"),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((name, dtype, shape))
}

/// Adds an input tensor that borrows `data`: no copy is made, and the caller keeps `data`
/// (`data_len` bytes, row-major, native byte order) valid and unchanged until the inference that
/// uses these inputs returns. `name` is copied. `dtype` is an `inferkit_dtype`; `shape` points to
/// `rank` dims (rank 0 is a scalar). The byte length is checked against the model when it runs.
/// Go and other callers whose memory may move must use `inferkit_inputs_add_copy`.
#[no_mangle]
pub extern "C" fn inferkit_inputs_add(
    inputs: *mut inferkit_inputs,
    name: *const c_char,
    dtype: u32,
    shape: *const i64,
    rank: usize,
    data: *const c_void,
    data_len: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let inputs = arg_mut(inputs, "inputs")?;
        let (name, dtype, shape) = parse_entry(name, dtype, shape, rank)?;
        no_strings(dtype)?;
        c_slice(data.cast::<u8>(), data_len, "data")?;
        inputs.entries.push(Entry {
            name,
            dtype,
            shape,
            data: Data::Borrowed(data.cast(), data_len),
        });
        Ok(())
    })
}

/// Like `inferkit_inputs_add`, but copies `data` into memory owned by `inputs`: the caller may
/// reuse or free `data` as soon as the call returns.
#[no_mangle]
pub extern "C" fn inferkit_inputs_add_copy(
    inputs: *mut inferkit_inputs,
    name: *const c_char,
    dtype: u32,
    shape: *const i64,
    rank: usize,
    data: *const c_void,
    data_len: usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let inputs = arg_mut(inputs, "inputs")?;
        let (name, dtype, shape) = parse_entry(name, dtype, shape, rank)?;
        no_strings(dtype)?;
        let bytes = c_slice(data.cast::<u8>(), data_len, "data")?;
        inputs.entries.push(Entry {
            name,
            dtype,
            shape,
            data: Data::Owned(AlignedBytes::copy_from(bytes)),
        });
        Ok(())
    })
}

/// The outputs of one inference. Read-only: safe to read from several threads at once. Release
/// with `inferkit_outputs_free`; every pointer read from it lives until then.
pub struct inferkit_outputs {
    outputs: Outputs,
    names: Vec<CString>,
    shapes: Vec<Vec<i64>>,
}

pub(crate) fn outputs_handle(outputs: Outputs) -> inferkit_outputs {
    let names = outputs.iter().map(|(n, _)| to_cstring(n)).collect();
    let shapes = outputs
        .iter()
        .map(|(_, v)| {
            v.as_tensor()
                .map(|t| t.shape().iter().map(|d| *d as i64).collect())
                .unwrap_or_default()
        })
        .collect();
    inferkit_outputs {
        outputs,
        names,
        shapes,
    }
}

pub(crate) fn new_outputs(outputs: Outputs) -> *mut inferkit_outputs {
    Box::into_raw(Box::new(outputs_handle(outputs)))
}

/// Number of outputs (0 for NULL).
#[no_mangle]
pub extern "C" fn inferkit_outputs_count(outputs: *const inferkit_outputs) -> usize {
    guard_value(0, || arg(outputs, "outputs").map_or(0, |o| o.outputs.len()))
}

/// Finds an output by name and writes its index to `*index_out`. INFERKIT_STATUS_UNKNOWN_OUTPUT
/// if there is none.
#[no_mangle]
pub extern "C" fn inferkit_outputs_find(
    outputs: *const inferkit_outputs,
    name: *const c_char,
    index_out: *mut usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let o = arg(outputs, "outputs")?;
        let name = c_str(name, "name")?;
        let index_out = out(index_out, "index_out")?;
        let index = (0..o.outputs.len())
            .find(|i| o.outputs.name(*i) == Some(name))
            .ok_or_else(|| Error::UnknownOutput {
                model: String::new(),
                output: name.to_string(),
                expected: o.outputs.iter().map(|(n, _)| n.to_string()).collect(),
            })?;
        write_opt(index_out, index);
        Ok(())
    })
}

/// Reads tensor output `index`: its name, dtype (an `inferkit_dtype`), shape (`*rank_out` dims) and
/// bytes (`*data_len_out` bytes, row-major, native byte order, aligned for the dtype). Each
/// out-parameter may be NULL when not wanted. The pointers belong to `outputs`. String tensors,
/// sequences, maps and optionals are INFERKIT_STATUS_TYPE_MISMATCH: read them with
/// `inferkit_outputs_value`.
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
        let o = arg(outputs, "outputs")?;
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
                    model: String::new(),
                    input: name.to_string(),
                    expected: "a numeric tensor (read other outputs with inferkit_outputs_value)"
                        .into(),
                    given: other.map_or_else(String::new, Value::describe),
                })
            }
        };
        write_opt(name_out, o.names[index].as_ptr());
        write_opt(dtype_out, t.dtype() as u32);
        write_opt(shape_out, o.shapes[index].as_ptr());
        write_opt(rank_out, o.shapes[index].len());
        write_opt(data_out, t.as_bytes().as_ptr().cast::<c_void>());
        write_opt(data_len_out, t.as_bytes().len());
        Ok(())
    })
}

/// Releases outputs. `inferkit_outputs_free(NULL)` does nothing.
#[no_mangle]
pub extern "C" fn inferkit_outputs_free(outputs: *mut inferkit_outputs) {
    guard_value((), || {
        if !outputs.is_null() {
            // SAFETY: `outputs` came from an inference call and is freed once.
            drop(unsafe { Box::from_raw(outputs) });
        }
    })
}

/// Output `index` as a value of any kind (tensor, string tensor, sequence, map, optional); NULL
/// for NULL or an index out of range. The value belongs to `outputs` (do not free it) and lives
/// until `inferkit_outputs_free`. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_outputs_value(
    outputs: *const inferkit_outputs,
    index: usize,
) -> *const super::value::inferkit_value {
    guard_value(std::ptr::null(), || {
        arg(outputs, "outputs")
            .ok()
            .and_then(|o| o.outputs.value_at(index))
            .map_or(std::ptr::null(), super::value::value_ptr)
    })
}

/// Adds an input of any kind (tensor, string tensor, sequence, map, optional), copied from
/// `value`: the caller keeps ownership of `value` and may free it when this returns. `name` is
/// copied. An optional input may also be left out, which gives it no value.
#[no_mangle]
pub extern "C" fn inferkit_inputs_add_value(
    inputs: *mut inferkit_inputs,
    name: *const c_char,
    value: *const super::value::inferkit_value,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let inputs = arg_mut(inputs, "inputs")?;
        let name = c_str(name, "name")?.to_string();
        let value = super::value::value_ref(value)?;
        inputs.push_value(name, value.clone());
        Ok(())
    })
}

/// Adds a string tensor input of `shape` (`rank` dims), copied: one string per element,
/// row-major. `strings` points to the elements; `lengths` to their lengths in bytes, or is NULL
/// when every string is NUL-terminated. Strings are bytes (usually UTF-8) and may contain NUL
/// when `lengths` is given.
#[no_mangle]
pub extern "C" fn inferkit_inputs_add_strings(
    inputs: *mut inferkit_inputs,
    name: *const c_char,
    shape: *const i64,
    rank: usize,
    strings: *const *const c_char,
    lengths: *const usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let inputs = arg_mut(inputs, "inputs")?;
        let name = c_str(name, "name")?.to_string();
        let tensor = super::value::strings_tensor(shape, rank, strings, lengths)?;
        inputs.push_value(name, Value::Tensor(tensor));
        Ok(())
    })
}

/// Size in bytes of one element of `dtype` (an `inferkit_dtype`), or 0 if it is not one, or if it
/// is a string or a packed type narrower than a byte (INFERKIT_DTYPE_U4, _I4, _F4E2M1, _U2,
/// _I2: their tensors take `ceil(elements × bits / 8)` bytes, the first element in the lowest
/// bits).
#[no_mangle]
pub extern "C" fn inferkit_dtype_size(dtype: u32) -> usize {
    guard_value(0, || DType::from_u32(dtype).map_or(0, DType::size))
}
