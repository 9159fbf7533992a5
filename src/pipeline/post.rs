//! Post-processing at run time: the post steps on one request's outputs, and what they return.

use std::sync::Arc;

use ndarray::Axis;

use super::spec::PostStep;
use super::{axis_index, step_name, to_f32, Pipeline};
use crate::error::{Error, Result};
use crate::session::Outputs;
use crate::tensor::Tensor;
use crate::value::Value;

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

impl Pipeline {
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
