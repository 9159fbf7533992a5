//! One loaded model: its signature and its ONNX Runtime session.
//!
//! ```
//! use inferkit::{Model, TensorView};
//!
//! let model = Model::open("tests/fixtures/mlp.onnx")?;
//! println!("{}", model.signature());              // (x: f32[batch, 16]) -> (y: f32[batch, 4])
//!
//! let x = vec![0.5f32; 2 * 16];
//! let outputs = model.infer(&[("x", TensorView::from_slice(vec![2, 16], &x))])?;
//! let y = outputs["y"].as_slice::<f32>()?;
//! assert_eq!(outputs["y"].shape(), &[2, 4]);
//! assert_eq!(y.len(), 8);
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::path::Path;

use parking_lot::Mutex;

use crate::error::{Error, Result};
use crate::runtime::Runtime;
use crate::session::{self, Outputs, RunNames, SessionOptions};
use crate::signature::Signature;
use crate::tensor::TensorView;

/// How to load a model.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ModelOptions {
    /// The name used in errors and metrics. Default: the file name without its extension.
    pub name: Option<String>,
    /// ONNX Runtime session options.
    pub session: SessionOptions,
}

/// A loaded ONNX model. `Model` is `Send + Sync`: share it between threads behind an `Arc`.
pub struct Model {
    name: String,
    signature: Signature,
    session: Mutex<ort::session::Session>,
    names: RunNames,
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.name)
            .field("signature", &self.signature)
            .finish_non_exhaustive()
    }
}

impl Model {
    /// Loads a model file with default options.
    pub fn open(path: impl AsRef<Path>) -> Result<Model> {
        Self::open_with(path, &ModelOptions::default())
    }

    /// Loads a model file.
    ///
    /// Errors: [`Error::ModelNotFound`], [`Error::ModelUnreadable`] (a directory, no permission),
    /// [`Error::InvalidModel`] (empty, truncated or corrupt), [`Error::RuntimeUnavailable`],
    /// [`Error::Unsupported`] (an execution provider not built in, a non-tensor input).
    pub fn open_with(path: impl AsRef<Path>, options: &ModelOptions) -> Result<Model> {
        let path = path.as_ref();
        let name = options.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "model".into())
        });
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::ModelNotFound {
                    path: path.to_path_buf(),
                })
            }
            Err(e) => {
                return Err(Error::ModelUnreadable {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })
            }
        };
        if meta.is_dir() {
            return Err(Error::ModelUnreadable {
                path: path.to_path_buf(),
                reason: "is a directory".into(),
            });
        }
        // Open it ourselves first so that permission errors are reported as such, not as ORT's parse errors.
        std::fs::File::open(path).map_err(|e| Error::ModelUnreadable {
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
        if meta.len() == 0 {
            return Err(Error::InvalidModel {
                model: name,
                reason: format!("`{}` is empty", path.display()),
            });
        }
        let runtime = Runtime::init()?;
        let mut builder = options.session.builder(runtime)?;
        // From the file, not from memory, so that models with external weight files load.
        let session = builder
            .commit_from_file(path)
            .map_err(|e| Error::InvalidModel {
                model: name.clone(),
                reason: e.to_string(),
            })?;
        Self::from_session(name, session)
    }

    /// Loads a model from bytes in memory.
    pub fn from_bytes(name: &str, bytes: &[u8], options: &SessionOptions) -> Result<Model> {
        if bytes.is_empty() {
            return Err(Error::InvalidModel {
                model: name.to_string(),
                reason: "no bytes".into(),
            });
        }
        let runtime = Runtime::init()?;
        let mut builder = options.builder(runtime)?;
        let session = builder
            .commit_from_memory(bytes)
            .map_err(|e| Error::InvalidModel {
                model: name.to_string(),
                reason: e.to_string(),
            })?;
        Self::from_session(name.to_string(), session)
    }

    fn from_session(name: String, session: ort::session::Session) -> Result<Model> {
        let signature = Signature::from_session(&name, &session)?;
        let names = RunNames::new(&signature);
        Ok(Model {
            name,
            signature,
            session: Mutex::new(session),
            names,
        })
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Inputs and outputs.
    pub fn signature(&self) -> &Signature {
        &self.signature
    }

    /// Runs the model. Inputs are given by name, in any order; outputs come back in signature
    /// order. The request is validated first (see [`Signature::validate`]): a bad request is a
    /// typed error and never reaches ONNX Runtime.
    pub fn infer(&self, inputs: &[(&str, TensorView<'_>)]) -> Result<Outputs> {
        self.signature.validate(&self.name, inputs)?;
        session::run(
            &mut self.session.lock(),
            &self.name,
            &self.signature,
            &self.names,
            inputs,
            None,
        )
    }

    /// Runs the model and returns only the outputs named, in that order. ONNX Runtime skips the
    /// work that only the other outputs need.
    pub fn infer_select(
        &self,
        inputs: &[(&str, TensorView<'_>)],
        outputs: &[&str],
    ) -> Result<Outputs> {
        self.signature.validate(&self.name, inputs)?;
        let selected = self.signature.select_outputs(&self.name, outputs)?;
        session::run(
            &mut self.session.lock(),
            &self.name,
            &self.signature,
            &self.names,
            inputs,
            Some(&selected),
        )
    }
}
