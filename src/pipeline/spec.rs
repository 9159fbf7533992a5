//! The declared form of a pipeline: [`PipelineSpec`] and its steps, as written in a model's
//! `config.toml` (`[pipeline]`) or built in code.

use serde::Deserialize;

use super::image::ImageStep;
use super::text::{SequenceSpec, TextSpec};

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
#[non_exhaustive]
pub struct PipelineSpec {
    /// The model input the pre steps feed (default: the first).
    #[serde(default)]
    pub input: Option<String>,
    /// The model output the post steps read (default: the first).
    #[serde(default)]
    pub output: Option<String>,
    /// Tokenization of text given to [`crate::Model::infer_pipeline`] (the `tokenizer` feature).
    #[serde(default)]
    pub text: Option<TextSpec>,
    /// Padding or truncating token ids given to [`crate::Model::infer_pipeline`], with an
    /// attention mask.
    #[serde(default)]
    pub sequence: Option<SequenceSpec>,
    /// Image steps, for images given to [`crate::Model::infer_pipeline`]: run first, on pixels; they hand the numeric
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

with_setters!(PipelineSpec {
    with_input(input, some_string);
    with_output(output, some_string);
    with_text(text, some TextSpec);
    with_sequence(sequence, some SequenceSpec);
    with_image(image, list ImageStep);
    with_pre(pre, list PreStep);
    with_post(post, list PostStep);
    with_max_pixels(max_pixels, some u64);
});
