//! Concatenating requests along dim 0 and splitting the outputs back.

use std::sync::Arc;

use super::request::Request;
use super::Scheduler;
use crate::error::Error;
use crate::pool::Lease;
use crate::session::Outputs;
use crate::tensor::{Tensor, TensorView};
use crate::value::{Input, Value};

pub(super) enum BatchError {
    /// ONNX Runtime failed: every request of the batch gets this error.
    Failed(Error),
    /// An output's dim 0 is not the batch's row count, so rows cannot be handed back.
    NotRowWise,
}

/// Concatenates the batch's inputs into the worker's reused buffers, runs once, and returns each
/// request's own rows of every output.
pub(super) fn run_concatenated(
    scheduler: &Scheduler,
    lease: &mut Lease<'_>,
    batch: &[Arc<Request>],
) -> Result<Vec<Outputs>, BatchError> {
    let worker: &mut crate::pool::Worker = lease;
    let rows: Vec<usize> = batch.iter().map(|r| r.rows.unwrap_or(0)).collect();
    let total: usize = rows.iter().sum();
    let first = &batch[0];
    let mut shapes = Vec::with_capacity(first.inputs.len());
    for (i, input) in first.inputs.iter().enumerate() {
        let bytes: usize = batch.iter().map(|r| r.inputs[i].bytes().len()).sum();
        let buffer = &mut worker.buffers[i];
        buffer.resize(bytes);
        let dst = buffer.as_mut_bytes();
        let mut at = 0;
        for request in batch {
            let src = request.inputs[i].bytes();
            dst[at..at + src.len()].copy_from_slice(src);
            at += src.len();
        }
        let mut shape = input.shape.to_vec();
        shape[0] = total;
        shapes.push(shape);
    }
    // Batched models take only whole-byte tensors, every input present (`Scheduler::new`).
    let views: Vec<(&str, Input<'_>)> = first
        .inputs
        .iter()
        .zip(&shapes)
        .zip(&worker.buffers)
        .map(|((raw, shape), buf)| {
            let spec = &scheduler.signature.inputs[raw.index];
            (
                &*spec.name,
                Input::Tensor(TensorView::new(spec.dtype, &shape[..], buf.as_bytes())),
            )
        })
        .collect();
    // Stopped when every request's deadline has passed (none is stopped while one still waits).
    let until = batch
        .iter()
        .map(|r| r.deadline)
        .collect::<Option<Vec<_>>>()
        .and_then(|d| d.into_iter().max());
    let outputs = scheduler
        .run_stoppable(
            &mut worker.session,
            &worker.stop,
            until,
            super::Stopper::None,
            &views,
            first.selected.as_deref(),
        )
        .map_err(BatchError::Failed)?;
    split(&outputs, &rows, total)
}

/// Hands each request its rows of every output.
fn split(outputs: &Outputs, rows: &[usize], total: usize) -> Result<Vec<Outputs>, BatchError> {
    if outputs.iter().any(|(_, v)| {
        v.as_tensor()
            .is_none_or(|t| t.shape().first() != Some(&total) || !t.dtype().is_batchable())
    }) {
        return Err(BatchError::NotRowWise);
    }
    let mut per_request: Vec<Vec<(Arc<str>, Value)>> = rows
        .iter()
        .map(|_| Vec::with_capacity(outputs.len()))
        .collect();
    for (name, value) in outputs.entries() {
        let Value::Tensor(tensor) = value else {
            return Err(BatchError::NotRowWise);
        };
        let row_bytes = tensor.as_bytes().len().checked_div(total).unwrap_or(0);
        let mut at = 0;
        for (r, n) in rows.iter().enumerate() {
            let mut shape = tensor.shape().to_vec();
            shape[0] = *n;
            let bytes = &tensor.as_bytes()[at..at + n * row_bytes];
            at += n * row_bytes;
            let part =
                Tensor::from_bytes(tensor.dtype(), shape, bytes).map_err(BatchError::Failed)?;
            per_request[r].push((name.clone(), Value::Tensor(part)));
        }
    }
    Ok(per_request.into_iter().map(Outputs::from_values).collect())
}
