//! Values besides numeric tensors: what classical-ML and text models take and return.
//!
//!     cargo run --example values
//!
//! - a label encoder over strings (string tensor in, strings and ids out), also submitted;
//! - a classifier's ZipMap output, one `map(i64 → f32)` of class probabilities per row;
//! - a DictVectorizer fed a sparse feature map;
//! - an optional input, given or left out.
//!
//! The models are the test fixtures in tests/fixtures/values/ (tests/fixtures/make_value_fixtures.py).

use inferkit::{InferOptions, Map, Model, Tensor, TensorView, Value};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/values")
        .join(name)
}

fn main() -> Result<(), inferkit::Error> {
    // Strings in, strings and ids out.
    let words = Model::open(fixture("strings.onnx"))?;
    println!("{}", words.signature());
    let input = Tensor::from_strings(vec![3], &["cat", "dog", "emu"])?;
    let out = words.infer(&[("words", &input)])?;
    println!("  plural = {:?}", out["plural"].strings()?);
    println!("  ids    = {:?}", out["ids"].as_slice::<i64>()?);
    // A submitted request owns its inputs: tensors, or any Value.
    let future = words.submit(
        vec![("words".to_string(), Value::from(input))],
        &InferOptions::default(),
    )?;
    println!(
        "  ids    = {:?} (submitted)",
        future.wait()?["ids"].as_slice::<i64>()?
    );

    // A sequence of maps: one probability map per row.
    let zipmap = Model::open(fixture("zipmap.onnx"))?;
    println!("{}", zipmap.signature());
    let probs = [0.25f32, 0.75, 0.9, 0.1];
    let out = zipmap.infer(&[("probs", TensorView::from_slice(vec![2, 2], &probs))])?;
    let rows = out
        .value("by_id")
        .and_then(Value::as_sequence)
        .unwrap_or_default();
    for (i, row) in rows.iter().enumerate() {
        if let Some(map) = row.as_map() {
            let keys = map.keys().as_slice::<i64>()?;
            let values = map.values().as_slice::<f32>()?;
            let pairs: Vec<String> = keys
                .iter()
                .zip(values)
                .map(|(k, v)| format!("{k} → {v}"))
                .collect();
            println!("  row {i}: {{{}}}", pairs.join(", "));
        }
    }

    // A map in: sparse features by id.
    let dict = Model::open(fixture("dict_in.onnx"))?;
    println!("{}", dict.signature());
    let counts = Map::new(
        Tensor::from_vec(vec![2], vec![30i64, 10])?,
        Tensor::from_vec(vec![2], vec![3.0f32, 1.0])?,
    )?;
    let out = dict.infer(&[("counts", Value::Map(counts))])?;
    println!("  dense  = {:?}", out["dense"].as_slice::<f32>()?);

    // An optional input: given, then left out.
    let optional = Model::open(fixture("optional.onnx"))?;
    println!("{}", optional.signature());
    let x = Tensor::from_vec(vec![2], vec![1.5f32, 2.5])?;
    for given in [true, false] {
        let out = if given {
            optional.infer(&[("maybe", &x)])?
        } else {
            optional.infer::<Value>(&[])?
        };
        let same = out.value("same").and_then(Value::as_optional).flatten();
        println!(
            "  given: {given:5} → has = {:?}, same = {:?}",
            out["has"].as_slice::<bool>()?,
            same.and_then(Value::as_tensor)
                .map(|t| t.as_slice::<f32>().map(<[f32]>::to_vec))
                .transpose()?
        );
    }
    Ok(())
}
