//! Containment: nothing a request, a file, an option or a callback does may crash the host, hang
//! it, or hand one caller another caller's data. Each test reproduces a defect found by testing
//! inferkit as an attacker would (issue "Containment", items numbered as there); the C-side ones are
//! in tests/c/test_containment.c (callbacks, pending handles and the empty output selection in
//! tests/c/test_submit.c and tests/c/test_request.c).
mod common;

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use common::{assert_close, fixture, read_pack};
use inferkit::pipeline::{PipelineSpec, PostStep, PreStep};
use inferkit::repository::{Registry, RegistryOptions, Select, VersionState};
use inferkit::{
    BatchingOptions, DType, Error, ErrorCode, InferOptions, Model, ModelOptions, PipelineInput,
    SessionOptions, Tensor, TensorView, Value,
};

fn put_version(root: &Path, model: &str, folder: &str, fixture_name: &str) {
    let dir = root.join(model).join(folder);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture(fixture_name), dir.join("model.onnx")).unwrap();
}

fn put_config(root: &Path, model: &str, text: &str) {
    std::fs::create_dir_all(root.join(model)).unwrap();
    std::fs::write(root.join(model).join("config.toml"), text).unwrap();
}

/// Runs `f` on another thread and fails the test if it has not returned within `limit`: a hang is
/// a test failure, not a stuck test run.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("did not return within {limit:?}: a hang"))
}

fn mlp_input(seed: usize, rows: usize) -> Vec<f32> {
    (0..rows * 16)
        .map(|i| ((seed * 31 + i) % 17) as f32 / 8.0 - 1.0)
        .collect()
}

// 2. Allocations sized by options, configs or signatures are bounded, and refused with a typed error.

#[test]
fn a_huge_queue_size_is_a_typed_error_and_the_queue_grows_lazily() {
    for size in [1usize << 40, usize::MAX] {
        let opts = ModelOptions::default()
            .with_batching(BatchingOptions::default().with_max_queue_size(size));
        let err = Model::open_with(fixture("mlp.onnx"), &opts).unwrap_err();
        assert!(
            matches!(
                &err,
                Error::InvalidArgument {
                    name: "max_queue_size",
                    ..
                }
            ),
            "{err:?}"
        );
    }
    // The largest documented size loads at once: memory follows the requests, not the limit.
    let opts = ModelOptions::default().with_batching(
        BatchingOptions::default().with_max_queue_size(inferkit::scheduler::MAX_QUEUE_SIZE),
    );
    let model = Model::open_with(fixture("mlp.onnx"), &opts).unwrap();
    let x = mlp_input(1, 1);
    model
        .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
        .unwrap();
}

#[test]
fn a_huge_queue_size_in_config_toml_is_a_config_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    put_version(dir.path(), "m", "1", "mlp.onnx");
    put_config(
        dir.path(),
        "m",
        "[batching]\nmax_queue_size = 1099511627776\n",
    );
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let status = reg.model_status("m").unwrap();
    let error = status
        .error
        .expect("the model shows its configuration error");
    assert!(error.contains("max_queue_size"), "{error}");
    assert!(error.contains("line 2"), "{error}");
    assert!(
        status.versions.is_empty(),
        "nothing loads without a valid configuration"
    );
}

#[test]
fn warming_a_model_with_a_40_gb_input_fails_the_version_not_the_host() {
    let dir = tempfile::tempdir().unwrap();
    put_version(dir.path(), "huge", "1", "huge_fixed.onnx");
    put_config(
        dir.path(),
        "huge",
        "[warmup]\ninputs = \"zeros\"\ncount = 1\n",
    );
    put_version(dir.path(), "fine", "1", "mlp.onnx");
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let status = reg.model_status("huge").unwrap();
    match &status.versions[0].state {
        VersionState::Failed(reason) => {
            assert!(reason.contains("warmup"), "{reason}");
            assert!(reason.contains("268435456 bytes"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    // The rest of the repository serves.
    reg.model("fine", Select::Default).unwrap();
}

#[test]
fn every_numeric_option_has_a_bound() {
    let session = |s: SessionOptions| ModelOptions::default().with_session(s);
    let batching = |b: BatchingOptions| ModelOptions::default().with_batching(b);
    let cases: Vec<(&str, ModelOptions)> = vec![
        (
            "intra_op_threads",
            session(SessionOptions::default().with_intra_op_threads(100_000)),
        ),
        (
            "inter_op_threads",
            session(SessionOptions::default().with_inter_op_threads(100_000)),
        ),
        ("instances", ModelOptions::default().with_instances(100_000)),
        (
            "max_batch_size",
            batching(BatchingOptions::default().with_max_batch_size(usize::MAX)),
        ),
        (
            "max_queue_delay_us",
            batching(BatchingOptions::default().with_max_queue_delay_us(u64::MAX)),
        ),
        (
            "default_timeout_us",
            batching(BatchingOptions::default().with_default_timeout_us(u64::MAX)),
        ),
    ];
    for (name, opts) in cases {
        // Checked before any session is made: the call returns at once.
        let err = within(Duration::from_secs(20), move || {
            Model::open_with(fixture("mlp.onnx"), &opts).unwrap_err()
        });
        match &err {
            Error::InvalidArgument { name: n, reason } => {
                assert_eq!(*n, name);
                assert!(reason.contains("between"), "{reason}");
            }
            other => panic!("{name}: {other:?}"),
        }
    }
    // A request timeout too far ahead for the clock is no deadline, never a panic.
    let model = Model::open(fixture("mlp.onnx")).unwrap();
    let x = mlp_input(2, 1);
    model
        .infer_with(
            &[("x", TensorView::from_slice(vec![1, 16], &x))],
            &InferOptions::default().with_timeout(Duration::MAX),
        )
        .unwrap();
}

// 3. Element types ort rc.14 does not know are read as numbers, never as its enum.

#[test]
fn newer_element_types_are_read_by_their_numbers() {
    // ONNX Runtime's numbers for these differ from ONNX's (see session.rs); issue 7 found them
    // crashing in ort's enum conversion. They are now carried as packed bytes (tests/values.rs).
    for (file, input, dtype) in [
        ("int2_in.onnx", true, DType::I2),
        ("uint2_out.onnx", false, DType::U2),
        ("f8e8m0_in.onnx", true, DType::F8E8M0),
    ] {
        let model = Model::open(fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let sig = model.signature();
        let spec = if input {
            &sig.inputs[0]
        } else {
            &sig.outputs[0]
        };
        assert_eq!(spec.dtype, dtype, "{file}");
    }
}

// 5. Pipeline parameters are checked at load.

#[test]
fn pipeline_numbers_that_would_panic_or_overflow_are_refused_at_load() {
    let open = |spec: PipelineSpec| {
        Model::open_with(
            fixture("mlp.onnx"),
            &ModelOptions::default().with_pipeline(spec),
        )
    };
    let cases = vec![
        (
            "NaN",
            PreStep::Clip {
                min: 0.0,
                max: f32::NAN,
            },
        ),
        ("min 2 > max 1", PreStep::Clip { min: 2.0, max: 1.0 }),
        (
            "finite",
            PreStep::Scale {
                factor: f32::INFINITY,
                offset: 0.0,
            },
        ),
        (
            "finite",
            PreStep::Normalize {
                mean: vec![f32::NAN],
                std: vec![1.0],
                axis: -1,
            },
        ),
        (
            "elements",
            PreStep::Reshape {
                shape: vec![1 << 40, 1 << 40],
            },
        ),
    ];
    for (needle, step) in cases {
        let err = open(PipelineSpec::default().with_pre([step.clone()])).unwrap_err();
        assert_eq!(err.code(), ErrorCode::PipelineConfig, "{step:?}: {err}");
        assert!(err.to_string().contains(needle), "{step:?}: {err}");
    }
    let err = open(PipelineSpec::default().with_post([PostStep::Dequantize {
        scale: f32::NAN,
        zero_point: 0.0,
    }]))
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PipelineConfig, "{err}");
}

// 6. A panic while a session is held never loses the session.

#[test]
fn a_panicking_callback_is_contained_and_the_model_keeps_serving() {
    let model = std::sync::Arc::new(
        Model::open_with(
            fixture("mlp.onnx"),
            &ModelOptions::default().with_instances(1),
        )
        .unwrap(),
    );
    let x = Tensor::from_vec(vec![1, 16], mlp_input(3, 1)).unwrap();
    // Direct path: the callback runs inside this call, on this thread.
    let handle = model
        .submit_with_callback(
            vec![("x".into(), x.clone())],
            &InferOptions::default(),
            |_| panic!("a host callback with a bug"),
        )
        .expect("the panic does not reach the caller");
    assert!(handle.is_done());
    // The one session came back: blocking requests and callbacks still complete.
    let m = model.clone();
    let y = within(Duration::from_secs(20), move || {
        let x = mlp_input(3, 1);
        m.infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
            .unwrap()
    });
    assert_eq!(y["y"].shape(), &[1, 4]);
    let (tx, rx) = mpsc::channel();
    model
        .submit_with_callback(vec![("x".into(), x)], &InferOptions::default(), move |r| {
            let _ = tx.send(r.is_ok());
        })
        .unwrap();
    assert!(rx.recv_timeout(Duration::from_secs(20)).unwrap());
    common::assert_settles(&model);
}

// 7. Batching across requests is the model owner's choice.

/// 8 threads send 3-row requests to a model whose rows depend on each other; each answer must be
/// what the model gives for that request alone.
fn hammer_row_mixing(model: &Model, reference: &Model) -> usize {
    let wrong = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for t in 0..8 {
            let wrong = &wrong;
            s.spawn(move || {
                for k in 0..150 {
                    let x: Vec<f32> = (0..12).map(|i| (t * 1000 + k * 12 + i) as f32).collect();
                    let view = [("x", TensorView::from_slice(vec![3, 4], &x))];
                    let got = model.infer(&view).unwrap();
                    if got != reference.infer(&view).unwrap() {
                        wrong.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            });
        }
    });
    wrong.into_inner()
}

#[test]
fn by_default_no_request_sees_another_requests_rows() {
    for file in ["reverse_rows.onnx", "batch_mean.onnx"] {
        let reference =
            Model::open_with(fixture(file), &ModelOptions::default().with_instances(1)).unwrap();
        // One session for 8 threads: requests queue, and would be batched if batching were on.
        let model =
            Model::open_with(fixture(file), &ModelOptions::default().with_instances(1)).unwrap();
        assert!(!model.batchable(), "{file}: batching is off by default");
        assert_eq!(hammer_row_mixing(&model, &reference), 0, "{file}");
        let stats = model.stats();
        assert_eq!(
            stats.executions, stats.requests_run,
            "{file}: one run per request"
        );
    }
}

#[test]
fn batching_is_turned_on_by_the_owner() {
    let model = Model::open_with(
        fixture("mlp.onnx"),
        &ModelOptions::default().with_batching(BatchingOptions::default().with_max_batch_size(8)),
    )
    .unwrap();
    assert!(model.batchable());
    // And from config.toml.
    let dir = tempfile::tempdir().unwrap();
    put_version(dir.path(), "m", "1", "reverse_rows.onnx");
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert!(!reg.model("m", Select::Default).unwrap().batchable());
    put_config(dir.path(), "m", "[batching]\nmax_batch_size = 8\n");
    put_version(dir.path(), "m", "2", "reverse_rows.onnx");
    reg.reload().unwrap();
    assert!(reg.model("m", Select::Version(2)).unwrap().batchable());
}

// 8. Version folders are canonical numbers; the others are reported.

#[test]
fn only_canonical_version_folders_are_versions_and_the_rest_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    put_version(dir.path(), "m", "1", "mlp.onnx");
    for folder in ["0002", "+3", "v4", "0"] {
        put_version(dir.path(), "m", folder, "mlp_v2.onnx");
    }
    std::fs::create_dir_all(dir.path().join("m/5")).unwrap(); // no model.onnx
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let status = reg.model_status("m").unwrap();
    // `+3` was read as version 3 and left the model with nothing under `latest = 1`.
    assert_eq!(reg.model("m", Select::Default).unwrap().version(), 1);
    let ignored: Vec<(&str, &str)> = status
        .ignored
        .iter()
        .map(|f| (f.name.as_str(), f.reason.as_str()))
        .collect();
    let names: Vec<&str> = ignored.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, vec!["+3", "0", "0002", "5", "v4"], "{ignored:?}");
    for (name, reason) in &ignored {
        let want = match *name {
            "v4" => "not a version number",
            "5" => "has no model.onnx",
            _ => "not a canonical version number",
        };
        assert!(reason.contains(want), "{name}: {reason}");
    }
    let json = serde_json::to_string(&status).unwrap();
    assert!(json.contains("\"ignored\""), "{json}");
}

// 9. Files stay inside the repository.

#[cfg(unix)]
#[test]
fn files_outside_the_root_are_not_read_unless_allowed() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("labels.txt"), "a\nb\nc\nd\n").unwrap();
    put_version(outside.path(), "elsewhere", "1", "mlp.onnx");
    let dir = tempfile::tempdir().unwrap();
    let labels = outside.path().join("labels.txt");
    // A label file named by absolute path, and by `..`.
    put_version(dir.path(), "abs", "1", "mlp.onnx");
    put_config(
        dir.path(),
        "abs",
        &format!(
            "[pipeline]\npost = [{{ op = \"top_k\", k = 1, labels = \"{}\" }}]\n",
            labels.display()
        ),
    );
    put_version(dir.path(), "dotdot", "1", "mlp.onnx");
    put_config(
        dir.path(),
        "dotdot",
        "[warmup]\ninputs = \"file\"\nfile = \"../../x.tpk\"\ncount = 1\n",
    );
    // A model folder that is a link out of the root, and a version folder that is one.
    std::os::unix::fs::symlink(outside.path().join("elsewhere"), dir.path().join("linked"))
        .unwrap();
    std::fs::create_dir_all(dir.path().join("vlink")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("elsewhere/1"),
        dir.path().join("vlink/1"),
    )
    .unwrap();

    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    for name in ["abs", "dotdot", "linked"] {
        let status = reg.model_status(name).unwrap();
        let error = status.error.unwrap_or_else(|| panic!("{name}: no error"));
        assert!(
            error.contains("outside the repository root"),
            "{name}: {error}"
        );
        assert!(status.versions.is_empty(), "{name}: nothing loaded");
        assert!(reg.model(name, Select::Default).is_err());
    }
    let vlink = reg.model_status("vlink").unwrap();
    assert!(vlink.versions.is_empty());
    assert!(vlink.ignored[0]
        .reason
        .contains("outside the repository root"));

    // A host that means it can allow it.
    let reg = Registry::open(
        dir.path(),
        RegistryOptions::default().with_allow_outside_paths(true),
    )
    .unwrap();
    reg.model("abs", Select::Default).unwrap();
    reg.model("linked", Select::Default).unwrap();
    reg.model("vlink", Select::Default).unwrap();
}

// 10. Encoded images have a pixel limit, checked from the header.

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG whose header declares `width × height` RGB pixels, with a little zero data.
fn png_declaring(width: u32, height: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    // zlib stream of a few zero bytes (stored block).
    chunk(
        b"IDAT",
        &[
            0x78, 0x01, 0x01, 0x04, 0x00, 0xfb, 0xff, 0, 0, 0, 0, 0, 0x04, 0, 0x01,
        ],
    );
    chunk(b"IEND", &[]);
    png
}

#[test]
fn an_image_that_declares_too_many_pixels_is_refused_before_decoding() {
    let image_model = |max_pixels: Option<u64>| {
        Model::open_with(
            fixture("tiny_cnn.onnx"),
            &ModelOptions::default().with_pipeline({
                // The field, not its setter: the setter takes a number and this may be None.
                let mut spec = PipelineSpec::default()
                    .with_image([inferkit::pipeline::ImageStep::Resize {
                        width: 8,
                        height: 8,
                        fit: Default::default(),
                        filter: Default::default(),
                        pad: 0,
                    }])
                    .with_pre([
                        PreStep::Scale {
                            factor: 1.0 / 255.0,
                            offset: 0.0,
                        },
                        PreStep::Layout {
                            from: "hwc".into(),
                            to: "chw".into(),
                        },
                        PreStep::AddBatchDim,
                    ]);
                spec.max_pixels = max_pixels;
                spec
            }),
        )
        .unwrap()
    };
    let model = image_model(None);
    // 291 KB that decode to 10000×10000 RGB (300 MB, 100 MP): over the 64 MP default.
    let bomb = std::fs::read(fixture("bomb.png")).unwrap();
    for (bytes, size) in [
        (bomb, "10000×10000"),
        (png_declaring(60_000, 60_000), "60000×60000"),
    ] {
        let started = std::time::Instant::now();
        let err = model
            .infer_pipeline(PipelineInput::Encoded(&bytes))
            .unwrap_err();
        assert_eq!(err.code(), ErrorCode::PipelineStep, "{err}");
        let msg = err.to_string();
        assert!(msg.contains(size) && msg.contains("max_pixels"), "{msg}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "refused from the header, not after decoding: {:?}",
            started.elapsed()
        );
    }
    // The limit is the model's to set.
    let png = std::fs::read(fixture("image.png")).unwrap();
    model.infer_pipeline(PipelineInput::Encoded(&png)).unwrap();
    let strict = image_model(Some(100));
    let err = strict
        .infer_pipeline(PipelineInput::Encoded(&png))
        .unwrap_err();
    assert!(err.to_string().contains("limit of 100 pixels"), "{err}");
    let err = Model::open_with(
        fixture("tiny_cnn.onnx"),
        &ModelOptions::default().with_pipeline(PipelineSpec::default().with_max_pixels(0)),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PipelineConfig, "{err}");
}

// 12. Models with external data load through the registry, after the integrity check.

#[test]
fn external_data_models_load_from_a_registry_with_a_checksum() {
    let dir = tempfile::tempdir().unwrap();
    let v1 = dir.path().join("ext/1");
    std::fs::create_dir_all(&v1).unwrap();
    for f in ["model.onnx", "weights.bin"] {
        std::fs::copy(fixture(&format!("external/{f}")), v1.join(f)).unwrap();
    }
    let sha = {
        use sha2::Digest;
        let bytes = std::fs::read(v1.join("model.onnx")).unwrap();
        sha2::Sha256::digest(&bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    std::fs::write(v1.join("model.onnx.sha256"), &sha).unwrap();
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let m = reg
        .model("ext", Select::Default)
        .unwrap_or_else(|e| panic!("{e}\n{:?}", reg.status()));
    let inputs = read_pack("external/model.inputs.tpk");
    let want = read_pack("external/model.outputs.tpk");
    let views: Vec<(&str, TensorView<'_>)> =
        inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
    let got = m.infer(&views).unwrap();
    assert_close("y", &got["y"], &want[0].1);
}

// 13. Models with no inputs.

#[test]
fn a_model_without_inputs_loads_and_runs() {
    let model = Model::open(fixture("no_inputs.onnx")).unwrap();
    assert!(model.signature().inputs.is_empty());
    let out = model.infer::<Value>(&[]).unwrap();
    assert_eq!(
        out["y"].as_slice::<f32>().unwrap(),
        &[0., 1., 2., 3., 4., 5.]
    );
    let want = read_pack("no_inputs.outputs.tpk");
    assert_close("y", &out["y"], &want[0].1);
    // Through a registry, warmed up.
    let dir = tempfile::tempdir().unwrap();
    put_version(dir.path(), "c", "1", "no_inputs.onnx");
    put_config(dir.path(), "c", "[warmup]\ncount = 2\n");
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let out = reg
        .model("c", Select::Default)
        .unwrap()
        .infer::<Value>(&[])
        .unwrap();
    assert_eq!(out["y"].shape(), &[2, 3]);
}

// 14. Every model folder is visible in status.

#[test]
fn a_model_with_an_invalid_config_is_listed_with_its_error() {
    let dir = tempfile::tempdir().unwrap();
    put_version(dir.path(), "broken", "1", "mlp.onnx");
    put_config(
        dir.path(),
        "broken",
        "[batching]\nmax_batch_size = \"lots\"\n",
    );
    put_version(dir.path(), "good", "1", "mlp.onnx");
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert_eq!(reg.models(), vec!["broken", "good"]);
    let status = reg.status();
    let broken = status.iter().find(|s| s.name == "broken").unwrap();
    let error = broken.error.as_deref().unwrap();
    assert!(
        error.contains("config.toml") && error.contains("max_batch_size"),
        "{error}"
    );
    assert!(error.contains("line 2"), "{error}");
    assert!(status
        .iter()
        .find(|s| s.name == "good")
        .unwrap()
        .error
        .is_none());
    let err = reg.model("broken", Select::Default).unwrap_err();
    assert_eq!(err.code(), ErrorCode::NoVersionAvailable);
    // Fixing the file is picked up by the next reload.
    put_config(dir.path(), "broken", "[batching]\nmax_batch_size = 4\n");
    reg.reload().unwrap();
    assert!(reg.model_status("broken").unwrap().error.is_none());
    reg.model("broken", Select::Default).unwrap();
}

// 16. Warmup is counted apart from traffic.

#[test]
fn warmup_requests_are_counted_separately() {
    let dir = tempfile::tempdir().unwrap();
    put_version(dir.path(), "m", "1", "mlp.onnx");
    put_config(
        dir.path(),
        "m",
        "[warmup]\ninputs = \"random\"\ncount = 3\n",
    );
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let m = reg.model("m", Select::Default).unwrap();
    let snap = m.metrics();
    assert_eq!(snap.warmup_requests, 3);
    assert_eq!(snap.requests_success, 0);
    assert_eq!(snap.executions, 0);
    let x = mlp_input(4, 1);
    m.infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
        .unwrap();
    assert_eq!(m.metrics().requests_success, 1);
    let text = reg.metrics_prometheus();
    assert!(
        text.contains("inferkit_warmup_requests_total{model=\"m\",version=\"1\"} 3"),
        "{text}"
    );
    assert!(
        text.contains("inferkit_inference_request_success_total{model=\"m\",version=\"1\"} 1"),
        "{text}"
    );
}

// 17. Smaller ones.

#[test]
fn an_empty_output_selection_means_all_outputs_everywhere() {
    let model = Model::open(fixture("two_io.onnx")).unwrap();
    let inputs = read_pack("two_io.inputs.tpk");
    let views: Vec<(&str, TensorView<'_>)> =
        inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
    let all = model.infer(&views).unwrap();
    let none = InferOptions::default().with_outputs(Vec::<String>::new());
    assert_eq!(model.infer_with(&views, &none).unwrap(), all);
}

#[test]
fn a_dim_above_i64_max_is_a_validation_error() {
    let model = Model::open(fixture("sequence.onnx")).unwrap();
    let huge = (i64::MAX as usize) + 1;
    let err = model
        .infer(&[(
            "tokens",
            TensorView::new(inferkit::DType::F32, &[0, huge, 8], &[]),
        )])
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::ShapeOverflow, "{err}");
}

#[test]
fn an_input_name_with_a_nul_byte_is_refused_at_open_not_truncated() {
    // ONNX Runtime's C API would report `a\0b` as `a`, which no request could feed.
    for load in [
        Model::open(fixture("nul_name.onnx")),
        Model::from_bytes(
            "nul_name",
            &std::fs::read(fixture("nul_name.onnx")).unwrap(),
            &ModelOptions::default(),
        ),
    ] {
        let err = load.unwrap_err();
        assert_eq!(err.code(), ErrorCode::Unsupported, "{err}");
        assert!(err.to_string().contains("`a\\0b` has a NUL byte"), "{err}");
    }
    // Models with ordinary names are untouched by the check (also one with external data).
    Model::open(fixture("external/model.onnx")).unwrap();
}

/// A session keeps its output values from run to run once two runs in a row had the same input
/// dims, and ONNX Runtime writes the next outputs into them. That must never show: each caller's
/// outputs are its own (a later run does not change them), and an output whose shape follows the
/// input's values (NonZero) comes out right when the shape changes under the same input dims.
#[test]
fn outputs_kept_from_run_to_run_are_never_seen() {
    let one = ModelOptions::default().with_instances(1);
    let model = Model::open_with(fixture("nonzero.onnx"), &one).unwrap();
    let nonzero = |x: &[f32]| -> Vec<i64> {
        let out = model
            .infer(&[("x", TensorView::from_slice(vec![x.len()], x))])
            .unwrap();
        assert_eq!(out["y"].shape()[0], 1);
        out["y"].as_slice::<i64>().unwrap().to_vec()
    };
    for _ in 0..3 {
        assert_eq!(nonzero(&[1.0, 0.0, 1.0]), [0, 2]);
    }
    // The same input dims, another output shape: the kept value no longer fits.
    assert_eq!(nonzero(&[1.0, 1.0, 1.0]), [0, 1, 2]);
    for _ in 0..3 {
        assert_eq!(nonzero(&[0.0, 0.0, 1.0]), [2]);
        assert_eq!(nonzero(&[0.0, 5.0, 1.0]), [1, 2]);
    }

    let mlp = Model::open_with(fixture("mlp.onnx"), &one).unwrap();
    let run = |seed: usize, rows: usize| {
        let x = mlp_input(seed, rows);
        mlp.infer(&[("x", TensorView::from_slice(vec![rows, 16], &x))])
            .unwrap()
    };
    // Each input's outputs, from a fresh session.
    let want: Vec<Vec<f32>> = (0..6)
        .map(|seed| {
            let fresh = Model::open_with(fixture("mlp.onnx"), &one).unwrap();
            let x = mlp_input(seed, 2);
            fresh
                .infer(&[("x", TensorView::from_slice(vec![2, 16], &x))])
                .unwrap()["y"]
                .as_slice::<f32>()
                .unwrap()
                .to_vec()
        })
        .collect();
    let mut held = Vec::new();
    for (seed, want) in want.iter().enumerate() {
        let out = run(seed, 2);
        assert_eq!(out["y"].as_slice::<f32>().unwrap(), &want[..]);
        held.push(out);
        // Other dims in between: the kept values are dropped and made again.
        if seed == 3 {
            assert_eq!(run(9, 5)["y"].shape(), &[5, 4]);
        }
    }
    // Outputs handed out earlier were not written by the runs after them.
    for (seed, out) in held.iter().enumerate() {
        assert_eq!(out["y"].as_slice::<f32>().unwrap(), &want[seed][..]);
    }
}

/// A session keeps the input value it made over a caller's bytes and feeds it again while callers
/// lend bytes at the same address, of the same length and dims. Each run must read the bytes as
/// they are then: one buffer refilled before every run (with the same dims three runs in a row
/// and more, so that kept output values are in use too), and the buffer's first rows lent with
/// fewer or more rows (the same address, other dims), give what fresh sessions give.
#[test]
fn input_values_kept_from_run_to_run_read_each_runs_bytes() {
    let one = ModelOptions::default().with_instances(1);
    let mlp = Model::open_with(fixture("mlp.onnx"), &one).unwrap();
    let expected = |x: &[f32], rows: usize| {
        // A fresh session each time: nothing kept from an earlier run.
        let fresh = Model::open_with(fixture("mlp.onnx"), &one).unwrap();
        fresh
            .infer(&[("x", TensorView::from_slice(vec![rows, 16], x))])
            .unwrap()["y"]
            .as_slice::<f32>()
            .unwrap()
            .to_vec()
    };
    let mut buffer = vec![0f32; 4 * 16];
    let mut seed = 0;
    for rows in [4, 4, 1, 1, 2, 4] {
        for _ in 0..4 {
            seed += 1;
            buffer.copy_from_slice(&mlp_input(seed, 4));
            let x = &buffer[..rows * 16];
            let out = mlp
                .infer(&[("x", TensorView::from_slice(vec![rows, 16], x))])
                .unwrap();
            assert_eq!(out["y"].shape(), &[rows, 4], "seed {seed}");
            assert_eq!(
                out["y"].as_slice::<f32>().unwrap(),
                &expected(x, rows)[..],
                "seed {seed}, {rows} rows"
            );
        }
    }
}

/// Outputs that ONNX Runtime does not compute into the run's output values: a graph input
/// returned as an output, and an output asked for twice. Each must still come out right on every
/// run of one session, the runs after the second included (when the session keeps its output
/// values).
#[test]
fn kept_output_values_and_outputs_that_are_inputs_or_asked_for_twice() {
    let one = ModelOptions::default().with_instances(1);
    let model = Model::open_with(fixture("values/passthrough.onnx"), &one).unwrap();
    for i in 0..6 {
        let x = [i as f32, -2.0, 3.25, 8.0];
        let out = model
            .infer(&[("x", TensorView::from_slice(vec![4], &x))])
            .unwrap();
        assert_eq!(out["x"].as_slice::<f32>().unwrap(), &x, "run {i}");
        let neg: Vec<f32> = x.iter().map(|v| -v).collect();
        assert_eq!(out["y"].as_slice::<f32>().unwrap(), &neg[..], "run {i}");
    }
    let mlp = Model::open_with(fixture("mlp.onnx"), &one).unwrap();
    let twice = InferOptions::default().with_outputs(["y", "y"]);
    for i in 0..6 {
        let x = mlp_input(i, 2);
        let want = mlp
            .infer(&[("x", TensorView::from_slice(vec![2, 16], &x))])
            .unwrap();
        let out = mlp
            .infer_with(&[("x", TensorView::from_slice(vec![2, 16], &x))], &twice)
            .unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!(
            out[0].as_slice::<f32>().unwrap(),
            want["y"].as_slice::<f32>().unwrap(),
            "run {i}"
        );
        assert_eq!(
            out[1].as_slice::<f32>().unwrap(),
            want["y"].as_slice::<f32>().unwrap(),
            "run {i}"
        );
    }
    let constant = Model::open_with(fixture("no_inputs.onnx"), &one).unwrap();
    let none: [(&str, TensorView<'_>); 0] = [];
    let first = constant.infer(&none).unwrap();
    for i in 0..4 {
        assert_eq!(constant.infer(&none).unwrap()["y"], first["y"], "run {i}");
    }
}
