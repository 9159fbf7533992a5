//! The crate's one error type and its stable numeric codes.
//!
//! Every fallible call returns [`Result<T>`]. Each [`Error`] variant carries what a caller needs
//! to fix the call: the model, the input, what was expected and what was given. [`Error::code`]
//! maps a variant to an [`ErrorCode`], whose numbers are part of the C ABI (`inferkit_status`)
//! and of the Go binding; they are never reused.
//!
//! ```
//! use inferkit::{Error, ErrorCode};
//!
//! let err = Error::ModelNotFound { path: "models/missing.onnx".into() };
//! assert_eq!(err.code(), ErrorCode::ModelNotFound);
//! assert_eq!(err.code() as u32, 20);
//! assert!(err.to_string().contains("models/missing.onnx"));
//! ```

use std::path::PathBuf;

use crate::dtype::DType;

/// `Result` with inferkit's [`Error`] as the default error type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Stable numeric error codes, shared by the Rust API, the C ABI (`inferkit_status`) and Go.
///
/// Numbers are explicit and never reused: a retired code stays here as a comment.
/// `Ok` (0) only appears as a C status; a Rust [`Error`] never has it.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// Success (C status only).
    Ok = 0,
    /// A panic inside inferkit was caught, at the C boundary or while inferkit held a request
    /// (which is then answered with it). This is a bug: please report it.
    Panic = 1,
    /// A required pointer argument was NULL.
    NullArgument = 2,
    /// An argument was out of range or malformed (an unknown enum value, a string that is not UTF-8…).
    InvalidArgument = 3,
    /// No usable ONNX Runtime library was found, or it could not be initialised.
    RuntimeUnavailable = 10,
    /// The runtime was already initialised from a different library.
    RuntimeAlreadyInitialized = 11,
    /// The request needs something this build does not include (an execution provider, a dtype…).
    Unsupported = 12,
    /// The model file does not exist.
    ModelNotFound = 20,
    /// The model path could not be read (a directory, no permission, an I/O error).
    ModelUnreadable = 21,
    /// The bytes are not a model the engine can load (empty, truncated, corrupt, unsupported opset;
    /// on tract also an operator, type or graph it cannot run or type).
    InvalidModel = 22,
    /// An input name that the model does not have.
    UnknownInput = 30,
    /// A model input that the request did not provide.
    MissingInput = 31,
    /// The same input name given twice.
    DuplicateInput = 32,
    /// An input's element type differs from the model's.
    DtypeMismatch = 33,
    /// An input's rank differs from the model's.
    RankMismatch = 34,
    /// A fixed dimension, or a symbolic one bound earlier in the request, differs.
    DimMismatch = 35,
    /// The byte length of an input disagrees with its shape and element size.
    ByteLengthMismatch = 36,
    /// The product of an input's dimensions overflows, or a dimension is above `i64::MAX`.
    ShapeOverflow = 37,
    /// An output name that the model does not have.
    UnknownOutput = 38,
    /// Tensor bytes that are not valid for their dtype (a bool byte other than 0 or 1).
    InvalidTensorData = 39,
    /// An input of the wrong kind (a tensor where the model takes a sequence, a map with the wrong
    /// key type, …).
    TypeMismatch = 41,
    /// The engine (ONNX Runtime or tract) failed while running the model.
    Inference = 40,
    /// The model's request queue is full (`max_queue_size`); the request was not accepted.
    QueueFull = 50,
    /// The request's deadline passed: it was not run, or its run was stopped.
    DeadlineExceeded = 51,
    /// The request was cancelled: it was not run, or its run was stopped.
    Cancelled = 52,
    /// A blocking call on a model from inside a callback of the same model: the calling thread
    /// holds a session of that model, and the call could wait for it for ever. Submit instead.
    WouldDeadlock = 53,
    /// A model's `config.toml` is unreadable or invalid (the message names file, key and line).
    Config = 60,
    /// The registry has no model of that name.
    UnknownModel = 61,
    /// The model has no ready version of that number.
    UnknownVersion = 62,
    /// The model has no label of that name.
    UnknownLabel = 63,
    /// The version exists but is not ready (loading, failed, or not loaded).
    VersionNotReady = 64,
    /// The version cannot be unloaded: a label points at it.
    LabelInUse = 65,
    /// A model file's SHA-256 differs from the expected one; the version was not loaded.
    ChecksumMismatch = 66,
    /// A model file is larger than the configured maximum; the version was not loaded.
    ModelTooLarge = 67,
    /// A model name that is empty, has a path separator, or is `.`/`..`.
    InvalidModelName = 68,
    /// The repository directory cannot be read.
    RepositoryUnreadable = 69,
    /// The model has no ready version to serve.
    NoVersionAvailable = 70,
    /// A pipeline that cannot work with its model (the message names the step).
    PipelineConfig = 80,
    /// A pipeline step failed on a request's data (the message names the step).
    PipelineStep = 81,
}

impl ErrorCode {
    /// Every code, in numeric order; used to document and test the table.
    pub const ALL: [ErrorCode; 39] = [
        ErrorCode::Ok,
        ErrorCode::Panic,
        ErrorCode::NullArgument,
        ErrorCode::InvalidArgument,
        ErrorCode::RuntimeUnavailable,
        ErrorCode::RuntimeAlreadyInitialized,
        ErrorCode::Unsupported,
        ErrorCode::ModelNotFound,
        ErrorCode::ModelUnreadable,
        ErrorCode::InvalidModel,
        ErrorCode::UnknownInput,
        ErrorCode::MissingInput,
        ErrorCode::DuplicateInput,
        ErrorCode::DtypeMismatch,
        ErrorCode::RankMismatch,
        ErrorCode::DimMismatch,
        ErrorCode::ByteLengthMismatch,
        ErrorCode::ShapeOverflow,
        ErrorCode::UnknownOutput,
        ErrorCode::InvalidTensorData,
        ErrorCode::Inference,
        ErrorCode::TypeMismatch,
        ErrorCode::QueueFull,
        ErrorCode::DeadlineExceeded,
        ErrorCode::Cancelled,
        ErrorCode::WouldDeadlock,
        ErrorCode::Config,
        ErrorCode::UnknownModel,
        ErrorCode::UnknownVersion,
        ErrorCode::UnknownLabel,
        ErrorCode::VersionNotReady,
        ErrorCode::LabelInUse,
        ErrorCode::ChecksumMismatch,
        ErrorCode::ModelTooLarge,
        ErrorCode::InvalidModelName,
        ErrorCode::RepositoryUnreadable,
        ErrorCode::NoVersionAvailable,
        ErrorCode::PipelineConfig,
        ErrorCode::PipelineStep,
    ];

    /// The code with this number, if there is one.
    pub fn from_u32(value: u32) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| *c as u32 == value)
    }

    /// A short stable name, `snake_case` (used in metrics labels and messages).
    pub fn name(self) -> &'static str {
        match self {
            ErrorCode::Ok => "ok",
            ErrorCode::Panic => "panic",
            ErrorCode::NullArgument => "null_argument",
            ErrorCode::InvalidArgument => "invalid_argument",
            ErrorCode::RuntimeUnavailable => "runtime_unavailable",
            ErrorCode::RuntimeAlreadyInitialized => "runtime_already_initialized",
            ErrorCode::Unsupported => "unsupported",
            ErrorCode::ModelNotFound => "model_not_found",
            ErrorCode::ModelUnreadable => "model_unreadable",
            ErrorCode::InvalidModel => "invalid_model",
            ErrorCode::UnknownInput => "unknown_input",
            ErrorCode::MissingInput => "missing_input",
            ErrorCode::DuplicateInput => "duplicate_input",
            ErrorCode::DtypeMismatch => "dtype_mismatch",
            ErrorCode::RankMismatch => "rank_mismatch",
            ErrorCode::DimMismatch => "dim_mismatch",
            ErrorCode::ByteLengthMismatch => "byte_length_mismatch",
            ErrorCode::ShapeOverflow => "shape_overflow",
            ErrorCode::UnknownOutput => "unknown_output",
            ErrorCode::InvalidTensorData => "invalid_tensor_data",
            ErrorCode::TypeMismatch => "type_mismatch",
            ErrorCode::Inference => "inference",
            ErrorCode::QueueFull => "queue_full",
            ErrorCode::DeadlineExceeded => "deadline_exceeded",
            ErrorCode::Cancelled => "cancelled",
            ErrorCode::WouldDeadlock => "would_deadlock",
            ErrorCode::Config => "config",
            ErrorCode::UnknownModel => "unknown_model",
            ErrorCode::UnknownVersion => "unknown_version",
            ErrorCode::UnknownLabel => "unknown_label",
            ErrorCode::VersionNotReady => "version_not_ready",
            ErrorCode::LabelInUse => "label_in_use",
            ErrorCode::ChecksumMismatch => "checksum_mismatch",
            ErrorCode::ModelTooLarge => "model_too_large",
            ErrorCode::InvalidModelName => "invalid_model_name",
            ErrorCode::RepositoryUnreadable => "repository_unreadable",
            ErrorCode::NoVersionAvailable => "no_version_available",
            ErrorCode::PipelineConfig => "pipeline_config",
            ErrorCode::PipelineStep => "pipeline_step",
        }
    }
}

/// A path that runtime discovery tried, and why it was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TriedPath {
    /// Where the path came from: `explicit`, `INFERKIT_ORT_DYLIB`, `ORT_DYLIB_PATH`, `system loader`, `beside libinferkit`, …
    pub source: &'static str,
    /// The path itself.
    pub path: PathBuf,
    /// Why it was rejected.
    pub reason: String,
}

fn list_tried(tried: &[TriedPath]) -> String {
    if tried.is_empty() {
        return "no candidate path".to_string();
    }
    tried
        .iter()
        .map(|t| format!("{} `{}`: {}", t.source, t.path.display(), t.reason))
        .collect::<Vec<_>>()
        .join("; ")
}

fn fmt_dims(dims: &[usize]) -> String {
    format!("{dims:?}")
}

/// Everything that can go wrong in inferkit.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`ErrorCode::NullArgument`].
    #[error("argument `{name}` is NULL")]
    NullArgument {
        /// The parameter's name.
        name: &'static str,
    },
    /// See [`ErrorCode::InvalidArgument`].
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The parameter's name.
        name: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// See [`ErrorCode::RuntimeUnavailable`].
    #[error("ONNX Runtime is unavailable; tried: {}; {}", list_tried(.tried), crate::runtime::how_to_fix())]
    RuntimeUnavailable {
        /// Each path tried, in order, and why it failed.
        tried: Vec<TriedPath>,
    },
    /// See [`ErrorCode::RuntimeAlreadyInitialized`].
    #[error("ONNX Runtime is already initialised from `{}`; cannot initialise it again from `{}`", .current.display(), .requested.display())]
    RuntimeAlreadyInitialized {
        /// The library in use.
        current: PathBuf,
        /// The library that was asked for.
        requested: PathBuf,
    },
    /// See [`ErrorCode::Unsupported`].
    #[error("{what} is not supported by this build{}", .feature.map(|f| format!(" (it needs the cargo feature `{f}`)")).unwrap_or_default())]
    Unsupported {
        /// What was asked for.
        what: String,
        /// The cargo feature that would provide it, if any.
        feature: Option<&'static str>,
    },
    /// See [`ErrorCode::ModelNotFound`].
    #[error("model file `{}` does not exist", .path.display())]
    ModelNotFound {
        /// The path given.
        path: PathBuf,
    },
    /// See [`ErrorCode::ModelUnreadable`].
    #[error("cannot read model file `{}`: {reason}", .path.display())]
    ModelUnreadable {
        /// The path given.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// See [`ErrorCode::InvalidModel`].
    #[error("model `{model}` cannot be loaded: {reason}")]
    InvalidModel {
        /// The model's name.
        model: String,
        /// ONNX Runtime's or inferkit's reason.
        reason: String,
    },
    /// See [`ErrorCode::UnknownInput`].
    #[error("model `{model}` has no input `{input}`; its inputs are {expected:?}")]
    UnknownInput {
        /// The model's name.
        model: String,
        /// The name given.
        input: String,
        /// The model's input names.
        expected: Vec<String>,
    },
    /// See [`ErrorCode::MissingInput`].
    #[error("model `{model}` needs input `{input}`, which the request does not give")]
    MissingInput {
        /// The model's name.
        model: String,
        /// The input not given.
        input: String,
    },
    /// See [`ErrorCode::DuplicateInput`].
    #[error("model `{model}`: input `{input}` is given more than once")]
    DuplicateInput {
        /// The model's name.
        model: String,
        /// The repeated name.
        input: String,
    },
    /// See [`ErrorCode::TypeMismatch`].
    #[error("model `{model}`, input `{input}`: expected {expected}, given {given}")]
    TypeMismatch {
        /// The model's name.
        model: String,
        /// The input's name.
        input: String,
        /// The type the model takes, as its signature writes it (`seq(map(i64, f32))`).
        expected: String,
        /// What was given.
        given: String,
    },
    /// See [`ErrorCode::DtypeMismatch`].
    #[error("model `{model}`, input `{input}`: expected dtype {expected}, given {given}")]
    DtypeMismatch {
        /// The model's name.
        model: String,
        /// The input's name.
        input: String,
        /// The model's dtype.
        expected: DType,
        /// The request's dtype.
        given: DType,
    },
    /// See [`ErrorCode::RankMismatch`].
    #[error("model `{model}`, input `{input}`: expected rank {expected} ({signature}), given rank {given} (shape {})", fmt_dims(.shape))]
    RankMismatch {
        /// The model's name.
        model: String,
        /// The input's name.
        input: String,
        /// The model's rank.
        expected: usize,
        /// The request's rank.
        given: usize,
        /// The model's dims, printed (`[batch, 16]`).
        signature: String,
        /// The request's shape.
        shape: Vec<usize>,
    },
    /// See [`ErrorCode::DimMismatch`].
    #[error("model `{model}`, input `{input}`, axis {axis}: expected {expected}, given {given} (shape {})", fmt_dims(.shape))]
    DimMismatch {
        /// The model's name.
        model: String,
        /// The input's name.
        input: String,
        /// The axis that differs.
        axis: usize,
        /// What the model expects there: a number, or `seq = 5` for a symbolic dim bound earlier in the request.
        expected: String,
        /// The request's dim.
        given: usize,
        /// The request's shape.
        shape: Vec<usize>,
    },
    /// See [`ErrorCode::ByteLengthMismatch`].
    #[error("model `{model}`, input `{input}`: shape {} of {dtype} needs {expected} bytes, given {given}", fmt_dims(.shape))]
    ByteLengthMismatch {
        /// The model's name (empty when the tensor is checked on its own).
        model: String,
        /// The input's name (empty when the tensor is checked on its own).
        input: String,
        /// The tensor's dtype.
        dtype: DType,
        /// The tensor's shape.
        shape: Vec<usize>,
        /// shape × element size.
        expected: usize,
        /// The byte length given.
        given: usize,
    },
    /// See [`ErrorCode::ShapeOverflow`].
    #[error("model `{model}`, input `{input}`: shape {} cannot be described to ONNX Runtime (its element count overflows, or a dim is above 2^63 - 1)", fmt_dims(.shape))]
    ShapeOverflow {
        /// The model's name (empty when the tensor is checked on its own).
        model: String,
        /// The input's name (empty when the tensor is checked on its own).
        input: String,
        /// The shape given.
        shape: Vec<usize>,
    },
    /// See [`ErrorCode::UnknownOutput`].
    #[error("model `{model}` has no output `{output}`; its outputs are {expected:?}")]
    UnknownOutput {
        /// The model's name.
        model: String,
        /// The name asked for.
        output: String,
        /// The model's output names.
        expected: Vec<String>,
    },
    /// See [`ErrorCode::InvalidTensorData`].
    #[error("tensor `{input}`: {reason}")]
    InvalidTensorData {
        /// The tensor's name, if known.
        input: String,
        /// What is wrong.
        reason: String,
    },
    /// See [`ErrorCode::Panic`]: inferkit panicked while it held this request (a bug; the request
    /// is answered instead of lost).
    #[error("model `{model}`: {message} (this is a bug in inferkit)")]
    Panicked {
        /// The model's name.
        model: String,
        /// What inferkit was doing.
        message: String,
    },
    /// See [`ErrorCode::Inference`].
    #[error("model `{model}`: inference failed: {message}")]
    Inference {
        /// The model's name.
        model: String,
        /// ONNX Runtime's message.
        message: String,
    },
    /// See [`ErrorCode::QueueFull`].
    #[error(
        "model `{model}`: the request queue is full ({capacity} requests waiting); try again later"
    )]
    QueueFull {
        /// The model's name.
        model: String,
        /// The queue's capacity (`max_queue_size`).
        capacity: usize,
    },
    /// See [`ErrorCode::DeadlineExceeded`].
    #[error(
        "model `{model}`: the request's deadline passed: it was not run, or its run was stopped"
    )]
    DeadlineExceeded {
        /// The model's name.
        model: String,
    },
    /// See [`ErrorCode::Cancelled`].
    #[error("model `{model}`: the request was cancelled: it was not run, or its run was stopped")]
    Cancelled {
        /// The model's name.
        model: String,
    },
    /// See [`ErrorCode::WouldDeadlock`].
    #[error("model `{model}`: a blocking call from inside a callback of the same model could wait for ever for the session the callback runs on; submit the request instead")]
    WouldDeadlock {
        /// The model's name.
        model: String,
    },
    /// See [`ErrorCode::Config`].
    #[error("{}: {message}", .file.display())]
    Config {
        /// The configuration file.
        file: PathBuf,
        /// What is wrong, with key and line.
        message: String,
    },
    /// See [`ErrorCode::UnknownModel`].
    #[error("no model `{model}` in the registry; it serves {available:?}")]
    UnknownModel {
        /// The name asked for.
        model: String,
        /// The models served.
        available: Vec<String>,
    },
    /// See [`ErrorCode::UnknownVersion`].
    #[error("model `{model}` has no ready version {version}; ready versions are {ready:?}")]
    UnknownVersion {
        /// The model's name.
        model: String,
        /// The version asked for.
        version: u64,
        /// The ready versions.
        ready: Vec<u64>,
    },
    /// See [`ErrorCode::UnknownLabel`].
    #[error("model `{model}` has no label `{label}`; its labels are {labels:?}")]
    UnknownLabel {
        /// The model's name.
        model: String,
        /// The label asked for.
        label: String,
        /// The model's labels.
        labels: Vec<String>,
    },
    /// See [`ErrorCode::VersionNotReady`].
    #[error("model `{model}`, version {version} is not ready ({state})")]
    VersionNotReady {
        /// The model's name.
        model: String,
        /// The version.
        version: u64,
        /// Its state: loading, failed with the reason, or not loaded.
        state: String,
    },
    /// See [`ErrorCode::LabelInUse`].
    #[error("model `{model}`, version {version} is labelled {labels:?}; move the labels first or force the unload")]
    LabelInUse {
        /// The model's name.
        model: String,
        /// The version.
        version: u64,
        /// The labels pointing at it.
        labels: Vec<String>,
    },
    /// See [`ErrorCode::ChecksumMismatch`].
    #[error("model `{model}`, version {version}: SHA-256 is {actual}, expected {expected}")]
    ChecksumMismatch {
        /// The model's name.
        model: String,
        /// The version.
        version: u64,
        /// The expected digest.
        expected: String,
        /// The file's digest.
        actual: String,
    },
    /// See [`ErrorCode::ModelTooLarge`].
    #[error("model `{model}`, version {version}: {size} bytes exceed the limit of {limit}")]
    ModelTooLarge {
        /// The model's name.
        model: String,
        /// The version.
        version: u64,
        /// The file's size.
        size: u64,
        /// The configured maximum.
        limit: u64,
    },
    /// See [`ErrorCode::InvalidModelName`].
    #[error("`{name}` is not a model name: {reason}")]
    InvalidModelName {
        /// The name given.
        name: String,
        /// Why it is refused.
        reason: String,
    },
    /// See [`ErrorCode::RepositoryUnreadable`].
    #[error("cannot read the model repository `{}`: {reason}", .path.display())]
    RepositoryUnreadable {
        /// The directory.
        path: PathBuf,
        /// The operating system's reason.
        reason: String,
    },
    /// See [`ErrorCode::NoVersionAvailable`].
    #[error("model `{model}` has no ready version")]
    NoVersionAvailable {
        /// The model's name.
        model: String,
    },
    /// See [`ErrorCode::PipelineConfig`].
    #[error("model `{model}`, pipeline {step}: {reason}")]
    PipelineConfig {
        /// The model's name.
        model: String,
        /// The step, as `pre[2] Layout`.
        step: String,
        /// What is wrong.
        reason: String,
    },
    /// See [`ErrorCode::PipelineStep`].
    #[error("model `{model}`, pipeline {step}: {reason}")]
    PipelineStep {
        /// The model's name.
        model: String,
        /// The step, as `pre[1] Normalize`.
        step: String,
        /// What is wrong with the data.
        reason: String,
    },
}

impl Error {
    /// The stable numeric code of this error.
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::NullArgument { .. } => ErrorCode::NullArgument,
            Error::InvalidArgument { .. } => ErrorCode::InvalidArgument,
            Error::RuntimeUnavailable { .. } => ErrorCode::RuntimeUnavailable,
            Error::RuntimeAlreadyInitialized { .. } => ErrorCode::RuntimeAlreadyInitialized,
            Error::Unsupported { .. } => ErrorCode::Unsupported,
            Error::ModelNotFound { .. } => ErrorCode::ModelNotFound,
            Error::ModelUnreadable { .. } => ErrorCode::ModelUnreadable,
            Error::InvalidModel { .. } => ErrorCode::InvalidModel,
            Error::UnknownInput { .. } => ErrorCode::UnknownInput,
            Error::MissingInput { .. } => ErrorCode::MissingInput,
            Error::DuplicateInput { .. } => ErrorCode::DuplicateInput,
            Error::DtypeMismatch { .. } => ErrorCode::DtypeMismatch,
            Error::RankMismatch { .. } => ErrorCode::RankMismatch,
            Error::DimMismatch { .. } => ErrorCode::DimMismatch,
            Error::ByteLengthMismatch { .. } => ErrorCode::ByteLengthMismatch,
            Error::ShapeOverflow { .. } => ErrorCode::ShapeOverflow,
            Error::UnknownOutput { .. } => ErrorCode::UnknownOutput,
            Error::InvalidTensorData { .. } => ErrorCode::InvalidTensorData,
            Error::TypeMismatch { .. } => ErrorCode::TypeMismatch,
            Error::Panicked { .. } => ErrorCode::Panic,
            Error::Inference { .. } => ErrorCode::Inference,
            Error::QueueFull { .. } => ErrorCode::QueueFull,
            Error::DeadlineExceeded { .. } => ErrorCode::DeadlineExceeded,
            Error::Cancelled { .. } => ErrorCode::Cancelled,
            Error::WouldDeadlock { .. } => ErrorCode::WouldDeadlock,
            Error::Config { .. } => ErrorCode::Config,
            Error::UnknownModel { .. } => ErrorCode::UnknownModel,
            Error::UnknownVersion { .. } => ErrorCode::UnknownVersion,
            Error::UnknownLabel { .. } => ErrorCode::UnknownLabel,
            Error::VersionNotReady { .. } => ErrorCode::VersionNotReady,
            Error::LabelInUse { .. } => ErrorCode::LabelInUse,
            Error::ChecksumMismatch { .. } => ErrorCode::ChecksumMismatch,
            Error::ModelTooLarge { .. } => ErrorCode::ModelTooLarge,
            Error::InvalidModelName { .. } => ErrorCode::InvalidModelName,
            Error::RepositoryUnreadable { .. } => ErrorCode::RepositoryUnreadable,
            Error::NoVersionAvailable { .. } => ErrorCode::NoVersionAvailable,
            Error::PipelineConfig { .. } => ErrorCode::PipelineConfig,
            Error::PipelineStep { .. } => ErrorCode::PipelineStep,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code as u32), "{code:?} reuses a number");
            assert_eq!(ErrorCode::from_u32(code as u32), Some(code));
        }
        assert_eq!(ErrorCode::from_u32(9999), None);
        // The numbers are part of the ABI: pin a few.
        assert_eq!(ErrorCode::Ok as u32, 0);
        assert_eq!(ErrorCode::Panic as u32, 1);
        assert_eq!(ErrorCode::RuntimeUnavailable as u32, 10);
        assert_eq!(ErrorCode::InvalidModel as u32, 22);
        assert_eq!(ErrorCode::DtypeMismatch as u32, 33);
        assert_eq!(ErrorCode::Inference as u32, 40);
    }

    #[test]
    fn runtime_unavailable_names_every_path() {
        let err = Error::RuntimeUnavailable {
            tried: vec![
                TriedPath {
                    source: "explicit",
                    path: "/a/libort.so".into(),
                    reason: "no such file".into(),
                },
                TriedPath {
                    source: "ORT_DYLIB_PATH",
                    path: "/b/libort.so".into(),
                    reason: "not ONNX Runtime".into(),
                },
            ],
        };
        let msg = err.to_string();
        assert!(
            msg.contains("/a/libort.so") && msg.contains("/b/libort.so"),
            "{msg}"
        );
        assert!(msg.contains("ORT_DYLIB_PATH"), "{msg}");
        // And how to fix it: the variable, and the command that provisions a copy.
        assert!(msg.contains("set INFERKIT_ORT_DYLIB"), "{msg}");
        assert!(
            msg.contains("pip install") && msg.contains("onnxruntime==1.31.1"),
            "{msg}"
        );
    }

    #[test]
    fn unsupported_names_the_feature() {
        let err = Error::Unsupported {
            what: "text pipelines".into(),
            feature: Some("tokenizer"),
        };
        assert_eq!(
            err.to_string(),
            "text pipelines is not supported by this build (it needs the cargo feature `tokenizer`)"
        );
    }
}
