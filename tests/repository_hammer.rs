//! 16 threads infer continuously while another thread adds and removes versions, flips labels,
//! and drops in a corrupt version and a checksum-mismatched one. No request may fail; every
//! response must come from the version its request selected (checked against that version's
//! weights); the status API must report both broken versions; and once the registry and every
//! reference are dropped, no ONNX Runtime session may remain. Its own test binary, so the
//! session count is this test's alone.
//!
//! `make test` runs it for 4 seconds; `make soak` runs the same test in a release build for
//! `INFERKIT_SOAK_SECONDS` (default there: 60) and prints the totals.
mod common;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::fixture;
use inferkit::repository::{Registry, RegistryOptions, Select, VersionState};
use inferkit::{Model, Tensor, TensorView};
use parking_lot::RwLock;

const WEIGHTS: [&str; 2] = ["mlp.onnx", "mlp_v2.onnx"];

fn put(root: &Path, version: u64, file: &str) {
    let dir = root.join("m").join(version.to_string());
    let tmp = root.join(format!(".staging-{version}"));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::copy(fixture(file), tmp.join("model.onnx")).unwrap();
    // Appear atomically, as a deployment tool would publish a version.
    std::fs::rename(&tmp, &dir).unwrap();
}

#[test]
fn requests_never_fail_while_versions_come_and_go() {
    assert_eq!(inferkit::pool::live_sessions(), 0);
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::create_dir_all(root.join("m")).unwrap();
    std::fs::write(root.join("m/config.toml"), "[versions]\npolicy = \"latest\"\nlatest = 3\nlabels = { stable = 1 }\n[split]\nweights = { stable = 50, 2 = 50 }\n[instances]\ncount = 1\n").unwrap();
    // Which weights each version number has; written before the version appears.
    let weights: RwLock<HashMap<u64, usize>> = RwLock::new(HashMap::new());
    for v in 1..=2u64 {
        weights.write().insert(v, (v % 2) as usize);
        put(root, v, WEIGHTS[(v % 2) as usize]);
    }
    // What each set of weights answers for each thread's input.
    let x: Vec<Vec<f32>> = (0..16)
        .map(|t| {
            (0..16)
                .map(|i| ((t * 16 + i) % 23) as f32 / 11.0 - 1.0)
                .collect()
        })
        .collect();
    let expected: Vec<Vec<Tensor>> = WEIGHTS
        .iter()
        .map(|f| {
            let m = Model::open(fixture(f)).unwrap();
            x.iter()
                .map(|xi| {
                    m.infer(&[("x", TensorView::from_slice(vec![1, 16], xi))])
                        .unwrap()
                        .into_tensors()
                        .unwrap()
                        .remove(0)
                })
                .collect()
        })
        .collect();

    let seconds = std::env::var("INFERKIT_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(4);
    let reg = Registry::open(root, RegistryOptions::default()).unwrap();
    let stop = AtomicBool::new(false);
    let served = AtomicU64::new(0);
    let mut per_version: HashMap<u64, u64> = HashMap::new();
    let mut broken: Vec<u64> = Vec::new();

    std::thread::scope(|s| {
        let workers: Vec<_> = (0..16usize)
            .map(|t| {
                let (reg, stop, served, weights, expected, x) =
                    (&reg, &stop, &served, &weights, &expected, &x);
                s.spawn(move || {
                    let mut counts: HashMap<u64, u64> = HashMap::new();
                    let mut k = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        k += 1;
                        let key = format!("{t}-{k}");
                        let select = match k % 3 {
                            0 => Select::Default,
                            1 => Select::Label("stable"),
                            _ => Select::Split(Some(&key)),
                        };
                        let r = reg
                            .model("m", select)
                            .unwrap_or_else(|e| panic!("select {select:?}: {e}"));
                        let out = r
                            .infer(&[("x", TensorView::from_slice(vec![1, 16], &x[t]))])
                            .unwrap_or_else(|e| panic!("infer on version {}: {e}", r.version()));
                        let w = weights.read()[&r.version()];
                        assert_eq!(
                            out[0],
                            expected[w][t],
                            "version {} answered with other weights",
                            r.version()
                        );
                        *counts.entry(r.version()).or_default() += 1;
                        served.fetch_add(1, Ordering::Relaxed);
                    }
                    counts
                })
            })
            .collect();

        // The controller: several seconds of churn (INFERKIT_SOAK_SECONDS for a soak run).
        let start = Instant::now();
        let mut next = 3u64;
        let mut round = 0u64;
        while start.elapsed() < Duration::from_secs(seconds) {
            round += 1;
            // A new version.
            weights.write().insert(next, (next % 2) as usize);
            put(root, next, WEIGHTS[(next % 2) as usize]);
            assert!(reg.reload().unwrap().is_empty());
            // Flip `stable` to the newest ready version, or back to version 1's successor.
            let st = reg.model_status("m").unwrap();
            let ready: Vec<u64> = st
                .versions
                .iter()
                .filter(|v| v.state == VersionState::Ready)
                .map(|v| v.version)
                .collect();
            let target = if round.is_multiple_of(2) {
                *ready.last().unwrap()
            } else {
                ready[0]
            };
            reg.set_label("m", "stable", target).unwrap();
            // Remove the oldest version's directory unless a label holds it.
            if let Some(oldest) = ready.iter().copied().find(|v| *v != target) {
                if round.is_multiple_of(3) {
                    std::fs::remove_dir_all(root.join("m").join(oldest.to_string())).unwrap();
                    reg.reload().unwrap();
                }
            }
            next += 1;
            if round == 3 {
                // A corrupt version: it fails, and nothing that was ready goes away.
                std::fs::create_dir_all(root.join("m").join(next.to_string())).unwrap();
                std::fs::copy(
                    fixture("corrupt.onnx"),
                    root.join("m").join(next.to_string()).join("model.onnx"),
                )
                .unwrap();
                let errors = reg.reload().unwrap();
                assert!(
                    errors
                        .iter()
                        .any(|e| e.code() == inferkit::ErrorCode::InvalidModel),
                    "{errors:?}"
                );
                broken.push(next);
                next += 1;
            }
            if round == 5 {
                // A version whose checksum does not match its sidecar.
                let staging = root.join(".staging-bad");
                std::fs::create_dir_all(&staging).unwrap();
                std::fs::copy(fixture("mlp.onnx"), staging.join("model.onnx")).unwrap();
                std::fs::write(staging.join("model.onnx.sha256"), "f".repeat(64)).unwrap();
                std::fs::rename(&staging, root.join("m").join(next.to_string())).unwrap();
                let errors = reg.reload().unwrap();
                assert!(
                    errors
                        .iter()
                        .any(|e| e.code() == inferkit::ErrorCode::ChecksumMismatch),
                    "{errors:?}"
                );
                broken.push(next);
                next += 1;
            }
            std::thread::sleep(Duration::from_millis(40));
        }
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            for (v, n) in w.join().expect("a worker failed") {
                *per_version.entry(v).or_default() += n;
            }
        }
    });

    eprintln!(
        "hammer: {} requests in {seconds} s across 16 threads, 0 failed, each checked against its version's weights; served by {} versions; broken versions {broken:?}",
        served.load(Ordering::Relaxed),
        per_version.len()
    );
    assert!(
        served.load(Ordering::Relaxed) > 1000,
        "only {} requests served",
        served.load(Ordering::Relaxed)
    );
    assert!(
        per_version.len() >= 4,
        "requests were served by several versions: {per_version:?}"
    );
    assert_eq!(broken.len(), 2);
    let st = reg.model_status("m").unwrap();
    for b in &broken {
        let v = st
            .versions
            .iter()
            .find(|v| v.version == *b)
            .unwrap_or_else(|| panic!("status lacks broken version {b}: {st:?}"));
        assert!(
            matches!(&v.state, VersionState::Failed(_)),
            "version {b}: {v:?}"
        );
    }
    assert!(
        st.versions
            .iter()
            .any(|v| matches!(&v.state, VersionState::Failed(r) if r.contains("SHA-256"))),
        "{st:?}"
    );
    assert!(inferkit::pool::live_sessions() > 0);
    drop(reg);
    // A helper thread that drained a version's queue may hold it a moment longer.
    let start = std::time::Instant::now();
    while inferkit::pool::live_sessions() > 0 && start.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(
        inferkit::pool::live_sessions(),
        0,
        "every session is dropped with the registry"
    );
}
