//! inferkit emits `tracing` spans for loads, reloads, requests and session runs, seen by any
//! subscriber the host installs (none is needed; without one they cost a cached check).
mod common;

use std::sync::{Arc, Mutex};

use common::fixture;
use inferkit::repository::{Registry, RegistryOptions, Select};
use inferkit::TensorView;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records the names of the spans created.
struct Names(Arc<Mutex<Vec<String>>>);

impl Subscriber for Names {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut names = self.0.lock().unwrap();
        names.push(span.metadata().name().to_string());
        Id::from_u64(names.len() as u64)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("event:{}", event.metadata().level()));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn loads_reloads_requests_and_runs_are_traced() {
    let names = Arc::new(Mutex::new(Vec::new()));
    let dir = tempfile::tempdir().unwrap();
    for (v, f) in [(1, "mlp.onnx"), (2, "corrupt.onnx")] {
        let d = dir.path().join("m").join(v.to_string());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(fixture(f), d.join("model.onnx")).unwrap();
    }
    std::fs::write(
        dir.path().join("m/config.toml"),
        "[versions]\npolicy = \"all\"\n",
    )
    .unwrap();
    tracing::subscriber::with_default(Names(names.clone()), || {
        let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
        let x = [0f32; 16];
        reg.model("m", Select::Default)
            .unwrap()
            .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
            .unwrap();
    });
    let names = names.lock().unwrap();
    for expected in [
        "inferkit.reload",
        "inferkit.load",
        "inferkit.infer",
        "inferkit.compute",
        "event:WARN",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "no `{expected}` in {names:?}"
        );
    }
}

/// Records each event as `LEVEL message field=value …`.
struct Events(Arc<Mutex<Vec<String>>>);

struct Line(String);

impl tracing::field::Visit for Line {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0.push_str(&format!(" {value:?}"));
        } else {
            self.0.push_str(&format!(" {}={value:?}", field.name()));
        }
    }
}

impl Subscriber for Events {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line(event.metadata().level().to_string());
        event.record(&mut line);
        self.0.lock().unwrap().push(line.0);
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn loads_unloads_labels_failures_and_refusals_are_logged_with_model_and_version() {
    let events = Arc::new(Mutex::new(Vec::new()));
    let dir = tempfile::tempdir().unwrap();
    for (m, v, f) in [
        ("m", 1, "mlp.onnx"),
        ("m", 2, "mlp_v2.onnx"),
        ("bad", 1, "mlp.onnx"),
    ] {
        let d = dir.path().join(m).join(v.to_string());
        std::fs::create_dir_all(&d).unwrap();
        std::fs::copy(fixture(f), d.join("model.onnx")).unwrap();
    }
    std::fs::write(
        dir.path().join("m/config.toml"),
        "[versions]\npolicy = \"all\"\nlabels = { stable = 1 }\n",
    )
    .unwrap();
    // A checksum that does not match.
    std::fs::write(dir.path().join("bad/1/model.onnx.sha256"), "0".repeat(64)).unwrap();
    std::fs::create_dir_all(dir.path().join("m/v3")).unwrap();
    std::fs::create_dir_all(dir.path().join("broken")).unwrap();
    std::fs::write(dir.path().join("broken/config.toml"), "[versions\n").unwrap();
    let subscriber = || Events(events.clone());
    tracing::subscriber::with_default(subscriber(), || {
        let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
        reg.set_label("m", "stable", 2).unwrap();
        reg.unload_version("m", 1, false).unwrap();
        // A model whose queue holds one request: while this thread holds the only session (in
        // a callback), one more request queues and the next are refused.
        let model = std::sync::Arc::new(
            inferkit::Model::open_with(
                fixture("mlp.onnx"),
                &inferkit::ModelOptions::default()
                    .with_instances(1)
                    .with_name("small_queue")
                    .with_batching(inferkit::BatchingOptions::default().with_max_queue_size(1)),
            )
            .unwrap(),
        );
        let x = inferkit::Tensor::from_vec(vec![1, 16], vec![0.5f32; 16]).unwrap();
        let (m, x2) = (model.clone(), x.clone());
        let refused = Arc::new(Mutex::new(0));
        let r = refused.clone();
        model
            .submit_with_callback(
                vec![("x".into(), x)],
                &inferkit::InferOptions::default(),
                move |_| {
                    for _ in 0..4 {
                        let submitted = m.submit_with_callback(
                            vec![("x".into(), x2.clone())],
                            &inferkit::InferOptions::default(),
                            |_| {},
                        );
                        if submitted.is_err_and(|e| e.code() == inferkit::ErrorCode::QueueFull) {
                            *r.lock().unwrap() += 1;
                        }
                    }
                },
            )
            .unwrap();
        assert_eq!(*refused.lock().unwrap(), 3);
    });
    let events = events.lock().unwrap();
    let find = |level: &str, words: &[&str]| {
        events
            .iter()
            .any(|e| e.starts_with(level) && words.iter().all(|w| e.contains(w)))
    };
    for (level, words) in [
        ("INFO", &["version loaded", "model=m", "version=1"][..]),
        ("INFO", &["version loaded", "version=2"]),
        ("WARN", &["version failed to load", "model=bad", "SHA-256"]),
        (
            "WARN",
            &["model configuration refused", "model=broken", "line 1"],
        ),
        ("WARN", &["folder ignored", "folder=v3"]),
        ("INFO", &["model scanned", "model=m", "progress=3/3"]),
        ("INFO", &["repository scanned", "models=3"]),
        ("INFO", &["label moved", "stable", "from=Some(1)", "to=2"]),
        ("INFO", &["version unloaded", "version=1"]),
        ("WARN", &["queue full", "model=small_queue"]),
    ] {
        assert!(
            find(level, words),
            "no {level} event with {words:?} in {events:#?}"
        );
    }
    let refusals = events.iter().filter(|e| e.contains("queue full")).count();
    assert_eq!(refusals, 1, "3 refusals within a second give one event");
}
