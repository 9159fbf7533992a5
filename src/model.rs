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
use std::sync::Arc;

use crate::backend::{Backend, Engines};
use crate::error::{Error, Result};
use crate::pipeline::{Pipeline, PipelineInput, PipelineOutput, PipelineSpec};
use crate::runtime::Runtime;
use crate::scheduler::{
    BatchingOptions, InferFuture, InferOptions, RequestHandle, Scheduler, SchedulerStats,
};
use crate::session::{ModelSource, OrtSession, Outputs, SessionOptions};
use crate::signature::{Dim, Signature};
use crate::tensor::Tensor;
use crate::value::{AsInput, Input, Value};
use smallvec::SmallVec;

/// Most dims of a shape in [`ModelOptions::input_shapes`].
const MAX_FIXED_RANK: usize = 64;

/// Most sessions (instances) one model may have ([`ModelOptions::instances`]).
pub const MAX_INSTANCES: usize = 64;
const _: () = assert!(MAX_INSTANCES <= crate::pool::MAX_WORKERS);

/// How to load a model.
///
/// ```
/// use inferkit::{BatchingOptions, Model, ModelOptions};
///
/// let options = ModelOptions::default()
///     .with_name("scorer")
///     .with_instances(2)
///     .with_batching(BatchingOptions::default().with_max_batch_size(8));
/// let model = Model::open_with("tests/fixtures/mlp.onnx", &options)?;
/// assert_eq!((model.name(), model.instances()), ("scorer", 2));
/// # Ok::<(), inferkit::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct ModelOptions {
    /// The name used in errors and metrics. Default: the file name without its extension.
    pub name: Option<String>,
    /// ONNX Runtime session options.
    pub session: SessionOptions,
    /// Number of sessions (instances) that serve requests concurrently; they share pre-packed
    /// weights (on tract, one plan). Default: the number of CPUs, at most 4.
    pub instances: usize,
    /// Queueing and dynamic batching.
    pub batching: BatchingOptions,
    /// Record latency histograms (counters of outcomes are kept either way). Default true.
    pub metrics: bool,
    /// The version number reported in metrics (`version` label); a registry sets it.
    pub version: Option<u64>,
    /// Pre- and post-processing for [`Model::infer_pipeline`] (see [`crate::pipeline`]).
    pub pipeline: Option<PipelineSpec>,
    /// The engine that runs the model (see [`crate::backend`]). Default ONNX Runtime.
    pub backend: Backend,
    /// Shapes that inputs always have, by input name: each fixes the dynamic dims of that input
    /// (a fixed dim must match), in the signature, so requests of another shape are refused. On
    /// tract this is what lets a graph whose shapes are computed from dynamic dims be typed (and
    /// optimised for the size it runs at), as tract needs before it runs anything.
    pub input_shapes: Vec<(String, Vec<usize>)>,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            name: None,
            session: SessionOptions::default(),
            instances: std::thread::available_parallelism()
                .map_or(1, |n| n.get())
                .min(4),
            batching: BatchingOptions::default(),
            metrics: true,
            version: None,
            pipeline: None,
            backend: Backend::default(),
            input_shapes: Vec::new(),
        }
    }
}

with_setters!(ModelOptions {
    with_name(name, some_string);
    with_session(session, SessionOptions);
    with_instances(instances, usize);
    with_batching(batching, BatchingOptions);
    with_metrics(metrics, bool);
    with_version(version, some u64);
    with_pipeline(pipeline, some PipelineSpec);
    with_backend(backend, Backend);
});

impl ModelOptions {
    /// Fixes the shape of input `name` ([`ModelOptions::input_shapes`]), replacing an earlier one.
    pub fn with_input_shape(mut self, name: &str, shape: &[usize]) -> Self {
        self.input_shapes.retain(|(n, _)| n != name);
        self.input_shapes.push((name.to_string(), shape.to_vec()));
        self
    }
}

impl ModelOptions {
    /// Checks the options without loading anything: `instances` between 1 and [`MAX_INSTANCES`],
    /// and the session and batching options within their bounds.
    pub fn check(&self) -> Result<()> {
        crate::scheduler::check_range("instances", self.instances, 1, MAX_INSTANCES)?;
        for (name, shape) in &self.input_shapes {
            let elements = shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d));
            if shape.len() > MAX_FIXED_RANK
                || elements.is_none_or(|n| n > isize::MAX as usize)
                || shape.iter().any(|d| i64::try_from(*d).is_err())
            {
                return Err(Error::InvalidArgument {
                    name: "input_shapes",
                    reason: format!("input `{name}`: shape {shape:?} is too large"),
                });
            }
        }
        self.session.check()?;
        self.batching.check()
    }
}

/// The signature with the dynamic dims of `shapes` fixed ([`ModelOptions::input_shapes`]).
fn fix_input_shapes(
    model: &str,
    mut signature: Signature,
    shapes: &[(String, Vec<usize>)],
) -> Result<Signature> {
    for (name, shape) in shapes {
        let expected: Vec<String> = signature
            .inputs
            .iter()
            .map(|s| s.name.to_string())
            .collect();
        let Some(spec) = signature.inputs.iter_mut().find(|s| &*s.name == name) else {
            return Err(Error::UnknownInput {
                model: model.to_string(),
                input: name.clone(),
                expected,
            });
        };
        let fits = spec.is_tensor()
            && spec.ranked()
            && spec.dims.len() == shape.len()
            && spec
                .dims
                .iter()
                .zip(shape)
                .all(|(d, n)| !matches!(d, Dim::Fixed(f) if f != n));
        if !fits {
            return Err(Error::InvalidArgument {
                name: "input_shapes",
                reason: format!(
                    "model `{model}`: input `{name}` is {spec}, which shape {shape:?} does not fit"
                ),
            });
        }
        *spec = crate::signature::TensorSpec::tensor(
            name,
            spec.dtype,
            shape.iter().map(|n| Dim::Fixed(*n)).collect(),
        );
    }
    Ok(signature)
}

/// A loaded ONNX model with its sessions and request queue. `Model` is `Send + Sync`: share it
/// between threads (by reference or in an `Arc`); concurrent requests share its sessions and are
/// batched when that pays (see [`crate::scheduler`]).
pub struct Model {
    inner: Arc<Scheduler>,
    pipeline: Arc<Pipeline>,
}

#[cfg(test)]
impl Model {
    /// The scheduler, for the scheduler's own unit tests.
    pub(crate) fn scheduler(&self) -> &Scheduler {
        &self.inner
    }
}

impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Model")
            .field("name", &self.inner.name)
            .field("signature", &self.inner.signature)
            .field("stats", &self.inner.stats())
            .finish()
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
    /// [`Error::InvalidModel`] (empty, truncated or corrupt; on tract, an operator it lacks),
    /// [`Error::RuntimeUnavailable`] (on ONNX Runtime), [`Error::Unsupported`] (an execution
    /// provider or backend not built in, a non-tensor input), [`Error::InvalidArgument`] (options
    /// out of range). The backend is [`ModelOptions::backend`] (see [`crate::backend`]).
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
        // From the file, not from memory, so that models with external weight files load.
        Self::load(name, ModelSource::File(path), options)
    }

    /// Loads a model from bytes in memory. `options.name`, when set, wins over `name`.
    pub fn from_bytes(name: &str, bytes: &[u8], options: &ModelOptions) -> Result<Model> {
        Self::load_bytes(name, bytes, None, options)
    }

    /// Loads a model from bytes read from a file in `dir`, whose external data files (weights
    /// stored beside the model) are looked up in `dir`. The registry loads this way: the bytes
    /// whose checksum it verified are the bytes ONNX Runtime loads.
    pub(crate) fn from_file_bytes(
        name: &str,
        bytes: &[u8],
        dir: &Path,
        options: &ModelOptions,
    ) -> Result<Model> {
        Self::load_bytes(name, bytes, Some(dir), options)
    }

    fn load_bytes(
        name: &str,
        bytes: &[u8],
        dir: Option<&Path>,
        options: &ModelOptions,
    ) -> Result<Model> {
        let name = options.name.clone().unwrap_or_else(|| name.to_string());
        if bytes.is_empty() {
            return Err(Error::InvalidModel {
                model: name,
                reason: "no bytes".into(),
            });
        }
        Self::load(name, ModelSource::Bytes(bytes, dir), options)
    }

    fn load(name: String, source: ModelSource<'_>, options: &ModelOptions) -> Result<Model> {
        options.check()?;
        let file_io = crate::model_file::read_io(&source).unwrap_or_default();
        if let Some(io) = crate::model_file::name_with_nul(&file_io) {
            return Err(Error::Unsupported {
                what: format!(
                    "model `{name}`: input or output `{io}` has a NUL byte in its name, which ONNX Runtime's C API cannot pass"
                ),
                feature: None,
            });
        }
        let (signature, engines) = match options.backend.resolve()? {
            #[cfg(feature = "tract")]
            Backend::Tract => {
                let (signature, sessions) = crate::tract::load(&name, &source, options)?;
                (signature, Engines::Tract(sessions))
            }
            _ => Self::load_ort(&name, &source, options, &file_io)?,
        };
        let signature = fix_input_shapes(&name, signature, &options.input_shapes)?;
        let pipeline = Pipeline::new(
            &name,
            options
                .pipeline
                .as_ref()
                .unwrap_or(&PipelineSpec::default()),
            &signature,
            None,
        )?;
        Ok(Model {
            pipeline: Arc::new(pipeline),
            inner: Scheduler::new(
                name,
                signature,
                engines,
                options.batching.clone(),
                options.metrics,
                options.version,
            )?
            .into_arc(),
        })
    }

    /// ONNX Runtime sessions of `source` and the signature read from the first.
    fn load_ort(
        name: &str,
        source: &ModelSource<'_>,
        options: &ModelOptions,
        file_io: &[crate::model_file::Io],
    ) -> Result<(Signature, Engines)> {
        let runtime = Runtime::init()?;
        let weights = ort::session::builder::PrepackedWeights::new();
        let builder = source
            .configure(options.session.builder(runtime)?)
            .map_err(|reason| Error::InvalidArgument {
                name: "session options",
                reason,
            })?;
        let mut sessions = Vec::with_capacity(options.instances);
        let mut signature = None;
        for _ in 0..options.instances {
            let session =
                OrtSession::create(runtime, &builder, &weights, source).map_err(|reason| {
                    Error::InvalidModel {
                        model: name.to_string(),
                        reason,
                    }
                })?;
            // Read from the first session, before more are made for a model inferkit cannot serve.
            if signature.is_none() {
                signature = Some(Signature::from_session(name, &session, file_io)?);
            }
            sessions.push(session);
        }
        let Some(signature) = signature else {
            return Err(Error::InvalidArgument {
                name: "instances",
                reason: "must be at least 1".into(),
            });
        };
        Ok((signature, Engines::Ort { sessions, weights }))
    }

    /// The engine this model's sessions run on: the backend its options asked for, or for
    /// [`Backend::Auto`] the one chosen at load.
    pub fn backend(&self) -> Backend {
        self.inner.backend
    }

    /// The model's name.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// The model's name, shared (for what outlives a call and names the model, without a copy).
    pub(crate) fn shared_name(&self) -> &Arc<str> {
        &self.inner.name
    }

    /// Inputs and outputs.
    pub fn signature(&self) -> &Signature {
        &self.inner.signature
    }

    /// Number of sessions serving this model.
    pub fn instances(&self) -> usize {
        self.inner.stats().instances
    }

    /// Whether requests to this model are concatenated into batches.
    pub fn batchable(&self) -> bool {
        self.inner.batchable()
    }

    /// What runs of this model have cost per row, by batch size: `(rows, ns per row)` for each
    /// group of sizes measured (1, 2–3, 4–7, …, named by their lowest size). The scheduler batches
    /// up to the group above the cheapest one, so batching happens only when it pays.
    pub fn batch_costs(&self) -> Vec<(usize, f64)> {
        self.inner.batch_costs()
    }

    /// The queueing and batching options the model runs with (its own, or its repository
    /// config's).
    pub fn batching(&self) -> &BatchingOptions {
        self.inner.batching()
    }

    /// How long a run of `rows` rows is expected to take on one session, from the runs measured so
    /// far (about one in eight; the nearest batch size group measured, scaled to `rows`), or
    /// `None` before any was. What a host may read to choose a timeout, or, as inferkit's Go
    /// binding does, how its callers wait: blocking on a thread of their own when runs are short,
    /// queued for inferkit's threads when they are long.
    pub fn run_estimate(&self, rows: usize) -> Option<std::time::Duration> {
        Some(self.inner.run_estimate(rows)).filter(|d| !d.is_zero())
    }

    /// Runs the model's pipeline on `input`: the steps that make model inputs of it (on this
    /// thread), the model (batched with other requests as usual), then the post steps on its
    /// outputs. What runs depends on the input (see [`PipelineInput`]):
    ///
    /// - a [`Tensor`]: the pre steps; without a declared pipeline it feeds the first input as it
    ///   is, and the outputs come back as they are;
    /// - an [`ImageView`](crate::pipeline::ImageView) (raw pixels): the image steps (resize, crop,
    ///   channel order), then the pre steps on the u8 `[height, width, channels]` tensor;
    /// - [`PipelineInput::Encoded`] (PNG or JPEG bytes, the `decode` feature): decoding, then as
    ///   an image;
    /// - a `&str`: the pipeline's tokenizer (the `tokenizer` feature), feeding `input_ids`,
    ///   `attention_mask` and, when the model has it, `token_type_ids`;
    /// - token ids (`&[i64]`): padded or truncated to the pipeline's `sequence.max_length`, with
    ///   an attention mask.
    ///
    /// Pre and post times are in the metrics. A step that fails on the data is
    /// [`Error::PipelineStep`]; an input the pipeline declares no steps for (text without a
    /// tokenizer, ids without `sequence`) is [`Error::PipelineConfig`].
    ///
    /// ```
    /// use inferkit::pipeline::{PipelineSpec, SequenceSpec};
    /// use inferkit::{Model, ModelOptions};
    ///
    /// // tiny_text answers the sum of the ids the attention mask keeps.
    /// let spec = PipelineSpec::default().with_sequence(SequenceSpec::new(6));
    /// let model = Model::open_with("tests/fixtures/tiny_text.onnx", &ModelOptions::default().with_pipeline(spec))?;
    /// let out = model.infer_pipeline(&[5, 7, 9])?;
    /// assert_eq!(out.outputs["y"].as_slice::<i64>()?, &[21]);
    /// # Ok::<(), inferkit::Error>(())
    /// ```
    pub fn infer_pipeline<'a>(
        &self,
        input: impl Into<PipelineInput<'a>>,
    ) -> Result<PipelineOutput> {
        self.infer_pipeline_with(input, &InferOptions::default())
    }

    /// [`Model::infer_pipeline`] with per-request options (see [`InferOptions`]): a deadline, or a
    /// timeout, which counts from when the model is called, after the steps that make its inputs;
    /// a subset of outputs, which must include the output the post steps read when there are
    /// post steps.
    pub fn infer_pipeline_with<'a>(
        &self,
        input: impl Into<PipelineInput<'a>>,
        options: &InferOptions,
    ) -> Result<PipelineOutput> {
        let _span = tracing::trace_span!("inferkit.pipeline", model = %self.inner.name).entered();
        let inputs = self.prepare(input.into())?;
        let views: SmallVec<[(&str, Input<'_>); 8]> = inputs
            .iter()
            .map(|(n, t)| (n.as_str(), Input::Tensor(t.view())))
            .collect();
        let outputs = self.inner.infer(&views, options)?;
        post(&self.pipeline, &self.inner, outputs)
    }

    /// Submits a pipeline request whose result (or error) is passed to `callback`: the steps that
    /// make the model's inputs run on this thread, the model runs as
    /// [`Model::submit_with_callback`] runs it, and the post steps run before `callback`, on the
    /// thread that completes the request. Errors of the steps before the model, validation errors
    /// and [`Error::QueueFull`] are returned at once, and the callback is then not called.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use inferkit::pipeline::{PipelineSpec, SequenceSpec};
    /// use inferkit::{InferOptions, Model, ModelOptions};
    ///
    /// let spec = PipelineSpec::default().with_sequence(SequenceSpec::new(6));
    /// let model = Model::open_with("tests/fixtures/tiny_text.onnx", &ModelOptions::default().with_pipeline(spec))?;
    /// let (tx, rx) = mpsc::channel();
    /// model.submit_pipeline_with_callback(&[5, 7, 9], &InferOptions::default(), move |result| {
    ///     tx.send(result).unwrap();
    /// })?;
    /// let out = rx.recv().unwrap()?;
    /// assert_eq!(out.outputs["y"].as_slice::<i64>()?, &[21]);
    /// # Ok::<(), inferkit::Error>(())
    /// ```
    pub fn submit_pipeline_with_callback<'a>(
        &self,
        input: impl Into<PipelineInput<'a>>,
        options: &InferOptions,
        callback: impl FnOnce(Result<PipelineOutput>) + Send + 'static,
    ) -> Result<RequestHandle> {
        let inputs = self.prepare(input.into())?;
        let values = inputs
            .into_iter()
            .map(|(n, t)| (n, Value::Tensor(t)))
            .collect();
        let pipeline = self.pipeline.clone();
        // Weak: a queued request must not keep its own scheduler alive.
        let scheduler = Arc::downgrade(&self.inner);
        let name = self.inner.name.clone();
        let request = self.inner.submit_owned(
            values,
            options,
            Some(Box::new(move |outputs: Result<Outputs>| {
                let result = match (outputs, scheduler.upgrade()) {
                    (Ok(outputs), Some(scheduler)) => post(&pipeline, &scheduler, outputs),
                    (Ok(outputs), None) => pipeline.post(&name, outputs),
                    (Err(e), _) => Err(e),
                };
                callback(result)
            })),
        )?;
        Ok(RequestHandle {
            request,
            model: self.inner.name.clone(),
        })
    }

    /// The model's inputs the pipeline makes of `input`: image steps and pre steps, the tokenizer,
    /// or the sequence step. Timed as pre-processing; a failure counts as a failed request.
    fn prepare(&self, input: PipelineInput<'_>) -> Result<Vec<(String, Tensor)>> {
        let name = &self.inner.name;
        let m = &self.inner.metrics;
        let t0 = m.enabled().then(std::time::Instant::now);
        let pre = |raw: Tensor| -> Result<Vec<(String, Tensor)>> {
            let prepared = self.pipeline.pre(name, &raw)?;
            Ok(vec![(
                self.pipeline.input_name(name)?.to_string(),
                prepared,
            )])
        };
        let result = match input {
            PipelineInput::Tensor(tensor) => pre(tensor),
            PipelineInput::Image(image) => self.pipeline.image(name, &image).and_then(pre),
            PipelineInput::Encoded(bytes) => self.decode(bytes).and_then(pre),
            PipelineInput::Text(text) => self.tokenizer().and_then(|tok| tok.encode(name, text)),
            PipelineInput::Tokens(ids) => match &self.pipeline.sequence {
                Some(seq) => seq.encode(ids),
                None => Err(Error::PipelineConfig {
                    model: name.to_string(),
                    step: "sequence".into(),
                    reason: "the pipeline declares no `sequence` step".into(),
                }),
            },
        };
        match result {
            Ok(inputs) => {
                if let Some(t0) = t0 {
                    m.pre_duration(t0.elapsed());
                }
                Ok(inputs)
            }
            Err(e) => {
                m.outcome(Some(e.code()), 0);
                Err(e)
            }
        }
    }

    /// Decodes PNG or JPEG bytes and runs the image steps on them.
    fn decode(&self, bytes: &[u8]) -> Result<Tensor> {
        let (pixels, w, h) = crate::pipeline::decode_limited(bytes, self.pipeline.max_pixels)
            .map_err(|e| match e {
                Error::PipelineStep { step, reason, .. } => Error::PipelineStep {
                    model: self.inner.name.to_string(),
                    step,
                    reason,
                },
                other => other,
            })?;
        let view = crate::pipeline::ImageView::new(
            &pixels,
            crate::pipeline::PixelFormat::Rgb8,
            w,
            h,
            w * 3,
        )?;
        self.pipeline.image(&self.inner.name, &view)
    }

    /// The tensors the pipeline's tokenizer makes of `text`: `input_ids`, `attention_mask`,
    /// `token_type_ids` (those the model takes), each `[1, max_length]`.
    pub fn preprocess_text(&self, text: &str) -> Result<Vec<(String, Tensor)>> {
        let tok = self.tokenizer()?;
        let t0 = self.inner.metrics.enabled().then(std::time::Instant::now);
        let inputs = tok.encode(&self.inner.name, text);
        if let Some(t0) = t0 {
            self.inner.metrics.pre_duration(t0.elapsed());
        }
        inputs
    }

    /// What the pipeline would feed the model for these pixels: image steps and pre steps,
    /// without running the model.
    pub fn preprocess_image(&self, image: &crate::pipeline::ImageView<'_>) -> Result<Tensor> {
        self.pipeline.pre(
            &self.inner.name,
            &self.pipeline.image(&self.inner.name, image)?,
        )
    }

    /// What the pipeline would feed the model for these PNG or JPEG bytes: decoding, image steps
    /// and pre steps, without running the model. For checking a pipeline against a reference.
    pub fn preprocess_encoded(&self, bytes: &[u8]) -> Result<Tensor> {
        self.pipeline.pre(&self.inner.name, &self.decode(bytes)?)
    }

    /// The pipeline's tokenizer, or the error that it declares none.
    fn tokenizer(&self) -> Result<&crate::pipeline::text::Text> {
        self.pipeline
            .text
            .as_ref()
            .ok_or_else(|| Error::PipelineConfig {
                model: self.inner.name.to_string(),
                step: "text".into(),
                reason: "the pipeline declares no `text` tokenizer".into(),
            })
    }

    pub(crate) fn metrics_handle(&self) -> &crate::metrics::Metrics {
        &self.inner.metrics
    }

    /// Counters, gauges and histograms of this model (see [`crate::metrics`]).
    pub fn metrics(&self) -> crate::metrics::MetricsSnapshot {
        self.inner.metrics.snapshot()
    }

    /// This model's metrics in the Prometheus text format.
    pub fn metrics_prometheus(&self) -> String {
        let version = self
            .inner
            .version
            .map(|v| v.to_string())
            .unwrap_or_default();
        crate::metrics::prometheus(&[(self.inner.name.to_string(), version, self.metrics(), None)])
    }

    /// This model's metrics as a JSON summary with percentiles; the shape is documented at
    /// [`crate::metrics::json`].
    pub fn metrics_json(&self) -> String {
        crate::metrics::json(&self.metrics())
    }

    /// The version number this model was loaded as, in a registry.
    pub fn version(&self) -> Option<u64> {
        self.inner.version
    }

    /// Sessions idle and requests queued, right now.
    pub fn stats(&self) -> SchedulerStats {
        self.inner.stats()
    }

    /// Runs the model and blocks until the outputs are ready. Inputs are given by name, in any
    /// order; outputs come back in signature order. The request is validated first (see
    /// [`Signature::validate`]): a bad request is a typed error and never reaches ONNX Runtime.
    /// With a session idle, the model runs at once on this thread on the caller's memory (ahead
    /// of queued requests, unless the model batches long runs); otherwise the request joins a
    /// batch. On a model whose runs take microseconds, a caller that finds every session taken
    /// first yields its CPU a few times, in case a holder waits for it to finish its run.
    ///
    /// Inputs are [`TensorView`](crate::TensorView)s, [`Tensor`]s, [`Value`]s (sequences, maps,
    /// optionals) or [`Input`]s; an optional input may be left out.
    ///
    /// ```
    /// use inferkit::{Model, Tensor, Value};
    ///
    /// // A model that takes a sequence of tensors and returns their count.
    /// let model = Model::open("tests/fixtures/values/seq_len.onnx")?;
    /// let items = Value::Sequence(vec![
    ///     Tensor::from_vec(vec![2], vec![1.0f32, 2.0])?.into(),
    ///     Tensor::from_vec(vec![3], vec![3.0f32, 4.0, 5.0])?.into(),
    /// ]);
    /// let out = model.infer(&[("items", items)])?;
    /// assert_eq!(out["count"].as_slice::<i64>()?, &[2]);
    /// # Ok::<(), inferkit::Error>(())
    /// ```
    pub fn infer<I: AsInput>(&self, inputs: &[(&str, I)]) -> Result<Outputs> {
        self.inner
            .infer(&as_inputs(inputs), &InferOptions::default())
    }

    /// [`Model::infer`] with per-request options: a subset of outputs (ONNX Runtime skips the work
    /// that only the others need), a deadline or timeout. See [`InferOptions`].
    pub fn infer_with<I: AsInput>(
        &self,
        inputs: &[(&str, I)],
        options: &InferOptions,
    ) -> Result<Outputs> {
        self.inner.infer(&as_inputs(inputs), options)
    }

    /// [`Model::infer_with`] for inputs already in the scheduler's form (the C API's requests):
    /// no copy of the list.
    pub(crate) fn infer_inputs(
        &self,
        inputs: &[(&str, Input<'_>)],
        options: &InferOptions,
    ) -> Result<Outputs> {
        self.inner.infer(inputs, options)
    }

    /// Submits a request and returns a `Future` of its outputs. The request owns its inputs
    /// ([`Tensor`]s or [`Value`]s). Validation errors and [`Error::QueueFull`] are returned at
    /// once. No async runtime is needed: see [`InferFuture`] for where the request runs. The
    /// future keeps the model alive.
    pub fn submit<V: Into<Value>>(
        &self,
        inputs: Vec<(String, V)>,
        options: &InferOptions,
    ) -> Result<InferFuture> {
        let inputs = inputs.into_iter().map(|(n, v)| (n, v.into())).collect();
        let request = self.inner.submit_owned(inputs, options, None)?;
        Ok(InferFuture {
            request,
            keep_alive: self.inner.clone(),
            model: self.inner.name.clone(),
        })
    }

    /// Submits a request whose outputs (or error) are passed to `callback`. The callback runs on
    /// the thread that completes the request: this one, before this call returns, when a session
    /// was idle; otherwise a thread that is finishing another inference of this model. It must not
    /// block for long; a blocking call on this model from inside it is [`Error::WouldDeadlock`]
    /// (submitting from it is fine). Validation errors and [`Error::QueueFull`] are returned at once, and the
    /// callback is then not called.
    pub fn submit_with_callback<V: Into<Value>>(
        &self,
        inputs: Vec<(String, V)>,
        options: &InferOptions,
        callback: impl FnOnce(Result<Outputs>) + Send + 'static,
    ) -> Result<RequestHandle> {
        let inputs = inputs.into_iter().map(|(n, v)| (n, v.into())).collect();
        let request = self
            .inner
            .submit_owned(inputs, options, Some(Box::new(callback)))?;
        Ok(RequestHandle {
            request,
            model: self.inner.name.clone(),
        })
    }
}

/// Borrowed inputs as the scheduler takes them; no allocation for up to 8 inputs.
fn as_inputs<'a, I: AsInput>(inputs: &'a [(&str, I)]) -> SmallVec<[(&'a str, Input<'a>); 8]> {
    inputs.iter().map(|(n, i)| (*n, i.as_input())).collect()
}

/// The post steps on a pipeline request's outputs, timed in the model's metrics.
fn post(pipeline: &Pipeline, scheduler: &Scheduler, outputs: Outputs) -> Result<PipelineOutput> {
    let t1 = scheduler.metrics.enabled().then(std::time::Instant::now);
    let result = pipeline.post(&scheduler.name, outputs);
    if let Some(t1) = t1 {
        scheduler.metrics.post_duration(t1.elapsed());
    }
    result
}
