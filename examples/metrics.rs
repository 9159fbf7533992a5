//! Metrics: counters, gauges and latency histograms per model, read as a snapshot, as a JSON
//! summary, or as Prometheus text.
//!
//!     cargo run --example metrics
//!
//! A host serves the Prometheus text on its own `/metrics` endpoint, or logs the JSON summary.

use inferkit::{Model, ModelOptions, TensorView};

fn main() -> Result<(), inferkit::Error> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mlp.onnx");
    let model = Model::open_with(path, &ModelOptions::default().with_instances(2))?;

    // Some traffic from 4 threads, and 3 requests that fail validation.
    std::thread::scope(|s| {
        for t in 0..4 {
            let model = &model;
            s.spawn(move || {
                let x = vec![t as f32 * 0.1; 2 * 16];
                for _ in 0..25 {
                    model
                        .infer(&[("x", TensorView::from_slice(vec![2, 16], &x))])
                        .expect("a valid request");
                }
            });
        }
    });
    let wrong_width = [0.0f32; 15];
    for _ in 0..3 {
        let result = model.infer(&[("x", TensorView::from_slice(vec![1, 15], &wrong_width))]);
        assert!(result.is_err());
    }

    // A snapshot, as Rust values.
    let m = model.metrics();
    println!(
        "snapshot: {} succeeded ({} rows), failed {:?}, p50 {:.1} us, p99 {:.1} us",
        m.requests_success,
        m.rows,
        m.requests_failed,
        m.request_duration.p50_us(),
        m.request_duration.p99_us()
    );

    // The JSON summary (its shape is documented at inferkit::metrics::json).
    println!("\nJSON:\n{}", model.metrics_json());

    // The Prometheus text format; here only the request counters.
    println!("\nPrometheus (excerpt):");
    for line in model
        .metrics_prometheus()
        .lines()
        .filter(|l| l.starts_with("inferkit_inference_request"))
    {
        println!("{line}");
    }
    Ok(())
}
