//! Every fixture's outputs, through the Rust API, match onnxruntime in Python.
mod common;

use common::{assert_close, fixture, read_pack};
use inferkit::{DType, Dim, InferOptions, Model, TensorView};

fn check_fixture(name: &str) {
    let model = Model::open(fixture(&format!("{name}.onnx"))).unwrap();
    let inputs = read_pack(&format!("{name}.inputs.tpk"));
    let want = read_pack(&format!("{name}.outputs.tpk"));
    let views: Vec<(&str, TensorView<'_>)> =
        inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
    let got = model.infer(&views).unwrap();
    assert_eq!(got.len(), want.len(), "{name}: output count");
    for (i, (wname, wt)) in want.iter().enumerate() {
        assert_eq!(
            got.name(i),
            Some(wname.as_str()),
            "{name}: outputs come in signature order"
        );
        assert_close(&format!("{name}.{wname}"), &got[i], wt);
    }
    // Inputs in reverse order give the same answer: inputs are matched by name.
    let reversed: Vec<_> = views.iter().rev().cloned().collect();
    assert_eq!(model.infer(&reversed).unwrap(), got);
}

#[test]
fn mlp_matches_reference() {
    check_fixture("mlp");
}

#[test]
fn two_inputs_two_dtypes_match_reference() {
    check_fixture("two_io");
}

#[test]
fn f16_matches_reference() {
    check_fixture("f16");
}

#[test]
fn int64_and_bool_match_reference() {
    check_fixture("int_bool");
}

#[test]
fn symbolic_sequence_dim_matches_reference() {
    check_fixture("sequence");
}

#[test]
fn every_dtype_round_trips_through_onnx_runtime() {
    check_fixture("identity_all");
    let model = Model::open(fixture("identity_all.onnx")).unwrap();
    let dtypes: Vec<DType> = model.signature().inputs.iter().map(|s| s.dtype).collect();
    // Every dtype with a Rust element type; strings, 8-bit floats and packed types are carried as
    // bytes and round-trip in tests/values.rs.
    let with_elements: Vec<DType> = DType::ALL
        .into_iter()
        .filter(|d| d.bits() >= 8 && *d != DType::String && !d.name().starts_with("f8"))
        .collect();
    assert_eq!(dtypes.len(), with_elements.len());
    for d in with_elements {
        assert!(dtypes.contains(&d), "identity_all lacks {d}");
    }
}

#[test]
fn signatures_report_names_dtypes_and_symbolic_dims() {
    let m = Model::open(fixture("mlp.onnx")).unwrap();
    assert_eq!(
        m.signature().to_string(),
        "(x: f32[batch, 16]) -> (y: f32[batch, 4])"
    );
    let m = Model::open(fixture("two_io.onnx")).unwrap();
    let sig = m.signature();
    assert_eq!(sig.inputs.len(), 2);
    assert_eq!(sig.input("offsets").unwrap().dtype, DType::I64);
    assert_eq!(
        sig.output("doubled").unwrap().dims,
        vec![Dim::symbolic("n")]
    );
    assert_eq!(sig.output("sum").unwrap().dims[1], Dim::Fixed(3));
    assert_eq!(sig.output("sum").unwrap().dims[0].as_i64(), -1);
    let m = Model::open(fixture("sequence.onnx")).unwrap();
    assert_eq!(
        m.signature().outputs[1].to_string(),
        "scores: f32[batch, seq]"
    );
}

#[test]
fn a_subset_of_outputs_can_be_requested() {
    let model = Model::open(fixture("two_io.onnx")).unwrap();
    let inputs = read_pack("two_io.inputs.tpk");
    let want = read_pack("two_io.outputs.tpk");
    let views: Vec<(&str, TensorView<'_>)> =
        inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
    let got = model
        .infer_with(&views, &InferOptions::default().with_outputs(["doubled"]))
        .unwrap();
    assert_eq!(got.len(), 1);
    assert_close("doubled", &got["doubled"], &want[1].1);
    // order of the request is kept
    let got = model
        .infer_with(
            &views,
            &InferOptions::default().with_outputs(["doubled", "sum"]),
        )
        .unwrap();
    assert_eq!(got.name(0), Some("doubled"));
    assert_eq!(got.name(1), Some("sum"));
}

#[test]
fn from_bytes_loads_the_same_model() {
    let bytes = std::fs::read(fixture("mlp.onnx")).unwrap();
    let model = Model::from_bytes("mlp-mem", &bytes, &Default::default()).unwrap();
    assert_eq!(model.name(), "mlp-mem");
    let inputs = read_pack("mlp.inputs.tpk");
    let want = read_pack("mlp.outputs.tpk");
    let out = model.infer(&[("x", inputs[0].1.view())]).unwrap();
    assert_close("y", &out["y"], &want[0].1);
}

#[test]
fn misaligned_input_bytes_are_accepted() {
    // Bytes from C may sit at any address; inferkit copies such inputs once instead of failing.
    let model = Model::open(fixture("mlp.onnx")).unwrap();
    let inputs = read_pack("mlp.inputs.tpk");
    let want = read_pack("mlp.outputs.tpk");
    let x = &inputs[0].1;
    let mut buf = vec![0u8; x.as_bytes().len() + 1];
    buf[1..].copy_from_slice(x.as_bytes());
    let view = TensorView::new(DType::F32, x.shape(), &buf[1..]);
    let out = model.infer(&[("x", view)]).unwrap();
    assert_close("y", &out["y"], &want[0].1);
}

#[test]
fn a_model_is_shared_across_threads() {
    let model = std::sync::Arc::new(Model::open(fixture("mlp.onnx")).unwrap());
    let inputs = read_pack("mlp.inputs.tpk");
    let want = read_pack("mlp.outputs.tpk").remove(0).1;
    let x = inputs[0].1.clone();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..50 {
                    let out = model.infer(&[("x", x.view())]).unwrap();
                    assert_close("y", &out["y"], &want);
                }
            });
        }
    });
}
