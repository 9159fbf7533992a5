//! Counters, gauges and latency histograms per model version, as the Prometheus text format or a
//! JSON summary.
//!
//! Everything on the request path is a relaxed atomic add: no lock, no allocation. Histograms use
//! a small log-bucket design rather than a crate: two buckets per power of two (a value lands in
//! `[2^e, 1.5·2^e)` or `[1.5·2^e, 2^(e+1))`), 80 atomic counters (up to 2^40 ns, 18 minutes), percentiles interpolated inside
//! a bucket (under 25% relative error at worst, usually far less), and Prometheus `le` bounds at
//! the powers of two. HDR-style crates keep finer buckets but need `&mut` or a lock to record.
//!
//! ```
//! use inferkit::{Model, TensorView};
//!
//! let model = Model::open("tests/fixtures/mlp.onnx")?;
//! let x = [0.5f32; 16];
//! model.infer(&[("x", TensorView::from_slice(vec![1, 16], &x))])?;
//! let m = model.metrics();
//! assert_eq!(m.requests_success, 1);
//! assert!(m.request_duration.p99_us() > 0.0);
//! assert!(model.metrics_prometheus().contains("inferkit_inference_request_success_total{model=\"mlp\",version=\"\"} 1"));
//! # Ok::<(), inferkit::Error>(())
//! ```
//!
//! Metric names (all carry `model` and `version` labels; `version` is empty outside a registry):
//!
//! | name | type | meaning |
//! |---|---|---|
//! | `inferkit_inference_request_success_total` | counter | requests that returned outputs (warmup excluded) |
//! | `inferkit_warmup_requests_total` | counter | warmup requests a registry ran before the version became selectable |
//! | `inferkit_inference_request_failure_total{code}` | counter | failed requests, by error code name |
//! | `inferkit_inference_rows_total` | counter | rows (dim 0) of successful requests |
//! | `inferkit_inference_executions_total` | counter | ONNX Runtime session runs (batches) |
//! | `inferkit_batch_size` | histogram | requests per session run |
//! | `inferkit_request_duration_us` | histogram | end to end, from the call (or submission) to the result |
//! | `inferkit_queue_duration_us` | histogram | waiting for a session (0 on the direct path) |
//! | `inferkit_compute_duration_us` | histogram | one session run (a batch), concatenation and split included |
//! | `inferkit_preprocess_duration_us`, `inferkit_postprocess_duration_us` | histogram | pipeline steps, per `infer_pipeline` call |
//! | `inferkit_pending_requests` | gauge | requests waiting in the queue |
//! | `inferkit_inflight_requests` | gauge | requests accepted and not yet answered |
//! | `inferkit_model_loads_total`, `inferkit_model_load_failures_total`, `inferkit_model_unloads_total` | counter | registry events |
//! | `inferkit_model_last_event_timestamp_seconds{event}` | gauge | Unix time of the last event of each kind |

use std::fmt::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

use crate::error::ErrorCode;

const BUCKETS: usize = 80;
/// Hot counters are spread over this many cache lines, one picked per CPU (or per thread, see
/// [`stripe`]), so that threads on different cores do not fight over one line; reads add the
/// stripes up.
const STRIPES: usize = 8;

/// Whether `sched_getcpu` is a load: glibc 2.35 and later keep each thread's CPU in its
/// restartable-sequences area when the kernel registered one (`__rseq_size` above 0). Otherwise
/// it is a vDSO call or, on aarch64 and under qemu, a system call, dearer than the sharing it
/// would save.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn cpu_is_a_load() -> bool {
    static YES: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *YES.get_or_init(|| {
        // SAFETY: dlsym is given a NUL-terminated name; glibc defines `__rseq_size` as a
        // `const unsigned int`, read only if it is there.
        unsafe {
            let p = libc::dlsym(libc::RTLD_DEFAULT, c"__rseq_size".as_ptr());
            !p.is_null() && p.cast::<u32>().read() > 0
        }
    })
}

fn stripe() -> usize {
    // The CPU this thread runs on, where reading it costs a load: threads on different CPUs then
    // never add to one cache line, however many threads there are (64 threads on 2 CPUs shared
    // each of 8 per-thread stripes across the CPUs). A thread moved to another CPU between this
    // read and its add only shares a line for that add.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if cpu_is_a_load() {
        // SAFETY: no arguments; -1 on failure.
        if let Ok(cpu) = usize::try_from(unsafe { libc::sched_getcpu() }) {
            return cpu % STRIPES;
        }
    }
    // Elsewhere, one stripe per thread, in turn.
    use std::cell::Cell;
    use std::sync::atomic::AtomicUsize;
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static MINE: Cell<usize> = const { Cell::new(usize::MAX) });
    MINE.with(|m| {
        if m.get() == usize::MAX {
            m.set(NEXT.fetch_add(1, Ordering::Relaxed) % STRIPES);
        }
        m.get()
    })
}

/// A counter striped over cache lines.
#[derive(Default)]
pub(crate) struct Counter([crossbeam::utils::CachePadded<AtomicU64>; STRIPES]);

impl Counter {
    pub(crate) fn add(&self, n: u64) {
        self.0[stripe()].fetch_add(n, Ordering::Relaxed);
    }
    pub(crate) fn get(&self) -> u64 {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// A gauge striped over cache lines.
#[derive(Default)]
struct Gauge([crossbeam::utils::CachePadded<AtomicI64>; STRIPES]);

impl Gauge {
    fn add(&self, n: i64) {
        self.0[stripe()].fetch_add(n, Ordering::Relaxed);
    }
    fn get(&self) -> i64 {
        self.0.iter().map(|c| c.load(Ordering::Relaxed)).sum()
    }
}

/// A lock-free histogram of durations (nanoseconds internally), striped over cache lines like the
/// counters (by CPU where that is cheap to read, else by thread), and a snapshot adds them up.
pub struct Histogram {
    stripes: Box<[HistogramStripe; STRIPES]>,
}

struct HistogramStripe {
    buckets: [AtomicU64; BUCKETS],
    sum: crossbeam::utils::CachePadded<AtomicU64>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            stripes: Box::new(std::array::from_fn(|_| HistogramStripe {
                buckets: std::array::from_fn(|_| AtomicU64::new(0)),
                sum: Default::default(),
            })),
        }
    }
}

fn bucket_of(v: u64) -> usize {
    if v < 2 {
        return v as usize; // 0 and 1 get buckets of their own
    }
    let e = 63 - v.leading_zeros() as usize; // 2^e <= v < 2^(e+1), e >= 1
    let upper_half = ((v >> (e - 1)) & 1) as usize;
    (2 * e + upper_half).min(BUCKETS - 1)
}

/// Lower bound of bucket `i` (inclusive).
fn bucket_low(i: usize) -> f64 {
    if i < 2 {
        return i as f64;
    }
    let e = i / 2;
    let base = (1u128 << e) as f64;
    if i.is_multiple_of(2) {
        base
    } else {
        base * 1.5
    }
}

fn bucket_high(i: usize) -> f64 {
    if i + 1 < BUCKETS {
        bucket_low(i + 1)
    } else {
        f64::INFINITY
    }
}

impl Histogram {
    /// Records one value in nanoseconds (or any unit; the exposition names it).
    pub fn record(&self, value: u64) {
        let stripe = &self.stripes[stripe()];
        stripe.buckets[bucket_of(value)].fetch_add(1, Ordering::Relaxed);
        stripe.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Records a duration.
    pub fn record_duration(&self, d: Duration) {
        self.record(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// A consistent-enough copy (each counter read once).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let buckets: Vec<u64> = (0..BUCKETS)
            .map(|i| {
                self.stripes
                    .iter()
                    .map(|s| s.buckets[i].load(Ordering::Relaxed))
                    .sum()
            })
            .collect();
        let count = buckets.iter().sum();
        let sum = self
            .stripes
            .iter()
            .map(|s| s.sum.load(Ordering::Relaxed))
            .sum();
        HistogramSnapshot {
            buckets,
            count,
            sum,
        }
    }
}

/// A histogram's counts at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HistogramSnapshot {
    /// Counts of the 80 log buckets (the last one open-ended, from 2^39).
    pub buckets: Vec<u64>,
    /// Values recorded.
    pub count: u64,
    /// Sum of the values (nanoseconds for durations).
    pub sum: u64,
}

impl HistogramSnapshot {
    /// Adds `other`'s values.
    fn merge(&mut self, other: &HistogramSnapshot) {
        for (a, b) in self.buckets.iter_mut().zip(&other.buckets) {
            *a += b;
        }
        self.count += other.count;
        self.sum += other.sum;
    }

    /// Adds `n` values equal to `value`.
    fn add(&mut self, value: u64, n: u64) {
        self.buckets[bucket_of(value)] += n;
        self.count += n;
        self.sum += value * n;
    }

    /// The value below which `q` (0..=1) of the recorded values fall, interpolated inside a bucket.
    /// 0 when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        let total: u64 = self.buckets.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let rank = q.clamp(0.0, 1.0) * total as f64;
        let mut seen = 0u64;
        for (i, &n) in self.buckets.iter().enumerate() {
            if n == 0 {
                continue;
            }
            if (seen + n) as f64 >= rank {
                let within = (rank - seen as f64) / n as f64;
                // Values are integers: the bucket [lo, hi) holds lo ..= ceil(hi) - 1, and the
                // estimate stays among them (bucket [1, 2) answers 1, never 1.5).
                let (lo, hi) = (bucket_low(i), bucket_high(i));
                let hi = if hi.is_finite() { hi } else { lo * 2.0 };
                let last = (hi.ceil() - 1.0).max(lo);
                return (lo + (last - lo) * within).round();
            }
            seen += n;
        }
        bucket_low(BUCKETS - 1)
    }

    /// Median in microseconds (for histograms of durations).
    pub fn p50_us(&self) -> f64 {
        self.quantile(0.5) / 1000.0
    }

    /// 90th percentile in microseconds.
    pub fn p90_us(&self) -> f64 {
        self.quantile(0.9) / 1000.0
    }

    /// 99th percentile in microseconds.
    pub fn p99_us(&self) -> f64 {
        self.quantile(0.99) / 1000.0
    }

    /// Exact cumulative counts at the bucket edges `2^k` for `k` in `exps`: values below each edge.
    fn below_powers_of_two(&self, exps: std::ops::RangeInclusive<u32>) -> Vec<(u64, u64)> {
        exps.map(|k| {
            let edge = 1u64 << k;
            let below: u64 = self
                .buckets
                .iter()
                .enumerate()
                .filter(|(i, _)| bucket_high(*i) <= edge as f64)
                .map(|(_, n)| n)
                .sum();
            (edge, below)
        })
        .collect()
    }
}

/// Counters, gauges and histograms of one model version.
pub struct Metrics {
    enabled: bool,
    /// Set while a registry warms a version up: its requests count as warmup, not as traffic.
    warming: AtomicBool,
    warmup: AtomicU64,
    success: Counter,
    failures: [AtomicU64; ErrorCode::ALL.len()],
    rows: Counter,
    executions: Counter,
    batch_size: Histogram,
    request_duration: Histogram,
    queue_duration: Histogram,
    compute_duration: Histogram,
    /// Requests run on the caller's thread with a session that was idle (`direct_run`): each is
    /// one execution of batch size 1 that waited 0 ns, whose compute time is its request time.
    /// Recorded once here, with two atomic adds instead of eleven; the snapshot adds them to
    /// `executions`, `batch_size`, `queue_duration`, `compute_duration` and `request_duration`.
    direct: Histogram,
    /// Such runs when timings are off.
    direct_untimed: Counter,
    pre_duration: Histogram,
    post_duration: Histogram,
    pending: Gauge,
    inflight: Gauge,
}

impl Metrics {
    pub(crate) fn new(enabled: bool) -> Metrics {
        Metrics {
            enabled,
            warming: AtomicBool::new(false),
            warmup: AtomicU64::new(0),
            success: Counter::default(),
            failures: std::array::from_fn(|_| AtomicU64::new(0)),
            rows: Counter::default(),
            executions: Counter::default(),
            batch_size: Histogram::default(),
            request_duration: Histogram::default(),
            queue_duration: Histogram::default(),
            compute_duration: Histogram::default(),
            direct: Histogram::default(),
            direct_untimed: Counter::default(),
            pre_duration: Histogram::default(),
            post_duration: Histogram::default(),
            pending: Gauge::default(),
            inflight: Gauge::default(),
        }
    }

    /// Whether timings are taken (counters of outcomes are kept either way).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Counts the requests made from now until [`Metrics::end_warmup`] as warmup requests
    /// (`inferkit_warmup_requests_total`), outside the traffic counters and histograms.
    pub(crate) fn begin_warmup(&self) {
        self.warming.store(true, Ordering::SeqCst);
    }

    pub(crate) fn end_warmup(&self) {
        self.warming.store(false, Ordering::SeqCst);
    }

    fn warming(&self) -> bool {
        self.warming.load(Ordering::Relaxed)
    }

    pub(crate) fn outcome(&self, code: Option<ErrorCode>, rows: usize) {
        if self.warming() {
            self.warmup.fetch_add(1, Ordering::Relaxed);
            return;
        }
        match code {
            None => {
                self.success.add(1);
                self.rows.add(rows as u64);
            }
            Some(code) => {
                if let Some(i) = ErrorCode::ALL.iter().position(|c| *c == code) {
                    self.failures[i].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    pub(crate) fn execution(&self, requests: usize, compute: Option<Duration>) {
        if self.warming() {
            return;
        }
        self.executions.add(1);
        if self.enabled {
            self.batch_size.record(requests as u64);
            if let Some(d) = compute {
                self.compute_duration.record_duration(d);
            }
        }
    }

    /// A request run directly (see `direct`), whose execution and request took `took` (None
    /// with timings off).
    pub(crate) fn direct_run(&self, took: Option<Duration>) {
        if self.warming() {
            return;
        }
        match took {
            Some(d) if self.enabled => self.direct.record_duration(d),
            _ => self.direct_untimed.add(1),
        }
    }

    pub(crate) fn request_duration(&self, d: Duration) {
        if self.warming() {
            return;
        }
        self.request_duration.record_duration(d);
    }

    pub(crate) fn queue_duration(&self, d: Duration) {
        self.queue_duration.record_duration(d);
    }

    pub(crate) fn pre_duration(&self, d: Duration) {
        self.pre_duration.record_duration(d);
    }

    pub(crate) fn post_duration(&self, d: Duration) {
        self.post_duration.record_duration(d);
    }

    pub(crate) fn pending(&self, delta: i64) {
        self.pending.add(delta);
    }

    pub(crate) fn inflight(&self, delta: i64) {
        self.inflight.add(delta);
    }

    /// The current values.
    pub fn snapshot(&self) -> MetricsSnapshot {
        let direct = self.direct.snapshot();
        let untimed = self.direct_untimed.get();
        // Direct runs: one request each, batch size 1, no queue time, compute time = request
        // time (histograms are timed only when timings are on).
        let with_direct = |mut h: HistogramSnapshot| {
            h.merge(&direct);
            h
        };
        let mut batch_size = self.batch_size.snapshot();
        let mut queue_duration = self.queue_duration.snapshot();
        if direct.count > 0 {
            batch_size.add(1, direct.count);
            queue_duration.add(0, direct.count);
        }
        MetricsSnapshot {
            requests_success: self.success.get(),
            warmup_requests: self.warmup.load(Ordering::Relaxed),
            requests_failed: ErrorCode::ALL
                .iter()
                .zip(&self.failures)
                .filter_map(|(c, n)| {
                    let n = n.load(Ordering::Relaxed);
                    (n > 0).then(|| (c.name().to_string(), n))
                })
                .collect(),
            rows: self.rows.get(),
            executions: self.executions.get() + direct.count + untimed,
            batch_size,
            request_duration: with_direct(self.request_duration.snapshot()),
            queue_duration,
            compute_duration: with_direct(self.compute_duration.snapshot()),
            preprocess_duration: self.pre_duration.snapshot(),
            postprocess_duration: self.post_duration.snapshot(),
            pending: self.pending.get().max(0) as u64,
            inflight: self.inflight.get().max(0) as u64,
        }
    }
}

/// A model version's metrics at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MetricsSnapshot {
    /// Requests that returned outputs (warmup requests are not counted here).
    pub requests_success: u64,
    /// Warmup requests a registry ran before the version became selectable.
    pub warmup_requests: u64,
    /// Failed requests by error code name (only codes seen).
    pub requests_failed: Vec<(String, u64)>,
    /// Rows of successful requests.
    pub rows: u64,
    /// Session runs.
    pub executions: u64,
    /// Requests per session run.
    pub batch_size: HistogramSnapshot,
    /// End-to-end latency (ns).
    pub request_duration: HistogramSnapshot,
    /// Time waiting for a session (ns).
    pub queue_duration: HistogramSnapshot,
    /// Session run time (ns).
    pub compute_duration: HistogramSnapshot,
    /// Pipeline pre-processing time (ns), per `infer_pipeline` call.
    pub preprocess_duration: HistogramSnapshot,
    /// Pipeline post-processing time (ns), per `infer_pipeline` call.
    pub postprocess_duration: HistogramSnapshot,
    /// Requests queued now.
    pub pending: u64,
    /// Requests accepted and not answered yet.
    pub inflight: u64,
}

/// Registry events of one model version, for the exposition.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventCounts {
    /// Successful loads.
    pub loads: u64,
    /// Failed loads.
    pub load_failures: u64,
    /// Unloads.
    pub unloads: u64,
    /// Unix time (seconds) of the last load, failure, unload.
    pub last: [Option<f64>; 3],
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A JSON summary of one model version's metrics, with percentiles ([`Model::metrics_json`](crate::Model::metrics_json);
/// C: `inferkit_model_metrics_json`). One object:
///
/// ```json
/// {
///   "requests_success": 400, "warmup_requests": 0,
///   "requests_failed": { "dtype_mismatch": 3 },
///   "rows": 800, "executions": 61, "pending": 0, "inflight": 0,
///   "batch_size": { "count": 61, "sum": 400, "p50": 7.2, "p90": 7.9, "p99": 8.0 },
///   "request_duration": { "count": 400, "sum_us": 9120.5, "p50_us": 20.1, "p90_us": 35.7, "p99_us": 61.0 },
///   "queue_duration": { … },
///   "compute_duration": { … }
/// }
/// ```
///
/// `requests_failed` counts failures by error code name ([`ErrorCode::name`]), only the codes
/// seen. Durations are in microseconds; `batch_size` counts requests per session run.
/// Percentiles are interpolated inside a histogram's buckets (see the module docs).
pub fn json(snapshot: &MetricsSnapshot) -> String {
    fn histogram(h: &HistogramSnapshot, duration: bool) -> serde_json::Value {
        if duration {
            serde_json::json!({ "count": h.count, "sum_us": h.sum as f64 / 1000.0, "p50_us": h.p50_us(), "p90_us": h.p90_us(), "p99_us": h.p99_us() })
        } else {
            serde_json::json!({ "count": h.count, "sum": h.sum, "p50": h.quantile(0.5), "p90": h.quantile(0.9), "p99": h.quantile(0.99) })
        }
    }
    let m = snapshot;
    serde_json::json!({
        "requests_success": m.requests_success,
        "warmup_requests": m.warmup_requests,
        "requests_failed": m.requests_failed.iter().cloned().collect::<std::collections::BTreeMap<String, u64>>(),
        "rows": m.rows,
        "executions": m.executions,
        "pending": m.pending,
        "inflight": m.inflight,
        "batch_size": histogram(&m.batch_size, false),
        "request_duration": histogram(&m.request_duration, true),
        "queue_duration": histogram(&m.queue_duration, true),
        "compute_duration": histogram(&m.compute_duration, true),
    })
    .to_string()
}

/// Writes Prometheus text for a set of `(model, version, metrics, events)`.
pub(crate) fn prometheus(
    series: &[(String, String, MetricsSnapshot, Option<EventCounts>)],
) -> String {
    let mut out = String::new();
    let labels = |m: &str, v: &str| format!("model=\"{}\",version=\"{}\"", escape(m), escape(v));
    let family = |out: &mut String,
                  name: &str,
                  kind: &str,
                  help: &str,
                  lines: &mut dyn FnMut(&mut String)| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        lines(out);
    };
    family(
        &mut out,
        "inferkit_inference_request_success_total",
        "counter",
        "Requests that returned outputs.",
        &mut |o| {
            for (m, v, s, _) in series {
                let _ = writeln!(
                    o,
                    "inferkit_inference_request_success_total{{{}}} {}",
                    labels(m, v),
                    s.requests_success
                );
            }
        },
    );
    family(
        &mut out,
        "inferkit_warmup_requests_total",
        "counter",
        "Warmup requests run before the version became selectable (not in the request counters).",
        &mut |o| {
            for (m, v, s, _) in series {
                let _ = writeln!(
                    o,
                    "inferkit_warmup_requests_total{{{}}} {}",
                    labels(m, v),
                    s.warmup_requests
                );
            }
        },
    );
    family(
        &mut out,
        "inferkit_inference_request_failure_total",
        "counter",
        "Requests that failed, by error code.",
        &mut |o| {
            for (m, v, s, _) in series {
                for (code, n) in &s.requests_failed {
                    let _ = writeln!(
                        o,
                        "inferkit_inference_request_failure_total{{{},code=\"{code}\"}} {n}",
                        labels(m, v)
                    );
                }
            }
        },
    );
    family(
        &mut out,
        "inferkit_inference_rows_total",
        "counter",
        "Rows (dim 0) of successful requests.",
        &mut |o| {
            for (m, v, s, _) in series {
                let _ = writeln!(
                    o,
                    "inferkit_inference_rows_total{{{}}} {}",
                    labels(m, v),
                    s.rows
                );
            }
        },
    );
    family(
        &mut out,
        "inferkit_inference_executions_total",
        "counter",
        "ONNX Runtime session runs (batches).",
        &mut |o| {
            for (m, v, s, _) in series {
                let _ = writeln!(
                    o,
                    "inferkit_inference_executions_total{{{}}} {}",
                    labels(m, v),
                    s.executions
                );
            }
        },
    );
    // `le` bounds sit on the histogram's bucket edges, so every count is exact: powers of two of
    // nanoseconds, written in microseconds (1.024, 2.048, … 68719.476736), and for batch sizes the
    // integers below powers of two (1, 3, 7, … 2047).
    type Pick = fn(&MetricsSnapshot) -> &HistogramSnapshot;
    let histograms: [(&str, &str, Pick, bool); 6] = [
        (
            "inferkit_batch_size",
            "Requests per session run.",
            |s| &s.batch_size,
            false,
        ),
        (
            "inferkit_request_duration_us",
            "End-to-end request latency in microseconds.",
            |s| &s.request_duration,
            true,
        ),
        (
            "inferkit_queue_duration_us",
            "Time waiting for a session in microseconds.",
            |s| &s.queue_duration,
            true,
        ),
        (
            "inferkit_compute_duration_us",
            "Session run time per batch in microseconds.",
            |s| &s.compute_duration,
            true,
        ),
        (
            "inferkit_preprocess_duration_us",
            "Pipeline pre-processing time in microseconds.",
            |s| &s.preprocess_duration,
            true,
        ),
        (
            "inferkit_postprocess_duration_us",
            "Pipeline post-processing time in microseconds.",
            |s| &s.postprocess_duration,
            true,
        ),
    ];
    for (name, help, pick, duration) in histograms {
        family(&mut out, name, "histogram", help, &mut |o| {
            for (m, v, s, _) in series {
                let h = pick(s);
                let edges = if duration {
                    h.below_powers_of_two(10..=36)
                } else {
                    h.below_powers_of_two(1..=11)
                };
                for (edge, n) in edges {
                    let le = if duration {
                        format!("{}", edge as f64 / 1000.0)
                    } else {
                        (edge - 1).to_string()
                    };
                    let _ = writeln!(o, "{name}_bucket{{{},le=\"{le}\"}} {n}", labels(m, v));
                }
                let _ = writeln!(
                    o,
                    "{name}_bucket{{{},le=\"+Inf\"}} {}",
                    labels(m, v),
                    h.count
                );
                let sum = if duration {
                    h.sum as f64 / 1000.0
                } else {
                    h.sum as f64
                };
                let _ = writeln!(o, "{name}_sum{{{}}} {sum}", labels(m, v));
                let _ = writeln!(o, "{name}_count{{{}}} {}", labels(m, v), h.count);
            }
        });
    }
    family(
        &mut out,
        "inferkit_pending_requests",
        "gauge",
        "Requests waiting in the queue.",
        &mut |o| {
            for (m, v, s, _) in series {
                let _ = writeln!(
                    o,
                    "inferkit_pending_requests{{{}}} {}",
                    labels(m, v),
                    s.pending
                );
            }
        },
    );
    family(
        &mut out,
        "inferkit_inflight_requests",
        "gauge",
        "Requests accepted and not yet answered.",
        &mut |o| {
            for (m, v, s, _) in series {
                let _ = writeln!(
                    o,
                    "inferkit_inflight_requests{{{}}} {}",
                    labels(m, v),
                    s.inflight
                );
            }
        },
    );
    let events: Vec<&(String, String, MetricsSnapshot, Option<EventCounts>)> =
        series.iter().filter(|s| s.3.is_some()).collect();
    if !events.is_empty() {
        for (name, help, pick) in [
            (
                "inferkit_model_loads_total",
                "Versions loaded.",
                (|e: &EventCounts| e.loads) as fn(&EventCounts) -> u64,
            ),
            (
                "inferkit_model_load_failures_total",
                "Versions that failed to load.",
                |e| e.load_failures,
            ),
            ("inferkit_model_unloads_total", "Versions unloaded.", |e| {
                e.unloads
            }),
        ] {
            family(&mut out, name, "counter", help, &mut |o| {
                for (m, v, _, e) in &events {
                    if let Some(e) = e {
                        let _ = writeln!(o, "{name}{{{}}} {}", labels(m, v), pick(e));
                    }
                }
            });
        }
        family(
            &mut out,
            "inferkit_model_last_event_timestamp_seconds",
            "gauge",
            "Unix time of the last event of each kind.",
            &mut |o| {
                for (m, v, _, e) in &events {
                    if let Some(e) = e {
                        for (kind, t) in ["load", "load_failure", "unload"].iter().zip(e.last) {
                            if let Some(t) = t {
                                let _ = writeln!(o, "inferkit_model_last_event_timestamp_seconds{{{},event=\"{kind}\"}} {t:.3}", labels(m, v));
                            }
                        }
                    }
                }
            },
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_contain_their_values() {
        for v in [0u64, 1, 2, 3, 5, 7, 8, 100, 1000, 123_456, 9_999_999_999] {
            let i = bucket_of(v);
            assert!(
                bucket_low(i) <= v as f64 && (v as f64) < bucket_high(i),
                "{v} in bucket {i}"
            );
        }
        for i in 1..BUCKETS {
            assert!(bucket_low(i) > bucket_low(i - 1));
        }
    }

    #[test]
    fn quantiles_stay_inside_the_values_a_bucket_can_hold() {
        // Values are integers: bucket [1, 2) holds only 1, [0, 1) only 0. Ten batches of one row
        // are p50 = p99 = 1, not 1.5 and 1.99; durations that were all 0 ns are 0, not 0.5 ns.
        let ones = Histogram::default();
        let zeros = Histogram::default();
        let threes = Histogram::default();
        for _ in 0..10 {
            ones.record(1);
            zeros.record(0);
            threes.record(3); // bucket [3, 4)
        }
        for q in [0.5, 0.9, 0.99, 1.0] {
            assert_eq!(ones.snapshot().quantile(q), 1.0, "q{q}");
            assert_eq!(zeros.snapshot().quantile(q), 0.0, "q{q}");
            assert_eq!(threes.snapshot().quantile(q), 3.0, "q{q}");
        }
        // A wider bucket still interpolates, within its integers: [16, 24) holds 16..=23.
        let wide = Histogram::default();
        for v in 16..24u64 {
            wide.record(v);
        }
        let s = wide.snapshot();
        assert_eq!(s.quantile(1.0), 23.0);
        assert!(
            (16.0..=23.0).contains(&s.quantile(0.5)),
            "{}",
            s.quantile(0.5)
        );
    }

    #[test]
    fn quantiles_are_close() {
        let h = Histogram::default();
        for v in 1..=10_000u64 {
            h.record(v * 1000); // 1 µs .. 10 ms
        }
        let s = h.snapshot();
        for (q, want) in [(0.5, 5_000_000.0), (0.9, 9_000_000.0), (0.99, 9_900_000.0)] {
            let got = s.quantile(q);
            assert!((got - want).abs() / want < 0.25, "q{q}: {got} vs {want}");
        }
        assert_eq!(s.count, 10_000);
        assert_eq!(
            HistogramSnapshot {
                buckets: vec![0; BUCKETS],
                count: 0,
                sum: 0
            }
            .quantile(0.5),
            0.0
        );
    }

    #[test]
    fn exported_buckets_are_exact() {
        let h = Histogram::default();
        for v in [500u64, 1_023, 1_024, 1_500, 3_000_000, 40_000_000_000] {
            h.record(v);
        }
        let c = h.snapshot().below_powers_of_two(10..=36);
        assert!(c.windows(2).all(|w| w[0].1 <= w[1].1));
        assert_eq!(
            c[0],
            (1024, 2),
            "500 and 1023 ns are below 1.024 µs; 1024 ns is not"
        );
        assert_eq!(c[1], (2048, 4));
        assert_eq!(
            c.last().unwrap().1,
            6,
            "40 s is below the last finite edge, 2^36 ns = 68.7 s"
        );
        let b = Histogram::default();
        for n in [1u64, 1, 2, 3, 4, 7, 8, 32] {
            b.record(n);
        }
        let c = b.snapshot().below_powers_of_two(1..=6);
        assert_eq!(
            c.iter().map(|(_, n)| *n).collect::<Vec<_>>(),
            vec![2, 4, 6, 7, 7, 8],
            "le 1, 3, 7, 15, 31, 63"
        );
    }
}
