//! `inferkit_value` (any ONNX value: tensor, sequence, map, optional) and `inferkit_tensor` (the
//! tensors inside one).
//!
//! Values made with `inferkit_value_new_*` belong to the caller, who releases them with
//! `inferkit_value_free`. Values and tensors read out of another value or out of outputs belong to
//! that owner and live as long as it does.

use std::ffi::{c_char, c_void, CStr};

use super::{arg, c_slice, guard, guard_value, inferkit_error, out, write_opt};
use crate::error::{Error, ErrorCode, Result};
use crate::tensor::{DType, Tensor};
use crate::value::{Map, Value, ValueKind};

/// Any ONNX value: a tensor, a sequence, a map or an optional. Read-only once made: safe to read
/// from several threads at once.
///
/// Opaque: a pointer to one points to a Rust [`Value`]; the type itself is never made.
pub struct inferkit_value {
    _opaque: [u8; 0],
}

/// A tensor inside a value (the tensor of a tensor value, or a map's keys or values). Read-only.
///
/// Opaque: a pointer to one points to a Rust [`Tensor`].
pub struct inferkit_tensor {
    _opaque: [u8; 0],
}

pub(crate) fn value_ptr(value: &Value) -> *const inferkit_value {
    (value as *const Value).cast()
}

fn tensor_ptr(tensor: &Tensor) -> *const inferkit_tensor {
    (tensor as *const Tensor).cast()
}

/// Hands a new value to the caller.
fn give(value_out: *mut *mut inferkit_value, value: Value) {
    super::write_opt(
        value_out,
        Box::into_raw(Box::new(value)).cast::<inferkit_value>(),
    );
}

pub(crate) fn value_ref<'a>(value: *const inferkit_value) -> Result<&'a Value> {
    arg(value.cast::<Value>(), "value")
}

/// Values made through the C ABI nest at most this deep (signatures nest two or three), so that
/// copying, reading and freeing them never recurses far.
const MAX_NESTING: usize = 16;

/// A copy of `value` to put inside another value, unless that would nest too deep.
fn nested_copy(value: *const inferkit_value, name: &'static str) -> Result<Value> {
    let v = arg(value.cast::<Value>(), name)?;
    if v.depth(MAX_NESTING) >= MAX_NESTING {
        return Err(Error::InvalidArgument {
            name,
            reason: format!("values nest at most {MAX_NESTING} deep"),
        });
    }
    Ok(v.clone())
}

fn tensor_ref<'a>(tensor: *const inferkit_tensor) -> Result<&'a Tensor> {
    arg(tensor.cast::<Tensor>(), "tensor")
}

/// The `count` strings of a string tensor of `shape`, copied from C.
pub(crate) fn strings_tensor(
    shape: *const i64,
    rank: usize,
    strings: *const *const c_char,
    lengths: *const usize,
) -> Result<Tensor> {
    let (_, _, shape) =
        super::tensor::parse_entry(c"strings".as_ptr(), DType::String as u32, shape, rank)?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| Error::ShapeOverflow {
            model: String::new(),
            input: String::new(),
            shape: shape.clone(),
        })?;
    let pointers = c_slice(strings, count, "strings")?;
    let lengths = if lengths.is_null() {
        None
    } else {
        Some(c_slice(lengths, count, "lengths")?)
    };
    let mut bytes: Vec<&[u8]> = Vec::new();
    bytes
        .try_reserve_exact(count)
        .map_err(|_| Error::InvalidArgument {
            name: "strings",
            reason: format!("{count} strings is more than memory can hold"),
        })?;
    for (i, p) in pointers.iter().enumerate() {
        if p.is_null() {
            return Err(Error::NullArgument { name: "strings" });
        }
        bytes.push(match lengths {
            Some(l) => c_slice(p.cast::<u8>(), l[i], "strings")?,
            // SAFETY: without lengths the caller promises NUL-terminated strings.
            None => unsafe { CStr::from_ptr(*p) }.to_bytes(),
        });
    }
    Tensor::from_strings(shape, &bytes)
}

/// Makes a tensor value of `dtype` (an `inferkit_dtype`, not STRING) and `shape` (`rank` dims),
/// copying `data_len` bytes from `data` (row-major, native byte order; packed types: the first
/// element in the lowest bits). On success `*value_out` receives a value the caller owns and
/// releases with `inferkit_value_free`. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_new_tensor(
    dtype: u32,
    shape: *const i64,
    rank: usize,
    data: *const c_void,
    data_len: usize,
    value_out: *mut *mut inferkit_value,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let value_out = out(value_out, "value_out")?;
        let (_, dtype, shape) = super::tensor::parse_entry(c"tensor".as_ptr(), dtype, shape, rank)?;
        super::tensor::no_strings(dtype)?;
        let bytes = c_slice(data.cast::<u8>(), data_len, "data")?;
        let tensor = Tensor::from_bytes(dtype, shape, bytes)?;
        give(value_out, Value::Tensor(tensor));
        Ok(())
    })
}

/// Makes a string tensor value of `shape` (`rank` dims), one string per element, row-major,
/// copied. `lengths` gives each string's length in bytes, or is NULL when every string is
/// NUL-terminated. The caller owns `*value_out` (release with `inferkit_value_free`).
/// Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_new_strings(
    shape: *const i64,
    rank: usize,
    strings: *const *const c_char,
    lengths: *const usize,
    value_out: *mut *mut inferkit_value,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let value_out = out(value_out, "value_out")?;
        let tensor = strings_tensor(shape, rank, strings, lengths)?;
        give(value_out, Value::Tensor(tensor));
        Ok(())
    })
}

/// Makes a sequence of copies of the `count` values in `items` (the caller keeps the items).
/// The caller owns `*value_out` (release with `inferkit_value_free`). Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_new_sequence(
    items: *const *const inferkit_value,
    count: usize,
    value_out: *mut *mut inferkit_value,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let value_out = out(value_out, "value_out")?;
        let items = c_slice(items, count, "items")?
            .iter()
            .map(|p| nested_copy(*p, "items"))
            .collect::<Result<Vec<Value>>>()?;
        give(value_out, Value::Sequence(items));
        Ok(())
    })
}

/// Makes a map from copies of `keys` and `values`: two 1-D tensor values of one length, `keys[i]`
/// mapping to `values[i]` (ONNX Runtime takes INT64 or STRING keys). The caller keeps `keys` and
/// `values`, and owns `*value_out` (release with `inferkit_value_free`). Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_new_map(
    keys: *const inferkit_value,
    values: *const inferkit_value,
    value_out: *mut *mut inferkit_value,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let value_out = out(value_out, "value_out")?;
        let tensor = |v: *const inferkit_value, name: &'static str| -> Result<Tensor> {
            match value_ref(v) {
                Ok(Value::Tensor(t)) => Ok(t.clone()),
                Ok(other) => Err(Error::InvalidArgument {
                    name,
                    reason: format!(
                        "a map's {name} are a tensor, given a {}",
                        other.kind().name()
                    ),
                }),
                Err(_) => Err(Error::NullArgument { name }),
            }
        };
        let map = Map::new(tensor(keys, "keys")?, tensor(values, "values")?)?;
        give(value_out, Value::Map(map));
        Ok(())
    })
}

/// Makes an optional value: a copy of `inner`, or absent when `inner` is NULL. The caller owns
/// `*value_out` (release with `inferkit_value_free`). Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_new_optional(
    inner: *const inferkit_value,
    value_out: *mut *mut inferkit_value,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let value_out = out(value_out, "value_out")?;
        let inner = if inner.is_null() {
            None
        } else {
            Some(Box::new(nested_copy(inner, "inner")?))
        };
        give(value_out, Value::Optional(inner));
        Ok(())
    })
}

/// Releases a value made with `inferkit_value_new_*`. `inferkit_value_free(NULL)` does nothing.
/// Never pass a value read out of outputs or out of another value: those belong to their owner.
#[no_mangle]
pub extern "C" fn inferkit_value_free(value: *mut inferkit_value) {
    guard_value((), || {
        if !value.is_null() {
            // SAFETY: `value` came from inferkit_value_new_* (a boxed `Value`) and is freed once.
            drop(unsafe { Box::from_raw(value.cast::<Value>()) });
        }
    })
}

/// The kind of `value`: an `inferkit_value_kind` (TENSOR 1, SEQUENCE 2, MAP 3, OPTIONAL 6), or 0
/// for NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_get_kind(value: *const inferkit_value) -> u32 {
    guard_value(0, || value_ref(value).map_or(0, |v| v.kind() as u32))
}

/// Number of items: a sequence's elements, a map's entries, 1 for a present optional and 0 for
/// an absent one; 0 for tensors and NULL. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_count(value: *const inferkit_value) -> usize {
    guard_value(0, || match value_ref(value) {
        Ok(Value::Sequence(items)) => items.len(),
        Ok(Value::Map(m)) => m.len(),
        Ok(Value::Optional(o)) => usize::from(o.is_some()),
        _ => 0,
    })
}

/// Item `index` of a sequence, or (index 0) the value of a present optional; NULL otherwise. The
/// item belongs to `value`. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_item(
    value: *const inferkit_value,
    index: usize,
) -> *const inferkit_value {
    guard_value(std::ptr::null(), || match value_ref(value) {
        Ok(Value::Sequence(items)) => items.get(index).map_or(std::ptr::null(), value_ptr),
        Ok(Value::Optional(Some(inner))) if index == 0 => value_ptr(inner),
        _ => std::ptr::null(),
    })
}

/// The tensor of a tensor value; NULL for other kinds and NULL. It belongs to `value`.
/// Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_tensor(value: *const inferkit_value) -> *const inferkit_tensor {
    guard_value(std::ptr::null(), || match value_ref(value) {
        Ok(Value::Tensor(t)) => tensor_ptr(t),
        _ => std::ptr::null(),
    })
}

/// A map's keys (`values` false) or values (`values` true), each a 1-D tensor; NULL for other
/// kinds and NULL. The tensor belongs to `map`. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_map_tensor(
    map: *const inferkit_value,
    values: bool,
) -> *const inferkit_tensor {
    guard_value(std::ptr::null(), || match value_ref(map) {
        Ok(Value::Map(m)) if values => tensor_ptr(m.values()),
        Ok(Value::Map(m)) => tensor_ptr(m.keys()),
        _ => std::ptr::null(),
    })
}

/// Reads a tensor: its dtype (an `inferkit_dtype`), dims (`*rank_out` of them, as `size_t`),
/// element count, and bytes (`*data_len_out`, row-major, native byte order; for a string tensor
/// its strings end to end, read them one by one with `inferkit_tensor_string`). Out-parameters
/// may be NULL when not wanted; the pointers belong to the tensor's owner. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_tensor_read(
    tensor: *const inferkit_tensor,
    dtype_out: *mut u32,
    dims_out: *mut *const usize,
    rank_out: *mut usize,
    elements_out: *mut usize,
    data_out: *mut *const c_void,
    data_len_out: *mut usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let t = tensor_ref(tensor)?;
        write_opt(dtype_out, t.dtype() as u32);
        write_opt(dims_out, t.shape().as_ptr());
        write_opt(rank_out, t.shape().len());
        write_opt(elements_out, t.len());
        write_opt(data_out, t.as_bytes().as_ptr().cast::<c_void>());
        write_opt(data_len_out, t.as_bytes().len());
        Ok(())
    })
}

/// Reads string `index` of a string tensor: `*data_out` points to `*len_out` bytes (not
/// NUL-terminated; strings may contain NUL), which belong to the tensor's owner. A tensor of
/// another dtype is INFERKIT_STATUS_TYPE_MISMATCH; an index out of range
/// INFERKIT_STATUS_INVALID_ARGUMENT. Thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_tensor_string(
    tensor: *const inferkit_tensor,
    index: usize,
    data_out: *mut *const c_char,
    len_out: *mut usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let t = tensor_ref(tensor)?;
        if t.dtype() != DType::String {
            return Err(Error::TypeMismatch {
                model: String::new(),
                input: String::new(),
                expected: "a string tensor".into(),
                given: format!("a {} tensor", t.dtype()),
            });
        }
        let s = t
            .string_bytes(index)
            .ok_or_else(|| Error::InvalidArgument {
                name: "index",
                reason: format!(
                    "{index} is out of range; the tensor holds {} strings",
                    t.len()
                ),
            })?;
        write_opt(data_out, s.as_ptr().cast::<c_char>());
        write_opt(len_out, s.len());
        Ok(())
    })
}

// The kind numbers are exported through `ValueKind` (`inferkit_value_kind` in the header).
const _: () = assert!(ValueKind::Optional as u32 == 6);
