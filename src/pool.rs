//! `SessionPool`: the sessions of one model, handed out without locks.
//!
//! A session serves one thread at a time (ONNX Runtime's `Run` is called through `&mut`, and so is
//! a tract session's). The pool keeps idle sessions in a lock-free bounded queue (crossbeam's
//! `ArrayQueue`); a thread that pops one owns it until it pushes it back, so no lock is held while a
//! session runs. ONNX Runtime sessions of one pool share their pre-packed weights
//! (`ort::session::builder::PrepackedWeights`); tract sessions share one plan.
//!
//! ```
//! use inferkit::{Model, ModelOptions};
//!
//! let model = Model::open_with("tests/fixtures/mlp.onnx", &ModelOptions::default().with_instances(3))?;
//! assert_eq!(model.instances(), 3);
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::mem::ManuallyDrop;
use std::sync::atomic::{AtomicUsize, Ordering};

use ort::session::builder::PrepackedWeights;

use crate::backend::{Engine, Engines};
use crate::sync::ArrayQueue;
use crate::tensor::AlignedBytes;

static LIVE_SESSIONS: AtomicUsize = AtomicUsize::new(0);

/// Sessions alive in this process (all models, every backend). A registry that has been dropped,
/// with no request in flight, leaves none behind.
pub fn live_sessions() -> usize {
    LIVE_SESSIONS.load(Ordering::SeqCst)
}

/// One session and the buffers it concatenates batches into (reused from batch to batch).
pub(crate) struct Worker {
    pub(crate) session: Engine,
    pub(crate) buffers: Vec<AlignedBytes>,
    /// How the watchdog stops the session's run past its deadlines.
    pub(crate) stop: std::sync::Arc<crate::scheduler::watchdog::RunStop>,
}

/// Idle workers, handed out without locks. Generic so that the hand-off protocol
/// (`scheduler::handoff`) can be model-checked with loom on plain values.
pub(crate) struct Pool<W> {
    idle: ArrayQueue<W>,
    size: usize,
}

impl<W> Pool<W> {
    /// A pool of the given workers, all idle.
    pub(crate) fn new(workers: Vec<W>) -> Pool<W> {
        let size = workers.len();
        let idle = ArrayQueue::new(size.max(1));
        for w in workers {
            // Cannot fail: the queue holds exactly `size` workers.
            let _ = idle.push(w);
        }
        Pool { idle, size }
    }

    /// An idle worker, if there is one, leased until the lease is dropped. Never blocks.
    pub(crate) fn try_acquire(&self) -> Option<Lease<'_, W>> {
        self.idle.pop().map(|worker| Lease {
            pool: self,
            worker: ManuallyDrop::new(worker),
        })
    }

    /// Number of workers.
    pub(crate) fn size(&self) -> usize {
        self.size
    }

    /// Number of workers idle right now.
    pub(crate) fn idle(&self) -> usize {
        self.idle.len()
    }
}

/// A worker taken from the pool. Dropping the lease gives the worker back, also when the thread
/// that holds it unwinds: a panic while a session runs never loses the session.
pub(crate) struct Lease<'a, W = Worker> {
    pool: &'a Pool<W>,
    worker: ManuallyDrop<W>,
}

impl<W> std::ops::Deref for Lease<'_, W> {
    type Target = W;
    fn deref(&self) -> &W {
        &self.worker
    }
}

impl<W> std::ops::DerefMut for Lease<'_, W> {
    fn deref_mut(&mut self) -> &mut W {
        &mut self.worker
    }
}

impl<W> Drop for Lease<'_, W> {
    fn drop(&mut self) {
        // SAFETY: taken once, here; the lease is not used after drop.
        let worker = unsafe { ManuallyDrop::take(&mut self.worker) };
        // Cannot fail: only workers taken from this pool come back, so it is never over-full.
        let _ = self.pool.idle.push(worker);
    }
}

/// The sessions of one model.
pub(crate) struct SessionPool {
    pool: Pool<Worker>,
    /// The container ONNX Runtime sessions share; declared after `pool` so that it outlives them.
    _weights: Option<PrepackedWeights>,
}

impl SessionPool {
    /// A pool of the given sessions, all idle.
    pub(crate) fn new(engines: Engines, inputs: usize) -> Result<SessionPool, String> {
        use crate::scheduler::watchdog::RunStop;
        let worker = |session: Engine, stop| Worker {
            session,
            buffers: vec![AlignedBytes::default(); inputs],
            stop,
        };
        let (workers, weights) = match engines {
            Engines::Ort { sessions, weights } => (
                sessions
                    .into_iter()
                    .map(|s| Ok(worker(Engine::Ort(s), RunStop::new()?)))
                    .collect::<Result<Vec<Worker>, String>>()?,
                Some(weights),
            ),
            #[cfg(feature = "tract")]
            Engines::Tract(sessions) => (
                sessions
                    .into_iter()
                    .map(|s| worker(Engine::Tract(s), RunStop::flag_only()))
                    .collect(),
                None,
            ),
        };
        LIVE_SESSIONS.fetch_add(workers.len(), Ordering::SeqCst);
        Ok(SessionPool {
            pool: Pool::new(workers),
            _weights: weights,
        })
    }
}

impl std::ops::Deref for SessionPool {
    type Target = Pool<Worker>;
    fn deref(&self) -> &Pool<Worker> {
        &self.pool
    }
}

impl Drop for SessionPool {
    fn drop(&mut self) {
        LIVE_SESSIONS.fetch_sub(self.pool.size, Ordering::SeqCst);
    }
}
