//! Learning whether batching pays for a model: the cost per row of its runs, by batch size.
//!
//! Costs are the running thread's CPU time, not wall time: with more threads than cores a thread
//! is often descheduled in the middle of a run, and wall time would charge that to the batch size.
//! ONNX Runtime runs a session on the calling thread (one intra-op thread, inferkit's default), so
//! this is the run's compute. Reading that clock is a system call, so one run in eight is measured,
//! and one in 64 of those measured to take under 20 µs.
//! (Windows has no thread CPU clock fine enough for one run; there the cost is wall time, see
//! `platform::thread_cpu_time`.)
//!
//! Runs are grouped by rows into powers of two (1, 2–3, 4–7, …). For each group an exponentially
//! weighted mean of nanoseconds per row is kept (lock-free; concurrent updates may lose one sample,
//! which an average can afford). A batch may grow to the group above the cheapest one seen, so the
//! next size up keeps being measured; every 32nd batch may use the full `max_batch_size`, so that
//! estimates of large batches stay current. For a model whose cost per row falls with batch size
//! (small models, where ONNX Runtime's per-call overhead dominates) the limit is `max_batch_size`;
//! for one where it does not (large convolutions that outgrow the caches), batches stay small.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

const GROUPS: usize = 12;
const EXPLORE_EVERY: u64 = 32;
const SAMPLE_EVERY: u64 = 8;
/// Runs measured to take less than this many nanoseconds are sampled one in `SAMPLE_EVERY_CHEAP`.
const CHEAP_NS: f64 = 20_000.0;
const SAMPLE_EVERY_CHEAP: u64 = 64;

use crate::platform::thread_cpu_time;

/// A measurement in progress, or none when this run is not sampled.
pub(crate) struct Sample(Option<Duration>);

impl Sample {
    pub(crate) fn finish(self, cost: &BatchCost, rows: usize) {
        if let Some(start) = self.0 {
            cost.record(rows, thread_cpu_time().saturating_sub(start));
        }
    }
}

pub(crate) struct BatchCost {
    /// f64 bits of the mean ns per row for each group; 0 means not measured yet.
    ns_per_row: [AtomicU64; GROUPS],
    formed: AtomicU64,
    runs: AtomicU64,
}

fn group(rows: usize) -> usize {
    ((usize::BITS - 1 - rows.max(1).leading_zeros()) as usize).min(GROUPS - 1)
}

impl BatchCost {
    pub(crate) fn new() -> BatchCost {
        BatchCost {
            ns_per_row: std::array::from_fn(|_| AtomicU64::new(0)),
            formed: AtomicU64::new(0),
            runs: AtomicU64::new(0),
        }
    }

    /// Starts measuring a run of `rows` rows: one run in `SAMPLE_EVERY`, or one in
    /// `SAMPLE_EVERY_CHEAP` when runs of that size are known to take under `CHEAP_NS` (the two
    /// clock readings, system calls, would cost a few percent of them).
    pub(crate) fn start(&self, rows: usize) -> Sample {
        let rows = rows.max(1);
        let ns_per_row = f64::from_bits(self.ns_per_row[group(rows)].load(Ordering::Relaxed));
        let every = if ns_per_row > 0.0 && ns_per_row * (rows as f64) < CHEAP_NS {
            SAMPLE_EVERY_CHEAP
        } else {
            SAMPLE_EVERY
        };
        let sampled = self
            .runs
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(every);
        Sample(sampled.then(thread_cpu_time))
    }

    /// Records a run of `rows` rows that took `elapsed`.
    pub(crate) fn record(&self, rows: usize, elapsed: Duration) {
        if rows == 0 {
            return;
        }
        let sample = elapsed.as_nanos() as f64 / rows as f64;
        let slot = &self.ns_per_row[group(rows)];
        let old = f64::from_bits(slot.load(Ordering::Relaxed));
        let new = if old == 0.0 {
            sample
        } else {
            old + (sample - old) / 8.0
        };
        slot.store(new.to_bits(), Ordering::Relaxed);
    }

    /// The most rows the next batch should hold, at most `max`.
    pub(crate) fn limit(&self, max: usize) -> usize {
        if self
            .formed
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(EXPLORE_EVERY)
        {
            return max;
        }
        let best = (0..GROUPS)
            .filter_map(|g| {
                let v = f64::from_bits(self.ns_per_row[g].load(Ordering::Relaxed));
                (v > 0.0).then_some((g, v))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            None => max,
            // Up to the top of the next group: e.g. best 2–3 rows → batches of up to 7.
            Some((g, _)) => ((1usize << (g + 2).min(usize::BITS as usize - 1)) - 1).clamp(1, max),
        }
    }

    /// What a run of `rows` rows is expected to take: the measured cost per row of the nearest
    /// measured size, times `rows`; zero before anything was measured.
    pub(crate) fn estimate(&self, rows: usize) -> Duration {
        let want = group(rows);
        let nearest = (0..GROUPS)
            .filter_map(|g| {
                let v = f64::from_bits(self.ns_per_row[g].load(Ordering::Relaxed));
                (v > 0.0).then_some((g.abs_diff(want), v))
            })
            .min_by_key(|(distance, _)| *distance);
        nearest.map_or(Duration::ZERO, |(_, ns)| {
            Duration::from_nanos((ns * rows as f64).min(u64::MAX as f64) as u64)
        })
    }

    /// Mean ns per row measured for each group that has been measured: `(lowest rows, ns)`.
    pub(crate) fn snapshot(&self) -> Vec<(usize, f64)> {
        (0..GROUPS)
            .filter_map(|g| {
                let v = f64::from_bits(self.ns_per_row[g].load(Ordering::Relaxed));
                (v > 0.0).then_some((1usize << g, v))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(samples: &[(usize, u64)]) -> BatchCost {
        let c = BatchCost::new();
        for (rows, ns_per_row) in samples {
            for _ in 0..20 {
                c.record(*rows, Duration::from_nanos(ns_per_row * *rows as u64));
            }
        }
        c
    }

    /// The limit, skipping the periodic exploration.
    fn steady_limit(c: &BatchCost, max: usize) -> usize {
        (0..EXPLORE_EVERY).map(|_| c.limit(max)).min().unwrap()
    }

    #[test]
    fn groups_are_powers_of_two() {
        assert_eq!(
            [
                group(1),
                group(2),
                group(3),
                group(4),
                group(7),
                group(8),
                group(32)
            ],
            [0, 1, 1, 2, 2, 3, 5]
        );
        assert_eq!(group(usize::MAX), GROUPS - 1);
    }

    #[test]
    fn unmeasured_models_may_batch_fully() {
        assert_eq!(steady_limit(&BatchCost::new(), 32), 32);
    }

    #[test]
    fn cheaper_rows_in_big_batches_allow_big_batches() {
        // A small model: per-call overhead dominates, rows get cheaper as batches grow.
        let c = cost(&[
            (1, 3000),
            (2, 1600),
            (4, 900),
            (8, 500),
            (16, 300),
            (32, 200),
        ]);
        assert_eq!(steady_limit(&c, 32), 32);
    }

    #[test]
    fn rows_that_cost_more_in_big_batches_keep_batches_small() {
        // A large convolution: rows cost more in big batches (caches), a little less in pairs.
        let c = cost(&[
            (1, 900_000),
            (2, 850_000),
            (4, 950_000),
            (16, 1_300_000),
            (32, 1_500_000),
        ]);
        assert_eq!(
            steady_limit(&c, 32),
            7,
            "best is 2-3 rows: batches of up to 7 keep measuring 4-7"
        );
        // and the full size is still tried now and then
        assert!((0..EXPLORE_EVERY).any(|_| c.limit(32) == 32));
    }

    #[test]
    fn the_limit_never_exceeds_max_or_falls_below_one() {
        let c = cost(&[(1, 10)]);
        assert_eq!(steady_limit(&c, 2), 2);
        assert_eq!(steady_limit(&c, 1), 1);
    }
}
