//! Metrics count what really happened, and the Prometheus text parses with a real Prometheus text
//! parser (the `prometheus-parse` crate), and the JSON summary with serde_json, into the values of
//! the requests this test made.
mod common;

use common::fixture;
use inferkit::repository::{Registry, RegistryOptions, Select};
use inferkit::{BatchingOptions, InferOptions, Model, ModelOptions, Tensor, TensorView};
use prometheus_parse::{Sample, Scrape, Value};

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).expect("the exposition parses")
}

fn find<'a>(scrape: &'a Scrape, metric: &str, labels: &[(&str, &str)]) -> Option<&'a Sample> {
    scrape
        .samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
}

fn counter(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match find(scrape, metric, labels).map(|s| &s.value) {
        Some(Value::Counter(v)) | Some(Value::Gauge(v)) | Some(Value::Untyped(v)) => *v,
        other => panic!("{metric}{labels:?}: {other:?}"),
    }
}

fn histogram_count(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    match find(scrape, metric, labels).map(|s| &s.value) {
        Some(Value::Histogram(buckets)) => buckets.last().map_or(0.0, |b| b.count),
        other => panic!("{metric}{labels:?}: {other:?}"),
    }
}

#[test]
fn counters_and_histograms_match_the_requests_made() {
    let model = Model::open_with(
        fixture("mlp.onnx"),
        &ModelOptions::default()
            .with_instances(1)
            .with_batching(BatchingOptions::default().with_max_batch_size(8)),
    )
    .unwrap();
    // 8 threads × 50 requests of 2 rows, plus 3 dtype mismatches and 2 unknown outputs.
    std::thread::scope(|s| {
        for t in 0..8 {
            let model = &model;
            s.spawn(move || {
                let x = vec![t as f32 * 0.1; 32];
                for _ in 0..50 {
                    model
                        .infer(&[("x", TensorView::from_slice(vec![2, 16], &x))])
                        .unwrap();
                }
            });
        }
    });
    let bad = [0f64; 16];
    for _ in 0..3 {
        assert!(model
            .infer(&[("x", TensorView::from_slice(vec![1, 16], &bad))])
            .is_err());
    }
    let x = [0f32; 16];
    for _ in 0..2 {
        assert!(model
            .infer_with(
                &[("x", TensorView::from_slice(vec![1, 16], &x))],
                &InferOptions::default().with_outputs(["nope"])
            )
            .is_err());
    }
    let snap = model.metrics();
    assert_eq!(snap.requests_success, 400);
    assert_eq!(snap.rows, 800);
    assert_eq!(
        snap.requests_failed,
        vec![
            ("dtype_mismatch".to_string(), 3),
            ("unknown_output".to_string(), 2)
        ]
    );
    assert_eq!(snap.request_duration.count, 405);
    assert!(
        snap.executions >= 50 && snap.executions <= 400,
        "{}",
        snap.executions
    );
    assert_eq!(snap.batch_size.count, snap.executions);
    assert_eq!(
        snap.batch_size.sum, 400,
        "batch sizes add up to the requests run"
    );
    assert_eq!(snap.compute_duration.count, snap.executions);
    assert_eq!(
        snap.queue_duration.count, 400,
        "every request that ran waited (or not) once"
    );
    assert_eq!((snap.pending, snap.inflight), (0, 0));
    let p = (
        snap.request_duration.p50_us(),
        snap.request_duration.p90_us(),
        snap.request_duration.p99_us(),
    );
    assert!(p.0 > 0.0 && p.0 <= p.1 && p.1 <= p.2, "{p:?}");

    let scrape = parse(&model.metrics_prometheus());
    let l = [("model", "mlp")];
    assert_eq!(
        counter(&scrape, "inferkit_inference_request_success_total", &l),
        400.0
    );
    assert_eq!(
        counter(
            &scrape,
            "inferkit_inference_request_failure_total",
            &[("model", "mlp"), ("code", "dtype_mismatch")]
        ),
        3.0
    );
    assert_eq!(
        counter(
            &scrape,
            "inferkit_inference_request_failure_total",
            &[("model", "mlp"), ("code", "unknown_output")]
        ),
        2.0
    );
    assert_eq!(counter(&scrape, "inferkit_inference_rows_total", &l), 800.0);
    assert_eq!(
        counter(&scrape, "inferkit_inference_executions_total", &l),
        snap.executions as f64
    );
    assert_eq!(
        histogram_count(&scrape, "inferkit_request_duration_us", &l),
        405.0
    );
    assert_eq!(
        histogram_count(&scrape, "inferkit_batch_size", &l),
        snap.executions as f64
    );
    assert_eq!(counter(&scrape, "inferkit_pending_requests", &l), 0.0);
    assert_eq!(counter(&scrape, "inferkit_inflight_requests", &l), 0.0);
    // Histogram buckets are cumulative and the +Inf bucket equals the count.
    match &find(&scrape, "inferkit_compute_duration_us", &l)
        .unwrap()
        .value
    {
        Value::Histogram(b) => {
            assert!(b
                .windows(2)
                .all(|w| w[0].less_than < w[1].less_than && w[0].count <= w[1].count));
            assert_eq!(b.last().unwrap().count, snap.executions as f64);
        }
        other => panic!("{other:?}"),
    }
    assert!(
        scrape.docs.contains_key("inferkit_request_duration_us"),
        "HELP lines are present"
    );
}

/// Occupies a slow.onnx model's only session with a long run; returns once it runs.
fn occupy(model: &std::sync::Arc<Model>) -> std::thread::JoinHandle<()> {
    let m = model.clone();
    let busy = std::thread::spawn(move || {
        let x = vec![0.5f32; 16_000 * 256];
        m.infer(&[("x", TensorView::from_slice(vec![16_000, 256], &x))])
            .unwrap();
    });
    let start = std::time::Instant::now();
    while model.stats().idle_instances > 0 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "the session never became busy"
        );
        std::thread::yield_now();
    }
    busy
}

#[test]
fn async_requests_queue_full_and_cancellations_are_counted() {
    let model = Model::open_with(
        fixture("slow.onnx"),
        &ModelOptions::default()
            .with_instances(1)
            .with_batching(BatchingOptions::default().with_max_queue_size(2)),
    )
    .unwrap();
    let model = std::sync::Arc::new(model);
    let busy = occupy(&model);
    let req = || {
        vec![(
            "x".to_string(),
            Tensor::from_vec(vec![1, 256], vec![0.1f32; 256]).unwrap(),
        )]
    };
    let kept = model.submit(req(), &InferOptions::default()).unwrap();
    let cancelled = model.submit(req(), &InferOptions::default()).unwrap();
    assert!(
        model.submit(req(), &InferOptions::default()).is_err(),
        "queue full"
    );
    let during = model.metrics();
    assert_eq!(during.pending, 2);
    assert_eq!(during.inflight, 3, "the busy request and two queued ones");
    assert!(cancelled.cancel());
    busy.join().unwrap();
    kept.wait().unwrap();
    // The withdrawn request stays queued (and pending) until the thread that ran `kept` pops it,
    // which may be just after `kept`'s result arrived.
    let start = std::time::Instant::now();
    while model.metrics().pending > 0 && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::yield_now();
    }
    let snap = model.metrics();
    assert_eq!(snap.requests_success, 2);
    assert_eq!(
        snap.requests_failed,
        vec![("queue_full".to_string(), 1), ("cancelled".to_string(), 1)]
    );
    assert_eq!((snap.pending, snap.inflight), (0, 0));
}

/// A blocking call whose queued request its cancel token withdraws is counted once, as
/// CANCELLED, and leaves nothing in flight (no worker counts a request it never took).
#[test]
fn a_blocking_request_withdrawn_by_its_token_is_counted() {
    let model = std::sync::Arc::new(
        Model::open_with(
            fixture("slow.onnx"),
            &ModelOptions::default().with_instances(1),
        )
        .unwrap(),
    );
    let busy = occupy(&model);
    let token = inferkit::CancelToken::new();
    let waiting = {
        let (m, token) = (model.clone(), token.clone());
        std::thread::spawn(move || {
            let x = vec![0.1f32; 256];
            m.infer_with(
                &[("x", TensorView::from_slice(vec![1, 256], &x))],
                &InferOptions::default().with_cancel(token),
            )
        })
    };
    let start = std::time::Instant::now();
    while model.stats().queued == 0 {
        assert!(
            !waiting.is_finished() && start.elapsed() < std::time::Duration::from_secs(10),
            "the request never queued behind the busy session"
        );
        std::thread::yield_now();
    }
    token.cancel();
    let err = waiting.join().unwrap().unwrap_err();
    assert_eq!(err.code(), inferkit::ErrorCode::Cancelled);
    busy.join().unwrap();
    let start = std::time::Instant::now();
    while model.metrics().pending > 0 && start.elapsed() < std::time::Duration::from_secs(5) {
        std::thread::yield_now();
    }
    let snap = model.metrics();
    assert_eq!(snap.requests_success, 1);
    assert_eq!(snap.requests_failed, vec![("cancelled".to_string(), 1)]);
    assert_eq!((snap.pending, snap.inflight), (0, 0));
}

#[test]
fn registry_exposition_labels_versions_and_counts_events() {
    let dir = tempfile::tempdir().unwrap();
    for (v, f) in [(1, "mlp.onnx"), (2, "mlp_v2.onnx"), (3, "corrupt.onnx")] {
        let d = dir.path().join("m").join(v.to_string());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(fixture(f), d.join("model.onnx")).unwrap();
    }
    std::fs::write(
        dir.path().join("m/config.toml"),
        "[versions]\npolicy = \"all\"\n[warmup]\ncount = 2\n",
    )
    .unwrap();
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let x = [0.25f32; 16];
    for _ in 0..5 {
        reg.model("m", Select::Version(1))
            .unwrap()
            .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
            .unwrap();
    }
    reg.model("m", Select::Version(2))
        .unwrap()
        .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
        .unwrap();
    reg.unload_version("m", 2, false).unwrap();
    let scrape = parse(&reg.metrics_prometheus());
    assert_eq!(
        counter(
            &scrape,
            "inferkit_inference_request_success_total",
            &[("model", "m"), ("version", "1")]
        ),
        5.0,
        "5 requests; the 2 warmups are counted apart"
    );
    assert_eq!(
        counter(
            &scrape,
            "inferkit_warmup_requests_total",
            &[("model", "m"), ("version", "1")]
        ),
        2.0
    );
    assert_eq!(
        counter(
            &scrape,
            "inferkit_model_loads_total",
            &[("model", "m"), ("version", "1")]
        ),
        1.0
    );
    assert_eq!(
        counter(
            &scrape,
            "inferkit_model_load_failures_total",
            &[("model", "m"), ("version", "3")]
        ),
        1.0
    );
    assert_eq!(
        counter(
            &scrape,
            "inferkit_model_unloads_total",
            &[("model", "m"), ("version", "2")]
        ),
        1.0
    );
    let t = counter(
        &scrape,
        "inferkit_model_last_event_timestamp_seconds",
        &[("model", "m"), ("version", "3"), ("event", "load_failure")],
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(
        (now - t).abs() < 60.0,
        "the failure's timestamp is now: {t} vs {now}"
    );
}

#[test]
fn metrics_can_be_turned_off() {
    let model = Model::open_with(
        fixture("mlp.onnx"),
        &ModelOptions::default().with_metrics(false),
    )
    .unwrap();
    let x = [0f32; 16];
    model
        .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
        .unwrap();
    let snap = model.metrics();
    assert_eq!(snap.requests_success, 1, "outcomes are still counted");
    assert_eq!(snap.request_duration.count, 0, "no timings are taken");
}

#[test]
fn the_json_summary_counts_the_requests_made() {
    let model = Model::open_with(
        fixture("mlp.onnx"),
        &ModelOptions::default().with_instances(1),
    )
    .unwrap();
    let x = [0.5f32; 48];
    for _ in 0..5 {
        model
            .infer(&[("x", TensorView::from_slice(vec![3, 16], &x))])
            .unwrap();
    }
    let wrong = [0i64; 16];
    for _ in 0..2 {
        model
            .infer(&[("x", TensorView::from_slice(vec![1, 16], &wrong))])
            .unwrap_err();
    }
    let json: serde_json::Value = serde_json::from_str(&model.metrics_json()).expect("valid JSON");
    assert_eq!(json["requests_success"], 5, "{json}");
    assert_eq!(json["rows"], 15, "{json}");
    assert_eq!(json["requests_failed"]["dtype_mismatch"], 2, "{json}");
    assert_eq!(
        json["requests_failed"].as_object().unwrap().len(),
        1,
        "{json}"
    );
    // One session, one request at a time: one run per request.
    assert_eq!(json["executions"], 5, "{json}");
    assert_eq!(json["batch_size"]["count"], 5, "{json}");
    assert_eq!(json["batch_size"]["sum"], 5, "{json}");
    assert_eq!(json["compute_duration"]["count"], 5, "{json}");
    assert!(
        json["request_duration"]["count"].as_u64().unwrap() >= 5,
        "{json}"
    );
    assert!(
        json["request_duration"]["p99_us"].as_f64().unwrap() > 0.0,
        "{json}"
    );
    assert!(
        json["compute_duration"]["sum_us"].as_f64().unwrap() > 0.0,
        "{json}"
    );
    assert_eq!(
        (json["pending"].clone(), json["inflight"].clone()),
        (0.into(), 0.into())
    );
    // The same numbers as the snapshot.
    let snap = model.metrics();
    assert_eq!(
        json["request_duration"]["count"],
        snap.request_duration.count
    );
    assert_eq!(
        json["compute_duration"]["p50_us"].as_f64().unwrap(),
        snap.compute_duration.p50_us()
    );
}

/// A lone caller's requests all take the direct path (a session idle, nothing queued), which
/// records each with one histogram entry: they must still read as what they are, one execution
/// of one request each, with no queue time, a compute time and a request time; and the
/// scheduler's statistics count them with timings off as well.
#[test]
fn a_lone_callers_direct_runs_read_as_runs_of_one_request() {
    let x = [0.25f32; 32];
    for timed in [true, false] {
        let model = Model::open_with(
            fixture("mlp.onnx"),
            &ModelOptions::default().with_metrics(timed),
        )
        .unwrap();
        for _ in 0..20 {
            model
                .infer(&[("x", TensorView::from_slice(vec![2, 16], &x))])
                .unwrap();
        }
        let stats = model.stats();
        assert_eq!(
            (stats.executions, stats.requests_run),
            (20, 20),
            "{stats:?}"
        );
        let snap = model.metrics();
        assert_eq!((snap.requests_success, snap.rows), (20, 40));
        assert_eq!(snap.executions, 20, "timed {timed}");
        assert_eq!((snap.pending, snap.inflight), (0, 0));
        if !timed {
            assert_eq!(snap.request_duration.count, 0);
            continue;
        }
        assert_eq!((snap.batch_size.count, snap.batch_size.sum), (20, 20));
        assert_eq!(
            snap.batch_size.buckets[1], 20,
            "every run served one request"
        );
        assert_eq!(
            (snap.queue_duration.count, snap.queue_duration.sum),
            (20, 0)
        );
        assert_eq!(snap.queue_duration.buckets[0], 20, "no run waited");
        assert_eq!(snap.compute_duration.count, 20);
        assert_eq!(snap.request_duration.count, 20);
        assert!(snap.compute_duration.sum > 0);
        assert_eq!(snap.request_duration.sum, snap.compute_duration.sum);
        let scrape = parse(&model.metrics_prometheus());
        let l = [("model", "mlp")];
        assert_eq!(
            counter(&scrape, "inferkit_inference_executions_total", &l),
            20.0
        );
        assert_eq!(histogram_count(&scrape, "inferkit_batch_size", &l), 20.0);
        assert_eq!(
            histogram_count(&scrape, "inferkit_queue_duration_us", &l),
            20.0
        );
        assert_eq!(
            histogram_count(&scrape, "inferkit_compute_duration_us", &l),
            20.0
        );
    }
}
