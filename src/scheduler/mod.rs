//! Request scheduling and dynamic batching for one model.
//!
//! A request that finds a session idle runs at once on the caller's thread, with no hand-off and
//! no copy (ahead of requests already queued, unless the model batches runs long enough to be
//! worth joining). While every session is busy, requests wait in a lock-free queue;
//! whichever thread next holds a session drains it. No thread waits for a timer and none spins
//! while idle: a thread that holds a session checks the queue before giving the session back, and a
//! thread that queues a request then tries to take a session itself (see `handoff`).
//!
//! Batching across requests is the model owner's choice (`max_batch_size > 1`; off by default,
//! since a dynamic dim 0 does not prove that rows are independent). When it is on, it is
//! *work-conserving*: the thread draining the queue concatenates up to `max_batch_size`
//! compatible requests along dim 0, runs them once and hands each request its own rows.
//!
//! With `max_queue_delay_us > 0` (Triton's timed policy) the thread that takes a session waits up to
//! that long after the oldest request was queued, or until `preferred_batch_sizes` (or
//! `max_batch_size`) rows are queued, to run fuller batches.
//!
//! ```
//! use std::sync::Arc;
//! use inferkit::{BatchingOptions, Model, ModelOptions, TensorView};
//!
//! let opts = ModelOptions::default()
//!     .with_instances(2)
//!     .with_batching(BatchingOptions::default().with_max_batch_size(16));
//! let model = Arc::new(Model::open_with("tests/fixtures/mlp.onnx", &opts)?);
//! std::thread::scope(|s| {
//!     for t in 0..8 {
//!         let model = &model;
//!         s.spawn(move || {
//!             let x = vec![t as f32; 16];
//!             let out = model.infer(&[("x", TensorView::from_slice(vec![1, 16], &x))]).unwrap();
//!             assert_eq!(out["y"].shape(), &[1, 4]);
//!         });
//!     }
//! });
//! # Ok::<(), inferkit::Error>(())
//! ```

mod batch;
mod cancel;
mod cost;
mod handoff;
mod helper;
mod queue;
mod request;
pub(crate) mod watchdog;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::Thread;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use smallvec::SmallVec;

pub use cancel::CancelToken;
pub use request::{InferFuture, RequestHandle};

use crate::error::{Error, Result};
use crate::metrics::Metrics;
use crate::pool::{Lease, SessionPool};
use crate::session::{self, Outputs, RunContext};
use crate::signature::{Dim, Signature};
use crate::sync::AtomicIsize;
use crate::value::{Input, Value};
use request::{RawInput, Request};

/// The requests of one batch, in queue order.
type Batch = SmallVec<[Arc<Request>; 32]>;

thread_local! {
    /// The schedulers whose queue this thread is draining right now (nested when a callback of
    /// one model submits to another).
    static DRAINING: std::cell::RefCell<Vec<usize>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Most rows one batch may hold ([`BatchingOptions::max_batch_size`]).
pub const MAX_BATCH_SIZE: usize = 65_536;
/// Most requests one model may hold waiting ([`BatchingOptions::max_queue_size`]). The queue grows
/// with the requests actually waiting; this bounds it.
pub const MAX_QUEUE_SIZE: usize = 1_048_576;
/// Longest batching delay, in microseconds (60 s) ([`BatchingOptions::max_queue_delay_us`]).
pub const MAX_QUEUE_DELAY_US: u64 = 60_000_000;
/// Longest default timeout, in microseconds (one hour) ([`BatchingOptions::default_timeout_us`]).
pub const MAX_DEFAULT_TIMEOUT_US: u64 = 3_600_000_000;
/// Most preferred batch sizes ([`BatchingOptions::preferred_batch_sizes`]).
pub const MAX_PREFERRED_BATCH_SIZES: usize = 64;

/// How requests are queued and batched.
///
/// Batching across requests is off by default: a request never shares a session run with another
/// caller's rows unless the model's owner turns it on with `max_batch_size > 1` (Triton's
/// `max_batch_size`, TF Serving's batching parameters). A dynamic dim 0 does not prove that a
/// model's rows are independent: a model that normalises over the batch, or reverses it, gives
/// each caller other callers' data when batched.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct BatchingOptions {
    /// Most rows (sum of the requests' dim 0) run in one batch, at most [`MAX_BATCH_SIZE`]. 1 (the
    /// default) turns batching across requests off; more turns it on for a model whose rows are
    /// independent.
    pub max_batch_size: usize,
    /// How long a batch may wait for more requests, in microseconds, at most
    /// [`MAX_QUEUE_DELAY_US`]. 0 (the default) never waits: work-conserving batching.
    pub max_queue_delay_us: u64,
    /// Batch sizes worth waiting for under a timed policy: the wait ends once this many rows are
    /// queued. Empty: wait for `max_batch_size` rows or the delay. At most
    /// [`MAX_PREFERRED_BATCH_SIZES`] sizes.
    pub preferred_batch_sizes: Vec<usize>,
    /// Most requests waiting at once, at most [`MAX_QUEUE_SIZE`]; one more is refused with
    /// [`Error::QueueFull`]. Default 1024.
    pub max_queue_size: usize,
    /// Deadline applied to requests that set none, in microseconds, at most
    /// [`MAX_DEFAULT_TIMEOUT_US`]; 0 (the default) means none.
    pub default_timeout_us: u64,
    /// Whether requests may be concatenated along dim 0 when `max_batch_size > 1`. `None` (the
    /// default): when every input and output has a dynamic first dim. `Some(false)` keeps
    /// batching off whatever `max_batch_size` says.
    pub batchable: Option<bool>,
}

impl Default for BatchingOptions {
    fn default() -> Self {
        BatchingOptions {
            max_batch_size: 1,
            max_queue_delay_us: 0,
            preferred_batch_sizes: Vec::new(),
            max_queue_size: 1024,
            default_timeout_us: 0,
            batchable: None,
        }
    }
}

/// `Ok` when `value` is within `min..=max`, else [`Error::InvalidArgument`] naming `name` and the
/// bounds.
pub(crate) fn check_range<T: PartialOrd + std::fmt::Display>(
    name: &'static str,
    value: T,
    min: T,
    max: T,
) -> Result<()> {
    if value < min || value > max {
        return Err(Error::InvalidArgument {
            name,
            reason: format!("{value} is not between {min} and {max}"),
        });
    }
    Ok(())
}

with_setters!(BatchingOptions {
    with_max_batch_size(max_batch_size, usize);
    with_max_queue_delay_us(max_queue_delay_us, u64);
    with_preferred_batch_sizes(preferred_batch_sizes, list usize);
    with_max_queue_size(max_queue_size, usize);
    with_default_timeout_us(default_timeout_us, u64);
    with_batchable(batchable, some bool);
});

impl BatchingOptions {
    /// Checks the options: every number within its documented bound.
    pub fn check(&self) -> Result<()> {
        check_range("max_batch_size", self.max_batch_size, 1, MAX_BATCH_SIZE)?;
        check_range("max_queue_size", self.max_queue_size, 1, MAX_QUEUE_SIZE)?;
        check_range(
            "max_queue_delay_us",
            self.max_queue_delay_us,
            0,
            MAX_QUEUE_DELAY_US,
        )?;
        check_range(
            "default_timeout_us",
            self.default_timeout_us,
            0,
            MAX_DEFAULT_TIMEOUT_US,
        )?;
        if self.preferred_batch_sizes.len() > MAX_PREFERRED_BATCH_SIZES {
            return Err(Error::InvalidArgument {
                name: "preferred_batch_sizes",
                reason: format!(
                    "{} sizes; at most {MAX_PREFERRED_BATCH_SIZES}",
                    self.preferred_batch_sizes.len()
                ),
            });
        }
        if let Some(p) = self
            .preferred_batch_sizes
            .iter()
            .find(|p| **p == 0 || **p > self.max_batch_size)
        {
            return Err(Error::InvalidArgument {
                name: "preferred_batch_sizes",
                reason: format!(
                    "{p} is not between 1 and max_batch_size ({})",
                    self.max_batch_size
                ),
            });
        }
        Ok(())
    }
}

/// Per-request options.
///
/// ```
/// use std::time::Duration;
/// use inferkit::{InferOptions, Model, TensorView};
///
/// // two_io: (features: f32[n, 3], offsets: i64[n]) -> (sum: f32[n, 3], doubled: i64[n])
/// let model = Model::open("tests/fixtures/two_io.onnx")?;
/// let options = InferOptions::default()
///     .with_timeout(Duration::from_secs(1))
///     .with_outputs(["doubled"]);
/// let (features, offsets) = ([1.0f32; 3], [21i64]);
/// let out = model.infer_with(
///     &[
///         ("features", TensorView::from_slice(vec![1, 3], &features)),
///         ("offsets", TensorView::from_slice(vec![1], &offsets)),
///     ],
///     &options,
/// )?;
/// assert_eq!(out.len(), 1);
/// assert_eq!(out["doubled"].as_slice::<i64>()?, &[42]);
/// # Ok::<(), inferkit::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InferOptions {
    /// Only these outputs, in this order. `None` or an empty list: all, in signature order.
    pub outputs: Option<Vec<String>>,
    /// Give up if the request has not started by then ([`Error::DeadlineExceeded`]); a request
    /// whose deadline passes while it waits in the queue is not run.
    pub deadline: Option<Instant>,
    /// Like `deadline`, relative to the call. The earlier of the two applies.
    pub timeout: Option<Duration>,
    /// Only queue the request: the calling thread does not run it (nor others' requests), even
    /// with a session idle; inferkit's helper threads do (the caller only if no helper thread
    /// can be started). For hosts whose threads must not stay inside inferkit for a run, such as
    /// a Go binding's goroutines in a cgo call. A blocking call still waits for its result.
    /// Default false: a caller that finds a session idle runs its request at once, on its own
    /// thread.
    pub queue_only: bool,
    /// Cancels the request from another thread when the token is cancelled: withdrawn while
    /// queued, stopped while it runs alone on a session (on this thread or another). With the
    /// token cancelled already, a blocking call fails at once and a submission is accepted and
    /// answered, both with [`Error::Cancelled`]. The one way to cancel a blocking call; a
    /// submitted request also has its handle.
    pub cancel: Option<CancelToken>,
}

with_setters!(InferOptions {
    with_outputs(outputs, some_strings);
    with_deadline(deadline, some Instant);
    with_timeout(timeout, some Duration);
    with_queue_only(queue_only, bool);
    with_cancel(cancel, some CancelToken);
});

/// A snapshot of a model's queue and sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SchedulerStats {
    /// Sessions of the model.
    pub instances: usize,
    /// Sessions idle right now.
    pub idle_instances: usize,
    /// Requests waiting in the queue (withdrawn ones included until a worker drops them).
    pub queued: usize,
    /// Session runs so far (one per batch).
    pub executions: u64,
    /// Requests those runs served. `requests_run / executions` is the mean batch size in requests.
    pub requests_run: u64,
}

/// Who runs a request just queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lead {
    /// The submitting thread, if a session is idle (then it also runs a bounded share of others'
    /// work).
    Here,
    /// A helper thread, if a session is idle ([`InferOptions::queue_only`]); the submitting thread
    /// only if no helper can start.
    Helper,
    /// The thread that queues it is running a batch of this model (a callback resubmits): it sees
    /// the queue before it gives its session back.
    Drainer,
}

impl Lead {
    fn from_options(opts: &InferOptions) -> Lead {
        if opts.queue_only {
            Lead::Helper
        } else {
            Lead::Here
        }
    }
}

/// A batch expected to run at least this long is split with an idle session (waking a helper
/// thread costs tens of microseconds).
const SPLIT_WORTH: Duration = Duration::from_micros(100);

/// Queued work of a batching model expected to run in less than this (as one batch) stays with
/// the thread that already runs the model's batches rather than being shared with a second
/// session (see [`Scheduler::share_pays`]).
const SHARE_WORTH: Duration = Duration::from_micros(20);

/// How many times a blocking caller of a model with short runs yields its CPU, looking for a
/// session after each, before it queues its request and sleeps (see [`Scheduler::direct_lease`]).
const DIRECT_YIELDS: usize = 8;

/// A blocking caller yields for a session ([`Scheduler::direct_lease`]) only on a model whose
/// one-row run is measured to take less than this: a holder preempted in the middle of such a run
/// finishes it within its first moments back on the CPU. Longer runs are not waited for that way.
const YIELD_WORTH: Duration = Duration::from_micros(20);

/// What may cancel a run besides its deadline ([`Scheduler::run_stoppable`]).
pub(super) enum Stopper<'a> {
    /// Nothing: a batch of several requests.
    None,
    /// A blocking caller's token, for a run on its own thread (the direct path).
    Token(&'a CancelToken),
    /// The one request the run serves ([`request::cancel`]).
    Request(&'a Request),
}

impl Stopper<'_> {
    /// Makes the run reachable, its stop started; false (do not run) when it was cancelled.
    fn admit(&self, stop: &Arc<watchdog::RunStop>) -> bool {
        match self {
            Stopper::None => true,
            Stopper::Token(t) => t.bind_run(stop),
            Stopper::Request(r) => {
                let mut state = r.running.lock();
                if r.cancelled.load(Ordering::SeqCst) {
                    return false;
                }
                *state = request::RunState::Alone(stop.clone());
                true
            }
        }
    }

    /// Makes the run unreachable once it is over; true when a token cancelled it meanwhile (a
    /// request's own cancel is read from the request).
    fn leave(&self, stop: &Arc<watchdog::RunStop>) -> bool {
        match self {
            Stopper::None => false,
            Stopper::Token(t) => t.unbind_run(stop),
            Stopper::Request(r) => {
                *r.running.lock() = request::RunState::Past;
                false
            }
        }
    }
}

/// Leaves the run ([`Stopper::leave`]) when dropped, unless taken first: also when it unwinds.
struct Leave<'a>(Option<Stopper<'a>>, &'a Arc<watchdog::RunStop>);

impl Drop for Leave<'_> {
    fn drop(&mut self) {
        if let Some(s) = self.0.take() {
            s.leave(self.1);
        }
    }
}

/// A request carried from one batch to the next; answered with an error if its thread unwinds.
struct Carry<'a>(Option<Arc<Request>>, &'a str);

impl Drop for Carry<'_> {
    fn drop(&mut self) {
        if let Some(r) = self.0.take() {
            r.slot.complete(Err(Error::Panicked {
                model: self.1.to_string(),
                message: "inferkit panicked before running this request".into(),
            }));
        }
    }
}

/// Everything that serves one loaded model: signature, sessions, queue.
pub(crate) struct Scheduler {
    pub(crate) name: Arc<str>,
    pub(crate) signature: Signature,
    /// What every ONNX Runtime run needs (names as C strings, CPU memory); `None` on tract.
    run: Option<RunContext>,
    /// The engine the sessions run on.
    pub(crate) backend: crate::backend::Backend,
    pool: SessionPool,
    queue: queue::BoundedQueue<Arc<Request>>,
    /// Rows of the requests in `queue` (`handoff::push_counted`, `pop_counted`).
    queued_rows: AtomicIsize,
    batching: BatchingOptions,
    batchable: bool,
    /// The threads waiting to fill a batch under a timed policy (one per session at most), woken
    /// when a request is queued.
    waiting_leaders: Mutex<Vec<Thread>>,
    executions: AtomicU64,
    requests_run: AtomicU64,
    /// Runs of one request on its caller's thread (the direct path), striped: counted apart
    /// from `executions` and `requests_run`, which they add to, so that concurrent callers do
    /// not share one cache line.
    direct_runs: crate::metrics::Counter,
    /// Tests: blocking callers never yield for a session (`Some(false)`: tests of the queued
    /// hand-offs), or always may (`Some(true)`: tests of the yields, also where an emulator runs
    /// the tiny MLP too slowly for the measured gate).
    #[cfg(test)]
    yields: Mutex<Option<bool>>,
    /// What runs cost per row by batch size, to batch only when that pays.
    cost: cost::BatchCost,
    created: Instant,
    /// Seconds after `created` (plus one) of the last QueueFull warning.
    last_refusal_warning: AtomicU64,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) version: Option<u64>,
    /// This scheduler, for handing its queue to a helper thread (set once it is in an `Arc`).
    this: std::sync::OnceLock<std::sync::Weak<Scheduler>>,
    /// A helper was asked to drain this queue and has not yet looked for a session: asking
    /// another would only start a thread that finds nothing to do.
    helper_called: AtomicBool,
    /// Blocking callers' queued requests, oldest first: a thread that would call a helper asks
    /// the first whose owner still waits to drain instead (see [`Scheduler::wake_sleeper`]).
    sleepers: Mutex<std::collections::VecDeque<Arc<Request>>>,
    /// Blocked callers asked to drain, and helper threads handed the queue, so far.
    drainers_called: [AtomicU64; 2],
    /// Threads running batches of this queue in [`Scheduler::drain`] now, each holding a session:
    /// a helper leaves short work only to another of these, which sees the queue after each
    /// batch, not to a caller running one large request of its own. (Counted from a thread's
    /// first batch: a caller whose direct run finds the queue empty afterwards never counts.)
    draining: AtomicUsize,
}

impl Scheduler {
    pub(crate) fn new(
        name: String,
        signature: Signature,
        engines: crate::backend::Engines,
        batching: BatchingOptions,
        metrics: bool,
        version: Option<u64>,
    ) -> Result<Scheduler> {
        let dynamic_first = |d: Option<&Dim>| matches!(d, Some(Dim::Dynamic(_)));
        let batchable = batching.batchable.unwrap_or_else(|| {
            signature
                .inputs
                .iter()
                .all(|s| dynamic_first(s.dims.first()))
                && signature
                    .outputs
                    .iter()
                    .all(|s| dynamic_first(s.dims.first()))
        }) && batching.max_batch_size > 1
            // Strings, packed types, sequences, maps and optionals are not concatenated.
            && signature
                .inputs
                .iter()
                .chain(&signature.outputs)
                .all(|s| s.ty.is_batchable());
        Ok(Scheduler {
            run: match engines {
                crate::backend::Engines::Ort { .. } => Some(RunContext::new(&name, &signature)?),
                #[cfg(feature = "tract")]
                crate::backend::Engines::Tract(_) => None,
            },
            backend: engines.backend(),
            pool: SessionPool::new(engines, signature.inputs.len()).map_err(|message| {
                Error::Inference {
                    model: name.clone(),
                    message,
                }
            })?,
            queue: queue::BoundedQueue::new(batching.max_queue_size),
            queued_rows: AtomicIsize::new(0),
            batchable,
            batching,
            waiting_leaders: Mutex::new(Vec::new()),
            executions: AtomicU64::new(0),
            requests_run: AtomicU64::new(0),
            direct_runs: crate::metrics::Counter::default(),
            #[cfg(test)]
            yields: Mutex::new(None),
            cost: cost::BatchCost::new(),
            created: Instant::now(),
            last_refusal_warning: AtomicU64::new(0),
            metrics: Arc::new(Metrics::new(metrics)),
            version,
            this: std::sync::OnceLock::new(),
            helper_called: AtomicBool::new(false),
            sleepers: Mutex::new(std::collections::VecDeque::new()),
            drainers_called: [AtomicU64::new(0), AtomicU64::new(0)],
            draining: AtomicUsize::new(0),
            name: name.into(),
            signature,
        })
    }

    /// Puts a new scheduler in an `Arc`, which it needs to hand its queue to helper threads.
    pub(crate) fn into_arc(self) -> Arc<Scheduler> {
        let arc = Arc::new(self);
        let _ = arc.this.set(Arc::downgrade(&arc));
        arc
    }

    pub(crate) fn batchable(&self) -> bool {
        self.batchable
    }

    pub(crate) fn batching(&self) -> &BatchingOptions {
        &self.batching
    }

    pub(crate) fn stats(&self) -> SchedulerStats {
        let direct = self.direct_runs.get(); // read once: both counts include the same runs
        SchedulerStats {
            instances: self.pool.size(),
            idle_instances: self.pool.idle(),
            queued: self.queue.len(),
            executions: self.executions.load(Ordering::Relaxed) + direct,
            requests_run: self.requests_run.load(Ordering::Relaxed) + direct,
        }
    }

    fn deadline(&self, opts: &InferOptions) -> Option<Instant> {
        let timeout = opts.timeout.or((self.batching.default_timeout_us > 0)
            .then(|| Duration::from_micros(self.batching.default_timeout_us)));
        // No clock read on the common path without a timeout.
        // A timeout too far ahead for the clock is no deadline at all (never a panic).
        match (
            opts.deadline,
            timeout.and_then(|t| Instant::now().checked_add(t)),
        ) {
            (d, None) => d,
            (None, Some(t)) => Some(t),
            (Some(d), Some(t)) => Some(d.min(t)),
        }
    }

    fn timed(&self) -> bool {
        self.batching.max_queue_delay_us > 0
    }

    fn deadline_error(&self) -> Error {
        Error::DeadlineExceeded {
            model: self.name.to_string(),
        }
    }

    fn cancelled_error(&self) -> Error {
        Error::Cancelled {
            model: self.name.to_string(),
        }
    }

    fn selection(&self, opts: &InferOptions) -> Result<Option<Vec<usize>>> {
        match &opts.outputs {
            // No names asks for every output, as `None` does: a run for nothing is no request.
            None => Ok(None),
            Some(names) if names.is_empty() => Ok(None),
            Some(names) => {
                let names: Vec<&str> = names.iter().map(String::as_str).collect();
                self.signature.select_outputs(&self.name, &names).map(Some)
            }
        }
    }

    /// The inputs in the model's input order, as raw inputs that know their index (the request was
    /// validated: each is present once; an optional input left out is absent).
    fn ordered(&self, inputs: &[(&str, Input<'_>)]) -> request::RawInputs {
        self.signature
            .inputs
            .iter()
            .enumerate()
            .filter_map(|(index, spec)| {
                inputs
                    .iter()
                    .find(|(n, _)| *n == &*spec.name)
                    .map(|(_, v)| RawInput::new(index, v))
            })
            .collect()
    }

    /// Blocking inference, with its metrics. Requests that went through the queue are counted by
    /// their completion hook (with the batch's clock readings); the others here.
    pub(crate) fn infer(
        &self,
        inputs: &[(&str, Input<'_>)],
        opts: &InferOptions,
    ) -> Result<Outputs> {
        let _span = tracing::trace_span!("inferkit.infer", model = %self.name).entered();
        let start = self.metrics.enabled().then(Instant::now);
        self.metrics.inflight(1);
        let (result, counted) = self.infer_inner(inputs, opts, start);
        if !counted {
            self.count_unqueued(inputs, &result, start.map(|s| s.elapsed()));
        }
        result
    }

    /// Counts a request that did not go through the queue (direct path, or refused before it).
    fn count_unqueued(
        &self,
        inputs: &[(&str, Input<'_>)],
        result: &Result<Outputs>,
        took: Option<Duration>,
    ) {
        self.metrics.inflight(-1);
        let rows = inputs.first().and_then(|(_, v)| v.rows()).unwrap_or(1);
        self.metrics
            .outcome(result.as_ref().err().map(Error::code), rows);
        if let Some(took) = took {
            self.metrics.request_duration(took);
        }
    }

    /// A hook that counts a queued request when it completes ([`request::CompletionHook::run`]: the
    /// end it is given is the batch's end instant when a worker completes the request, with no
    /// clock read per request, and `None` when it is withdrawn).
    fn counting_hook(&self, start: Option<Instant>, rows: usize) -> request::CompletionHook {
        request::CompletionHook::Count {
            metrics: self.metrics.clone(),
            start,
            rows,
        }
    }

    fn infer_inner(
        &self,
        inputs: &[(&str, Input<'_>)],
        opts: &InferOptions,
        start: Option<Instant>,
    ) -> (Result<Outputs>, bool) {
        match self.infer_queued_or_direct(inputs, opts, start) {
            Ok(r) => r,
            Err(e) => (Err(e), false),
        }
    }

    /// `Ok((result, counted))`; `Err` for failures before the request was queued (counted by the caller).
    fn infer_queued_or_direct(
        &self,
        inputs: &[(&str, Input<'_>)],
        opts: &InferOptions,
        start: Option<Instant>,
    ) -> Result<(Result<Outputs>, bool)> {
        // A callback of this model runs on a thread that holds one of its sessions; a blocking call
        // from there could wait for that session for ever (with one instance, it always would).
        if DRAINING.with(|d| d.borrow().contains(&self.id())) {
            return Err(Error::WouldDeadlock {
                model: self.name.to_string(),
            });
        }
        self.signature.validate_inputs(&self.name, inputs)?;
        let selected = self.selection(opts)?;
        let deadline = self.deadline(opts);
        self.still_wanted(deadline, opts.cancel.as_ref())?;
        // Direct path: a session idle → run here, now, without copying (see `overtakes`). With
        // the queue full, too: refusing a request while a session sits idle would be no
        // backpressure, only a lost request.
        if self.batching.max_queue_delay_us == 0
            && !opts.queue_only
            && (self.queue.is_empty() || self.overtakes() || self.queue.is_full())
        {
            if let Some((mut lease, acquired)) =
                self.direct_lease(deadline, opts.cancel.as_ref(), start.is_some())?
            {
                let rows = inputs.first().and_then(|(_, v)| v.rows()).unwrap_or(1);
                // Measured for every model (one run in eight, see `cost`): batching models choose
                // their batch sizes by it, and hosts read it (`Model::run_estimate`).
                let sample = Some(self.cost.start(rows));
                let span =
                    tracing::trace_span!("inferkit.compute", model = %self.name, requests = 1)
                        .entered();
                let w: &mut crate::pool::Worker = &mut lease;
                let result = self.run_stoppable(
                    &mut w.session,
                    &w.stop,
                    deadline,
                    opts.cancel.as_ref().map_or(Stopper::None, Stopper::Token),
                    inputs,
                    selected.as_deref(),
                );
                if let (Some(sample), Ok(_)) = (sample, &result) {
                    sample.finish(&self.cost, rows.max(1));
                }
                drop(span);
                // One clock reading serves the run and the request (validation, before the run, is
                // tens of nanoseconds): the caller's result is ready now, whatever it drains next.
                let took = start.map(|s| s.elapsed());
                self.direct_runs.add(1);
                match (start, acquired, took) {
                    // It yielded for its session: that wait is queue time, as a queued request's.
                    (Some(start), Some(acquired), Some(took)) => {
                        let waited = acquired.saturating_duration_since(start);
                        self.metrics.queue_duration(waited);
                        self.metrics.execution(1, Some(took.saturating_sub(waited)));
                        self.metrics.request_duration(took);
                    }
                    // One execution of one request, counted with two atomic adds (see
                    // `Metrics::direct_run`); its request duration is the same record.
                    _ => self.metrics.direct_run(took),
                }
                self.count_unqueued(inputs, &result, None);
                self.release_and_drain(lease, None);
                return Ok((result, true));
            }
        }
        // Queued path. The request borrows the caller's memory: `Slot::wait` returns only once the
        // request is done, or withdrawn before a worker took it.
        let raw = self.ordered(inputs);
        let request = Arc::new(Request::new(
            raw,
            Vec::new(),
            selected,
            deadline,
            self.batchable,
            // The call's start doubles as the enqueue time.
            start.or_else(|| self.timed().then(Instant::now)),
        ));
        // The worker that completes it counts it (with the batch's clock readings); only a request
        // this thread withdraws at its deadline is counted here.
        request.counted_by_worker.store(true, Ordering::Relaxed);
        // Bound before it is queued: a cancel from now on withdraws it or stops its run.
        if let Some(token) = &opts.cancel {
            if !token.bind_request(&request, &self.name) {
                return Err(self.cancelled_error());
            }
        }
        let lead = Lead::from_options(opts);
        self.submit(request.clone(), lead)?;
        // A caller that would run queued work itself may be asked to drain (`call_drainer`); one
        // that is not listed is never asked, and only waits.
        if lead == Lead::Here && !self.timed() && self.leads_pay() {
            self.add_sleeper(&request);
        }
        loop {
            match request
                .slot
                .wait_or_lead(deadline, || self.deadline_error())
            {
                // Withdrawn (at its deadline, or by its cancel token): no worker counted it.
                request::Woken::Done(result, withdrawn) => return Ok((result, !withdrawn)),
                // Asked to drain, as a helper would: this caller looks for a session and, with
                // one, runs the queue up to its own request and one batch more.
                request::Woken::Lead => {
                    if let Some(lease) = handoff::claim_after_queueing(&self.pool) {
                        self.release_and_drain(lease, Some(&request));
                    }
                    // Still waiting: it may be asked again.
                    if !request.slot.is_done() {
                        self.add_sleeper(&request);
                    }
                }
            }
        }
    }

    /// A session for a blocking caller's direct run: one idle now or, for a model whose runs are
    /// short ([`Scheduler::yields_pay`]), one given back while this thread yields its CPU, up to
    /// [`DIRECT_YIELDS`] times. With the session, the instant it was taken when it was waited for
    /// and `timed` (the wait is then queue time in the metrics, not compute). `Ok(None)`: none by
    /// then, and the request queues. An error when the request's deadline passes or its token is
    /// cancelled while it yields: it never starts after its deadline, nor takes a place in the
    /// queue then.
    ///
    /// With more threads than CPUs, a thread that finds every session taken has most often found
    /// one held by a thread the OS preempted in the middle of a run, on this CPU. Queued, the
    /// request costs its caller a sleep and a wake-up, several times the run itself on a model
    /// like the tiny MLP; worse, the holder, back on the CPU, drains a batch of such requests at
    /// once and wakes their callers together, who find the sessions taken in turn and queue again.
    /// Yielding lets the holder finish its run and give the session back first: the tiny MLP on
    /// 2 sessions and 2 vCPUs (Intel Xeon), blocking callers, work-conserving batching, went from
    /// 0.52 to 0.80 M requests/s at 64 threads and from 0.29 to 0.70 M at 256, with 0.01–0.03
    /// sleeps per request instead of 0.41–0.98; 1, 3 and 8 yields gave 0.77–0.81, 0.79–0.82 and
    /// 0.79–0.81 M at 64 threads and 0.54–0.65, 0.65–0.67 and 0.68–0.72 M at 256 (0.50–0.56 M at
    /// 1,024 threads with 8, against 0.43–0.47 M with 2). Spinning instead of yielding made it
    /// worse (0.25–0.37 M at 64 threads): the spinner holds the CPU the holder waits for. A yield
    /// with nothing else to run on the CPU returns at once, so with idle CPUs this is a short spin
    /// on the session's flag.
    fn direct_lease(
        &self,
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
        timed: bool,
    ) -> Result<Option<(Lease<'_>, Option<Instant>)>> {
        if let Some(lease) = self.pool.try_acquire() {
            return Ok(Some((lease, None)));
        }
        if !self.yields_pay() {
            return Ok(None);
        }
        for _ in 0..DIRECT_YIELDS {
            std::thread::yield_now();
            self.still_wanted(deadline, cancel)?;
            if let Some(lease) = self.pool.try_acquire() {
                return Ok(Some((lease, timed.then(Instant::now))));
            }
        }
        Ok(None)
    }

    /// DEADLINE_EXCEEDED once `deadline` has passed, CANCELLED once `cancel` is cancelled: a
    /// blocking request checked before it runs or queues.
    fn still_wanted(&self, deadline: Option<Instant>, cancel: Option<&CancelToken>) -> Result<()> {
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(self.deadline_error());
        }
        if cancel.is_some_and(CancelToken::is_cancelled) {
            return Err(self.cancelled_error());
        }
        Ok(())
    }

    /// Whether a blocking caller that finds every session taken yields for one
    /// ([`Scheduler::direct_lease`]): when it would overtake queued requests anyway
    /// ([`Scheduler::leads_pay`]), and a one-row run is measured to take under [`YIELD_WORTH`].
    /// Not before anything is measured, nor for long runs: their holder would not be done within
    /// a few yields, and the queue gathers their requests into batches worth the wait.
    fn yields_pay(&self) -> bool {
        #[cfg(test)]
        if let Some(yields) = *self.yields.lock() {
            return yields;
        }
        let one = self.cost.estimate(1);
        !one.is_zero() && one < YIELD_WORTH && self.leads_pay()
    }

    /// Lists a blocking caller's queued request (its owner is about to wait for it), so that the
    /// owner may be asked to drain. Entries whose request is done or whose owner has returned are
    /// dropped from the front here and in `wake_sleeper`, and from anywhere when the list is full;
    /// it holds at most `max_queue_size`.
    fn add_sleeper(&self, request: &Arc<Request>) {
        let gone = |r: &Arc<Request>| Arc::strong_count(r) == 1 || r.slot.is_done();
        let mut sleepers = self.sleepers.lock();
        while sleepers.front().is_some_and(gone) {
            sleepers.pop_front();
        }
        if sleepers.len() >= self.batching.max_queue_size {
            sleepers.retain(|r| !gone(r));
        }
        if sleepers.len() < self.batching.max_queue_size {
            sleepers.push_back(request.clone());
        }
    }

    /// Has queued work drained without a helper thread: wakes the blocked caller of the oldest
    /// request still queued, which looks for a session as a helper would (`Woken::Lead`). That
    /// caller is woken for its result anyway; a helper would be one more thread to wake, and its
    /// wake-up, on a machine whose CPUs run callers woken with their results, the slower one.
    /// False when no blocked caller's request is queued.
    fn wake_sleeper(&self) -> bool {
        loop {
            let Some(r) = self.sleepers.lock().pop_front() else {
                return false;
            };
            if r.slot.lead() {
                self.drainers_called[0].fetch_add(1, Ordering::Relaxed);
                return true;
            }
        }
    }

    /// Whether a blocking caller that finds a session idle runs its request at once even with
    /// requests queued, before them, as a mutex lets the thread that unlocks take the lock again
    /// ahead of the threads asleep on it. The queued requests still run: the caller drains one
    /// batch of them after its own (`release_and_drain`). Queued instead, the request would cost
    /// its caller a sleep and a wake-up, which on a model whose runs take microseconds is most of
    /// a request's cost: 64 blocking threads on the tiny MLP without batching, on 2 CPUs, ran
    /// at 0.53–0.65 of raw ONNX Runtime's `Mutex<Session>` queued, and overtaking at 1.85× in a
    /// full bench run (short cells: 0.64–1.57, at least 1.0 in 8 of 11; see BENCHMARKS.md). A
    /// model that batches runs worth waiting for ([`Scheduler::leads_pay`] false) queues the
    /// request where it fills a batch, while the queue has room: mlp_large with 8 blocking
    /// threads fell from 28,000 to 19,000 rows/s when those overtook too.
    fn overtakes(&self) -> bool {
        !self.batchable || self.leads_pay()
    }

    /// Whether queued work goes to blocked callers rather than helpers (see `call_drainer`): when
    /// a full batch is expected to run under [`SPLIT_WORTH`]. Always for models that do not
    /// batch: there a helper's drain forms no fuller batches, and the wake-up saved is the only
    /// difference.
    fn leads_pay(&self) -> bool {
        !self.batchable || self.cost.estimate(self.batching.max_batch_size) < SPLIT_WORTH
    }

    /// Has the queue drained by a blocked caller ([`Scheduler::wake_sleeper`]) when that pays
    /// ([`Scheduler::leads_pay`]), else by a helper thread ([`Scheduler::call_helper`]). False if
    /// neither can.
    ///
    /// A blocked caller runs its own request and one batch more, then passes the queue on: a
    /// hand-off per batch or two. That pays when a batch runs for less than a wake-up or two (the
    /// tiny MLP: 3 µs a batch of 32, where the helper's wake-up was a third of each request's
    /// CPU). For longer batches the wake-up saved is small beside the run, and a helper, which
    /// drains until the queue is empty, lets requests gather into fuller batches: on mlp_large
    /// (200 µs a batch of 32), 8 blocking callers got batches of 1.2 rows from blocked callers
    /// against 2.2 from a helper, and 40% fewer rows/s.
    ///
    /// Unlike helpers, several blocked callers may be asked before the first looks for a session
    /// (a thread running short batches beside an idle session asks after each). Those that find
    /// no session wait again, listed anew. Asking one at a time, as for helpers, measured lower:
    /// 8 blocking threads on the tiny MLP without batching, 4 alternated rounds, median 1.33× raw
    /// ort's `Mutex<Session>` against 1.61×.
    fn call_drainer(&self) -> bool {
        if self.leads_pay() && self.wake_sleeper() {
            return true;
        }
        self.call_helper()
    }

    /// Queues a request that owns its inputs; the result arrives through the request's slot.
    pub(crate) fn submit_owned(
        &self,
        inputs: Vec<(String, Value)>,
        opts: &InferOptions,
        callback: Option<Box<dyn FnOnce(Result<Outputs>) + Send>>,
    ) -> Result<Arc<Request>> {
        // A refused submission counts as a failed request; an accepted one is counted when it completes.
        self.submit_owned_inner(inputs, opts, callback)
            .inspect_err(|e| self.metrics.outcome(Some(e.code()), 0))
    }

    fn submit_owned_inner(
        &self,
        inputs: Vec<(String, Value)>,
        opts: &InferOptions,
        callback: Option<Box<dyn FnOnce(Result<Outputs>) + Send>>,
    ) -> Result<Arc<Request>> {
        use crate::value::AsInput;
        let views: SmallVec<[(&str, Input<'_>); 8]> = inputs
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_input()))
            .collect();
        self.signature.validate_inputs(&self.name, &views)?;
        let selected = self.selection(opts)?;
        let deadline = self.deadline(opts);
        // The raw inputs point into `inputs`' heap buffer (and tensors' own buffers), which do not
        // move when `inputs` moves into the request.
        let raw = self.ordered(&views);
        drop(views);
        let owned = inputs;
        let request = Arc::new(Request::new(
            raw,
            owned,
            selected,
            deadline,
            self.batchable,
            (self.timed() || self.metrics.enabled()).then(Instant::now),
        ));
        if let Some(cb) = callback {
            request.slot.set_callback(cb);
        }
        let rows = request
            .inputs
            .first()
            .and_then(|i| i.shape.first())
            .copied()
            .unwrap_or(1);
        request
            .slot
            .set_hook(self.counting_hook(request.enqueued, rows));
        self.metrics.inflight(1);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            request.slot.withdraw(self.deadline_error());
            return Ok(request);
        }
        // Bound before it is queued; a token cancelled already answers it as a passed deadline
        // is answered: accepted, and completed at once.
        if let Some(token) = &opts.cancel {
            if !token.bind_request(&request, &self.name) {
                request.slot.withdraw(self.cancelled_error());
                return Ok(request);
            }
        }
        // Submitted from a callback of a batch this thread is running: only queue it. This thread
        // drains the queue before it gives its session back, so the request joins the next batch
        // instead of taking another session for a batch of one.
        let lead = if DRAINING.with(|d| d.borrow().contains(&self.id())) {
            Lead::Drainer
        } else {
            Lead::from_options(opts)
        };
        if let Err(e) = self.submit(request.clone(), lead) {
            self.metrics.inflight(-1); // never accepted: its hook will not run
            return Err(e);
        }
        Ok(request)
    }

    fn id(&self) -> usize {
        self as *const Scheduler as usize
    }

    /// A WARN event for a request refused with QueueFull, at most one per second per model: a
    /// host under overload sees it without a flood of events.
    fn warn_refused(&self) {
        let now = self.created.elapsed().as_secs() + 1;
        let last = self.last_refusal_warning.load(Ordering::Relaxed);
        if now > last
            && self
                .last_refusal_warning
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::warn!(model = %self.name, version = ?self.version, capacity = self.batching.max_queue_size, "inferkit: queue full, requests refused");
        }
    }

    /// Queues a request, then sees that it runs (see [`Lead`]).
    fn submit(&self, request: Arc<Request>, lead: Lead) -> Result<()> {
        let rows = request.rows.unwrap_or(1);
        let own = (lead != Lead::Drainer).then(|| request.clone());
        if let Err(request) = handoff::push_counted(&self.queue, &self.queued_rows, request, rows) {
            // Its cancel token may have withdrawn it meanwhile (a token reaches a request from
            // before it is queued): it was answered CANCELLED then, so it counts as accepted.
            // Otherwise it is claimed here, so that no cancel answers it after this refusal.
            if !request.slot.take() {
                return Ok(());
            }
            self.warn_refused();
            return Err(Error::QueueFull {
                model: self.name.to_string(),
                capacity: self.batching.max_queue_size,
            });
        }
        self.metrics.pending(1);
        if self.batching.max_queue_delay_us > 0 {
            for t in self.waiting_leaders.lock().iter() {
                t.unpark();
            }
        }
        let claim_here = match lead {
            Lead::Drainer => false,
            // A helper's look for a session comes after this push (see `call_helper`); this
            // thread looks itself only if no helper thread can start.
            Lead::Helper => handoff::idle_after_queueing(&self.pool) && !self.call_helper(),
            Lead::Here => true,
        };
        // Either a thread giving a session back sees this request, or this thread sees the
        // session (see `handoff`).
        if claim_here {
            if let Some(lease) = handoff::claim_after_queueing(&self.pool) {
                self.release_and_drain(lease, own.as_deref());
            }
        }
        Ok(())
    }

    /// A helper thread's job: drain the queue with a session, if one is idle (if none is, the
    /// thread holding one sees the queue when it gives it back).
    fn help(&self) {
        // Before looking for a session (the fence in `claim_after_queueing` orders the two): a
        // thread that sees the flag still set may rely on this look (see `call_helper`).
        self.helper_called.store(false, Ordering::SeqCst);
        if let Some(lease) = handoff::claim_after_queueing(&self.pool) {
            self.drain(lease, None, true);
        }
    }

    /// Runs queued work on the leased session, then gives it back: until `own` (the caller's
    /// request, if it is queued) is done, then at most one batch more, and a request that batch
    /// left behind, alone. What is still queued then goes to the blocked caller of the oldest
    /// queued request, or to a helper thread (see `call_drainer`). So a caller waits for its own
    /// request, the requests queued before it, and at most one batch and one request of others'
    /// work: never for a flood that keeps arriving.
    fn release_and_drain<'s>(&'s self, lease: Lease<'s>, own: Option<&Request>) {
        // After a direct run with nothing queued (a lone caller's every call): straight to the
        // give-back with which `drain` ends.
        if own.is_none() && self.queue.is_empty() {
            if handoff::give_back_then_queued(&self.queue, lease) {
                self.drain_queued();
            }
            return;
        }
        self.drain(lease, own, false);
    }

    /// After this thread gave its session back and saw requests queued: a helper or a blocked
    /// caller drains them, or, when none can, this thread does, as a helper would.
    fn drain_queued(&self) {
        if self.call_drainer() {
            return;
        }
        if let Some(lease) = handoff::claim_after_queueing(&self.pool) {
            self.drain(lease, None, true);
        }
    }

    /// `release_and_drain`, or (`all`) the helper's unbounded drain until the queue is empty.
    fn drain<'s>(&'s self, mut lease: Lease<'s>, own: Option<&Request>, all: bool) {
        /// Marks this thread as draining this scheduler until dropped (also when unwinding).
        struct Draining(usize);
        impl Drop for Draining {
            fn drop(&mut self) {
                DRAINING.with(|d| {
                    let mut d = d.borrow_mut();
                    if let Some(i) = d.iter().rposition(|x| *x == self.0) {
                        d.remove(i);
                    }
                });
            }
        }
        DRAINING.with(|d| d.borrow_mut().push(self.id()));
        let draining = Draining(self.id());
        /// Counts this thread in `draining` from its first batch until dropped (also when
        /// unwinding).
        struct Counted<'a>(&'a AtomicUsize);
        impl Drop for Counted<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let mut counted = None;
        // A request taken from the queue for the next batch. If this thread unwinds while holding
        // one, its owner still gets an answer instead of waiting for ever.
        let mut carry = Carry(None, &self.name);
        // Batches of others' work this caller may still run once its own request is done.
        let mut spare = 1;
        loop {
            loop {
                if !all && own.is_none_or(|r| r.slot.is_done()) {
                    if spare == 0 {
                        // The share is spent; a request the last batch left behind runs alone
                        // (popping more could leave another behind).
                        if let Some(r) = carry.0.take() {
                            self.run_batch(&mut lease, std::slice::from_ref(&r));
                        }
                        break;
                    }
                    spare -= 1;
                }
                match self.next_batch(&mut carry.0) {
                    Some(batch) => {
                        if counted.is_none() {
                            self.draining.fetch_add(1, Ordering::Relaxed);
                            counted = Some(Counted(&self.draining));
                        }
                        // No session stays idle while work waits that is worth sharing: with
                        // callbacks that resubmit, nobody else would come to take it.
                        if self.pool.idle() > 0 && !self.queue.is_empty() && self.share_pays() {
                            self.call_drainer();
                        }
                        self.run_batch(&mut lease, &batch);
                        // A helper beside another thread running this model's batches leaves
                        // it work not worth sharing (that thread sees the queue after its batch,
                        // and before it gives its session back).
                        if all
                            && carry.0.is_none()
                            && self.draining.load(Ordering::Relaxed) > 1
                            && self.pool.idle() + 1 < self.pool.size()
                            && !self.share_pays()
                        {
                            match handoff::give_back_to_holder(&self.queue, &self.pool, lease) {
                                Some(l) => lease = l,
                                None => return,
                            }
                        }
                    }
                    None => break,
                }
            }
            if all {
                match handoff::give_back(&self.queue, &self.pool, lease) {
                    Some(l) => lease = l,
                    None => return,
                }
                continue;
            }
            // Requests still waiting are a blocked caller's or a helper's work, unless no helper
            // can start; then this thread drains them all (`drain_queued`, whose drain, with
            // `all`, never comes back here).
            if handoff::give_back_then_queued(&self.queue, lease) {
                // No longer draining here: that drain counts afresh.
                drop((counted, draining));
                self.drain_queued();
            }
            return;
        }
    }

    /// Whether the work queued now is worth a second session beside the thread that runs this
    /// model's batches. Not when the model batches and what is queued is expected to run, as one
    /// batch, in under [`SHARE_WORTH`]: two threads then run requests that each other's callbacks
    /// submitted, and each request's memory is made on one CPU and freed on the other. The tiny
    /// MLP with 64 requests in flight through callbacks, on 2 sessions (Intel Xeon, 2 vCPUs):
    /// 0.80–0.82 M rows/s with 1.56 CPUs busy, much of the second in the C allocator's lock
    /// (glibc's `free` of another thread's memory takes its arena's lock), against 1.30–1.35 M
    /// with one session and one CPU, and 1.41–1.44 M on two sessions with this rule. Always worth
    /// it when nothing is measured yet, for models that do not batch, and under a timed policy
    /// (whose leader may hold its session through a wait). Every queued row counts: a request
    /// larger than a batch runs as one.
    fn share_pays(&self) -> bool {
        if !self.batchable || self.timed() {
            return true;
        }
        let expected = self.cost.estimate(self.queued_rows().max(1));
        expected.is_zero() || expected >= SHARE_WORTH
    }

    /// Has a helper thread drain the queue (false if none could start). Called after this thread
    /// gave its session back and saw requests queued, or while it runs a batch with a session idle
    /// beside it. A helper already called but not yet looking for a session is enough: its look
    /// comes after this thread's (`help` clears the flag before its fence, this thread set its
    /// lease free before its own), so it finds the session or a thread that holds one.
    fn call_helper(&self) -> bool {
        if self.helper_called.swap(true, Ordering::SeqCst) {
            return true;
        }
        let me = self.this.get().and_then(std::sync::Weak::upgrade);
        if me.is_some_and(helper::hand_off) {
            self.drainers_called[1].fetch_add(1, Ordering::Relaxed);
            return true;
        }
        self.helper_called.store(false, Ordering::SeqCst);
        false
    }

    /// Pops the next request that is still wanted, completing expired ones.
    fn pop_live(&self) -> Option<Arc<Request>> {
        while let Some(r) =
            handoff::pop_counted(&self.queue, &self.queued_rows, |r| r.rows.unwrap_or(1))
        {
            self.metrics.pending(-1);
            if !r.slot.take() {
                continue; // withdrawn by its owner
            }

            if r.deadline.is_some_and(|d| Instant::now() >= d) {
                let err = Err(self.deadline_error());
                self.count_by_worker(&r, &err, self.metrics.enabled().then(Instant::now));
                r.slot.complete(err);
                continue;
            }
            return Some(r);
        }
        None
    }

    /// Forms the next batch (held without an allocation up to 32 requests): the oldest live
    /// request and the compatible ones queued behind it. A request that does not fit is carried to
    /// the next batch.
    fn next_batch(&self, carry: &mut Option<Arc<Request>>) -> Option<Batch> {
        let (first, mut rows, max) = loop {
            let first = carry.take().or_else(|| self.pop_live())?;
            let Some(rows) = first.rows else {
                return Some(smallvec::smallvec![first]);
            };
            let max = self.cost.limit(self.batching.max_batch_size);
            if self.batching.max_queue_delay_us == 0 || rows >= max {
                break (first, rows, max);
            }
            // Timed policy: wait for company, but never past the request's deadline, leaving room
            // for the run itself; a request whose deadline passed meanwhile is not run.
            let queued_at = first.enqueued.unwrap_or_else(Instant::now);
            let mut until = queued_at + Duration::from_micros(self.batching.max_queue_delay_us);
            if let Some(deadline) = first.deadline {
                // Room for the run: its measured cost, and at least a tenth of the request's time.
                let run = self
                    .cost
                    .estimate(max)
                    .max(deadline.saturating_duration_since(queued_at) / 10);
                until = until.min(deadline.checked_sub(run).unwrap_or(deadline));
            }
            self.wait_for_rows(rows, until);
            if first.deadline.is_some_and(|d| Instant::now() >= d) {
                let err = Err(self.deadline_error());
                self.count_by_worker(&first, &err, self.metrics.enabled().then(Instant::now));
                first.slot.complete(err);
                continue;
            }
            break (first, rows, max);
        };
        let max = self.split(rows, max);
        let mut batch: Batch = smallvec::smallvec![first];
        while rows < max {
            let Some(next) = self.pop_live() else { break };
            match next.rows {
                Some(n) if next.batches_with(&batch[0]) && rows + n <= max => {
                    rows += n;
                    batch.push(next);
                }
                _ => {
                    *carry = Some(next);
                    break;
                }
            }
        }
        Some(batch)
    }

    /// The most rows of a batch whose first request has `rows`, when another session sits idle:
    /// half of what is queued, the rest left for a helper on the idle session, if the batch would
    /// run long enough to be worth waking one (two half batches on two cores finish sooner than a
    /// whole one on one). Otherwise `max` as it was.
    fn split(&self, rows: usize, max: usize) -> usize {
        let total = rows + self.queued_rows();
        if total <= rows || self.pool.idle() == 0 {
            return max;
        }
        let whole = total.min(max);
        if self.cost.estimate(whole) < SPLIT_WORTH {
            return max;
        }
        whole.div_ceil(2).max(rows)
    }

    /// Rows queued.
    fn queued_rows(&self) -> usize {
        handoff::counted(&self.queued_rows)
    }

    /// Timed policy: waits until enough rows are queued or `until`, parked, not spinning.
    fn wait_for_rows(&self, have: usize, until: Instant) {
        let target = self
            .batching
            .preferred_batch_sizes
            .iter()
            .copied()
            .max()
            .unwrap_or(self.batching.max_batch_size);
        // Every waiting thread is woken by each request queued (one per session can wait at once);
        // this thread is listed until it returns, also if it unwinds.
        struct Listed<'a>(&'a Mutex<Vec<Thread>>, std::thread::ThreadId);
        impl Drop for Listed<'_> {
            fn drop(&mut self) {
                self.0.lock().retain(|t| t.id() != self.1);
            }
        }
        let me = std::thread::current();
        self.waiting_leaders.lock().push(me.clone());
        let _listed = Listed(&self.waiting_leaders, me.id());
        loop {
            let now = Instant::now();
            if have + self.queued_rows() >= target || now >= until {
                break;
            }
            std::thread::park_timeout(until - now);
        }
    }

    /// Counts a session run of `requests` requests that took `compute` (when timed).
    fn executed(&self, requests: u64, compute: Option<Duration>) {
        self.executions.fetch_add(1, Ordering::Relaxed);
        self.requests_run.fetch_add(requests, Ordering::Relaxed);
        self.metrics.execution(requests as usize, compute);
    }

    /// Records the batch's queue times and completes each request with the batch's end instant.
    fn finish_batch(
        &self,
        batch: &[Arc<Request>],
        results: impl IntoIterator<Item = Result<Outputs>>,
        started: Option<Instant>,
    ) {
        let end = started.map(|_| Instant::now());
        self.executed(batch.len() as u64, started.zip(end).map(|(s, e)| e - s));
        for (request, result) in batch.iter().zip(results) {
            if let (Some(started), Some(queued)) = (started, request.enqueued) {
                self.metrics
                    .queue_duration(started.saturating_duration_since(queued));
            }
            self.count_by_worker(request, &result, end);
            request.slot.complete_at(result, end);
        }
    }

    /// Counts a blocking request that a worker completes (asynchronous ones count in their hook).
    fn count_by_worker(&self, request: &Request, result: &Result<Outputs>, end: Option<Instant>) {
        if !request.counted_by_worker.load(Ordering::Relaxed) {
            return;
        }
        self.metrics.inflight(-1);
        self.metrics.outcome(
            result.as_ref().err().map(Error::code),
            request.metric_rows(),
        );
        if let (Some(start), Some(end)) = (request.enqueued.filter(|_| self.metrics.enabled()), end)
        {
            self.metrics
                .request_duration(end.saturating_duration_since(start));
        }
    }

    fn run_batch(&self, worker: &mut Lease<'_>, batch: &[Arc<Request>]) {
        /// If running the batch unwinds, the requests' owners still get an answer instead of
        /// waiting for ever. Completing a request twice is a no-op, so on the normal path this does nothing.
        struct AnswerOnUnwind<'a>(&'a [Arc<Request>], &'a str);
        impl Drop for AnswerOnUnwind<'_> {
            fn drop(&mut self) {
                if std::thread::panicking() {
                    for r in self.0 {
                        r.slot.complete(Err(Error::Panicked {
                            model: self.1.to_string(),
                            message: "inferkit panicked while running this batch".into(),
                        }));
                    }
                }
            }
        }
        // Requests cancelled since a worker took them are answered, not run. In a batch with
        // others, no request's cancel stops the run from now on; alone, it may (`Stopper`).
        let mut cancelled = Vec::new();
        for r in batch {
            let mut state = r.running.lock();
            if r.cancelled.load(Ordering::SeqCst) {
                cancelled.push(r.clone());
            } else if batch.len() > 1 {
                *state = request::RunState::Past;
            }
        }
        if !cancelled.is_empty() {
            let end = self.metrics.enabled().then(Instant::now);
            for r in &cancelled {
                let err = Err(self.cancelled_error());
                self.count_by_worker(r, &err, end);
                r.slot.complete(err);
            }
            let rest: Vec<Arc<Request>> = batch
                .iter()
                .filter(|r| !cancelled.iter().any(|c| Arc::ptr_eq(c, r)))
                .cloned()
                .collect();
            if !rest.is_empty() {
                self.run_batch(worker, &rest);
            }
            return;
        }
        let _guard = AnswerOnUnwind(batch, &self.name);
        let rows: usize = batch.iter().map(|r| r.rows.unwrap_or(0)).sum();
        // Measured for every model, as on the direct path (a model that does not batch runs one
        // request at a time: its rows are counted below).
        let sample = Some(self.cost.start(rows.max(1)));
        let started = self.metrics.enabled().then(Instant::now);
        let _span =
            tracing::trace_span!("inferkit.compute", model = %self.name, requests = batch.len())
                .entered();
        if let [single] = batch {
            let views: SmallVec<[(&str, Input<'_>); 8]> = single
                .inputs
                .iter()
                .map(|raw| (&*self.signature.inputs[raw.index].name, raw.input()))
                .collect();
            let w: &mut crate::pool::Worker = worker;
            // Alone on the session: cancelling the request may stop the run.
            let result = self.run_stoppable(
                &mut w.session,
                &w.stop,
                single.deadline,
                Stopper::Request(single),
                &views,
                single.selected.as_deref(),
            );
            // Cancelled while it ran (its owner was told so): stopped, or finished just before
            // the stop; its outputs, if any, are nobody's any more.
            let result = if single.cancelled.load(Ordering::SeqCst) {
                Err(self.cancelled_error())
            } else {
                result
            };
            // Only runs that finished are measured: a failed or stopped one says nothing of what
            // a run of its size costs. Its rows are dim 0 of its first input (1 without one), as
            // on the direct path, also for a model that does not batch (whose requests carry no
            // row count).
            if let (Some(sample), Ok(_)) = (sample, &result) {
                let rows = single.rows.unwrap_or_else(|| {
                    single
                        .inputs
                        .first()
                        .and_then(|i| i.shape.first())
                        .copied()
                        .unwrap_or(1)
                });
                sample.finish(&self.cost, rows.max(1));
            }
            self.finish_batch(batch, std::iter::once(result), started);
            return;
        }
        match batch::run_concatenated(self, worker, batch) {
            Ok(per_request) => {
                if let Some(sample) = sample {
                    sample.finish(&self.cost, rows);
                }
                self.finish_batch(batch, per_request.into_iter().map(Ok), started);
            }
            Err(batch::BatchError::Failed(e)) => {
                self.finish_batch(batch, batch.iter().map(|_| Err(e.clone())), started);
            }
            // The model's outputs do not follow the batch rows: run the requests one by one.
            Err(batch::BatchError::NotRowWise) => {
                for request in batch {
                    self.run_batch(worker, std::slice::from_ref(request));
                }
            }
        }
    }

    /// Runs the session on `inputs`. With `until` (the latest deadline of the requests it serves)
    /// the watchdog stops the run at that instant, and the run's result is then each request's
    /// deadline error: nobody wants it any more. `stopper` says what else may stop it (see
    /// [`Stopper`]); one cancelled before the run starts runs nothing ([`Error::Cancelled`]).
    pub(super) fn run_stoppable(
        &self,
        session: &mut crate::backend::Engine,
        stop: &Arc<watchdog::RunStop>,
        until: Option<Instant>,
        stopper: Stopper<'_>,
        inputs: &[(&str, Input<'_>)],
        selected: Option<&[usize]>,
    ) -> Result<Outputs> {
        // Nothing can stop this run: no deadline, no cancel (the common blocking call). Two
        // lock round trips fewer.
        if until.is_none() && matches!(stopper, Stopper::None) && stop.is_idle() {
            return self.run_session(session, stop, inputs, selected);
        }
        stop.start(until);
        // Reachable by a cancel once the run counts as started; unreachable again (also if the
        // run unwinds) before the session runs anything else, so a later cancel cannot stop that.
        if !stopper.admit(stop) {
            stop.finish();
            return Err(self.cancelled_error());
        }
        let mut leave = Leave(Some(stopper), stop);
        let result = self.run_session(session, stop, inputs, selected);
        if leave.0.take().is_some_and(|s| s.leave(stop)) {
            stop.finish();
            return Err(self.cancelled_error());
        }
        if stop.finish() && result.is_err() {
            return Err(self.deadline_error());
        }
        result
    }

    /// One run of the session, with `stop`'s run options.
    fn run_session(
        &self,
        session: &mut crate::backend::Engine,
        stop: &Arc<watchdog::RunStop>,
        inputs: &[(&str, Input<'_>)],
        selected: Option<&[usize]>,
    ) -> Result<Outputs> {
        match (session, &self.run) {
            (crate::backend::Engine::Ort(session), Some(run)) => session::run(
                session,
                &self.name,
                &self.signature,
                run,
                stop.ptr(),
                inputs,
                selected,
            ),
            #[cfg(feature = "tract")]
            (crate::backend::Engine::Tract(session), _) => {
                session.run(&self.name, &self.signature, stop, inputs, selected)
            }
            (crate::backend::Engine::Ort(_), None) => Err(Error::Inference {
                model: self.name.to_string(),
                message: "an ONNX Runtime session without its run context".into(),
            }),
        }
    }

    /// The expected time of a run of `rows` rows, from the runs measured so far; zero before
    /// any was.
    pub(crate) fn run_estimate(&self, rows: usize) -> Duration {
        self.cost.estimate(rows.max(1))
    }

    /// Mean ns per row measured by batch size: `(lowest rows of the group, ns)`.
    pub(crate) fn batch_costs(&self) -> Vec<(usize, f64)> {
        self.cost.snapshot()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::{Model, ModelOptions, Tensor, TensorView};

    /// The tiny MLP fixture, opened with `options`.
    fn mlp(options: ModelOptions) -> Model {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/mlp.onnx");
        Model::open_with(path, &options).unwrap()
    }

    /// Pins the calling thread to `cpu`.
    #[cfg(target_os = "linux")]
    fn pin(cpu: usize) {
        // SAFETY: a zeroed cpu_set_t is an empty set; the call reads `set` for its size.
        let ok = unsafe {
            let mut set: libc::cpu_set_t = std::mem::zeroed();
            libc::CPU_SET(cpu, &mut set);
            libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) == 0
        };
        assert!(ok, "could not pin a thread to CPU {cpu}");
    }

    /// Holds the only session of `model` (the tiny MLP, one instance) on a thread pinned to the
    /// CPU this test runs on (pinned there too), which gives it back the first time it runs once
    /// the test's thread has begun `call`: it can run then only if that thread yields its CPU.
    #[cfg(target_os = "linux")]
    fn with_a_holder_waiting_for_this_cpu<T>(
        model: &Model,
        call: impl FnOnce(&Scheduler) -> T,
    ) -> T {
        let sched = model.scheduler();
        // Whatever this machine's runs cost (under qemu the tiny MLP's runs are not short).
        *sched.yields.lock() = Some(true);
        // SAFETY: no arguments; -1 on failure.
        let cpu = usize::try_from(unsafe { libc::sched_getcpu() }).expect("sched_getcpu");
        pin(cpu);
        let stage = AtomicUsize::new(0);
        let lease = sched.pool.try_acquire().expect("an idle session");
        std::thread::scope(|s| {
            s.spawn(|| {
                pin(cpu);
                let lease = lease;
                stage.store(1, Ordering::SeqCst);
                while stage.load(Ordering::SeqCst) < 2 {
                    std::thread::yield_now();
                }
                drop(lease);
            });
            while stage.load(Ordering::SeqCst) < 1 {
                std::thread::yield_now();
            }
            // The holder is now runnable on this CPU, not running: it gives the session back only
            // once this thread yields.
            stage.store(2, Ordering::SeqCst);
            call(sched)
        })
    }

    /// `direct_lease` with a holder waiting for this CPU: a session (true), none (false), or an
    /// error.
    #[cfg(target_os = "linux")]
    fn direct_lease_beside_a_holder(
        deadline: Option<Instant>,
        cancel: Option<&CancelToken>,
    ) -> Result<bool> {
        let model = mlp(ModelOptions::default().with_instances(1));
        with_a_holder_waiting_for_this_cpu(&model, |sched| {
            sched
                .direct_lease(deadline, cancel, false)
                .map(|l| l.is_some())
        })
    }

    /// A blocking caller that finds every session taken yields its CPU before it queues, so that
    /// a holder waiting for that CPU (preempted in the middle of a run, say) finishes and gives its
    /// session back, and the caller runs at once instead of sleeping in the queue.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_caller_that_yields_gets_the_session_its_holder_gives_back() {
        // Other tests' threads on this CPU may take the yields' turns: three tries. Without the
        // yields, none can succeed (only a preemption between the caller's two steps would let
        // the holder run).
        assert!(
            (0..3).any(|_| direct_lease_beside_a_holder(None, None).unwrap()),
            "the caller did not get the session its holder gave back while it yielded"
        );
    }

    /// ... but not once its request's deadline has passed (the request must not start after it),
    /// nor once its token is cancelled: the caller gets the error, and nothing is queued.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_caller_past_its_deadline_or_cancelled_takes_no_session_while_it_yields() {
        let err = direct_lease_beside_a_holder(Some(Instant::now()), None).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::DeadlineExceeded, "{err}");
        let token = CancelToken::new();
        token.cancel();
        let err = direct_lease_beside_a_holder(None, Some(&token)).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::Cancelled, "{err}");
    }

    /// Callers yield for a session only on a model whose one-row runs are measured as short: not
    /// before anything is measured, nor for runs of 200 µs.
    #[test]
    fn callers_yield_only_for_runs_measured_as_short() {
        let short = mlp(ModelOptions::default().with_instances(1));
        assert!(!short.scheduler().yields_pay(), "nothing measured yet");
        let long = mlp(ModelOptions::default().with_instances(1));
        for _ in 0..8 {
            short.scheduler().cost.record(1, Duration::from_micros(2));
            long.scheduler().cost.record(1, Duration::from_micros(200));
        }
        assert!(short.scheduler().yields_pay(), "runs of 2 µs");
        assert!(!long.scheduler().yields_pay(), "runs of 200 µs");
    }

    /// A request that ran on its caller's thread after yielding for its session counts the wait
    /// as queue time, not compute: its queue duration is recorded (a direct run's is 0).
    #[cfg(target_os = "linux")]
    #[test]
    fn the_wait_of_a_caller_that_yielded_is_queue_time() {
        let waited = (0..3).any(|_| {
            let model = mlp(ModelOptions::default().with_instances(1));
            let before = with_a_holder_waiting_for_this_cpu(&model, |sched| {
                let before = model.metrics();
                let input = [(
                    "x",
                    Input::Tensor(TensorView::from_slice(vec![1, 16], &[0.5f32; 16])),
                )];
                sched.infer(&input, &InferOptions::default()).unwrap();
                before
            });
            let after = model.metrics();
            let queued = after.queue_duration.count - before.queue_duration.count;
            let waits = after.queue_duration.sum - before.queue_duration.sum;
            assert_eq!(after.executions - before.executions, 1);
            assert_eq!(
                after.request_duration.count - before.request_duration.count,
                1
            );
            // A run that found the session idle after all (a preemption let the holder go first)
            // is a direct run, with a queue time of 0.
            queued == 1 && waits > 0
        });
        assert!(
            waited,
            "no queue time was recorded for a caller that yielded for its session"
        );
    }

    /// A cancel token reaches a request from before it is queued. A cancel that withdraws it
    /// (answering it CANCELLED) just before a full queue refuses it must not leave a refusal as
    /// well: a C caller would get its callback for a submission it was told was refused.
    #[test]
    fn a_request_answered_by_its_cancel_is_never_refused_afterwards() {
        let model = mlp(ModelOptions::default()
            .with_instances(1)
            .with_batching(BatchingOptions::default().with_max_queue_size(1)));
        let sched = model.scheduler();
        let inputs = [(
            "x".to_string(),
            Value::Tensor(Tensor::from_vec(vec![1, 16], vec![0.5f32; 16]).unwrap()),
        )];
        let request = || {
            let views: Vec<(&str, Input<'_>)> = inputs
                .iter()
                .map(|(n, v)| (n.as_str(), crate::value::AsInput::as_input(v)))
                .collect();
            Arc::new(Request::new(
                sched.ordered(&views),
                Vec::new(),
                None,
                None,
                true,
                None,
            ))
        };
        // The session is held here, and one request fills the queue.
        let lease = sched.pool.try_acquire().unwrap();
        let filler = request();
        sched.submit(filler.clone(), Lead::Helper).unwrap();
        // Another request, bound to a token that is cancelled before the queue refuses it.
        let token = CancelToken::new();
        let refused = request();
        assert!(token.bind_request(&refused, "mlp"));
        token.cancel();
        assert!(refused.slot.is_done(), "withdrawn and answered");
        assert!(
            sched.submit(refused, Lead::Helper).is_ok(),
            "answered CANCELLED, so accepted: not refused as well"
        );
        // Without a cancel, a full queue refuses.
        let err = sched.submit(request(), Lead::Helper).unwrap_err();
        assert_eq!(err.code(), crate::ErrorCode::QueueFull);
        sched.release_and_drain(lease, None);
        assert!(filler.slot.is_done());
    }

    /// A blocking caller that finds a session idle runs at once, ahead of a request already
    /// queued, then runs that one too before it returns. It used to queue behind it, so that with
    /// the queue full it was refused QUEUE_FULL while a session sat idle; and each request queued
    /// costs its caller a sleep and a wake-up. A model whose batches run long still queues
    /// callers when there is room, to fill batches.
    #[test]
    fn a_caller_with_a_session_idle_overtakes_the_queue_and_then_drains_it() {
        let x = Tensor::from_vec(vec![1, 16], vec![0.25f32; 16]).unwrap();
        let y = [0.5f32; 16];
        for (name, batching, overtakes) in [
            ("no batching", BatchingOptions::default(), true),
            (
                "short batches",
                BatchingOptions::default().with_max_batch_size(32),
                true,
            ),
            (
                "long batches",
                BatchingOptions::default().with_max_batch_size(32),
                false,
            ),
        ] {
            for queue_size in [1, 2] {
                let model = mlp(ModelOptions::default()
                    .with_instances(2)
                    .with_batching(batching.clone().with_max_queue_size(queue_size)));
                let sched = model.scheduler();
                if !overtakes {
                    for _ in 0..64 {
                        sched.cost.record(32, Duration::from_micros(400));
                    }
                }
                assert_eq!(sched.overtakes(), overtakes, "{name}");
                // Both sessions held while a request is queued; then one given back without a
                // look at the queue (as a thread does between its give-back and its look).
                let [idle, lease] =
                    [sched.pool.try_acquire(), sched.pool.try_acquire()].map(Option::unwrap);
                let queued = model
                    .submit(vec![("x".to_string(), x.clone())], &InferOptions::default())
                    .unwrap();
                drop(idle);
                assert!(!queued.is_done(), "{name}");
                let before = sched.stats();
                let result = model.infer(&[("x", TensorView::from_slice(vec![1, 16], &y))]);
                assert_eq!(
                    result.unwrap()["y"].shape(),
                    &[1, 4],
                    "{name}, {queue_size}"
                );
                assert!(queued.is_done(), "{name}, {queue_size}: left behind");
                let after = sched.stats();
                let runs = after.executions - before.executions;
                if overtakes || queue_size == 1 {
                    assert_eq!(
                        runs, 2,
                        "{name}, {queue_size}: its own run, then the queued one"
                    );
                } else {
                    assert_eq!(runs, 1, "{name}: one batch of both");
                }
                sched.release_and_drain(lease, None);
                assert_eq!(queued.wait().unwrap()["y"].shape(), &[1, 4], "{name}");
            }
        }
    }

    /// Blocking callers drain the queue among themselves: a caller done with its share asks the
    /// blocked owner of the oldest queued request to go on, rather than waking a helper thread
    /// (one wake-up more per hand-off). Each caller still gets its own rows. Batching is off, so
    /// that blocked callers lead whatever a run costs here (see `long_batches_go_to_helpers`):
    /// under qemu the tiny MLP's batches run past the 100 µs gate.
    #[test]
    fn blocked_callers_drain_the_queue_instead_of_helpers() {
        let model = mlp(ModelOptions::default().with_instances(2));
        assert!(model.scheduler().leads_pay());
        // Callers that yield for a session rarely queue at all; this is about those that do.
        *model.scheduler().yields.lock() = Some(false);
        let single = |x: &[f32]| {
            model
                .infer(&[("x", TensorView::from_slice(vec![1, 16], x))])
                .unwrap()["y"]
                .as_slice::<f32>()
                .unwrap()
                .to_vec()
        };
        std::thread::scope(|s| {
            for t in 0..16 {
                let single = &single;
                s.spawn(move || {
                    let x: Vec<f32> = (0..16).map(|i| (t * 16 + i) as f32 / 100.0).collect();
                    let expected = single(&x);
                    for _ in 0..400 {
                        assert_eq!(single(&x), expected, "thread {t} got other rows");
                    }
                });
            }
        });
        let sched = model.scheduler();
        let [leads, helpers] = sched
            .drainers_called
            .each_ref()
            .map(|c| c.load(Ordering::Relaxed));
        eprintln!("blocked callers asked to drain: {leads}; helpers: {helpers}");
        assert!(
            leads > 0,
            "no blocked caller was asked to drain ({helpers} helpers)"
        );
        assert!(
            helpers <= leads,
            "{helpers} helper hand-offs against {leads} blocked callers asked"
        );
    }

    /// Queued work goes to blocked callers while a full batch is expected to run under 100 µs
    /// (or nothing is measured), and to helpers once batches are measured to run longer.
    #[test]
    fn long_batches_go_to_helpers() {
        let model = mlp(ModelOptions::default()
            .with_instances(2)
            .with_batching(BatchingOptions::default().with_max_batch_size(32)));
        let sched = model.scheduler();
        assert!(sched.leads_pay(), "nothing measured: blocked callers lead");
        sched.cost.record(32, Duration::from_micros(40));
        assert!(sched.leads_pay(), "40 µs a batch of 32");
        for _ in 0..64 {
            sched.cost.record(32, Duration::from_micros(400));
        }
        assert!(!sched.leads_pay(), "400 µs a batch of 32: helpers");
    }

    /// Every thread waiting for rows under a timed policy (one per session can) is woken by a
    /// request queued. With one slot for a waiting thread, the one that began waiting first was
    /// never woken and slept its whole delay while its company sat in the queue. Both sessions are
    /// held here, so the request stays queued until the waits are over.
    #[test]
    fn a_queued_request_wakes_every_thread_waiting_for_rows() {
        let batching = BatchingOptions::default()
            .with_max_batch_size(32)
            .with_max_queue_delay_us(5_000_000)
            .with_preferred_batch_sizes([2]);
        let model = mlp(ModelOptions::default()
            .with_instances(2)
            .with_batching(batching));
        let sched = model.scheduler();
        let held = [sched.pool.try_acquire(), sched.pool.try_acquire()].map(Option::unwrap);
        let start = Instant::now();
        let handle = std::thread::scope(|s| {
            let waiters: Vec<_> = (0..2)
                .map(|_| {
                    s.spawn(|| {
                        sched.wait_for_rows(1, start + Duration::from_secs(5));
                        start.elapsed()
                    })
                })
                .collect();
            while sched.waiting_leaders.lock().len() < 2 {
                assert!(
                    start.elapsed() < Duration::from_secs(4),
                    "the waiters never waited"
                );
                std::thread::yield_now();
            }
            let x = Tensor::from_vec(vec![1, 16], vec![0.5f32; 16]).unwrap();
            let handle = model
                .submit(vec![("x".to_string(), x)], &InferOptions::default())
                .unwrap();
            for w in waiters {
                let took = w.join().unwrap();
                assert!(
                    took < Duration::from_secs(2),
                    "a waiting thread slept {took:?}"
                );
            }
            handle
        });
        assert!(
            !handle.is_done(),
            "both sessions are held: it cannot have run"
        );
        // Company for it (a preferred batch of two, run at once), and the sessions given back.
        let x = Tensor::from_vec(vec![1, 16], vec![0.25f32; 16]).unwrap();
        let second = model
            .submit(vec![("x".to_string(), x)], &InferOptions::default())
            .unwrap();
        for lease in held {
            sched.release_and_drain(lease, None);
        }
        for h in [handle, second] {
            assert_eq!(h.wait().unwrap()["y"].shape(), &[1, 4]);
        }
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    }
}
