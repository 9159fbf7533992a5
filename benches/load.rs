//! Side-by-side load generator: raw ort against inferkit, in one process, on the same models.
//!
//!     cargo bench --bench load              full run (about 10 minutes on 2 cores)
//!     cargo bench --bench load -- --quick   short cells (under a minute)
//!     cargo bench --bench load -- --quick --model mlp
//!
//! Configurations, each at concurrency 1, 8 and 64 threads, every request one row:
//!   (a) raw ort, one `Mutex<Session>` shared by all threads
//!   (b) raw ort, one session per thread
//!   (c) inferkit without batching (max_batch_size 1)
//!   (d) inferkit, work-conserving batching (the default)
//!   (e) inferkit, timed batching (max_queue_delay_us 500)
//!   (f) inferkit, work-conserving, the same number of requests in flight but submitted
//!       asynchronously (each callback submits the next request): no thread blocks per request
//! inferkit runs one session per CPU. The ideal is raw ort on one session per CPU at its best batch
//! size of 1, 2, 4, 8, 16 and 32 (batch 32 is not the best for every model: per row, ppocr_cls
//! runs slower in batches of 32 than alone), in rows/s. Results: stdout and
//! `target/bench/load.json`.
//!
//! Reload: the tiny MLP through a `Registry`, p50/p99 in steady state and while another thread
//! loads a new version, moves the `stable` label onto it and unloads the old one, in a loop
//! (`--model reload` runs only this).
//!
//! Metrics cost: the tiny MLP at 1 and 64 threads with metrics on and off, in pairs of runs whose
//! order alternates (`--model metrics`).
//!
//! Policies (`--model policies`): the tiny MLP at 64 blocking threads, work-conserving batching
//! against no batching, and mlp_large at 64 threads, blocking and async against the ideal, in
//! pairs of runs whose order alternates (single runs of those cells scatter by ±10–20%).
//!
//! One caller (`--model single`): raw ort and inferkit's c, d and f on every model, in short
//! slices taken in turn round after round; the median of each round's ratio to raw ort, so that
//! the machine's drift does not decide a comparison of a few per cent.
//!
//! Backends (`--model backends`, with `--features tract`): every model on inferkit's two engines,
//! ONNX Runtime and tract, in the same configurations (no batching, work-conserving) at 1, 8 and
//! 64 threads, the two taken in turn over three rounds (the mean of each is printed).
//!
//! Wake-up bound (`--model wake`): 64 threads blocking on requests that two token holders complete
//! in batches of 32 with no model at all; the most blocking requests per second the machine allows
//! any scheduler whose callers sleep until their result is ready.
//!
//! The header names the commit (`git describe --dirty`) and the CPU model.
//!
//! Models: the tiny MLP fixture (16→32→4), the MLP 256→1024→1024→10 fixture, and PaddleOCR's
//! text-direction classifier `ch_ppocr_mobile_v2.0_cls_infer.onnx` (from the `rapidocr-onnxruntime`
//! wheel, fetched by `.ci/provision-models.sh`).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use inferkit::{BatchingOptions, Model, ModelOptions, Runtime, TensorView};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use ort::value::TensorRef;

const MAX_BATCH: usize = 32;
const CONCURRENCY: [usize; 3] = [1, 8, 64];

struct Bench {
    name: &'static str,
    path: PathBuf,
    input: &'static str,
    output: &'static str,
    /// Shape of one row (without the batch dim).
    row: Vec<usize>,
}

#[derive(Clone, Copy, Default)]
struct Cell {
    rows_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    /// Mean requests per session run (inferkit only).
    batch: f64,
    /// Process CPU seconds per wall second during the cell (at most the number of CPUs).
    cpu: f64,
}

/// CPU time used by this process so far (user + system).
#[cfg(unix)]
fn process_cpu() -> Duration {
    // SAFETY: `usage` is a valid out-pointer for getrusage.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// CPU time used by this process so far (user + kernel).
#[cfg(windows)]
fn process_cpu() -> Duration {
    use windows_sys::Win32::Foundation::FILETIME;
    use windows_sys::Win32::System::Threading::{GetCurrentProcess, GetProcessTimes};
    let zero = || FILETIME {
        dwLowDateTime: 0,
        dwHighDateTime: 0,
    };
    let (mut created, mut exited, mut kernel, mut user) = (zero(), zero(), zero(), zero());
    // SAFETY: the pseudo-handle of the current process and four valid out-pointers.
    unsafe {
        GetProcessTimes(
            GetCurrentProcess(),
            &mut created,
            &mut exited,
            &mut kernel,
            &mut user,
        )
    };
    // FILETIME counts 100 ns units.
    let ticks = |t: FILETIME| (u64::from(t.dwHighDateTime) << 32) | u64::from(t.dwLowDateTime);
    Duration::from_nanos((ticks(kernel) + ticks(user)) * 100)
}

/// Mean requests per session run since `before`.
fn mean_batch(model: &Model, before: inferkit::SchedulerStats) -> f64 {
    let after = model.stats();
    let runs = after.executions - before.executions;
    if runs == 0 {
        0.0
    } else {
        (after.requests_run - before.requests_run) as f64 / runs as f64
    }
}

/// `in_flight` requests kept in flight without blocking any thread: each completion (a callback,
/// on whichever thread completes it) submits the next request. This is how an async host drives
/// inferkit; latency is from submission to callback.
fn measure_in_flight(
    model: &Model,
    b: &Bench,
    in_flight: usize,
    duration: Duration,
    shape: &[usize],
    data: &[Vec<f32>],
) -> Cell {
    use std::sync::Arc;
    struct Loop {
        stop: AtomicBool,
        done: std::sync::mpsc::Sender<Vec<u64>>,
    }
    // Each chain of requests carries its own latencies from callback to callback and hands them
    // over when it stops: no lock per request (a shared one would be contended by the two
    // threads that complete requests, a cost of the measurement, not of inferkit).
    fn submit(
        model: Arc<Model>,
        input: &'static str,
        tensor: inferkit::Tensor,
        state: Arc<Loop>,
        mut latencies: Vec<u64>,
    ) {
        let start = Instant::now();
        let (m, st, t) = (model.clone(), state.clone(), tensor.clone());
        let submitted = model.submit_with_callback(
            vec![(input.to_string(), tensor)],
            &Default::default(),
            move |r| {
                r.expect("infer");
                latencies.push(start.elapsed().as_nanos() as u64);
                if st.stop.load(Ordering::Relaxed) {
                    let _ = st.done.send(latencies);
                } else {
                    submit(m, input, t, st, latencies);
                }
            },
        );
        submitted.expect("submit");
    }
    // The benchmark owns the model for its whole run; the callbacks need `'static` handles.
    let model: Arc<Model> = Arc::new(
        Model::open_with(
            &b.path,
            &ModelOptions::default()
                .with_instances(model.instances())
                .with_batching(BatchingOptions::default().with_max_batch_size(MAX_BATCH)),
        )
        .expect("model"),
    );
    let (tx, rx) = std::sync::mpsc::channel();
    let state = Arc::new(Loop {
        stop: AtomicBool::new(false),
        done: tx,
    });
    let input: &'static str = Box::leak(b.input.to_string().into_boxed_str());
    let before = model.stats();
    let cpu_start = process_cpu();
    let start = Instant::now();
    // A submitting thread that finds a session idle drains the queue, and with callbacks that
    // resubmit it keeps doing so until the stop flag is set: the timer sets it, not this thread.
    let timer = {
        let state = state.clone();
        std::thread::spawn(move || {
            std::thread::sleep(duration);
            state.stop.store(true, Ordering::Relaxed);
        })
    };
    let submitters: Vec<_> = data
        .iter()
        .take(in_flight)
        .map(|d| {
            let (model, state) = (model.clone(), state.clone());
            let tensor = inferkit::Tensor::from_vec(shape.to_vec(), d.clone()).expect("tensor");
            std::thread::spawn(move || {
                submit(model, input, tensor, state, Vec::with_capacity(1 << 16))
            })
        })
        .collect();
    timer.join().expect("timer");
    let elapsed = start.elapsed();
    let cpu = (process_cpu() - cpu_start).as_secs_f64() / elapsed.as_secs_f64();
    let mut lat = Vec::new();
    for _ in 0..in_flight {
        if let Ok(chain) = rx.recv_timeout(Duration::from_secs(30)) {
            lat.extend(chain);
        }
    }
    for s in submitters {
        s.join().expect("submitter");
    }
    lat.sort_unstable();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 - 1.0) * p) as usize)
            .map_or(0.0, |ns| *ns as f64 / 1000.0)
    };
    Cell {
        rows_per_s: lat.len() as f64 / elapsed.as_secs_f64(),
        p50_us: pct(0.5),
        p99_us: pct(0.99),
        batch: mean_batch(&model, before),
        cpu,
    }
}

fn raw_session(path: &Path) -> Session {
    let env = Runtime::init().expect("ONNX Runtime").environment();
    let build = || -> Result<Session, String> {
        let b = Session::builder(env).map_err(|e| e.to_string())?;
        let b = b.with_intra_threads(1).map_err(|e| e.to_string())?;
        let b = b.with_inter_threads(1).map_err(|e| e.to_string())?;
        let b = b.with_intra_op_spinning(false).map_err(|e| e.to_string())?;
        let mut b = b
            .with_optimization_level(GraphOptimizationLevel::All)
            .map_err(|e| e.to_string())?;
        b.commit_from_file(path).map_err(|e| e.to_string())
    };
    build().unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn raw_run(session: &mut Session, b: &Bench, shape: &[usize], data: &[f32]) -> Vec<f32> {
    let input = TensorRef::from_array_view((shape, data)).expect("input");
    let out = session.run(ort::inputs![b.input => input]).expect("run");
    out[b.output]
        .try_extract_tensor::<f32>()
        .expect("output")
        .1
        .to_vec()
}

/// Distinct input for each thread.
fn data_for(thread: usize, rows: usize, row_len: usize) -> Vec<f32> {
    (0..rows * row_len)
        .map(|i| ((i * 31 + thread * 17) % 251) as f32 / 251.0 - 0.5)
        .collect()
}

/// Runs `call(thread)` from `threads` threads for `duration`; each call is `rows` rows.
fn measure(threads: usize, duration: Duration, rows: usize, call: &(dyn Fn(usize) + Sync)) -> Cell {
    let stop = AtomicBool::new(false);
    let barrier = Barrier::new(threads + 1);
    let mut latencies: Vec<u64> = Vec::new();
    let mut elapsed = Duration::ZERO;
    let mut cpu_start = Duration::ZERO;
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let (stop, barrier) = (&stop, &barrier);
                s.spawn(move || {
                    let mut lat = Vec::with_capacity(1 << 16);
                    barrier.wait();
                    while !stop.load(Ordering::Relaxed) {
                        let start = Instant::now();
                        call(t);
                        lat.push(start.elapsed().as_nanos() as u64);
                    }
                    lat
                })
            })
            .collect();
        // The window opens before the threads are released: read after the barrier, the start
        // came late whenever the threads (64 of them on 2 CPUs) kept this one off a CPU, and the
        // calls they made meanwhile counted against a window that had not yet begun.
        cpu_start = process_cpu();
        let start = Instant::now();
        barrier.wait();
        std::thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        for h in handles {
            latencies.extend(h.join().expect("bench thread"));
        }
        elapsed = start.elapsed();
    });
    latencies.sort_unstable();
    let pct = |p: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * p) as usize)
            .map_or(0.0, |ns| *ns as f64 / 1000.0)
    };
    Cell {
        rows_per_s: (latencies.len() * rows) as f64 / elapsed.as_secs_f64(),
        p50_us: pct(0.50),
        p99_us: pct(0.99),
        batch: 0.0,
        cpu: (process_cpu() - cpu_start).as_secs_f64() / elapsed.as_secs_f64(),
    }
}

/// p50/p99 of requests through a registry in steady state, then while another thread loads a new
/// version, moves the `stable` label onto it and unloads the old one, in a loop.
fn reload_section(root: &Path, cell: Duration) -> Vec<serde_json::Value> {
    use inferkit::repository::{Registry, RegistryOptions, Select};
    let dir = tempfile::tempdir().expect("tempdir");
    let model = |v: u64| {
        let d = dir.path().join("m").join(v.to_string());
        std::fs::create_dir_all(&d).expect("version dir");
        let src = if v.is_multiple_of(2) {
            "mlp_v2.onnx"
        } else {
            "mlp.onnx"
        };
        std::fs::copy(root.join("tests/fixtures").join(src), d.join("model.onnx")).expect("copy");
    };
    std::fs::create_dir_all(dir.path().join("m")).expect("model dir");
    std::fs::write(
        dir.path().join("m/config.toml"),
        "[versions]\nlatest = 1\nlabels = { stable = 1 }\n[warmup]\ncount = 2\n",
    )
    .expect("config");
    model(1);
    let registry = Registry::open(dir.path(), RegistryOptions::default()).expect("registry");
    let threads = 8;
    let x: Vec<Vec<f32>> = (0..threads).map(|t| data_for(t, 1, 16)).collect();
    let call = |t: usize| {
        let m = registry
            .model("m", Select::Label("stable"))
            .expect("select");
        m.infer(&[("x", TensorView::from_slice(vec![1, 16], &x[t]))])
            .expect("infer");
    };
    let steady = measure(threads, cell, 1, &call);
    let stop = AtomicBool::new(false);
    let mut reloads = 0u64;
    let during = std::thread::scope(|s| {
        let reloader = s.spawn(|| {
            let mut v = 2u64;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                model(v);
                let errors = registry.reload().expect("reload");
                assert!(errors.is_empty(), "{errors:?}");
                registry.set_label("m", "stable", v).expect("label");
                let _ = std::fs::remove_dir_all(dir.path().join("m").join((v - 1).to_string()));
                registry.reload().expect("reload");
                v += 1;
                n += 1;
            }
            n
        });
        let c = measure(threads, cell, 1, &call);
        stop.store(true, Ordering::Relaxed);
        reloads = reloader.join().expect("reloader");
        c
    });
    println!("\n== reload: tiny MLP through a registry, {threads} threads selecting `stable`");
    println!(
        "{:<48} {:>12} {:>10} {:>10}",
        "phase", "rows/s", "p50 us", "p99 us"
    );
    println!(
        "{:<48} {:>12.0} {:>10.1} {:>10.1}",
        "steady state", steady.rows_per_s, steady.p50_us, steady.p99_us
    );
    let label = format!(
        "continuous reload ({:.1} new versions/s)",
        reloads as f64 / cell.as_secs_f64()
    );
    println!(
        "{label:<48} {:>12.0} {:>10.1} {:>10.1}",
        during.rows_per_s, during.p50_us, during.p99_us
    );
    vec![
        serde_json::json!({ "model": "reload", "config": "steady state", "concurrency": threads, "rows_per_s": steady.rows_per_s, "p50_us": steady.p50_us, "p99_us": steady.p99_us }),
        serde_json::json!({ "model": "reload", "config": "continuous reload", "concurrency": threads, "rows_per_s": during.rows_per_s, "p50_us": during.p50_us, "p99_us": during.p99_us, "versions_loaded": reloads }),
    ]
}

/// Runs `a` and `b` in `pairs` pairs, alternating which goes first (a-b, b-a, ...), so that drift
/// in the machine's speed hits both alike. Each run returns (rows/s, CPU µs per request).
struct Paired {
    a: Vec<(f64, f64)>,
    b: Vec<(f64, f64)>,
}

impl Paired {
    fn run(pairs: usize, a: &dyn Fn() -> (f64, f64), b: &dyn Fn() -> (f64, f64)) -> Paired {
        // Warms the process up; not counted.
        a();
        let mut p = Paired {
            a: Vec::new(),
            b: Vec::new(),
        };
        for pair in 0..pairs {
            if pair % 2 == 0 {
                p.a.push(a());
                p.b.push(b());
            } else {
                p.b.push(b());
                p.a.push(a());
            }
        }
        p
    }

    fn mean(v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64) -> f64 {
        v.iter().map(f).sum::<f64>() / v.len() as f64
    }

    /// Mean rows/s and mean CPU µs per request of `a` and of `b`.
    fn means(&self) -> [f64; 4] {
        [
            Self::mean(&self.a, |x| x.0),
            Self::mean(&self.a, |x| x.1),
            Self::mean(&self.b, |x| x.0),
            Self::mean(&self.b, |x| x.1),
        ]
    }

    /// Each pair's rows/s, `a`'s then `b`'s, in the order the pairs ran.
    fn runs(&self) -> Vec<[f64; 2]> {
        self.a
            .iter()
            .zip(&self.b)
            .map(|(a, b)| [a.0, b.0])
            .collect()
    }

    /// Each pair's ratio of `a`'s rows/s to `b`'s, sorted, and their median.
    fn ratios(&self) -> (Vec<f64>, f64) {
        let mut r: Vec<f64> = self.a.iter().zip(&self.b).map(|(a, b)| a.0 / b.0).collect();
        r.sort_by(f64::total_cmp);
        let median = (r[(r.len() - 1) / 2] + r[r.len() / 2]) / 2.0;
        (r, median)
    }
}

/// `values` with `decimals` decimals and `unit` after each, separated by spaces.
fn listed(values: &[f64], decimals: usize, unit: &str) -> String {
    values
        .iter()
        .map(|v| format!("{v:.decimals$}{unit}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Pairs of runs for a comparison that single runs cannot settle: 16 pairs of a quarter cell.
const PAIRS: usize = 16;

/// One blocking run of the tiny MLP at `threads` threads: (rows/s, CPU µs per request).
fn tiny_mlp_run(
    root: &Path,
    threads: usize,
    slice: Duration,
    options: &ModelOptions,
) -> (f64, f64) {
    let data: Vec<Vec<f32>> = (0..threads).map(|t| data_for(t, 1, 16)).collect();
    let model = Model::open_with(root.join("tests/fixtures/mlp.onnx"), options).expect("model");
    let c = measure(threads, slice, 1, &|t| {
        let out = model
            .infer(&[("x", TensorView::from_slice(vec![1, 16], &data[t]))])
            .expect("infer");
        std::hint::black_box(out);
    });
    (c.rows_per_s, c.cpu / c.rows_per_s * 1e6)
}

/// Throughput of the tiny MLP (work-conserving) with metrics on and off, at 1 thread (the direct
/// path, where a request is shortest and the clock readings weigh most) and at 64 (the queued
/// path), in pairs of runs ([`Paired`]). A single run of the 64-thread cell moves by ±10–20% from
/// one to the next (how many callers find a session idle depends on where the OS's time slices
/// fall), more than the effect measured: the figure to read is the median over pairs of each
/// pair's cost, which that scatter moves far less than the difference of two means (printed too).
fn metrics_cost_section(root: &Path, cell: Duration, cpus: usize) -> Vec<serde_json::Value> {
    let slice = cell / 4;
    let mut records = Vec::new();
    println!(
        "\n== metrics cost: tiny MLP, work-conserving, {PAIRS} pairs of {} ms runs (on and off, order alternating)",
        slice.as_millis()
    );
    println!(
        "{:>7} {:>12} {:>12} {:>14} {:>14} {:>13} {:>13}",
        "threads",
        "on rows/s",
        "off rows/s",
        "cost of means",
        "median cost",
        "CPU/req on",
        "CPU/req off"
    );
    for threads in [1, 64] {
        let options = |metrics| {
            ModelOptions::default()
                .with_instances(cpus)
                .with_metrics(metrics)
        };
        let p = Paired::run(
            PAIRS,
            &|| tiny_mlp_run(root, threads, slice, &options(true)),
            &|| tiny_mlp_run(root, threads, slice, &options(false)),
        );
        let [r_on, c_on, r_off, c_off] = p.means();
        let cost_of_means = (r_off - r_on) / r_off * 100.0;
        let (ratios, median) = p.ratios();
        let costs: Vec<f64> = ratios.iter().rev().map(|r| (1.0 - r) * 100.0).collect();
        let median = (1.0 - median) * 100.0;
        println!(
            "{threads:>7} {r_on:>12.0} {r_off:>12.0} {cost_of_means:>13.1}% {median:>13.1}% {c_on:>10.2} us {c_off:>10.2} us"
        );
        println!("        pairs' costs: {}", listed(&costs, 1, "%"));
        records.push(serde_json::json!({
            "model": "mlp", "config": "metrics cost", "concurrency": threads, "pairs": PAIRS,
            "metrics_on_rows_per_s": r_on, "metrics_off_rows_per_s": r_off,
            "cost_percent": cost_of_means, "median_pair_cost_percent": median, "pair_costs_percent": costs,
            "cpu_us_per_request_on": c_on, "cpu_us_per_request_off": c_off,
            "cpu_cost_percent": (c_on - c_off) / c_off * 100.0,
            "runs_rows_per_s_on_off": p.runs(),
        }));
    }
    records
}

/// The cells of issue 10's goals that single runs cannot settle, in pairs of runs ([`Paired`]):
/// goal 2's hardest, the tiny MLP at 64 blocking threads, work-conserving batching (d) against no
/// batching (c); and goal 4's, mlp_large at 64 threads, blocking (d) and async (f) against the
/// ideal (raw ort at batch 32, one session per CPU), whose single runs drift apart by 10% or more
/// as the machine's speed does.
fn policies_section(
    root: &Path,
    all: &[Bench],
    cell: Duration,
    cpus: usize,
) -> Vec<serde_json::Value> {
    let slice = cell / 4;
    let threads = 64;
    let mut records = Vec::new();
    println!(
        "\n== tiny MLP, {threads} blocking threads: work-conserving (d) against no batching (c), {PAIRS} pairs of {} ms runs (order alternating)",
        slice.as_millis()
    );
    let options = |max_batch| {
        ModelOptions::default()
            .with_instances(cpus)
            .with_batching(BatchingOptions::default().with_max_batch_size(max_batch))
    };
    let p = Paired::run(
        PAIRS,
        &|| tiny_mlp_run(root, threads, slice, &options(MAX_BATCH)),
        &|| tiny_mlp_run(root, threads, slice, &options(1)),
    );
    let [r_d, c_d, r_c, c_c] = p.means();
    let (ratios, median) = p.ratios();
    println!("d work-conserving: {r_d:>10.0} rows/s, {c_d:.2} us CPU per request (means)");
    println!("c no batching    : {r_c:>10.0} rows/s, {c_c:.2} us CPU per request (means)");
    println!(
        "d / c: {:.3} of means, median of pairs {median:.3} (pairs: {})",
        r_d / r_c,
        listed(&ratios, 2, "")
    );
    records.push(serde_json::json!({
        "model": "mlp", "config": "d against c, paired", "concurrency": threads, "pairs": PAIRS,
        "d_rows_per_s": r_d, "c_rows_per_s": r_c, "d_cpu_us_per_request": c_d, "c_cpu_us_per_request": c_c,
        "ratio_of_means": r_d / r_c, "median_pair_ratio": median, "pair_ratios": ratios,
        "runs_rows_per_s_d_c": p.runs(),
    }));

    let Some(b) = all.iter().find(|b| b.name == "mlp_large") else {
        return records;
    };
    let row_len: usize = b.row.iter().product();
    let shape1: Vec<usize> = std::iter::once(1).chain(b.row.iter().copied()).collect();
    let shape_b: Vec<usize> = std::iter::once(MAX_BATCH)
        .chain(b.row.iter().copied())
        .collect();
    let data: Vec<Vec<f32>> = (0..threads).map(|t| data_for(t, 1, row_len)).collect();
    let batch_data: Vec<Vec<f32>> = (0..cpus).map(|t| data_for(t, MAX_BATCH, row_len)).collect();
    let sessions: Vec<Mutex<Session>> = (0..cpus)
        .map(|_| Mutex::new(raw_session(&b.path)))
        .collect();
    let ideal = || {
        let c = measure(cpus, slice, MAX_BATCH, &|t| {
            let mut s = sessions[t].lock().expect("session");
            raw_run(&mut s, b, &shape_b, &batch_data[t]);
        });
        (c.rows_per_s, c.cpu / c.rows_per_s * 1e6)
    };
    let model = inferkit_model(
        b,
        cpus,
        BatchingOptions::default().with_max_batch_size(MAX_BATCH),
    );
    let blocking = || {
        let c = measure(threads, slice, 1, &|t| {
            let out = model
                .infer(&[(b.input, TensorView::from_slice(&shape1[..], &data[t]))])
                .expect("infer");
            std::hint::black_box(out);
        });
        (c.rows_per_s, c.cpu / c.rows_per_s * 1e6)
    };
    let asynchronous = || {
        let c = measure_in_flight(&model, b, threads, slice, &shape1, &data);
        (c.rows_per_s, c.cpu / c.rows_per_s * 1e6)
    };
    println!(
        "\n== mlp_large, {threads} threads: work-conserving blocking (d) and async (f) against the ideal (raw ort at batch {MAX_BATCH} on {cpus} sessions), {PAIRS} pairs of {} ms runs each (order alternating)",
        slice.as_millis()
    );
    for (label, run) in [
        ("d work-conserving", &blocking as &dyn Fn() -> (f64, f64)),
        ("f async", &asynchronous),
    ] {
        let p = Paired::run(PAIRS, run, &ideal);
        let [r_x, c_x, r_i, c_i] = p.means();
        let (ratios, median) = p.ratios();
        println!(
            "{label:<18}: {r_x:>8.0} rows/s ({c_x:.1} us CPU per row), ideal {r_i:>8.0} ({c_i:.1} us): {:.3} of means, median of pairs {median:.3} (pairs: {})",
            r_x / r_i,
            listed(&ratios, 2, "")
        );
        records.push(serde_json::json!({
            "model": "mlp_large", "config": format!("{label} against ideal, paired"), "concurrency": threads,
            "pairs": PAIRS, "rows_per_s": r_x, "ideal_rows_per_s": r_i, "ratio_of_means": r_x / r_i,
            "median_pair_ratio": median, "pair_ratios": ratios, "runs_rows_per_s_and_ideal": p.runs(),
        }));
    }
    records
}

/// Every model on ONNX Runtime and on tract, side by side: the same options but the backend, one
/// request of one row per call, the two engines measured in turn, three rounds.
fn backends_section(all: &[Bench], cell: Duration, cpus: usize) -> Vec<serde_json::Value> {
    use inferkit::Backend;
    if !Backend::Tract.is_built() {
        println!("\n== backends: skipped; this bench was built without tract (cargo bench --features tract)");
        return Vec::new();
    }
    println!("\n== backends: inferkit on ONNX Runtime and on tract, {cpus} instances, taken in turn, mean of 3 rounds");
    println!(
        "{:<10} {:>5}  {:<16} {:>14} {:>14} {:>12}",
        "model", "conc", "batching", "onnxruntime/s", "tract/s", "tract/ort"
    );
    let mut records = Vec::new();
    for b in all {
        let row_len: usize = b.row.iter().product();
        let shape1: Vec<usize> = std::iter::once(1).chain(b.row.iter().copied()).collect();
        for &threads in &CONCURRENCY {
            let data: Vec<Vec<f32>> = (0..threads).map(|t| data_for(t, 1, row_len)).collect();
            for (label, max_batch) in [("none", 1), ("work-conserving", MAX_BATCH)] {
                // tract types a graph before it runs it: ppocr_cls's dims [-1, 3, ?, ?] must be
                // fixed for it, and are fixed alike on both engines (which leaves it unbatched).
                let fixed = b.name == "ppocr_cls";
                if fixed && max_batch > 1 {
                    continue;
                }
                let open = |backend| {
                    let mut options = ModelOptions::default()
                        .with_instances(cpus)
                        .with_backend(backend)
                        .with_batching(BatchingOptions::default().with_max_batch_size(max_batch));
                    if fixed {
                        options = options.with_input_shape(b.input, &shape1);
                    }
                    Model::open_with(&b.path, &options).expect("model")
                };
                let models = [open(Backend::OnnxRuntime), open(Backend::Tract)];
                let mut rates = [Vec::new(), Vec::new()];
                for _round in 0..3 {
                    for (model, rate) in models.iter().zip(rates.iter_mut()) {
                        let c = measure(threads, cell, 1, &|t| {
                            let out = model
                                .infer(&[(b.input, TensorView::from_slice(&shape1[..], &data[t]))])
                                .expect("infer");
                            std::hint::black_box(out);
                        });
                        rate.push(c.rows_per_s);
                    }
                }
                let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
                let (ort, tract) = (mean(&rates[0]), mean(&rates[1]));
                println!(
                    "{:<10} {threads:>5}  {label:<16} {ort:>14.0} {tract:>14.0} {:>12.2}",
                    b.name,
                    tract / ort
                );
                records.push(serde_json::json!({
                    "model": b.name, "config": format!("backends, batching {label}"), "concurrency": threads,
                    "onnxruntime_rows_per_s": ort, "tract_rows_per_s": tract, "tract_vs_onnxruntime": tract / ort,
                }));
            }
        }
    }
    records
}

fn inferkit_model(b: &Bench, instances: usize, batching: BatchingOptions) -> Model {
    Model::open_with(
        &b.path,
        &ModelOptions::default()
            .with_instances(instances)
            .with_batching(batching),
    )
    .expect("model")
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--model")
        .and_then(|i| args.get(i + 1))
        .cloned();
    let cell = if quick {
        Duration::from_millis(400)
    } else {
        Duration::from_millis(2000)
    };
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());

    let status = std::process::Command::new(root.join(".ci/provision-models.sh")).status();
    let real_model = root.join("target/models/ch_ppocr_mobile_v2.0_cls_infer.onnx");
    if !matches!(status, Ok(s) if s.success()) || !real_model.exists() {
        eprintln!("warning: could not provision the PaddleOCR model; skipping it");
    }
    let benches: Vec<Bench> = [
        Bench {
            name: "mlp",
            path: root.join("tests/fixtures/mlp.onnx"),
            input: "x",
            output: "y",
            row: vec![16],
        },
        Bench {
            name: "mlp_large",
            path: root.join("tests/fixtures/mlp_large.onnx"),
            input: "x",
            output: "y",
            row: vec![256],
        },
        Bench {
            name: "ppocr_cls",
            path: real_model,
            input: "x",
            output: "save_infer_model/scale_0.tmp_1",
            row: vec![3, 48, 192],
        },
    ]
    .into_iter()
    .filter(|b| b.path.exists())
    .collect();
    let all = benches;
    let benches: Vec<&Bench> = all
        .iter()
        .filter(|b| only.as_deref().is_none_or(|o| o == b.name))
        .collect();

    let cpu_model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let commit = std::process::Command::new("git")
        .args(["describe", "--always", "--dirty"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown commit".into(),
            |o| String::from_utf8_lossy(&o.stdout).trim().to_string(),
        );
    println!("inferkit load benchmark at {commit} on {cpu_model}: {} s per cell, {cpus} CPUs, inferkit instances = {cpus}, max_batch_size = {MAX_BATCH}", cell.as_secs_f64());
    let mut records = Vec::new();
    for b in &benches {
        let row_len: usize = b.row.iter().product();
        let shape1: Vec<usize> = std::iter::once(1).chain(b.row.iter().copied()).collect();

        // Ideal: raw ort on one session per CPU, at its best batch size up to MAX_BATCH.
        let sessions: Vec<Mutex<Session>> = (0..cpus)
            .map(|_| Mutex::new(raw_session(&b.path)))
            .collect();
        let mut by_batch = Vec::new();
        let mut size = 1;
        while size <= MAX_BATCH {
            let shape_b: Vec<usize> = std::iter::once(size).chain(b.row.iter().copied()).collect();
            let batch_data: Vec<Vec<f32>> = (0..cpus).map(|t| data_for(t, size, row_len)).collect();
            let cell_b = measure(cpus, cell, size, &|t| {
                let mut s = sessions[t].lock().expect("session");
                raw_run(&mut s, b, &shape_b, &batch_data[t]);
            });
            by_batch.push((size, cell_b.rows_per_s));
            size *= 2;
        }
        drop(sessions);
        let (ideal_batch, ideal_rows) =
            by_batch.iter().copied().fold(
                (0, 0.0),
                |best, (n, r)| if r > best.1 { (n, r) } else { best },
            );
        let ideal = Cell {
            rows_per_s: ideal_rows,
            p50_us: 0.0,
            p99_us: 0.0,
            batch: 0.0,
            cpu: 0.0,
        };
        let sizes: Vec<String> = by_batch
            .iter()
            .map(|(n, r)| format!("{n}: {r:.0}"))
            .collect();
        println!("\n== {} (row {:?})  ideal: raw ort at batch {ideal_batch} on {cpus} sessions = {:.0} rows/s  (by batch size: {})", b.name, b.row, ideal.rows_per_s, sizes.join(", "));
        println!(
            "{:>5}  {:<34} {:>12} {:>10} {:>10} {:>7} {:>7} {:>8} {:>6}",
            "conc",
            "configuration",
            "rows/s",
            "p50 us",
            "p99 us",
            "vs a",
            "vs b",
            "vs ideal",
            "batch"
        );

        for &threads in &CONCURRENCY {
            let data: Vec<Vec<f32>> = (0..threads).map(|t| data_for(t, 1, row_len)).collect();
            let mut cells: Vec<(&str, Cell)> = Vec::new();

            let shared = Mutex::new(raw_session(&b.path));
            cells.push((
                "a raw ort, Mutex<Session>",
                measure(threads, cell, 1, &|t| {
                    let mut s = shared.lock().expect("session");
                    raw_run(&mut s, b, &shape1, &data[t]);
                }),
            ));
            drop(shared);

            let own: Vec<Mutex<Session>> = (0..threads)
                .map(|_| Mutex::new(raw_session(&b.path)))
                .collect();
            cells.push((
                "b raw ort, session per thread",
                measure(threads, cell, 1, &|t| {
                    let mut s = own[t].lock().expect("session");
                    raw_run(&mut s, b, &shape1, &data[t]);
                }),
            ));
            drop(own);

            let configs = [
                (
                    "c inferkit, no batching",
                    BatchingOptions::default().with_max_batch_size(1),
                ),
                (
                    "d inferkit, work-conserving",
                    BatchingOptions::default().with_max_batch_size(MAX_BATCH),
                ),
                (
                    "e inferkit, timed 500us",
                    BatchingOptions::default()
                        .with_max_batch_size(MAX_BATCH)
                        .with_max_queue_delay_us(500),
                ),
            ];
            for (label, batching) in configs {
                let model = inferkit_model(b, cpus, batching);
                let before = model.stats();
                let mut c = measure(threads, cell, 1, &|t| {
                    let out = model
                        .infer(&[(b.input, TensorView::from_slice(&shape1[..], &data[t]))])
                        .expect("infer");
                    std::hint::black_box(out);
                });
                c.batch = mean_batch(&model, before);
                if std::env::var_os("INFERKIT_BENCH_COSTS").is_some() {
                    let costs: Vec<String> = model
                        .batch_costs()
                        .iter()
                        .map(|(r, ns)| format!("{r}:{:.0}us", ns / 1000.0))
                        .collect();
                    eprintln!(
                        "      {label} at {threads}: cost per row by batch size {}",
                        costs.join(" ")
                    );
                }
                cells.push((label, c));
            }
            let model = inferkit_model(
                b,
                cpus,
                BatchingOptions::default().with_max_batch_size(MAX_BATCH),
            );
            cells.push((
                "f inferkit, async, same in flight",
                measure_in_flight(&model, b, threads, cell, &shape1, &data),
            ));

            let (a, bb) = (cells[0].1.rows_per_s, cells[1].1.rows_per_s);
            for (label, c) in &cells {
                println!(
                    "{threads:>5}  {label:<34} {:>12.0} {:>10.1} {:>10.1} {:>7.2} {:>7.2} {:>8.2} {:>6.1} {:>5.2}",
                    c.rows_per_s,
                    c.p50_us,
                    c.p99_us,
                    c.rows_per_s / a,
                    c.rows_per_s / bb,
                    c.rows_per_s / ideal.rows_per_s,
                    c.batch,
                    c.cpu
                );
                records.push(serde_json::json!({
                    "model": b.name, "concurrency": threads, "config": label,
                    "rows_per_s": c.rows_per_s, "p50_us": c.p50_us, "p99_us": c.p99_us,
                    "vs_a": c.rows_per_s / a, "vs_b": c.rows_per_s / bb, "vs_ideal": c.rows_per_s / ideal.rows_per_s, "mean_batch_requests": c.batch, "cpu_per_wall_s": c.cpu,
                }));
            }
        }
        records.push(serde_json::json!({ "model": b.name, "config": "ideal raw ort batch", "batch": ideal_batch, "rows_per_s": ideal.rows_per_s, "by_batch": by_batch }));
    }
    if only.as_deref().is_none_or(|o| o == "single") {
        records.extend(single_caller_section(&all, cell, quick));
    }
    if only.as_deref().is_none_or(|o| o == "backends") {
        records.extend(backends_section(&all, cell, cpus));
    }
    if only.as_deref().is_none_or(|o| o == "wake") {
        records.extend(wake_bound_section(cell, cpus));
    }
    if only.as_deref().is_none_or(|o| o == "reload") {
        records.extend(reload_section(&root, cell));
    }
    if only.as_deref().is_none_or(|o| o == "metrics") {
        records.extend(metrics_cost_section(&root, cell, cpus));
    }
    if only.as_deref().is_none_or(|o| o == "policies") {
        records.extend(policies_section(&root, &all, cell, cpus));
    }

    let out = root.join("target/bench");
    std::fs::create_dir_all(&out).expect("target/bench");
    let doc = serde_json::json!({ "commit": commit, "cpu": cpu_model, "quick": quick, "cell_seconds": cell.as_secs_f64(), "cpus": cpus, "max_batch_size": MAX_BATCH, "results": records });
    std::fs::write(
        out.join("load.json"),
        serde_json::to_string_pretty(&doc).expect("json"),
    )
    .expect("write load.json");
    println!("\nwrote {}", out.join("load.json").display());
}

/// One caller, every model: raw ort (a) and inferkit without batching (c), with work-conserving
/// batching (d) and async (f), in short slices taken in turn, round after round, so that the
/// machine's drift (frequency, neighbours) falls on all of them alike. Reports each one's median
/// ratio to a over the rounds, and its median p50 minus a's (the per-call overhead).
fn single_caller_section(benches: &[Bench], cell: Duration, quick: bool) -> Vec<serde_json::Value> {
    let rounds = if quick { 7 } else { 15 };
    let slice = cell / 4;
    let mut records = Vec::new();
    println!(
        "\n== one caller, {rounds} rounds of {} ms slices taken in turn: median of each round's ratio to raw ort (a), and median p50 over a's",
        slice.as_millis()
    );
    println!(
        "{:<10} {:<28} {:>8} {:>8} {:>8} {:>12}",
        "model", "configuration", "median", "min", "max", "p50 - a's us"
    );
    for b in benches {
        let row_len: usize = b.row.iter().product();
        let shape1: Vec<usize> = std::iter::once(1).chain(b.row.iter().copied()).collect();
        let data = vec![data_for(0, 1, row_len)];
        let mut raw = raw_session(&b.path);
        let c = inferkit_model(b, 1, BatchingOptions::default().with_max_batch_size(1));
        let d = inferkit_model(
            b,
            1,
            BatchingOptions::default().with_max_batch_size(MAX_BATCH),
        );
        let labels = [
            "c inferkit, no batching",
            "d inferkit, work-conserving",
            "f inferkit, async",
        ];
        // Per round: a's cell, then c, d, f.
        let mut cells: Vec<[Cell; 4]> = Vec::new();
        let blocking = |m: &Model| {
            measure(1, slice, 1, &|t| {
                let out = m
                    .infer(&[(b.input, TensorView::from_slice(&shape1[..], &data[t]))])
                    .expect("infer");
                std::hint::black_box(out);
            })
        };
        let raw_cell = |raw: &mut Session| {
            let raw = Mutex::new(raw);
            measure(1, slice, 1, &|t| {
                let mut s = raw.lock().expect("session");
                std::hint::black_box(raw_run(&mut s, b, &shape1, &data[t]));
            })
        };
        // A warm-up round, not counted.
        for round in 0..=rounds {
            // The order turns each round, so that no configuration always follows the same one.
            let mut round_cells = [Cell::default(); 4];
            for k in 0..4 {
                let which = (k + round) % 4;
                round_cells[which] = match which {
                    0 => raw_cell(&mut raw),
                    1 => blocking(&c),
                    2 => blocking(&d),
                    _ => measure_in_flight(&d, b, 1, slice, &shape1, &data),
                };
            }
            if round > 0 {
                cells.push(round_cells);
            }
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        for (i, label) in labels.iter().enumerate() {
            let ratios: Vec<f64> = cells
                .iter()
                .map(|r| r[i + 1].rows_per_s / r[0].rows_per_s)
                .collect();
            let over: Vec<f64> = cells
                .iter()
                .map(|r| r[i + 1].p50_us - r[0].p50_us)
                .collect();
            let (lo, hi) = ratios
                .iter()
                .fold((f64::MAX, f64::MIN), |(l, h), r| (l.min(*r), h.max(*r)));
            let (m, o) = (median(ratios.clone()), median(over));
            println!(
                "{:<10} {label:<28} {m:>8.3} {lo:>8.3} {hi:>8.3} {o:>12.2}",
                b.name
            );
            records.push(serde_json::json!({
                "model": b.name, "concurrency": 1, "config": format!("one caller: {label}"),
                "median_vs_a": m, "min_vs_a": lo, "max_vs_a": hi, "median_p50_over_a_us": o, "rounds": rounds,
            }));
        }
    }
    records
}

/// What blocking callers cost the machine, without any model: 64 threads each queue a request
/// and block on it (a mutex and condition variable, as inferkit's requests do), and whichever
/// thread holds one of `cpus` tokens completes queued requests in batches of up to 32, waking
/// their threads, as inferkit's work-conserving scheduler does when runs take no time. Every
/// blocking request costs its thread a sleep and a wake-up; this is how many of those the machine
/// completes per second, the ceiling for any number of blocking threads served by `cpus`
/// sessions.
fn wake_bound_section(cell: Duration, cpus: usize) -> Vec<serde_json::Value> {
    use crossbeam::queue::SegQueue;
    use std::sync::atomic::{fence, AtomicUsize};
    use std::sync::{Arc, Condvar};
    struct Slot {
        done: Mutex<bool>,
        wake: Condvar,
    }
    let threads = 64;
    let queue: SegQueue<Arc<Slot>> = SegQueue::new();
    let tokens = AtomicUsize::new(cpus);
    let take = || {
        tokens
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |t| t.checked_sub(1))
            .is_ok()
    };
    let serve = || loop {
        for _ in 0..MAX_BATCH {
            let Some(s) = queue.pop() else { break };
            *s.done.lock().expect("slot") = true;
            s.wake.notify_one();
        }
        if !queue.is_empty() {
            continue;
        }
        tokens.fetch_add(1, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if queue.is_empty() || !take() {
            return;
        }
    };
    let c = measure(threads, cell, 1, &|_| {
        let slot = Arc::new(Slot {
            done: Mutex::new(false),
            wake: Condvar::new(),
        });
        queue.push(slot.clone());
        fence(Ordering::SeqCst);
        if take() {
            serve();
        }
        let mut done = slot.done.lock().expect("slot");
        while !*done {
            done = slot.wake.wait(done).expect("slot");
        }
    });
    println!(
        "\n== wake-up bound: {threads} blocking threads, {cpus} tokens, batches of {MAX_BATCH}, no model"
    );
    println!(
        "{:.0} requests/s, p50 {:.1} us, p99 {:.1} us, {:.2} CPUs busy",
        c.rows_per_s, c.p50_us, c.p99_us, c.cpu
    );
    vec![serde_json::json!({
        "model": "none", "config": "wake-up bound", "concurrency": threads,
        "rows_per_s": c.rows_per_s, "p50_us": c.p50_us, "p99_us": c.p99_us, "cpu_per_wall_s": c.cpu,
    })]
}
