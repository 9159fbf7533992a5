//! The synchronisation primitives of the lock-free hand-offs (the session pool, the request
//! queue, a request's completion slot), in one place so that the same code runs under the loom
//! model checker.
//!
//! In a normal build these are std's and crossbeam's. Built with `RUSTFLAGS="--cfg loom"` (`make
//! test` does, for the loom tests in `scheduler::handoff` and `scheduler::request`), they are
//! loom's, and loom explores every interleaving of the threads of a test. crossbeam's queue has no
//! loom version: under loom it is a `Mutex<VecDeque>`, which has the same linearisable
//! behaviour the hand-offs rely on.

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{fence, AtomicIsize, AtomicU64, AtomicUsize, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Condvar, Mutex, MutexGuard};

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{fence, AtomicIsize, AtomicU64, AtomicUsize, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Condvar, Mutex, MutexGuard};

#[cfg(not(loom))]
pub(crate) use crossbeam::queue::SegQueue;

#[cfg(loom)]
pub(crate) use model::SegQueue;

/// A guard whether or not a thread panicked while holding the lock: what the slots and queues
/// protect stays consistent at every point where a panic can happen (hooks and callbacks run
/// outside the lock or only read).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(loom)]
mod model {
    //! Queues for loom: a mutex for the items, and an atomic count that the lock-free fast paths
    //! read without the lock (acquire), as crossbeam's queues read their indices. A reader can
    //! therefore see a stale count, which is what the hand-offs' SeqCst fences are there for.
    use std::collections::VecDeque;

    use loom::sync::atomic::{AtomicUsize, Ordering};
    use loom::sync::Mutex;

    struct Counted<T> {
        items: Mutex<VecDeque<T>>,
        len: AtomicUsize,
    }

    impl<T> Counted<T> {
        fn new() -> Self {
            Counted {
                items: Mutex::new(VecDeque::new()),
                len: AtomicUsize::new(0),
            }
        }
        fn push(&self, item: T, capacity: usize) -> Result<(), T> {
            let mut q = self.items.lock().unwrap();
            if q.len() >= capacity {
                return Err(item);
            }
            q.push_back(item);
            self.len.store(q.len(), Ordering::Release);
            Ok(())
        }
        fn pop(&self) -> Option<T> {
            if self.len.load(Ordering::Acquire) == 0 {
                return None;
            }
            let mut q = self.items.lock().unwrap();
            let item = q.pop_front();
            self.len.store(q.len(), Ordering::Release);
            item
        }
        fn len(&self) -> usize {
            self.len.load(Ordering::Acquire)
        }
    }

    /// crossbeam's `SegQueue` API, for loom.
    pub(crate) struct SegQueue<T>(Counted<T>);

    impl<T> SegQueue<T> {
        pub(crate) fn new() -> Self {
            SegQueue(Counted::new())
        }
        pub(crate) fn push(&self, item: T) {
            let _ = self.0.push(item, usize::MAX);
        }
        pub(crate) fn pop(&self) -> Option<T> {
            self.0.pop()
        }
        pub(crate) fn is_empty(&self) -> bool {
            self.0.len() == 0
        }
        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }
}
