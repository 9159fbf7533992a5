//! A versioned model repository: versions, labels, a reload that brings a new version in, and
//! status.
//!
//!     cargo run --example registry
//!
//! A repository is a folder with one folder per model; each model has numbered version folders
//! holding `model.onnx`, and an optional `config.toml`:
//!
//! ```text
//! <root>/scorer/config.toml
//! <root>/scorer/1/model.onnx
//! <root>/scorer/2/model.onnx
//! ```
//!
//! This example builds one in a temporary folder from the test fixtures.

use std::path::Path;

use inferkit::repository::{ModelRef, Registry, RegistryOptions, Select, VersionState};
use inferkit::{ModelOptions, TensorView};

fn put_version(root: &Path, version: u64, fixture: &str) -> std::io::Result<()> {
    let dir = root.join("scorer").join(version.to_string());
    std::fs::create_dir_all(&dir)?;
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(fixture);
    std::fs::copy(from, dir.join("model.onnx"))?;
    Ok(())
}

/// Runs one request and returns the first score, to tell versions apart.
fn score(model: &ModelRef) -> Result<f32, inferkit::Error> {
    let x: Vec<f32> = (0..16).map(|i| i as f32 / 8.0 - 1.0).collect();
    let out = model.infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])?;
    Ok(out["y"].as_slice::<f32>()?[0])
}

fn print_status(registry: &Registry) {
    for model in registry.status() {
        for v in &model.versions {
            println!("  {} version {}: {:?}", model.name, v.version, v.state);
        }
        println!("  labels {:?}", model.labels);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let root = dir.path();
    // Two versions of a 16 → 4 MLP, different weights.
    put_version(root, 1, "mlp.onnx")?;
    put_version(root, 2, "mlp_v2.onnx")?;
    std::fs::write(
        root.join("scorer/config.toml"),
        r#"
[versions]
policy = "all"                       # serve every version present
labels = { stable = 1, canary = 2 }

[warmup]                             # run twice before a version becomes selectable
inputs = "zeros"
count = 2
"#,
    )?;

    // Options for models whose config.toml does not set them.
    let options =
        RegistryOptions::default().with_defaults(ModelOptions::default().with_instances(1));
    let registry = Registry::open(root, options)?;
    println!("opened {}", root.display());
    print_status(&registry);

    // A request picks a version: by label, by number, or the default (the newest ready one).
    let stable = registry.model("scorer", Select::Label("stable"))?;
    let canary = registry.model("scorer", Select::Label("canary"))?;
    println!(
        "stable is version {} (score {:.4}), canary is version {} (score {:.4})",
        stable.version(),
        score(&stable)?,
        canary.version(),
        score(&canary)?
    );

    // Promote: move `stable` onto version 2, at once for every new request. `stable` above
    // stays on the version it selected until it is dropped.
    registry.set_label("scorer", "stable", 2)?;
    let promoted = registry.model("scorer", Select::Label("stable"))?;
    println!("stable moved to version {}", promoted.version());
    assert_eq!((stable.version(), promoted.version()), (1, 2));

    // A new version arrives on disk; a reload loads and warms it before it becomes selectable
    // (RegistryOptions::with_poll_interval reloads on a timer instead).
    put_version(root, 3, "mlp.onnx")?;
    let errors = registry.reload()?;
    assert!(errors.is_empty(), "{errors:?}");
    let newest = registry.model("scorer", Select::Default)?;
    println!(
        "after the reload the default is version {} (score {:.4})",
        newest.version(),
        score(&newest)?
    );

    // A broken version never replaces a ready one: it is reported, and the others keep serving.
    std::fs::create_dir_all(root.join("scorer/4"))?;
    std::fs::write(root.join("scorer/4/model.onnx"), b"not a model")?;
    let errors = registry.reload()?;
    println!("reload with a broken version 4: {} error(s)", errors.len());
    let status = registry.model_status("scorer")?;
    assert!(status
        .versions
        .iter()
        .any(|v| v.version == 4 && matches!(v.state, VersionState::Failed(_))));
    assert_eq!(registry.model("scorer", Select::Default)?.version(), 3);
    print_status(&registry);
    Ok(())
}
