//! `SessionPool`: the ONNX Runtime sessions of one model, handed out without locks.
//!
//! `ort::Session::run` needs `&mut Session`: a session serves one thread at a time. The pool keeps
//! idle sessions in a lock-free bounded queue (crossbeam's `ArrayQueue`); a thread that pops one
//! owns it until it pushes it back, so no lock is held while ONNX Runtime runs. Sessions of one
//! pool share their pre-packed weights (`ort::session::builder::PrepackedWeights`).
//!
//! ```
//! use inferkit::{Model, ModelOptions};
//!
//! let model = Model::open_with("tests/fixtures/mlp.onnx", &ModelOptions { instances: 3, ..Default::default() })?;
//! assert_eq!(model.instances(), 3);
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam::queue::ArrayQueue;
use ort::session::Session;

use crate::tensor::AlignedBytes;

static LIVE_SESSIONS: AtomicUsize = AtomicUsize::new(0);

/// ONNX Runtime sessions alive in this process (all models). A registry that has been dropped,
/// with no request in flight, leaves none behind.
pub fn live_sessions() -> usize {
    LIVE_SESSIONS.load(Ordering::SeqCst)
}

/// One session and the buffers it concatenates batches into (reused from batch to batch).
pub(crate) struct Worker {
    pub(crate) session: Session,
    pub(crate) buffers: Vec<AlignedBytes>,
}

/// The idle sessions of one model.
pub(crate) struct SessionPool {
    idle: ArrayQueue<Worker>,
    size: usize,
}

impl SessionPool {
    /// A pool of the given sessions, all idle.
    pub(crate) fn new(sessions: Vec<Session>, inputs: usize) -> SessionPool {
        let size = sessions.len();
        LIVE_SESSIONS.fetch_add(size, Ordering::SeqCst);
        let idle = ArrayQueue::new(size.max(1));
        for session in sessions {
            // Cannot fail: the queue holds exactly `size` workers.
            let _ = idle.push(Worker {
                session,
                buffers: vec![AlignedBytes::default(); inputs],
            });
        }
        SessionPool { idle, size }
    }

    /// An idle worker, if there is one. Never blocks.
    pub(crate) fn try_acquire(&self) -> Option<Worker> {
        self.idle.pop()
    }

    /// Returns a worker to the pool.
    pub(crate) fn release(&self, worker: Worker) {
        // Cannot fail: only workers taken from this pool come back, so it is never over-full.
        let _ = self.idle.push(worker);
    }

    /// Number of sessions.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Number of sessions idle right now.
    pub(crate) fn idle(&self) -> usize {
        self.idle.len()
    }
}

impl Drop for SessionPool {
    fn drop(&mut self) {
        LIVE_SESSIONS.fetch_sub(self.size, Ordering::SeqCst);
    }
}
