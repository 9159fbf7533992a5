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
//! // This build runs on ONNX Runtime's CPU provider; asking for another is a typed error.
//! let cuda = ModelOptions {
//!     session: SessionOptions { execution_providers: vec![ExecutionProvider::Cuda], ..Default::default() },
//!     ..Default::default()
//! };
//! let err = Model::open_with("tests/fixtures/mlp.onnx", &cuda).unwrap_err();
//! assert_eq!(err.code(), inferkit::ErrorCode::Unsupported);
//! assert!(err.to_string().contains("CPU provider only"));
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::ffi::{c_char, CStr, CString};
use std::sync::Arc;

use std::ptr::NonNull;

use ort::session::builder::{GraphOptimizationLevel, PrepackedWeights, SessionBuilder};
use ort::session::Session;
use ort::AsPointer;
use smallvec::SmallVec;

use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::signature::Signature;
use crate::tensor::{AlignedBytes, DType, Tensor, TensorView};

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
        [Self::Disabled, Self::Basic, Self::Extended, Self::All]
            .into_iter()
            .find(|l| *l as u32 == v)
    }
}

/// Where a session runs. This build of inferkit runs on ONNX Runtime's CPU provider; the others are
/// named so that configurations can say what they want, and asking for one is
/// [`Error::Unsupported`].
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
        [
            Self::Cpu,
            Self::Cuda,
            Self::TensorRt,
            Self::CoreMl,
            Self::DirectMl,
            Self::OpenVino,
            Self::Xnnpack,
        ]
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
}

/// Most threads per session, intra-op or inter-op ([`SessionOptions`]).
pub const MAX_THREADS: usize = 256;

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
    /// Checks the options without building anything: thread counts between 1 and [`MAX_THREADS`],
    /// and only execution providers this build includes.
    pub fn check(&self) -> Result<()> {
        use crate::scheduler::check_range;
        check_range("intra_op_threads", self.intra_op_threads, 1, MAX_THREADS)?;
        check_range("inter_op_threads", self.inter_op_threads, 1, MAX_THREADS)?;
        if self.execution_providers.len() > 16 {
            return Err(Error::InvalidArgument {
                name: "execution_providers",
                reason: format!("{} providers; at most 16", self.execution_providers.len()),
            });
        }
        if let Some(ep) = self
            .execution_providers
            .iter()
            .find(|ep| **ep != ExecutionProvider::Cpu)
        {
            return Err(Error::Unsupported {
                what: format!(
                    "execution provider {}: this build of inferkit runs on ONNX Runtime's CPU provider only",
                    ep.name()
                ),
                feature: None,
            });
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
            let b = Session::builder(runtime.environment()).map_err(|e| e.to_string())?;
            let b = b
                .with_intra_threads(self.intra_op_threads)
                .map_err(|e| e.to_string())?;
            let b = b
                .with_inter_threads(self.inter_op_threads)
                .map_err(|e| e.to_string())?;
            let b = b
                .with_parallel_execution(self.inter_op_threads > 1)
                .map_err(|e| e.to_string())?;
            let b = b.with_intra_op_spinning(spin).map_err(|e| e.to_string())?;
            let b = b.with_inter_op_spinning(spin).map_err(|e| e.to_string())?;
            b.with_optimization_level(level).map_err(|e| e.to_string())
        };
        build().map_err(|reason| Error::InvalidArgument {
            name: "session options",
            reason,
        })
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

    pub(crate) fn entries(&self) -> &[(Arc<str>, Tensor)] {
        &self.entries
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
        self.entries
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, t)| t)
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

/// What every run of one model needs from ONNX Runtime, made once per model: input and output
/// names as C strings, and a CPU memory description for input tensors.
#[derive(Debug)]
pub(crate) struct RunContext {
    inputs: Vec<CString>,
    outputs: Vec<CString>,
    memory: MemoryInfo,
}

/// An `OrtMemoryInfo` for CPU memory. ONNX Runtime only reads it, so one serves every thread.
#[derive(Debug)]
struct MemoryInfo(*mut ort::sys::OrtMemoryInfo);
// SAFETY: immutable after creation; ONNX Runtime takes it as `const OrtMemoryInfo *`.
unsafe impl Send for MemoryInfo {}
// SAFETY: as above.
unsafe impl Sync for MemoryInfo {}

impl Drop for MemoryInfo {
    fn drop(&mut self) {
        // SAFETY: created by CreateCpuMemoryInfo, released once.
        unsafe { (ort::api().ReleaseMemoryInfo)(self.0) };
    }
}

impl RunContext {
    pub(crate) fn new(model: &str, signature: &Signature) -> Result<RunContext> {
        let c = |specs: &[crate::signature::TensorSpec]| {
            specs
                .iter()
                .map(|s| CString::new(s.name.as_bytes()).unwrap_or_default())
                .collect()
        };
        let mut memory = std::ptr::null_mut();
        // SAFETY: `memory` is a valid out-pointer; the runtime is initialised (a session exists).
        let status = unsafe {
            (ort::api().CreateCpuMemoryInfo)(
                ort::sys::OrtAllocatorType::OrtDeviceAllocator,
                ort::sys::OrtMemType::OrtMemTypeDefault,
                &mut memory,
            )
        };
        if let Some(message) = status_message(status) {
            return Err(Error::Inference {
                model: model.to_string(),
                message,
            });
        }
        Ok(RunContext {
            inputs: c(&signature.inputs),
            outputs: c(&signature.outputs),
            memory: MemoryInfo(memory),
        })
    }
}

/// Small arrays of one entry per input or output live on the stack.
type PerTensor<T> = SmallVec<[T; 8]>;

/// Runs `session` on inputs that [`Signature::validate`] accepted, and copies out the outputs at
/// `selected` (indices into `signature.outputs`; `None` for all). Aligned inputs are passed to ONNX
/// Runtime in place; misaligned ones (possible for bytes borrowed from C) are copied once.
///
/// This uses ONNX Runtime's C API (`CreateTensorWithDataAsOrtValue`, `Run`) rather than
/// `ort::Session::run`: in ort 2.0.0-rc.14 each tensor output of `Session::run` leaks the
/// `OrtTypeInfo` it queries (`Value::from_session_output_ptr` never releases it), and ort creates a
/// memory info, an allocator handle and reference-counted wrappers per tensor per call, which
/// dominate the cost of small models.
pub(crate) fn run(
    session: &mut OrtSession,
    model: &str,
    signature: &Signature,
    ctx: &RunContext,
    inputs: &[(&str, TensorView<'_>)],
    selected: Option<&[usize]>,
) -> Result<Outputs> {
    let api = ort::api();
    let fail = |message: String| Error::Inference {
        model: model.to_string(),
        message,
    };
    // Copies of misaligned inputs; they must outlive the run.
    let aligned: PerTensor<Option<AlignedBytes>> = inputs
        .iter()
        .map(|(_, v)| (!v.is_aligned()).then(|| AlignedBytes::copy_from(v.as_bytes())))
        .collect();
    let mut values: PerTensor<OwnedValue> = SmallVec::new();
    let mut input_names: PerTensor<*const c_char> = SmallVec::new();
    for ((name, view), copy) in inputs.iter().zip(&aligned) {
        let index = signature
            .inputs
            .iter()
            .position(|s| &*s.name == *name)
            .ok_or_else(|| Error::UnknownInput {
                model: model.to_string(),
                input: name.to_string(),
                expected: signature
                    .inputs
                    .iter()
                    .map(|s| s.name.to_string())
                    .collect(),
            })?;
        let bytes = copy
            .as_ref()
            .map_or(view.as_bytes(), AlignedBytes::as_bytes);
        let dims: PerTensor<i64> = view.shape().iter().map(|d| *d as i64).collect();
        let mut value = std::ptr::null_mut();
        // SAFETY: `bytes` holds the validated tensor and outlives the run; ONNX Runtime does not
        // write to inputs; the element type code is ONNX's, as DType's numbers are.
        let status = unsafe {
            (api.CreateTensorWithDataAsOrtValue)(
                ctx.memory.0,
                bytes.as_ptr().cast_mut().cast(),
                bytes.len(),
                dims.as_ptr(),
                dims.len(),
                element_type(view.dtype()),
                &mut value,
            )
        };
        if let Some(m) = status_message(status) {
            return Err(fail(format!("input `{name}`: {m}")));
        }
        values.push(OwnedValue(value));
        input_names.push(ctx.inputs[index].as_ptr());
    }
    let input_ptrs: PerTensor<*const ort::sys::OrtValue> =
        values.iter().map(|v| v.0.cast_const()).collect();
    let all: PerTensor<usize>;
    let selected = match selected {
        Some(s) => s,
        None => {
            all = (0..signature.outputs.len()).collect();
            &all
        }
    };
    let output_names: PerTensor<*const c_char> =
        selected.iter().map(|i| ctx.outputs[*i].as_ptr()).collect();
    let mut output_ptrs: PerTensor<*mut ort::sys::OrtValue> =
        smallvec::smallvec![std::ptr::null_mut(); selected.len()];

    // SAFETY: the session is borrowed mutably (ONNX Runtime's Run is not to be called concurrently
    // on one session); names are NUL-terminated and live for the call; input values borrow data that
    // outlives the call; `output_ptrs` has one NULL slot per output name for Run to fill.
    let status = unsafe {
        (api.Run)(
            session.0.as_ptr(),
            std::ptr::null(),
            input_names.as_ptr(),
            input_ptrs.as_ptr(),
            input_ptrs.len(),
            output_names.as_ptr(),
            output_names.len(),
            output_ptrs.as_mut_ptr(),
        )
    };
    drop(values);
    // Own every output value first, so that all are released whatever happens next.
    let owned: PerTensor<OwnedValue> = output_ptrs.into_iter().map(OwnedValue).collect();
    if let Some(message) = status_message(status) {
        return Err(fail(message));
    }
    let mut entries = Vec::with_capacity(selected.len());
    for (value, index) in owned.iter().zip(selected) {
        let spec = &signature.outputs[*index];
        entries.push((spec.name.clone(), value.to_tensor(model, &spec.name)?));
    }
    Ok(Outputs::new(entries))
}

fn element_type(dtype: DType) -> ort::sys::ONNXTensorElementDataType {
    use ort::sys::ONNXTensorElementDataType as T;
    match dtype {
        DType::F32 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
        DType::U8 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8,
        DType::I8 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8,
        DType::U16 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT16,
        DType::I16 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_INT16,
        DType::I32 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32,
        DType::I64 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64,
        DType::Bool => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL,
        DType::F16 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16,
        DType::F64 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE,
        DType::U32 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT32,
        DType::U64 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT64,
        DType::BF16 => T::ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16,
    }
}

/// Reads a tensor's element type as ONNX's raw number.
///
/// ort-sys declares `ONNXTensorElementDataType` as a Rust enum that ends at INT4 (22), while ONNX
/// Runtime 1.31 also reports FLOAT4E2M1 (23), UINT2 (24), INT2 (25) and FLOAT8E8M0 (26): letting
/// ONNX Runtime write one of those into the enum is undefined behaviour. The number is written into a
/// `u32` instead and never becomes the enum.
///
///
/// # Safety
/// `info` is a live `OrtTensorTypeAndShapeInfo`.
pub(crate) unsafe fn element_type_code(
    info: *const ort::sys::OrtTensorTypeAndShapeInfo,
) -> std::result::Result<u32, String> {
    let mut raw: u32 = 0;
    // SAFETY: the enum is `repr(C)`-sized as a C enum (4 bytes), like `u32`; ONNX Runtime writes the
    // number through the pointer and Rust only ever reads it as a `u32`.
    let status = unsafe {
        (ort::api().GetTensorElementType)(
            info,
            (&mut raw as *mut u32).cast::<ort::sys::ONNXTensorElementDataType>(),
        )
    };
    match status_message(status) {
        Some(m) => Err(m),
        None => Ok(raw),
    }
}

/// The name of an element type number as ONNX Runtime's C API reports it
/// (`ONNXTensorElementDataType`). Up to 23 these are ONNX's `TensorProto.DataType` codes; after
/// that ONNX Runtime's order differs from ONNX's (ONNX Runtime 1.31: UINT2 24, INT2 25,
/// FLOAT8E8M0 26; ONNX: FLOAT8E8M0 24, UINT2 25, INT2 26), as the fixtures made with each ONNX type
/// show (`tests/containment.rs`).
pub(crate) fn onnx_element_type_name(code: u32) -> String {
    const NAMES: [&str; 27] = [
        "UNDEFINED",
        "FLOAT",
        "UINT8",
        "INT8",
        "UINT16",
        "INT16",
        "INT32",
        "INT64",
        "STRING",
        "BOOL",
        "FLOAT16",
        "DOUBLE",
        "UINT32",
        "UINT64",
        "COMPLEX64",
        "COMPLEX128",
        "BFLOAT16",
        "FLOAT8E4M3FN",
        "FLOAT8E4M3FNUZ",
        "FLOAT8E5M2",
        "FLOAT8E5M2FNUZ",
        "UINT4",
        "INT4",
        "FLOAT4E2M1",
        "UINT2",
        "INT2",
        "FLOAT8E8M0",
    ];
    match NAMES.get(code as usize) {
        Some(name) => format!("{name} ({code})"),
        None => format!("unknown ({code})"),
    }
}

/// One ONNX Runtime session, created through ONNX Runtime's C API.
///
/// ort's `SessionBuilder::commit_*` reads the model's inputs and outputs into its own enums as soon
/// as the session exists; for element types ort does not know (see [`element_type_code`]) that is
/// undefined behaviour before inferkit can refuse the model. inferkit therefore creates the session
/// itself from the builder's options and reads the signature with raw type numbers
/// ([`crate::signature::Signature::from_session`]).
pub(crate) struct OrtSession(NonNull<ort::sys::OrtSession>);

// SAFETY: an OrtSession may be used from any thread; `Run` is only called through `&mut`, so one
// thread at a time (see `pool`).
unsafe impl Send for OrtSession {}
// SAFETY: the `&self` methods only query immutable metadata (names, types), which ONNX Runtime allows
// concurrently.
unsafe impl Sync for OrtSession {}

impl Drop for OrtSession {
    fn drop(&mut self) {
        // SAFETY: created by CreateSession*, released once.
        unsafe { (ort::api().ReleaseSession)(self.0.as_ptr()) };
    }
}

/// Where a model's bytes come from.
pub(crate) enum ModelSource<'a> {
    /// A file; external data files are found beside it.
    File(&'a std::path::Path),
    /// Bytes in memory, and the directory their external data files are in, if any.
    Bytes(&'a [u8], Option<&'a std::path::Path>),
}

impl ModelSource<'_> {
    /// Session options this source needs: where external data lives for bytes read from a file.
    pub(crate) fn configure(
        &self,
        builder: SessionBuilder,
    ) -> std::result::Result<SessionBuilder, String> {
        match self {
            ModelSource::Bytes(_, Some(dir)) => {
                let dir = dir
                    .to_str()
                    .ok_or_else(|| format!("`{}` is not UTF-8", dir.display()))?;
                // ONNX Runtime's key for models loaded from memory whose weights are in files.
                builder
                    .with_config_entry("session.model_external_initializers_file_folder_path", dir)
                    .map_err(|e| e.to_string())
            }
            _ => Ok(builder),
        }
    }
}

impl OrtSession {
    /// Creates a session from `source` with `builder`'s options, sharing `weights`.
    pub(crate) fn create(
        runtime: &Runtime,
        builder: &SessionBuilder,
        weights: &PrepackedWeights,
        source: &ModelSource<'_>,
    ) -> std::result::Result<OrtSession, String> {
        let api = ort::api();
        let env = runtime.environment().ptr();
        let mut out = std::ptr::null_mut();
        let weights = weights.ptr().cast_mut();
        // SAFETY: env, options and the weights container are live ort objects that outlive the call
        // (the runtime is process-wide; the weights are kept by the pool); the path is
        // NUL-terminated, the bytes are read during the call only; `out` is a valid out-pointer.
        let status = match source {
            ModelSource::File(path) => {
                let path = os_path(path)?;
                unsafe {
                    (api.CreateSessionWithPrepackedWeightsContainer)(
                        env,
                        path.as_ptr(),
                        builder.ptr(),
                        weights,
                        &mut out,
                    )
                }
            }
            ModelSource::Bytes(bytes, _) => unsafe {
                (api.CreateSessionFromArrayWithPrepackedWeightsContainer)(
                    env,
                    bytes.as_ptr().cast(),
                    bytes.len(),
                    builder.ptr(),
                    weights,
                    &mut out,
                )
            },
        };
        if let Some(m) = status_message(status) {
            return Err(m);
        }
        NonNull::new(out)
            .map(OrtSession)
            .ok_or_else(|| "ONNX Runtime returned no session".to_string())
    }

    pub(crate) fn ptr(&self) -> *const ort::sys::OrtSession {
        self.0.as_ptr()
    }
}

#[cfg(unix)]
fn os_path(path: &std::path::Path) -> std::result::Result<Vec<ort::sys::os_char>, String> {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    if bytes.contains(&0) {
        return Err(format!("path `{}` contains a NUL byte", path.display()));
    }
    Ok(bytes
        .iter()
        .map(|b| *b as ort::sys::os_char)
        .chain(std::iter::once(0))
        .collect())
}

#[cfg(windows)]
fn os_path(path: &std::path::Path) -> std::result::Result<Vec<ort::sys::os_char>, String> {
    use std::os::windows::ffi::OsStrExt;
    let wide: Vec<u16> = path.as_os_str().encode_wide().collect();
    if wide.contains(&0) {
        return Err(format!(
            "path `{}` contains a NUL character",
            path.display()
        ));
    }
    Ok(wide.into_iter().chain(std::iter::once(0)).collect())
}

/// Takes an `OrtStatus`: `None` for success, else its message (the status is released).
pub(crate) fn status_message(status: ort::sys::OrtStatusPtr) -> Option<String> {
    if status.0.is_null() {
        return None;
    }
    let api = ort::api();
    // SAFETY: a non-NULL status from ONNX Runtime; its message lives until ReleaseStatus.
    unsafe {
        let msg = (api.GetErrorMessage)(status.0);
        let text = if msg.is_null() {
            "unknown error".to_string()
        } else {
            CStr::from_ptr(msg).to_string_lossy().into_owned()
        };
        (api.ReleaseStatus)(status.0);
        Some(text)
    }
}

/// An `OrtValue` created for or returned by `Run`, released on drop.
struct OwnedValue(*mut ort::sys::OrtValue);

impl Drop for OwnedValue {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: a value Run handed over to us, released once.
            unsafe { (ort::api().ReleaseValue)(self.0) };
        }
    }
}

impl OwnedValue {
    /// Copies a tensor output into an owned [`Tensor`].
    fn to_tensor(&self, model: &str, name: &str) -> Result<Tensor> {
        let fail = |message: String| Error::Inference {
            model: model.to_string(),
            message: format!("output `{name}`: {message}"),
        };
        if self.0.is_null() {
            return Err(fail("ONNX Runtime returned no value".into()));
        }
        let api = ort::api();
        // SAFETY: `self.0` is a live OrtValue; every out-pointer below points to local storage, and the
        // type-and-shape info is released before returning.
        unsafe {
            let mut is_tensor = 0;
            if let Some(m) = status_message((api.IsTensor)(self.0, &mut is_tensor)) {
                return Err(fail(m));
            }
            if is_tensor == 0 {
                return Err(Error::Unsupported {
                    what: format!("model `{model}`, non-tensor output `{name}`"),
                    feature: None,
                });
            }
            let mut info = std::ptr::null_mut();
            if let Some(m) = status_message((api.GetTensorTypeAndShape)(self.0, &mut info)) {
                return Err(fail(m));
            }
            struct Info(*mut ort::sys::OrtTensorTypeAndShapeInfo);
            impl Drop for Info {
                fn drop(&mut self) {
                    // SAFETY: info from GetTensorTypeAndShape, released once.
                    unsafe { (ort::api().ReleaseTensorTypeAndShapeInfo)(self.0) };
                }
            }
            let info = Info(info);
            let ty = element_type_code(info.0).map_err(fail)?;
            let dtype = DType::from_u32(ty).ok_or_else(|| Error::Unsupported {
                what: format!(
                    "model `{model}`, output `{name}` of ONNX element type {}",
                    onnx_element_type_name(ty)
                ),
                feature: None,
            })?;
            let mut rank = 0usize;
            if let Some(m) = status_message((api.GetDimensionsCount)(info.0, &mut rank)) {
                return Err(fail(m));
            }
            let mut dims = vec![0i64; rank];
            if let Some(m) = status_message((api.GetDimensions)(info.0, dims.as_mut_ptr(), rank)) {
                return Err(fail(m));
            }
            let shape: Vec<usize> = dims.iter().map(|d| (*d).max(0) as usize).collect();
            let (_, len) = crate::tensor::byte_len(dtype, &shape)
                .ok_or_else(|| fail("shape overflows".into()))?;
            let mut data = std::ptr::null_mut();
            if let Some(m) = status_message((api.GetTensorMutableData)(self.0, &mut data)) {
                return Err(fail(m));
            }
            let bytes: &[u8] = if len == 0 || data.is_null() {
                &[]
            } else {
                std::slice::from_raw_parts(data.cast::<u8>(), len)
            };
            Tensor::from_bytes(dtype, shape, bytes)
        }
    }
}
