//! Helper threads: where queued work goes once the caller that holds a session has done its share.
//!
//! A caller that takes a session runs its own request, and at most one batch more (plus a request
//! that batch had to leave behind, alone); if requests are still waiting then, it gives the
//! session back and hands the queue on: to a blocked caller whose request is queued, when batches
//! are short (`Scheduler::call_drainer`), else to a helper thread, which drains it with whatever
//! session it can take. So a blocking caller never stays inside its call serving an async flood, and a
//! `submit` returns after its own request even when callbacks keep resubmitting.
//!
//! Helpers are shared by every model of the process, started on demand and ended after
//! [`IDLE_EXIT`] without work: a process that never queues past one batch never starts one. A busy
//! helper holds a session, so at most as many are busy as there are sessions with a backlog; the
//! count is bounded by [`MAX_HELPERS`] all the same.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crossbeam::channel::{unbounded, Receiver, Sender};
use parking_lot::Mutex;

use super::Scheduler;

/// How long an idle helper waits for work before it ends.
const IDLE_EXIT: Duration = Duration::from_secs(5);
/// Most helper threads at once; past it, work waits for a busy helper.
const MAX_HELPERS: usize = 1024;

struct Helpers {
    jobs: Sender<Arc<Scheduler>>,
    waiting: Receiver<Arc<Scheduler>>,
    counts: Mutex<Counts>,
}

#[derive(Default)]
struct Counts {
    /// Helper threads alive.
    total: usize,
    /// Helpers waiting for a job that no `hand_off` has reserved yet.
    idle: usize,
}

fn helpers() -> &'static Helpers {
    static HELPERS: OnceLock<Helpers> = OnceLock::new();
    HELPERS.get_or_init(|| {
        let (jobs, waiting) = unbounded();
        Helpers {
            jobs,
            waiting,
            counts: Mutex::new(Counts::default()),
        }
    })
}

/// Has a helper drain `scheduler`'s queue: an idle one, else a new one. False when no thread could
/// be started (the caller then drains the queue itself).
pub(super) fn hand_off(scheduler: Arc<Scheduler>) -> bool {
    let h = helpers();
    let mut counts = h.counts.lock();
    if counts.idle > 0 || counts.total >= MAX_HELPERS {
        // Reserve an idle helper for this job (at the bound, the next helper to finish takes it).
        counts.idle = counts.idle.saturating_sub(1);
        // Cannot fail: the receiver lives as long as the process.
        let _ = h.jobs.send(scheduler);
        return true;
    }
    let started = std::thread::Builder::new()
        .name("inferkit-helper".into())
        .spawn(move || run(scheduler));
    match started {
        Ok(_) => {
            counts.total += 1;
            true
        }
        Err(e) => {
            tracing::warn!(error = %e, "inferkit: a helper thread could not start; the caller drains the queue itself");
            false
        }
    }
}

fn run(first: Arc<Scheduler>) {
    let h = helpers();
    let mut job = Some(first);
    loop {
        if let Some(scheduler) = job.take() {
            scheduler.help();
        }
        h.counts.lock().idle += 1;
        loop {
            if let Ok(s) = h.waiting.recv_timeout(IDLE_EXIT) {
                job = Some(s);
                break;
            }
            // Under the lock, so that a job sent for this helper is seen here, not lost.
            let mut counts = h.counts.lock();
            if h.waiting.is_empty() {
                counts.idle = counts.idle.saturating_sub(1);
                counts.total -= 1;
                return;
            }
        }
    }
}
