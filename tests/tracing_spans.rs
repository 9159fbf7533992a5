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
