//! Values other than plain tensors: sequences, maps and optionals, and the types that describe them.
//!
//! Most models take and return tensors ([`Tensor`], [`TensorView`]). Others carry more: a
//! scikit-learn classifier converted with skl2onnx returns `seq(map(i64, f32))` (ZipMap), control
//! flow builds sequences, and opset 15 added optional values. A [`Value`] is any of them, and a
//! [`ValueType`] is how a model's signature describes one (`seq(map(i64, f32))`).
//!
//! ```
//! use inferkit::{DType, Map, Tensor, Value};
//!
//! // One row of class probabilities, as ZipMap returns them.
//! let probs = Map::new(
//!     Tensor::from_vec(vec![2], vec![0i64, 1])?,
//!     Tensor::from_vec(vec![2], vec![0.25f32, 0.75])?,
//! )?;
//! let rows = Value::Sequence(vec![Value::Map(probs)]);
//! let map = rows.as_sequence().unwrap()[0].as_map().unwrap();
//! assert_eq!(map.keys().as_slice::<i64>()?, &[0, 1]);
//! assert_eq!(map.values().dtype(), DType::F32);
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::fmt;

use crate::error::{Error, Result};
use crate::signature::Dim;
use crate::tensor::{DType, Tensor, TensorView};

/// What kind of value: the numbers are ONNX Runtime's `ONNXType`, and the values of
/// `inferkit_value_kind` in the C ABI.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// A tensor (numbers, booleans or strings).
    Tensor = 1,
    /// A sequence of values of one type.
    Sequence = 2,
    /// A map from keys to values.
    Map = 3,
    /// A value that may be absent.
    Optional = 6,
}

impl ValueKind {
    /// Lower-case name: `tensor`, `sequence`, `map`, `optional`.
    pub const fn name(self) -> &'static str {
        match self {
            ValueKind::Tensor => "tensor",
            ValueKind::Sequence => "sequence",
            ValueKind::Map => "map",
            ValueKind::Optional => "optional",
        }
    }
}

/// The type of a model input or output, as its signature gives it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ValueType {
    /// A tensor of `dtype` with `dims`.
    Tensor {
        /// Element type.
        dtype: DType,
        /// Dimensions, outermost first.
        dims: Vec<Dim>,
        /// Whether the model gives the tensor's rank. When it does not (`dims` is then empty),
        /// any shape is accepted; the signature prints it `f32[..]`.
        ranked: bool,
    },
    /// A sequence whose elements are all of one type.
    Sequence(Box<ValueType>),
    /// A map from `key` scalars to `value`s.
    Map {
        /// Key type (ONNX Runtime accepts i64 and string keys).
        key: DType,
        /// Value type.
        value: Box<ValueType>,
    },
    /// A value of the inner type, or nothing.
    Optional(Box<ValueType>),
}

impl ValueType {
    /// The kind of value.
    pub fn kind(&self) -> ValueKind {
        match self {
            ValueType::Tensor { .. } => ValueKind::Tensor,
            ValueType::Sequence(_) => ValueKind::Sequence,
            ValueType::Map { .. } => ValueKind::Map,
            ValueType::Optional(_) => ValueKind::Optional,
        }
    }

    /// The tensor type at the bottom: this one for a tensor; a sequence's or optional's content's,
    /// a map's values'.
    pub fn innermost(&self) -> &ValueType {
        let mut inner = self;
        loop {
            match inner {
                ValueType::Tensor { .. } => return inner,
                ValueType::Sequence(t) | ValueType::Optional(t) => inner = t,
                ValueType::Map { value, .. } => inner = value,
            }
        }
    }

    /// Whether this is a tensor of a whole-byte numeric dtype: the only values batching
    /// concatenates.
    pub fn is_batchable(&self) -> bool {
        matches!(self, ValueType::Tensor { dtype, .. } if dtype.is_batchable())
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValueType::Tensor {
                dtype,
                ranked: false,
                ..
            } => write!(f, "{dtype}[..]"),
            ValueType::Tensor { dtype, dims, .. } => {
                write!(f, "{dtype}[")?;
                for (i, d) in dims.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{d}")?;
                }
                f.write_str("]")
            }
            ValueType::Sequence(inner) => write!(f, "seq({inner})"),
            ValueType::Map { key, value } => match &**value {
                // Map values are scalars in practice: `map(i64, f32)`.
                ValueType::Tensor { dtype, dims, .. } if dims.is_empty() => {
                    write!(f, "map({key}, {dtype})")
                }
                other => write!(f, "map({key}, {other})"),
            },
            ValueType::Optional(inner) => write!(f, "optional({inner})"),
        }
    }
}

/// A map value: keys and values as two 1-D tensors of one length, `keys[i]` mapping to
/// `values[i]` (the form ONNX Runtime takes and returns).
#[derive(Debug, Clone, PartialEq)]
pub struct Map {
    keys: Tensor,
    values: Tensor,
}

impl Map {
    /// A map from `keys` to `values`: two 1-D tensors of the same length.
    pub fn new(keys: Tensor, values: Tensor) -> Result<Map> {
        if keys.shape().len() != 1 || values.shape().len() != 1 || keys.len() != values.len() {
            return Err(Error::InvalidTensorData {
                input: String::new(),
                reason: format!(
                    "a map needs 1-D keys and values of one length; keys have shape {:?}, values {:?}",
                    keys.shape(),
                    values.shape()
                ),
            });
        }
        Ok(Map { keys, values })
    }

    /// The keys, a 1-D tensor.
    pub fn keys(&self) -> &Tensor {
        &self.keys
    }

    /// The values, a 1-D tensor as long as the keys.
    pub fn values(&self) -> &Tensor {
        &self.values
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Any ONNX value: a tensor, a sequence, a map, or an optional.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value {
    /// A tensor.
    Tensor(Tensor),
    /// A sequence of values of one type.
    Sequence(Vec<Value>),
    /// A map.
    Map(Map),
    /// A present (`Some`) or absent (`None`) value.
    Optional(Option<Box<Value>>),
}

impl From<Tensor> for Value {
    fn from(t: Tensor) -> Value {
        Value::Tensor(t)
    }
}

impl From<Map> for Value {
    fn from(m: Map) -> Value {
        Value::Map(m)
    }
}

impl Value {
    /// The kind of value.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Tensor(_) => ValueKind::Tensor,
            Value::Sequence(_) => ValueKind::Sequence,
            Value::Map(_) => ValueKind::Map,
            Value::Optional(_) => ValueKind::Optional,
        }
    }

    /// The tensor, if this is one.
    pub fn as_tensor(&self) -> Option<&Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// The tensor, if this is one.
    pub fn into_tensor(self) -> Option<Tensor> {
        match self {
            Value::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// The elements, if this is a sequence.
    pub fn as_sequence(&self) -> Option<&[Value]> {
        match self {
            Value::Sequence(s) => Some(s),
            _ => None,
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// `Some(inner)` if this is an optional: the inner value, or `None` when absent.
    pub fn as_optional(&self) -> Option<Option<&Value>> {
        match self {
            Value::Optional(o) => Some(o.as_deref()),
            _ => None,
        }
    }

    /// A short description for errors: `tensor f32[2, 3]`, `sequence of 4`, `map of 2`, …
    pub(crate) fn describe(&self) -> String {
        // Iterative: a value may be a long chain of optionals.
        let mut prefix = String::new();
        let mut v = self;
        loop {
            let text = match v {
                Value::Tensor(t) => format!("tensor {}{:?}", t.dtype(), t.shape()),
                Value::Sequence(s) => format!("sequence of {}", s.len()),
                Value::Map(m) => format!(
                    "map({}, {}) of {}",
                    m.keys.dtype(),
                    m.values.dtype(),
                    m.len()
                ),
                Value::Optional(None) => "absent optional".into(),
                Value::Optional(Some(inner)) => {
                    prefix.push_str("optional ");
                    v = inner;
                    continue;
                }
            };
            return prefix + &text;
        }
    }

    /// How deep values nest inside this one: 0 for a tensor, 1 for a sequence of tensors, …
    /// Stops counting past `limit`.
    pub(crate) fn depth(&self, limit: usize) -> usize {
        if limit == 0 {
            return 1;
        }
        match self {
            Value::Tensor(_) => 0,
            Value::Map(_) => 1,
            Value::Optional(None) => 1,
            Value::Optional(Some(v)) => 1 + v.depth(limit - 1),
            Value::Sequence(items) => {
                1 + items.iter().map(|v| v.depth(limit - 1)).max().unwrap_or(0)
            }
        }
    }
}

/// One input of a request: a tensor borrowed from the caller, or any other [`Value`].
#[derive(Debug, Clone)]
pub enum Input<'a> {
    /// A tensor view.
    Tensor(TensorView<'a>),
    /// A sequence, map, optional or tensor value.
    Value(&'a Value),
}

impl Input<'_> {
    /// Dim 0 of a tensor input (the rows a batch counts), if it is a tensor with a dim.
    pub(crate) fn rows(&self) -> Option<usize> {
        match self {
            Input::Tensor(t) => t.shape().first().copied(),
            Input::Value(Value::Tensor(t)) => t.shape().first().copied(),
            Input::Value(_) => None,
        }
    }
}

/// Something a request can take as an input: [`TensorView`], [`Tensor`], [`Value`] or
/// [`Input`]. [`crate::Model::infer`] takes `(name, input)` pairs of any one of these types; a
/// model with inputs of several kinds takes [`Value`]s or [`Input`]s.
pub trait AsInput {
    /// The input, borrowed.
    fn as_input(&self) -> Input<'_>;
}

impl AsInput for TensorView<'_> {
    fn as_input(&self) -> Input<'_> {
        Input::Tensor(self.reborrow())
    }
}

impl AsInput for Tensor {
    fn as_input(&self) -> Input<'_> {
        Input::Tensor(self.view())
    }
}

impl AsInput for Value {
    fn as_input(&self) -> Input<'_> {
        match self {
            Value::Tensor(t) => Input::Tensor(t.view()),
            other => Input::Value(other),
        }
    }
}

impl AsInput for Input<'_> {
    fn as_input(&self) -> Input<'_> {
        match self {
            Input::Tensor(t) => Input::Tensor(t.reborrow()),
            Input::Value(v) => v.as_input(),
        }
    }
}

impl<T: AsInput + ?Sized> AsInput for &T {
    fn as_input(&self) -> Input<'_> {
        (**self).as_input()
    }
}
