//! What a pipeline runs on: [`PipelineInput`], the argument of
//! [`Model::infer_pipeline`](crate::Model::infer_pipeline).

use super::image::ImageView;
use crate::tensor::Tensor;

/// The input of [`Model::infer_pipeline`](crate::Model::infer_pipeline): what the caller has, from
/// which the pipeline makes the model's inputs.
///
/// A tensor, an image view, text (`&str`) and token ids (`&[i64]`, `&Vec<i64>`, `&[i64; N]`)
/// convert with `From`, so they are passed as they are. Encoded image bytes have no `From` (a
/// byte slice could mean other things): pass `PipelineInput::Encoded(&bytes)`.
///
/// ```
/// use inferkit::{Model, PipelineInput, Tensor};
///
/// let model = Model::open("tests/fixtures/mlp.onnx")?;
/// // Without a declared pipeline, a tensor feeds the first input as it is.
/// let out = model.infer_pipeline(Tensor::from_vec(vec![1, 16], vec![0.5f32; 16])?)?;
/// assert_eq!(out.outputs["y"].shape(), &[1, 4]);
///
/// // Bytes must say what they are.
/// let input = PipelineInput::Encoded(b"\x89PNG not really");
/// assert!(model.infer_pipeline(input).is_err());
/// # Ok::<(), inferkit::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PipelineInput<'a> {
    /// A raw tensor for the pre steps; without a pipeline, the model's first input.
    Tensor(Tensor),
    /// Raw pixels: the image steps, then the pre steps on the u8 `[height, width, channels]`
    /// tensor they give.
    Image(ImageView<'a>),
    /// PNG or JPEG bytes (the `decode` feature), decoded, then run as [`PipelineInput::Image`].
    /// An undecodable image is [`Error::PipelineStep`](crate::Error::PipelineStep) with step
    /// `decode`.
    Encoded(&'a [u8]),
    /// Text, tokenized with the pipeline's tokenizer (the `tokenizer` feature and a `text` table)
    /// into `input_ids`, `attention_mask` and, when the model has it, `token_type_ids`.
    Text(&'a str),
    /// Token ids, padded or truncated to the pipeline's `sequence.max_length`, with an attention
    /// mask.
    Tokens(&'a [i64]),
}

impl From<Tensor> for PipelineInput<'_> {
    fn from(tensor: Tensor) -> Self {
        PipelineInput::Tensor(tensor)
    }
}

impl<'a> From<ImageView<'a>> for PipelineInput<'a> {
    fn from(image: ImageView<'a>) -> Self {
        PipelineInput::Image(image)
    }
}

impl<'a> From<&'a str> for PipelineInput<'a> {
    fn from(text: &'a str) -> Self {
        PipelineInput::Text(text)
    }
}

impl<'a> From<&'a [i64]> for PipelineInput<'a> {
    fn from(ids: &'a [i64]) -> Self {
        PipelineInput::Tokens(ids)
    }
}

impl<'a> From<&'a Vec<i64>> for PipelineInput<'a> {
    fn from(ids: &'a Vec<i64>) -> Self {
        PipelineInput::Tokens(ids)
    }
}

impl<'a, const N: usize> From<&'a [i64; N]> for PipelineInput<'a> {
    fn from(ids: &'a [i64; N]) -> Self {
        PipelineInput::Tokens(ids)
    }
}
