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

use crate::error::{Error, Result};
use crate::tensor::{byte_len, DType, TensorView};

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

/// Name, element type and dims of one model input or output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    /// The name requests use.
    pub name: Arc<str>,
    /// Element type.
    pub dtype: DType,
    /// Dimensions, outermost first.
    pub dims: Vec<Dim>,
}

impl TensorSpec {
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
        write!(f, "{}: {}{}", self.name, self.dtype, self.dims_string())
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
    /// as raw numbers (see [`crate::session::element_type_code`]). Inputs or outputs that are not
    /// tensors (sequences, maps, optionals), or tensors of an element type inferkit cannot feed
    /// (strings, complex, 4-bit, 2-bit and 8-bit floats), make the model unsupported: the error
    /// names the input or output and ONNX's name for its type.
    pub(crate) fn from_session(
        model: &str,
        session: &crate::session::OrtSession,
    ) -> Result<Signature> {
        Ok(Signature {
            inputs: read_specs(model, session, Side::Input)?,
            outputs: read_specs(model, session, Side::Output)?,
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

    /// Checks a request against the inputs: every input given exactly once, by a known name, with
    /// the right dtype and rank, fixed dims equal, a symbolic dim bound to one size across the whole
    /// request, a byte length equal to shape × element size, no overflow, bools 0 or 1.
    pub fn validate(&self, model: &str, inputs: &[(&str, TensorView<'_>)]) -> Result<()> {
        let mut seen = vec![false; self.inputs.len()];
        let mut bound: Vec<(&str, usize)> = Vec::new();
        for (name, view) in inputs {
            let Some(index) = self.inputs.iter().position(|s| &*s.name == *name) else {
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
            check_input(model, spec, view, &mut bound)?;
        }
        if let Some(missing) = seen.iter().position(|s| !s) {
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
) -> Result<Vec<TensorSpec>> {
    use crate::session::{element_type_code, onnx_element_type_name, status_message};
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
    /// Type info owned until dropped.
    struct TypeInfo(*mut ort::sys::OrtTypeInfo);
    impl Drop for TypeInfo {
        fn drop(&mut self) {
            if !self.0.is_null() {
                // SAFETY: from SessionGet*TypeInfo, released once.
                unsafe { (ort::api().ReleaseTypeInfo)(self.0) };
            }
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
            // ONNXType is a Rust enum in ort-sys too: read it as a number.
            let mut onnx_type: i32 = 0;
            if let Some(m) = status_message((api.GetOnnxTypeFromTypeInfo)(
                info.0,
                (&mut onnx_type as *mut i32).cast::<ort::sys::ONNXType>(),
            )) {
                return Err(fail(m));
            }
            if onnx_type != 1 {
                let what = match onnx_type {
                    2 => "a sequence".to_string(),
                    3 => "a map".to_string(),
                    4 => "an opaque value".to_string(),
                    5 => "a sparse tensor".to_string(),
                    6 => "an optional value".to_string(),
                    n => format!("a value of ONNX type {n}"),
                };
                return Err(Error::Unsupported {
                    what: format!("model `{model}`, {kind} `{name}` is {what}, not a tensor"),
                    feature: None,
                });
            }
            let mut tensor: *const ort::sys::OrtTensorTypeAndShapeInfo = std::ptr::null();
            if let Some(m) = status_message((api.CastTypeInfoToTensorInfo)(info.0, &mut tensor)) {
                return Err(fail(m));
            }
            if tensor.is_null() {
                return Err(fail(format!("{kind} `{name}` has no tensor type")));
            }
            let code = element_type_code(tensor).map_err(fail)?;
            let dtype = DType::from_u32(code).ok_or_else(|| Error::Unsupported {
                what: format!(
                    "model `{model}`, {kind} `{name}` of ONNX element type {}",
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
            specs.push(TensorSpec {
                name: name.into(),
                dtype,
                dims,
            });
        }
    }
    Ok(specs)
}

fn check_input<'s>(
    model: &str,
    spec: &'s TensorSpec,
    view: &TensorView<'_>,
    bound: &mut Vec<(&'s str, usize)>,
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
    if shape.len() != spec.rank() {
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
        TensorSpec {
            name: name.into(),
            dtype,
            dims,
        }
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
