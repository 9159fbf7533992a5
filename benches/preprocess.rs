//! Preprocessing benchmark: a 1920×1080 RGB8 frame to a 224×224 normalised NCHW tensor (f32, and
//! f16), by inferkit's pipeline and, in the same run, by OpenCV and by Pillow + numpy. Each is
//! compared with the same resampling: inferkit's `bilinear` filter (an antialiased convolution,
//! as Pillow's BILINEAR) against Pillow, inferkit's `linear` filter (as OpenCV's INTER_LINEAR)
//! against OpenCV.
//!
//!     cargo bench --bench preprocess
//!
//! The Python side (benches/preprocess_reference.py) runs in a virtual environment the benchmark
//! makes under target/bench-venv with numpy, Pillow and opencv-python-headless from PyPI. All
//! sides run on one thread. Results: stdout and target/bench/preprocess.json.

use std::path::{Path, PathBuf};
use std::time::Instant;

use inferkit::pipeline::{Filter, Fit, ImageStep, ImageView, PipelineSpec, PixelFormat, PreStep};
use inferkit::{Model, ModelOptions};

const W: usize = 1920;
const H: usize = 1080;
const ITERATIONS: usize = 200;

fn pipeline(filter: Filter, cast: Option<&str>) -> PipelineSpec {
    let mut pre = vec![
        PreStep::Scale {
            factor: 1.0 / 255.0,
            offset: 0.0,
        },
        PreStep::Normalize {
            mean: vec![0.485, 0.456, 0.406],
            std: vec![0.229, 0.224, 0.225],
            axis: -1,
        },
        PreStep::Layout {
            from: "hwc".into(),
            to: "chw".into(),
        },
        PreStep::AddBatchDim,
    ];
    if let Some(to) = cast {
        pre.push(PreStep::Cast { to: to.into() });
    }
    PipelineSpec::default()
        .with_image([ImageStep::Resize {
            width: 224,
            height: 224,
            fit: Fit::Exact,
            filter,
            pad: 0,
        }])
        .with_pre(pre)
}

fn median_ms(mut f: impl FnMut()) -> f64 {
    f();
    let mut times: Vec<f64> = (0..ITERATIONS)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn python_env(root: &Path) -> Option<PathBuf> {
    let venv = root.join("target/bench-venv");
    let python = venv.join("bin/python3");
    let ok = |p: &Path| {
        std::process::Command::new(p)
            .args(["-c", "import cv2, PIL, numpy"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if !ok(&python) {
        eprintln!(
            "setting up {} (numpy, Pillow, opencv-python-headless from PyPI)",
            venv.display()
        );
        let made = std::process::Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success());
        let installed = made
            && std::process::Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "numpy==2.4.6",
                    "pillow==13.0.0",
                    "opencv-python-headless==5.0.0.93",
                ])
                .status()
                .is_ok_and(|s| s.success());
        if !installed || !ok(&python) {
            return None;
        }
    }
    Some(python)
}

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    // A frame with structure at every scale (gradients and a pattern), the same for both sides.
    let frame: Vec<u8> = (0..H)
        .flat_map(|y| {
            (0..W).flat_map(move |x| {
                [
                    (x * 255 / W) as u8,
                    (y * 255 / H) as u8,
                    ((x ^ y) & 0xff) as u8,
                ]
            })
        })
        .collect();
    let frame_path = out.join("frame.rgb");
    std::fs::write(&frame_path, &frame).expect("write frame");
    let view = ImageView::new(&frame, PixelFormat::Rgb8, W, H, W * 3).expect("frame");

    let mut rows: Vec<(String, f64)> = Vec::new();
    // `bilinear` is Pillow's filter (antialiased convolution); `linear` is OpenCV's INTER_LINEAR.
    for (filter_name, filter) in [("bilinear", Filter::Bilinear), ("linear", Filter::Linear)] {
        for (label, fixture, cast) in [
            ("f32", "image224_f32.onnx", None),
            ("f16", "image224_f16.onnx", Some("f16")),
        ] {
            let model = Model::open_with(
                root.join("tests/fixtures").join(fixture),
                &ModelOptions::default().with_pipeline(pipeline(filter, cast)),
            )
            .expect("model");
            let tensor = model.preprocess_image(&view).expect("preprocess");
            assert_eq!(tensor.shape(), &[1, 3, 224, 224]);
            let ms = median_ms(|| {
                drop(std::hint::black_box(
                    model.preprocess_image(&view).expect("preprocess"),
                ))
            });
            rows.push((format!("inferkit_{filter_name}_{label}_ms"), ms));
        }
    }

    let mut reference = serde_json::Map::new();
    match python_env(&root) {
        Some(python) => {
            let output = std::process::Command::new(python)
                .arg(root.join("benches/preprocess_reference.py"))
                .args([frame_path.to_string_lossy().as_ref(), &W.to_string(), &H.to_string(), &ITERATIONS.to_string()])
                .output()
                .expect("run the Python reference");
            match serde_json::from_slice::<serde_json::Value>(&output.stdout) {
                Ok(serde_json::Value::Object(map)) => reference = map,
                _ => eprintln!("the Python reference failed: {}", String::from_utf8_lossy(&output.stderr)),
            }
        }
        None => eprintln!("warning: no Python environment with numpy, Pillow and OpenCV; reporting inferkit alone"),
    }

    println!("preprocess a {W}x{H} RGB8 frame to a 224x224 normalised NCHW tensor, one thread, median of {ITERATIONS}");
    println!("{:<22} {:>10} {:>10}", "", "f32 ms", "f16 ms");
    let get = |k: &str| {
        rows.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| *v)
            .or_else(|| reference.get(k).and_then(|v| v.as_f64()))
    };
    for name in ["inferkit_bilinear", "pillow", "inferkit_linear", "opencv"] {
        if let (Some(a), Some(b)) = (
            get(&format!("{name}_f32_ms")),
            get(&format!("{name}_f16_ms")),
        ) {
            println!("{name:<22} {a:>10.3} {b:>10.3}");
        }
    }
    let mut doc = serde_json::Map::new();
    for (k, v) in &rows {
        doc.insert(k.clone(), (*v).into());
    }
    doc.extend(reference.clone());
    for label in ["f32", "f16"] {
        let (ib, il) = (
            get(&format!("inferkit_bilinear_{label}_ms")),
            get(&format!("inferkit_linear_{label}_ms")),
        );
        let (o, p) = (
            get(&format!("opencv_{label}_ms")),
            get(&format!("pillow_{label}_ms")),
        );
        if let (Some(ib), Some(p)) = (ib, p) {
            println!(
                "{label}: inferkit (bilinear) is {:.2}x as fast as Pillow + numpy (bilinear)",
                p / ib
            );
            doc.insert(format!("speedup_vs_pillow_{label}"), (p / ib).into());
        }
        if let (Some(il), Some(o)) = (il, o) {
            println!(
                "{label}: inferkit (linear) is {:.2}x as fast as OpenCV (INTER_LINEAR)",
                o / il
            );
            doc.insert(format!("speedup_vs_opencv_{label}"), (o / il).into());
        }
    }
    std::fs::write(
        out.join("preprocess.json"),
        serde_json::to_string_pretty(&doc).expect("json"),
    )
    .expect("write preprocess.json");
}
