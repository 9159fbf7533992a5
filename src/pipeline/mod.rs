//! Pre- and post-processing declared per model.
//!
//! A pipeline turns a raw input tensor into one model input (pre steps, on the caller's thread,
//! before validation and batching) and one model output into results a caller can read without
//! knowing tensor layouts (post steps, per request, after the batch is split). It is declared in
//! the model's `config.toml`, or with [`PipelineSpec`] for models opened directly, and checked
//! when the model loads: a step that cannot take what the previous step gives, or a final result
//! that cannot feed the model, is a load error naming the step.
//!
//! ```toml
//! [pipeline]
//! input = "x"                  # the model input fed by the pre steps (default: the first)
//! output = "y"                 # the model output read by the post steps (default: the first)
//! pre = [
//!   { op = "scale", factor = 0.00392157 },               # u8 pixels to [0, 1]
//!   { op = "normalize", mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225], axis = -1 },
//!   { op = "layout", from = "hwc", to = "chw" },
//!   { op = "add_batch_dim" },
//! ]
//! post = [ { op = "softmax" }, { op = "top_k", k = 5, labels = "labels.txt" } ]
//! ```
//!
//! ```
//! use inferkit::pipeline::{PipelineSpec, PostStep, PreStep};
//! use inferkit::{Model, ModelOptions, Tensor};
//!
//! let spec = PipelineSpec {
//!     pre: vec![PreStep::Scale { factor: 0.5, offset: 0.0 }, PreStep::AddBatchDim],
//!     post: vec![PostStep::Softmax { axis: -1 }, PostStep::TopK { k: 2, labels: None }],
//!     ..Default::default()
//! };
//! let model = Model::open_with("tests/fixtures/mlp.onnx", &ModelOptions { pipeline: Some(spec), ..Default::default() })?;
//! let out = model.infer_pipeline(Tensor::from_vec(vec![16], vec![1.0f32; 16])?)?;
//! let top = &out.classes.as_ref().unwrap()[0];            // one row, best first
//! assert_eq!(top.len(), 2);
//! assert!(top[0].score >= top[1].score);
//! # Ok::<(), inferkit::Error>(())
//! ```

pub mod image;
pub mod text;

use std::path::Path;
use std::sync::Arc;

pub use image::{
    decode, decode_limited, Filter, Fit, ImageStep, ImageView, PixelFormat, MAX_IMAGE_SIDE,
};
pub use text::{SequenceSpec, TextSpec};

use ndarray::{ArrayD, Axis, IxDyn};
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::session::Outputs;
use crate::signature::{Dim, Signature};
use crate::tensor::{DType, Tensor};
use crate::value::Value;

/// A pre-processing step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum PreStep {
    /// `x * factor + offset`.
    Scale {
        /// Multiplier.
        factor: f32,
        /// Added after multiplying.
        #[serde(default)]
        offset: f32,
    },
    /// `(x - mean[c]) / std[c]` for each index `c` along `axis` (negative counts from the end).
    Normalize {
        /// Per-channel means.
        mean: Vec<f32>,
        /// Per-channel standard deviations (non-zero).
        std: Vec<f32>,
        /// The channel axis. Default -1 (the last).
        #[serde(default = "last_axis")]
        axis: i64,
    },
    /// Clamps to `[min, max]`.
    Clip {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// Standardises to zero mean and unit variance over the whole tensor.
    Standardize,
    /// A new shape with the same number of elements; one dim may be -1.
    Reshape {
        /// The shape.
        shape: Vec<i64>,
    },
    /// Reorders axes: `hwc` ↔ `chw`, `nhwc` ↔ `nchw`.
    Layout {
        /// The current layout.
        from: String,
        /// The wanted layout.
        to: String,
    },
    /// Adds a leading dim of 1.
    AddBatchDim,
    /// Converts to another element type (floats with `half` for f16/bf16; integers are rounded
    /// and saturated).
    Cast {
        /// `f32`, `f64`, `f16`, `bf16`, `i8`, `i16`, `i32`, `i64`, `u8`, `u16`, `u32`, `u64`.
        to: String,
    },
}

fn last_axis() -> i64 {
    -1
}

/// Pixels an encoded image may have unless the pipeline says otherwise ([`PipelineSpec::max_pixels`]):
/// 64 megapixels, more than an 8K frame (33 MP) or a 48 MP phone photograph.
pub const DEFAULT_MAX_PIXELS: u64 = 67_108_864;
/// The most [`PipelineSpec::max_pixels`] may be raised to: 1 gigapixel.
pub const MAX_PIXELS_LIMIT: u64 = 1_073_741_824;
/// Most elements a `reshape` step may name, and most `k` of `top_k`.
pub const MAX_STEP_ELEMENTS: u64 = 2_147_483_648;

fn finite(name: &str, v: f32) -> std::result::Result<(), String> {
    if v.is_finite() {
        Ok(())
    } else {
        Err(format!("{name} is {v}: it must be a finite number"))
    }
}

fn check_max_pixels(spec: &PipelineSpec) -> std::result::Result<u64, String> {
    match spec.max_pixels {
        None => Ok(DEFAULT_MAX_PIXELS),
        Some(n) if (1..=MAX_PIXELS_LIMIT).contains(&n) => Ok(n),
        Some(n) => Err(format!("{n} is not between 1 and {MAX_PIXELS_LIMIT}")),
    }
}

impl PreStep {
    /// Checks the step's numbers: finite, ranges in order, shapes whose size can be computed.
    fn check_values(&self) -> std::result::Result<(), String> {
        match self {
            PreStep::Scale { factor, offset } => {
                finite("factor", *factor)?;
                finite("offset", *offset)
            }
            PreStep::Normalize { mean, std, .. } => {
                mean.iter().try_for_each(|m| finite("mean", *m))?;
                std.iter().try_for_each(|s| finite("std", *s))
            }
            PreStep::Clip { min, max } => {
                if min.is_nan() || max.is_nan() {
                    return Err(format!("min {min} and max {max} must be numbers"));
                }
                if min > max {
                    return Err(format!("min {min} > max {max}"));
                }
                Ok(())
            }
            PreStep::Reshape { shape } => {
                let product = shape
                    .iter()
                    .filter(|d| **d >= 0)
                    .try_fold(1u64, |acc, d| acc.checked_mul(*d as u64))
                    .filter(|n| *n <= MAX_STEP_ELEMENTS);
                if product.is_none() || shape.len() > 32 {
                    return Err(format!(
                        "the shape {shape:?} names more than {MAX_STEP_ELEMENTS} elements or 32 dims"
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

impl PostStep {
    /// Checks the step's numbers.
    fn check_values(&self) -> std::result::Result<(), String> {
        match self {
            PostStep::Dequantize { scale, zero_point } => {
                finite("scale", *scale)?;
                finite("zero_point", *zero_point)
            }
            PostStep::TopK { k, .. } if *k as u64 > MAX_STEP_ELEMENTS => {
                Err(format!("k = {k} is more than {MAX_STEP_ELEMENTS}"))
            }
            _ => Ok(()),
        }
    }
}

/// A post-processing step.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case", deny_unknown_fields)]
pub enum PostStep {
    /// Softmax along `axis` (default -1).
    Softmax {
        /// The axis.
        #[serde(default = "last_axis")]
        axis: i64,
    },
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `(x - zero_point) * scale`.
    Dequantize {
        /// Scale.
        scale: f32,
        /// Zero point.
        #[serde(default)]
        zero_point: f32,
    },
    /// The index of the largest value along the last axis (an i64 tensor).
    Argmax,
    /// The `k` best classes of each row (last axis), best first, with labels from a file of one
    /// label per line (relative to the model's directory). Must be the last step.
    TopK {
        /// How many.
        k: usize,
        /// The label file.
        #[serde(default)]
        labels: Option<String>,
    },
}

/// A pipeline as declared: steps and the model input and output they attach to.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineSpec {
    /// The model input the pre steps feed (default: the first).
    #[serde(default)]
    pub input: Option<String>,
    /// The model output the post steps read (default: the first).
    #[serde(default)]
    pub output: Option<String>,
    /// Tokenization, for [`crate::Model::infer_text`] (the `tokenizer` feature).
    #[serde(default)]
    pub text: Option<TextSpec>,
    /// Padding or truncating token ids, with an attention mask, for [`crate::Model::infer_sequence`].
    #[serde(default)]
    pub sequence: Option<SequenceSpec>,
    /// Image steps, for [`crate::Model::infer_image`]: run first, on pixels; they hand the numeric
    /// steps a u8 tensor `[height, width, channels]` (RGB, or gray).
    #[serde(default)]
    pub image: Vec<ImageStep>,
    /// Pre-processing steps, in order.
    #[serde(default)]
    pub pre: Vec<PreStep>,
    /// Post-processing steps, in order.
    #[serde(default)]
    pub post: Vec<PostStep>,
    /// Largest encoded image (PNG, JPEG) decoded, in pixels, checked from the image's header
    /// before any pixel is decoded. Default [`DEFAULT_MAX_PIXELS`]; at most [`MAX_PIXELS_LIMIT`].
    #[serde(default)]
    pub max_pixels: Option<u64>,
}

/// One class of a [`PostStep::TopK`] result.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    /// Index along the class axis.
    pub index: usize,
    /// Its label, when a label file was given.
    pub label: Option<String>,
    /// Its score.
    pub score: f32,
}

/// What a pipelined inference returns.
#[derive(Debug, Clone, PartialEq)]
pub struct PipelineOutput {
    /// Model outputs, the pipeline's output replaced by its post-processed form.
    pub outputs: Outputs,
    /// Top-k classes per row, when the pipeline ends with `top_k`.
    pub classes: Option<Vec<Vec<Class>>>,
}

/// A checked pipeline, ready to run.
#[derive(Debug)]
pub(crate) struct Pipeline {
    /// The model input the pre steps feed; `None` for a model without inputs.
    pub(crate) input: Option<Arc<str>>,
    /// The model output the post steps read; `None` when there are no post steps to run.
    output: Option<Arc<str>>,
    /// Largest encoded image decoded, in pixels.
    pub(crate) max_pixels: u64,
    pub(crate) text: Option<text::Text>,
    pub(crate) sequence: Option<text::Sequence>,
    image: Vec<ImageStep>,
    pre: Vec<PreStep>,
    post: Vec<PostStep>,
    labels: Option<Vec<String>>,
}

fn step_name(kind: &str, i: usize, step: &impl std::fmt::Debug) -> String {
    let d = format!("{step:?}");
    let op = d.split([' ', '{', '(']).next().unwrap_or("");
    format!("{kind}[{i}] {op}")
}

fn dtype_named(name: &str) -> Option<DType> {
    DType::ALL
        .iter()
        .copied()
        .find(|d| d.name() == name && *d != DType::Bool && d.is_batchable())
}

fn axis_index(axis: i64, rank: usize) -> Option<usize> {
    let a = if axis < 0 { rank as i64 + axis } else { axis };
    (0..rank as i64).contains(&a).then_some(a as usize)
}

impl Pipeline {
    /// Checks `spec` against the model's signature. `dir` resolves label files.
    pub(crate) fn new(
        model: &str,
        spec: &PipelineSpec,
        signature: &Signature,
        dir: Option<&Path>,
    ) -> Result<Pipeline> {
        let fail = |step: String, reason: String| Error::PipelineConfig {
            model: model.to_string(),
            step,
            reason,
        };
        // A model without inputs (a Constant-only graph) or outputs is fine as long as no step
        // needs them.
        let input =
            match &spec.input {
                Some(n) => Some(signature.input(n).ok_or_else(|| {
                    fail("input".into(), format!("the model has no input `{n}`"))
                })?),
                None => signature.inputs.first(),
            };
        let output =
            match &spec.output {
                Some(n) => Some(signature.output(n).ok_or_else(|| {
                    fail("output".into(), format!("the model has no output `{n}`"))
                })?),
                None => signature.outputs.first(),
            };
        let needs_input = !spec.pre.is_empty() || !spec.image.is_empty();
        let input = match input {
            Some(i) => i,
            None if needs_input => {
                return Err(fail(
                    "input".into(),
                    "the model has no inputs for the pre steps to feed".into(),
                ))
            }
            None => {
                return Ok(Pipeline {
                    input: None,
                    output: None,
                    max_pixels: check_max_pixels(spec).map_err(|r| fail("max_pixels".into(), r))?,
                    text: None,
                    sequence: None,
                    image: Vec::new(),
                    pre: Vec::new(),
                    post: Self::no_post(spec, &fail)?,
                    labels: None,
                })
            }
        };
        let output = match output {
            Some(o) => o,
            None if spec.post.is_empty() => input, // never read: no post steps
            None => {
                return Err(fail(
                    "output".into(),
                    "the model has no outputs for the post steps".into(),
                ))
            }
        };
        // Pre and post steps compute on numbers: strings, packed types, sequences, maps and
        // optionals are refused here rather than at the first request.
        let numeric = |s: &crate::signature::TensorSpec| s.is_tensor() && s.dtype.is_batchable();
        if needs_input && !numeric(input) {
            return Err(fail(
                "input".into(),
                format!(
                    "the pre steps feed numbers; `{}` is {}",
                    input.name, input.ty
                ),
            ));
        }
        if !spec.post.is_empty() && !numeric(output) {
            return Err(fail(
                "output".into(),
                format!(
                    "the post steps read numbers; `{}` is {}",
                    output.name, output.ty
                ),
            ));
        }
        for (i, step) in spec.pre.iter().enumerate() {
            step.check_values()
                .map_err(|reason| fail(step_name("pre", i, step), reason))?;
        }
        for (i, step) in spec.post.iter().enumerate() {
            step.check_values()
                .map_err(|reason| fail(step_name("post", i, step), reason))?;
        }
        // Pre steps, walked backwards from the model input: the rank each step must produce, and
        // the dtype the last step leaves.
        let mut rank = Some(input.rank());
        for (i, step) in spec.pre.iter().enumerate().rev() {
            let name = step_name("pre", i, step);
            rank = match step {
                PreStep::AddBatchDim => match rank {
                    Some(0) => {
                        return Err(fail(name, "would have to produce a rank-0 tensor".into()))
                    }
                    r => r.map(|r| r - 1),
                },
                PreStep::Reshape { shape } => {
                    if let Some(r) = rank {
                        if shape.len() != r {
                            return Err(fail(
                                name,
                                format!(
                                    "produces rank {}, the next step needs rank {r}",
                                    shape.len()
                                ),
                            ));
                        }
                    }
                    if shape.iter().filter(|d| **d == -1).count() > 1
                        || shape.iter().any(|d| *d < -1)
                    {
                        return Err(fail(
                            name,
                            "at most one dim may be -1 and none below".into(),
                        ));
                    }
                    None // any rank may come in
                }
                PreStep::Layout { from, to } => {
                    let ok = matches!(
                        (from.as_str(), to.as_str()),
                        ("hwc", "chw") | ("chw", "hwc") | ("nhwc", "nchw") | ("nchw", "nhwc")
                    );
                    if !ok {
                        return Err(fail(name, format!("{from} to {to} is not a layout change inferkit knows (hwc/chw, nhwc/nchw)")));
                    }
                    if let Some(r) = rank {
                        if r != from.len() {
                            return Err(fail(
                                name,
                                format!(
                                    "produces rank {}, the next step needs rank {r}",
                                    from.len()
                                ),
                            ));
                        }
                    }
                    Some(from.len())
                }
                PreStep::Normalize { mean, std, axis } => {
                    if mean.is_empty() || mean.len() != std.len() || std.contains(&0.0) {
                        return Err(fail(
                            name,
                            "mean and std need the same non-zero length and std no zero".into(),
                        ));
                    }
                    if let Some(r) = rank {
                        if axis_index(*axis, r).is_none() {
                            return Err(fail(
                                name,
                                format!("axis {axis} does not exist in a rank-{r} tensor"),
                            ));
                        }
                    }
                    rank
                }
                PreStep::Cast { to } => {
                    dtype_named(to)
                        .ok_or_else(|| fail(name, format!("`{to}` is not a numeric dtype")))?;
                    rank
                }
                _ => rank,
            };
        }
        for (i, step) in spec.image.iter().enumerate() {
            step.check()
                .map_err(|reason| fail(step_name("image", i, step), reason))?;
        }
        if let Some(r) = rank.filter(|r| *r != 3 && !spec.image.is_empty()) {
            return Err(fail(
                "image".into(),
                format!("the image steps give a [height, width, channels] tensor (rank 3); the steps after them need rank {r}"),
            ));
        }
        let final_dtype = spec
            .pre
            .iter()
            .rev()
            .find_map(|s| match s {
                PreStep::Cast { to } => dtype_named(to),
                _ => None,
            })
            // Numeric steps work in f32; image steps alone hand over u8 pixels.
            .unwrap_or(if spec.pre.is_empty() {
                DType::U8
            } else {
                DType::F32
            });
        if (!spec.pre.is_empty() || !spec.image.is_empty()) && final_dtype != input.dtype {
            let last = if spec.pre.is_empty() {
                format!("image[{}]", spec.image.len() - 1)
            } else {
                format!("pre[{}]", spec.pre.len() - 1)
            };
            return Err(fail(
                last,
                format!("the steps produce {final_dtype}, input `{}` takes {}: end with {{ op = \"cast\", to = \"{}\" }}", input.name, input.dtype, input.dtype),
            ));
        }
        // Post steps.
        let mut labels = None;
        for (i, step) in spec.post.iter().enumerate() {
            let name = step_name("post", i, step);
            match step {
                PostStep::TopK { k, labels: file } => {
                    if i + 1 != spec.post.len() {
                        return Err(fail(name, "top_k must be the last step".into()));
                    }
                    if *k == 0 {
                        return Err(fail(name, "k must be at least 1".into()));
                    }
                    if let Some(file) = file {
                        let path =
                            dir.map_or_else(|| Path::new(file).to_path_buf(), |d| d.join(file));
                        let text = std::fs::read_to_string(&path).map_err(|e| {
                            fail(
                                name.clone(),
                                format!("label file `{}`: {e}", path.display()),
                            )
                        })?;
                        let l: Vec<String> = text.lines().map(str::to_string).collect();
                        if let Some(Dim::Fixed(classes)) = output.dims.last() {
                            if l.len() < *classes {
                                return Err(fail(name, format!("label file `{}` has {} lines, output `{}` has {classes} classes", path.display(), l.len(), output.name)));
                            }
                        }
                        labels = Some(l);
                    }
                }
                PostStep::Argmax if i + 1 != spec.post.len() => {
                    return Err(fail(
                        name,
                        "argmax gives indices: no step may follow it".into(),
                    ));
                }
                _ => {}
            }
        }
        Ok(Pipeline {
            input: Some(input.name.clone()),
            output: (!spec.post.is_empty()).then(|| output.name.clone()),
            max_pixels: check_max_pixels(spec).map_err(|r| fail("max_pixels".into(), r))?,
            text: spec
                .text
                .as_ref()
                .map(|t| text::Text::new(model, t, signature))
                .transpose()?,
            sequence: spec
                .sequence
                .as_ref()
                .map(|q| text::Sequence::new(model, q, signature))
                .transpose()?,
            image: spec.image.clone(),
            pre: spec.pre.clone(),
            post: spec.post.clone(),
            labels,
        })
    }

    /// A model without inputs takes no text or sequence steps, and no post steps (there is no
    /// pipeline input to run them for).
    fn no_post(
        spec: &PipelineSpec,
        fail: &impl Fn(String, String) -> Error,
    ) -> Result<Vec<PostStep>> {
        if spec.text.is_some() || spec.sequence.is_some() || !spec.post.is_empty() {
            return Err(fail(
                "input".into(),
                "the model has no inputs: a pipeline cannot feed it".into(),
            ));
        }
        Ok(Vec::new())
    }

    /// The model input pre-processed tensors feed.
    pub(crate) fn input_name(&self, model: &str) -> Result<&str> {
        self.input.as_deref().ok_or_else(|| Error::PipelineConfig {
            model: model.to_string(),
            step: "input".into(),
            reason: "the model has no inputs".into(),
        })
    }

    /// Runs the image steps on raw pixels: a u8 `[height, width, channels]` tensor.
    pub(crate) fn image(&self, model: &str, view: &ImageView<'_>) -> Result<Tensor> {
        let fail = |i: usize, step: &ImageStep, reason: String| Error::PipelineStep {
            model: model.to_string(),
            step: step_name("image", i, step),
            reason,
        };
        // The first step reads the caller's pixels in place when it can (no copy of the frame).
        let (mut px, skip) = match self.image.first().and_then(|s| s.apply_view(view)) {
            Some(Ok(px)) => (px, 1),
            Some(Err(reason)) => return Err(fail(0, &self.image[0], reason)),
            None => (image::Pixels::from_view(view), 0),
        };
        for (i, step) in self.image.iter().enumerate().skip(skip) {
            px = step.apply(px).map_err(|reason| Error::PipelineStep {
                model: model.to_string(),
                step: step_name("image", i, step),
                reason,
            })?;
        }
        px.into_tensor()
    }

    /// Runs the pre steps on a raw input.
    pub(crate) fn pre(&self, model: &str, input: &Tensor) -> Result<Tensor> {
        if self.pre.is_empty() {
            return Ok(input.clone());
        }
        if let Some(done) = self.fused(input) {
            return done;
        }
        let fail = |step: String, reason: String| Error::PipelineStep {
            model: model.to_string(),
            step,
            reason,
        };
        let mut x: ArrayD<f32> = to_f32(input).map_err(|e| fail("pre[0]".into(), e.to_string()))?;
        let mut out_dtype = DType::F32;
        for (i, step) in self.pre.iter().enumerate() {
            let name = step_name("pre", i, step);
            match step {
                PreStep::Scale { factor, offset } => x.mapv_inplace(|v| v * factor + offset),
                PreStep::Clip { min, max } => x.mapv_inplace(|v| v.clamp(*min, *max)),
                PreStep::Standardize => {
                    let n = x.len().max(1) as f32;
                    let mean = x.sum() / n;
                    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
                    let sd = var.sqrt().max(f32::EPSILON);
                    x.mapv_inplace(|v| (v - mean) / sd);
                }
                PreStep::Normalize { mean, std, axis } => {
                    let a = axis_index(*axis, x.ndim()).ok_or_else(|| {
                        fail(
                            name.clone(),
                            format!("axis {axis} does not exist in shape {:?}", x.shape()),
                        )
                    })?;
                    if x.shape()[a] != mean.len() {
                        return Err(fail(
                            name,
                            format!(
                                "axis {a} has {} channels, mean/std have {}",
                                x.shape()[a],
                                mean.len()
                            ),
                        ));
                    }
                    for (c, mut lane) in x.axis_iter_mut(Axis(a)).enumerate() {
                        let (m, s) = (mean[c], std[c]);
                        lane.mapv_inplace(|v| (v - m) / s);
                    }
                }
                PreStep::Reshape { shape } => {
                    let known: usize = shape
                        .iter()
                        .filter(|d| **d >= 0)
                        .map(|d| *d as usize)
                        .product();
                    let dims: Vec<usize> = shape
                        .iter()
                        .map(|d| {
                            if *d == -1 {
                                x.len().checked_div(known).unwrap_or(0)
                            } else {
                                *d as usize
                            }
                        })
                        .collect();
                    x = x
                        .into_shape_with_order(IxDyn(&dims))
                        .map_err(|_| fail(name, format!("cannot reshape to {shape:?}")))?;
                }
                PreStep::Layout { from, to } => {
                    if x.ndim() != from.len() {
                        return Err(fail(
                            name,
                            format!(
                                "needs rank {} ({from}), got shape {:?}",
                                from.len(),
                                x.shape()
                            ),
                        ));
                    }
                    let perm: &[usize] = match (from.as_str(), to.as_str()) {
                        ("hwc", "chw") => &[2, 0, 1],
                        ("chw", "hwc") => &[1, 2, 0],
                        ("nhwc", "nchw") => &[0, 3, 1, 2],
                        _ => &[0, 2, 3, 1],
                    };
                    x = x
                        .permuted_axes(IxDyn(perm))
                        .as_standard_layout()
                        .into_owned();
                }
                PreStep::AddBatchDim => x = x.insert_axis(Axis(0)),
                PreStep::Cast { to } => out_dtype = dtype_named(to).unwrap_or(DType::F32),
            }
        }
        from_f32(x, out_dtype)
    }

    /// One pass for the usual image tail: per-channel affine steps (scale, normalize on the channel
    /// axis) on a `[h, w, c]` tensor, then optionally hwc→chw, a batch dim and a float cast, fold
    /// into `a[c]·x + b[c]` written straight into the output layout. `None` when the steps or the
    /// input do not have that shape (the general path then runs, and reports any error).
    fn fused(&self, input: &Tensor) -> Option<Result<Tensor>> {
        let [h, w, c] = *input.shape() else {
            return None;
        };
        let mut a = vec![1f32; c];
        let mut b = vec![0f32; c];
        let mut steps = self.pre.iter().peekable();
        while let Some(step) = steps.peek() {
            match step {
                PreStep::Scale { factor, offset } => {
                    for ch in 0..c {
                        a[ch] *= factor;
                        b[ch] = b[ch] * factor + offset;
                    }
                }
                PreStep::Normalize { mean, std, axis }
                    if (*axis == -1 || *axis == 2) && mean.len() == c =>
                {
                    for ch in 0..c {
                        a[ch] /= std[ch];
                        b[ch] = (b[ch] - mean[ch]) / std[ch];
                    }
                }
                _ => break,
            }
            steps.next();
        }
        let chw = matches!(steps.peek(), Some(PreStep::Layout { from, to }) if from == "hwc" && to == "chw");
        if chw {
            steps.next();
        }
        let batch = matches!(steps.peek(), Some(PreStep::AddBatchDim));
        if batch {
            steps.next();
        }
        let dtype = match steps.next() {
            None => DType::F32,
            Some(PreStep::Cast { to }) if steps.peek().is_none() => match dtype_named(to)? {
                d @ (DType::F32 | DType::F16 | DType::BF16) => d,
                _ => return None,
            },
            Some(_) => return None,
        };
        let pixels: Vec<f32> = match input.dtype() {
            DType::U8 => input
                .as_slice::<u8>()
                .ok()?
                .iter()
                .map(|v| *v as f32)
                .collect(),
            DType::F32 => input.as_slice::<f32>().ok()?.to_vec(),
            _ => return None,
        };
        let n = h * w;
        let mut out = vec![0f32; n * c];
        if chw {
            for (ch, plane) in out.chunks_exact_mut(n).enumerate() {
                let (ac, bc) = (a[ch], b[ch]);
                for (o, px) in plane.iter_mut().zip(pixels.iter().skip(ch).step_by(c)) {
                    *o = ac * px + bc;
                }
            }
        } else {
            for (o, (i, px)) in out.iter_mut().zip(pixels.iter().enumerate()) {
                *o = a[i % c] * px + b[i % c];
            }
        }
        let mut shape = if chw { vec![c, h, w] } else { vec![h, w, c] };
        if batch {
            shape.insert(0, 1);
        }
        Some(Tensor::from_f32(dtype, shape, &out))
    }

    /// Runs the post steps on the model's outputs.
    pub(crate) fn post(&self, model: &str, outputs: Outputs) -> Result<PipelineOutput> {
        if self.post.is_empty() {
            return Ok(PipelineOutput {
                outputs,
                classes: None,
            });
        }
        let fail = |step: String, reason: String| Error::PipelineStep {
            model: model.to_string(),
            step,
            reason,
        };
        let name = self.output.as_deref().unwrap_or_default();
        let Some(tensor) = outputs.get(name) else {
            return Err(fail("post".into(), format!("output `{name}` is missing")));
        };
        let mut y = to_f32(tensor).map_err(|e| fail("post[0]".into(), e.to_string()))?;
        let mut result: Option<Tensor> = None;
        let mut classes = None;
        for (i, step) in self.post.iter().enumerate() {
            let name = step_name("post", i, step);
            match step {
                PostStep::Sigmoid => y.mapv_inplace(|v| 1.0 / (1.0 + (-v).exp())),
                PostStep::Dequantize { scale, zero_point } => {
                    y.mapv_inplace(|v| (v - zero_point) * scale)
                }
                PostStep::Softmax { axis } => {
                    let a = axis_index(*axis, y.ndim()).ok_or_else(|| {
                        fail(
                            name.clone(),
                            format!("axis {axis} does not exist in shape {:?}", y.shape()),
                        )
                    })?;
                    for mut lane in y.lanes_mut(Axis(a)) {
                        let max = lane.fold(f32::NEG_INFINITY, |m, v| m.max(*v));
                        lane.mapv_inplace(|v| (v - max).exp());
                        let sum = lane.sum();
                        lane.mapv_inplace(|v| v / sum);
                    }
                }
                PostStep::Argmax => {
                    if y.ndim() == 0 {
                        return Err(fail(name, "needs at least one axis".into()));
                    }
                    let a = y.ndim() - 1;
                    let idx: Vec<i64> = y
                        .lanes(Axis(a))
                        .into_iter()
                        .map(|l| argmax(l.iter().copied()) as i64)
                        .collect();
                    let shape = y.shape()[..a].to_vec();
                    result = Some(Tensor::from_vec(shape, idx)?);
                }
                PostStep::TopK { k, .. } => {
                    if y.ndim() == 0 {
                        return Err(fail(name, "needs at least one axis".into()));
                    }
                    let a = y.ndim() - 1;
                    let n = y.shape()[a];
                    if let Some(l) = &self.labels {
                        if l.len() < n {
                            return Err(fail(
                                name,
                                format!(
                                    "the label file has {} lines, the output has {n} classes",
                                    l.len()
                                ),
                            ));
                        }
                    }
                    let rows: Vec<Vec<Class>> = y
                        .lanes(Axis(a))
                        .into_iter()
                        .map(|lane| {
                            let mut idx: Vec<usize> = (0..n).collect();
                            idx.sort_by(|p, q| lane[*q].total_cmp(&lane[*p]).then(p.cmp(q)));
                            idx.into_iter()
                                .take(*k)
                                .map(|i| Class {
                                    index: i,
                                    label: self.labels.as_ref().map(|l| l[i].clone()),
                                    score: lane[i],
                                })
                                .collect()
                        })
                        .collect();
                    classes = Some(rows);
                }
            }
        }
        let processed = match result {
            Some(t) => t,
            None => Tensor::from_array(y),
        };
        let entries = outputs
            .iter()
            .map(|(n, t)| {
                (
                    Arc::<str>::from(n),
                    if Some(n) == self.output.as_deref() {
                        Value::Tensor(processed.clone())
                    } else {
                        t.clone()
                    },
                )
            })
            .collect();
        Ok(PipelineOutput {
            outputs: Outputs::from_values(entries),
            classes,
        })
    }
}

fn argmax(values: impl Iterator<Item = f32>) -> usize {
    let mut best = (0usize, f32::NEG_INFINITY);
    for (i, v) in values.enumerate() {
        if v > best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// Any numeric tensor as f32.
fn to_f32(t: &Tensor) -> Result<ArrayD<f32>> {
    let values: Vec<f32> = match t.dtype() {
        DType::F32 | DType::F64 | DType::F16 | DType::BF16 => t.to_f32_vec()?,
        DType::U8 => t.as_slice::<u8>()?.iter().map(|v| *v as f32).collect(),
        DType::I8 => t.as_slice::<i8>()?.iter().map(|v| *v as f32).collect(),
        DType::U16 => t.as_slice::<u16>()?.iter().map(|v| *v as f32).collect(),
        DType::I16 => t.as_slice::<i16>()?.iter().map(|v| *v as f32).collect(),
        DType::I32 => t.as_slice::<i32>()?.iter().map(|v| *v as f32).collect(),
        DType::I64 => t.as_slice::<i64>()?.iter().map(|v| *v as f32).collect(),
        DType::U32 => t.as_slice::<u32>()?.iter().map(|v| *v as f32).collect(),
        DType::U64 => t.as_slice::<u64>()?.iter().map(|v| *v as f32).collect(),
        DType::Bool => t
            .as_slice::<bool>()?
            .iter()
            .map(|v| f32::from(u8::from(*v)))
            .collect(),
        other => return Err(not_numeric(other)),
    };
    ArrayD::from_shape_vec(IxDyn(t.shape()), values).map_err(|e| Error::InvalidTensorData {
        input: String::new(),
        reason: e.to_string(),
    })
}

/// An f32 array as a tensor of `dtype`.
fn from_f32(x: ArrayD<f32>, dtype: DType) -> Result<Tensor> {
    let shape = x.shape().to_vec();
    let values: Vec<f32> = x.into_iter().collect();
    match dtype {
        DType::F32 | DType::F64 | DType::F16 | DType::BF16 => {
            Tensor::from_f32(dtype, shape, &values)
        }
        DType::U8 => Tensor::from_vec(shape, values.iter().map(|v| v.round() as u8).collect()),
        DType::I8 => Tensor::from_vec(shape, values.iter().map(|v| v.round() as i8).collect()),
        DType::U16 => Tensor::from_vec(shape, values.iter().map(|v| v.round() as u16).collect()),
        DType::I16 => Tensor::from_vec(shape, values.iter().map(|v| v.round() as i16).collect()),
        DType::I32 => Tensor::from_vec(shape, values.iter().map(|v| v.round() as i32).collect()),
        DType::I64 => Tensor::from_vec(shape, values.iter().map(|v| v.round() as i64).collect()),
        DType::U32 => Tensor::from_vec(shape, values.iter().map(|v| v.round() as u32).collect()),
        DType::U64 => Tensor::from_vec(shape, values.iter().map(|v| v.round() as u64).collect()),
        DType::Bool => Tensor::from_vec(shape, values.iter().map(|v| *v != 0.0).collect()),
        other => Err(not_numeric(other)),
    }
}

fn not_numeric(dtype: DType) -> Error {
    Error::Unsupported {
        what: format!("a pipeline step on {dtype} tensors"),
        feature: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signature::TensorSpec;

    fn sig(input: Vec<Dim>, dtype: DType, output: Vec<Dim>) -> Signature {
        Signature {
            inputs: vec![TensorSpec::tensor("x", dtype, input)],
            outputs: vec![TensorSpec::tensor("y", DType::F32, output)],
        }
    }

    fn image_sig() -> Signature {
        sig(
            vec![
                Dim::symbolic("n"),
                Dim::Fixed(3),
                Dim::Fixed(2),
                Dim::Fixed(2),
            ],
            DType::F32,
            vec![Dim::symbolic("n"), Dim::Fixed(3)],
        )
    }

    #[test]
    fn image_steps_give_normalised_nchw() {
        let spec = PipelineSpec {
            pre: vec![
                PreStep::Scale {
                    factor: 1.0 / 255.0,
                    offset: 0.0,
                },
                PreStep::Normalize {
                    mean: vec![0.5, 0.25, 0.0],
                    std: vec![0.5, 0.25, 1.0],
                    axis: -1,
                },
                PreStep::Layout {
                    from: "hwc".into(),
                    to: "chw".into(),
                },
                PreStep::AddBatchDim,
            ],
            ..Default::default()
        };
        let p = Pipeline::new("m", &spec, &image_sig(), None).unwrap();
        // 2x2 RGB, u8
        let hwc: Vec<u8> = vec![255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255];
        let out = p
            .pre("m", &Tensor::from_vec(vec![2, 2, 3], hwc).unwrap())
            .unwrap();
        assert_eq!(out.shape(), &[1, 3, 2, 2]);
        let v = out.as_slice::<f32>().unwrap();
        // channel 0 (R): pixels 255,0,0,255 -> (1-0.5)/0.5 = 1, (0-0.5)/0.5 = -1
        assert_eq!(&v[0..4], &[1.0, -1.0, -1.0, 1.0]);
        // channel 1 (G): 0,255,0,255 -> (0-.25)/.25 = -1, (1-.25)/.25 = 3
        assert_eq!(&v[4..8], &[-1.0, 3.0, -1.0, 3.0]);
        // channel 2 (B): 0,0,255,255 -> 0, 0, 1, 1
        assert_eq!(&v[8..12], &[0.0, 0.0, 1.0, 1.0]);
    }

    #[test]
    fn the_fused_path_equals_the_step_by_step_path() {
        let steps = vec![
            PreStep::Scale {
                factor: 1.0 / 255.0,
                offset: 0.0,
            },
            PreStep::Normalize {
                mean: vec![0.485, 0.456, 0.406],
                std: vec![0.229, 0.224, 0.225],
                axis: -1,
            },
            PreStep::Layout {
                from: "hwc".into(),
                to: "chw".into(),
            },
            PreStep::AddBatchDim,
        ];
        let fused = Pipeline::new(
            "m",
            &PipelineSpec {
                pre: steps.clone(),
                ..Default::default()
            },
            &image_sig(),
            None,
        )
        .unwrap();
        // A clip that changes nothing, first, keeps the general path.
        let mut general_steps = vec![PreStep::Clip {
            min: -1e9,
            max: 1e9,
        }];
        general_steps.extend(steps);
        let general = Pipeline::new(
            "m",
            &PipelineSpec {
                pre: general_steps,
                ..Default::default()
            },
            &image_sig(),
            None,
        )
        .unwrap();
        let px: Vec<u8> = (0..12).map(|i| (i * 21) as u8).collect();
        let input = Tensor::from_vec(vec![2, 2, 3], px).unwrap();
        assert!(fused.fused(&input).is_some() && general.fused(&input).is_none());
        let (a, b) = (
            fused.pre("m", &input).unwrap(),
            general.pre("m", &input).unwrap(),
        );
        assert_eq!(a.shape(), b.shape());
        for (x, y) in a
            .as_slice::<f32>()
            .unwrap()
            .iter()
            .zip(b.as_slice::<f32>().unwrap())
        {
            assert!((x - y).abs() <= 1e-5, "{x} vs {y}");
        }
    }

    #[test]
    fn mismatched_steps_are_load_errors_naming_the_step() {
        let bad = |pre: Vec<PreStep>| match Pipeline::new(
            "m",
            &PipelineSpec {
                pre,
                ..Default::default()
            },
            &image_sig(),
            None,
        ) {
            Err(Error::PipelineConfig { step, reason, .. }) => format!("{step}: {reason}"),
            other => panic!("{other:?}"),
        };
        // layout produces rank 3, but the model needs rank 4 and nothing adds the batch dim
        let m = bad(vec![PreStep::Layout {
            from: "hwc".into(),
            to: "chw".into(),
        }]);
        assert!(
            m.starts_with("pre[0] Layout") && m.contains("rank 3"),
            "{m}"
        );
        let m = bad(vec![
            PreStep::Layout {
                from: "hwc".into(),
                to: "xyz".into(),
            },
            PreStep::AddBatchDim,
        ]);
        assert!(m.starts_with("pre[0] Layout"), "{m}");
        let m = bad(vec![
            PreStep::Normalize {
                mean: vec![0.5],
                std: vec![0.0],
                axis: -1,
            },
            PreStep::AddBatchDim,
        ]);
        assert!(m.starts_with("pre[0] Normalize"), "{m}");
        let m = bad(vec![PreStep::Cast { to: "f16".into() }]);
        assert!(m.contains("produce f16") && m.contains("takes f32"), "{m}");
        let m = bad(vec![PreStep::Cast {
            to: "string".into(),
        }]);
        assert!(m.contains("not a numeric dtype"), "{m}");
    }

    #[test]
    fn normalize_checks_channels_at_run_time() {
        let spec = PipelineSpec {
            pre: vec![PreStep::Normalize {
                mean: vec![0.0, 0.0, 0.0],
                std: vec![1.0, 1.0, 1.0],
                axis: 1,
            }],
            ..Default::default()
        };
        let p = Pipeline::new("m", &spec, &image_sig(), None).unwrap();
        let err = p
            .pre("m", &Tensor::zeros(DType::F32, vec![1, 4, 2, 2]).unwrap())
            .unwrap_err();
        assert!(
            matches!(&err, Error::PipelineStep { step, reason, .. } if step == "pre[0] Normalize" && reason.contains("4 channels")),
            "{err:?}"
        );
    }

    #[test]
    fn post_steps_softmax_argmax_topk_dequantize() {
        let s = sig(
            vec![Dim::Fixed(1)],
            DType::F32,
            vec![Dim::symbolic("n"), Dim::Fixed(3)],
        );
        let logits = Tensor::from_vec(vec![2, 3], vec![1.0f32, 3.0, 2.0, 0.0, 0.0, 5.0]).unwrap();
        let outputs = Outputs::from_values(vec![("y".into(), Value::Tensor(logits))]);
        let run = |post: Vec<PostStep>| {
            Pipeline::new(
                "m",
                &PipelineSpec {
                    post,
                    ..Default::default()
                },
                &s,
                None,
            )
            .unwrap()
            .post("m", outputs.clone())
            .unwrap()
        };
        let out = run(vec![PostStep::Softmax { axis: -1 }]);
        let p = out.outputs["y"].as_slice::<f32>().unwrap().to_vec();
        assert!((p[0] + p[1] + p[2] - 1.0).abs() < 1e-6 && p[1] > p[2] && p[2] > p[0]);
        let out = run(vec![PostStep::Argmax]);
        assert_eq!(out.outputs["y"].as_slice::<i64>().unwrap(), &[1, 2]);
        let out = run(vec![
            PostStep::Softmax { axis: -1 },
            PostStep::TopK { k: 2, labels: None },
        ]);
        let c = out.classes.unwrap();
        assert_eq!((c[0][0].index, c[0][1].index, c[1][0].index), (1, 2, 2));
        let out = run(vec![
            PostStep::Dequantize {
                scale: 0.5,
                zero_point: 1.0,
            },
            PostStep::Sigmoid,
        ]);
        assert!(
            (out.outputs["y"].as_slice::<f32>().unwrap()[1] - 1.0 / (1.0 + (-1.0f32).exp())).abs()
                < 1e-6
        );
    }
}
