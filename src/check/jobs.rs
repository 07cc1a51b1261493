//! How a check shares a set between parallel jobs: contiguous runs of migrations, each proved in
//! its own database of the sandbox once the migrations before the run are applied (up only,
//! unproved). Pure: the costs in, the runs out.

use std::ops::Range;

/// What one migration costs the job that holds it, in units of a cycled migration's proof (up,
/// down, up again and three schema snapshots; measured on crates-io, 7 ms).
const CYCLED: f64 = 1.0;
/// A migration applied once and snapshotted (a base migration in PR mode).
const PASSED: f64 = 0.25;
/// A migration a job applies before its run, up only, with no snapshot (about 0.8 ms).
const BEFORE: f64 = 0.12;

/// Fewer cycled migrations than this per job, and a job's own database and catalog read cost
/// more than it saves.
pub const MIN_CYCLED_PER_JOB: usize = 16;

/// The runs of `cycled` (whether each migration gets the full proof) for at most `jobs` jobs,
/// in order, covering every index once, so that the slowest job is as fast as it can be.
pub fn split(cycled: &[bool], jobs: usize) -> Vec<Range<usize>> {
    let count = cycled.iter().filter(|c| **c).count();
    let jobs = jobs.min(count / MIN_CYCLED_PER_JOB).max(1);
    if jobs == 1 || cycled.is_empty() {
        return std::iter::once(0..cycled.len()).collect();
    }
    let weight = |i: usize| if cycled[i] { CYCLED } else { PASSED };
    // The runs a greedy walk makes when no job may cost more than `most`.
    let runs = |most: f64| {
        let mut out = Vec::new();
        let mut start = 0;
        while start < cycled.len() {
            let mut cost = BEFORE * start as f64 + weight(start);
            let mut end = start + 1;
            while end < cycled.len() && cost + weight(end) <= most {
                cost += weight(end);
                end += 1;
            }
            out.push(start..end);
            start = end;
        }
        out
    };
    let total: f64 = (0..cycled.len()).map(weight).sum();
    let (mut low, mut high) = (total / jobs as f64, total);
    for _ in 0..48 {
        let mid = (low + high) / 2.0;
        if runs(mid).len() <= jobs {
            high = mid;
        } else {
            low = mid;
        }
    }
    runs(high)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost(cycled: &[bool], run: &Range<usize>) -> f64 {
        BEFORE * run.start as f64
            + run
                .clone()
                .map(|i| if cycled[i] { CYCLED } else { PASSED })
                .sum::<f64>()
    }

    #[test]
    fn a_small_set_or_one_job_is_one_run() {
        assert_eq!(split(&[true; 20], 4), vec![0..20]);
        assert_eq!(split(&[true; 300], 1), vec![0..300]);
        assert_eq!(split(&[], 2), vec![0..0]);
        // PR mode: two new migrations after 280 on the base are not worth a second database.
        let mut pr = vec![false; 280];
        pr.extend([true, true]);
        assert_eq!(split(&pr, 2), vec![0..282]);
    }

    #[test]
    fn runs_cover_the_set_in_order_and_balance_their_cost() {
        let cycled = vec![true; 285];
        for jobs in [2, 3, 4] {
            let runs = split(&cycled, jobs);
            assert_eq!(runs.len(), jobs);
            assert_eq!(runs.first().map(|r| r.start), Some(0));
            assert_eq!(runs.last().map(|r| r.end), Some(285));
            assert!(runs.windows(2).all(|w| w[0].end == w[1].start));
            let costs: Vec<f64> = runs.iter().map(|r| cost(&cycled, r)).collect();
            let (min, max) = costs
                .iter()
                .fold((f64::MAX, 0f64), |(a, b), c| (a.min(*c), b.max(*c)));
            assert!(max - min <= 1.0 + BEFORE, "{jobs}: {costs:?}");
            // Later runs are shorter: they first apply what comes before them.
            assert!(runs[0].len() > runs[jobs - 1].len(), "{runs:?}");
        }
    }

    #[test]
    fn caps_the_jobs_by_the_cycled_migrations() {
        assert_eq!(split(&[true; MIN_CYCLED_PER_JOB * 2], 4).len(), 2);
        assert_eq!(split(&[true; MIN_CYCLED_PER_JOB * 2 - 1], 4).len(), 1);
    }
}
