//! Which engine runs a model: ONNX Runtime, or tract (a pure-Rust ONNX engine, the `tract` feature).
//!
//! Everything above the sessions (validation, the queue and batching, deadlines, metrics, the
//! registry, pipelines, the C ABI) is the same for both; a model's [`Backend`] only decides what
//! its sessions are. ONNX Runtime is the default and the fast path. tract is for where ONNX
//! Runtime cannot go: WebAssembly, app stores that forbid loading libraries at run time, hosts that
//! do not ship the library. [`Backend::Auto`] takes ONNX Runtime when it loads and tract when it
//! does not, so one build serves both kinds of host.
//!
//! What tract runs differs from ONNX Runtime in these ways, each a typed error rather than a
//! surprise: only tensor inputs and outputs (no sequences, maps or optionals); the element types
//! bool, 8- to 64-bit integers, f16, f32, f64 and strings; the ONNX operators tract implements
//! (an unknown one is [`Error::InvalidModel`] at load, naming it). Each
//! session runs on the thread that runs the request (`intra_op_threads` and `inter_op_threads`
//! apply to ONNX Runtime only); the instances of one model share its optimised plan and weights. A
//! run past its deadline, or cancelled, stops before the next operator, as ONNX Runtime's does
//! (the steps of a recurrent operator run inside it, uninterrupted). Strings cross as UTF-8. tract
//! types a graph before it runs it: a graph whose shapes follow dims the file leaves open may need
//! them fixed ([`ModelOptions::input_shapes`](crate::ModelOptions::input_shapes)).
//!
//! ```
//! use inferkit::{Backend, Model, ModelOptions};
//!
//! let options = ModelOptions::default().with_backend(Backend::Auto);
//! let model = Model::open_with("tests/fixtures/mlp.onnx", &options)?;
//! // ONNX Runtime is found here, so Auto chose it.
//! assert_eq!(model.backend(), Backend::OnnxRuntime);
//! # Ok::<(), inferkit::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::runtime::Runtime;

/// The engine that runs a model's sessions: `ModelOptions::backend` in Rust, `backend` in the
/// `[instances]` of a registry's `config.toml`, inferkit_model_options_set_backend in C.
#[repr(u32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Backend {
    /// ONNX Runtime (the default). Loading a model fails with RUNTIME_UNAVAILABLE when the library
    /// cannot be found.
    #[default]
    OnnxRuntime = 0,
    /// tract, a pure-Rust ONNX engine (the `tract` cargo feature; without it, asking for tract is
    /// UNSUPPORTED).
    Tract = 1,
    /// ONNX Runtime when it can be loaded, tract when it cannot and this build has the `tract`
    /// feature. The model's backend (`Model::backend`, inferkit_model_backend) says which one was
    /// chosen.
    Auto = 2,
}

impl Backend {
    /// The backend with this number (the C ABI's `INFERKIT_BACKEND_*`).
    pub fn from_u32(v: u32) -> Option<Backend> {
        [Backend::OnnxRuntime, Backend::Tract, Backend::Auto]
            .into_iter()
            .find(|b| *b as u32 == v)
    }

    /// The backend's name as configurations write it: `onnxruntime`, `tract` or `auto`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::OnnxRuntime => "onnxruntime",
            Backend::Tract => "tract",
            Backend::Auto => "auto",
        }
    }

    /// The backend with this name ([`Backend::name`]).
    pub fn from_name(name: &str) -> Option<Backend> {
        [Backend::OnnxRuntime, Backend::Tract, Backend::Auto]
            .into_iter()
            .find(|b| b.name() == name)
    }

    /// Whether this build can run models on this backend ([`Backend::Tract`] needs the `tract`
    /// feature; the others are always built).
    pub fn is_built(self) -> bool {
        self != Backend::Tract || cfg!(feature = "tract")
    }

    /// The engine a model asking for `self` runs on: the backend itself, or for `Auto` ONNX
    /// Runtime when it initialises and tract when it does not (when built; otherwise ONNX
    /// Runtime's error).
    pub(crate) fn resolve(self) -> Result<Backend> {
        match self {
            Backend::OnnxRuntime => Runtime::init().map(|_| Backend::OnnxRuntime),
            Backend::Tract if cfg!(feature = "tract") => Ok(Backend::Tract),
            Backend::Tract => Err(Error::Unsupported {
                what: "the tract backend".into(),
                feature: Some("tract"),
            }),
            Backend::Auto => match Runtime::init() {
                Ok(_) => Ok(Backend::OnnxRuntime),
                Err(e) if cfg!(feature = "tract") => {
                    tracing::warn!(error = %e, "inferkit: ONNX Runtime is unavailable; models with backend `auto` run on tract");
                    Ok(Backend::Tract)
                }
                Err(e) => Err(e),
            },
        }
    }
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One session of a model, on its engine.
pub(crate) enum Engine {
    /// An ONNX Runtime session.
    Ort(crate::session::OrtSession),
    /// A tract plan and the state of one run at a time.
    #[cfg(feature = "tract")]
    Tract(crate::tract::TractSession),
}

/// The sessions of a model as loaded, and what they share.
pub(crate) enum Engines {
    /// ONNX Runtime sessions sharing one container of pre-packed weights.
    Ort {
        sessions: Vec<crate::session::OrtSession>,
        weights: ort::session::builder::PrepackedWeights,
    },
    /// tract sessions, sharing one plan.
    #[cfg(feature = "tract")]
    Tract(Vec<crate::tract::TractSession>),
}

impl Engines {
    /// The backend these sessions run on.
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Engines::Ort { .. } => Backend::OnnxRuntime,
            #[cfg(feature = "tract")]
            Engines::Tract(_) => Backend::Tract,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_numbers_round_trip() {
        for b in [Backend::OnnxRuntime, Backend::Tract, Backend::Auto] {
            assert_eq!(Backend::from_name(b.name()), Some(b));
            assert_eq!(Backend::from_u32(b as u32), Some(b));
        }
        assert_eq!(Backend::from_name("ort"), None);
        assert_eq!(Backend::from_u32(3), None);
    }

    #[test]
    fn tract_is_built_only_with_its_feature() {
        assert_eq!(Backend::Tract.is_built(), cfg!(feature = "tract"));
        let resolved = Backend::Tract.resolve();
        if cfg!(feature = "tract") {
            assert_eq!(resolved.unwrap(), Backend::Tract);
        } else {
            let err = resolved.unwrap_err();
            assert_eq!(err.code(), crate::ErrorCode::Unsupported);
            assert!(err.to_string().contains("cargo feature `tract`"), "{err}");
        }
    }
}
