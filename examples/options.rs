//! Options: how a model is loaded (`ModelOptions`, `SessionOptions`, `BatchingOptions`) and how
//! one request runs (`InferOptions`: a timeout or deadline, a subset of outputs).
//!
//!     cargo run --example options
//!
//! Every options struct is built the same way: `Default`, then one `with_<field>` setter per
//! field. The fields stay public, to read or to assign.

use std::time::{Duration, Instant};

use inferkit::{
    BatchingOptions, ErrorCode, InferOptions, Model, ModelOptions, OptimizationLevel,
    SessionOptions, TensorView,
};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn main() -> Result<(), inferkit::Error> {
    // Load-time options: two sessions, one ONNX Runtime thread each, batching across requests
    // turned on (this model's rows are independent), a default timeout for every request.
    let mut options = ModelOptions::default()
        .with_name("two_io")
        .with_instances(2)
        .with_session(
            SessionOptions::default()
                .with_intra_op_threads(1)
                .with_optimization_level(OptimizationLevel::All),
        )
        .with_batching(
            BatchingOptions::default()
                .with_max_batch_size(16)
                .with_default_timeout_us(5_000_000),
        );
    // The fields are public: read them, or set one directly.
    options.metrics = true;
    println!(
        "options: {} instances, batches of up to {} rows",
        options.instances, options.batching.max_batch_size
    );
    // two_io: (features: f32[n, 3], offsets: i64[n]) -> (sum: f32[n, 3], doubled: i64[n])
    let model = Model::open_with(fixture("two_io.onnx"), &options)?;
    println!("{}  {}", model.name(), model.signature());

    let features = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
    let offsets = [10i64, 20];
    let inputs = [
        ("features", TensorView::from_slice(vec![2, 3], &features)),
        ("offsets", TensorView::from_slice(vec![2], &offsets)),
    ];

    // Per request: only the outputs named, in that order (ONNX Runtime skips the work only the
    // others need), and a timeout.
    let request = InferOptions::default()
        .with_outputs(["doubled"])
        .with_timeout(Duration::from_millis(500));
    let out = model.infer_with(&inputs, &request)?;
    println!(
        "outputs {:?}: doubled = {:?}",
        (0..out.len())
            .filter_map(|i| out.name(i))
            .collect::<Vec<_>>(),
        out["doubled"].as_slice::<i64>()?
    );

    // A deadline that has already passed: the request is refused, never run.
    let late = InferOptions::default().with_deadline(Instant::now() - Duration::from_millis(1));
    let err = model.infer_with(&inputs, &late).unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeadlineExceeded);
    println!("past deadline: {err}");

    // A run still going when its deadline passes is stopped (ONNX Runtime logs that it was told
    // to stop). loop.onnx adds 1 to x, n times: n = 10^9 would run for minutes.
    let slow = Model::open(fixture("loop.onnx"))?;
    let (n, x) = ([1_000_000_000i64], [0.0f32]);
    let started = Instant::now();
    let err = slow
        .infer_with(
            &[
                ("n", TensorView::from_slice(vec![], &n)),
                ("x", TensorView::from_slice(vec![1], &x)),
            ],
            &InferOptions::default().with_timeout(Duration::from_millis(100)),
        )
        .unwrap_err();
    assert_eq!(err.code(), ErrorCode::DeadlineExceeded);
    println!("stopped after {:?}: {err}", started.elapsed());

    // Options out of range are refused before anything loads.
    let err = Model::open_with(
        fixture("two_io.onnx"),
        &ModelOptions::default().with_instances(0),
    )
    .unwrap_err();
    assert_eq!(err.code(), ErrorCode::InvalidArgument);
    println!("instances = 0: {err}");
    Ok(())
}
