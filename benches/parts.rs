//! Criterion benchmarks of the small parts on the request path.
//!
//!     cargo bench --bench parts
use criterion::{criterion_group, criterion_main, Criterion};
use inferkit::{BatchingOptions, Model, ModelOptions, Tensor, TensorView};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn parts(c: &mut Criterion) {
    let model = Model::open_with(
        fixture("mlp.onnx"),
        &ModelOptions::default()
            .with_instances(1)
            .with_batching(BatchingOptions::default()),
    )
    .expect("mlp");
    let x = vec![0.25f32; 16];
    let inputs = [("x", TensorView::from_slice(vec![1, 16], &x))];
    c.bench_function("validate mlp request", |b| {
        b.iter(|| model.signature().validate("mlp", &inputs).expect("valid"))
    });
    c.bench_function("infer mlp, 1 row, direct path", |b| {
        b.iter(|| model.infer(&inputs).expect("infer"))
    });
    let x32 = vec![0.25f32; 32 * 16];
    let inputs32 = [("x", TensorView::from_slice(vec![32, 16], &x32))];
    c.bench_function("infer mlp, 32 rows, direct path", |b| {
        b.iter(|| model.infer(&inputs32).expect("infer"))
    });
    let arr = ndarray::Array2::<f32>::zeros((64, 256));
    c.bench_function("Tensor::from_array 64x256 f32", |b| {
        b.iter(|| Tensor::from_array(arr.view()))
    });
}

criterion_group!(benches, parts);
criterion_main!(benches);
