//! Stopping a run that outlives its requests' deadlines.
//!
//! A request's deadline is checked before it runs; a run that has started goes on inside ONNX
//! Runtime, possibly for a long time (a `Loop` with a large trip count, a huge input). ONNX
//! Runtime stops a run between two operators when the terminate flag of its `OrtRunOptions` is
//! set, from any thread. Each session has its own run options ([`RunStop`]); before a run it is
//! armed with the instant after which none of the batch's requests wants the result (the latest of
//! their deadlines; not armed when one of them has none), and disarmed after.
//!
//! One watchdog thread sets the flags. It is started the first time a run is armed, and sleeps
//! (no CPU) while no run is armed. It keeps one entry per session, never one per run, so its
//! memory does not grow with traffic; it wakes at the earliest armed instant, and a run armed
//! earlier than that wakes it sooner.

use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Instant;

use parking_lot::{Condvar, Mutex};

use crate::session::status_message;

/// The run options of one session, and whether its current run is armed or was stopped.
pub(crate) struct RunStop {
    /// ONNX Runtime's run options, for sessions on ONNX Runtime; `None` on tract, whose runs read
    /// `stopped` before each operator.
    options: Option<NonNull<ort::sys::OrtRunOptions>>,
    /// Set when the current run is to stop (with ONNX Runtime's terminate flag, when there is one).
    stopped: AtomicBool,
    /// Set by `finish` and cleared by `start` (both under `state`'s lock): no run is in
    /// progress, none is armed and the flags are clear. A run that neither a deadline nor a
    /// cancel can stop then skips `start` and `finish` (`is_idle`), which nothing could tell
    /// apart: the watchdog fires only armed runs, and cancels reach only runs admitted to them.
    idle: AtomicBool,
    state: Mutex<StopState>,
}

#[derive(Default)]
struct StopState {
    /// Whether a run is in progress (between `start` and `finish`).
    running: bool,
    /// When the current run is to be stopped, if it is armed.
    armed: Option<Instant>,
    /// Whether the terminate flag was set during the current run.
    fired: bool,
    /// Whether the watchdog knows this session.
    registered: bool,
}

// SAFETY: ONNX Runtime documents `RunOptionsSetTerminate` as meant to be called from another
// thread while `Run` uses the options; every other use is under `state`'s lock or in `Run`, which
// only reads the flag.
unsafe impl Send for RunStop {}
// SAFETY: as above.
unsafe impl Sync for RunStop {}

impl Drop for RunStop {
    fn drop(&mut self) {
        if let Some(options) = self.options {
            // SAFETY: created by CreateRunOptions, released once; no run uses it any more (the
            // worker that owned it is gone, and the watchdog holds only a `Weak`).
            unsafe { (ort::api().ReleaseRunOptions)(options.as_ptr()) };
        }
    }
}

impl RunStop {
    /// A stop for a session that reads only [`RunStop::stopped`] (tract's).
    #[cfg_attr(not(feature = "tract"), allow(dead_code))]
    pub(crate) fn flag_only() -> Arc<RunStop> {
        Arc::new(RunStop {
            options: None,
            stopped: AtomicBool::new(false),
            idle: AtomicBool::new(true),
            state: Mutex::new(StopState::default()),
        })
    }

    /// A stop with ONNX Runtime run options, for an ONNX Runtime session.
    pub(crate) fn new() -> Result<Arc<RunStop>, String> {
        let mut options = std::ptr::null_mut();
        // SAFETY: a valid out-pointer; the runtime is initialised (a session exists).
        if let Some(m) = status_message(unsafe { (ort::api().CreateRunOptions)(&mut options) }) {
            return Err(m);
        }
        let options = NonNull::new(options).ok_or("ONNX Runtime returned no run options")?;
        // A run stopped by this flag makes ONNX Runtime log "Exiting due to terminate flag" at
        // ERROR on the host's stderr, once per stopped run; every failure of a run reaches its
        // caller as a typed error with ONNX Runtime's message, so runs log only what is FATAL.
        // SAFETY: live options made above.
        if let Some(m) = status_message(unsafe {
            (ort::api().RunOptionsSetRunLogSeverityLevel)(options.as_ptr(), 4)
        }) {
            // SAFETY: made above, released once.
            unsafe { (ort::api().ReleaseRunOptions)(options.as_ptr()) };
            return Err(m);
        }
        Ok(Arc::new(RunStop {
            options: Some(options),
            stopped: AtomicBool::new(false),
            idle: AtomicBool::new(true),
            state: Mutex::new(StopState::default()),
        }))
    }

    /// The options to pass to `Run`.
    pub(crate) fn ptr(&self) -> *const ort::sys::OrtRunOptions {
        self.options
            .map_or(std::ptr::null(), |o| o.as_ptr().cast_const())
    }

    /// Whether the current run is to stop (read by engines that check between operators).
    #[cfg_attr(not(feature = "tract"), allow(dead_code))]
    pub(crate) fn stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Sets the stop flags of the current run; called under `state`'s lock.
    fn terminate(&self) {
        self.stopped.store(true, Ordering::Release);
        if let Some(options) = self.options {
            // SAFETY: live options; ONNX Runtime allows setting the flag during a run.
            let _ =
                status_message(unsafe { (ort::api().RunOptionsSetTerminate)(options.as_ptr()) });
        }
    }

    /// Before a run: stop it at `until`, if given.
    pub(crate) fn start(self: &Arc<Self>, until: Option<Instant>) {
        let register = {
            let mut s = self.state.lock();
            self.idle.store(false, Ordering::Relaxed);
            s.running = true;
            s.armed = until;
            // A run that unwound before its `finish` leaves no stop behind for this one.
            if std::mem::take(&mut s.fired) {
                self.clear();
            }
            until.is_some() && !std::mem::replace(&mut s.registered, true)
        };
        let Some(until) = until else {
            return;
        };
        watchdog().armed(self, until, register);
    }

    /// After a run: disarms it, and says whether it was stopped (the flag is cleared again for
    /// the next run).
    pub(crate) fn finish(&self) -> bool {
        let mut s = self.state.lock();
        s.running = false;
        s.armed = None;
        let fired = std::mem::take(&mut s.fired);
        if fired {
            self.clear();
        }
        self.idle.store(true, Ordering::Release);
        fired
    }

    /// Whether a run that nothing can stop may skip `start` and `finish` (see `idle`). A run
    /// that unwound before its `finish` leaves it false, so the next run starts as usual.
    pub(crate) fn is_idle(&self) -> bool {
        self.idle.load(Ordering::Acquire)
    }

    /// Clears the stop flags; called under `state`'s lock, so the watchdog cannot set them again
    /// for the run that set them.
    fn clear(&self) {
        self.stopped.store(false, Ordering::Release);
        if let Some(options) = self.options {
            // SAFETY: live options, no run in progress on them.
            let _ =
                status_message(unsafe { (ort::api().RunOptionsUnsetTerminate)(options.as_ptr()) });
        }
    }

    /// Stops the current run now (its request was cancelled); false when no run is in progress.
    pub(crate) fn stop_now(&self) -> bool {
        let mut s = self.state.lock();
        if !s.running {
            return false;
        }
        if !s.fired {
            self.terminate();
            s.fired = true;
        }
        true
    }

    /// Stops the current run if it is armed and due at `now`; returns when it is armed for next.
    fn fire_if_due(&self, now: Instant) -> Option<Instant> {
        let mut s = self.state.lock();
        match s.armed {
            Some(t) if t <= now => {
                self.terminate();
                s.fired = true;
                s.armed = None;
                None
            }
            other => other,
        }
    }
}

struct Watchdog {
    state: Mutex<WatchState>,
    wake: Condvar,
}

#[derive(Default)]
struct WatchState {
    /// Every session that has been armed once (dead ones are pruned).
    stops: Vec<Weak<RunStop>>,
    /// When the watchdog will wake next, if it sleeps with a timeout.
    next: Option<Instant>,
}

fn watchdog() -> &'static Watchdog {
    static WATCHDOG: OnceLock<Watchdog> = OnceLock::new();
    WATCHDOG.get_or_init(|| {
        let started = std::thread::Builder::new()
            .name("inferkit-watchdog".into())
            .spawn(|| watchdog().run());
        if let Err(e) = started {
            tracing::error!(error = %e, "inferkit: the watchdog thread could not start; running requests will not be stopped at their deadlines");
        }
        Watchdog {
            state: Mutex::new(WatchState::default()),
            wake: Condvar::new(),
        }
    })
}

impl Watchdog {
    fn armed(&self, stop: &Arc<RunStop>, until: Instant, register: bool) {
        let mut s = self.state.lock();
        if register {
            s.stops.push(Arc::downgrade(stop));
        }
        if s.next.is_none_or(|next| until < next) {
            s.next = Some(until);
            self.wake.notify_one();
        }
    }

    fn run(&self) {
        let mut s = self.state.lock();
        loop {
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            s.stops.retain(|weak| {
                let Some(stop) = weak.upgrade() else {
                    return false;
                };
                if let Some(t) = stop.fire_if_due(now) {
                    next = Some(next.map_or(t, |n| n.min(t)));
                }
                true
            });
            s.next = next;
            match next {
                Some(t) => {
                    self.wake.wait_until(&mut s, t);
                }
                None => self.wake.wait(&mut s),
            }
        }
    }
}
