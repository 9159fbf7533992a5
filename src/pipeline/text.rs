//! Text input: a HuggingFace `tokenizer.json` turns a string into `input_ids`, `attention_mask`
//! and `token_type_ids`, padded or truncated to a length (the `tokenizer` cargo feature).

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::signature::Signature;
use crate::tensor::{DType, Tensor};

/// How text becomes model inputs.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TextSpec {
    /// The tokenizer file (`tokenizer.json`), relative to the model's directory in config.toml.
    pub tokenizer: String,
    /// Pad or truncate every sequence to this many tokens.
    pub max_length: usize,
    /// Add the tokenizer's special tokens (`[CLS]`, `[SEP]`, …). Default true.
    #[serde(default = "yes")]
    pub add_special_tokens: bool,
}

fn yes() -> bool {
    true
}

impl TextSpec {
    /// A tokenizer file and the length every sequence is padded or truncated to, with the
    /// tokenizer's special tokens added.
    pub fn new(tokenizer: impl Into<String>, max_length: usize) -> TextSpec {
        TextSpec {
            tokenizer: tokenizer.into(),
            max_length,
            add_special_tokens: true,
        }
    }
}

with_setters!(TextSpec {
    with_tokenizer(tokenizer, string);
    with_max_length(max_length, usize);
    with_add_special_tokens(add_special_tokens, bool);
});

/// A loaded tokenizer and the model inputs it feeds.
#[cfg_attr(not(feature = "tokenizer"), allow(dead_code))]
pub(crate) struct Text {
    spec: TextSpec,
    #[cfg(feature = "tokenizer")]
    tokenizer: tokenizers::Tokenizer,
    #[cfg(feature = "tokenizer")]
    pad_id: u32,
    /// Which of `input_ids`, `attention_mask`, `token_type_ids` the model takes.
    feeds: [bool; 3],
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Text")
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

const NAMES: [&str; 3] = ["input_ids", "attention_mask", "token_type_ids"];

/// Which of `input_ids`, `attention_mask`, `token_type_ids` the model takes; each must be i64
/// `[batch, seq]`, and `input_ids` must be there.
fn model_feeds(model: &str, step: &str, signature: &Signature) -> Result<[bool; 3]> {
    let fail = |reason: String| Error::PipelineConfig {
        model: model.to_string(),
        step: step.to_string(),
        reason,
    };
    let mut feeds = [false; 3];
    for (i, name) in NAMES.iter().enumerate() {
        if let Some(input) = signature.input(name) {
            if input.dtype != DType::I64 || input.rank() != 2 {
                return Err(fail(format!(
                    "input `{name}` is {input}, {step} gives i64 [batch, seq]"
                )));
            }
            feeds[i] = true;
        }
    }
    if !feeds[0] {
        return Err(fail("the model has no `input_ids` input".into()));
    }
    Ok(feeds)
}

/// The columns the model takes, as `[1, n]` tensors named after [`NAMES`].
fn feed_tensors(
    feeds: [bool; 3],
    columns: [Vec<i64>; 3],
    n: usize,
) -> Result<Vec<(String, Tensor)>> {
    NAMES
        .iter()
        .zip(columns)
        .zip(feeds)
        .filter(|(_, feed)| *feed)
        .map(|((name, values), _)| Ok((name.to_string(), Tensor::from_vec(vec![1, n], values)?)))
        .collect()
}

impl Text {
    pub(crate) fn new(model: &str, spec: &TextSpec, signature: &Signature) -> Result<Text> {
        let fail = |reason: String| Error::PipelineConfig {
            model: model.to_string(),
            step: "text".into(),
            reason,
        };
        if spec.max_length == 0 {
            return Err(fail("max_length must be at least 1".into()));
        }
        let feeds = model_feeds(model, "text", signature)?;
        #[cfg(feature = "tokenizer")]
        {
            let mut tokenizer = tokenizers::Tokenizer::from_file(&spec.tokenizer)
                .map_err(|e| fail(format!("tokenizer `{}`: {e}", spec.tokenizer)))?;
            let pad_id = tokenizer
                .get_padding()
                .map(|p| p.pad_id)
                .or_else(|| tokenizer.token_to_id("[PAD]"))
                .or_else(|| tokenizer.token_to_id("<pad>"))
                .unwrap_or(0);
            let pad_token = tokenizer.id_to_token(pad_id).unwrap_or_default();
            // The tokenizer's own truncation (which keeps room for special tokens) and padding,
            // as the Python package applies them.
            tokenizer
                .with_truncation(Some(tokenizers::TruncationParams {
                    max_length: spec.max_length,
                    ..Default::default()
                }))
                .map_err(|e| fail(format!("truncation to {}: {e}", spec.max_length)))?;
            tokenizer.with_padding(Some(tokenizers::PaddingParams {
                strategy: tokenizers::PaddingStrategy::Fixed(spec.max_length),
                pad_id,
                pad_token,
                ..Default::default()
            }));
            Ok(Text {
                spec: spec.clone(),
                tokenizer,
                pad_id,
                feeds,
            })
        }
        #[cfg(not(feature = "tokenizer"))]
        {
            let _ = feeds;
            Err(Error::Unsupported {
                what: format!("model `{model}`: text pipelines"),
                feature: Some("tokenizer"),
            })
        }
    }

    /// Tokenizes `text` into the model inputs, `[1, max_length]` each.
    pub(crate) fn encode(&self, model: &str, text: &str) -> Result<Vec<(String, Tensor)>> {
        #[cfg(feature = "tokenizer")]
        {
            let e = self
                .tokenizer
                .encode(text, self.spec.add_special_tokens)
                .map_err(|e| Error::PipelineStep {
                    model: model.to_string(),
                    step: "text".into(),
                    reason: e.to_string(),
                })?;
            let n = self.spec.max_length;
            let fit = |v: &[u32], pad: i64| -> Vec<i64> {
                let mut out: Vec<i64> = v.iter().take(n).map(|x| i64::from(*x)).collect();
                out.resize(n, pad);
                out
            };
            let columns = [
                fit(e.get_ids(), i64::from(self.pad_id)),
                fit(e.get_attention_mask(), 0),
                fit(e.get_type_ids(), 0),
            ];
            feed_tensors(self.feeds, columns, n)
        }
        #[cfg(not(feature = "tokenizer"))]
        {
            let _ = text;
            Err(Error::Unsupported {
                what: format!("model `{model}`: text pipelines"),
                feature: Some("tokenizer"),
            })
        }
    }
}

/// Token ids in, model inputs out: pad or truncate to `max_length` with an attention mask.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SequenceSpec {
    /// Pad or truncate every sequence to this many ids.
    pub max_length: usize,
    /// The id used for padding (default 0).
    #[serde(default)]
    pub pad_id: i64,
}

impl SequenceSpec {
    /// Pads or truncates to `max_length` ids, padding with id 0.
    pub fn new(max_length: usize) -> SequenceSpec {
        SequenceSpec {
            max_length,
            pad_id: 0,
        }
    }
}

with_setters!(SequenceSpec {
    with_max_length(max_length, usize);
    with_pad_id(pad_id, i64);
});

/// A checked [`SequenceSpec`] and the model inputs it feeds.
#[derive(Debug)]
pub(crate) struct Sequence {
    spec: SequenceSpec,
    feeds: [bool; 3],
}

impl Sequence {
    pub(crate) fn new(model: &str, spec: &SequenceSpec, signature: &Signature) -> Result<Sequence> {
        let fail = |reason: String| Error::PipelineConfig {
            model: model.to_string(),
            step: "sequence".into(),
            reason,
        };
        if spec.max_length == 0 {
            return Err(fail("max_length must be at least 1".into()));
        }
        let feeds = model_feeds(model, "sequence", signature)?;
        Ok(Sequence {
            spec: spec.clone(),
            feeds,
        })
    }

    /// `input_ids` padded or truncated to `max_length`, `attention_mask` 1 for ids and 0 for padding,
    /// `token_type_ids` zeros; those the model takes, each `[1, max_length]`.
    pub(crate) fn encode(&self, ids: &[i64]) -> Result<Vec<(String, Tensor)>> {
        let n = self.spec.max_length;
        let kept = ids.len().min(n);
        let mut input_ids = ids[..kept].to_vec();
        input_ids.resize(n, self.spec.pad_id);
        let mut mask = vec![1i64; kept];
        mask.resize(n, 0);
        let columns = [input_ids, mask, vec![0i64; n]];
        feed_tensors(self.feeds, columns, n)
    }
}
