//! `inferkit_value` (any ONNX value: tensor, sequence, map, optional) and `inferkit_tensor` (the
//! tensors inside one).
//!
//! Values made with `inferkit_value_new_*` belong to the caller, who releases them with
//! `inferkit_value_free`. Values and tensors read out of another value or out of outputs are lent:
//! they belong to that owner and live as long as it does.

use std::ffi::{c_char, c_void, CStr};

use super::ownership::{
    free_box, give_box, lend, try_ref, Castable, Opaque, OwnershipBox, OwnershipRef,
};
use super::{c_slice, guard, guard_value, inferkit_error, out, write_opt};
use crate::error::{Error, ErrorCode, Result};
use crate::tensor::{DType, Tensor};
use crate::value::{Map, Value, ValueKind};

/// Any ONNX value: a tensor, a sequence, a map or an optional. Read-only once made.
pub struct inferkit_value {
    _opaque: Opaque,
}

impl Castable for inferkit_value {
    type Ownership = OwnershipBox;
    type RustType = Value;
}

/// A tensor inside a value (the tensor of a tensor value, or a map's keys or values). Always lent
/// by the value that holds it. Read-only.
pub struct inferkit_tensor {
    _opaque: Opaque,
}

impl Castable for inferkit_tensor {
    type Ownership = OwnershipRef;
    type RustType = Tensor;
}

pub(crate) fn value_ref<'a>(value: *const inferkit_value) -> Result<&'a Value> {
    try_ref(value, "value")
}

/// Values made through the C ABI nest at most this deep (signatures nest two or three), so that
/// copying, reading and freeing them never recurses far.
const MAX_NESTING: usize = 16;

/// A copy of `value` to put inside another value, unless that would nest too deep.
fn nested_copy(value: *const inferkit_value, name: &'static str) -> Result<Value> {
    let v = try_ref(value, name)?;
    if v.depth(MAX_NESTING) >= MAX_NESTING {
        return Err(Error::InvalidArgument {
            name,
            reason: format!("values nest at most {MAX_NESTING} deep"),
        });
    }
    Ok(v.clone())
}

/// A dtype from C for a tensor given as raw bytes: any but STRING, whose strings come through the
/// `_strings` calls.
pub(crate) fn numeric_dtype(dtype: u32) -> Result<DType> {
    match DType::from_u32(dtype) {
        None => Err(Error::InvalidArgument {
            name: "dtype",
            reason: format!("{dtype} is not an inferkit_dtype"),
        }),
        Some(DType::String) => Err(Error::InvalidArgument {
            name: "dtype",
            reason: "string tensors are added with inferkit_request_add_strings or inferkit_value_new_strings".into(),
        }),
        Some(d) => Ok(d),
    }
}

/// A shape from C: `rank` dims, none negative. `what` names the tensor in errors.
pub(crate) fn parse_shape<B: FromIterator<usize>>(
    shape: *const i64,
    rank: usize,
    what: &str,
) -> Result<B> {
    c_slice(shape, rank, "shape")?
        .iter()
        .enumerate()
        .map(|(i, d)| {
            usize::try_from(*d).map_err(|_| Error::InvalidArgument {
                name: "shape",
                reason: format!("dim {i} of `{what}` is {d}, which is negative"),
            })
        })
        .collect()
}

/// The `count` strings of a string tensor of `shape`, copied from C.
pub(crate) fn strings_tensor(
    shape: *const i64,
    rank: usize,
    strings: *const *const c_char,
    lengths: *const usize,
    count: usize,
) -> Result<Tensor> {
    let shape: Vec<usize> = parse_shape(shape, rank, "strings")?;
    let elements = shape
        .iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(*d))
        .ok_or_else(|| Error::ShapeOverflow {
            model: String::new(),
            input: String::new(),
            shape: shape.clone(),
        })?;
    // The arrays' length comes from the caller, never from the shape alone: a shape that does not
    // match them is an error, not a read past their end.
    if elements != count {
        return Err(Error::InvalidArgument {
            name: "count",
            reason: format!("the shape {shape:?} holds {elements} strings; count is {count}"),
        });
    }
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

/// \brief Makes a tensor value, copying its bytes.
///
/// \param dtype An inferkit_dtype other than STRING.
/// \param shape `rank` dims.
/// \param rank Number of dims (0: a scalar).
/// \param data `data_len` bytes, row-major, native byte order; packed types (U4, I4, F4E2M1, U2,
///        I2) put the first element in the lowest bits.
/// \param data_len Length of `data`; must match dtype and shape.
/// \param value_out Receives the value.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT, INFERKIT_STATUS_NULL_ARGUMENT,
///         INFERKIT_STATUS_BYTE_LENGTH_MISMATCH, INFERKIT_STATUS_SHAPE_OVERFLOW or
///         INFERKIT_STATUS_INVALID_TENSOR_DATA.
///
/// Ownership: the caller owns `*value_out` and releases it with inferkit_value_free. `data` is copied.
/// Thread safety: thread-safe.
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
        let dtype = numeric_dtype(dtype)?;
        let shape: Vec<usize> = parse_shape(shape, rank, "tensor")?;
        let bytes = c_slice(data.cast::<u8>(), data_len, "data")?;
        let tensor = Tensor::from_bytes(dtype, shape, bytes)?;
        give_box(value_out, Value::Tensor(tensor));
        Ok(())
    })
}

/// \brief Makes a string tensor value, copying its strings.
///
/// \param shape `rank` dims.
/// \param rank Number of dims (0: a scalar).
/// \param strings One pointer per element, row-major.
/// \param lengths Each string's length in bytes, or NULL when every string is NUL-terminated.
///        Strings are bytes (usually UTF-8) and may hold NUL when lengths are given.
/// \param count Number of strings (and of lengths): the product of the dims.
/// \param value_out Receives the value.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT (a count that is not the
///         shape's), INFERKIT_STATUS_SHAPE_OVERFLOW or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the caller owns `*value_out` and releases it with inferkit_value_free. The strings are copied.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_value_new_strings(
    shape: *const i64,
    rank: usize,
    strings: *const *const c_char,
    lengths: *const usize,
    count: usize,
    value_out: *mut *mut inferkit_value,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let value_out = out(value_out, "value_out")?;
        let tensor = strings_tensor(shape, rank, strings, lengths, count)?;
        give_box(value_out, Value::Tensor(tensor));
        Ok(())
    })
}

/// \brief Makes a sequence of copies of `count` values.
///
/// \param items `count` values; none may be NULL.
/// \param count Number of items (0: an empty sequence).
/// \param value_out Receives the value.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT (nested deeper than 16) or
///         INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the caller owns `*value_out` and releases it with inferkit_value_free. The items are copied and stay the caller's.
/// Thread safety: thread-safe.
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
        give_box(value_out, Value::Sequence(items));
        Ok(())
    })
}

/// \brief Makes a map from two 1-D tensor values of one length: `keys[i]` maps to `values[i]`.
///
/// ONNX Runtime takes INT64 or STRING keys.
///
/// \param keys A tensor value.
/// \param values A tensor value of the same length.
/// \param value_out Receives the value.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT, INFERKIT_STATUS_NULL_ARGUMENT,
///         or INFERKIT_STATUS_INVALID_TENSOR_DATA (not 1-D, or lengths differ).
///
/// Ownership: the caller owns `*value_out` and releases it with inferkit_value_free. `keys` and `values` are copied and stay the caller's.
/// Thread safety: thread-safe.
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
        give_box(value_out, Value::Map(map));
        Ok(())
    })
}

/// \brief Makes an optional value.
///
/// \param inner The value inside, copied; NULL makes an absent optional.
/// \param value_out Receives the value.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK, INFERKIT_STATUS_INVALID_ARGUMENT (nested deeper than 16) or
///         INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the caller owns `*value_out` and releases it with inferkit_value_free. `inner` stays the caller's.
/// Thread safety: thread-safe.
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
        give_box(value_out, Value::Optional(inner));
        Ok(())
    })
}

/// \brief Releases a value made with inferkit_value_new_*.
///
/// \param value The value, or NULL (nothing happens).
///
/// Ownership: takes `value` back from the caller; release it once. Never pass a value lent by
/// outputs or by another value.
/// Thread safety: must not race with other calls on the same value.
#[no_mangle]
pub extern "C" fn inferkit_value_free(value: *mut inferkit_value) {
    guard_value((), || free_box(value))
}

/// \brief The kind of a value.
///
/// \param value A value, or NULL.
/// \return An inferkit_value_kind (TENSOR 1, SEQUENCE 2, MAP 3, OPTIONAL 6); 0 for NULL.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe; values are read-only.
#[no_mangle]
pub extern "C" fn inferkit_value_get_kind(value: *const inferkit_value) -> u32 {
    guard_value(0, || value_ref(value).map_or(0, |v| v.kind() as u32))
}

/// \brief Number of items in a value.
///
/// \param value A value, or NULL.
/// \return A sequence's elements, a map's entries, 1 for a present optional, 0 for an absent one;
///         0 for tensors and NULL.
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe; values are read-only.
#[no_mangle]
pub extern "C" fn inferkit_value_count(value: *const inferkit_value) -> usize {
    guard_value(0, || match value_ref(value) {
        Ok(Value::Sequence(items)) => items.len(),
        Ok(Value::Map(m)) => m.len(),
        Ok(Value::Optional(o)) => usize::from(o.is_some()),
        _ => 0,
    })
}

/// \brief Item `index` of a sequence, or (index 0) the value inside a present optional.
///
/// \param value A value, or NULL.
/// \param index The item's index.
/// \return The item; NULL for other kinds, NULL, or an index out of range.
///
/// Ownership: the item is lent by `value` (never free it) and lives as long as `value`.
/// Thread safety: thread-safe; values are read-only.
#[no_mangle]
pub extern "C" fn inferkit_value_item(
    value: *const inferkit_value,
    index: usize,
) -> *const inferkit_value {
    guard_value(std::ptr::null(), || match value_ref(value) {
        Ok(Value::Sequence(items)) => items
            .get(index)
            .map_or(std::ptr::null(), lend::<inferkit_value>),
        Ok(Value::Optional(Some(inner))) if index == 0 => lend::<inferkit_value>(inner),
        _ => std::ptr::null(),
    })
}

/// \brief The tensor of a tensor value.
///
/// \param value A value, or NULL.
/// \return The tensor; NULL for other kinds and NULL.
///
/// Ownership: the tensor is lent by `value` and lives as long as `value`.
/// Thread safety: thread-safe; values are read-only.
#[no_mangle]
pub extern "C" fn inferkit_value_tensor(value: *const inferkit_value) -> *const inferkit_tensor {
    guard_value(std::ptr::null(), || match value_ref(value) {
        Ok(Value::Tensor(t)) => lend::<inferkit_tensor>(t),
        _ => std::ptr::null(),
    })
}

/// \brief A map's keys or values, each a 1-D tensor.
///
/// \param map A map value, or NULL.
/// \param values False for the keys, true for the values.
/// \return The tensor; NULL for other kinds and NULL.
///
/// Ownership: the tensor is lent by `map` and lives as long as `map`.
/// Thread safety: thread-safe; values are read-only.
#[no_mangle]
pub extern "C" fn inferkit_value_map_tensor(
    map: *const inferkit_value,
    values: bool,
) -> *const inferkit_tensor {
    guard_value(std::ptr::null(), || match value_ref(map) {
        Ok(Value::Map(m)) if values => lend::<inferkit_tensor>(m.values()),
        Ok(Value::Map(m)) => lend::<inferkit_tensor>(m.keys()),
        _ => std::ptr::null(),
    })
}

/// \brief Reads a tensor: dtype, dims, element count and bytes.
///
/// \param tensor A tensor lent by a value.
/// \param dtype_out Receives an inferkit_dtype; may be NULL.
/// \param dims_out Receives the dims (`*rank_out` of them, as size_t); may be NULL.
/// \param rank_out Receives the number of dims; may be NULL.
/// \param elements_out Receives the number of elements; may be NULL.
/// \param data_out Receives the bytes: row-major, native byte order; for a string tensor its
///        strings end to end (read them one by one with inferkit_tensor_string); may be NULL.
/// \param data_len_out Receives the number of bytes; may be NULL.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK or INFERKIT_STATUS_NULL_ARGUMENT.
///
/// Ownership: the pointers written belong to the tensor's owner and live as long as it.
/// Thread safety: thread-safe; tensors are read-only.
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
        let t = try_ref(tensor, "tensor")?;
        write_opt(dtype_out, t.dtype() as u32);
        write_opt(dims_out, t.shape().as_ptr());
        write_opt(rank_out, t.shape().len());
        write_opt(elements_out, t.len());
        write_opt(data_out, t.as_bytes().as_ptr().cast::<c_void>());
        write_opt(data_len_out, t.as_bytes().len());
        Ok(())
    })
}

/// \brief Reads string `index` of a string tensor.
///
/// \param tensor A string tensor lent by a value.
/// \param index From 0 to the element count - 1.
/// \param data_out Receives the string's bytes (not NUL-terminated; may hold NUL).
/// \param len_out Receives its length in bytes.
/// \param error_out Receives an error on failure; may be NULL.
/// \return INFERKIT_STATUS_OK; INFERKIT_STATUS_TYPE_MISMATCH for another dtype;
///         INFERKIT_STATUS_INVALID_ARGUMENT for an index out of range.
///
/// Ownership: the bytes belong to the tensor's owner and live as long as it.
/// Thread safety: thread-safe; tensors are read-only.
#[no_mangle]
pub extern "C" fn inferkit_tensor_string(
    tensor: *const inferkit_tensor,
    index: usize,
    data_out: *mut *const c_char,
    len_out: *mut usize,
    error_out: *mut *mut inferkit_error,
) -> ErrorCode {
    guard(error_out, || {
        let t = try_ref(tensor, "tensor")?;
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

/// \brief Size in bytes of one element of a dtype.
///
/// \param dtype An inferkit_dtype.
/// \return The size; 0 for a number that is not a dtype, for STRING, and for the packed types
///         narrower than a byte (U4, I4, F4E2M1, U2, I2: their tensors take
///         `ceil(elements * bits / 8)` bytes, the first element in the lowest bits).
///
/// Ownership: nothing is handed out.
/// Thread safety: thread-safe.
#[no_mangle]
pub extern "C" fn inferkit_dtype_size(dtype: u32) -> usize {
    guard_value(0, || DType::from_u32(dtype).map_or(0, DType::size))
}
