//! Each way a request or a model file can be wrong is its own typed error that names what to fix.
mod common;

use common::fixture;
use inferkit::{DType, Error, ErrorCode, InferOptions, Model, TensorView};

fn mlp() -> Model {
    Model::open(fixture("mlp.onnx")).unwrap()
}

#[test]
fn unknown_input() {
    let x = [0f32; 16];
    let err = mlp()
        .infer(&[
            ("x", TensorView::from_slice(vec![1, 16], &x)),
            ("z", TensorView::from_slice(vec![1, 16], &x)),
        ])
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownInput);
    match &err {
        Error::UnknownInput {
            model,
            input,
            expected,
        } => {
            assert_eq!((model.as_str(), input.as_str()), ("mlp", "z"));
            assert_eq!(expected, &vec!["x".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("`z`") && err.to_string().contains("mlp"),
        "{err}"
    );
}

#[test]
fn missing_input() {
    let m = Model::open(fixture("two_io.onnx")).unwrap();
    let f = [0f32; 3];
    let err = m
        .infer(&[("features", TensorView::from_slice(vec![1, 3], &f))])
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingInput { model, input } if model == "two_io" && input == "offsets"),
        "{err:?}"
    );
    assert!(err.to_string().contains("offsets"), "{err}");
}

#[test]
fn duplicate_input() {
    let x = [0f32; 16];
    let v = TensorView::from_slice(vec![1, 16], &x);
    let err = mlp().infer(&[("x", v.clone()), ("x", v)]).unwrap_err();
    assert!(
        matches!(&err, Error::DuplicateInput { input, .. } if input == "x"),
        "{err:?}"
    );
}

#[test]
fn dtype_mismatch() {
    let x = [0f64; 16];
    let err = mlp()
        .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
        .unwrap_err();
    match &err {
        Error::DtypeMismatch {
            model,
            input,
            expected,
            given,
        } => {
            assert_eq!((model.as_str(), input.as_str()), ("mlp", "x"));
            assert_eq!((*expected, *given), (DType::F32, DType::F64));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "model `mlp`, input `x`: expected dtype f32, given f64"
    );
}

#[test]
fn rank_mismatch() {
    let x = [0f32; 16];
    let err = mlp()
        .infer(&[("x", TensorView::from_slice(vec![16], &x))])
        .unwrap_err();
    match &err {
        Error::RankMismatch {
            input,
            expected,
            given,
            signature,
            shape,
            ..
        } => {
            assert_eq!(input, "x");
            assert_eq!((*expected, *given), (2, 1));
            assert_eq!(signature, "[batch, 16]");
            assert_eq!(shape, &vec![16]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn fixed_dim_mismatch() {
    let x = [0f32; 15];
    let err = mlp()
        .infer(&[("x", TensorView::from_slice(vec![1, 15], &x))])
        .unwrap_err();
    match &err {
        Error::DimMismatch {
            input,
            axis,
            expected,
            given,
            ..
        } => {
            assert_eq!(
                (input.as_str(), *axis, expected.as_str(), *given),
                ("x", 1, "16", 15)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("axis 1: expected 16, given 15"),
        "{err}"
    );
}

#[test]
fn symbolic_dim_disagreeing_across_inputs() {
    let m = Model::open(fixture("two_io.onnx")).unwrap();
    let f = [0f32; 12];
    let o = [0i64; 3];
    let err = m
        .infer(&[
            ("features", TensorView::from_slice(vec![4, 3], &f)),
            ("offsets", TensorView::from_slice(vec![3], &o)),
        ])
        .unwrap_err();
    match &err {
        Error::DimMismatch {
            input,
            axis: 0,
            expected,
            given: 3,
            ..
        } => {
            assert_eq!(input, "offsets");
            assert_eq!(expected, "n = 4");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn byte_length_mismatch() {
    let bytes = [0u8; 60];
    let err = mlp()
        .infer(&[("x", TensorView::new(DType::F32, vec![1, 16], &bytes))])
        .unwrap_err();
    match &err {
        Error::ByteLengthMismatch {
            model,
            input,
            expected,
            given,
            ..
        } => {
            assert_eq!(
                (model.as_str(), input.as_str(), *expected, *given),
                ("mlp", "x", 64, 60)
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("needs 64 bytes, given 60"),
        "{err}"
    );
}

#[test]
fn shape_overflow() {
    let err = mlp()
        .infer(&[(
            "x",
            TensorView::new(DType::F32, vec![usize::MAX / 8, 16], &[]),
        )])
        .unwrap_err();
    assert!(
        matches!(&err, Error::ShapeOverflow { input, .. } if input == "x"),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::ShapeOverflow);
}

#[test]
fn invalid_bool_bytes() {
    let m = Model::open(fixture("int_bool.onnx")).unwrap();
    let v = [1i64; 4];
    let keep = [1u8, 0, 7, 1];
    let err = m
        .infer(&[
            ("values", TensorView::from_slice(vec![1, 4], &v)),
            ("keep", TensorView::new(DType::Bool, vec![1, 4], &keep)),
        ])
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidTensorData { input, .. } if input == "keep"),
        "{err:?}"
    );
    assert!(err.to_string().contains("byte value 7"), "{err}");
}

#[test]
fn unknown_output() {
    let x = [0f32; 16];
    let err = mlp()
        .infer_with(
            &[("x", TensorView::from_slice(vec![1, 16], &x))],
            &InferOptions::default().with_outputs(["y", "logits"]),
        )
        .unwrap_err();
    match &err {
        Error::UnknownOutput {
            model,
            output,
            expected,
        } => {
            assert_eq!((model.as_str(), output.as_str()), ("mlp", "logits"));
            assert_eq!(expected, &vec!["y".to_string()]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn zero_rows_are_valid() {
    // A dynamic dim may be 0: an empty batch is a request, not an error.
    let out = mlp()
        .infer(&[("x", TensorView::new(DType::F32, vec![0, 16], &[]))])
        .unwrap();
    assert_eq!(out["y"].shape(), &[0, 4]);
}

#[test]
fn missing_file() {
    let err = Model::open(fixture("does_not_exist.onnx")).unwrap_err();
    assert!(
        matches!(&err, Error::ModelNotFound { path } if path.ends_with("does_not_exist.onnx")),
        "{err:?}"
    );
    assert!(err.to_string().contains("does_not_exist.onnx"), "{err}");
}

#[test]
fn directory_instead_of_file() {
    let err = Model::open(fixture("")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::ModelUnreadable);
    assert!(err.to_string().contains("is a directory"), "{err}");
}

#[test]
fn empty_file() {
    let err = Model::open(fixture("empty.onnx")).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidModel { model, reason } if model == "empty" && reason.contains("empty")),
        "{err:?}"
    );
}

#[test]
fn truncated_file() {
    let err = Model::open(fixture("truncated.onnx")).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidModel { model, .. } if model == "truncated"),
        "{err:?}"
    );
}

#[test]
fn corrupt_file() {
    let err = Model::open(fixture("corrupt.onnx")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidModel);
    let err =
        Model::from_bytes("garbage", b"definitely not protobuf", &Default::default()).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidModel { model, .. } if model == "garbage"),
        "{err:?}"
    );
    let err = Model::from_bytes("nothing", b"", &Default::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidModel);
}

#[test]
fn bad_session_options() {
    let mut opts = inferkit::ModelOptions::default();
    opts.session.intra_op_threads = 0;
    let err = Model::open_with(fixture("mlp.onnx"), &opts).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidArgument {
                name: "intra_op_threads",
                ..
            }
        ),
        "{err:?}"
    );
    let mut opts = inferkit::ModelOptions::default();
    opts.session.execution_providers = vec![inferkit::ExecutionProvider::TensorRt];
    let err = Model::open_with(fixture("mlp.onnx"), &opts).unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Unsupported { ref what, feature: None } if what.contains("TensorRT")
        ),
        "{err:?}"
    );
    // The message must not send users to a cargo feature that does not exist.
    assert!(!err.to_string().contains("cargo feature"), "{err}");
    // CPU is always there
    opts.session.execution_providers = vec![inferkit::ExecutionProvider::Cpu];
    Model::open_with(fixture("mlp.onnx"), &opts).unwrap();
}

#[test]
fn fixed_input_shapes_narrow_the_signature() {
    use inferkit::{Dim, ModelOptions};
    let open = |options: ModelOptions| Model::open_with(fixture("mlp.onnx"), &options);
    let model = open(ModelOptions::default().with_input_shape("x", &[2, 16])).unwrap();
    assert_eq!(
        model.signature().inputs[0].dims,
        vec![Dim::Fixed(2), Dim::Fixed(16)]
    );
    let two = vec![0f32; 32];
    assert_eq!(
        model
            .infer(&[("x", TensorView::from_slice(vec![2, 16], &two))])
            .unwrap()["y"]
            .shape(),
        &[2, 4]
    );
    let err = model
        .infer(&[("x", TensorView::from_slice(vec![1, 16], &two[..16]))])
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DimMismatch, "{err}");
    // A fixed dim must be kept, the rank too, and the input must exist.
    let err = open(ModelOptions::default().with_input_shape("x", &[2, 15])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    let err = open(ModelOptions::default().with_input_shape("x", &[2])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    let err = open(ModelOptions::default().with_input_shape("z", &[2, 16])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownInput, "{err}");
}
