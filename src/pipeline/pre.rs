//! Pre-processing at run time: image steps on pixels, then the numeric pre steps.

use ndarray::{ArrayD, Axis, IxDyn};

use super::image::{self, ImageStep, ImageView};
use super::spec::PreStep;
use super::{axis_index, dtype_named, not_numeric, step_name, to_f32, Pipeline};
use crate::error::{Error, Result};
use crate::tensor::{DType, Tensor};

impl Pipeline {
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
    pub(super) fn fused(&self, input: &Tensor) -> Option<Result<Tensor>> {
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
