//! `SessionPool`: the sessions of one model, handed out without locks.
//!
//! A session serves one thread at a time (ONNX Runtime's `Run` is called through `&mut`, and so is
//! a tract session's). The pool marks idle sessions in one atomic bitmap; a thread that clears a
//! session's bit owns it until it sets the bit again, so no lock is held while a session runs. The
//! idle session with the lowest index is handed out first, so that a caller alone, or a few, keep
//! running on the same sessions, whose memory is in the caches: handed out in turn (crossbeam's
//! `ArrayQueue` did), a lone caller on 2 sessions ran PaddleOCR's classifier at 0.94 of raw ONNX
//! Runtime, against 0.98–1.0 with the bitmap (see BENCHMARKS.md). ONNX Runtime sessions of one pool
//! share their pre-packed weights (`ort::session::builder::PrepackedWeights`); tract sessions share
//! one plan.
//!
//! ```
//! use inferkit::{Model, ModelOptions};
//!
//! let model = Model::open_with("tests/fixtures/mlp.onnx", &ModelOptions::default().with_instances(3))?;
//! assert_eq!(model.instances(), 3);
//! # Ok::<(), inferkit::Error>(())
//! ```

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

use crossbeam::utils::CachePadded;

use ort::session::builder::PrepackedWeights;

use crate::backend::{Engine, Engines};
use crate::sync::AtomicU64;
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
    /// The workers, each on cache lines of its own: a leased worker is used in place, and two
    /// workers' fields on one line would move between the cores that run them at every write.
    slots: Box<[CachePadded<UnsafeCell<W>>]>,
    /// Bit `i` set: worker `i` is idle.
    idle: AtomicU64,
}

// SAFETY: a worker is reached only through the lease of the one thread that cleared its bit
// (acquire), and is handed on by setting the bit again (release); `W: Send` is all that needs.
unsafe impl<W: Send> Sync for Pool<W> {}

/// Most workers one pool holds: one bit each.
pub(crate) const MAX_WORKERS: usize = 64;

impl<W> Pool<W> {
    /// A pool of the given workers (at most [`MAX_WORKERS`]), all idle.
    pub(crate) fn new(workers: Vec<W>) -> Pool<W> {
        let size = workers.len();
        assert!(
            size <= MAX_WORKERS,
            "{size} workers; a pool holds {MAX_WORKERS}"
        );
        let all = if size == MAX_WORKERS {
            u64::MAX
        } else {
            (1u64 << size) - 1
        };
        Pool {
            slots: workers
                .into_iter()
                .map(|w| CachePadded::new(UnsafeCell::new(w)))
                .collect(),
            idle: AtomicU64::new(all),
        }
    }

    /// The idle worker with the lowest index, if there is one, leased until the lease is dropped.
    /// Never blocks.
    pub(crate) fn try_acquire(&self) -> Option<Lease<'_, W>> {
        let mut idle = self.idle.load(Ordering::Relaxed);
        loop {
            if idle == 0 {
                return None;
            }
            let index = idle.trailing_zeros() as usize;
            match self.idle.compare_exchange_weak(
                idle,
                idle & !(1 << index),
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Lease { pool: self, index }),
                Err(now) => idle = now,
            }
        }
    }

    /// Number of workers.
    pub(crate) fn size(&self) -> usize {
        self.slots.len()
    }

    /// Number of workers idle right now.
    pub(crate) fn idle(&self) -> usize {
        self.idle.load(Ordering::Relaxed).count_ones() as usize
    }
}

/// A worker taken from the pool. Dropping the lease gives the worker back, also when the thread
/// that holds it unwinds: a panic while a session runs never loses the session.
pub(crate) struct Lease<'a, W = Worker> {
    pool: &'a Pool<W>,
    index: usize,
}

impl<W> std::ops::Deref for Lease<'_, W> {
    type Target = W;
    fn deref(&self) -> &W {
        // SAFETY: this lease cleared the worker's bit; nobody else reaches it until it is set.
        unsafe { &*self.pool.slots[self.index].get() }
    }
}

impl<W> std::ops::DerefMut for Lease<'_, W> {
    fn deref_mut(&mut self) -> &mut W {
        // SAFETY: as in `deref`, and `&mut self` makes this the only reference.
        unsafe { &mut *self.pool.slots[self.index].get() }
    }
}

impl<W> Drop for Lease<'_, W> {
    fn drop(&mut self) {
        self.pool.idle.fetch_or(1 << self.index, Ordering::Release);
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
        LIVE_SESSIONS.fetch_sub(self.pool.size(), Ordering::SeqCst);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    /// The idle worker with the lowest index is handed out first, so that a lone caller keeps the
    /// same one; every lease gives its worker back, and a full pool of 64 has every bit.
    #[test]
    fn the_lowest_idle_worker_is_handed_out_and_given_back() {
        let pool = Pool::new(vec![10, 11, 12]);
        for _ in 0..3 {
            let a = pool.try_acquire().unwrap();
            assert_eq!(*a, 10, "a lone caller gets the same worker each time");
        }
        let (a, mut b) = (pool.try_acquire().unwrap(), pool.try_acquire().unwrap());
        assert_eq!((*a, *b), (10, 11));
        *b += 100;
        assert_eq!(pool.idle(), 1);
        drop(a);
        assert_eq!(*pool.try_acquire().unwrap(), 10);
        let c = pool.try_acquire().unwrap();
        assert_eq!(*c, 10);
        let d = pool.try_acquire().unwrap();
        assert_eq!(*d, 12);
        assert!(pool.try_acquire().is_none());
        drop((b, c, d));
        assert_eq!(pool.idle(), 3);
        let full = Pool::new((0..MAX_WORKERS).collect());
        let leases: Vec<_> = std::iter::from_fn(|| full.try_acquire()).collect();
        assert_eq!(leases.len(), MAX_WORKERS);
        assert_eq!(leases.last().map(|l| **l), Some(MAX_WORKERS - 1));
        assert_eq!(full.idle(), 0);
        drop(leases);
        assert_eq!(full.idle(), MAX_WORKERS);
    }

    /// Many threads taking and giving back workers never share one: each marks its worker while
    /// it holds it, and finds it unmarked.
    #[test]
    fn a_worker_is_never_leased_twice() {
        let pool = Pool::new((0..3).map(|_| AtomicUsize::new(0)).collect());
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..20_000 {
                        if let Some(w) = pool.try_acquire() {
                            assert_eq!(w.fetch_add(1, Ordering::SeqCst), 0, "leased twice");
                            std::hint::spin_loop();
                            w.fetch_sub(1, Ordering::SeqCst);
                        }
                    }
                });
            }
        });
        assert_eq!(pool.idle(), 3);
    }
}
