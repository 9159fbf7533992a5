//! Warmup: inferences run on a new version before it becomes selectable, so that the first real
//! request does not pay for ONNX Runtime's lazy initialisation, and a version that cannot run at
//! all fails here instead of in front of users.

use super::config::{Warmup, WarmupInputs};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::tensor::{byte_len, read_tensor_pack, DType, Tensor};
use crate::value::{Map, Value, ValueType};

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
    let inputs: Vec<(String, Value)> = match &warmup.inputs {
        WarmupInputs::File(path) => {
            let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
            if size > MAX_WARMUP_BYTES {
                return Err(too_large(
                    model,
                    format!("`{}` has {size} bytes", path.display()),
                ));
            }
            read_tensor_pack(path)?
                .into_iter()
                .map(|(n, t)| (n, Value::Tensor(t)))
                .collect()
        }
        generated => {
            // Sized from the signature before anything is allocated.
            let mut total: u64 = 0;
            for spec in &model.signature().inputs {
                let shape = warmup_shape(&spec.dims);
                // Strings: their offsets, 8 bytes each (the strings themselves are empty).
                let bytes = byte_len(spec.dtype, &shape).and_then(|(n, b)| {
                    let b = if spec.dtype == DType::String {
                        n.checked_mul(8)?
                    } else {
                        b
                    };
                    Some(b as u64)
                });
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
    let views: Vec<(&str, &Value)> = inputs.iter().map(|(n, v)| (n.as_str(), v)).collect();
    for _ in 0..warmup.count {
        model.infer(&views).map_err(|e| Error::Inference {
            model: model.name().to_string(),
            message: format!("warmup failed: {e}"),
        })?;
    }
    Ok(())
}

/// Zeros or fixed-seed values for every input, tensors in [`warmup_shape`]s. Optional inputs are
/// left out (absent); a sequence holds one tensor; a map holds one entry.
fn generated_inputs(model: &Model, generated: &WarmupInputs) -> Result<Vec<(String, Value)>> {
    let mut inputs = Vec::new();
    for spec in &model.signature().inputs {
        if spec.is_optional() {
            continue;
        }
        let value = generated_value(&spec.ty, generated)?;
        inputs.push((spec.name.to_string(), value));
    }
    Ok(inputs)
}

fn generated_value(ty: &ValueType, generated: &WarmupInputs) -> Result<Value> {
    let tensor = |dtype: DType, shape: Vec<usize>| match generated {
        WarmupInputs::Random => random(dtype, shape),
        _ => Tensor::zeros(dtype, shape),
    };
    Ok(match ty {
        ValueType::Tensor {
            dtype,
            dims,
            ranked,
        } => Value::Tensor(tensor(
            *dtype,
            if *ranked { warmup_shape(dims) } else { vec![1] },
        )?),
        ValueType::Sequence(inner) => Value::Sequence(vec![generated_value(inner, generated)?]),
        ValueType::Map { key, value } => {
            let ValueType::Tensor { dtype, .. } = &**value else {
                return Err(Error::Unsupported {
                    what: format!("warmup inputs for {ty}"),
                    feature: None,
                });
            };
            Value::Map(Map::new(
                Tensor::zeros(*key, vec![1])?,
                tensor(*dtype, vec![1])?,
            )?)
        }
        ValueType::Optional(_) => Value::Optional(None),
    })
}

/// The shape a generated warmup tensor takes: the fixed dims, and 1 for dynamic ones.
fn warmup_shape(dims: &[crate::signature::Dim]) -> Vec<usize> {
    dims.iter()
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
        // Strings and packed types: zeros (empty strings).
        d if !d.is_batchable() => Tensor::zeros(dtype, shape),
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
