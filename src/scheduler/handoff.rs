//! The hand-off between callers and sessions, the one place where a request could be stranded.
//!
//! A caller queues a request and then looks for an idle session; a thread finishing with a
//! session gives it back and then looks at the queue. Each step is lock-free, so the two can
//! interleave: without care, the caller finds no idle session (the other thread still holds it)
//! while the other thread finds the queue empty (the request is not visible yet), and the request
//! waits with every session idle. A `SeqCst` fence between each side's write and read rules that
//! out: either the thread giving the session back sees the request, or the caller sees the session.
//!
//! `scheduler::Scheduler` calls these two functions; the loom test below checks them on every
//! interleaving (`make test` runs it with `RUSTFLAGS="--cfg loom"`).

use super::queue::BoundedQueue;
use crate::pool::{Lease, Pool};
use crate::sync::{fence, AtomicIsize, Ordering};

/// Queues `item` of `rows` rows, then counts them in `queued`: a thread that reads the count finds
/// every request it counts in the queue (unless another drainer took it). Counted before the push,
/// a timed policy's leader could end its wait for rows on the count, find the queue one short, and
/// leave the latecomer to wait a whole delay for company of its own.
pub(crate) fn push_counted<R>(
    queue: &BoundedQueue<R>,
    queued: &AtomicIsize,
    item: R,
    rows: usize,
) -> Result<(), R> {
    queue.push(item)?;
    queued.fetch_add(rows as isize, Ordering::SeqCst);
    Ok(())
}

/// Takes the next item and uncounts its rows (`rows` says how many it has). The count may go
/// below zero for a moment, when this comes between a push and its count: read it through
/// [`counted`].
pub(crate) fn pop_counted<R>(
    queue: &BoundedQueue<R>,
    queued: &AtomicIsize,
    rows: impl Fn(&R) -> usize,
) -> Option<R> {
    let item = queue.pop()?;
    queued.fetch_sub(rows(&item) as isize, Ordering::SeqCst);
    Some(item)
}

/// Rows counted as queued.
pub(crate) fn counted(queued: &AtomicIsize) -> usize {
    queued.load(Ordering::SeqCst).max(0) as usize
}

/// Called right after a request was queued: an idle worker to drain the queue with, if there is
/// one.
pub(crate) fn claim_after_queueing<W>(pool: &Pool<W>) -> Option<Lease<'_, W>> {
    // Pairs with the fence in `give_back`.
    fence(Ordering::SeqCst);
    pool.try_acquire()
}

/// Called right after a request was queued, by a thread that will not run it: whether a worker
/// is idle, so that a helper thread should be called to claim it. If none is, every worker is
/// held by a thread that sees the request when it gives its worker back.
pub(crate) fn idle_after_queueing<W>(pool: &Pool<W>) -> bool {
    // Pairs with the fence in `give_back` and `give_back_then_queued`.
    fence(Ordering::SeqCst);
    pool.idle() > 0
}

/// Gives a worker back once the queue looked empty; if a request arrived meanwhile, takes a worker
/// again (this one or another) to keep draining. `None`: nothing is left for this thread to do.
pub(crate) fn give_back<'p, R, W>(
    queue: &BoundedQueue<R>,
    pool: &'p Pool<W>,
    lease: Lease<'p, W>,
) -> Option<Lease<'p, W>> {
    // `None` from `try_acquire` means another thread holds a worker and will see the queue when it
    // gives it back.
    give_back_unless(queue, pool, lease, false)
}

/// Gives a worker back, leaving what is queued to a thread that holds another worker, if one does
/// (it sees the queue when it gives its worker back, as `give_back` relies on); with none held
/// and requests queued, takes a worker again, as `give_back` does. `None`: this thread may stop.
/// Two threads that leave at once cannot both count on the other: the fences order their checks,
/// so at least one finds every worker idle and stays.
pub(crate) fn give_back_to_holder<'p, R, W>(
    queue: &BoundedQueue<R>,
    pool: &'p Pool<W>,
    lease: Lease<'p, W>,
) -> Option<Lease<'p, W>> {
    give_back_unless(queue, pool, lease, true)
}

/// Drops the lease, then takes a worker again if requests are queued, unless (`to_holder`)
/// another worker is held.
fn give_back_unless<'p, R, W>(
    queue: &BoundedQueue<R>,
    pool: &'p Pool<W>,
    lease: Lease<'p, W>,
    to_holder: bool,
) -> Option<Lease<'p, W>> {
    drop(lease);
    // Pairs with the fences in `claim_after_queueing` and in this function.
    fence(Ordering::SeqCst);
    if queue.is_empty() || (to_holder && pool.idle() < pool.size()) {
        return None;
    }
    pool.try_acquire()
}

/// Gives a worker back and says whether requests are still queued: the caller has done its share
/// and has them drained elsewhere (a helper thread calls `claim_after_queueing`, and if that finds
/// no idle worker, whoever holds one sees the queue when it gives it back).
pub(crate) fn give_back_then_queued<R, W>(queue: &BoundedQueue<R>, lease: Lease<'_, W>) -> bool {
    drop(lease);
    // Pairs with the fence in `claim_after_queueing`.
    fence(Ordering::SeqCst);
    !queue.is_empty()
}

#[cfg(all(test, loom))]
mod loom_tests {
    use loom::sync::atomic::AtomicUsize;
    use loom::sync::Arc;

    use super::*;

    /// How a thread gives its worker back: `give_back`, or `give_back_to_holder`.
    type GiveBack =
        for<'p> fn(&BoundedQueue<u32>, &'p Pool<u32>, Lease<'p, u32>) -> Option<Lease<'p, u32>>;

    /// What the scheduler does with a worker: run every queued request, then give it back.
    fn drain<'p>(
        queue: &BoundedQueue<u32>,
        pool: &'p Pool<u32>,
        lease: Lease<'p, u32>,
        done: &AtomicUsize,
    ) {
        drain_with(queue, pool, lease, done, usize::MAX, give_back);
    }

    /// Runs up to `batch` queued requests, then gives the worker back with `give`, until `give`
    /// says nothing is left for this thread.
    fn drain_with<'p>(
        queue: &BoundedQueue<u32>,
        pool: &'p Pool<u32>,
        mut lease: Lease<'p, u32>,
        done: &AtomicUsize,
        batch: usize,
        give: GiveBack,
    ) {
        loop {
            for _ in 0..batch {
                if queue.pop().is_none() {
                    break;
                }
                done.fetch_add(1, Ordering::SeqCst);
            }
            match give(queue, pool, lease) {
                Some(l) => lease = l,
                None => return,
            }
        }
    }

    fn submit(queue: &BoundedQueue<u32>, pool: &Pool<u32>, done: &AtomicUsize) {
        queue.push(1).expect("room");
        if let Some(lease) = claim_after_queueing(pool) {
            drain(queue, pool, lease, done);
        }
    }

    /// Every request ran, the queue is empty and every worker is idle.
    fn assert_none_stranded(
        queue: &BoundedQueue<u32>,
        pool: &Pool<u32>,
        done: &AtomicUsize,
        submitters: usize,
        workers: u32,
    ) {
        assert_eq!(
            done.load(Ordering::SeqCst),
            submitters,
            "a request was stranded"
        );
        assert!(queue.is_empty());
        assert_eq!(pool.idle(), workers as usize);
    }

    /// A timed policy's leader waits until the rows it wants are counted, then takes them: they are
    /// in the queue, however the submission interleaves with its reads (fails with the count taken
    /// before the push).
    #[test]
    fn every_row_counted_can_be_taken() {
        loom::model(|| {
            let queue = Arc::new(BoundedQueue::new(4));
            let queued = Arc::new(AtomicIsize::new(0));
            let submitters: Vec<_> = (0..1)
                .map(|_| {
                    let (queue, queued) = (queue.clone(), queued.clone());
                    loom::thread::spawn(move || push_counted(&queue, &queued, 1u32, 1).unwrap())
                })
                .collect();
            while counted(&queued) < 1 {
                loom::thread::yield_now();
            }
            for _ in 0..1 {
                assert!(
                    pop_counted(&queue, &queued, |_| 1).is_some(),
                    "a row was counted before its request could be taken"
                );
            }
            for s in submitters {
                s.join().unwrap();
            }
            assert_eq!(counted(&queued), 0);
        });
    }

    /// However submissions and give-backs interleave, once every thread has returned no request
    /// is left in the queue and every worker is idle.
    fn no_request_is_stranded(submitters: usize, workers: u32, preemptions: Option<usize>) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = preemptions;
        builder.check(move || {
            let queue = Arc::new(BoundedQueue::new(8));
            let pool = Arc::new(Pool::new((0..workers).collect()));
            let done = Arc::new(AtomicUsize::new(0));
            let threads: Vec<_> = (0..submitters)
                .map(|_| {
                    let (queue, pool, done) = (queue.clone(), pool.clone(), done.clone());
                    loom::thread::spawn(move || submit(&queue, &pool, &done))
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            assert_none_stranded(&queue, &pool, &done, submitters, workers);
        });
    }

    /// A caller that runs one request and hands the rest to a helper thread, as
    /// `Scheduler::release_and_drain` does once its share is spent.
    fn submit_bounded(
        queue: &Arc<BoundedQueue<u32>>,
        pool: &Arc<Pool<u32>>,
        done: &Arc<AtomicUsize>,
        helpers: &Arc<loom::sync::Mutex<Vec<loom::thread::JoinHandle<()>>>>,
    ) {
        queue.push(1).expect("room");
        let Some(lease) = claim_after_queueing(pool) else {
            return;
        };
        if queue.pop().is_some() {
            done.fetch_add(1, Ordering::SeqCst);
        }
        if give_back_then_queued(queue, lease) {
            let (queue, pool, done) = (queue.clone(), pool.clone(), done.clone());
            let helper = loom::thread::spawn(move || {
                if let Some(lease) = claim_after_queueing(&pool) {
                    drain(&queue, &pool, lease, &done);
                }
            });
            helpers.lock().unwrap().push(helper);
        }
    }

    /// With callers that hand their backlog to helpers, still no request is stranded.
    fn no_request_is_stranded_with_helpers(submitters: usize, workers: u32, preemptions: usize) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(preemptions);
        builder.check(move || {
            let queue = Arc::new(BoundedQueue::new(8));
            let pool = Arc::new(Pool::new((0..workers).collect()));
            let done = Arc::new(AtomicUsize::new(0));
            let helpers = Arc::new(loom::sync::Mutex::new(Vec::new()));
            let threads: Vec<_> = (0..submitters)
                .map(|_| {
                    let (queue, pool, done, helpers) =
                        (queue.clone(), pool.clone(), done.clone(), helpers.clone());
                    loom::thread::spawn(move || submit_bounded(&queue, &pool, &done, &helpers))
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            let helpers: Vec<_> = std::mem::take(&mut *helpers.lock().unwrap());
            for h in helpers {
                h.join().unwrap();
            }
            assert_none_stranded(&queue, &pool, &done, submitters, workers);
        });
    }

    /// A caller that only queues its request and, if a worker is idle, has a helper thread claim
    /// it, as `Scheduler::submit` does for `InferOptions::queue_only`.
    fn submit_queue_only(
        queue: &Arc<BoundedQueue<u32>>,
        pool: &Arc<Pool<u32>>,
        done: &Arc<AtomicUsize>,
    ) -> Option<loom::thread::JoinHandle<()>> {
        queue.push(1).expect("room");
        if !idle_after_queueing(pool) {
            return None;
        }
        let (queue, pool, done) = (queue.clone(), pool.clone(), done.clone());
        Some(loom::thread::spawn(move || {
            if let Some(lease) = claim_after_queueing(&pool) {
                drain(&queue, &pool, lease, &done);
            }
        }))
    }

    /// A queue-only caller beside one that runs its own request: none is stranded.
    fn no_request_is_stranded_queue_only(workers: u32) {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(3);
        builder.check(move || {
            let queue = Arc::new(BoundedQueue::new(8));
            let pool = Arc::new(Pool::new((0..workers).collect()));
            let done = Arc::new(AtomicUsize::new(0));
            let only = {
                let (queue, pool, done) = (queue.clone(), pool.clone(), done.clone());
                loom::thread::spawn(move || submit_queue_only(&queue, &pool, &done))
            };
            let runs = {
                let (queue, pool, done) = (queue.clone(), pool.clone(), done.clone());
                loom::thread::spawn(move || submit(&queue, &pool, &done))
            };
            runs.join().unwrap();
            if let Some(helper) = only.join().unwrap() {
                helper.join().unwrap();
            }
            assert_none_stranded(&queue, &pool, &done, 2, workers);
        });
    }

    /// A helper that leaves what is queued to another thread holding a worker, after each batch
    /// (one request here), as `Scheduler::drain` does with work not worth sharing.
    fn drain_leaving<'p>(
        queue: &BoundedQueue<u32>,
        pool: &'p Pool<u32>,
        lease: Lease<'p, u32>,
        done: &AtomicUsize,
    ) {
        drain_with(queue, pool, lease, done, 1, give_back_to_holder);
    }

    /// Two helpers that each leave the queue to the other, beside a caller that queues one more
    /// request: whoever leaves last sees the queue, and none is stranded (fails when
    /// `give_back_to_holder` counts on a holder without its fence).
    #[test]
    fn helpers_that_leave_work_to_each_other_strand_nothing() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(|| {
            let queue = Arc::new(BoundedQueue::new(8));
            let pool = Arc::new(Pool::new(vec![0u32, 1]));
            let done = Arc::new(AtomicUsize::new(0));
            queue.push(1).expect("room");
            let helpers: Vec<_> = (0..2)
                .map(|_| {
                    let lease_pool = pool.clone();
                    let (queue, done) = (queue.clone(), done.clone());
                    loom::thread::spawn(move || {
                        if let Some(lease) = lease_pool.try_acquire() {
                            drain_leaving(&queue, &lease_pool, lease, &done);
                        }
                    })
                })
                .collect();
            let caller = {
                let (queue, pool, done) = (queue.clone(), pool.clone(), done.clone());
                loom::thread::spawn(move || {
                    queue.push(1).expect("room");
                    if let Some(lease) = claim_after_queueing(&pool) {
                        drain_leaving(&queue, &pool, lease, &done);
                    }
                })
            };
            for h in helpers {
                h.join().unwrap();
            }
            caller.join().unwrap();
            assert_none_stranded(&queue, &pool, &done, 2, 2);
        });
    }

    /// A helper that leaves work to a caller holding the other worker, which runs one request, has
    /// its callback resubmit two more from that thread (pushes with no fence after them), gives its
    /// worker back having seen the queue and calls a helper for what is left: none is stranded
    /// (fails when `give_back_to_holder` leaves with requests queued and no worker held).
    #[test]
    fn a_helper_leaving_work_to_a_caller_that_hands_off_strands_nothing() {
        let mut builder = loom::model::Builder::new();
        builder.preemption_bound = Some(2);
        builder.check(|| {
            let queue = Arc::new(BoundedQueue::new(8));
            let pool = Arc::new(Pool::new(vec![0u32, 1]));
            let done = Arc::new(AtomicUsize::new(0));
            let pushed = Arc::new(AtomicUsize::new(2));
            queue.push(1).expect("room");
            queue.push(1).expect("room");
            let leaving = {
                let (queue, pool, done) = (queue.clone(), pool.clone(), done.clone());
                loom::thread::spawn(move || {
                    if let Some(lease) = pool.try_acquire() {
                        drain_leaving(&queue, &pool, lease, &done);
                    }
                })
            };
            let caller = {
                let (queue, pool, done, pushed) =
                    (queue.clone(), pool.clone(), done.clone(), pushed.clone());
                loom::thread::spawn(move || {
                    let lease = pool.try_acquire()?;
                    if queue.pop().is_some() {
                        done.fetch_add(1, Ordering::SeqCst);
                        pushed.fetch_add(2, Ordering::SeqCst);
                        queue.push(1).expect("room");
                        queue.push(1).expect("room");
                    }
                    if !give_back_then_queued(&queue, lease) {
                        return None;
                    }
                    Some(loom::thread::spawn(move || {
                        if let Some(lease) = claim_after_queueing(&pool) {
                            drain_leaving(&queue, &pool, lease, &done);
                        }
                    }))
                })
            };
            leaving.join().unwrap();
            if let Some(helper) = caller.join().unwrap() {
                helper.join().unwrap();
            }
            assert_none_stranded(&queue, &pool, &done, pushed.load(Ordering::SeqCst), 2);
        });
    }

    #[test]
    fn a_queue_only_caller_beside_a_caller_one_session() {
        no_request_is_stranded_queue_only(1);
    }

    #[test]
    fn a_queue_only_caller_beside_a_caller_two_sessions() {
        no_request_is_stranded_queue_only(2);
    }

    #[test]
    fn two_callers_one_session_with_helpers() {
        no_request_is_stranded_with_helpers(2, 1, 3);
    }

    #[test]
    fn two_callers_two_sessions_with_helpers() {
        // loom runs at most 5 threads: the test's, two callers and their helpers.
        no_request_is_stranded_with_helpers(2, 2, 3);
    }

    #[test]
    fn two_callers_one_session() {
        no_request_is_stranded(2, 1, Some(3));
    }

    #[test]
    fn three_callers_two_sessions() {
        no_request_is_stranded(3, 2, Some(2));
    }
}
