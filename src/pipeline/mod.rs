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
//! let spec = PipelineSpec::default()
//!     .with_pre([PreStep::Scale { factor: 0.5, offset: 0.0 }, PreStep::AddBatchDim])
//!     .with_post([PostStep::Softmax { axis: -1 }, PostStep::TopK { k: 2, labels: None }]);
//! let model = Model::open_with("tests/fixtures/mlp.onnx", &ModelOptions::default().with_pipeline(spec))?;
//! let out = model.infer_pipeline(Tensor::from_vec(vec![16], vec![1.0f32; 16])?)?;
//! let top = &out.classes.as_ref().unwrap()[0];            // one row, best first
//! assert_eq!(top.len(), 2);
//! assert!(top[0].score >= top[1].score);
//! # Ok::<(), inferkit::Error>(())
//! ```

// One file per concept: spec.rs what is declared, check.rs the check against the model's signature
// at load, input.rs what a request brings, pre.rs and post.rs the steps at run time, image.rs
// pixels, text.rs tokens.
mod check;
pub mod image;
mod input;
mod post;
mod pre;
mod spec;
pub mod text;

use std::sync::Arc;

pub use image::{
    decode, decode_limited, Filter, Fit, ImageStep, ImageView, PixelFormat, MAX_IMAGE_SIDE,
};
pub use input::PipelineInput;
pub use post::{Class, PipelineOutput};
pub use spec::{
    PipelineSpec, PostStep, PreStep, DEFAULT_MAX_PIXELS, MAX_PIXELS_LIMIT, MAX_STEP_ELEMENTS,
};
pub use text::{SequenceSpec, TextSpec};

use ndarray::{ArrayD, IxDyn};

use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

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

fn not_numeric(dtype: DType) -> Error {
    Error::Unsupported {
        what: format!("a pipeline step on {dtype} tensors"),
        feature: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::Outputs;
    use crate::signature::{Dim, Signature, TensorSpec};
    use crate::value::Value;

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
