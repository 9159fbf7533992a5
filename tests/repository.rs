//! The model repository: version policies, labels and their rules, traffic split, integrity,
//! failure containment, configuration errors, names, explicit mode.
mod common;

use std::path::Path;
use std::sync::Arc;

use common::fixture;
use inferkit::repository::{Registry, RegistryOptions, Select, VersionState};
use inferkit::{Error, ErrorCode, Outputs, TensorView};

/// Writes `<root>/<model>/<version>/model.onnx` from a fixture.
fn put_version(root: &Path, model: &str, version: u64, fixture_name: &str) {
    let dir = root.join(model).join(version.to_string());
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(fixture(fixture_name), dir.join("model.onnx")).unwrap();
}

fn put_config(root: &Path, model: &str, text: &str) {
    std::fs::create_dir_all(root.join(model)).unwrap();
    std::fs::write(root.join(model).join("config.toml"), text).unwrap();
}

fn repo(versions: &[(u64, &str)], config: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (v, f) in versions {
        put_version(dir.path(), "m", *v, f);
    }
    if let Some(c) = config {
        put_config(dir.path(), "m", c);
    }
    dir
}

fn ready(reg: &Registry) -> Vec<u64> {
    reg.model_status("m")
        .unwrap()
        .versions
        .iter()
        .filter(|v| v.state == VersionState::Ready)
        .map(|v| v.version)
        .collect()
}

fn infer(r: &inferkit::repository::ModelRef) -> Outputs {
    let x: Vec<f32> = (0..16).map(|i| i as f32 / 8.0 - 1.0).collect();
    r.infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
        .unwrap()
}

const THREE: &[(u64, &str)] = &[(1, "mlp.onnx"), (2, "mlp_v2.onnx"), (3, "mlp.onnx")];

#[test]
fn latest_policy_serves_the_newest_versions() {
    let dir = repo(THREE, None);
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert_eq!(ready(&reg), vec![3], "the default policy is latest 1");
    assert_eq!(reg.model("m", Select::Default).unwrap().version(), 3);
    let dir = repo(THREE, Some("[versions]\nlatest = 2\n"));
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert_eq!(ready(&reg), vec![2, 3]);
    assert_eq!(reg.model("m", Select::Version(2)).unwrap().version(), 2);
    let err = reg.model("m", Select::Version(1)).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownVersion { version: 1, ready, .. } if ready == &vec![2, 3]),
        "{err:?}"
    );
}

#[test]
fn all_and_specific_policies() {
    let dir = repo(THREE, Some("[versions]\npolicy = \"all\"\n"));
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert_eq!(ready(&reg), vec![1, 2, 3]);
    let dir = repo(
        THREE,
        Some("[versions]\npolicy = \"specific\"\nspecific = [1, 3]\n"),
    );
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert_eq!(ready(&reg), vec![1, 3]);
    assert_eq!(reg.model("m", Select::Default).unwrap().version(), 3);
}

#[test]
fn versions_serve_their_own_weights_and_references_stay_pinned() {
    let dir = repo(
        &[(1, "mlp.onnx"), (2, "mlp_v2.onnx")],
        Some("[versions]\npolicy = \"all\"\nlabels = { stable = 1 }\n"),
    );
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let v1 = reg.model("m", Select::Label("stable")).unwrap();
    let v2 = reg.model("m", Select::Version(2)).unwrap();
    assert_ne!(
        infer(&v1),
        infer(&v2),
        "the versions have different weights"
    );
    let reference = inferkit::Model::open(fixture("mlp.onnx")).unwrap();
    let x: Vec<f32> = (0..16).map(|i| i as f32 / 8.0 - 1.0).collect();
    assert_eq!(
        infer(&v1),
        reference
            .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
            .unwrap()
    );
    // Unload version 1 while a reference pins it: the reference keeps working.
    reg.unload_version("m", 1, true).unwrap();
    assert_eq!(v1.version(), 1);
    let _ = infer(&v1);
    let st = reg.model_status("m").unwrap();
    assert!(
        st.versions
            .iter()
            .any(|v| v.version == 1 && v.state == VersionState::Unloading),
        "{st:?}"
    );
    drop(v1);
    let st = reg.model_status("m").unwrap();
    assert!(
        !st.versions.iter().any(|v| v.version == 1),
        "dropped with its last reference: {st:?}"
    );
}

#[test]
fn labels_follow_tf_serving_rules() {
    let dir = repo(
        THREE,
        Some("[versions]\npolicy = \"all\"\nlabels = { stable = 1, canary = 3 }\n"),
    );
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert_eq!(
        reg.model("m", Select::Label("stable")).unwrap().version(),
        1
    );
    assert_eq!(
        reg.model("m", Select::Label("canary")).unwrap().version(),
        3
    );
    let err = reg.model("m", Select::Label("beta")).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownLabel { label, labels, .. } if label == "beta" && labels.len() == 2),
        "{err:?}"
    );

    // A label moves only onto a ready version.
    let err = reg.set_label("m", "stable", 9).unwrap_err();
    assert!(
        matches!(&err, Error::VersionNotReady { version: 9, .. }),
        "{err:?}"
    );
    reg.set_label("m", "stable", 2).unwrap();
    assert_eq!(
        reg.model("m", Select::Label("stable")).unwrap().version(),
        2
    );
    // A reload does not undo a move the configuration did not ask for.
    reg.reload().unwrap();
    assert_eq!(
        reg.model("m", Select::Label("stable")).unwrap().version(),
        2
    );
    // Changing the configuration's label does move it.
    put_config(
        dir.path(),
        "m",
        "[versions]\npolicy = \"all\"\nlabels = { stable = 3, canary = 3 }\n",
    );
    reg.reload().unwrap();
    assert_eq!(
        reg.model("m", Select::Label("stable")).unwrap().version(),
        3
    );

    // Unloading a labelled version is refused unless forced; forcing removes its labels.
    let err = reg.unload_version("m", 3, false).unwrap_err();
    assert!(
        matches!(&err, Error::LabelInUse { version: 3, labels, .. } if labels.len() == 2),
        "{err:?}"
    );
    assert_eq!(err.code(), ErrorCode::LabelInUse);
    reg.set_label("m", "canary", 2).unwrap();
    reg.set_label("m", "stable", 2).unwrap();
    reg.unload_version("m", 3, false).unwrap();
    assert_eq!(ready(&reg), vec![1, 2]);
    reg.reload().unwrap();
    assert_eq!(
        ready(&reg),
        vec![1, 2],
        "an explicitly unloaded version stays unloaded across reloads"
    );
    reg.load("m").unwrap();
    assert_eq!(ready(&reg), vec![1, 2, 3], "load brings it back");
    assert!(
        reg.set_label("m", "12", 1).is_err(),
        "a number is not a label"
    );
}

#[test]
fn traffic_split_is_deterministic_with_a_key_and_weighted_without() {
    let dir = repo(&[(1, "mlp.onnx"), (2, "mlp_v2.onnx")], Some("[versions]\npolicy = \"all\"\nlabels = { stable = 1, canary = 2 }\n[split]\nweights = { stable = 90, canary = 10 }\n"));
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let mut canary = 0;
    for user in 0..2000 {
        let key = format!("user-{user}");
        let first = reg.model("m", Select::Split(Some(&key))).unwrap().version();
        for _ in 0..3 {
            assert_eq!(
                reg.model("m", Select::Split(Some(&key))).unwrap().version(),
                first,
                "same key, same version"
            );
        }
        canary += usize::from(first == 2);
    }
    assert!(
        (100..300).contains(&canary),
        "about 10% of keys go to the canary: {canary} of 2000"
    );
    let random: usize = (0..4000)
        .map(|_| usize::from(reg.model("m", Select::Split(None)).unwrap().version() == 2))
        .sum();
    assert!(
        (200..600).contains(&random),
        "about 10% of unkeyed requests: {random} of 4000"
    );
    // Moving the canary label moves its share.
    reg.set_label("m", "canary", 1).unwrap();
    assert!((0..500).all(|u| reg
        .model("m", Select::Split(Some(&u.to_string())))
        .unwrap()
        .version()
        == 1));
}

#[test]
fn a_broken_version_never_replaces_a_ready_one() {
    let dir = repo(&[(1, "mlp.onnx")], None);
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert_eq!(reg.model("m", Select::Default).unwrap().version(), 1);
    // A corrupt version 2: version 1 keeps serving, the status says why 2 failed.
    put_version(dir.path(), "m", 2, "corrupt.onnx");
    let errors = reg.reload().unwrap();
    assert!(
        errors.iter().any(|e| e.code() == ErrorCode::InvalidModel),
        "{errors:?}"
    );
    assert_eq!(reg.model("m", Select::Default).unwrap().version(), 1);
    let st = reg.model_status("m").unwrap();
    assert!(
        matches!(&st.versions[1].state, VersionState::Failed(r) if r.contains("cannot be loaded")),
        "{st:?}"
    );
    // An unchanged broken file is not retried on every reload.
    assert!(reg.reload().unwrap().is_empty());
    // A checksum mismatch (sidecar) for version 3.
    put_version(dir.path(), "m", 3, "mlp_v2.onnx");
    std::fs::write(dir.path().join("m/3/model.onnx.sha256"), "0".repeat(64)).unwrap();
    let errors = reg.reload().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| matches!(e, Error::ChecksumMismatch { version: 3, .. })),
        "{errors:?}"
    );
    assert_eq!(reg.model("m", Select::Default).unwrap().version(), 1);
    // Fixing the file makes it load, and it replaces version 1 (latest 1).
    std::fs::remove_file(dir.path().join("m/3/model.onnx.sha256")).unwrap();
    std::fs::write(
        dir.path().join("m/3/model.onnx"),
        std::fs::read(fixture("mlp_v2.onnx")).unwrap(),
    )
    .unwrap();
    std::fs::write(dir.path().join("m/3/touch"), "changed").unwrap();
    let errors = reg.reload().unwrap();
    assert!(
        !errors
            .iter()
            .any(|e| e.code() == ErrorCode::ChecksumMismatch),
        "{errors:?}"
    );
    assert_eq!(reg.model("m", Select::Default).unwrap().version(), 3);
    assert_eq!(ready(&reg), vec![3]);
}

#[test]
fn integrity_checks_from_the_configuration() {
    let good = {
        use std::io::Read;
        let mut b = Vec::new();
        std::fs::File::open(fixture("mlp.onnx"))
            .unwrap()
            .read_to_end(&mut b)
            .unwrap();
        b
    };
    let digest: String = {
        use sha2::Digest;
        sha2::Sha256::digest(&good)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let dir = repo(&[(1, "mlp.onnx"), (2, "mlp.onnx")], Some(&format!("[versions]\npolicy = \"all\"\n[integrity]\nsha256 = {{ 1 = \"{digest}\", 2 = \"{}\" }}\n", "ab".repeat(32))));
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert_eq!(ready(&reg), vec![1]);
    let st = reg.model_status("m").unwrap();
    assert!(
        matches!(&st.versions[1].state, VersionState::Failed(r) if r.contains("SHA-256")),
        "{st:?}"
    );
    let dir = repo(
        &[(1, "mlp.onnx")],
        Some("[integrity]\nmax_model_bytes = 100\n"),
    );
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    assert!(ready(&reg).is_empty());
    assert_eq!(
        reg.model("m", Select::Default).unwrap_err().code(),
        ErrorCode::NoVersionAvailable
    );
    assert!(
        matches!(&reg.model_status("m").unwrap().versions[0].state, VersionState::Failed(r) if r.contains("exceed the limit of 100"))
    );
}

#[test]
fn warmup_runs_before_a_version_is_ready_and_a_failing_warmup_fails_the_version() {
    let dir = repo(
        &[(1, "mlp.onnx")],
        Some("[warmup]\ninputs = \"random\"\ncount = 3\n"),
    );
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let m = reg.model("m", Select::Default).unwrap();
    assert_eq!(
        m.stats().requests_run,
        3,
        "three warmup inferences ran before it was ready"
    );
    // Inputs from a file that does not fit the model: the version fails with the warmup's reason.
    std::fs::copy(fixture("two_io.inputs.tpk"), dir.path().join("m/warm.tpk")).unwrap();
    put_config(
        dir.path(),
        "m",
        "[warmup]\ninputs = \"file\"\nfile = \"warm.tpk\"\ncount = 1\n",
    );
    put_version(dir.path(), "m", 2, "mlp.onnx");
    let errors = reg.reload().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.to_string().contains("warmup failed")),
        "{errors:?}"
    );
    assert_eq!(reg.model("m", Select::Default).unwrap().version(), 1);
    std::fs::copy(fixture("mlp.inputs.tpk"), dir.path().join("m/warm.tpk")).unwrap();
    put_version(dir.path(), "m", 3, "mlp.onnx");
    assert!(reg.reload().unwrap().is_empty());
    assert_eq!(reg.model("m", Select::Default).unwrap().version(), 3);
}

#[test]
fn configuration_errors_name_file_key_and_line() {
    let dir = repo(
        &[(1, "mlp.onnx")],
        Some("[versions]\npolicy = \"latest\"\nlatst = 2\n"),
    );
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let errors = reg.reload().unwrap();
    let err = errors
        .iter()
        .find(|e| e.code() == ErrorCode::Config)
        .expect("a config error");
    let msg = err.to_string();
    assert!(
        msg.contains("config.toml") && msg.contains("latst") && msg.contains("line 3"),
        "{msg}"
    );
    assert_eq!(
        reg.model("m", Select::Default).unwrap_err().code(),
        ErrorCode::NoVersionAvailable,
        "a model with a bad configuration is listed but not served"
    );
    assert!(reg
        .model_status("m")
        .unwrap()
        .error
        .unwrap()
        .contains("line 3"));
    // A configuration that breaks later keeps the model serving with the last good one.
    put_config(dir.path(), "m", "[versions]\nlatest = 1\n");
    assert!(reg.reload().unwrap().is_empty());
    put_config(dir.path(), "m", "[batching]\nmax_batch_size = \"lots\"\n");
    let errors = reg.reload().unwrap();
    assert!(
        errors
            .iter()
            .any(|e| e.code() == ErrorCode::Config && e.to_string().contains("line 2")),
        "{errors:?}"
    );
    assert_eq!(reg.model("m", Select::Default).unwrap().version(), 1);
}

#[test]
fn model_names_and_repository_errors() {
    let dir = repo(&[(1, "mlp.onnx")], None);
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    for bad in ["", "..", ".", "a/b", "../m", "a\\b", ".hidden"] {
        let err = reg.load(bad).unwrap_err();
        assert_eq!(err.code(), ErrorCode::InvalidModelName, "{bad:?}: {err}");
    }
    assert_eq!(
        reg.load("absent").unwrap_err().code(),
        ErrorCode::UnknownModel
    );
    let err = reg.model("absent", Select::Default).unwrap_err();
    assert!(
        matches!(&err, Error::UnknownModel { available, .. } if available == &vec!["m".to_string()]),
        "{err:?}"
    );
    let err = Registry::open(dir.path().join("nope"), RegistryOptions::default()).unwrap_err();
    assert_eq!(err.code(), ErrorCode::RepositoryUnreadable);
    // Directories that are not positive integers, or lack model.onnx, are not versions.
    std::fs::create_dir_all(dir.path().join("m/0")).unwrap();
    std::fs::create_dir_all(dir.path().join("m/abc")).unwrap();
    std::fs::create_dir_all(dir.path().join("m/7")).unwrap();
    reg.reload().unwrap();
    assert_eq!(ready(&reg), vec![1]);
}

#[test]
fn explicit_mode_loads_and_unloads_on_request() {
    let dir = repo(&[(1, "mlp.onnx")], None);
    put_version(dir.path(), "other", 1, "mlp_v2.onnx");
    let reg = Registry::open(dir.path(), RegistryOptions::default().with_load_all(false)).unwrap();
    assert!(reg.models().is_empty());
    reg.load("m").unwrap();
    assert_eq!(reg.models(), vec!["m".to_string()]);
    reg.reload().unwrap();
    assert_eq!(
        reg.models(),
        vec!["m".to_string()],
        "a reload in explicit mode does not add models"
    );
    let pinned = reg.model("m", Select::Default).unwrap();
    reg.unload("m").unwrap();
    assert_eq!(
        reg.model("m", Select::Default).unwrap_err().code(),
        ErrorCode::UnknownModel
    );
    let _ = infer(&pinned); // a request in flight finishes on its version
    assert_eq!(reg.unload("m").unwrap_err().code(), ErrorCode::UnknownModel);
}

#[test]
fn polling_picks_up_new_versions() {
    let dir = repo(&[(1, "mlp.onnx")], None);
    let reg = Registry::open(
        dir.path(),
        RegistryOptions::default().with_poll_interval(std::time::Duration::from_millis(50)),
    )
    .unwrap();
    put_version(dir.path(), "m", 2, "mlp_v2.onnx");
    let start = std::time::Instant::now();
    while reg.model("m", Select::Default).unwrap().version() != 2 {
        assert!(
            start.elapsed() < std::time::Duration::from_secs(10),
            "the poller never loaded version 2"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(reg); // stops and joins the polling thread
}

#[test]
fn status_is_serialisable() {
    let dir = repo(
        &[(1, "mlp.onnx"), (2, "corrupt.onnx")],
        Some("[versions]\npolicy = \"all\"\nlabels = { stable = 1 }\n"),
    );
    let reg = Registry::open(dir.path(), RegistryOptions::default()).unwrap();
    let json = serde_json::to_value(reg.status()).unwrap();
    assert_eq!(json[0]["name"], "m");
    assert_eq!(json[0]["versions"][0]["state"], "ready");
    assert_eq!(json[0]["versions"][1]["state"], "failed");
    assert!(json[0]["versions"][1]["reason"]
        .as_str()
        .unwrap()
        .contains("cannot be loaded"));
    assert_eq!(json[0]["labels"]["stable"], 1);
    assert_eq!(json[0]["default_version"], 1);
}

#[test]
fn generated_warmup_feeds_strings_sequences_maps_optionals_and_packed_types() {
    // Warmup makes a value of each input's type: a sequence of one tensor, a map of one entry, an
    // optional left out, strings empty, packed types zero. Each version must become ready.
    for file in [
        "seq_len",
        "seq_split",
        "strings",
        "zipmap",
        "dict_in",
        "optional",
        "packed",
        "two_bit",
    ] {
        for inputs in ["zeros", "random"] {
            let dir = repo(
                &[(1, &format!("values/{file}.onnx"))],
                Some(&format!("[warmup]\ninputs = \"{inputs}\"\ncount = 2\n")),
            );
            let reg = Registry::open(dir.path(), RegistryOptions::default())
                .unwrap_or_else(|e| panic!("{file} ({inputs}): {e}"));
            assert_eq!(ready(&reg), vec![1], "{file} ({inputs})");
            let m = reg.model("m", Select::Default).unwrap();
            assert_eq!(m.stats().requests_run, 2, "{file} ({inputs})");
        }
    }
}

#[test]
fn status_and_metrics_answer_while_a_version_loads() {
    // Version 2 takes a while to load (1000 warmup runs of slow.onnx). While a reload loads it,
    // status shows it Loading and metrics answer: neither waits for the load (before, both took
    // the model's control lock, which the load holds, and only ever saw the version Ready).
    let dir = repo(&[(1, "mlp.onnx")], None);
    let reg = Arc::new(Registry::open(dir.path(), RegistryOptions::default()).unwrap());
    put_config(
        dir.path(),
        "m",
        "[warmup]\ninputs = \"zeros\"\ncount = 1000\n",
    );
    put_version(dir.path(), "m", 2, "slow.onnx");
    let reloader = {
        let reg = reg.clone();
        std::thread::spawn(move || reg.reload())
    };
    let mut seen_loading = false;
    let started = std::time::Instant::now();
    while !reloader.is_finished() && started.elapsed() < std::time::Duration::from_secs(60) {
        let status = reg.model_status("m").unwrap();
        if status
            .versions
            .iter()
            .any(|v| v.version == 2 && v.state == VersionState::Loading)
        {
            let metrics = reg.metrics();
            assert!(metrics.iter().any(|(m, v, _, _)| m == "m" && *v == 1));
            seen_loading = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_micros(200));
    }
    assert!(reloader.join().unwrap().unwrap().is_empty());
    assert!(seen_loading, "status never showed version 2 loading");
    assert_eq!(ready(&reg), vec![2]);
}
