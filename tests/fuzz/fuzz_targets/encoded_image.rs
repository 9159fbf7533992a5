//! Arbitrary bytes as an encoded image: `inferkit::pipeline::decode` directly, then
//! `Model::infer_pipeline` with encoded bytes on the tiny CNN behind an image pipeline that resizes to its 8×8 input
//! (three of them, one per `fit`, chosen by the input's length). Undecodable bytes must be a typed
//! error, never a crash.
#![no_main]

mod common;

use std::sync::OnceLock;

use inferkit::pipeline::{decode, Filter, Fit, ImageStep, PipelineSpec, PreStep};
use inferkit::{Model, ModelOptions};
use libfuzzer_sys::fuzz_target;

fn models() -> &'static [Model] {
    static MODELS: OnceLock<Vec<Model>> = OnceLock::new();
    MODELS.get_or_init(|| {
        [
            (Fit::Exact, Filter::Bilinear),
            (Fit::Letterbox, Filter::Nearest),
            (Fit::ShorterSide, Filter::Linear),
        ]
        .into_iter()
        .map(|(fit, filter)| {
            let spec = PipelineSpec::default()
                .with_image([ImageStep::Resize {
                    width: 8,
                    height: 8,
                    fit,
                    filter,
                    pad: 114,
                }])
                .with_pre([
                    PreStep::Scale {
                        factor: 1.0 / 255.0,
                        offset: 0.0,
                    },
                    PreStep::Normalize {
                        mean: vec![0.485, 0.456, 0.406],
                        std: vec![0.229, 0.224, 0.225],
                        axis: -1,
                    },
                    PreStep::Layout {
                        from: "hwc".into(),
                        to: "chw".into(),
                    },
                    PreStep::AddBatchDim,
                ]);
            let options = ModelOptions::default()
                .with_instances(1)
                .with_pipeline(spec);
            Model::open_with(common::fixture("tiny_cnn.onnx"), &options)
                .expect("tiny_cnn.onnx opens with an image pipeline")
        })
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    common::init();
    let models = models();
    let decoded = decode(data);
    if let Ok((pixels, width, height)) = &decoded {
        assert_eq!(
            pixels.len(),
            width * height * 3,
            "decode: RGB8 of {width}×{height}"
        );
    }
    let model = &models[data.len() % models.len()];
    let _ = model.infer_pipeline(inferkit::PipelineInput::Encoded(data));
});
