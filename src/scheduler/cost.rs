//! Learning whether batching pays for a model: the cost per row of its runs, by batch size.
//!
//! Costs are wall time, read on the monotonic clock (`Instant`, no system call on Linux, macOS or
//! Windows), around one run in eight. The thread's CPU clock (`CLOCK_THREAD_CPUTIME_ID`) was used
//! before, and it cost more than it measured: reading it is a system call, about 0.5 µs on a KVM
//! guest, so a tiny MLP's one-row run (1.5 µs) was measured at 4–6 µs. Worse, the kernel settles
//! the thread's time slice when that clock is read, so a thread whose slice is spent is preempted
//! right there, inside the run, holding a session: with 8 blocking callers on 2 CPUs, 7.5% of the
//! tiny MLP's requests found both sessions held and were queued, against 2–4% with the monotonic
//! clock (see BENCHMARKS.md).
//!
//! Wall time also counts the time a thread is descheduled in the middle of a run, which with more
//! busy threads than cores would charge the scheduler's time slices to the batch size. A sample
//! therefore counts for at most twice the current mean of its group: a run that was descheduled
//! (milliseconds, against microseconds for the run) moves the mean up by an eighth at most, while
//! a cost that really grew is followed within a few samples. A sample below the mean moves it half
//! way down at once: descheduling only ever lengthens a run, so the shorter samples are the true
//! ones. Until a group has [`WARM`] samples its estimate is the shortest of them, and its first
//! counts for at most twice the cost per row of the nearest smaller group measured: a descheduled
//! first sample of the full batch size, rarely run once callers mostly find a session idle, made
//! the tiny MLP look like a model with long batches for the rest of a run (its queue went to
//! helper threads, at a quarter of the throughput).
//!
//! Runs are grouped by rows into powers of two (1, 2–3, 4–7, …). For each group an exponentially
//! weighted mean of nanoseconds per row is kept (lock-free; concurrent updates may lose one sample,
//! which an average can afford). Batches fill up to the top of the cheapest group seen. The groups
//! beside it are search steps. Until the group above has eight samples batches may grow into it
//! and every run of it is measured (a first sample, perhaps descheduled, decides nothing); after
//! that one batch in eight still may. Another batch in eight is held to the group below, whose
//! estimate would otherwise stay as it was when the search passed it: PaddleOCR's classifier,
//! cheapest at 2–3 rows, kept batches of 4–7 for whole runs at three quarters of the throughput
//! after one inflated estimate of 2–3. For a model whose cost per row falls with batch size
//! (small models, where ONNX Runtime's per-call overhead dominates) the search climbs to
//! `max_batch_size`; for one where it does not (large convolutions that outgrow the caches),
//! batches stay small.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const GROUPS: usize = 12;
/// One batch in this many may grow into the group above the cheapest, and another is held to the
/// group below it (see [`BatchCost::limit`]).
const EXPLORE_EVERY: u64 = 8;
const SAMPLE_EVERY: u64 = 8;
/// Samples a group needs before the search trusts it: until then each of its runs is sampled, and
/// batches may grow into it (see the module's doc).
const WARM: u32 = 8;
/// A sample counts for at most this many times its group's mean (see the module's doc).
const MOST_OVER_MEAN: f64 = 2.0;

/// A measurement in progress, or none when this run is not sampled.
pub(crate) struct Sample(Option<Instant>);

impl Sample {
    pub(crate) fn finish(self, cost: &BatchCost, rows: usize) {
        if let Some(start) = self.0 {
            cost.record(rows, start.elapsed());
        }
    }
}

pub(crate) struct BatchCost {
    /// f64 bits of the mean ns per row for each group; 0 means not measured yet.
    ns_per_row: [AtomicU64; GROUPS],
    /// Samples recorded for each group, counted up to [`WARM`].
    samples: [AtomicU32; GROUPS],
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
            samples: std::array::from_fn(|_| AtomicU32::new(0)),
            formed: AtomicU64::new(0),
            runs: AtomicU64::new(0),
        }
    }

    /// Starts measuring a run of `rows` rows: one run in `SAMPLE_EVERY`, and every run of a group
    /// with fewer than [`WARM`] samples.
    pub(crate) fn start(&self, rows: usize) -> Sample {
        // A plain load and store, not an atomic add (a locked instruction on every run, the
        // direct path's included): threads that count at once may lose counts, or set the count
        // back by a few (one descheduled between its load and its store), which only moves which
        // run is sampled next.
        let n = self.runs.load(Ordering::Relaxed);
        self.runs.store(n.wrapping_add(1), Ordering::Relaxed);
        let sampled = n.is_multiple_of(SAMPLE_EVERY) || !self.warm(group(rows));
        Sample(sampled.then(Instant::now))
    }

    /// Whether group `g` has [`WARM`] samples (a group past the last is: there is nothing to
    /// measure).
    fn warm(&self, g: usize) -> bool {
        self.samples
            .get(g)
            .is_none_or(|n| n.load(Ordering::Relaxed) >= WARM)
    }

    /// Records a run of `rows` rows that took `elapsed`.
    pub(crate) fn record(&self, rows: usize, elapsed: Duration) {
        if rows == 0 {
            return;
        }
        let sample = elapsed.as_nanos() as f64 / rows as f64;
        let g = group(rows);
        let warming = !self.warm(g);
        if warming {
            self.samples[g].fetch_add(1, Ordering::Relaxed);
        }
        let slot = &self.ns_per_row[g];
        let old = f64::from_bits(slot.load(Ordering::Relaxed));
        let new = if old == 0.0 {
            // A group's first sample counts for at most twice the cost per row of the nearest
            // smaller group measured: rows do not cost much more in a batch one size up, and a
            // descheduled first sample of a group that is rarely run (the full batch size, once
            // callers mostly find a session) would otherwise stand until its next sample.
            (0..g)
                .rev()
                .map(|below| f64::from_bits(self.ns_per_row[below].load(Ordering::Relaxed)))
                .find(|v| *v > 0.0)
                .map_or(sample, |below| sample.min(below * MOST_OVER_MEAN))
        } else if warming {
            // Until the group is warm, its shortest sample: time only ever adds to a run, so
            // the shortest is the truest (the first run of a session, and one descheduled in
            // the middle, are forgotten at the next).
            sample.min(old)
        } else if sample < old {
            // Time only ever adds to a run, so a shorter one is believed at once, half way:
            // a group whose first sample was descheduled is right again within a few samples
            // (groups that are rarely run, such as the full batch size, get few).
            old + (sample - old) / 2.0
        } else {
            old + (sample.min(old * MOST_OVER_MEAN) - old) / 8.0
        };
        slot.store(new.to_bits(), Ordering::Relaxed);
    }

    /// The most rows the next batch should hold, at most `max`: up to the top of the cheapest
    /// group measured; of the group above it while that one has fewer than [`WARM`] samples, and
    /// in one batch in [`EXPLORE_EVERY`]; of the group below it in another one in
    /// [`EXPLORE_EVERY`]. The search moves a group at a time.
    pub(crate) fn limit(&self, max: usize) -> usize {
        let turn = self.formed.fetch_add(1, Ordering::Relaxed) % EXPLORE_EVERY;
        let best = (0..GROUPS)
            .filter_map(|g| {
                let v = f64::from_bits(self.ns_per_row[g].load(Ordering::Relaxed));
                (v > 0.0).then_some((g, v))
            })
            .min_by(|a, b| a.1.total_cmp(&b.1));
        let Some((g, _)) = best else {
            return max;
        };
        let top = if turn == 0 || !self.warm(g + 1) {
            g + 1
        } else if turn == EXPLORE_EVERY / 2 && g > 0 {
            g - 1
        } else {
            g
        };
        // The top of group `top`: e.g. group 2 (4–7 rows) → 7.
        ((1usize << (top + 1).min(usize::BITS as usize - 1)) - 1).clamp(1, max)
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

    /// The limit most batches get, without the search's steps.
    fn steady_limit(c: &BatchCost, max: usize) -> usize {
        let limits: Vec<usize> = (0..EXPLORE_EVERY).map(|_| c.limit(max)).collect();
        let count = |l: &usize| limits.iter().filter(|x| *x == l).count();
        *limits.iter().max_by_key(|l| count(l)).unwrap()
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
        assert_eq!(steady_limit(&c, 32), 3, "best is 2-3 rows");
        // 4-7 is still tried now and then, and nothing bigger: a batch of 32 of these would
        // cost its rows half as much again.
        let limits: Vec<usize> = (0..EXPLORE_EVERY).map(|_| c.limit(32)).collect();
        assert!(limits.contains(&7), "{limits:?}");
        assert_eq!(limits.iter().max(), Some(&7), "{limits:?}");
    }

    /// PaddleOCR's direction classifier on 2 vCPUs: batch 4 is the cheapest per row, 8 costs
    /// a third more. Before the search moved a group at a time, one batch in 32 took 32 rows,
    /// and batching ran at 0.8 of no batching with 64 callers.
    #[test]
    fn the_search_stops_below_a_dearer_group() {
        let c = cost(&[(1, 680_000), (4, 650_000), (8, 850_000)]);
        assert_eq!(steady_limit(&c, 32), 7);
        assert!((0..4 * EXPLORE_EVERY).all(|_| c.limit(32) <= 15));
    }

    /// Batches grow a group at a time, as long as the group above is unmeasured or cheaper.
    #[test]
    fn the_search_moves_up_while_bigger_batches_are_cheaper() {
        let c = cost(&[(1, 3000)]);
        assert_eq!(steady_limit(&c, 32), 3, "2-3 is not measured yet");
        for _ in 0..WARM {
            c.record(2, Duration::from_nanos(2 * 1600));
        }
        assert_eq!(steady_limit(&c, 32), 7);
        for _ in 0..WARM {
            c.record(4, Duration::from_nanos(4 * 2000));
        }
        assert_eq!(steady_limit(&c, 32), 3, "4-7 costs more per row than 2-3");
    }

    /// The group below the cheapest is measured again now and then: an estimate inflated when
    /// the search passed it is not kept for ever.
    #[test]
    fn the_group_below_the_cheapest_is_measured_again() {
        // 2-3 rows measured at a bad moment, 4-7 the cheapest, 8-15 dearer.
        let c = cost(&[(2, 1_300_000), (4, 850_000), (8, 1_100_000)]);
        assert_eq!(steady_limit(&c, 32), 7);
        let limits: Vec<usize> = (0..EXPLORE_EVERY).map(|_| c.limit(32)).collect();
        assert!(limits.contains(&3), "{limits:?}");
        assert!(limits.contains(&15), "{limits:?}");
        // Measured again at its true cost, it is the cheapest.
        for _ in 0..4 {
            c.record(3, Duration::from_nanos(3 * 650_000));
        }
        assert_eq!(steady_limit(&c, 32), 3);
    }

    /// A group with few samples is still searched, and each of its runs measured. With 64
    /// callers on 2 CPUs the tiny MLP's first batch of 2 rows could be measured descheduled (6 µs
    /// a row, against 4 µs for single rows, themselves inflated); its batches were then tried
    /// in one batch in 8 and measured in one run in 8, and the model ran batches of 1.2 rows at a
    /// third of its throughput for whole seconds.
    #[test]
    fn a_group_is_searched_until_it_has_enough_samples() {
        let c = cost(&[(1, 4000)]);
        c.record(2, Duration::from_nanos(2 * 6000));
        assert_eq!(steady_limit(&c, 32), 3, "one sample of 2-3 decides nothing");
        assert!(
            (0..SAMPLE_EVERY).all(|_| c.start(2).0.is_some()),
            "every run of 2-3 is measured"
        );
        for _ in 1..WARM {
            c.record(2, Duration::from_nanos(2 * 1000));
        }
        assert_eq!(steady_limit(&c, 32), 7, "2-3 is the cheapest now");
        // Once warm, one run in SAMPLE_EVERY.
        let sampled = (0..SAMPLE_EVERY * 4)
            .filter(|_| c.start(2).0.is_some())
            .count();
        assert_eq!(sampled, 4);
    }

    /// A run descheduled for a time slice (5 ms against 1 µs) barely moves the mean; a cost that
    /// really grew is followed.
    #[test]
    fn a_descheduled_run_barely_counts_and_a_real_change_is_followed() {
        let c = cost(&[(1, 1_000)]);
        c.record(1, Duration::from_millis(5));
        let after_outlier = c.estimate(1);
        assert!(
            after_outlier <= Duration::from_nanos(1_125),
            "one descheduled run moved the mean to {after_outlier:?}"
        );
        for _ in 0..40 {
            c.record(1, Duration::from_nanos(4_000));
        }
        let after_change = c.estimate(1);
        assert!(
            after_change >= Duration::from_nanos(3_800),
            "a cost that quadrupled is estimated at {after_change:?}"
        );
    }

    /// A group whose first sample was descheduled (5 ms against 1 µs) is right again within a
    /// few samples: a rarely run group (the full batch size) gets few.
    #[test]
    fn a_descheduled_first_sample_is_soon_forgotten() {
        let c = BatchCost::new();
        c.record(1, Duration::from_millis(5));
        for _ in 0..16 {
            c.record(1, Duration::from_nanos(1_000));
        }
        let estimate = c.estimate(1);
        assert!(
            estimate <= Duration::from_nanos(1_200),
            "16 runs of 1 µs after one of 5 ms: estimated at {estimate:?}"
        );
    }

    /// A group's first sample, descheduled, counts for at most twice the cost per row of the
    /// group below it; and until the group is warm, its next shorter sample replaces it.
    #[test]
    fn a_descheduled_first_sample_of_a_rare_group_is_held_to_its_neighbour() {
        let c = cost(&[(16, 500)]);
        c.record(32, Duration::from_millis(5));
        let held = c.estimate(32);
        assert!(
            held <= Duration::from_nanos(32 * 1_000),
            "a first sample of 5 ms for 32 rows, beside 0.5 µs a row for 16: estimated at {held:?}"
        );
        c.record(32, Duration::from_nanos(32 * 400));
        let next = c.estimate(32);
        assert_eq!(
            next,
            Duration::from_nanos(32 * 400),
            "the shorter second sample stands"
        );
    }

    #[test]
    fn the_limit_never_exceeds_max_or_falls_below_one() {
        let c = cost(&[(1, 10)]);
        assert_eq!(steady_limit(&c, 2), 2);
        assert_eq!(steady_limit(&c, 1), 1);
    }
}
