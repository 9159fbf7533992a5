//! Real models, a real photograph: PaddleOCR's text-direction classifier and text detector
//! (from the rapidocr-onnxruntime wheel) fed by matplotlib's grace_hopper.jpg (from the matplotlib
//! wheel), both fetched by `.ci/provision-models.sh`, through pipelines declared in config.toml.
//! The references come from tests/fixtures/make_real_reference.py (Pillow + numpy + onnxruntime).
mod common;

use std::path::PathBuf;

use common::read_pack;
use inferkit::repository::{Registry, RegistryOptions, Select};
use inferkit::TensorView;

fn models() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    // The script is idempotent and offline once done. Where it cannot run (Windows under wine,
    // `make test-windows`), the harness has run it before.
    if cfg!(unix) {
        let status = std::process::Command::new(root.join(".ci/provision-models.sh"))
            .status()
            .expect("run .ci/provision-models.sh");
        assert!(status.success(), "provisioning the models failed");
    }
    let dir = root.join("target/models");
    assert!(
        dir.is_dir(),
        "{} is missing: run .ci/provision-models.sh",
        dir.display()
    );
    dir
}

struct Case {
    pack: &'static str,
    model: &'static str,
    pipeline: &'static str,
    /// Largest difference allowed between inferkit's and Pillow's preprocessed tensors: 2.5 levels
    /// of 255 after normalisation. JPEG decoders (zune-jpeg here, libjpeg-turbo in Pillow) and the
    /// resize's rounding each move a pixel by a level at most; measured: 2 levels.
    max_input_diff: f32,
    /// Largest difference allowed between the outputs of the two pipelines.
    max_output_diff: f32,
}

fn check(case: &Case) {
    let models = models();
    let dir = tempfile::tempdir().unwrap();
    let version = dir.path().join("m/1");
    std::fs::create_dir_all(&version).unwrap();
    std::fs::copy(models.join(case.model), version.join("model.onnx")).unwrap();
    std::fs::write(dir.path().join("m/config.toml"), case.pipeline).unwrap();
    let registry = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert!(registry.reload().unwrap().is_empty());
    let model = registry.model("m", Select::Default).unwrap();
    let photo = std::fs::read(models.join("grace_hopper.jpg")).unwrap();
    let reference = read_pack(case.pack);
    let (want_input, want_output) = (&reference[0].1, &reference[1].1);

    // 1. The preprocessed tensor against Pillow + numpy.
    let input = model.preprocess_encoded(&photo).unwrap();
    assert_eq!(input.shape(), want_input.shape());
    let (a, b) = (
        input.as_slice::<f32>().unwrap(),
        want_input.as_slice::<f32>().unwrap(),
    );
    let diffs: Vec<f32> = a.iter().zip(b).map(|(x, y)| (x - y).abs()).collect();
    let (max, mean) = (
        diffs.iter().cloned().fold(0.0, f32::max),
        diffs.iter().sum::<f32>() / diffs.len() as f32,
    );
    eprintln!(
        "{}: preprocessed tensor vs Pillow+numpy: max |diff| {max:.4}, mean {mean:.5}",
        case.pack
    );
    assert!(
        max <= case.max_input_diff && mean <= 0.01,
        "{}: max {max}, mean {mean}",
        case.pack
    );

    // 2. The model fed the reference tensor equals onnxruntime in Python fed the same tensor.
    let name = model.signature().inputs[0].name.to_string();
    let out = model
        .infer(&[(name.as_str(), TensorView::from(want_input))])
        .unwrap();
    common::assert_close(case.pack, &out[0], want_output);

    // 3. The whole pipeline on the photograph against the Python pipeline's outputs.
    let out = model
        .infer_pipeline(inferkit::PipelineInput::Encoded(&photo))
        .unwrap();
    let (a, b) = (
        out.outputs[0].as_slice::<f32>().unwrap(),
        want_output.as_slice::<f32>().unwrap(),
    );
    let max = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    eprintln!(
        "{}: outputs of the two pipelines: max |diff| {max:.4}",
        case.pack
    );
    assert!(
        max <= case.max_output_diff,
        "{}: outputs differ by {max}",
        case.pack
    );
}

const NORMALIZE_TAIL: &str =
    "{ op = \"layout\", from = \"hwc\", to = \"chw\" }, { op = \"add_batch_dim\" } ]\n";

#[test]
fn paddleocr_classifier_on_a_photograph() {
    let pipeline = format!(
        "[pipeline]\nimage = [ {{ op = \"resize\", width = 192, height = 48 }} ]\npre = [ {{ op = \"scale\", factor = 0.00392156862745098 }}, {{ op = \"normalize\", mean = [0.5, 0.5, 0.5], std = [0.5, 0.5, 0.5] }}, {NORMALIZE_TAIL}"
    );
    check(&Case {
        pack: "real_cls.tpk",
        model: "ch_ppocr_mobile_v2.0_cls_infer.onnx",
        pipeline: Box::leak(pipeline.into_boxed_str()),
        max_input_diff: 0.02,
        max_output_diff: 0.001,
    });
}

#[test]
fn paddleocr_detector_on_a_photograph() {
    let pipeline = format!(
        "[pipeline]\nimage = [ {{ op = \"resize\", width = 224, height = 160 }} ]\npre = [ {{ op = \"scale\", factor = 0.00392156862745098 }}, {{ op = \"normalize\", mean = [0.485, 0.456, 0.406], std = [0.229, 0.224, 0.225] }}, {NORMALIZE_TAIL}"
    );
    check(&Case {
        pack: "real_det.tpk",
        model: "ch_PP-OCRv4_det_infer.onnx",
        pipeline: Box::leak(pipeline.into_boxed_str()),
        max_input_diff: 0.045,
        max_output_diff: 0.05,
    });
}
