//! Arbitrary bytes as an ONNX model: loading must fail with a typed error or succeed, and a model
//! that loads must run (or fail typed) on zeros shaped after its own signature.
#![no_main]

mod common;

use inferkit::{Dim, Model, ModelOptions, Tensor};
use libfuzzer_sys::fuzz_target;

/// Inputs larger than this many elements are left out of the request (it then fails typed with
/// MissingInput), so that a model declaring a huge input does not exhaust the fuzzer's memory.
const MAX_ELEMENTS: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    common::init();
    let options = ModelOptions::default().with_instances(1);
    let model = match Model::from_bytes("fuzz", data, &options) {
        Ok(m) => m,
        Err(e) => {
            if common::trace() {
                eprintln!("load: {e}");
            }
            return;
        }
    };
    if common::trace() {
        eprintln!("loaded: {}", model.signature());
    }
    let mut tensors = Vec::new();
    for spec in &model.signature().inputs {
        let shape: Vec<usize> = spec
            .dims
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => *n,
                Dim::Dynamic(_) => 1,
            })
            .collect();
        let elements = shape.iter().try_fold(1usize, |n, d| n.checked_mul(*d));
        if !elements.is_some_and(|n| n <= MAX_ELEMENTS) {
            continue;
        }
        if let Ok(t) = Tensor::zeros(spec.dtype, shape) {
            tensors.push((spec.name.to_string(), t));
        }
    }
    let views: Vec<_> = tensors
        .iter()
        .map(|(n, t)| (n.as_str(), t.view()))
        .collect();
    let result = model.infer(&views);
    if common::trace() {
        match result {
            Ok(outputs) => eprintln!("infer: {} outputs", outputs.len()),
            Err(e) => eprintln!("infer: {e}"),
        }
    }
});
