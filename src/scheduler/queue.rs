//! The request queue of one model: lock-free, bounded by a count, and growing lazily.
//!
//! crossbeam's `ArrayQueue` allocates its whole capacity up front, so a configured
//! `max_queue_size` of 2^40 was an allocation of 16 TiB at load. `SegQueue` allocates blocks of
//! slots as requests arrive and frees them as they leave; the bound is an atomic count checked
//! before each push. Memory follows the requests actually waiting, not the configured limit.

use crate::sync::{AtomicUsize, Ordering, SegQueue};

pub(crate) struct BoundedQueue<T> {
    items: SegQueue<T>,
    /// Items pushed and not yet popped, counted before the push so that the bound holds under
    /// concurrent pushes.
    len: AtomicUsize,
    capacity: usize,
}

impl<T> BoundedQueue<T> {
    pub(crate) fn new(capacity: usize) -> BoundedQueue<T> {
        BoundedQueue {
            items: SegQueue::new(),
            len: AtomicUsize::new(0),
            capacity,
        }
    }

    /// Appends `item`, or gives it back when `capacity` items are waiting.
    pub(crate) fn push(&self, item: T) -> Result<(), T> {
        if self.len.fetch_add(1, Ordering::SeqCst) >= self.capacity {
            self.len.fetch_sub(1, Ordering::SeqCst);
            return Err(item);
        }
        self.items.push(item);
        Ok(())
    }

    pub(crate) fn pop(&self) -> Option<T> {
        let item = self.items.pop()?;
        self.len.fetch_sub(1, Ordering::SeqCst);
        Some(item)
    }

    /// Whether no item can be popped right now (an item being pushed may not be visible yet;
    /// its pusher then checks for an idle session itself).
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether a push now would be refused.
    pub(crate) fn is_full(&self) -> bool {
        self.len.load(Ordering::Relaxed) >= self.capacity
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn bound_holds_and_memory_is_lazy() {
        // A capacity no machine could preallocate: nothing is allocated until items arrive.
        let q = BoundedQueue::new(usize::MAX / 2);
        assert!(q.is_empty());
        q.push(1u64).unwrap();
        assert_eq!(q.len(), 1);
        let small = BoundedQueue::new(2);
        small.push(1).unwrap();
        small.push(2).unwrap();
        assert_eq!(small.push(3), Err(3));
        assert_eq!(small.pop(), Some(1));
        small.push(3).unwrap();
        assert_eq!(small.len(), 2);
    }
}
