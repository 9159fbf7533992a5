//! Text pipelines (the `tokenizer` feature): a HuggingFace tokenizer.json gives the same
//! input_ids, attention_mask and token_type_ids as the Python `tokenizers` package, and the model
//! fed them gives onnxruntime's answers. Run by `make test` as `cargo test --features tokenizer --test text`.
#![cfg(feature = "tokenizer")]
mod common;

use common::{fixture, read_pack};
use inferkit::pipeline::{PipelineSpec, TextSpec};
use inferkit::repository::{Registry, RegistryOptions, Select};
use inferkit::{Error, ErrorCode, Model, ModelOptions};

const SENTENCES: [&str; 3] = [
    "inferkit serves models inside your process",
    "the quick brown fox jumps over the lazy dog",
    "batching pays when sessions are busy and models are small, which is often the case",
];

fn spec() -> PipelineSpec {
    PipelineSpec::default().with_text(TextSpec::new(
        fixture("tokenizer.json").to_string_lossy().into_owned(),
        16,
    ))
}

#[test]
fn tokens_match_the_python_tokenizers_package() {
    let model = Model::open_with(
        fixture("tiny_text.onnx"),
        &ModelOptions::default().with_pipeline(spec()),
    )
    .unwrap();
    let want = read_pack("text.tpk");
    let get = |n: String| {
        want.iter()
            .find(|(name, _)| *name == n)
            .map(|(_, t)| t.clone())
            .unwrap()
    };
    let reference = &read_pack("tiny_text.outputs.tpk")[0].1;
    for (i, sentence) in SENTENCES.iter().enumerate() {
        let inputs = model.preprocess_text(sentence).unwrap();
        // tiny_text takes input_ids and attention_mask, not token_type_ids
        assert_eq!(
            inputs.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
            vec!["input_ids", "attention_mask"]
        );
        assert_eq!(
            inputs[0].1,
            get(format!("input_ids_{i}")),
            "input_ids of {sentence:?}"
        );
        assert_eq!(
            inputs[1].1,
            get(format!("attention_mask_{i}")),
            "attention_mask of {sentence:?}"
        );
        let out = model.infer_pipeline(*sentence).unwrap();
        assert_eq!(
            out.outputs["y"].as_slice::<i64>().unwrap()[0],
            reference.as_slice::<i64>().unwrap()[i],
            "model output for {sentence:?}"
        );
    }
    // the third sentence is longer than 16 tokens: truncated, all 16 attended
    assert!(model.preprocess_text(SENTENCES[2]).unwrap()[1]
        .1
        .as_slice::<i64>()
        .unwrap()
        .iter()
        .all(|m| *m == 1));
    assert_eq!(
        model.metrics().preprocess_duration.count,
        7,
        "3 preprocess_text, 3 infer_pipeline, 1 more above"
    );
}

#[test]
fn text_pipelines_declared_in_config_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("t/1")).unwrap();
    std::fs::copy(fixture("tiny_text.onnx"), dir.path().join("t/1/model.onnx")).unwrap();
    std::fs::copy(
        fixture("tokenizer.json"),
        dir.path().join("t/tokenizer.json"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("t/config.toml"),
        "[pipeline.text]\ntokenizer = \"tokenizer.json\"\nmax_length = 16\n",
    )
    .unwrap();
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let m = reg.model("t", Select::Default).unwrap();
    assert_eq!(
        m.preprocess_text(SENTENCES[0]).unwrap()[0].1,
        read_pack("text.tpk")[0].1
    );

    // A model without input_ids, a missing tokenizer file, a pipeline without text.
    let err = Model::open_with(
        fixture("mlp.onnx"),
        &ModelOptions::default().with_pipeline(spec()),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::PipelineConfig { step, reason, .. } if step == "text" && reason.contains("input_ids")),
        "{err:?}"
    );
    let mut missing = spec();
    missing.text.as_mut().unwrap().tokenizer = "nope.json".into();
    let err = Model::open_with(
        fixture("tiny_text.onnx"),
        &ModelOptions::default().with_pipeline(missing),
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope.json"), "{err}");
    let plain = Model::open(fixture("tiny_text.onnx")).unwrap();
    assert_eq!(
        plain.infer_pipeline("hello").unwrap_err().code(),
        ErrorCode::PipelineConfig
    );
}
