//! The load-time check: a [`PipelineSpec`] against the model's signature, before any request.

use std::path::Path;

use super::spec::{
    PipelineSpec, PostStep, PreStep, DEFAULT_MAX_PIXELS, MAX_PIXELS_LIMIT, MAX_STEP_ELEMENTS,
};
use super::{axis_index, dtype_named, step_name, text, Pipeline};
use crate::error::{Error, Result};
use crate::signature::{Dim, Signature};
use crate::tensor::DType;

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
}
