//! Cancelling requests from another thread, blocking calls included: [`CancelToken`].
//!
//! A submitted request has a handle to cancel it with ([`crate::RequestHandle`]); a blocking call
//! has none until it returns. A token given in [`crate::InferOptions::cancel`] reaches it while
//! it waits: the token keeps the requests made with it, and cancelling it withdraws those still
//! queued and stops those that run alone on a session, on the caller's thread or a worker's.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::request::{self, Request};
use super::watchdog::RunStop;

/// Cancels the requests made with it, from any thread, whether they wait in a blocking call or
/// were submitted. Like Go's `context.Context` or .NET's `CancellationToken`: once cancelled it
/// stays cancelled, and a request made with it afterwards fails at once with
/// [`crate::Error::Cancelled`] without running.
///
/// Cancelling withdraws each request of the token that no session has taken yet, keeps each
/// that a session has taken but not started from running, and stops the run of each that runs
/// alone on a session (ONNX Runtime's terminate flag); those requests fail with
/// [`crate::Error::Cancelled`]. A request running in a batch with others finishes, as with
/// [`crate::RequestHandle::cancel`]. Clones share the token.
///
/// ```
/// use std::time::Duration;
/// use inferkit::{CancelToken, ErrorCode, InferOptions, Model, TensorView};
///
/// // loop.onnx adds 1 to x, n times: this run would take minutes.
/// let model = Model::open("tests/fixtures/loop.onnx")?;
/// let token = CancelToken::new();
/// let options = InferOptions::default().with_cancel(token.clone());
/// let canceller = std::thread::spawn(move || {
///     std::thread::sleep(Duration::from_millis(50));
///     token.cancel();
/// });
/// let (n, x) = ([1_000_000_000i64], [0.0f32]);
/// let err = model
///     .infer_with(
///         &[
///             ("n", TensorView::from_slice(vec![], &n)),
///             ("x", TensorView::from_slice(vec![1], &x)),
///         ],
///         &options,
///     )
///     .unwrap_err();
/// assert_eq!(err.code(), ErrorCode::Cancelled);
/// canceller.join().unwrap();
/// # Ok::<(), inferkit::Error>(())
/// ```
#[derive(Clone, Default)]
pub struct CancelToken(Arc<TokenState>);

#[derive(Default)]
struct TokenState {
    cancelled: AtomicBool,
    /// What a cancel reaches. Set and read under this lock together with `cancelled`, so that a
    /// request is either bound before the cancel (and reached by it) or sees the token cancelled.
    bound: Mutex<Vec<Bound>>,
}

enum Bound {
    /// A request made with the token (queued, running on a worker, or done since).
    Request(Weak<Request>, Arc<str>),
    /// A run on a caller's own thread, on the session whose stop this is, until it is unbound.
    Run(Arc<RunStop>),
}

impl CancelToken {
    /// A token not cancelled.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels every request made with this token that is not done, and every request made with
    /// it from now on. Calling it again does nothing more.
    pub fn cancel(&self) {
        let requests: Vec<(Arc<Request>, Arc<str>)> = {
            let mut bound = self.0.bound.lock();
            self.0.cancelled.store(true, Ordering::SeqCst);
            let mut requests = Vec::new();
            for b in bound.drain(..) {
                match b {
                    // Under the lock: the caller unbinds its run under it before its session
                    // runs anything else, so this stop reaches only the run it was bound for.
                    Bound::Run(stop) => {
                        stop.stop_now();
                    }
                    Bound::Request(r, model) => {
                        if let Some(r) = r.upgrade() {
                            requests.push((r, model));
                        }
                    }
                }
            }
            requests
        };
        // Outside the lock: withdrawing completes the request, and its callback may make another
        // request with this token.
        for (r, model) in requests {
            request::cancel(&r, &model);
        }
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.0.cancelled.load(Ordering::SeqCst)
    }

    /// Binds a request before it is queued; false (not bound) when the token is cancelled.
    pub(crate) fn bind_request(&self, request: &Arc<Request>, model: &str) -> bool {
        // The requests looked at, released after the lock: releasing the last reference to one
        // drops its callback, which is the host's code and may use this token.
        let mut looked_at = Vec::new();
        let mut bound = self.0.bound.lock();
        if self.0.cancelled.load(Ordering::SeqCst) {
            return false;
        }
        // Requests done since they were bound are dropped here, so a token used for many requests
        // one after another holds only those in flight.
        bound.retain(|b| match b {
            Bound::Request(r, _) => match r.upgrade() {
                Some(r) => {
                    let keep = !r.slot.is_done();
                    looked_at.push(r);
                    keep
                }
                None => false,
            },
            Bound::Run(_) => true,
        });
        bound.push(Bound::Request(Arc::downgrade(request), Arc::from(model)));
        drop(bound);
        drop(looked_at);
        true
    }

    /// Binds a run about to start on this thread with `stop`; false (not bound, do not run) when
    /// the token is cancelled.
    pub(crate) fn bind_run(&self, stop: &Arc<RunStop>) -> bool {
        let mut bound = self.0.bound.lock();
        if self.0.cancelled.load(Ordering::SeqCst) {
            return false;
        }
        bound.push(Bound::Run(stop.clone()));
        true
    }

    /// Unbinds a run bound with [`CancelToken::bind_run`] once it is over, before its session
    /// runs anything else. True when the token was cancelled meanwhile: the run was stopped, or
    /// finished just before the stop, and answers [`crate::Error::Cancelled`] either way.
    pub(crate) fn unbind_run(&self, stop: &Arc<RunStop>) -> bool {
        let mut bound = self.0.bound.lock();
        if let Some(i) = bound
            .iter()
            .position(|b| matches!(b, Bound::Run(s) if Arc::ptr_eq(s, stop)))
        {
            bound.swap_remove(i);
        }
        self.0.cancelled.load(Ordering::SeqCst)
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Tokens are equal when they are clones of one another.
impl PartialEq for CancelToken {
    fn eq(&self, other: &CancelToken) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Eq for CancelToken {}
