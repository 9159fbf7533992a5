//! Session options, and running one ONNX Runtime session on validated inputs.
//!
//! Defaults are tuned for a host process that runs requests on its own threads: one intra-op
//! thread, one inter-op thread, spinning off (an idle model uses no CPU), full graph optimisation.
//!
//! ```
//! use inferkit::{ExecutionProvider, Model, ModelOptions, OptimizationLevel, SessionOptions};
//!
//! let opts = ModelOptions::default().with_session(
//!     SessionOptions::default()
//!         .with_intra_op_threads(2)
//!         .with_optimization_level(OptimizationLevel::Basic),
//! );
//! let model = Model::open_with("tests/fixtures/mlp.onnx", &opts)?;
//! assert_eq!(model.name(), "mlp");
//!
//! // This build runs on ONNX Runtime's CPU provider; asking for another is a typed error.
//! let cuda = ModelOptions::default()
//!     .with_session(SessionOptions::default().with_execution_providers([ExecutionProvider::Cuda]));
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
use crate::value::{Input, Map, Value, ValueType};

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

/// Most execution providers one preference list may name
/// ([`SessionOptions::execution_providers`]).
pub const MAX_EXECUTION_PROVIDERS: usize = 16;

/// Options for the ONNX Runtime sessions of a model.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
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

with_setters!(SessionOptions {
    with_intra_op_threads(intra_op_threads, usize);
    with_inter_op_threads(inter_op_threads, usize);
    with_spinning(spinning, bool);
    with_optimization_level(optimization_level, OptimizationLevel);
    with_execution_providers(execution_providers, list ExecutionProvider);
});

impl SessionOptions {
    /// Checks the options without building anything: thread counts between 1 and [`MAX_THREADS`],
    /// and only execution providers this build includes.
    pub fn check(&self) -> Result<()> {
        use crate::scheduler::check_range;
        check_range("intra_op_threads", self.intra_op_threads, 1, MAX_THREADS)?;
        check_range("inter_op_threads", self.inter_op_threads, 1, MAX_THREADS)?;
        if self.execution_providers.len() > MAX_EXECUTION_PROVIDERS {
            return Err(Error::InvalidArgument {
                name: "execution_providers",
                reason: format!(
                    "{} providers; at most {MAX_EXECUTION_PROVIDERS}",
                    self.execution_providers.len()
                ),
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
///
/// Tensor outputs are read with [`Outputs::get`] or by index (`outputs["y"]`, `outputs[0]`);
/// sequences, maps and optionals with [`Outputs::value`].
#[derive(Debug, Clone, PartialEq)]
pub struct Outputs {
    entries: Vec<(Arc<str>, Value)>,
}

impl Outputs {
    pub(crate) fn from_values(entries: Vec<(Arc<str>, Value)>) -> Outputs {
        Outputs { entries }
    }

    pub(crate) fn entries(&self) -> &[(Arc<str>, Value)] {
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

    /// The tensor output with this name; `None` if there is none, or if it is not a tensor (see
    /// [`Outputs::value`]).
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.value(name).and_then(Value::as_tensor)
    }

    /// The output with this name, of any kind.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.entries
            .iter()
            .find(|(n, _)| &**n == name)
            .map(|(_, v)| v)
    }

    /// Output `index`, of any kind.
    pub fn value_at(&self, index: usize) -> Option<&Value> {
        self.entries.get(index).map(|(_, v)| v)
    }

    /// The name of output `index`.
    pub fn name(&self, index: usize) -> Option<&str> {
        self.entries.get(index).map(|(n, _)| &**n)
    }

    /// `(name, value)` pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(n, v)| (&**n, v))
    }

    /// The values, in order, without their names.
    pub fn into_values(self) -> Vec<Value> {
        self.entries.into_iter().map(|(_, v)| v).collect()
    }

    /// The tensors, in order, without their names. Fails if an output is not a tensor.
    pub fn into_tensors(self) -> Result<Vec<Tensor>> {
        self.entries
            .into_iter()
            .map(|(n, v)| {
                let kind = v.kind();
                v.into_tensor().ok_or_else(|| Error::InvalidArgument {
                    name: "outputs",
                    reason: format!("output `{n}` is a {}, not a tensor", kind.name()),
                })
            })
            .collect()
    }
}

impl std::ops::Index<usize> for Outputs {
    type Output = Tensor;
    /// Tensor output `index`. Panics if there is none or it is not a tensor.
    fn index(&self, index: usize) -> &Tensor {
        let (name, value) = &self.entries[index];
        match value {
            Value::Tensor(t) => t,
            other => panic!("output `{name}` is a {}, not a tensor", other.kind().name()),
        }
    }
}

impl std::ops::Index<&str> for Outputs {
    type Output = Tensor;
    /// The tensor output with this name. Panics if there is none or it is not a tensor.
    fn index(&self, name: &str) -> &Tensor {
        match self.value(name) {
            Some(Value::Tensor(t)) => t,
            Some(other) => panic!("output `{name}` is a {}, not a tensor", other.kind().name()),
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
/// `selected` (indices into `signature.outputs`; `None` for all). Aligned tensor inputs are passed
/// to ONNX Runtime in place; misaligned ones (possible for bytes borrowed from C) are copied once.
/// Strings are copied into ONNX Runtime's string tensors; sequences and maps are built from their
/// tensors; an absent optional input is left out of the feed, which is how ONNX Runtime takes
/// "none".
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
    run_options: *const ort::sys::OrtRunOptions,
    inputs: &[(&str, Input<'_>)],
    selected: Option<&[usize]>,
) -> Result<Outputs> {
    let api = ort::api();
    let fail = |message: String| Error::Inference {
        model: model.to_string(),
        message,
    };
    let mut feed = Feed {
        ctx,
        copies: SmallVec::new(),
        values: SmallVec::new(),
    };
    let mut roots: PerTensor<*const ort::sys::OrtValue> = SmallVec::new();
    let mut input_names: PerTensor<*const c_char> = SmallVec::new();
    // What the outputs' shapes may depend on, for outputs kept from run to run (`Reuse`): every
    // input's index and dims, then the outputs asked for. `None` with a non-tensor input.
    let mut key: Option<ReuseKey> = (!session.reuse.off).then(SmallVec::new);
    for (name, input) in inputs {
        let index = signature
            .input_index(name)
            .ok_or_else(|| Error::UnknownInput {
                model: model.to_string(),
                input: name.to_string(),
                expected: signature
                    .inputs
                    .iter()
                    .map(|s| s.name.to_string())
                    .collect(),
            })?;
        match (input, &mut key) {
            (Input::Tensor(view), Some(k)) => {
                k.push(index as i64);
                k.push(view.shape().len() as i64);
                k.extend(view.shape().iter().map(|d| *d as i64));
            }
            _ => key = None,
        }
        let value = match input {
            Input::Tensor(view) if view.dtype() != DType::String && view.is_aligned() => {
                session.inputs.value(ctx, index, view)
            }
            Input::Tensor(view) => feed.tensor(view),
            // ONNX Runtime's "none": the optional input is not fed.
            Input::Value(Value::Optional(None)) => continue,
            Input::Value(v) => feed.value(v, &signature.inputs[index].ty, 0),
        }
        .map_err(|m| fail(format!("input `{name}`: {m}")))?;
        roots.push(value.cast_const());
        input_names.push(ctx.inputs[index].as_ptr());
    }
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
    if let Some(k) = &mut key {
        k.push(-1);
        k.extend(selected.iter().map(|i| *i as i64));
    }
    let session_ptr = session.ptr.as_ptr();
    // SAFETY: the session is borrowed mutably (ONNX Runtime's Run is not to be called concurrently
    // on one session); names are NUL-terminated and live for the call; input values borrow data that
    // outlives the call; `outputs` has one slot per output name: NULL for Run to fill with a value
    // of its own, or a value kept in `session.reuse` (over a buffer of inferkit's) to write into.
    let run_once = |outputs: &mut PerTensor<*mut ort::sys::OrtValue>| unsafe {
        (api.Run)(
            session_ptr,
            run_options,
            input_names.as_ptr(),
            roots.as_ptr(),
            roots.len(),
            output_names.as_ptr(),
            output_names.len(),
            outputs.as_mut_ptr(),
        )
    };
    let mut output_ptrs: PerTensor<*mut ort::sys::OrtValue> =
        smallvec::smallvec![std::ptr::null_mut(); selected.len()];
    let reused = key.as_ref().is_some_and(|k| session.reuse.fits(k));
    if reused {
        for (p, kept) in output_ptrs.iter_mut().zip(&mut session.reuse.values) {
            kept.mark();
            *p = kept.value.0;
        }
    }
    let mut status = run_once(&mut output_ptrs);
    // A kept value Run did not write into still holds its mark: ONNX Runtime handed that output
    // over another way (a graph input returned as an output; an output asked for twice). Its
    // buffer must not be read.
    let unwritten = reused && status.0.is_null() && session.reuse.values.iter().any(Kept::marked);
    // Every output is in its kept value, of that value's dtype and shape.
    let in_kept = reused && status.0.is_null() && !unwritten;
    if reused && (!status.0.is_null() || unwritten) {
        // Failed: perhaps an output's shape differs from its kept value's (output shapes that
        // follow the inputs' values, not only their shapes). Or an output was not written. The
        // same run without kept values tells; if it succeeds, this session keeps none from now
        // on.
        drop(session.reuse.owned_by_caller(&mut output_ptrs));
        drop(status_message(status));
        session.reuse.clear();
        output_ptrs
            .iter_mut()
            .for_each(|p| *p = std::ptr::null_mut());
        status = run_once(&mut output_ptrs);
        session.reuse.off = status.0.is_null();
    }
    // Own every value Run made first, so that all are released whatever happens next (kept values
    // stay `session.reuse`'s). The feed (input values and the copies of misaligned inputs) lives
    // until the outputs are copied out: an output may share an input's buffer (a graph input that
    // is also an output).
    let owned = session.reuse.owned_by_caller(&mut output_ptrs);
    if let Some(message) = status_message(status) {
        return Err(fail(message));
    }
    let mut entries = Vec::with_capacity(selected.len());
    for (i, index) in selected.iter().enumerate() {
        let spec = &signature.outputs[*index];
        let out = if in_kept {
            Value::Tensor(session.reuse.values[i].read())
        } else {
            read_value(output_ptrs[i], &spec.ty, 0).map_err(|e| match e {
                ReadError::Ort(m) => fail(format!("output `{}`: {m}", spec.name)),
                ReadError::Unsupported(what) => Error::Unsupported {
                    what: format!("model `{model}`, output `{}`: {what}", spec.name),
                    feature: None,
                },
            })?
        };
        entries.push((spec.name.clone(), out));
    }
    drop(owned);
    drop(feed);
    if let (Some(key), false) = (key, reused) {
        session.reuse.after_run(key, &entries, ctx);
    }
    Ok(Outputs::from_values(entries))
}

/// A tensor value of `dtype` (not a string) and `dims` over the `len` bytes at `data`, which must
/// hold it and outlive the value. ONNX Runtime writes into them when the value is an output of a
/// run (then `data` must come from a mutable borrow), never when it is an input.
fn create_tensor_value(
    ctx: &RunContext,
    data: *mut u8,
    len: usize,
    dims: &[i64],
    dtype: DType,
) -> std::result::Result<*mut ort::sys::OrtValue, String> {
    let mut value = std::ptr::null_mut();
    // CreateTensorWithDataAsOrtValue, with the element type passed as the C enum's number: the
    // types after INT4 are not in ort-sys's Rust enum, and making one would be undefined
    // behaviour.
    type CreateWithData = unsafe extern "system" fn(
        *const ort::sys::OrtMemoryInfo,
        *mut std::ffi::c_void,
        usize,
        *const i64,
        usize,
        i32,
        *mut *mut ort::sys::OrtValue,
    ) -> ort::sys::OrtStatusPtr;
    // SAFETY: the same C function, declared with the enum as the `int` a C enum is (ort-sys's
    // enum is `repr(i32)`); the bytes and dims are live for the call, and the caller keeps the
    // bytes for the value's lifetime.
    let status = unsafe {
        let create: CreateWithData = std::mem::transmute(ort::api().CreateTensorWithDataAsOrtValue);
        create(
            ctx.memory.0,
            data.cast(),
            len,
            dims.as_ptr(),
            dims.len(),
            ort_element_type(dtype) as i32,
            &mut value,
        )
    };
    if let Some(m) = status_message(status) {
        return Err(m);
    }
    Ok(value)
}

/// The dims of a run's inputs and the outputs it asks for (see `run`).
type ReuseKey = SmallVec<[i64; 16]>;

/// Output values kept from one run of a session to the next. ONNX Runtime then writes a run's
/// outputs into them instead of allocating a value per output and releasing it after the copy:
/// 0.3 µs of a 2.4 µs run of a small MLP. They are made, over buffers of inferkit's own (so that
/// they never share memory with an input or a weight), after two runs in a row with the same
/// input dims and outputs asked for, and used while the runs keep those. Only numeric tensor
/// outputs are kept.
#[derive(Default)]
pub(crate) struct Reuse {
    /// The runs the kept values fit; or, with no values, the last run's. On the heap, as the
    /// values: a session's size matters more than an allocation made once per change of dims.
    key: Vec<i64>,
    values: Vec<Kept>,
    /// A run with kept values failed where the same run without them succeeded: this model's
    /// output shapes do not follow its input shapes alone, and no values are kept any more.
    off: bool,
}

/// One kept output value, the buffer it is over, and the dtype and shape it was made with (a run
/// that writes into it writes that dtype and shape, or fails).
struct Kept {
    value: OwnedValue,
    buffer: AlignedBytes,
    dtype: DType,
    shape: Vec<usize>,
}

/// Written at both ends of a kept buffer before each run ([`Kept::mark`]): a run writes its whole
/// output over it. Bytes no output is likely to hold at both ends, and only a false alarm (the
/// run made again, nothing kept any more) if one does.
const MARK: [u8; 8] = [0xA5, 0x1E, 0x7B, 0xC3, 0x5A, 0xE1, 0x84, 0x3C];

impl Kept {
    fn ends(&mut self) -> (std::ops::Range<usize>, std::ops::Range<usize>) {
        let len = self.buffer.as_bytes().len();
        let n = len.min(MARK.len());
        (0..n, len - n..len)
    }

    /// Marks both ends of the buffer, before a run that is to write over it.
    fn mark(&mut self) {
        let (head, tail) = self.ends();
        let n = head.len();
        let bytes = self.buffer.as_mut_bytes();
        bytes[head].copy_from_slice(&MARK[..n]);
        bytes[tail].copy_from_slice(&MARK[..n]);
    }

    /// The output a run wrote here, copied out (no need to ask ONNX Runtime for its type and
    /// shape: they are the value's own).
    fn read(&self) -> Tensor {
        Tensor::from_checked_bytes(self.dtype, &self.shape, self.buffer.as_bytes())
    }

    /// Whether both ends still hold the mark: the run did not write the output here.
    fn marked(&self) -> bool {
        let bytes = self.buffer.as_bytes();
        let n = bytes.len().min(MARK.len());
        bytes[..n] == MARK[..n] && bytes[bytes.len() - n..] == MARK[..n]
    }
}

impl Reuse {
    fn fits(&self, key: &ReuseKey) -> bool {
        !self.values.is_empty() && self.key[..] == key[..]
    }

    fn clear(&mut self) {
        self.values.clear();
    }

    /// The values in `outputs` that are not kept ones, which the caller owns (Run made them).
    fn owned_by_caller(
        &self,
        outputs: &mut PerTensor<*mut ort::sys::OrtValue>,
    ) -> PerTensor<OwnedValue> {
        outputs
            .iter()
            .filter(|p| !self.values.iter().any(|k| k.value.0 == **p))
            .map(|p| OwnedValue(*p))
            .collect()
    }

    /// After a run without kept values that succeeded with `entries`: keeps values for its key
    /// when the run before had the same one.
    fn after_run(&mut self, key: ReuseKey, entries: &[(Arc<str>, Value)], ctx: &RunContext) {
        if self.off {
            return;
        }
        if self.key[..] != key[..] {
            self.values.clear();
            self.key.clear();
            self.key.extend_from_slice(&key);
            return;
        }
        let keepable = |v: &Value| matches!(v, Value::Tensor(t) if t.dtype() != DType::String && !t.as_bytes().is_empty());
        if !entries.iter().all(|(_, v)| keepable(v)) {
            return;
        }
        let mut values = Vec::with_capacity(entries.len());
        for (_, value) in entries {
            let Value::Tensor(t) = value else { return };
            let Some(mut buffer) = AlignedBytes::try_zeroed(t.as_bytes().len()) else {
                return;
            };
            let dims: PerTensor<i64> = t.shape().iter().map(|d| *d as i64).collect();
            // ONNX Runtime writes through the pointer: taken from the buffer mutably. The buffer
            // lives in `Kept` beside the value, and is released after it.
            let bytes = buffer.as_mut_bytes();
            let (data, len) = (bytes.as_mut_ptr(), bytes.len());
            let Ok(value) = create_tensor_value(ctx, data, len, &dims, t.dtype()) else {
                return;
            };
            values.push(Kept {
                value: OwnedValue(value),
                buffer,
                dtype: t.dtype(),
                shape: t.shape().to_vec(),
            });
        }
        self.values = values;
    }
}

/// The last value made for each input over a caller's aligned bytes, used again while the caller
/// lends the same bytes: a host that runs from one buffer (an input it refills, as ONNX Runtime's
/// own examples do) makes no value per run. ONNX Runtime reads a value's bytes only in a `Run`
/// it is fed to, so a kept value outliving its bytes is never read; it is fed again only when
/// the run's caller lends bytes at the same address, of the same length, dtype and dims.
#[derive(Default)]
struct KeptInputs(Vec<Option<KeptInput>>);

struct KeptInput {
    value: OwnedValue,
    /// Where the bytes were (an address, never dereferenced here), their length and type.
    addr: usize,
    len: usize,
    dtype: DType,
    dims: PerTensor<i64>,
}

impl KeptInputs {
    /// The value for input `index` over `view`'s bytes: the kept one if it is over these bytes,
    /// else a new one, kept instead.
    fn value(
        &mut self,
        ctx: &RunContext,
        index: usize,
        view: &TensorView<'_>,
    ) -> std::result::Result<*mut ort::sys::OrtValue, String> {
        let bytes = view.as_bytes();
        let fits = |k: &KeptInput| {
            k.addr == bytes.as_ptr() as usize
                && k.len == bytes.len()
                && k.dtype == view.dtype()
                && k.dims.len() == view.shape().len()
                && k.dims
                    .iter()
                    .zip(view.shape())
                    .all(|(a, b)| *a == *b as i64)
        };
        if let Some(kept) = self
            .0
            .get(index)
            .and_then(Option::as_ref)
            .filter(|k| fits(k))
        {
            return Ok(kept.value.0);
        }
        let dims: PerTensor<i64> = view.shape().iter().map(|d| *d as i64).collect();
        // ONNX Runtime does not write to inputs; the bytes are lent for this run (see above for
        // later ones).
        let value = create_tensor_value(
            ctx,
            bytes.as_ptr().cast_mut(),
            bytes.len(),
            &dims,
            view.dtype(),
        )?;
        if self.0.len() <= index {
            self.0.resize_with(index + 1, || None);
        }
        self.0[index] = Some(KeptInput {
            value: OwnedValue(value),
            addr: bytes.as_ptr() as usize,
            len: bytes.len(),
            dtype: view.dtype(),
            dims,
        });
        Ok(value)
    }
}

/// The values made for one run, released when it is dropped (after `Run`).
struct Feed<'c> {
    ctx: &'c RunContext,
    /// Copies of misaligned tensor bytes; ONNX Runtime reads them during the run.
    copies: PerTensor<AlignedBytes>,
    /// Every value created, nested ones included.
    values: SmallVec<[OwnedValue; 8]>,
}

impl Feed<'_> {
    fn keep(&mut self, value: *mut ort::sys::OrtValue) -> *mut ort::sys::OrtValue {
        self.values.push(OwnedValue(value));
        value
    }

    /// A tensor value over the view's bytes (in place when aligned), or a string tensor.
    fn tensor(
        &mut self,
        view: &TensorView<'_>,
    ) -> std::result::Result<*mut ort::sys::OrtValue, String> {
        let dims: PerTensor<i64> = view.shape().iter().map(|d| *d as i64).collect();
        let code = ort_element_type(view.dtype());
        if view.dtype() == DType::String {
            return self.strings(view, &dims, code);
        }
        let bytes = if view.is_aligned() {
            view.as_bytes()
        } else {
            self.copies.push(AlignedBytes::copy_from(view.as_bytes()));
            // The copy's heap buffer does not move when `copies` grows.
            let copy = self.copies.last().map_or(&[][..], AlignedBytes::as_bytes);
            // SAFETY: the buffer lives in `self.copies` until the feed is dropped, after Run.
            unsafe { std::slice::from_raw_parts(copy.as_ptr(), copy.len()) }
        };
        // `bytes` holds the validated tensor and outlives the run; ONNX Runtime does not write to
        // inputs.
        let value = create_tensor_value(
            self.ctx,
            bytes.as_ptr().cast_mut(),
            bytes.len(),
            &dims,
            view.dtype(),
        )?;
        Ok(self.keep(value))
    }

    /// A string tensor, the strings copied into ONNX Runtime's memory (any bytes, NUL included).
    fn strings(
        &mut self,
        view: &TensorView<'_>,
        dims: &[i64],
        code: u32,
    ) -> std::result::Result<*mut ort::sys::OrtValue, String> {
        let api = ort::api();
        // SAFETY: out-pointers point to local storage; the allocator is ONNX Runtime's default,
        // which lives for the process; each element buffer is `len` bytes long.
        unsafe {
            let mut allocator = std::ptr::null_mut();
            if let Some(m) = status_message((api.GetAllocatorWithDefaultOptions)(&mut allocator)) {
                return Err(m);
            }
            let mut value = std::ptr::null_mut();
            if let Some(m) = status_message((api.CreateTensorAsOrtValue)(
                allocator,
                dims.as_ptr(),
                dims.len(),
                // STRING (8) is in ort-sys's enum.
                std::mem::transmute::<i32, ort::sys::ONNXTensorElementDataType>(code as i32),
                &mut value,
            )) {
                return Err(m);
            }
            let value = self.keep(value);
            let count = view.offsets().len().saturating_sub(1);
            for i in 0..count {
                let s = view.string_bytes(i).unwrap_or_default();
                let mut buffer: *mut c_char = std::ptr::null_mut();
                if let Some(m) = status_message((api.GetResizedStringTensorElementBuffer)(
                    value,
                    i,
                    s.len(),
                    &mut buffer,
                )) {
                    return Err(m);
                }
                if !s.is_empty() && !buffer.is_null() {
                    std::ptr::copy_nonoverlapping(s.as_ptr(), buffer.cast::<u8>(), s.len());
                }
            }
            Ok(value)
        }
    }

    /// A value of type `ty` (validated against it), with everything inside it.
    fn value(
        &mut self,
        v: &Value,
        ty: &ValueType,
        depth: usize,
    ) -> std::result::Result<*mut ort::sys::OrtValue, String> {
        if depth > 16 {
            return Err("value nested too deep".into());
        }
        // A present optional is fed as its value, so the type to follow is the optional's content.
        let ty = match ty {
            ValueType::Optional(inner) => inner,
            other => other,
        };
        match v {
            Value::Tensor(t) => self.tensor(&t.view()),
            Value::Optional(Some(inner)) => self.value(inner, ty, depth + 1),
            Value::Optional(None) => Err("an absent optional inside another value".into()),
            Value::Sequence(items) => {
                let elem = match ty {
                    ValueType::Sequence(elem) => &**elem,
                    other => return Err(format!("a sequence where the model takes {other}")),
                };
                if items.is_empty() {
                    let ValueType::Tensor { dtype, .. } = elem else {
                        return Err(format!("an empty sequence of {elem}"));
                    };
                    let value = empty_sequence(*dtype)?;
                    return Ok(self.keep(value));
                }
                let parts = items
                    .iter()
                    .map(|item| self.value(item, elem, depth + 1).map(|p| p.cast_const()))
                    .collect::<std::result::Result<PerTensor<_>, _>>()?;
                self.create(&parts, ort::sys::ONNXType::ONNX_TYPE_SEQUENCE)
            }
            Value::Map(map) => {
                let keys = self.tensor(&map.keys().view())?.cast_const();
                let values = self.tensor(&map.values().view())?.cast_const();
                self.create(&[keys, values], ort::sys::ONNXType::ONNX_TYPE_MAP)
            }
        }
    }

    fn create(
        &mut self,
        parts: &[*const ort::sys::OrtValue],
        kind: ort::sys::ONNXType,
    ) -> std::result::Result<*mut ort::sys::OrtValue, String> {
        let mut value = std::ptr::null_mut();
        // SAFETY: every part is a live value kept by this feed; `value` is a valid out-pointer.
        let status =
            unsafe { (ort::api().CreateValue)(parts.as_ptr(), parts.len(), kind, &mut value) };
        if let Some(m) = status_message(status) {
            return Err(m);
        }
        Ok(self.keep(value))
    }
}

/// An empty sequence of `dtype` tensors, made by ONNX Runtime itself.
///
/// ONNX Runtime's C API builds sequences from their elements (`CreateValue`) and refuses to build
/// one with none; its Python API reaches past the C API to do it. inferkit instead runs a one-node
/// model, `SequenceEmpty(dtype)`, whose output is exactly that value. One such session is made per
/// element type on first use and kept for the life of the process (a failure to make one is kept
/// too, and answered at once); runs on it are serialised. ONNX Runtime 1.31's SequenceEmpty makes
/// sequences of the numeric types and strings, not of 8-bit floats or packed types; validation
/// refuses those first ([`crate::signature`]).
fn empty_sequence(dtype: DType) -> std::result::Result<*mut ort::sys::OrtValue, String> {
    use std::sync::OnceLock;
    type Made = std::result::Result<OrtSession, String>;
    static SESSIONS: OnceLock<parking_lot::Mutex<Vec<(DType, Made)>>> = OnceLock::new();
    let sessions = SESSIONS.get_or_init(|| parking_lot::Mutex::new(Vec::new()));
    let mut sessions = sessions.lock();
    if !sessions.iter().any(|(d, _)| *d == dtype) {
        let made = (|| {
            let runtime = Runtime::get().ok_or("ONNX Runtime is not initialised")?;
            let builder = SessionOptions::default()
                .builder(runtime)
                .map_err(|e| e.to_string())?;
            let model = sequence_empty_model(dtype);
            OrtSession::create(
                runtime,
                &builder,
                &PrepackedWeights::new(),
                &ModelSource::Bytes(&model, None),
            )
        })();
        sessions.push((dtype, made));
    }
    let session = match sessions.iter().find(|(d, _)| *d == dtype).map(|(_, s)| s) {
        Some(Ok(session)) => session,
        Some(Err(e)) => return Err(format!("making an empty sequence of {dtype}: {e}")),
        None => return Err("no session".into()),
    };
    let name = c"out";
    let names = [name.as_ptr()];
    let mut out: *mut ort::sys::OrtValue = std::ptr::null_mut();
    // SAFETY: the session is live and only run under the lock; it has no inputs and one output.
    let status = unsafe {
        (ort::api().Run)(
            session.ptr().cast_mut(),
            std::ptr::null(),
            std::ptr::null(),
            std::ptr::null(),
            0,
            names.as_ptr(),
            1,
            &mut out,
        )
    };
    if let Some(m) = status_message(status) {
        return Err(m);
    }
    if out.is_null() {
        return Err("ONNX Runtime returned no sequence".into());
    }
    Ok(out)
}

/// The bytes of an ONNX model with no inputs and one node, `out = SequenceEmpty(dtype)`.
fn sequence_empty_model(dtype: DType) -> Vec<u8> {
    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            out.push(if v > 0 { b | 0x80 } else { b });
            if v == 0 {
                break;
            }
        }
    }
    fn bytes(field: u64, body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        varint(field << 3 | 2, &mut out);
        varint(body.len() as u64, &mut out);
        out.extend_from_slice(body);
        out
    }
    fn number(field: u64, v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        varint(field << 3, &mut out);
        varint(v, &mut out);
        out
    }
    let code = dtype as u64; // ONNX's TensorProto numbering, as DType's
                             // AttributeProto { name = 1, i = 3, type = 20 (INT = 2) }
    let attribute = [bytes(1, b"dtype"), number(3, code), number(20, 2)].concat();
    // NodeProto { output = 2, op_type = 4, attribute = 5 }
    let node = [
        bytes(2, b"out"),
        bytes(4, b"SequenceEmpty"),
        bytes(5, &attribute),
    ]
    .concat();
    // TypeProto { sequence_type = 4: { elem_type = 1: TypeProto { tensor_type = 1: { elem_type = 1 } } } }
    let tensor = bytes(1, &number(1, code));
    let ty = bytes(4, &bytes(1, &tensor));
    // ValueInfoProto { name = 1, type = 2 }
    let output = [bytes(1, b"out"), bytes(2, &ty)].concat();
    // GraphProto { node = 1, name = 2, output = 12 }
    let graph = [bytes(1, &node), bytes(2, b"empty"), bytes(12, &output)].concat();
    // ModelProto { ir_version = 1, graph = 7, opset_import = 8: { version = 2 } }
    [number(1, 10), bytes(7, &graph), bytes(8, &number(2, 21))].concat()
}

/// Why an output could not be read.
enum ReadError {
    /// ONNX Runtime failed.
    Ort(String),
    /// inferkit cannot represent it.
    Unsupported(String),
}

impl From<String> for ReadError {
    fn from(m: String) -> Self {
        ReadError::Ort(m)
    }
}

/// Reads an output value of type `ty` into an owned [`Value`]. `value` stays the caller's.
fn read_value(
    value: *mut ort::sys::OrtValue,
    ty: &ValueType,
    depth: usize,
) -> std::result::Result<Value, ReadError> {
    if value.is_null() {
        return Err(ReadError::Ort("ONNX Runtime returned no value".into()));
    }
    if depth > 16 {
        return Err(ReadError::Unsupported("a value nested too deep".into()));
    }
    let api = ort::api();
    // SAFETY: `value` is a live OrtValue; out-pointers point to local storage; every element value
    // ONNX Runtime hands over is owned by a guard.
    unsafe {
        match ty {
            ValueType::Tensor { .. } => read_tensor(value).map(Value::Tensor),
            ValueType::Optional(inner) => {
                let mut has: std::ffi::c_int = 0;
                if let Some(m) = status_message((api.HasValue)(value, &mut has)) {
                    return Err(m.into());
                }
                if has == 0 {
                    return Ok(Value::Optional(None));
                }
                let v = read_value(value, inner, depth + 1)?;
                Ok(Value::Optional(Some(Box::new(v))))
            }
            ValueType::Sequence(inner) => {
                let mut count = 0usize;
                if let Some(m) = status_message((api.GetValueCount)(value, &mut count)) {
                    return Err(m.into());
                }
                let mut items = Vec::with_capacity(count.min(1 << 16));
                for i in 0..count {
                    let item = element(value, i)?;
                    items.push(read_value(item.0, inner, depth + 1)?);
                }
                Ok(Value::Sequence(items))
            }
            ValueType::Map { .. } => {
                let keys = element(value, 0)?;
                let values = element(value, 1)?;
                let map = Map::new(read_tensor(keys.0)?, read_tensor(values.0)?)
                    .map_err(|e| ReadError::Ort(e.to_string()))?;
                Ok(Value::Map(map))
            }
        }
    }
}

/// Element `index` of a sequence (or keys 0 / values 1 of a map), owned.
fn element(
    value: *mut ort::sys::OrtValue,
    index: usize,
) -> std::result::Result<OwnedValue, String> {
    let api = ort::api();
    let index = std::ffi::c_int::try_from(index).map_err(|_| "sequence too long".to_string())?;
    // SAFETY: `value` is live; the allocator is the process-wide default; the element is owned by
    // the returned guard.
    unsafe {
        let mut allocator = std::ptr::null_mut();
        if let Some(m) = status_message((api.GetAllocatorWithDefaultOptions)(&mut allocator)) {
            return Err(m);
        }
        let mut out = std::ptr::null_mut();
        if let Some(m) = status_message((api.GetValue)(value, index, allocator, &mut out)) {
            return Err(m);
        }
        if out.is_null() {
            return Err("ONNX Runtime returned no element".into());
        }
        Ok(OwnedValue(out))
    }
}

/// ONNX Runtime's element type number for a dtype (its C API's `ONNXTensorElementDataType`).
/// Up to FLOAT4E2M1 (23) these are ONNX's numbers; after that ONNX Runtime 1.31 numbers UINT2 24,
/// INT2 25 and FLOAT8E8M0 26, where ONNX has FLOAT8E8M0 24, UINT2 25, INT2 26.
pub(crate) fn ort_element_type(dtype: DType) -> u32 {
    match dtype {
        DType::U2 => 24,
        DType::I2 => 25,
        DType::F8E8M0 => 26,
        other => other as u32,
    }
}

/// The dtype of ONNX Runtime's element type number, if inferkit can carry it.
pub(crate) fn dtype_from_ort(code: u32) -> Option<DType> {
    match code {
        24 => Some(DType::U2),
        25 => Some(DType::I2),
        26 => Some(DType::F8E8M0),
        c if c < 24 => DType::from_u32(c),
        _ => None,
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
pub(crate) struct OrtSession {
    ptr: NonNull<ort::sys::OrtSession>,
    /// Output values kept from run to run.
    reuse: Reuse,
    /// Input values kept from run to run.
    inputs: KeptInputs,
}

// SAFETY: an OrtSession may be used from any thread; `Run` is only called through `&mut`, so one
// thread at a time (see `pool`).
unsafe impl Send for OrtSession {}
// SAFETY: the `&self` methods only query immutable metadata (names, types), which ONNX Runtime allows
// concurrently.
unsafe impl Sync for OrtSession {}

impl Drop for OrtSession {
    fn drop(&mut self) {
        // SAFETY: created by CreateSession*, released once.
        unsafe { (ort::api().ReleaseSession)(self.ptr.as_ptr()) };
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
            .map(|ptr| OrtSession {
                ptr,
                reuse: Reuse::default(),
                inputs: KeptInputs::default(),
            })
            .ok_or_else(|| "ONNX Runtime returned no session".to_string())
    }

    pub(crate) fn ptr(&self) -> *const ort::sys::OrtSession {
        self.ptr.as_ptr()
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

/// Elsewhere (WebAssembly, which cannot load ONNX Runtime anyway) a path is its UTF-8.
#[cfg(not(any(unix, windows)))]
fn os_path(path: &std::path::Path) -> std::result::Result<Vec<ort::sys::os_char>, String> {
    let text = path
        .to_str()
        .filter(|t| !t.contains('\0'))
        .ok_or_else(|| format!("path `{}` is not UTF-8 without NUL bytes", path.display()))?;
    Ok(text
        .bytes()
        .map(|b| b as ort::sys::os_char)
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

/// Copies a tensor value into an owned [`Tensor`]; `value` stays the caller's.
///
/// # Safety
/// `value` is a live OrtValue.
unsafe fn read_tensor(value: *mut ort::sys::OrtValue) -> std::result::Result<Tensor, ReadError> {
    let api = ort::api();
    // SAFETY: the caller's promise; every out-pointer below points to local storage, and the
    // type-and-shape info is released before returning.
    unsafe {
        let mut is_tensor = 0;
        if let Some(m) = status_message((api.IsTensor)(value, &mut is_tensor)) {
            return Err(m.into());
        }
        if is_tensor == 0 {
            return Err(ReadError::Ort(
                "expected a tensor, ONNX Runtime returned another kind of value".into(),
            ));
        }
        let mut info = std::ptr::null_mut();
        if let Some(m) = status_message((api.GetTensorTypeAndShape)(value, &mut info)) {
            return Err(m.into());
        }
        struct Info(*mut ort::sys::OrtTensorTypeAndShapeInfo);
        impl Drop for Info {
            fn drop(&mut self) {
                // SAFETY: info from GetTensorTypeAndShape, released once.
                unsafe { (ort::api().ReleaseTensorTypeAndShapeInfo)(self.0) };
            }
        }
        let info = Info(info);
        let ty = element_type_code(info.0)?;
        let dtype = dtype_from_ort(ty).ok_or_else(|| {
            ReadError::Unsupported(format!(
                "a tensor of ONNX element type {}",
                onnx_element_type_name(ty)
            ))
        })?;
        let mut rank = 0usize;
        if let Some(m) = status_message((api.GetDimensionsCount)(info.0, &mut rank)) {
            return Err(m.into());
        }
        let mut dims = vec![0i64; rank];
        if let Some(m) = status_message((api.GetDimensions)(info.0, dims.as_mut_ptr(), rank)) {
            return Err(m.into());
        }
        let shape: Vec<usize> = dims.iter().map(|d| (*d).max(0) as usize).collect();
        let (elements, len) = crate::tensor::byte_len(dtype, &shape)
            .ok_or_else(|| ReadError::Ort("shape overflows".into()))?;
        if dtype == DType::String {
            let mut total = 0usize;
            if let Some(m) = status_message((api.GetStringTensorDataLength)(value, &mut total)) {
                return Err(m.into());
            }
            let mut data = vec![0u8; total];
            let mut offsets = vec![0usize; elements + 1];
            if elements > 0 {
                if let Some(m) = status_message((api.GetStringTensorContent)(
                    value,
                    data.as_mut_ptr().cast(),
                    total,
                    offsets.as_mut_ptr(),
                    elements,
                )) {
                    return Err(m.into());
                }
            }
            offsets[elements] = total;
            return Tensor::from_string_parts(shape, &data, offsets)
                .map_err(|e| ReadError::Ort(e.to_string()));
        }
        let mut data = std::ptr::null_mut();
        if let Some(m) = status_message((api.GetTensorMutableData)(value, &mut data)) {
            return Err(m.into());
        }
        let bytes: &[u8] = if len == 0 || data.is_null() {
            &[]
        } else {
            std::slice::from_raw_parts(data.cast::<u8>(), len)
        };
        Tensor::from_bytes(dtype, shape, bytes).map_err(|e| ReadError::Ort(e.to_string()))
    }
}
