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
    // A submitted request that the submitting thread runs at once (a session idle): its result
    // is ready before `submit` returns, and nobody ever sleeps on it.
    let owned = vec![(
        "x".to_string(),
        Tensor::from_vec(vec![1, 16], x.clone()).expect("tensor"),
    )];
    let options = inferkit::InferOptions::default();
    c.bench_function("submit and wait, mlp, 1 row, run on submission", |b| {
        b.iter(|| {
            model
                .submit(owned.clone(), &options)
                .expect("submit")
                .wait()
                .expect("infer")
        })
    });
    c_request(c, &x);
    let arr = ndarray::Array2::<f32>::zeros((64, 256));
    c.bench_function("Tensor::from_array 64x256 f32", |b| {
        b.iter(|| Tensor::from_array(arr.view()))
    });
}

criterion_group!(benches, parts);
criterion_main!(benches);

/// The same 1-row MLP request through the C ABI, as a C host makes it: one `inferkit_request`
/// built once and run again and again, outputs read and freed each time.
fn c_request(c: &mut Criterion, x: &[f32]) {
    use inferkit::ffi::model::{inferkit_model_close, inferkit_model_open};
    use inferkit::ffi::options::{
        inferkit_model_options_free, inferkit_model_options_new,
        inferkit_model_options_set_instances,
    };
    use inferkit::ffi::outputs::{inferkit_outputs_free, inferkit_outputs_get};
    use inferkit::ffi::request::{
        inferkit_request_add_tensor, inferkit_request_free, inferkit_request_new,
        inferkit_request_run,
    };
    use inferkit::ErrorCode;
    use std::ptr::{null, null_mut};

    let path = std::ffi::CString::new(fixture("mlp.onnx").to_str().expect("utf-8 path")).unwrap();
    let (mut options, mut model, mut request) = (null_mut(), null_mut(), null_mut());
    assert_eq!(
        inferkit_model_options_new(&mut options, null_mut()),
        ErrorCode::Ok
    );
    assert_eq!(
        inferkit_model_options_set_instances(options, 1, null_mut()),
        ErrorCode::Ok
    );
    assert_eq!(
        inferkit_model_open(path.as_ptr(), options, &mut model, null_mut()),
        ErrorCode::Ok
    );
    inferkit_model_options_free(options);
    assert_eq!(
        inferkit_request_new(model, &mut request, null_mut()),
        ErrorCode::Ok
    );
    let shape = [1i64, 16];
    assert_eq!(
        inferkit_request_add_tensor(
            request,
            c"x".as_ptr(),
            inferkit::DType::F32 as u32,
            shape.as_ptr(),
            2,
            x.as_ptr().cast(),
            std::mem::size_of_val(x),
            null_mut(),
        ),
        ErrorCode::Ok
    );
    c.bench_function(
        "C ABI: inferkit_request_run, mlp, 1 row, direct path",
        |b| {
            b.iter(|| {
                let mut out = null_mut();
                assert_eq!(
                    inferkit_request_run(request, &mut out, null_mut()),
                    ErrorCode::Ok
                );
                let mut data = null();
                let code = inferkit_outputs_get(
                    out,
                    0,
                    null_mut(),
                    null_mut(),
                    null_mut(),
                    null_mut(),
                    &mut data,
                    null_mut(),
                    null_mut(),
                );
                assert_eq!(code, ErrorCode::Ok);
                inferkit_outputs_free(out);
            })
        },
    );
    inferkit_request_free(request);
    inferkit_model_close(model);
}
