//! Warmup: inferences run on a new version before it becomes selectable, so that the first real
//! request does not pay for ONNX Runtime's lazy initialisation, and a version that cannot run at
//! all fails here instead of in front of users.

use super::config::{Warmup, WarmupInputs};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::tensor::{byte_len, read_tensor_pack, DType, Tensor, TensorView};

/// Most bytes the inputs of one warmup request may take (generated or read from a file): 256 MiB.
/// A model whose fixed inputs are larger is warmed with a file of smaller inputs, or not at all.
pub const MAX_WARMUP_BYTES: u64 = 256 << 20;

/// Runs the configured warmup on `model`, counted as warmup in its metrics (not as traffic).
/// Dynamic dims are 1 for generated inputs.
pub(super) fn run(model: &Model, warmup: &Warmup) -> Result<()> {
    if warmup.count == 0 {
        return Ok(());
    }
    let metrics = model.metrics_handle();
    metrics.begin_warmup();
    let result = run_inner(model, warmup);
    metrics.end_warmup();
    result
}

fn too_large(model: &Model, what: String) -> Error {
    Error::Inference {
        model: model.name().to_string(),
        message: format!(
            "warmup failed: {what}, more than the {MAX_WARMUP_BYTES} bytes a warmup request may take; warm this model with a smaller `warmup.file`, or not at all"
        ),
    }
}

fn run_inner(model: &Model, warmup: &Warmup) -> Result<()> {
    let inputs: Vec<(String, Tensor)> = match &warmup.inputs {
        WarmupInputs::File(path) => {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            if size > MAX_WARMUP_BYTES {
                return Err(too_large(
                    model,
                    format!("`{}` has {size} bytes", path.display()),
                ));
            }
            read_tensor_pack(path)?
        }
        generated => {
            // Sized from the signature before anything is allocated.
            let mut total: u64 = 0;
            for spec in &model.signature().inputs {
                let shape = warmup_shape(spec);
                let bytes = byte_len(spec.dtype, &shape).map(|(_, b)| b as u64);
                total = bytes
                    .and_then(|b| total.checked_add(b))
                    .filter(|t| *t <= MAX_WARMUP_BYTES)
                    .ok_or_else(|| {
                        too_large(
                            model,
                            format!("input `{}` of shape {shape:?} is too large", spec.name),
                        )
                    })?;
            }
            generated_inputs(model, generated)?
        }
    };
    let views: Vec<(&str, TensorView<'_>)> =
        inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
    for _ in 0..warmup.count {
        model.infer(&views).map_err(|e| Error::Inference {
            model: model.name().to_string(),
            message: format!("warmup failed: {e}"),
        })?;
    }
    Ok(())
}

/// Zeros or fixed-seed values for every input, in [`warmup_shape`]s.
fn generated_inputs(model: &Model, generated: &WarmupInputs) -> Result<Vec<(String, Tensor)>> {
    model
        .signature()
        .inputs
        .iter()
        .map(|spec| {
            let shape = warmup_shape(spec);
            let tensor = match generated {
                WarmupInputs::Random => random(spec.dtype, shape)?,
                _ => Tensor::zeros(spec.dtype, shape)?,
            };
            Ok((spec.name.to_string(), tensor))
        })
        .collect()
}

/// The shape a generated warmup input takes: the fixed dims, and 1 for dynamic ones.
fn warmup_shape(spec: &crate::signature::TensorSpec) -> Vec<usize> {
    spec.dims
        .iter()
        .map(|d| usize::try_from(d.as_i64()).unwrap_or(1))
        .collect()
}

/// Values from a fixed-seed generator: floats in [-1, 1), integers in 0..8, bools alternating.
fn random(dtype: DType, shape: Vec<usize>) -> Result<Tensor> {
    let n: usize = shape.iter().product();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    match dtype {
        DType::F32 | DType::F64 | DType::F16 | DType::BF16 => {
            let v: Vec<f32> = (0..n)
                .map(|_| (next() >> 40) as f32 / (1u64 << 23) as f32 - 1.0)
                .collect();
            Tensor::from_f32(dtype, shape, &v)
        }
        DType::Bool => Tensor::from_vec(shape, (0..n).map(|i| i % 2 == 0).collect()),
        _ => {
            let mut t = Tensor::zeros(dtype, shape)?;
            let size = dtype.size();
            let bytes: Vec<u8> = (0..n)
                .flat_map(|_| {
                    let v = next() % 8;
                    v.to_le_bytes().into_iter().take(size).collect::<Vec<u8>>()
                })
                .collect();
            t = Tensor::from_bytes(dtype, t.shape().to_vec(), &bytes)?;
            Ok(t)
        }
    }
}
