//! # inferkit
//!
//! Model serving inside your process: load ONNX models, validate requests against their
//! signatures, and run them on ONNX Runtime, from Rust or through the C ABI (`include/inferkit.h`).
//!
//! ```
//! use inferkit::{Model, TensorView};
//!
//! let model = Model::open("tests/fixtures/mlp.onnx")?;
//! for input in &model.signature().inputs {
//!     println!("input {input}");                         // input x: f32[batch, 16]
//! }
//! let x = [0.25f32; 16];
//! let out = model.infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])?;
//! assert_eq!(out["y"].shape(), &[1, 4]);
//!
//! // Bad requests are typed errors, caught before ONNX Runtime sees them.
//! let err = model.infer(&[("x", TensorView::from_slice(vec![1, 15], &x[..15]))]).unwrap_err();
//! assert_eq!(err.code(), inferkit::ErrorCode::DimMismatch);
//! # Ok::<(), inferkit::Error>(())
//! ```
//!
//! One method for each way of running a model:
//!
//! | | blocking | submitted |
//! |---|---|---|
//! | inputs by name | [`Model::infer`], [`Model::infer_with`] | [`Model::submit`] (a `Future`), [`Model::submit_with_callback`] |
//! | through the model's [pipeline] | [`Model::infer_pipeline`], [`Model::infer_pipeline_with`] | |
//!
//! The `_with` forms and the submitted ones take [`InferOptions`] (a timeout or deadline, a subset
//! of outputs). A pipeline takes a [`PipelineInput`]: a tensor, an image, PNG or JPEG bytes, text
//! or token ids. Every options struct is built the same way, from `Default` with `with_<field>`
//! setters:
//!
//! ```
//! use std::time::Duration;
//! use inferkit::{BatchingOptions, InferOptions, Model, ModelOptions, Tensor};
//!
//! let options = ModelOptions::default()
//!     .with_instances(2)
//!     .with_batching(BatchingOptions::default().with_max_batch_size(8));
//! let model = Model::open_with("tests/fixtures/mlp.onnx", &options)?;
//! let request = InferOptions::default().with_timeout(Duration::from_secs(1)).with_outputs(["y"]);
//! let x = Tensor::from_vec(vec![1, 16], vec![0.25f32; 16])?;
//! let out = model.infer_with(&[("x", &x)], &request)?;
//! assert_eq!(out["y"].shape(), &[1, 4]);
//! # Ok::<(), inferkit::Error>(())
//! ```
//!
//! ONNX Runtime is loaded at run time; see [`runtime`] for where it is looked for. Runnable
//! examples, one per capability, are in `examples/` (`cargo run --example quickstart`).

#![deny(missing_docs)]

#[macro_use]
mod macros;
pub mod backend;

mod dtype;
pub mod error;
// The C ABI (include/inferkit.h); its functions are documented in the header, not in the Rust docs.
#[doc(hidden)]
pub mod ffi;
pub mod metrics;
pub mod model;
mod model_file;
pub mod pipeline;
mod platform;
pub mod pool;
pub mod repository;
pub mod runtime;
pub mod scheduler;
pub mod session;
pub mod signature;
mod sync;
pub mod tensor;
#[cfg(feature = "tract")]
mod tract;
pub mod value;

pub use backend::Backend;
pub use error::{Error, ErrorCode, Result, TriedPath};
pub use model::{Model, ModelOptions};
pub use pipeline::PipelineInput;
pub use runtime::Runtime;
pub use scheduler::{
    BatchingOptions, CancelToken, InferFuture, InferOptions, RequestHandle, SchedulerStats,
};
pub use session::{ExecutionProvider, OptimizationLevel, Outputs, SessionOptions};
pub use signature::{Dim, Signature, TensorSpec};
pub use tensor::{DType, Element, Tensor, TensorView};
pub use value::{AsInput, Input, Map, Value, ValueKind, ValueType};

/// inferkit's version (`CARGO_PKG_VERSION`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
