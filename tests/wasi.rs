//! inferkit on tract, in the form it takes where ONNX Runtime cannot go. `make test-rust` runs
//! this natively; `make test-wasm` builds it for wasm32-wasip1 with the tract and decode features
//! only and runs it under Node.js's WASI (`tests/wasm/wasi.mjs`), one thread, no shared libraries.
#![cfg(feature = "tract")]
mod common;

use common::{fixture, read_pack};
use inferkit::pipeline::{ImageView, PipelineSpec, PixelFormat};
use inferkit::{Backend, ErrorCode, InferOptions, Model, ModelOptions, PipelineInput};

const WASM: bool = cfg!(target_family = "wasm");

fn tiny_cnn(backend: Backend, pipeline: &str) -> Model {
    let spec: PipelineSpec = toml::from_str(pipeline).unwrap();
    Model::open_with(
        fixture("tiny_cnn.onnx"),
        &ModelOptions::default()
            .with_backend(backend)
            .with_pipeline(spec),
    )
    .unwrap()
}

#[test]
fn an_image_pipeline_runs_on_tract() {
    // Where ONNX Runtime cannot be loaded, `Auto` runs on tract and ONNX Runtime is a typed error.
    if WASM {
        let err = Model::open(fixture("mlp.onnx")).unwrap_err();
        assert_eq!(err.code(), ErrorCode::RuntimeUnavailable, "{err}");
        assert!(
            err.to_string().contains("cannot load shared libraries"),
            "{err}"
        );
        let auto = tiny_cnn(Backend::Auto, "");
        assert_eq!(auto.backend(), Backend::Tract);
    }

    // Raw pixels through resize, scale, normalize and layout, against the reference computed with
    // Pillow, numpy and ONNX Runtime (tests/fixtures/make_fixtures.py), as tests/pipeline.rs checks
    // it on ONNX Runtime.
    let model = tiny_cnn(
        Backend::Tract,
        "image = [ { op = \"resize\", width = 8, height = 8 } ]\n\
         pre = [ { op = \"scale\", factor = 0.00392156862745098 }, \
                 { op = \"normalize\", mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225] }, \
                 { op = \"layout\", from = \"hwc\", to = \"chw\" }, { op = \"add_batch_dim\" } ]",
    );
    assert_eq!(model.backend(), Backend::Tract);
    let pack = read_pack("resize.tpk");
    let src = &pack.iter().find(|(n, _)| n == "src").unwrap().1;
    let (h, w) = (src.shape()[0], src.shape()[1]);
    let image = ImageView::new(src.as_bytes(), PixelFormat::Rgb8, w, h, w * 3).unwrap();
    let out = model.infer_pipeline(image).unwrap();
    let want = &read_pack("tiny_cnn.outputs.tpk")[0].1;
    let (got, want) = (
        out.outputs["y"].as_slice::<f32>().unwrap(),
        want.as_slice::<f32>().unwrap(),
    );
    for (a, b) in got.iter().zip(want) {
        assert!(
            (a - b).abs() <= 0.02 * b.abs().max(1.0),
            "got {got:?}, want {want:?}"
        );
    }

    // A PNG decoded, classified, labelled: top_k with the label file.
    let labels = fixture("tiny_cnn_labels.txt");
    let model = tiny_cnn(
        Backend::Tract,
        &format!(
            "image = [ {{ op = \"resize\", width = 8, height = 8 }} ]\n\
             pre = [ {{ op = \"scale\", factor = 0.00392157 }}, {{ op = \"layout\", from = \"hwc\", to = \"chw\" }}, {{ op = \"add_batch_dim\" }} ]\n\
             post = [ {{ op = \"softmax\" }}, {{ op = \"top_k\", k = 3, labels = {:?} }} ]",
            labels.display().to_string()
        ),
    );
    let png = std::fs::read(fixture("image.png")).unwrap();
    let out = model.infer_pipeline(PipelineInput::Encoded(&png)).unwrap();
    let classes = &out.classes.as_ref().expect("top_k classes")[0];
    assert_eq!(classes.len(), 3);
    assert!(
        classes.windows(2).all(|c| c[0].score >= c[1].score),
        "{classes:?}"
    );
    let names = std::fs::read_to_string(&labels).unwrap();
    for c in classes {
        let label = c.label.as_deref().expect("a label");
        assert!(names.lines().any(|l| l.trim() == label), "{label}");
    }
    // A request with a deadline arms the watchdog, whose thread cannot start on wasm32-wasip1: the
    // request still runs. A submitted one runs on this thread too (no helper thread starts), and
    // its callback is called before `submit` returns.
    let timed = model
        .infer_pipeline_with(
            PipelineInput::Encoded(&png),
            &InferOptions::default().with_timeout(std::time::Duration::from_secs(30)),
        )
        .unwrap();
    assert_eq!(timed.classes, out.classes);
    let (tx, rx) = std::sync::mpsc::channel();
    model
        .submit_pipeline_with_callback(
            PipelineInput::Encoded(&png),
            &InferOptions::default(),
            move |r| tx.send(r.map(|o| o.classes)).unwrap(),
        )
        .unwrap();
    let submitted = if WASM {
        rx.try_recv().expect("the callback ran on this thread")
    } else {
        rx.recv_timeout(std::time::Duration::from_secs(30)).unwrap()
    };
    assert_eq!(submitted.unwrap(), out.classes);
    // Deadlines and the request path are the same as anywhere: an expired request is refused.
    let err = model
        .infer_pipeline_with(
            PipelineInput::Encoded(&png),
            &InferOptions::default().with_deadline(std::time::Instant::now()),
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeadlineExceeded, "{err}");
}
