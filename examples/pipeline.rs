//! Pipelines: pre- and post-processing declared with the model, run by `Model::infer_pipeline`
//! on whatever the caller has: raw pixels, PNG or JPEG bytes, token ids (text too, with the
//! `tokenizer` feature).
//!
//!     cargo run --example pipeline
//!     cargo run --example pipeline --features tokenizer
//!
//! The same pipelines can be declared in a model's config.toml (`[pipeline]`); see
//! `examples/registry.rs` and the `inferkit::pipeline` docs.

use std::path::PathBuf;

use inferkit::pipeline::{
    Filter, Fit, ImageStep, ImageView, PipelineOutput, PipelineSpec, PixelFormat, PostStep,
    PreStep, SequenceSpec,
};
use inferkit::{Model, ModelOptions, PipelineInput};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn print_classes(what: &str, out: &PipelineOutput) {
    for class in out.classes.iter().flatten().flatten() {
        println!(
            "  {what}: {} (class {}) {:.3}",
            class.label.as_deref().unwrap_or("?"),
            class.index,
            class.score
        );
    }
}

fn main() -> Result<(), inferkit::Error> {
    // An image classifier: tiny_cnn takes f32 [batch, 3, 8, 8] and gives 4 scores. The pipeline
    // resizes any image to 8×8, scales to [0, 1], normalises per channel, reorders HWC to CHW and
    // adds the batch dim; then softmax and the 2 best classes with their labels.
    let image_spec = PipelineSpec::default()
        .with_image([ImageStep::Resize {
            width: 8,
            height: 8,
            fit: Fit::ShorterSide,
            filter: Filter::Bilinear,
            pad: 0,
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
        ])
        .with_post([
            PostStep::Softmax { axis: -1 },
            PostStep::TopK {
                k: 2,
                labels: Some(fixture("tiny_cnn_labels.txt").display().to_string()),
            },
        ]);
    let classifier = Model::open_with(
        fixture("tiny_cnn.onnx"),
        &ModelOptions::default().with_pipeline(image_spec),
    )?;

    // Raw pixels, as a camera or a GUI toolkit hands them over: BGR, rows padded to 4 bytes.
    let (width, height): (usize, usize) = (30, 20);
    let stride = (width * 3).next_multiple_of(4);
    let mut bgr = vec![0u8; stride * height];
    for y in 0..height {
        for x in 0..width {
            let px = &mut bgr[y * stride + x * 3..][..3];
            px.copy_from_slice(&[(x * 8) as u8, (y * 12) as u8, 200]);
        }
    }
    let view = ImageView::new(&bgr, PixelFormat::Bgr8, width, height, stride)?;
    print_classes("raw BGR pixels", &classifier.infer_pipeline(view)?);

    // PNG and JPEG bytes (the `decode` feature, on by default). Bytes say what they are.
    for file in ["image.png", "image.jpg"] {
        let bytes = std::fs::read(fixture(file)).expect("the fixture image");
        print_classes(
            file,
            &classifier.infer_pipeline(PipelineInput::Encoded(&bytes))?,
        );
    }

    // Token ids: tiny_text sums `input_ids * attention_mask`. The pipeline pads or truncates to
    // 6 ids and makes the attention mask, so padding does not count.
    let text_model = Model::open_with(
        fixture("tiny_text.onnx"),
        &ModelOptions::default()
            .with_pipeline(PipelineSpec::default().with_sequence(SequenceSpec::new(6))),
    )?;
    let ids: Vec<i64> = vec![5, 7, 9];
    let out = text_model.infer_pipeline(&ids)?;
    println!(
        "token ids {ids:?}: y = {:?}",
        out.outputs["y"].as_slice::<i64>()?
    );
    let out = text_model.infer_pipeline(&[1, 2, 3, 4, 5, 6, 7, 8])?;
    println!(
        "8 ids, truncated to 6: y = {:?}",
        out.outputs["y"].as_slice::<i64>()?
    );

    // Text, with a HuggingFace tokenizer.json (the `tokenizer` feature).
    #[cfg(feature = "tokenizer")]
    {
        use inferkit::pipeline::TextSpec;
        let tokenizer = fixture("tokenizer.json").display().to_string();
        let spec = PipelineSpec::default().with_text(TextSpec::new(tokenizer, 16));
        let model = Model::open_with(
            fixture("tiny_text.onnx"),
            &ModelOptions::default().with_pipeline(spec),
        )?;
        let out = model.infer_pipeline("the quick brown fox")?;
        println!("text: y = {:?}", out.outputs["y"].as_slice::<i64>()?);
    }
    Ok(())
}
