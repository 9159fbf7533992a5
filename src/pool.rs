//! `SessionPool`: the ONNX Runtime sessions of one model, handed out without locks.
//!
//! A session serves one thread at a time (ONNX Runtime's `Run` is called through `&mut`). The pool
//! keeps idle sessions in a lock-free bounded queue (crossbeam's `ArrayQueue`); a thread that pops
//! one owns it until it pushes it back, so no lock is held while ONNX Runtime runs. Sessions of one
//! pool share their pre-packed weights (`ort::session::builder::PrepackedWeights`).
//!
//! ```
//! use inferkit::{Model, ModelOptions};
//!
//! let model = Model::open_with("tests/fixtures/mlp.onnx", &ModelOptions { instances: 3, ..Default::default() })?;
//! assert_eq!(model.instances(), 3);
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam::queue::ArrayQueue;
use ort::session::builder::PrepackedWeights;

use crate::session::OrtSession;
use crate::tensor::AlignedBytes;

static LIVE_SESSIONS: AtomicUsize = AtomicUsize::new(0);

/// ONNX Runtime sessions alive in this process (all models). A registry that has been dropped,
/// with no request in flight, leaves none behind.
pub fn live_sessions() -> usize {
    LIVE_SESSIONS.load(Ordering::SeqCst)
}

/// One session and the buffers it concatenates batches into (reused from batch to batch).
pub(crate) struct Worker {
    pub(crate) session: OrtSession,
    pub(crate) buffers: Vec<AlignedBytes>,
}

/// The idle sessions of one model.
pub(crate) struct SessionPool {
    idle: ArrayQueue<Worker>,
    size: usize,
    /// The container the sessions share; declared after `idle` so that it outlives them.
    _weights: PrepackedWeights,
}

impl SessionPool {
    /// A pool of the given sessions, all idle.
    pub(crate) fn new(
        sessions: Vec<OrtSession>,
        weights: PrepackedWeights,
        inputs: usize,
    ) -> SessionPool {
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
        SessionPool {
            idle,
            size,
            _weights: weights,
        }
    }

    /// An idle worker, if there is one, leased until the lease is dropped. Never blocks.
    pub(crate) fn try_acquire(&self) -> Option<Lease<'_>> {
        self.idle.pop().map(|worker| Lease {
            pool: self,
            worker: ManuallyDrop::new(worker),
        })
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

/// A worker taken from the pool. Dropping the lease gives the worker back, also when the thread
/// that holds it unwinds: a panic while a session runs never loses the session.
pub(crate) struct Lease<'a> {
    pool: &'a SessionPool,
    worker: ManuallyDrop<Worker>,
}

impl std::ops::Deref for Lease<'_> {
    type Target = Worker;
    fn deref(&self) -> &Worker {
        &self.worker
    }
}

impl std::ops::DerefMut for Lease<'_> {
    fn deref_mut(&mut self) -> &mut Worker {
        &mut self.worker
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        // SAFETY: taken once, here; the lease is not used after drop.
        let worker = unsafe { ManuallyDrop::take(&mut self.worker) };
        // Cannot fail: only workers taken from this pool come back, so it is never over-full.
        let _ = self.pool.idle.push(worker);
    }
}

impl Drop for SessionPool {
    fn drop(&mut self) {
        LIVE_SESSIONS.fetch_sub(self.size, Ordering::SeqCst);
    }
}
