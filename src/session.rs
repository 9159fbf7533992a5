//! Session options, and running one ONNX Runtime session on validated inputs.
//!
//! Defaults are tuned for a host process that runs requests on its own threads: one intra-op
//! thread, one inter-op thread, spinning off (an idle model uses no CPU), full graph optimisation.
//!
//! ```
//! use inferkit::{ExecutionProvider, Model, ModelOptions, OptimizationLevel, SessionOptions};
//!
//! let opts = ModelOptions {
//!     session: SessionOptions { intra_op_threads: 2, optimization_level: OptimizationLevel::Basic, ..Default::default() },
//!     ..Default::default()
//! };
//! let model = Model::open_with("tests/fixtures/mlp.onnx", &opts)?;
//! assert_eq!(model.name(), "mlp");
//!
//! // Execution providers other than the CPU need a build with their cargo feature.
//! let cuda = ModelOptions {
//!     session: SessionOptions { execution_providers: vec![ExecutionProvider::Cuda], ..Default::default() },
//!     ..Default::default()
//! };
//! let err = Model::open_with("tests/fixtures/mlp.onnx", &cuda).unwrap_err();
//! assert_eq!(err.code(), inferkit::ErrorCode::Unsupported);
//! assert!(err.to_string().contains("`cuda`"));
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::borrow::Cow;
use std::sync::Arc;

use ort::session::builder::{GraphOptimizationLevel, SessionBuilder};
use ort::session::{RunOptions, Session, SessionInputValue, SessionOutputs};
use ort::value::{DynValue, TensorRef, ValueType};

use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::signature::Signature;
use crate::tensor::{AlignedBytes, DType, Element, Tensor, TensorView};

/// Graph optimisation level (ONNX Runtime's `GraphOptimizationLevel`).
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OptimizationLevel {
    /// No graph rewrites.
    Disabled = 0,
    /// Semantics-preserving rewrites: constant folding, redundant node elimination.
    Basic = 1,
    /// Basic plus node fusions.
    Extended = 2,
    /// Everything, including layout optimisations.
    #[default]
    All = 3,
}

impl OptimizationLevel {
    /// The level with this number.
    pub fn from_u32(v: u32) -> Option<Self> {
        [Self::Disabled, Self::Basic, Self::Extended, Self::All].into_iter().find(|l| *l as u32 == v)
    }
}

/// Where a session runs. The CPU provider is compiled in; the others need a build of inferkit with
/// their cargo feature and an ONNX Runtime library built with them.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionProvider {
    /// ONNX Runtime's default CPU provider.
    Cpu = 0,
    /// NVIDIA CUDA.
    Cuda = 1,
    /// NVIDIA TensorRT.
    TensorRt = 2,
    /// Apple Core ML.
    CoreMl = 3,
    /// DirectML (Windows).
    DirectMl = 4,
    /// Intel OpenVINO.
    OpenVino = 5,
    /// XNNPACK (mobile CPUs).
    Xnnpack = 6,
}

impl ExecutionProvider {
    /// The provider with this number.
    pub fn from_u32(v: u32) -> Option<Self> {
        [Self::Cpu, Self::Cuda, Self::TensorRt, Self::CoreMl, Self::DirectMl, Self::OpenVino, Self::Xnnpack]
            .into_iter()
            .find(|p| *p as u32 == v)
    }

    /// The provider's name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "CPU",
            Self::Cuda => "CUDA",
            Self::TensorRt => "TensorRT",
            Self::CoreMl => "CoreML",
            Self::DirectMl => "DirectML",
            Self::OpenVino => "OpenVINO",
            Self::Xnnpack => "XNNPACK",
        }
    }

    /// The cargo feature that would enable it (none for the CPU).
    pub fn cargo_feature(self) -> Option<&'static str> {
        match self {
            Self::Cpu => None,
            Self::Cuda => Some("cuda"),
            Self::TensorRt => Some("tensorrt"),
            Self::CoreMl => Some("coreml"),
            Self::DirectMl => Some("directml"),
            Self::OpenVino => Some("openvino"),
            Self::Xnnpack => Some("xnnpack"),
        }
    }
}

/// Options for the ONNX Runtime sessions of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionOptions {
    /// Threads used inside one operator. Default 1: on small machines one thread without spinning
    /// beats several, and concurrency comes from running several requests at once.
    pub intra_op_threads: usize,
    /// Threads used to run independent operators in parallel. Default 1 (sequential execution).
    pub inter_op_threads: usize,
    /// Whether ONNX Runtime's threads spin while waiting for work. Default off: no CPU used when idle.
    pub spinning: bool,
    /// Graph optimisation level. Default [`OptimizationLevel::All`].
    pub optimization_level: OptimizationLevel,
    /// Execution providers, in order of preference. Empty means CPU.
    pub execution_providers: Vec<ExecutionProvider>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            intra_op_threads: 1,
            inter_op_threads: 1,
            spinning: false,
            optimization_level: OptimizationLevel::All,
            execution_providers: Vec::new(),
        }
    }
}

impl SessionOptions {
    /// Checks the options without building anything.
    pub fn check(&self) -> Result<()> {
        if self.intra_op_threads == 0 {
            return Err(Error::InvalidArgument { name: "intra_op_threads", reason: "must be at least 1".into() });
        }
        if self.inter_op_threads == 0 {
            return Err(Error::InvalidArgument { name: "inter_op_threads", reason: "must be at least 1".into() });
        }
        for ep in &self.execution_providers {
            if let Some(feature) = ep.cargo_feature() {
                return Err(Error::Unsupported { what: format!("execution provider {}", ep.name()), feature: Some(feature) });
            }
        }
        Ok(())
    }

    pub(crate) fn builder(&self, runtime: &Runtime) -> Result<SessionBuilder> {
        self.check()?;
        let level = match self.optimization_level {
            OptimizationLevel::Disabled => GraphOptimizationLevel::Disable,
            OptimizationLevel::Basic => GraphOptimizationLevel::Level1,
            OptimizationLevel::Extended => GraphOptimizationLevel::Level2,
            OptimizationLevel::All => GraphOptimizationLevel::All,
        };
        let spin = self.spinning;
        let build = || -> std::result::Result<SessionBuilder, String> {
            let b = Session::builder(runtime.env()).map_err(|e| e.to_string())?;
            let b = b.with_intra_threads(self.intra_op_threads).map_err(|e| e.to_string())?;
            let b = b.with_inter_threads(self.inter_op_threads).map_err(|e| e.to_string())?;
            let b = b.with_parallel_execution(self.inter_op_threads > 1).map_err(|e| e.to_string())?;
            let b = b.with_intra_op_spinning(spin).map_err(|e| e.to_string())?;
            let b = b.with_inter_op_spinning(spin).map_err(|e| e.to_string())?;
            b.with_optimization_level(level).map_err(|e| e.to_string())
        };
        build().map_err(|reason| Error::InvalidArgument { name: "session options", reason })
    }
}

/// The outputs of one inference, in the order asked for (signature order by default).
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    entries: Vec<(Arc<str>, Tensor)>,
}

impl Outputs {
    pub(crate) fn new(entries: Vec<(Arc<str>, Tensor)>) -> Outputs {
        Outputs { entries }
    }

    /// Number of outputs.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no outputs.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The output with this name.
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.entries.iter().find(|(n, _)| &**n == name).map(|(_, t)| t)
    }

    /// The name of output `index`.
    pub fn name(&self, index: usize) -> Option<&str> {
        self.entries.get(index).map(|(n, _)| &**n)
    }

    /// `(name, tensor)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Tensor)> {
        self.entries.iter().map(|(n, t)| (&**n, t))
    }

    /// The tensors, in order, without their names.
    pub fn into_tensors(self) -> Vec<Tensor> {
        self.entries.into_iter().map(|(_, t)| t).collect()
    }
}

impl std::ops::Index<usize> for Outputs {
    type Output = Tensor;
    fn index(&self, index: usize) -> &Tensor {
        &self.entries[index].1
    }
}

impl std::ops::Index<&str> for Outputs {
    type Output = Tensor;
    fn index(&self, name: &str) -> &Tensor {
        match self.get(name) {
            Some(t) => t,
            None => panic!("no output named `{name}`"),
        }
    }
}

/// Runs `session` on inputs that [`Signature::validate`] accepted, and copies out the outputs at
/// `selected` (indices into `signature.outputs`; `None` for all). Aligned inputs are passed to ONNX
/// Runtime in place; misaligned ones (possible for bytes borrowed from C) are copied once.
pub(crate) fn run(
    session: &mut Session,
    model: &str,
    signature: &Signature,
    inputs: &[(&str, TensorView<'_>)],
    selected: Option<&[usize]>,
) -> Result<Outputs> {
    let ort_err = |e: ort::Error| Error::Inference { model: model.to_string(), message: e.to_string() };
    // Copies of misaligned inputs; they must outlive the run.
    let aligned: Vec<Option<AlignedBytes>> =
        inputs.iter().map(|(_, v)| (!v.is_aligned()).then(|| AlignedBytes::copy_from(v.as_bytes()))).collect();
    let mut values: Vec<(Cow<'_, str>, SessionInputValue<'_>)> = Vec::with_capacity(inputs.len());
    for ((name, view), copy) in inputs.iter().zip(&aligned) {
        let bytes = copy.as_ref().map_or(view.as_bytes(), AlignedBytes::as_bytes);
        let value = ort_input(view.dtype(), view.shape(), bytes).map_err(ort_err)?;
        values.push((Cow::Borrowed(*name), value));
    }
    match selected {
        None => {
            let outs = session.run(values).map_err(ort_err)?;
            collect_outputs(model, signature, outs, 0..signature.outputs.len())
        }
        Some(indices) => {
            let selector = indices
                .iter()
                .fold(ort::session::OutputSelector::no_default(), |s, i| s.with(&*signature.outputs[*i].name));
            let options = RunOptions::new().map_err(ort_err)?.with_outputs(selector);
            let outs = session.run_with_options(values, &options).map_err(ort_err)?;
            collect_outputs(model, signature, outs, indices.iter().copied())
        }
    }
}

fn collect_outputs(
    model: &str,
    signature: &Signature,
    mut outs: SessionOutputs<'_>,
    indices: impl Iterator<Item = usize>,
) -> Result<Outputs> {
    let mut entries = Vec::new();
    for i in indices {
        let spec = &signature.outputs[i];
        let value = outs.remove(&*spec.name).ok_or_else(|| Error::Inference {
            model: model.to_string(),
            message: format!("ONNX Runtime returned no value for output `{}`", spec.name),
        })?;
        entries.push((spec.name.clone(), tensor_from_value(model, &spec.name, &value)?));
    }
    Ok(Outputs::new(entries))
}

fn ort_input<'v>(dtype: DType, shape: &'v [usize], bytes: &'v [u8]) -> ort::Result<SessionInputValue<'v>> {
    fn typed<'v, T: Element>(shape: &'v [usize], bytes: &'v [u8]) -> ort::Result<SessionInputValue<'v>> {
        let view = TensorView::new(T::DTYPE, shape, bytes);
        // Validation and alignment were ensured by the caller; a failure here would be a bug.
        let slice = view
            .as_slice::<T>()
            .map_err(|e| ort::Error::new(format!("inferkit could not view input bytes: {e}")))?;
        Ok(TensorRef::from_array_view((shape, slice))?.into())
    }
    match dtype {
        DType::F32 => typed::<f32>(shape, bytes),
        DType::F64 => typed::<f64>(shape, bytes),
        DType::F16 => typed::<half::f16>(shape, bytes),
        DType::BF16 => typed::<half::bf16>(shape, bytes),
        DType::I8 => typed::<i8>(shape, bytes),
        DType::I16 => typed::<i16>(shape, bytes),
        DType::I32 => typed::<i32>(shape, bytes),
        DType::I64 => typed::<i64>(shape, bytes),
        DType::U8 => typed::<u8>(shape, bytes),
        DType::U16 => typed::<u16>(shape, bytes),
        DType::U32 => typed::<u32>(shape, bytes),
        DType::U64 => typed::<u64>(shape, bytes),
        DType::Bool => typed::<bool>(shape, bytes),
    }
}

/// Copies an ONNX Runtime output value into an owned tensor.
pub(crate) fn tensor_from_value(model: &str, name: &str, value: &DynValue) -> Result<Tensor> {
    fn typed<T: Element>(value: &DynValue) -> ort::Result<Tensor> {
        let (shape, data) = value.try_extract_tensor::<T>()?;
        let shape: Vec<usize> = shape.iter().map(|d| (*d).max(0) as usize).collect();
        Tensor::from_vec(shape, data.to_vec()).map_err(|e| ort::Error::new(e.to_string()))
    }
    let dtype = match value.dtype() {
        ValueType::Tensor { ty, .. } => DType::from_ort(*ty),
        _ => None,
    };
    let Some(dtype) = dtype else {
        return Err(Error::Unsupported { what: format!("model `{model}`, output `{name}` of type {:?}", value.dtype()), feature: None });
    };
    let res = match dtype {
        DType::F32 => typed::<f32>(value),
        DType::F64 => typed::<f64>(value),
        DType::F16 => typed::<half::f16>(value),
        DType::BF16 => typed::<half::bf16>(value),
        DType::I8 => typed::<i8>(value),
        DType::I16 => typed::<i16>(value),
        DType::I32 => typed::<i32>(value),
        DType::I64 => typed::<i64>(value),
        DType::U8 => typed::<u8>(value),
        DType::U16 => typed::<u16>(value),
        DType::U32 => typed::<u32>(value),
        DType::U64 => typed::<u64>(value),
        DType::Bool => typed::<bool>(value),
    };
    res.map_err(|e| Error::Inference { model: model.to_string(), message: format!("output `{name}`: {e}") })
}
