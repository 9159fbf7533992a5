//! The main demo: serve the bundled model repository (`examples/models`) from many threads,
//! route users across versions, promote the canary by moving a label, and count who served what.
//!
//!     make demo            (provisions ONNX Runtime, then runs this example)
//!     cargo run --release --example quickstart [path/to/model.onnx ...]   (signature + a prediction)
//!
//! One example per capability beside it: `options` (load and request options), `submit` (futures
//! and callbacks), `pipeline` (images, encoded images, token ids, text), `registry` (versions,
//! labels, reloads), `metrics` (snapshot, JSON, Prometheus), `values` (strings, maps, sequences,
//! optionals). `make examples` runs them all.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use inferkit::repository::{Registry, RegistryOptions, Select};
use inferkit::{DType, Model, Runtime, Tensor, TensorView};

fn main() -> Result<(), inferkit::Error> {
    let runtime = Runtime::init()?;
    println!(
        "inferkit {} on ONNX Runtime {} ({})",
        inferkit::VERSION,
        runtime.ort_version(),
        runtime.dylib_path().display()
    );

    let args: Vec<PathBuf> = std::env::args().skip(1).map(PathBuf::from).collect();
    if !args.is_empty() {
        for path in args {
            show_model(&Model::open(&path)?)?;
        }
        return Ok(());
    }

    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/models");
    let registry = Registry::open(&root, RegistryOptions::default())?;
    println!("\nrepository {}", root.display());
    for status in registry.status() {
        let versions: Vec<String> = status
            .versions
            .iter()
            .map(|v| format!("{} {:?}", v.version, v.state))
            .collect();
        println!(
            "  {}: versions [{}], labels {:?}, default {:?}",
            status.name,
            versions.join(", "),
            status.labels,
            status.default_version
        );
    }
    for version in [1, 2] {
        let m = registry.model("classifier", Select::Version(version))?;
        print!("\nclassifier version {version}");
        show_model(&m)?;
    }

    println!("\n1. 8 threads × 250 users, routed by the 90/10 split between `stable` and `canary`");
    print_counts(&serve(&registry, |user| Select::Split(Some(user))));

    println!("\n2. everyone asks for `stable`");
    print_counts(&serve(&registry, |_| Select::Label("stable")));

    registry.set_label("classifier", "stable", 2)?;
    println!("\n3. `stable` promoted to version 2 (the canary); everyone asks for `stable` again");
    print_counts(&serve(&registry, |_| Select::Label("stable")));

    println!("\nmetrics (Registry::metrics; the same in Prometheus text from Registry::metrics_prometheus)");
    println!(
        "{:<12} {:>7} {:>9} {:>7} {:>10} {:>10} {:>10} {:>11} {:>6}",
        "model",
        "version",
        "requests",
        "failed",
        "p50 us",
        "p90 us",
        "p99 us",
        "mean batch",
        "loads"
    );
    for (name, version, m, events) in registry.metrics() {
        let failed: u64 = m.requests_failed.iter().map(|(_, n)| n).sum();
        let mean_batch = m.batch_size.sum as f64 / m.batch_size.count.max(1) as f64;
        println!(
            "{name:<12} {version:>7} {:>9} {failed:>7} {:>10.1} {:>10.1} {:>10.1} {mean_batch:>11.2} {:>6}",
            m.requests_success,
            m.request_duration.p50_us(),
            m.request_duration.p90_us(),
            m.request_duration.p99_us(),
            events.loads
        );
    }
    Ok(())
}

/// 8 threads × 250 requests; returns requests served per version.
fn serve(registry: &Registry, select: impl Fn(&str) -> Select<'_> + Sync) -> BTreeMap<u64, usize> {
    let counts = Mutex::new(BTreeMap::new());
    std::thread::scope(|s| {
        for t in 0..8 {
            let (counts, select) = (&counts, &select);
            s.spawn(move || {
                for u in 0..250 {
                    let user = format!("user-{}", t * 250 + u);
                    let model = registry.model("classifier", select(&user)).expect("select");
                    let x: Vec<f32> = (0..16)
                        .map(|i| ((i + u) % 7) as f32 * 0.25 - 0.75)
                        .collect();
                    model
                        .infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])
                        .expect("infer");
                    *counts
                        .lock()
                        .expect("counts")
                        .entry(model.version())
                        .or_insert(0) += 1;
                }
            });
        }
    });
    counts.into_inner().expect("counts")
}

fn print_counts(counts: &BTreeMap<u64, usize>) {
    for (version, n) in counts {
        println!("   version {version}: {n} requests");
    }
}

/// Prints a model's signature and its outputs for a deterministic request.
fn show_model(model: &Model) -> Result<(), inferkit::Error> {
    println!("\n{}  {}", model.name(), model.signature());
    let inputs: Vec<(String, Tensor)> = model
        .signature()
        .inputs
        .iter()
        .map(|spec| {
            let shape: Vec<usize> = spec
                .dims
                .iter()
                .map(|d| usize::try_from(d.as_i64()).unwrap_or(2))
                .collect();
            let n: usize = shape.iter().product();
            let values: Vec<f32> = (0..n).map(|i| ((i % 7) as f32 - 3.0) * 0.25).collect();
            let tensor = match spec.dtype {
                DType::F32 | DType::F64 | DType::F16 | DType::BF16 => {
                    Tensor::from_f32(spec.dtype, shape, &values)
                }
                DType::I64 => {
                    Tensor::from_vec(shape, values.iter().map(|v| (v * 4.0) as i64).collect())
                }
                DType::Bool => Tensor::from_vec(shape, (0..n).map(|i| i % 3 != 0).collect()),
                other => Tensor::zeros(other, shape),
            }?;
            Ok((spec.name.to_string(), tensor))
        })
        .collect::<Result<_, inferkit::Error>>()?;
    let views: Vec<(&str, TensorView<'_>)> =
        inputs.iter().map(|(n, t)| (n.as_str(), t.view())).collect();
    for (name, value) in model.infer(&views)?.iter() {
        match value.as_tensor() {
            Some(tensor) => println!("  {name} {:?} = {}", tensor.shape(), preview(tensor)),
            None => println!("  {name}: a {}", value.kind().name()),
        }
    }
    Ok(())
}

/// The first few values of a tensor, printed.
fn preview(t: &Tensor) -> String {
    let items: Vec<String> = match t.dtype() {
        DType::I64 => t
            .as_slice::<i64>()
            .map(|s| s.iter().take(8).map(|v| v.to_string()).collect())
            .unwrap_or_default(),
        DType::Bool => t
            .as_slice::<bool>()
            .map(|s| s.iter().take(8).map(|v| v.to_string()).collect())
            .unwrap_or_default(),
        _ => t
            .to_f32_vec()
            .map(|s| s.iter().take(8).map(|v| format!("{v:.4}")).collect())
            .unwrap_or_default(),
    };
    let more = if t.len() > items.len() { ", …" } else { "" };
    format!("[{}{more}]", items.join(", "))
}
