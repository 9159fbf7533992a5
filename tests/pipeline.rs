//! Pipelines around real models: pre steps equal the same computation done by hand, post steps
//! give labelled classes, declared in config.toml, checked at load (naming the step), and timed
//! in the metrics.
mod common;

use common::fixture;
use inferkit::pipeline::{PipelineSpec, PostStep, PreStep};
use inferkit::repository::{Registry, RegistryOptions, Select, VersionState};
use inferkit::{Error, ErrorCode, Model, ModelOptions, PipelineInput, Tensor, TensorView};

fn with(spec: PipelineSpec) -> inferkit::Result<Model> {
    Model::open_with(
        fixture("mlp.onnx"),
        &ModelOptions::default().with_pipeline(spec),
    )
}

fn with_model(file: &str, spec: PipelineSpec) -> Model {
    Model::open_with(fixture(file), &ModelOptions::default().with_pipeline(spec))
        .unwrap_or_else(|e| panic!("{file}: {e}"))
}

#[test]
fn pre_steps_equal_the_same_steps_done_by_hand() {
    let model = with(PipelineSpec::default().with_pre([
        PreStep::Scale {
            factor: 0.5,
            offset: 1.0,
        },
        PreStep::Clip {
            min: -2.0,
            max: 4.0,
        },
        PreStep::AddBatchDim,
    ]))
    .unwrap();
    let raw: Vec<f32> = (0..16).map(|i| i as f32 - 5.0).collect();
    let by_hand: Vec<f32> = raw
        .iter()
        .map(|v| (v * 0.5 + 1.0).clamp(-2.0, 4.0))
        .collect();
    let want = model
        .infer(&[("x", TensorView::from_slice(vec![1, 16], &by_hand))])
        .unwrap();
    let got = model
        .infer_pipeline(Tensor::from_vec(vec![16], raw).unwrap())
        .unwrap();
    assert_eq!(got.outputs, want, "bitwise equal");
    assert!(got.classes.is_none());
    // u8 input is converted to f32 before the steps
    let bytes: Vec<u8> = (0..16).collect();
    let by_hand: Vec<f32> = bytes
        .iter()
        .map(|v| (*v as f32 * 0.5 + 1.0).clamp(-2.0, 4.0))
        .collect();
    let want = model
        .infer(&[("x", TensorView::from_slice(vec![1, 16], &by_hand))])
        .unwrap();
    assert_eq!(
        model
            .infer_pipeline(Tensor::from_vec(vec![16], bytes).unwrap())
            .unwrap()
            .outputs,
        want
    );
}

#[test]
fn pipeline_declared_in_config_with_labels() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("m");
    std::fs::create_dir_all(m.join("1")).unwrap();
    std::fs::copy(fixture("mlp.onnx"), m.join("1/model.onnx")).unwrap();
    std::fs::write(m.join("labels.txt"), "cat\ndog\nbird\nfish\n").unwrap();
    std::fs::write(
        m.join("config.toml"),
        "[pipeline]\ninput = \"x\"\noutput = \"y\"\npre = [ { op = \"add_batch_dim\" } ]\npost = [ { op = \"softmax\" }, { op = \"top_k\", k = 3, labels = \"labels.txt\" } ]\n",
    )
    .unwrap();
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let model = reg.model("m", Select::Default).unwrap();
    let x: Vec<f32> = (0..16).map(|i| (i % 5) as f32 - 2.0).collect();
    let out = model
        .infer_pipeline(Tensor::from_vec(vec![16], x.clone()).unwrap())
        .unwrap();
    let top = &out.classes.as_ref().unwrap()[0];
    assert_eq!(top.len(), 3);
    assert!(top[0].score >= top[1].score && top[1].score >= top[2].score);
    // the classes are the model's own softmaxed scores, labelled by index
    let logits = model
        .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
        .unwrap()["y"]
        .as_slice::<f32>()
        .unwrap()
        .to_vec();
    let best = (0..4)
        .max_by(|a, b| logits[*a].total_cmp(&logits[*b]))
        .unwrap();
    assert_eq!(top[0].index, best);
    assert_eq!(
        top[0].label.as_deref(),
        Some(["cat", "dog", "bird", "fish"][best])
    );
    let probs = out.outputs["y"].as_slice::<f32>().unwrap();
    assert!((probs.iter().sum::<f32>() - 1.0).abs() < 1e-5);

    // Pre and post times are in the metrics.
    let snap = model.metrics();
    assert_eq!(snap.preprocess_duration.count, 1);
    assert_eq!(snap.postprocess_duration.count, 1);
    assert!(model
        .metrics_prometheus()
        .contains("inferkit_preprocess_duration_us_count{model=\"m\",version=\"1\"} 1"));

    // A label file shorter than the classes fails the version at load, naming the step.
    std::fs::write(m.join("labels.txt"), "cat\ndog\nbird\n").unwrap();
    std::fs::create_dir_all(m.join("2")).unwrap();
    std::fs::copy(fixture("mlp.onnx"), m.join("2/model.onnx")).unwrap();
    let errors = reg.reload().unwrap();
    let err = errors
        .iter()
        .find(|e| e.code() == ErrorCode::PipelineConfig)
        .unwrap_or_else(|| panic!("{errors:?}"));
    assert!(
        err.to_string().contains("post[1] TopK") && err.to_string().contains("has 3 lines"),
        "{err}"
    );
    let st = reg.model_status("m").unwrap();
    assert!(
        matches!(&st.versions[1].state, VersionState::Failed(r) if r.contains("TopK")),
        "{st:?}"
    );
    assert_eq!(
        reg.model("m", Select::Default).unwrap().version(),
        1,
        "version 1 keeps serving"
    );
}

#[test]
fn pipelines_that_cannot_fit_the_model_fail_at_load() {
    let err = with(PipelineSpec::default().with_pre([PreStep::Layout {
        from: "hwc".into(),
        to: "chw".into(),
    }]))
    .unwrap_err();
    assert!(
        matches!(&err, Error::PipelineConfig { step, .. } if step == "pre[0] Layout"),
        "{err:?}"
    );
    let err =
        with(PipelineSpec::default().with_pre([PreStep::Cast { to: "i64".into() }])).unwrap_err();
    assert!(err.to_string().contains("takes f32"), "{err}");
    let err = with(PipelineSpec::default().with_input("nope")).unwrap_err();
    assert_eq!(err.code(), ErrorCode::PipelineConfig);
    let err = with(
        PipelineSpec::default()
            .with_post([PostStep::TopK { k: 2, labels: None }, PostStep::Sigmoid]),
    )
    .unwrap_err();
    assert!(err.to_string().contains("last step"), "{err}");
    // An unknown op in config.toml is a config error with its line.
    let msg = inferkit::repository::ModelConfig::parse(
        std::path::Path::new("m/config.toml"),
        "[pipeline]\npre = [ { op = \"blur\" } ]\n",
        &ModelOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("blur") && msg.contains("line 2"), "{msg}");
}

#[test]
fn a_step_that_fails_on_the_data_is_a_typed_error() {
    let model = with(PipelineSpec::default().with_pre([
        PreStep::Normalize {
            mean: vec![0.0, 0.0],
            std: vec![1.0, 1.0],
            axis: -1,
        },
        PreStep::Reshape { shape: vec![1, 16] },
    ]))
    .unwrap();
    let err = model
        .infer_pipeline(Tensor::from_vec(vec![4, 4], vec![0f32; 16]).unwrap())
        .unwrap_err();
    assert!(
        matches!(&err, Error::PipelineStep { step, reason, .. } if step == "pre[0] Normalize" && reason.contains("4 channels")),
        "{err:?}"
    );
    let ok = model
        .infer_pipeline(Tensor::from_vec(vec![8, 2], vec![0f32; 16]).unwrap())
        .unwrap();
    assert_eq!(ok.outputs["y"].shape(), &[1, 4]);
    let failed = model.metrics().requests_failed;
    assert_eq!(failed, vec![("pipeline_step".to_string(), 1)]);
}

#[test]
fn an_image_through_a_declared_pipeline_matches_the_pillow_numpy_reference() {
    use inferkit::pipeline::{Filter, Fit, ImageStep, ImageView, PixelFormat};
    let spec = PipelineSpec::default()
        .with_image([ImageStep::Resize {
            width: 8,
            height: 8,
            fit: Fit::Exact,
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
        ]);
    let model = Model::open_with(
        fixture("tiny_cnn.onnx"),
        &ModelOptions::default().with_pipeline(spec),
    )
    .unwrap();
    let pack = common::read_pack("resize.tpk");
    let src = &pack.iter().find(|(n, _)| n == "src").unwrap().1;
    // The same pixels as BGR with a padded stride: the pipeline converts them to RGB.
    let (h, w) = (src.shape()[0], src.shape()[1]);
    let stride = w * 3 + 5;
    let mut bgr = vec![0u8; stride * h];
    for y in 0..h {
        for x in 0..w {
            let p = &src.as_bytes()[(y * w + x) * 3..][..3];
            bgr[y * stride + x * 3..][..3].copy_from_slice(&[p[2], p[1], p[0]]);
        }
    }
    let want_input = &common::read_pack("tiny_cnn.inputs.tpk")[0].1;
    let want = &common::read_pack("tiny_cnn.outputs.tpk")[0].1;
    for view in [
        ImageView::new(src.as_bytes(), PixelFormat::Rgb8, w, h, w * 3).unwrap(),
        ImageView::new(&bgr, PixelFormat::Bgr8, w, h, stride).unwrap(),
    ] {
        let out = model.infer_pipeline(view).unwrap();
        let (got, want) = (
            out.outputs["y"].as_slice::<f32>().unwrap(),
            want.as_slice::<f32>().unwrap(),
        );
        // Resizing agrees with Pillow within one level of 255, so the outputs agree closely, not bitwise.
        for (a, b) in got.iter().zip(want) {
            assert!(
                (a - b).abs() <= 0.02 * b.abs().max(1.0),
                "got {got:?}, want {want:?}"
            );
        }
    }
    assert_eq!(want_input.shape(), &[1, 3, 8, 8]);
    // Bad images are typed errors naming the step.
    let err = ImageView::new(&bgr, PixelFormat::Bgr8, w, h, w * 3 - 1).unwrap_err();
    assert!(err.to_string().contains("stride"), "{err}");
    let gray = vec![0u8; w * h];
    let err = model
        .infer_pipeline(ImageView::new(&gray, PixelFormat::Gray8, w, h, w).unwrap())
        .unwrap_err();
    assert!(
        matches!(&err, Error::PipelineStep { step, .. } if step == "pre[1] Normalize"),
        "a gray image has 1 channel: {err:?}"
    );
    // Image steps that cannot feed the numeric steps fail at load.
    let err = Model::open_with(
        fixture("mlp.onnx"),
        &ModelOptions::default()
            .with_pipeline(PipelineSpec::default().with_image([ImageStep::SwapChannels])),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::PipelineConfig { step, .. } if step == "image"),
        "{err:?}"
    );
    // Image steps alone give u8 pixels; an f32 model input needs numeric steps after them.
    let err = Model::open_with(
        fixture("tiny_cnn.onnx"),
        &ModelOptions::default().with_pipeline(
            PipelineSpec::default()
                .with_image([ImageStep::Resize {
                    width: 8,
                    height: 8,
                    fit: Fit::Exact,
                    filter: Filter::Bilinear,
                    pad: 0,
                }])
                .with_pre([
                    PreStep::Layout {
                        from: "hwc".into(),
                        to: "chw".into(),
                    },
                    PreStep::AddBatchDim,
                    PreStep::Cast { to: "u8".into() },
                ]),
        ),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("produce u8") && err.to_string().contains("takes f32"),
        "{err}"
    );
}

#[test]
fn png_and_jpeg_decode_like_pillow_and_run_through_the_pipeline() {
    use inferkit::pipeline::{decode, Filter, Fit, ImageStep};
    let src = common::read_pack("resize.tpk").remove(0).1;
    // PNG is lossless: exactly the source pixels.
    let (png, w, h) = decode(&std::fs::read(fixture("image.png")).unwrap()).unwrap();
    assert_eq!((w, h), (src.shape()[1], src.shape()[0]));
    assert_eq!(png, src.as_bytes());
    // JPEG: decoders may differ in rounding; compare with Pillow's decoding of the same file.
    let (jpg, _, _) = decode(&std::fs::read(fixture("image.jpg")).unwrap()).unwrap();
    let pillow = common::read_pack("image_jpg_pillow.tpk").remove(0).1;
    let worst = jpg
        .iter()
        .zip(pillow.as_bytes())
        .map(|(a, b)| a.abs_diff(*b))
        .max()
        .unwrap();
    assert!(
        worst <= 4,
        "largest difference from Pillow's JPEG decoding: {worst}"
    );
    // Encoded bytes through the tiny CNN's pipeline match raw pixels through it.
    let spec = PipelineSpec::default()
        .with_image([ImageStep::Resize {
            width: 8,
            height: 8,
            fit: Fit::Exact,
            filter: Filter::Bilinear,
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
    let model = Model::open_with(
        fixture("tiny_cnn.onnx"),
        &ModelOptions::default().with_pipeline(spec),
    )
    .unwrap();
    let from_png = model
        .infer_pipeline(PipelineInput::Encoded(
            &std::fs::read(fixture("image.png")).unwrap(),
        ))
        .unwrap();
    let view = inferkit::pipeline::ImageView::new(
        src.as_bytes(),
        inferkit::pipeline::PixelFormat::Rgb8,
        w,
        h,
        w * 3,
    )
    .unwrap();
    assert_eq!(
        from_png.outputs,
        model.infer_pipeline(view).unwrap().outputs
    );
    // Not an image: a typed error naming the step.
    let err = model
        .infer_pipeline(PipelineInput::Encoded(b"\x89PNG but not really"))
        .unwrap_err();
    assert!(
        matches!(&err, Error::PipelineStep { step, model, .. } if step == "decode" && model == "tiny_cnn"),
        "{err:?}"
    );
}

#[test]
fn token_ids_are_padded_or_truncated_with_an_attention_mask() {
    use inferkit::pipeline::SequenceSpec;
    let spec = PipelineSpec::default().with_sequence(SequenceSpec::new(6));
    let model = Model::open_with(
        fixture("tiny_text.onnx"),
        &ModelOptions::default().with_pipeline(spec),
    )
    .unwrap();
    // tiny_text answers sum(input_ids * attention_mask): padding must not count, truncation must cut.
    let short = model.infer_pipeline(&[5, 7, 9]).unwrap();
    assert_eq!(short.outputs["y"].as_slice::<i64>().unwrap(), &[21]);
    let long = model.infer_pipeline(&[1, 2, 3, 4, 5, 6, 7, 8]).unwrap();
    assert_eq!(
        long.outputs["y"].as_slice::<i64>().unwrap(),
        &[21],
        "only the first 6 ids are kept"
    );
    // a pad id other than 0 is masked out as well
    let spec = PipelineSpec::default().with_sequence(SequenceSpec::new(4).with_pad_id(99));
    let model = Model::open_with(
        fixture("tiny_text.onnx"),
        &ModelOptions::default().with_pipeline(spec),
    )
    .unwrap();
    assert_eq!(
        model.infer_pipeline(&[3]).unwrap().outputs["y"]
            .as_slice::<i64>()
            .unwrap(),
        &[3]
    );
    // a model without input_ids cannot take a sequence
    let spec = PipelineSpec::default().with_sequence(SequenceSpec::new(4));
    let err = Model::open_with(
        fixture("mlp.onnx"),
        &ModelOptions::default().with_pipeline(spec),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::PipelineConfig { step, .. } if step == "sequence"),
        "{err:?}"
    );
    assert_eq!(
        Model::open(fixture("tiny_text.onnx"))
            .unwrap()
            .infer_pipeline(&[1])
            .unwrap_err()
            .code(),
        ErrorCode::PipelineConfig
    );
}

#[test]
fn pipeline_requests_honour_their_options() {
    use inferkit::pipeline::SequenceSpec;
    use inferkit::InferOptions;
    use std::time::{Duration, Instant};
    // sequence: (tokens: f32[batch, seq, 8]) -> (pooled: f32[batch, 8], scores: f32[batch, seq]);
    // the post steps read `scores`.
    let model = with_model(
        "sequence.onnx",
        PipelineSpec::default()
            .with_output("scores")
            .with_pre([PreStep::AddBatchDim])
            .with_post([PostStep::Softmax { axis: -1 }]),
    );
    let tokens =
        || Tensor::from_vec(vec![3, 8], (0..24).map(|i| i as f32 / 10.0).collect()).unwrap();
    let all = model.infer_pipeline(tokens()).unwrap();
    assert_eq!(all.outputs.len(), 2);
    // `outputs` selects: only `scores` comes back, post-processed as before.
    let one = model
        .infer_pipeline_with(tokens(), &InferOptions::default().with_outputs(["scores"]))
        .unwrap();
    assert_eq!(one.outputs.len(), 1);
    assert_eq!(one.outputs.name(0), Some("scores"));
    assert_eq!(one.outputs["scores"], all.outputs["scores"]);
    let sum: f32 = one.outputs["scores"]
        .as_slice::<f32>()
        .unwrap()
        .iter()
        .sum();
    assert!((sum - 1.0).abs() < 1e-5, "softmaxed: {sum}");
    // A deadline already passed: the model does not run.
    let past = InferOptions::default().with_deadline(Instant::now() - Duration::from_millis(1));
    let err = model.infer_pipeline_with(tokens(), &past).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeadlineExceeded, "{err}");
    // The same through the token-id path, which feeds several inputs.
    let text = with_model(
        "tiny_text.onnx",
        PipelineSpec::default().with_sequence(SequenceSpec::new(4)),
    );
    let err = text.infer_pipeline_with(&[1, 2], &past).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeadlineExceeded, "{err}");
    let ok = text
        .infer_pipeline_with(
            &[1, 2],
            &InferOptions::default().with_timeout(Duration::from_secs(60)),
        )
        .unwrap();
    assert_eq!(ok.outputs["y"].as_slice::<i64>().unwrap(), &[3]);
    assert_eq!(
        text.metrics().requests_failed,
        vec![("deadline_exceeded".to_string(), 1)]
    );
}

#[test]
fn submitted_pipeline_requests_answer_like_blocking_ones() {
    use inferkit::pipeline::SequenceSpec;
    use inferkit::InferOptions;
    use std::sync::mpsc;
    use std::time::Duration;
    // tiny_cnn with image steps and top_k: the callback gets the same outputs and classes as a
    // blocking call, with the post steps applied.
    let spec: PipelineSpec = toml::from_str(
        "image = [ { op = \"resize\", width = 8, height = 8 } ]\n\
         pre = [ { op = \"scale\", factor = 0.00392157 }, { op = \"layout\", from = \"hwc\", to = \"chw\" }, { op = \"add_batch_dim\" } ]\n\
         post = [ { op = \"softmax\" }, { op = \"top_k\", k = 2 } ]",
    )
    .unwrap();
    let model = with_model("tiny_cnn.onnx", spec);
    let pixels: Vec<u8> = (0..12 * 10 * 3).map(|i| (i * 7 % 251) as u8).collect();
    let image = inferkit::pipeline::ImageView::new(
        &pixels,
        inferkit::pipeline::PixelFormat::Rgb8,
        12,
        10,
        36,
    )
    .unwrap();
    let blocking = model.infer_pipeline(image).unwrap();
    let (tx, rx) = mpsc::channel();
    let tx2 = tx.clone();
    model
        .submit_pipeline_with_callback(image, &InferOptions::default(), move |r| {
            tx2.send(r).unwrap()
        })
        .unwrap();
    let submitted = rx.recv_timeout(Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!(submitted.outputs["y"], blocking.outputs["y"]);
    assert_eq!(submitted.classes, blocking.classes);
    assert_eq!(submitted.classes.as_ref().map(|c| c[0].len()), Some(2));

    // A step that fails before the model is returned at once; the callback is never called.
    let text = with_model(
        "tiny_text.onnx",
        PipelineSpec::default().with_sequence(SequenceSpec::new(4)),
    );
    let err = text
        .submit_pipeline_with_callback("no tokenizer", &InferOptions::default(), move |r| {
            tx.send(r).unwrap()
        })
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::PipelineConfig, "{err}");
    assert!(rx.recv_timeout(Duration::from_millis(200)).is_err());
    // Token ids through the submit path; pre and post are timed as for blocking requests.
    let (tx, rx) = mpsc::channel();
    text.submit_pipeline_with_callback(&[4, 5, 6, 7, 8], &InferOptions::default(), move |r| {
        tx.send(r).unwrap()
    })
    .unwrap();
    let out = rx.recv_timeout(Duration::from_secs(30)).unwrap().unwrap();
    assert_eq!(
        out.outputs["y"].as_slice::<i64>().unwrap(),
        &[22],
        "truncated to 4 ids"
    );
    let m = text.metrics();
    assert_eq!(m.requests_success, 1);
    assert_eq!(m.requests_failed, vec![("pipeline_config".to_string(), 1)]);
    assert_eq!(m.preprocess_duration.count, 1);
    assert_eq!(m.postprocess_duration.count, 1);
}
