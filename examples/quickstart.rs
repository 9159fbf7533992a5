//! The main demo: load the bundled models, print their signatures, run a prediction on each.
//!
//!     make demo            (provisions ONNX Runtime, then runs this example)
//!     cargo run --release --example quickstart [path/to/model.onnx ...]
use std::path::PathBuf;

use inferkit::{DType, Model, Runtime, Tensor, TensorView};

fn main() -> Result<(), inferkit::Error> {
    let runtime = Runtime::init()?;
    println!(
        "inferkit {} on ONNX Runtime {} ({})",
        inferkit::VERSION,
        runtime.ort_version(),
        runtime.dylib_path().display()
    );

    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    let paths = if args.is_empty() {
        ["mlp", "two_io", "f16", "int_bool", "sequence"]
            .iter()
            .map(|n| fixtures.join(format!("{n}.onnx")))
            .collect()
    } else {
        args
    };

    for path in paths {
        let model = Model::open(&path)?;
        println!("\n{}  {}", model.name(), model.signature());
        // A deterministic request that fits the signature: every dynamic dim set to 2.
        let inputs: Vec<(String, Tensor)> = model
            .signature()
            .inputs
            .iter()
            .map(|spec| {
                let shape: Vec<usize> = spec
                    .dims
                    .iter()
                    .map(|d| {
                        if d.as_i64() >= 0 {
                            d.as_i64() as usize
                        } else {
                            2
                        }
                    })
                    .collect();
                let n: usize = shape.iter().product();
                let values: Vec<f32> = (0..n).map(|i| ((i % 7) as f32 - 3.0) * 0.25).collect();
                let tensor = match spec.dtype {
                    DType::F32 | DType::F64 | DType::F16 | DType::BF16 => {
                        Tensor::from_f32(spec.dtype, shape, &values)
                    }
                    DType::I64 => {
                        Tensor::from_vec(shape, values.iter().map(|v| (v * 4.0) as i64).collect())
                    }
                    DType::Bool => Tensor::from_vec(shape, (0..n).map(|i| i % 3 != 0).collect()),
                    other => Tensor::zeros(other, shape),
                }?;
                Ok((spec.name.to_string(), tensor))
            })
            .collect::<Result<_, inferkit::Error>>()?;
        let views: Vec<(&str, TensorView<'_>)> =
            inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
        let outputs = model.infer(&views)?;
        for (name, tensor) in outputs.iter() {
            println!("  {name} {:?} = {}", tensor.shape(), preview(tensor));
        }
    }
    Ok(())
}

/// The first few values of a tensor, printed.
fn preview(t: &Tensor) -> String {
    let items: Vec<String> = match t.dtype() {
        DType::I64 => t
            .as_slice::<i64>()
            .map(|s| s.iter().take(8).map(|v| v.to_string()).collect())
            .unwrap_or_default(),
        DType::Bool => t
            .as_slice::<bool>()
            .map(|s| s.iter().take(8).map(|v| v.to_string()).collect())
            .unwrap_or_default(),
        _ => t
            .to_f32_vec()
            .map(|s| s.iter().take(8).map(|v| format!("{v:.4}")).collect())
            .unwrap_or_default(),
    };
    let more = if t.len() > items.len() { ", …" } else { "" };
    format!("[{}{more}]", items.join(", "))
}
