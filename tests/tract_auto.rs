//! `Backend::Auto` in a host where ONNX Runtime cannot be loaded: models run on tract (the
//! `tract` feature), and a model that asks for ONNX Runtime by name gets the typed error. The
//! runtime is process-wide, so this file is its own process, and it is made unloadable before
//! anything asks for it.
#![cfg(feature = "tract")]
mod common;

use inferkit::{Backend, ErrorCode, Model, ModelOptions, Runtime, TensorView};

#[test]
fn auto_runs_on_tract_when_onnx_runtime_cannot_be_loaded() {
    // A host variable naming a library is an order: inferkit loads that one or none.
    std::env::set_var("INFERKIT_ORT_DYLIB", "/nonexistent/libonnxruntime.so");
    let path = common::fixture("mlp.onnx");

    let err = Model::open(&path).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RuntimeUnavailable, "{err}");

    let model =
        Model::open_with(&path, &ModelOptions::default().with_backend(Backend::Auto)).unwrap();
    assert_eq!(model.backend(), Backend::Tract);
    assert!(Runtime::get().is_none(), "ONNX Runtime was never loaded");
    let x: Vec<f32> = (0..32).map(|i| i as f32 / 32.0).collect();
    let out = model
        .infer(&[("x", TensorView::from_slice(vec![2, 16], &x))])
        .unwrap();
    assert_eq!(out["y"].shape(), &[2, 4]);
    // The pack's reference: ONNX Runtime's outputs for the pack's inputs.
    let inputs = common::read_pack("mlp.inputs.tpk");
    let want = common::read_pack("mlp.outputs.tpk");
    let got = model.infer(&[("x", inputs[0].1.view())]).unwrap();
    let (g, w) = (
        got["y"].as_slice::<f32>().unwrap(),
        want[0].1.as_slice::<f32>().unwrap(),
    );
    for (a, b) in g.iter().zip(w) {
        assert!(
            (a - b).abs() <= 1e-4 * a.abs().max(b.abs()) + 1e-5,
            "{a} vs {b}"
        );
    }
}
