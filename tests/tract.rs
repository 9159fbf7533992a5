//! The tract backend (the `tract` feature): the same models, answers, batching, deadlines and
//! errors as on ONNX Runtime. References are ONNX Runtime's outputs (the fixtures' packs, written
//! by onnxruntime in Python, and runs on ONNX Runtime side by side).
#![cfg(feature = "tract")]
mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{assert_close, fixture, read_pack};
use inferkit::repository::{Registry, RegistryOptions, Select};
use inferkit::{
    Backend, BatchingOptions, ErrorCode, InferOptions, Model, ModelOptions, Tensor, TensorView,
};

fn on(backend: Backend) -> ModelOptions {
    ModelOptions::default().with_backend(backend)
}

/// tract sums in its own order (its own kernels): floats agree with ONNX Runtime's within this
/// relative difference, measured at 2e-7 on these fixtures.
fn assert_near(what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dtype(), want.dtype(), "{what}: dtype");
    assert_eq!(got.shape(), want.shape(), "{what}: shape");
    if want.dtype().name().starts_with('f') {
        let (g, w) = (got.to_f32_vec().unwrap(), want.to_f32_vec().unwrap());
        for (i, (a, b)) in g.iter().zip(&w).enumerate() {
            let tol = 1e-4 * a.abs().max(b.abs()) + 1e-5;
            assert!(
                (a - b).abs() <= tol,
                "{what}[{i}]: tract {a}, ONNX Runtime {b}"
            );
        }
    } else {
        assert_close(what, got, want);
    }
}

/// Runs a fixture's inputs on tract and compares with ONNX Runtime's reference outputs.
fn check_fixture(name: &str) -> Result<(), inferkit::Error> {
    let model = Model::open_with(fixture(&format!("{name}.onnx")), &on(Backend::Tract))?;
    assert_eq!(model.backend(), Backend::Tract);
    let inputs = read_pack(&format!("{name}.inputs.tpk"));
    let want = read_pack(&format!("{name}.outputs.tpk"));
    let views: Vec<(&str, TensorView<'_>)> =
        inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
    let got = model.infer(&views)?;
    assert_eq!(got.len(), want.len(), "{name}: output count");
    for (i, (wname, wt)) in want.iter().enumerate() {
        assert_eq!(got.name(i), Some(wname.as_str()), "{name}: output order");
        assert_near(&format!("{name}.{wname}"), &got[i], wt);
    }
    Ok(())
}

#[test]
fn fixtures_match_onnx_runtime() {
    // Every fixture with reference packs. Those tract cannot load say why, as a typed error.
    let supported = [
        "batch_mean",
        "f16",
        "gather",
        "int_bool",
        "mlp",
        "mlp_large",
        "mlp_v2",
        "no_inputs",
        "sequence",
        "slow",
        "tiny_cnn",
        "tiny_text",
        "two_io",
    ];
    for name in supported {
        check_fixture(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    // identity_all passes every element type through, bf16 and the 8-bit floats included, which
    // tract does not have; reverse_rows slices with a negative step along a dynamic dim, which
    // tract's StridedSlice does not do.
    for name in ["identity_all", "reverse_rows"] {
        let err = check_fixture(name).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidModel, "{name}: {err}");
        eprintln!("{name} on tract: {err}");
    }
}

#[test]
fn signatures_match_onnx_runtime() {
    for name in [
        "mlp",
        "mlp_large",
        "two_io",
        "f16",
        "int_bool",
        "sequence",
        "tiny_cnn",
    ] {
        let ort = Model::open(fixture(&format!("{name}.onnx"))).unwrap();
        let tract =
            Model::open_with(fixture(&format!("{name}.onnx")), &on(Backend::Tract)).unwrap();
        assert_eq!(tract.signature(), ort.signature(), "{name}");
        assert_eq!(tract.batchable(), ort.batchable(), "{name}");
    }
}

#[test]
fn batched_requests_each_get_their_own_rows() {
    let batching = BatchingOptions::default()
        .with_max_batch_size(16)
        .with_batchable(true);
    let model = Arc::new(
        Model::open_with(
            fixture("mlp.onnx"),
            &on(Backend::Tract).with_instances(1).with_batching(batching),
        )
        .unwrap(),
    );
    let reference = Model::open_with(
        fixture("mlp.onnx"),
        &on(Backend::OnnxRuntime).with_instances(1),
    )
    .unwrap();
    let input =
        |i: usize| -> Vec<f32> { (0..16).map(|j| ((i * 16 + j) % 97) as f32 / 97.0).collect() };
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let model = model.clone();
            std::thread::spawn(move || {
                (0..50)
                    .map(|k| {
                        let x = input(t * 1000 + k);
                        let out = model
                            .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
                            .unwrap();
                        (x, out["y"].clone())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for t in threads {
        for (x, y) in t.join().unwrap() {
            let want = reference
                .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
                .unwrap();
            assert_near("mlp row", &y, &want["y"]);
        }
    }
    assert!(model.stats().executions <= 400, "{:?}", model.stats());
    common::assert_settles(&model);
}

#[test]
fn a_running_request_is_stopped_at_its_deadline_and_can_be_cancelled() {
    // chain.onnx: 64 MatMul + Tanh on x f32[rows, 256]. 20,000 rows take seconds; tract stops the
    // run before the next operator once the watchdog sets the flag.
    let model =
        Model::open_with(fixture("chain.onnx"), &on(Backend::Tract).with_instances(1)).unwrap();
    let big = Tensor::zeros(inferkit::DType::F32, vec![20_000, 256]).unwrap();
    let small = Tensor::from_vec(vec![1, 256], vec![0.5f32; 256]).unwrap();
    // How long the whole run takes, to show that a stop is not the end of the run.
    let t0 = Instant::now();
    model.infer(&[("x", big.view())]).unwrap();
    let whole = t0.elapsed();
    let t0 = Instant::now();
    let err = model
        .infer_with(
            &[("x", big.view())],
            &InferOptions::default().with_timeout(Duration::from_millis(100)),
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeadlineExceeded, "{err}");
    let stopped_after = t0.elapsed();
    // The next run on the same session is whole and right.
    let out = model.infer(&[("x", small.view())]).unwrap();
    let reference = Model::open_with(fixture("chain.onnx"), &on(Backend::OnnxRuntime)).unwrap();
    assert_near(
        "chain",
        &out["y"],
        &reference.infer(&[("x", small.view())]).unwrap()["y"],
    );
    eprintln!(
        "chain.onnx on tract: stopped after {stopped_after:?}, the whole run takes {whole:?}"
    );
    assert!(
        stopped_after * 3 < whole,
        "stopped after {stopped_after:?} of {whole:?}"
    );

    // Cancelled while it runs. Thread A holds the one session with a shorter run; the request
    // submitted meanwhile waits in the queue until A's call takes it and runs it.
    let model = Arc::new(model);
    let a = {
        let model = model.clone();
        let mid = Tensor::zeros(inferkit::DType::F32, vec![2_000, 256]).unwrap();
        std::thread::spawn(move || model.infer(&[("x", mid.view())]).map(|_| ()))
    };
    while model.stats().idle_instances > 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let (tx, rx) = std::sync::mpsc::channel();
    let handle = model
        .submit_with_callback(
            vec![("x".to_string(), big.clone())],
            &InferOptions::default(),
            move |r| tx.send(r).unwrap(),
        )
        .unwrap();
    let t0 = Instant::now();
    while model.stats().queued > 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "never left the queue"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let t0 = Instant::now();
    while !handle.cancel() {
        assert!(!handle.is_done(), "finished without being cancelled");
        assert!(t0.elapsed() < Duration::from_secs(10), "never running");
        std::thread::sleep(Duration::from_millis(2));
    }
    let cancelled = Instant::now();
    let err = rx
        .recv_timeout(whole)
        .expect("the run stopped")
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::Cancelled, "{err}");
    // A cancelled request is answered CANCELLED even when its run is not stopped; that it was
    // stopped shows in the time its callback took.
    assert!(
        cancelled.elapsed() * 4 < whole,
        "the callback came {:?} after the cancel; the whole run takes {whole:?}",
        cancelled.elapsed()
    );
    a.join().unwrap().unwrap();
    common::assert_settles(&model);
}

#[test]
fn models_tract_cannot_run_are_typed_errors_at_load() {
    let open = |name: &str| Model::open_with(fixture(name), &on(Backend::Tract)).unwrap_err();
    // No Loop operator in tract: the error names it.
    let err = open("loop.onnx");
    assert_eq!(err.code(), ErrorCode::InvalidModel, "{err}");
    assert!(err.to_string().contains("Loop"), "{err}");
    // Sequences are not tract values.
    assert_eq!(open("values/seq_len.onnx").code(), ErrorCode::InvalidModel);
    for bad in ["corrupt.onnx", "truncated.onnx", "empty.onnx"] {
        let err = open(bad);
        assert_eq!(err.code(), ErrorCode::InvalidModel, "{bad}: {err}");
    }
    assert_eq!(
        Model::open_with(fixture("nope.onnx"), &on(Backend::Tract))
            .unwrap_err()
            .code(),
        ErrorCode::ModelNotFound
    );
}

#[test]
fn wrong_inputs_are_refused_before_tract_sees_them() {
    let model = Model::open_with(fixture("mlp.onnx"), &on(Backend::Tract)).unwrap();
    let x = vec![0f32; 15];
    let err = model
        .infer(&[("x", TensorView::from_slice(vec![1, 15], &x))])
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DimMismatch, "{err}");
    let err = model.infer::<TensorView<'_>>(&[]).unwrap_err();
    assert_eq!(err.code(), ErrorCode::MissingInput, "{err}");
}

#[test]
fn a_registry_model_runs_on_the_backend_its_config_names() {
    let dir = tempfile::tempdir().unwrap();
    for (name, backend) in [("on_tract", "tract"), ("on_ort", "onnxruntime")] {
        let version = dir.path().join(name).join("1");
        std::fs::create_dir_all(&version).unwrap();
        std::fs::copy(fixture("tiny_text.onnx"), version.join("model.onnx")).unwrap();
        std::fs::write(
            dir.path().join(name).join("config.toml"),
            format!("[instances]\nbackend = \"{backend}\"\n[pipeline]\nsequence = {{ max_length = 6 }}\n"),
        )
        .unwrap();
    }
    let registry = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert!(registry.reload().unwrap().is_empty());
    let tract = registry.model("on_tract", Select::Default).unwrap();
    let ort = registry.model("on_ort", Select::Default).unwrap();
    assert_eq!(
        (tract.backend(), ort.backend()),
        (Backend::Tract, Backend::OnnxRuntime)
    );
    // A pipeline on tract: ids padded to 6 with an attention mask; tiny_text sums the kept ids.
    let out = tract.infer_pipeline(&[5i64, 7, 9][..]).unwrap();
    assert_eq!(out.outputs["y"].as_slice::<i64>().unwrap(), &[21]);
    assert_eq!(
        out.outputs["y"],
        ort.infer_pipeline(&[5i64, 7, 9][..]).unwrap().outputs["y"]
    );
    let metrics = registry.metrics_prometheus();
    assert!(metrics.contains("model=\"on_tract\""), "{metrics}");
}

#[test]
fn real_models_match_onnx_runtime() {
    // PaddleOCR's classifier and detector (fetched by .ci/provision-models.sh, as tests/real_models.rs
    // uses them), fed the reference's input tensor; the reference output is ONNX Runtime's.
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let status = std::process::Command::new(root.join(".ci/provision-models.sh"))
        .status()
        .expect("run .ci/provision-models.sh");
    assert!(status.success(), "provisioning the models failed");
    // The classifier's input is [-1, 3, ?, ?], and a Reshape's target is computed from those
    // dims: tract types a graph before it runs it, and cannot type this one with them unknown.
    // That is a typed error at load; fixing the input's shape (as the app's pipeline does: it
    // resizes every image to one size) lets tract type it.
    let err = Model::open_with(
        root.join("target/models/ch_ppocr_mobile_v2.0_cls_infer.onnx"),
        &on(Backend::Tract),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidModel, "{err}");
    assert!(err.to_string().contains("Reshape"), "{err}");
    assert!(
        err.to_string()
            .contains("input `x` has dims the file leaves open"),
        "{err}"
    );
    assert!(err.to_string().contains("with_input_shape"), "{err}");
    // A misspelt input is named as such, before tract tries to type the graph without it; a shape
    // that does not fit shows the file's open dims as `?`.
    let cls = root.join("target/models/ch_ppocr_mobile_v2.0_cls_infer.onnx");
    let err = Model::open_with(
        &cls,
        &on(Backend::Tract).with_input_shape("image", &[1, 3, 48, 192]),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownInput, "{err}");
    let err = Model::open_with(
        &cls,
        &on(Backend::Tract).with_input_shape("x", &[1, 48, 192]),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument, "{err}");
    assert!(err.to_string().contains("[?, 3, ?, ?]"), "{err}");
    for (pack, file) in [
        ("real_cls.tpk", "ch_ppocr_mobile_v2.0_cls_infer.onnx"),
        ("real_det.tpk", "ch_PP-OCRv4_det_infer.onnx"),
    ] {
        let reference = read_pack(pack);
        let (input, want) = (&reference[0].1, &reference[1].1);
        let model = Model::open_with(
            root.join("target/models").join(file),
            &on(Backend::Tract).with_input_shape("x", input.shape()),
        )
        .unwrap_or_else(|e| panic!("{file}: {e}"));
        let t0 = Instant::now();
        let out = model.infer(&[("x", input.view())]).unwrap();
        eprintln!("{file} on tract: {:?}", t0.elapsed());
        assert_near(pack, &out[0], want);
        // The fixed shape is the signature's: another is refused before tract sees it.
        let other = Tensor::zeros(inferkit::DType::F32, vec![1, 3, 32, 32]).unwrap();
        let err = model.infer(&[("x", other.view())]).unwrap_err();
        assert_eq!(err.code(), ErrorCode::DimMismatch, "{err}");
    }
}

#[test]
fn fixed_input_shapes_are_checked_against_the_file_on_tract_too() {
    let open = |options: ModelOptions| {
        Model::open_with(fixture("mlp.onnx"), &options.with_backend(Backend::Tract))
    };
    for bad in [&[2usize, 15][..], &[2][..]] {
        let err = open(ModelOptions::default().with_input_shape("x", bad)).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidArgument, "{bad:?}: {err}");
        assert!(err.to_string().contains("does not fit"), "{err}");
    }
    let err = open(ModelOptions::default().with_input_shape("z", &[2, 16])).unwrap_err();
    assert_eq!(err.code(), ErrorCode::UnknownInput, "{err}");
    // The inputs' signature is ONNX Runtime's; tract also knows the outputs' sizes then.
    let fixed = ModelOptions::default().with_input_shape("x", &[2, 16]);
    let tract = open(fixed.clone()).unwrap();
    let ort = Model::open_with(fixture("mlp.onnx"), &fixed).unwrap();
    assert_eq!(tract.signature().inputs, ort.signature().inputs);
    assert_eq!(
        tract.signature().outputs[0].dims,
        vec![inferkit::Dim::Fixed(2), inferkit::Dim::Fixed(4)]
    );
}
