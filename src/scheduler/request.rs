//! A queued request: its inputs, what it may batch with, and its one-shot completion slot.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use smallvec::SmallVec;

use crate::error::{Error, Result};
use crate::session::Outputs;
use crate::sync::{lock, Condvar, Mutex};
use crate::tensor::{DType, TensorView};
use crate::value::{Input, Value};

/// One input of a queued request, in the model's input order. Points either into the caller's
/// memory (a blocking call, whose caller waits until the request is done or withdrawn) or into
/// values the request owns (async and callback calls). Never into itself (its shape is a copy), so
/// it may move: a request holds its inputs inline ([`RawInputs`]).
pub(crate) struct RawInput {
    /// Index of the input in the model's signature.
    pub(crate) index: usize,
    pub(crate) dtype: DType,
    pub(crate) shape: SmallVec<[usize; 6]>,
    ptr: *const u8,
    len: usize,
    /// String tensors: their offsets.
    offsets: *const usize,
    offsets_len: usize,
    /// Inputs that are not tensors: the value (then the fields above are unused).
    value: *const Value,
}

impl RawInput {
    pub(crate) fn new(index: usize, input: &Input<'_>) -> RawInput {
        match input {
            Input::Tensor(view) => Self::tensor(index, view),
            Input::Value(Value::Tensor(t)) => Self::tensor(index, &t.view()),
            Input::Value(v) => RawInput {
                index,
                dtype: DType::U8,
                shape: SmallVec::new(),
                ptr: std::ptr::null(),
                len: 0,
                offsets: std::ptr::null(),
                offsets_len: 0,
                value: *v,
            },
        }
    }

    fn tensor(index: usize, view: &TensorView<'_>) -> RawInput {
        let bytes = view.as_bytes();
        let offsets = view.offsets();
        RawInput {
            index,
            dtype: view.dtype(),
            shape: SmallVec::from_slice(view.shape()),
            ptr: bytes.as_ptr(),
            len: bytes.len(),
            offsets: offsets.as_ptr(),
            offsets_len: offsets.len(),
            value: std::ptr::null(),
        }
    }

    /// The input, as the request's caller gave it.
    pub(crate) fn input(&self) -> Input<'_> {
        if !self.value.is_null() {
            // SAFETY: as for `bytes`: the value lives in the request or with its blocked caller.
            return Input::Value(unsafe { &*self.value });
        }
        let offsets: &[usize] = if self.offsets_len == 0 {
            &[]
        } else {
            // SAFETY: as for `bytes`.
            unsafe { std::slice::from_raw_parts(self.offsets, self.offsets_len) }
        };
        Input::Tensor(TensorView::with_offsets(
            self.dtype,
            &self.shape[..],
            self.bytes(),
            offsets,
        ))
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: the memory outlives the request's use of it: owned tensors live in the request;
        // borrowed memory belongs to a caller blocked in `Slot::wait` until the request is done,
        // or withdrawn before any worker took it.
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

/// A request's inputs; most models have one or two, held without an allocation of their own.
pub(crate) type RawInputs = SmallVec<[RawInput; 2]>;

/// A request waiting in a model's queue.
pub(crate) struct Request {
    /// Inputs in the model's input order.
    pub(crate) inputs: RawInputs,
    /// Keeps the data of owned inputs alive.
    _owned: Vec<(String, Value)>,
    /// Indices of the outputs asked for; `None` for all.
    pub(crate) selected: Option<Vec<usize>>,
    /// Rows along dim 0 shared by every input, when the request can join a batch.
    pub(crate) rows: Option<usize>,
    pub(crate) deadline: Option<Instant>,
    /// When it was queued (or its blocking call started); kept when a timed policy or metrics need it.
    pub(crate) enqueued: Option<Instant>,
    /// A blocking request: the worker that completes it records its metrics.
    pub(crate) counted_by_worker: std::sync::atomic::AtomicBool,
    pub(crate) slot: Slot,
    /// Where its run is, for a cancel ([`cancel`]).
    pub(crate) running: parking_lot::Mutex<RunState>,
    /// Set (under `running`'s lock) when it was cancelled after a worker took it: before its run
    /// started (it will not run), or while it ran alone (its run was stopped).
    pub(crate) cancelled: std::sync::atomic::AtomicBool,
}

/// Where a request's run is, for cancelling it once a worker has taken it from the queue.
pub(crate) enum RunState {
    /// Not started: queued, or taken by a worker that has not run it yet (a timed policy waiting
    /// for company, a batch being formed). A cancel then marks it, and it is not run.
    Waiting,
    /// Running alone on a session, whose run a cancel stops. Left, under this lock, before the
    /// session runs anything else.
    Alone(Arc<super::watchdog::RunStop>),
    /// Running in a batch with others (which are not stopped for it), or over.
    Past,
}

// SAFETY: the raw input pointers are only read, under the protocol described on `RawInput::bytes`.
unsafe impl Send for Request {}
// SAFETY: as above; all mutable state is behind the slot's mutex.
unsafe impl Sync for Request {}

impl Request {
    /// Rows counted in metrics: dim 0 of the first input, or 1.
    pub(crate) fn metric_rows(&self) -> usize {
        self.rows
            .or_else(|| self.inputs.first().and_then(|i| i.shape.first().copied()))
            .unwrap_or(1)
    }

    /// Whether this request may join a batch with `other`: the same dims after the first for every
    /// input (dtypes are the model's), and the same outputs asked for.
    pub(crate) fn batches_with(&self, other: &Request) -> bool {
        self.selected == other.selected
            && self
                .inputs
                .iter()
                .zip(&other.inputs)
                .all(|(a, b)| a.shape.len() == b.shape.len() && a.shape[1..] == b.shape[1..])
    }

    /// A request over inputs already validated and ordered as the model's inputs.
    pub(crate) fn new(
        inputs: RawInputs,
        owned: Vec<(String, Value)>,
        selected: Option<Vec<usize>>,
        deadline: Option<Instant>,
        batchable: bool,
        stamp: Option<Instant>,
    ) -> Request {
        let rows = if batchable {
            let first = inputs.first().and_then(|i| i.shape.first().copied());
            first.filter(|r| inputs.iter().all(|i| i.shape.first() == Some(r)))
        } else {
            None
        };
        Request {
            inputs,
            _owned: owned,
            selected,
            rows,
            deadline,
            enqueued: stamp,
            counted_by_worker: std::sync::atomic::AtomicBool::new(false),
            slot: Slot::new(),
            running: parking_lot::Mutex::new(RunState::Waiting),
            cancelled: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Queued,
    Running,
    Done,
}

/// How the owner of a request learns that it is done.
enum Notify {
    /// A blocked thread waits on the condvar (or nobody waits yet).
    Wait,
    /// A future was polled; wake it.
    Waker(Waker),
    /// Call this with the result, on the thread that completes the request.
    Callback(Box<dyn FnOnce(Result<Outputs>) + Send>),
}

/// Run with the result when a request completes, before its owner is told, with the instant it
/// completed when the completing worker read the clock anyway: the request counted in its model's
/// metrics. A value rather than a boxed closure: one allocation less per submission.
pub(crate) enum CompletionHook {
    /// Counts the request (`rows` rows, submitted at `start` when the clock was read).
    Count {
        metrics: Arc<crate::metrics::Metrics>,
        start: Option<Instant>,
        rows: usize,
    },
    /// Any other action (the loom model of a racing take and withdraw).
    #[cfg(all(test, loom))]
    Call(HookFn),
}

#[cfg(all(test, loom))]
type HookFn = Box<dyn FnOnce(&Result<Outputs>, Option<Instant>) + Send>;

impl CompletionHook {
    fn run(self, result: &Result<Outputs>, end: Option<Instant>) {
        match self {
            CompletionHook::Count {
                metrics,
                start,
                rows,
            } => {
                metrics.inflight(-1);
                metrics.outcome(result.as_ref().err().map(Error::code), rows);
                if let Some(start) = start {
                    let end = end.unwrap_or_else(Instant::now);
                    metrics.request_duration(end.saturating_duration_since(start));
                }
            }
            #[cfg(all(test, loom))]
            CompletionHook::Call(f) => f(result, end),
        }
    }
}

struct SlotState {
    phase: Phase,
    result: Option<Result<Outputs>>,
    notify: Notify,
    hook: Option<CompletionHook>,
    /// Its owner is blocked in [`Slot::wait_or_lead`] and may be asked to drain the queue.
    waiting: bool,
    /// Its owner was asked to drain the queue ([`Slot::lead`]) and has not woken yet.
    lead: bool,
    /// Its owner sleeps on `done` (set under the lock just before each wait): only then is
    /// `done` notified. std's futex condition variable makes a system call on every notify,
    /// waiter or not; most requests complete with nobody asleep on them (their owner ran them,
    /// or takes the result later from a future or a callback).
    sleeping: bool,
    /// Withdrawn before a worker took it ([`Slot::withdraw`], or its owner at its deadline): no
    /// worker counts it.
    withdrawn: bool,
}

/// What a blocked owner woke to ([`Slot::wait_or_lead`]).
pub(crate) enum Woken {
    /// The result, and whether the request was withdrawn (by this call at its deadline, or by a
    /// cancel) rather than completed by a worker, which then counted it.
    Done(Result<Outputs>, bool),
    /// Asked to drain the queue as a helper thread would ([`Slot::lead`]); the request is still
    /// queued, or taken since.
    Lead,
}

/// One-shot completion of one request. Contended only by the request's owner and the one worker
/// that runs it.
pub(crate) struct Slot {
    state: Mutex<SlotState>,
    done: Condvar,
}

impl Slot {
    fn new() -> Slot {
        Slot {
            state: Mutex::new(SlotState {
                phase: Phase::Queued,
                result: None,
                notify: Notify::Wait,
                hook: None,
                waiting: false,
                lead: false,
                sleeping: false,
                withdrawn: false,
            }),
            done: Condvar::new(),
        }
    }

    /// Sets a callback to receive the result. Must be called before the request is queued.
    pub(crate) fn set_callback(&self, callback: Box<dyn FnOnce(Result<Outputs>) + Send>) {
        lock(&self.state).notify = Notify::Callback(callback);
    }

    /// Sets a hook to run when the request completes. Must be called before the request is queued.
    pub(crate) fn set_hook(&self, hook: CompletionHook) {
        lock(&self.state).hook = Some(hook);
    }

    /// Claims a queued request for a worker. False if it was withdrawn (cancelled, expired).
    pub(crate) fn take(&self) -> bool {
        let mut s = lock(&self.state);
        if s.phase == Phase::Queued {
            s.phase = Phase::Running;
            true
        } else {
            false
        }
    }

    /// Whether the request is done (or withdrawn).
    pub(crate) fn is_done(&self) -> bool {
        lock(&self.state).phase == Phase::Done
    }

    /// Completes the request and tells its owner.
    pub(crate) fn complete(&self, result: Result<Outputs>) {
        self.complete_at(result, None)
    }

    /// Completes the request at `at` (when known) and tells its owner.
    pub(crate) fn complete_at(&self, result: Result<Outputs>, at: Option<Instant>) {
        let mut s = lock(&self.state);
        if s.phase == Phase::Done {
            return;
        }
        s.phase = Phase::Done;
        if let Some(hook) = s.hook.take() {
            hook.run(&result, at);
        }
        match std::mem::replace(&mut s.notify, Notify::Wait) {
            Notify::Callback(callback) => {
                drop(s);
                // A callback that panics must not unwind through the thread that runs it: that
                // thread may be completing other callers' requests of the same batch.
                let run = std::panic::AssertUnwindSafe(move || callback(result));
                if std::panic::catch_unwind(run).is_err() {
                    tracing::error!(
                        "inferkit: a request callback panicked; the panic was contained"
                    );
                }
            }
            Notify::Waker(waker) => {
                s.result = Some(result);
                // A future polled once, then waited on ([`InferFuture::wait`]): its owner sleeps.
                let sleeping = s.sleeping;
                drop(s);
                waker.wake();
                if sleeping {
                    self.done.notify_all();
                }
            }
            Notify::Wait => {
                s.result = Some(result);
                let sleeping = s.sleeping;
                drop(s);
                if sleeping {
                    self.done.notify_all();
                }
            }
        }
    }

    /// Withdraws a request that no worker has taken yet, completing it with `error`. False if a
    /// worker already runs it (it will complete normally) or it is done.
    pub(crate) fn withdraw(&self, error: Error) -> bool {
        let mut s = lock(&self.state);
        if s.phase != Phase::Queued {
            return false;
        }
        // Claimed here, so no worker can take it; `complete` then notifies as usual.
        s.phase = Phase::Running;
        s.withdrawn = true;
        drop(s);
        self.complete(Err(error));
        true
    }

    /// Blocks until the request is done. At `deadline`, a request still queued is withdrawn with
    /// `on_deadline()`; one already running is waited for, since its inputs are in use.
    /// Also says whether the request was withdrawn (by this call at the deadline, or by a cancel)
    /// rather than completed by a worker.
    pub(crate) fn wait(
        &self,
        deadline: Option<Instant>,
        on_deadline: impl Fn() -> Error,
    ) -> (Result<Outputs>, bool) {
        match self.wait_inner(deadline, &on_deadline, false) {
            Woken::Done(result, withdrawn) => (result, withdrawn),
            // Never asked: `lead` only asks an owner waiting in `wait_or_lead`.
            Woken::Lead => (Err(on_deadline()), false),
        }
    }

    /// [`Slot::wait`], for a blocked caller that also answers [`Slot::lead`]: it returns
    /// [`Woken::Lead`] when asked to drain the queue, and the caller then waits again.
    pub(crate) fn wait_or_lead(
        &self,
        deadline: Option<Instant>,
        on_deadline: impl Fn() -> Error,
    ) -> Woken {
        self.wait_inner(deadline, &on_deadline, true)
    }

    /// Asks the owner blocked in [`Slot::wait_or_lead`] on this still-queued request to drain the
    /// queue: it is woken now instead of when its result is ready. False (nothing done) if nobody
    /// waits there or the request left the queue.
    pub(crate) fn lead(&self) -> bool {
        let mut s = lock(&self.state);
        if s.phase != Phase::Queued || !s.waiting || s.lead {
            return false;
        }
        s.lead = true;
        let sleeping = s.sleeping;
        drop(s);
        if sleeping {
            self.done.notify_all();
        }
        true
    }

    fn wait_inner(
        &self,
        deadline: Option<Instant>,
        on_deadline: &impl Fn() -> Error,
        answer_lead: bool,
    ) -> Woken {
        let mut s = lock(&self.state);
        s.waiting = answer_lead;
        loop {
            // Asked to drain: answered first, even if the request is done since or its deadline
            // passed, because whoever asked counts on this thread to look at the queue.
            if s.lead {
                s.lead = false;
                s.waiting = false;
                return Woken::Lead;
            }
            if s.phase == Phase::Done {
                s.waiting = false;
                let withdrawn = s.withdrawn;
                return Woken::Done(
                    s.result.take().unwrap_or_else(|| Err(on_deadline())),
                    withdrawn,
                );
            }
            match deadline {
                Some(d) if s.phase == Phase::Queued => {
                    let left = d.saturating_duration_since(Instant::now());
                    s.sleeping = true;
                    let (guard, timeout) = self
                        .done
                        .wait_timeout(s, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    s = guard;
                    s.sleeping = false;
                    if timeout.timed_out()
                        && Instant::now() >= d
                        && s.phase == Phase::Queued
                        && !s.lead
                    {
                        s.phase = Phase::Done;
                        s.waiting = false;
                        let err = Err(on_deadline());
                        if let Some(hook) = s.hook.take() {
                            hook.run(&err, None);
                        }
                        return Woken::Done(err, true);
                    }
                }
                _ => {
                    s.sleeping = true;
                    s = self
                        .done
                        .wait(s)
                        .unwrap_or_else(std::sync::PoisonError::into_inner);
                    s.sleeping = false;
                }
            }
        }
    }

    fn poll(&self, cx: &mut Context<'_>) -> Poll<Result<Outputs>> {
        let mut s = lock(&self.state);
        if s.phase == Phase::Done {
            if let Some(result) = s.result.take() {
                return Poll::Ready(result);
            }
        }
        s.notify = Notify::Waker(cx.waker().clone());
        Poll::Pending
    }
}

/// The result of [`crate::Model::submit`]: a `Future` that needs no particular async runtime.
///
/// The request runs on whichever thread holds one of the model's sessions: the submitting thread
/// itself when a session was idle (then the future is ready at once), or a thread that is
/// finishing another inference. Dropping the future, or calling [`InferFuture::cancel`], withdraws
/// the request if no session has taken it yet.
#[must_use = "a future does nothing unless polled; drop it to cancel the request"]
pub struct InferFuture {
    pub(crate) request: Arc<Request>,
    pub(crate) keep_alive: Arc<dyn Send + Sync>,
    pub(crate) model: Arc<str>,
}

impl std::fmt::Debug for InferFuture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InferFuture")
            .field("model", &self.model)
            .field("done", &self.is_done())
            .finish()
    }
}

impl std::fmt::Debug for RequestHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestHandle")
            .field("model", &self.model)
            .field("done", &self.is_done())
            .finish()
    }
}

impl InferFuture {
    /// Withdraws the request if it is still queued, keeps it from running if a session has taken
    /// it but not started it, or stops its run if it runs alone on a session; the future then
    /// resolves to [`Error::Cancelled`]. Returns false if it is done, or runs in a batch with
    /// other requests (which are not stopped for it).
    pub fn cancel(&self) -> bool {
        cancel(&self.request, &self.model)
    }

    /// Whether the result is available.
    pub fn is_done(&self) -> bool {
        self.request.slot.is_done()
    }

    /// Blocks the current thread until the result is available.
    pub fn wait(self) -> Result<Outputs> {
        self.request
            .slot
            .wait(None, || Error::Cancelled {
                model: self.model.to_string(),
            })
            .0
    }
}

impl Future for InferFuture {
    type Output = Result<Outputs>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<Outputs>> {
        self.request.slot.poll(cx)
    }
}

impl Drop for InferFuture {
    fn drop(&mut self) {
        cancel(&self.request, &self.model);
        let _ = &self.keep_alive;
    }
}

/// Withdraws a queued request, keeps a request a worker has taken from starting, or stops the
/// run of a request that runs alone on a session; in each case its owner gets
/// [`Error::Cancelled`]. False when none applies (done, or running in a batch with others, which
/// are not stopped for it).
pub(crate) fn cancel(request: &Request, model: &str) -> bool {
    if request.slot.withdraw(Error::Cancelled {
        model: model.to_string(),
    }) {
        return true;
    }
    let running = request.running.lock();
    let reached = match &*running {
        // Taken, not started: the worker reads the mark under this lock before it starts.
        RunState::Waiting => !request.slot.is_done(),
        // Marked under the lock the worker takes when its run is over, so the worker sees the
        // mark: a run stopped for it, or one that finished just before the stop, answers
        // `Cancelled` either way, as this `true` promises.
        RunState::Alone(stop) => stop.stop_now(),
        RunState::Past => false,
    };
    if reached {
        request
            .cancelled
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
    reached
}

/// A request submitted with a callback ([`crate::Model::submit_with_callback`]).
pub struct RequestHandle {
    pub(crate) request: Arc<Request>,
    pub(crate) model: Arc<str>,
}

impl RequestHandle {
    /// Withdraws the request if no session has taken it yet (its callback then receives
    /// [`Error::Cancelled`] on this thread), keeps it from running if a session has taken it but
    /// not started it, or stops its run if it runs alone on a session (in both cases the callback
    /// receives [`Error::Cancelled`] on the session's thread). Returns false if it is done, or
    /// runs in a batch with other requests (which are not stopped for it).
    pub fn cancel(&self) -> bool {
        cancel(&self.request, &self.model)
    }

    /// Whether the callback has been called (or is being called).
    pub fn is_done(&self) -> bool {
        self.request.slot.is_done()
    }
}

/// The slot's state machine on every interleaving (loom; `make test-loom`).
#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Arc;

    use super::*;

    fn ok() -> Result<Outputs> {
        Ok(Outputs::from_values(Vec::new()))
    }

    fn cancelled() -> Error {
        Error::Cancelled { model: "m".into() }
    }

    /// A worker takes and completes the request while its owner withdraws it: exactly one of the
    /// two wins, the owner's wait returns that outcome, and the completion hook runs once.
    #[test]
    fn take_and_withdraw_race() {
        loom::model(|| {
            let slot = Arc::new(Slot::new());
            let hooks = Arc::new(AtomicUsize::new(0));
            let h = hooks.clone();
            slot.set_hook(CompletionHook::Call(Box::new(move |_, _| {
                h.fetch_add(1, Ordering::SeqCst);
            })));
            let worker = {
                let slot = slot.clone();
                loom::thread::spawn(move || {
                    let taken = slot.take();
                    if taken {
                        slot.complete(ok());
                    }
                    taken
                })
            };
            let withdrawn = slot.withdraw(cancelled());
            let (result, _) = slot.wait(None, cancelled);
            let ran = worker.join().unwrap();
            assert!(ran != withdrawn, "exactly one of take and withdraw wins");
            assert_eq!(result.is_ok(), ran);
            assert_eq!(hooks.load(Ordering::SeqCst), 1);
        });
    }

    /// A blocked owner asked to drain (`lead` returned true) always learns it, even when a worker
    /// completes the request meanwhile; and it still gets its result afterwards.
    #[test]
    fn a_lead_is_never_lost() {
        loom::model(|| {
            let slot = Arc::new(Slot::new());
            let worker = {
                let slot = slot.clone();
                loom::thread::spawn(move || {
                    if slot.take() {
                        slot.complete(ok());
                    }
                })
            };
            let asker = {
                let slot = slot.clone();
                loom::thread::spawn(move || slot.lead())
            };
            let mut led = false;
            let result = loop {
                match slot.wait_or_lead(None, cancelled) {
                    Woken::Lead => led = true,
                    Woken::Done(result, _) => break result,
                }
            };
            worker.join().unwrap();
            let asked = asker.join().unwrap();
            assert_eq!(asked, led, "asked to drain: {asked}, learnt it: {led}");
            assert!(result.is_ok());
        });
    }

    /// A callback runs exactly once, whichever thread completes the request.
    #[test]
    fn a_callback_runs_once() {
        loom::model(|| {
            let slot = Arc::new(Slot::new());
            let calls = Arc::new(AtomicUsize::new(0));
            let c = calls.clone();
            slot.set_callback(Box::new(move |_| {
                c.fetch_add(1, Ordering::SeqCst);
            }));
            let worker = {
                let slot = slot.clone();
                loom::thread::spawn(move || {
                    if slot.take() {
                        slot.complete(ok());
                    }
                })
            };
            slot.withdraw(cancelled());
            worker.join().unwrap();
            assert_eq!(calls.load(Ordering::SeqCst), 1);
            assert!(slot.is_done());
        });
    }

    /// An owner blocked in `wait` wakes with the worker's result: no lost wake-up.
    #[test]
    fn wait_sees_the_completion() {
        loom::model(|| {
            let slot = Arc::new(Slot::new());
            let worker = {
                let slot = slot.clone();
                loom::thread::spawn(move || {
                    assert!(slot.take());
                    slot.complete(ok());
                })
            };
            let (result, withdrawn) = slot.wait(None, cancelled);
            assert!(result.is_ok());
            assert!(!withdrawn);
            worker.join().unwrap();
        });
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use super::*;

    /// A future polled once (its waker kept in the slot) and then waited on blocks until the
    /// result: completion wakes the waiting thread as well as the waker. It used to wake only
    /// the waker, and `wait` slept for ever.
    #[test]
    fn a_future_polled_then_waited_on_gets_its_result() {
        struct Noop;
        impl std::task::Wake for Noop {
            fn wake(self: Arc<Self>) {}
        }
        let slot = Arc::new(Slot::new());
        let waker = std::task::Waker::from(Arc::new(Noop));
        assert!(slot
            .poll(&mut std::task::Context::from_waker(&waker))
            .is_pending());
        let (tx, rx) = std::sync::mpsc::channel();
        let owner = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                let (result, _) = slot.wait(None, || Error::Cancelled { model: "m".into() });
                tx.send(result.is_ok()).unwrap();
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        assert!(slot.take());
        slot.complete(Ok(Outputs::from_values(Vec::new())));
        assert_eq!(
            rx.recv_timeout(Duration::from_secs(10)),
            Ok(true),
            "the waiting thread was never woken"
        );
        owner.join().unwrap();
    }

    /// An owner whose deadline passes after it was asked to drain answers the ask first: the
    /// thread that asked counts on its look at the queue. The slot's lock is held across the
    /// deadline, so the owner wakes from its timed wait with the deadline passed and the ask set.
    #[test]
    fn an_ask_to_drain_is_answered_before_the_deadline() {
        let slot = Arc::new(Slot::new());
        let deadline = Instant::now() + Duration::from_millis(200);
        let owner = {
            let slot = slot.clone();
            std::thread::spawn(move || {
                let first = slot.wait_or_lead(Some(deadline), || Error::DeadlineExceeded {
                    model: "m".into(),
                });
                let second = slot.wait_or_lead(Some(deadline), || Error::DeadlineExceeded {
                    model: "m".into(),
                });
                (first, second)
            })
        };
        let start = Instant::now();
        loop {
            let mut s = lock(&slot.state);
            if s.waiting {
                s.lead = true;
                // The owner's timed wait ends while this thread holds the lock.
                std::thread::sleep(deadline.saturating_duration_since(Instant::now()) * 2);
                break;
            }
            drop(s);
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "the owner never waited"
            );
            std::thread::yield_now();
        }
        let (first, second) = owner.join().unwrap();
        assert!(
            matches!(first, Woken::Lead),
            "the ask was lost at the deadline"
        );
        assert!(
            matches!(
                second,
                Woken::Done(Err(Error::DeadlineExceeded { .. }), true)
            ),
            "then the deadline applies"
        );
    }
}
