//! A model's inputs and outputs, and the checks a request passes before ONNX Runtime sees it.
//!
//! ```
//! use inferkit::{Dim, DType, Model};
//!
//! let model = Model::open("tests/fixtures/sequence.onnx")?;
//! let input = &model.signature().inputs[0];
//! assert_eq!(&*input.name, "tokens");
//! assert_eq!(input.dtype, DType::F32);
//! assert_eq!(input.dims, vec![Dim::symbolic("batch"), Dim::symbolic("seq"), Dim::Fixed(8)]);
//! assert_eq!(input.to_string(), "tokens: f32[batch, seq, 8]");
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;

use crate::error::{Error, Result};
use crate::tensor::{byte_len, DType, TensorView};
use crate::value::{AsInput, Input, Value, ValueKind, ValueType};

/// One dimension of a model input or output.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A fixed size.
    Fixed(usize),
    /// A size chosen per request: named (`batch`, `seq`) or anonymous (`None`, ONNX's `-1` without a name).
    Dynamic(Option<String>),
}

impl Dim {
    /// A named dynamic dim.
    pub fn symbolic(name: &str) -> Dim {
        Dim::Dynamic(Some(name.to_string()))
    }

    /// The size as ONNX writes it: the number, or -1 when dynamic.
    pub fn as_i64(&self) -> i64 {
        match self {
            Dim::Fixed(n) => *n as i64,
            Dim::Dynamic(_) => -1,
        }
    }

    /// The symbol of a named dynamic dim.
    pub fn symbol(&self) -> Option<&str> {
        match self {
            Dim::Dynamic(Some(s)) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Dim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dim::Fixed(n) => write!(f, "{n}"),
            Dim::Dynamic(Some(s)) => f.write_str(s),
            Dim::Dynamic(None) => f.write_str("?"),
        }
    }
}

/// Name and type of one model input or output.
///
/// Most are tensors, described by `dtype` and `dims`. Sequences, maps and optionals are described
/// by `ty`; for them `dtype` is the element type of the innermost tensor (for a map, of its values)
/// and `dims` that tensor's dims, so that `seq(f32[?])` still reads as "f32".
///
/// Made by the model, or with [`TensorSpec::tensor`] and [`TensorSpec::of_type`] (which keep
/// `dtype`, `dims` and `ty` in agreement).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TensorSpec {
    /// The name requests use.
    pub name: Arc<str>,
    /// Element type.
    pub dtype: DType,
    /// Dimensions, outermost first.
    pub dims: Vec<Dim>,
    /// The full type: `ValueType::Tensor { dtype, dims, .. }` for a tensor.
    pub ty: ValueType,
}

impl TensorSpec {
    /// A tensor input or output.
    pub fn tensor(name: &str, dtype: DType, dims: Vec<Dim>) -> TensorSpec {
        TensorSpec {
            name: name.into(),
            dtype,
            dims: dims.clone(),
            ty: ValueType::Tensor {
                dtype,
                dims,
                ranked: true,
            },
        }
    }

    /// An input or output of any type.
    pub fn of_type(name: &str, ty: ValueType) -> TensorSpec {
        let (dtype, dims) = match ty.innermost() {
            ValueType::Tensor { dtype, dims, .. } => (*dtype, dims.clone()),
            _ => unreachable!("innermost is a tensor type"),
        };
        TensorSpec {
            name: name.into(),
            dtype,
            dims,
            ty,
        }
    }

    /// Whether the model gives the rank of the (innermost) tensor; when not, any shape is taken.
    pub fn ranked(&self) -> bool {
        matches!(self.ty.innermost(), ValueType::Tensor { ranked: true, .. })
    }

    /// Whether this is a plain tensor.
    pub fn is_tensor(&self) -> bool {
        self.ty.kind() == ValueKind::Tensor
    }

    /// Whether a request may leave this input out: optional inputs, which are then absent.
    pub fn is_optional(&self) -> bool {
        self.ty.kind() == ValueKind::Optional
    }

    /// Rank (number of dims).
    pub fn rank(&self) -> usize {
        self.dims.len()
    }

    /// The dims printed as `[batch, 16]`.
    pub fn dims_string(&self) -> String {
        format!(
            "[{}]",
            self.dims
                .iter()
                .map(Dim::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

impl fmt::Display for TensorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.ty)
    }
}

/// A model's inputs and outputs, in the model's order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Signature {
    /// Inputs, in the model's order.
    pub inputs: Vec<TensorSpec>,
    /// Outputs, in the model's order.
    pub outputs: Vec<TensorSpec>,
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let join = |specs: &[TensorSpec]| {
            specs
                .iter()
                .map(|s| s.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        write!(f, "({}) -> ({})", join(&self.inputs), join(&self.outputs))
    }
}

impl Signature {
    /// Reads a session's signature through ONNX Runtime's C API, with element and value types taken
    /// as raw numbers (see [`crate::session::element_type_code`]). Tensors, sequences, maps and
    /// optionals are read to the bottom; an element type inferkit cannot feed (complex numbers),
    /// or a sparse tensor or opaque value, makes the model unsupported: the error names the input
    /// or output and ONNX's name for its type.
    ///
    /// `file_io` is what the model file says of its inputs and outputs: a tensor type the file gives
    /// no shape takes any shape (ONNX Runtime reports it as rank 0, like a scalar).
    pub(crate) fn from_session(
        model: &str,
        session: &crate::session::OrtSession,
        file_io: &[crate::model_file::Io],
    ) -> Result<Signature> {
        Ok(Signature {
            inputs: read_specs(model, session, Side::Input, file_io)?,
            outputs: read_specs(model, session, Side::Output, file_io)?,
        })
    }

    /// The input with this name.
    pub fn input(&self, name: &str) -> Option<&TensorSpec> {
        self.inputs.iter().find(|s| &*s.name == name)
    }

    /// The output with this name.
    pub fn output(&self, name: &str) -> Option<&TensorSpec> {
        self.outputs.iter().find(|s| &*s.name == name)
    }

    /// Checks a request against the inputs: every input given exactly once (optional inputs may be
    /// left out), by a known name, of the right kind, with the right dtype and rank, fixed dims
    /// equal, a symbolic dim bound to one size across the whole request, a byte length equal to
    /// shape × element size, no overflow, bools 0 or 1; sequences, maps and optionals checked the
    /// same way down to their tensors.
    pub fn validate<I: AsInput>(&self, model: &str, inputs: &[(&str, I)]) -> Result<()> {
        let inputs: smallvec::SmallVec<[(&str, Input<'_>); 8]> =
            inputs.iter().map(|(n, i)| (*n, i.as_input())).collect();
        self.validate_inputs(model, &inputs)
    }

    /// The index of the input named `name`. A name that is the signature's own (as the views of
    /// a request built through the C API give) is found without comparing bytes.
    pub(crate) fn input_index(&self, name: &str) -> Option<usize> {
        let same = |s: &TensorSpec| {
            (std::ptr::eq(s.name.as_ptr(), name.as_ptr()) && s.name.len() == name.len())
                || &*s.name == name
        };
        self.inputs.iter().position(same)
    }

    pub(crate) fn validate_inputs(&self, model: &str, inputs: &[(&str, Input<'_>)]) -> Result<()> {
        // Held on the stack for up to 16 inputs and 8 symbolic dims: validation allocates nothing.
        let mut seen: SmallVec<[bool; 16]> = smallvec::smallvec![false; self.inputs.len()];
        let mut bound = Bound::new();
        for (name, view) in inputs {
            let Some(index) = self.input_index(name) else {
                return Err(Error::UnknownInput {
                    model: model.to_string(),
                    input: name.to_string(),
                    expected: self.inputs.iter().map(|s| s.name.to_string()).collect(),
                });
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(Error::DuplicateInput {
                    model: model.to_string(),
                    input: name.to_string(),
                });
            }
            let spec = &self.inputs[index];
            // A tensor for a tensor (or an optional tensor, present) input: checked with the
            // request's symbolic dims, however it was given.
            let tensor_spec = match &spec.ty {
                ValueType::Tensor { .. } => true,
                ValueType::Optional(inner) => matches!(**inner, ValueType::Tensor { .. }),
                _ => false,
            };
            let tensor = match view {
                Input::Tensor(t) => Some(t.reborrow()),
                Input::Value(Value::Tensor(t)) => Some(t.view()),
                Input::Value(Value::Optional(Some(inner))) if tensor_spec => {
                    inner.as_tensor().map(crate::tensor::Tensor::view)
                }
                Input::Value(_) => None,
            };
            match (tensor, view) {
                (Some(t), _) if tensor_spec => check_input(model, spec, &t, &mut bound)?,
                (Some(t), _) => check_nested(model, &spec.name, &spec.ty, &InputRef::Tensor(t))?,
                (None, Input::Value(value)) => {
                    check_nested(model, &spec.name, &spec.ty, &InputRef::Value(value))?
                }
                (None, Input::Tensor(_)) => unreachable!("a tensor input has a view"),
            }
        }
        if let Some(missing) = seen
            .iter()
            .zip(&self.inputs)
            .position(|(s, spec)| !s && !spec.is_optional())
        {
            return Err(Error::MissingInput {
                model: model.to_string(),
                input: self.inputs[missing].name.to_string(),
            });
        }
        Ok(())
    }

    /// Checks that each name is an output and returns their indices.
    pub fn select_outputs(&self, model: &str, names: &[&str]) -> Result<Vec<usize>> {
        names
            .iter()
            .map(|n| {
                self.outputs
                    .iter()
                    .position(|s| &*s.name == *n)
                    .ok_or_else(|| Error::UnknownOutput {
                        model: model.to_string(),
                        output: n.to_string(),
                        expected: self.outputs.iter().map(|s| s.name.to_string()).collect(),
                    })
            })
            .collect()
    }
}

#[derive(Clone, Copy)]
enum Side {
    Input,
    Output,
}

/// The specs of one side of a session, read with ONNX Runtime's C API.
fn read_specs(
    model: &str,
    session: &crate::session::OrtSession,
    side: Side,
    file_io: &[crate::model_file::Io],
) -> Result<Vec<TensorSpec>> {
    use crate::session::status_message;
    use std::ffi::{c_char, CStr};
    let api = ort::api();
    let kind = match side {
        Side::Input => "input",
        Side::Output => "output",
    };
    let fail = |reason: String| Error::InvalidModel {
        model: model.to_string(),
        reason: format!("reading the model's {kind}s: {reason}"),
    };
    let s = session.ptr();
    let mut allocator = std::ptr::null_mut();
    let mut count = 0usize;
    // SAFETY: `s` is a live session; every out-pointer points to local storage.
    unsafe {
        if let Some(m) = status_message((api.GetAllocatorWithDefaultOptions)(&mut allocator)) {
            return Err(fail(m));
        }
        let status = match side {
            Side::Input => (api.SessionGetInputCount)(s, &mut count),
            Side::Output => (api.SessionGetOutputCount)(s, &mut count),
        };
        if let Some(m) = status_message(status) {
            return Err(fail(m));
        }
    }
    let mut specs = Vec::with_capacity(count.min(4096));
    for index in 0..count {
        // SAFETY: as above; the name is copied into Rust memory and freed with the allocator that
        // made it; the type info is released by its guard; `tensor` is owned by the type info.
        unsafe {
            let mut raw_name: *mut c_char = std::ptr::null_mut();
            let status = match side {
                Side::Input => (api.SessionGetInputName)(s, index, allocator, &mut raw_name),
                Side::Output => (api.SessionGetOutputName)(s, index, allocator, &mut raw_name),
            };
            if let Some(m) = status_message(status) {
                return Err(fail(m));
            }
            if raw_name.is_null() {
                return Err(fail(format!("{kind} {index} has no name")));
            }
            let name = CStr::from_ptr(raw_name).to_string_lossy().into_owned();
            let _ = status_message((api.AllocatorFree)(allocator, raw_name.cast()));

            let mut info = TypeInfo(std::ptr::null_mut());
            let status = match side {
                Side::Input => (api.SessionGetInputTypeInfo)(s, index, &mut info.0),
                Side::Output => (api.SessionGetOutputTypeInfo)(s, index, &mut info.0),
            };
            if let Some(m) = status_message(status) {
                return Err(fail(m));
            }
            let what = format!("{kind} `{name}`");
            // An input may share its name with an output (a pass-through): both say the same.
            let mut shaped = file_io
                .iter()
                .find(|io| io.name == name.as_bytes())
                .map(|io| io.shaped.clone())
                .unwrap_or_default()
                .into_iter();
            let ty = read_type(model, &what, info.0, &mut shaped)?;
            specs.push(TensorSpec::of_type(&name, ty));
        }
    }
    Ok(specs)
}

/// Type info owned until dropped.
struct TypeInfo(*mut ort::sys::OrtTypeInfo);

impl Drop for TypeInfo {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: from ONNX Runtime, owned by this guard, released once.
            unsafe { (ort::api().ReleaseTypeInfo)(self.0) };
        }
    }
}

/// How deep sequences, maps and optionals may nest in a signature (ONNX models nest two or three).
const MAX_TYPE_DEPTH: usize = 16;

/// Reads one type, with everything nested in it. `what` names the input or output in errors;
/// `shaped` says, tensor by tensor in depth-first order, whether the file gives a shape (true when
/// it says nothing).
fn read_type(
    model: &str,
    what: &str,
    info: *const ort::sys::OrtTypeInfo,
    shaped: &mut impl Iterator<Item = bool>,
) -> Result<ValueType> {
    read_type_at(model, what, info, shaped, 0)
}

fn read_type_at(
    model: &str,
    what: &str,
    info: *const ort::sys::OrtTypeInfo,
    shaped: &mut impl Iterator<Item = bool>,
    depth: usize,
) -> Result<ValueType> {
    use crate::session::{dtype_from_ort, status_message};
    let api = ort::api();
    let fail = |reason: String| Error::InvalidModel {
        model: model.to_string(),
        reason: format!("reading the type of {what}: {reason}"),
    };
    let unsupported = |type_name: String| Error::Unsupported {
        what: format!("model `{model}`, {what} is {type_name}"),
        feature: None,
    };
    if depth > MAX_TYPE_DEPTH {
        return Err(unsupported(format!(
            "nested more than {MAX_TYPE_DEPTH} deep"
        )));
    }
    // SAFETY: `info` is a live type info; every out-pointer points to local storage; the casts
    // return views owned by `info`; the type infos ONNX Runtime hands over are owned by guards.
    unsafe {
        // ONNXType is a Rust enum in ort-sys: read it as a number.
        let mut onnx_type: i32 = 0;
        if let Some(m) = status_message((api.GetOnnxTypeFromTypeInfo)(
            info,
            (&mut onnx_type as *mut i32).cast::<ort::sys::ONNXType>(),
        )) {
            return Err(fail(m));
        }
        match onnx_type {
            1 => {
                let mut tensor: *const ort::sys::OrtTensorTypeAndShapeInfo = std::ptr::null();
                if let Some(m) = status_message((api.CastTypeInfoToTensorInfo)(info, &mut tensor)) {
                    return Err(fail(m));
                }
                if tensor.is_null() {
                    return Err(fail("no tensor type".into()));
                }
                let ranked = shaped.next().unwrap_or(true);
                read_tensor_type(model, what, tensor, ranked)
            }
            2 => {
                let mut seq: *const ort::sys::OrtSequenceTypeInfo = std::ptr::null();
                if let Some(m) =
                    status_message((api.CastTypeInfoToSequenceTypeInfo)(info, &mut seq))
                {
                    return Err(fail(m));
                }
                let mut elem = TypeInfo(std::ptr::null_mut());
                if let Some(m) = status_message((api.GetSequenceElementType)(seq, &mut elem.0)) {
                    return Err(fail(m));
                }
                let inner = read_type_at(model, what, elem.0, shaped, depth + 1)?;
                Ok(ValueType::Sequence(Box::new(inner)))
            }
            3 => {
                let mut map: *const ort::sys::OrtMapTypeInfo = std::ptr::null();
                if let Some(m) = status_message((api.CastTypeInfoToMapTypeInfo)(info, &mut map)) {
                    return Err(fail(m));
                }
                // Read as a number: ort-sys's enum does not cover every type ONNX Runtime reports.
                let mut key: u32 = 0;
                if let Some(m) = status_message((api.GetMapKeyType)(
                    map,
                    (&mut key as *mut u32).cast::<ort::sys::ONNXTensorElementDataType>(),
                )) {
                    return Err(fail(m));
                }
                let key = dtype_from_ort(key).ok_or_else(|| {
                    unsupported(format!(
                        "a map with keys of ONNX element type {}",
                        crate::session::onnx_element_type_name(key)
                    ))
                })?;
                let mut value = TypeInfo(std::ptr::null_mut());
                if let Some(m) = status_message((api.GetMapValueType)(map, &mut value.0)) {
                    return Err(fail(m));
                }
                let value = read_type_at(model, what, value.0, shaped, depth + 1)?;
                Ok(ValueType::Map {
                    key,
                    value: Box::new(value),
                })
            }
            6 => {
                let mut opt: *const ort::sys::OrtOptionalTypeInfo = std::ptr::null();
                if let Some(m) =
                    status_message((api.CastTypeInfoToOptionalTypeInfo)(info, &mut opt))
                {
                    return Err(fail(m));
                }
                let mut inner = TypeInfo(std::ptr::null_mut());
                if let Some(m) =
                    status_message((api.GetOptionalContainedTypeInfo)(opt, &mut inner.0))
                {
                    return Err(fail(m));
                }
                let inner = read_type_at(model, what, inner.0, shaped, depth + 1)?;
                Ok(ValueType::Optional(Box::new(inner)))
            }
            4 => Err(unsupported("an opaque value".into())),
            5 => Err(unsupported("a sparse tensor".into())),
            n => Err(unsupported(format!("a value of ONNX type {n}"))),
        }
    }
}

/// Reads a tensor type: element type and dims with their symbols.
///
/// # Safety
/// `tensor` is a live tensor type-and-shape info.
unsafe fn read_tensor_type(
    model: &str,
    what: &str,
    tensor: *const ort::sys::OrtTensorTypeAndShapeInfo,
    ranked: bool,
) -> Result<ValueType> {
    use crate::session::{
        dtype_from_ort, element_type_code, onnx_element_type_name, status_message,
    };
    use std::ffi::{c_char, CStr};
    let api = ort::api();
    let fail = |reason: String| Error::InvalidModel {
        model: model.to_string(),
        reason: format!("reading the type of {what}: {reason}"),
    };
    // SAFETY: the caller's promise; out-pointers point to local storage of the right length; the
    // dim symbols are owned by `tensor` and copied before returning.
    unsafe {
        let code = element_type_code(tensor).map_err(fail)?;
        let dtype = dtype_from_ort(code).ok_or_else(|| Error::Unsupported {
            what: format!(
                "model `{model}`, {what} of ONNX element type {}",
                onnx_element_type_name(code)
            ),
            feature: None,
        })?;
        let mut rank = 0usize;
        if let Some(m) = status_message((api.GetDimensionsCount)(tensor, &mut rank)) {
            return Err(fail(m));
        }
        let mut shape = vec![0i64; rank];
        let mut symbols: Vec<*const c_char> = vec![std::ptr::null(); rank];
        if let Some(m) = status_message((api.GetDimensions)(tensor, shape.as_mut_ptr(), rank)) {
            return Err(fail(m));
        }
        if let Some(m) = status_message((api.GetSymbolicDimensions)(
            tensor,
            symbols.as_mut_ptr(),
            rank,
        )) {
            return Err(fail(m));
        }
        let dims = shape
            .iter()
            .zip(&symbols)
            .map(|(d, sym)| {
                if *d >= 0 {
                    Dim::Fixed(*d as usize)
                } else {
                    // Exporters write "?" (Paddle) or nothing for "unknown": such dims are
                    // anonymous, not one symbol shared by every unknown dim.
                    let sym = (!sym.is_null())
                        .then(|| CStr::from_ptr(*sym).to_string_lossy().into_owned())
                        .filter(|s| !s.is_empty() && s != "?");
                    Dim::Dynamic(sym)
                }
            })
            .collect();
        Ok(ValueType::Tensor {
            dtype,
            dims,
            ranked,
        })
    }
}

/// A value being checked against a nested type.
enum InputRef<'a> {
    Tensor(TensorView<'a>),
    Value(&'a Value),
}

/// How deep a request's values may nest: as deep as a signature can.
fn check_nested(model: &str, input: &str, ty: &ValueType, value: &InputRef<'_>) -> Result<()> {
    check_nested_at(model, input, ty, value, 0)
}

fn check_nested_at(
    model: &str,
    input: &str,
    ty: &ValueType,
    value: &InputRef<'_>,
    depth: usize,
) -> Result<()> {
    let mismatch = |given: String| Error::TypeMismatch {
        model: model.to_string(),
        input: input.to_string(),
        expected: ty.to_string(),
        given,
    };
    if depth > MAX_TYPE_DEPTH {
        return Err(mismatch(format!(
            "a value nested more than {MAX_TYPE_DEPTH} deep"
        )));
    }
    let tensor = match value {
        InputRef::Tensor(t) => Some(t.reborrow()),
        InputRef::Value(Value::Tensor(t)) => Some(t.view()),
        InputRef::Value(_) => None,
    };
    match (ty, value) {
        (
            ValueType::Tensor {
                dtype,
                dims,
                ranked,
            },
            _,
        ) => {
            let Some(view) = tensor else {
                let InputRef::Value(v) = value else {
                    unreachable!()
                };
                return Err(mismatch(v.describe()));
            };
            // Tensors inside sequences and maps: their own dtype, rank and fixed dims; symbols
            // bind per tensor (a sequence's tensors may differ in length).
            let mut spec = TensorSpec::tensor(input, *dtype, dims.clone());
            if !ranked {
                spec.ty = ty.clone();
            }
            let mut bound = Bound::new();
            check_input(model, &spec, &view, &mut bound)
        }
        // A present optional may be given as its value.
        (ValueType::Optional(inner), InputRef::Tensor(_)) => {
            check_nested_at(model, input, inner, value, depth + 1)
        }
        (ValueType::Optional(inner), InputRef::Value(v)) => match v {
            // "None" is an input left out of the feed: only a whole input can be absent.
            Value::Optional(None) if depth == 0 => Ok(()),
            Value::Optional(None) => Err(Error::Unsupported {
                what: format!(
                    "model `{model}`, input `{input}`: an absent optional inside another value"
                ),
                feature: None,
            }),
            Value::Optional(Some(v)) => {
                check_nested_at(model, input, inner, &InputRef::Value(v), depth + 1)
            }
            other => check_nested_at(model, input, inner, &InputRef::Value(other), depth + 1),
        },
        (ValueType::Sequence(inner), InputRef::Value(Value::Sequence(items))) => {
            // Empty sequences are made with ONNX Runtime's SequenceEmpty, which makes sequences
            // of numeric and string tensors only (not of 8-bit floats or packed types).
            let makeable = matches!(**inner, ValueType::Tensor { dtype, .. }
                if dtype == DType::String || (dtype.is_batchable() && !dtype.name().starts_with("f8")));
            if items.is_empty() && !makeable {
                return Err(Error::Unsupported {
                    what: format!("model `{model}`, input `{input}`: an empty sequence of {inner}"),
                    feature: None,
                });
            }
            items.iter().try_for_each(|item| {
                check_nested_at(model, input, inner, &InputRef::Value(item), depth + 1)
            })
        }
        (ValueType::Map { key, value: vt }, InputRef::Value(Value::Map(map))) => {
            if map.keys().dtype() != *key {
                return Err(mismatch(Value::Map(map.clone()).describe()));
            }
            let ValueType::Tensor { dtype, .. } = &**vt else {
                return Err(Error::Unsupported {
                    what: format!(
                        "model `{model}`, input `{input}`: a map whose values are not scalars ({ty})"
                    ),
                    feature: None,
                });
            };
            if map.values().dtype() != *dtype {
                return Err(mismatch(Value::Map(map.clone()).describe()));
            }
            map.keys().view().check(input)?;
            map.values().view().check(input)
        }
        (_, InputRef::Tensor(t)) => Err(mismatch(format!("tensor {}{:?}", t.dtype(), t.shape()))),
        (_, InputRef::Value(v)) => Err(mismatch(v.describe())),
    }
}

/// The sizes a request gave the model's symbolic dims so far (`batch` = 4), across its inputs.
type Bound<'s> = SmallVec<[(&'s str, usize); 8]>;

fn check_input<'s>(
    model: &str,
    spec: &'s TensorSpec,
    view: &TensorView<'_>,
    bound: &mut Bound<'s>,
) -> Result<()> {
    let shape = view.shape();
    if view.dtype() != spec.dtype {
        return Err(Error::DtypeMismatch {
            model: model.to_string(),
            input: spec.name.to_string(),
            expected: spec.dtype,
            given: view.dtype(),
        });
    }
    if !spec.ranked() {
        // The model gives no shape: any rank, every dim free.
    } else if shape.len() != spec.rank() {
        return Err(Error::RankMismatch {
            model: model.to_string(),
            input: spec.name.to_string(),
            expected: spec.rank(),
            given: shape.len(),
            signature: spec.dims_string(),
            shape: shape.to_vec(),
        });
    }
    for (axis, (dim, &given)) in spec.dims.iter().zip(shape).enumerate() {
        let expected = match dim {
            Dim::Fixed(n) if *n != given => Some(n.to_string()),
            Dim::Dynamic(Some(sym)) => match bound.iter().find(|(s, _)| s == sym) {
                Some((_, n)) if *n != given => Some(format!("{sym} = {n}")),
                Some(_) => None,
                None => {
                    bound.push((sym.as_str(), given));
                    None
                }
            },
            _ => None,
        };
        if let Some(expected) = expected {
            return Err(Error::DimMismatch {
                model: model.to_string(),
                input: spec.name.to_string(),
                axis,
                expected,
                given,
                shape: shape.to_vec(),
            });
        }
    }
    // ONNX Runtime takes dims as i64: a larger one (even in a tensor with zero elements) cannot be
    // described to it.
    let too_large = shape.iter().any(|d| i64::try_from(*d).is_err());
    if spec.dtype == DType::String && !too_large {
        // One string per element, well formed: the length is the strings', not the shape's.
        return view.check(&spec.name).map_err(|e| match e {
            Error::ShapeOverflow { input, shape, .. } => Error::ShapeOverflow {
                model: model.to_string(),
                input,
                shape,
            },
            other => other,
        });
    }
    let Some((_, expected_len)) = byte_len(spec.dtype, shape).filter(|_| !too_large) else {
        return Err(Error::ShapeOverflow {
            model: model.to_string(),
            input: spec.name.to_string(),
            shape: shape.to_vec(),
        });
    };
    if expected_len != view.as_bytes().len() {
        return Err(Error::ByteLengthMismatch {
            model: model.to_string(),
            input: spec.name.to_string(),
            dtype: spec.dtype,
            shape: shape.to_vec(),
            expected: expected_len,
            given: view.as_bytes().len(),
        });
    }
    if spec.dtype == DType::Bool {
        view.check(&spec.name)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str, dtype: DType, dims: Vec<Dim>) -> TensorSpec {
        TensorSpec::tensor(name, dtype, dims)
    }

    #[test]
    fn symbolic_dims_bind_across_inputs() {
        let sig = Signature {
            inputs: vec![
                spec("a", DType::F32, vec![Dim::symbolic("n"), Dim::Fixed(2)]),
                spec("b", DType::I64, vec![Dim::symbolic("n")]),
            ],
            outputs: vec![],
        };
        let a = [0f32; 6];
        let b3 = [0i64; 3];
        let b2 = [0i64; 2];
        sig.validate(
            "m",
            &[
                ("a", TensorView::from_slice(vec![3, 2], &a)),
                ("b", TensorView::from_slice(vec![3], &b3)),
            ],
        )
        .unwrap();
        let err = sig
            .validate(
                "m",
                &[
                    ("a", TensorView::from_slice(vec![3, 2], &a)),
                    ("b", TensorView::from_slice(vec![2], &b2)),
                ],
            )
            .unwrap_err();
        match err {
            Error::DimMismatch {
                ref input,
                axis: 0,
                ref expected,
                given: 2,
                ..
            } => {
                assert_eq!(input, "b");
                assert_eq!(expected, "n = 3");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn symbolic_dims_bind_across_inputs_given_as_values() {
        let sig = Signature {
            inputs: vec![
                spec("a", DType::F32, vec![Dim::symbolic("n"), Dim::Fixed(2)]),
                spec("b", DType::I64, vec![Dim::symbolic("n")]),
            ],
            outputs: vec![],
        };
        let a = crate::Tensor::from_vec(vec![3, 2], vec![0f32; 6]).unwrap();
        let b = crate::Tensor::from_vec(vec![2], vec![0i64; 2]).unwrap();
        let inputs = [("a", Value::Tensor(a)), ("b", Value::Tensor(b))];
        // The tensor given as a value is held to the dims the other input bound.
        let err = sig.validate("m", &inputs);
        assert!(
            matches!(err, Err(Error::DimMismatch { axis: 0, .. })),
            "{err:?}"
        );
    }

    #[test]
    fn anonymous_dims_are_free() {
        let sig = Signature {
            inputs: vec![spec(
                "a",
                DType::U8,
                vec![Dim::Dynamic(None), Dim::Dynamic(None)],
            )],
            outputs: vec![],
        };
        sig.validate(
            "m",
            &[("a", TensorView::from_slice(vec![2, 5], &[0u8; 10]))],
        )
        .unwrap();
    }
}
