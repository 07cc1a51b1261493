//! How a check shares a set between parallel jobs: contiguous runs of migrations, each proved in
//! its own database of the sandbox once the migrations before the run are applied (up only,
//! unproved), and where a job that finishes early takes over the rest of a slower one's run
//! (`take_over`). Pure: the costs in, the runs out.

use std::ops::Range;

/// What a migration costs a job, in milliseconds as measured on the corpora (openmeter,
/// crates-io): a fixed part (round trips, three schema snapshots) and a part that grows with
/// its scripts' size (the statements themselves; about 1 ms per KB for up, down and up again).
struct Cost {
    fixed: f64,
    per_kb: f64,
}

/// A migration proved: up, down, up again and three snapshots.
const CYCLED: Cost = Cost {
    fixed: 3.5,
    per_kb: 1.0,
};
/// A migration applied once and snapshotted (a base migration in PR mode).
const PASSED: Cost = Cost {
    fixed: 1.2,
    per_kb: 0.35,
};
/// A migration a job applies before its run: up only, no snapshot.
const BEFORE: Cost = Cost {
    fixed: 0.5,
    per_kb: 0.35,
};

impl Cost {
    fn of(&self, m: &Weight) -> f64 {
        self.fixed + self.per_kb * m.bytes as f64 / 1024.0
    }
}

/// What a migration costs the job that proves it (or passes it, in PR mode).
pub fn own(m: &Weight) -> f64 {
    if m.cycled { CYCLED.of(m) } else { PASSED.of(m) }
}

/// A fresh database for a job that takes over an earlier run than its own position: creating
/// it, its tracking table and its first schema read.
const FRESH: f64 = 25.0;

/// A take-over that saves less than this (ms by the costs above) is not worth the migrations
/// the finished job must apply first: the costs are estimates, and a failure or a fresh
/// database in the other job's run can make them wrong by more.
const MIN_GAIN: f64 = 10.0;

/// What the split knows of a migration.
#[derive(Debug, Clone, Copy)]
pub struct Weight {
    /// It gets the full proof (PR mode proves only new and changed migrations).
    pub cycled: bool,
    /// The size of its up and down scripts.
    pub bytes: usize,
}

/// Fewer proved migrations than this per job, and a job's own database and catalog read cost
/// more than it saves.
pub const MIN_CYCLED_PER_JOB: usize = 16;

/// The runs of `set` for at most `jobs` jobs, in order, covering every index once, so that the
/// slowest job (its own run, plus applying what comes before it) is as fast as it can be.
pub fn split(set: &[Weight], jobs: usize) -> Vec<Range<usize>> {
    let count = set.iter().filter(|m| m.cycled).count();
    let jobs = jobs.min(count / MIN_CYCLED_PER_JOB).max(1);
    if jobs == 1 || set.is_empty() {
        return std::iter::once(0..set.len()).collect();
    }
    let own = |i: usize| own(&set[i]);
    // What applying the first `k` migrations costs, for every `k`.
    let mut before = vec![0.0; set.len() + 1];
    for (k, m) in set.iter().enumerate() {
        before[k + 1] = before[k] + BEFORE.of(m);
    }
    // The runs a greedy walk makes when no job may cost more than `most`.
    let runs = |most: f64| {
        let mut out = Vec::new();
        let mut start = 0;
        while start < set.len() {
            let mut cost = before[start] + own(start);
            let mut end = start + 1;
            while end < set.len() && cost + own(end) <= most {
                cost += own(end);
                end += 1;
            }
            out.push(start..end);
            start = end;
        }
        out
    };
    let total: f64 = (0..set.len()).map(own).sum();
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

/// Where a job that has finished its run takes over the rest of another's. The finished job's
/// database holds the migrations before `pos`; the other job has begun every migration of its
/// run before `next`, and its run ends at `end`. The finished job proves `m..end` once its
/// database holds the migrations before `m`: it applies `pos..m` (up only), or, when `pos` is
/// past `m`, starts over in a fresh database and applies `..m`; the other job stops before `m`.
/// `m` is chosen so that the later of the two finishes as early as it can. `None` when that
/// saves less than `MIN_GAIN` over the other job going on alone (or nothing is left to take).
/// `pace`: the other job's time so far per unit of cost (1 as estimated; more when its scripts
/// or its failures make it slower), by which its run's proof is weighed.
pub fn take_over(set: &[Weight], pos: usize, next: usize, end: usize, pace: f64) -> Option<usize> {
    let own = |m: &Weight| own(m) * pace;
    if next >= end || end > set.len() || pos > set.len() {
        return None;
    }
    let mut applied = vec![0.0; end + 1];
    for (k, m) in set[..end].iter().enumerate() {
        applied[k + 1] = applied[k] + BEFORE.of(m);
    }
    let catching = |m: usize| {
        if pos <= m {
            applied[m] - applied[pos]
        } else {
            FRESH + applied[m]
        }
    };
    let alone: f64 = set[next..end].iter().map(own).sum();
    // The other job's part (next..m) and the part taken (m..end).
    let mut theirs: f64 = 0.0;
    let mut taken = alone;
    let mut best = None;
    let mut best_cost = alone - MIN_GAIN;
    for (m, weight) in set.iter().enumerate().take(end).skip(next) {
        let cost = theirs.max(catching(m) + taken);
        if cost < best_cost {
            best_cost = cost;
            best = Some(m);
        }
        theirs += own(weight);
        taken -= own(weight);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plain(cycled: &[bool]) -> Vec<Weight> {
        cycled
            .iter()
            .map(|&cycled| Weight { cycled, bytes: 200 })
            .collect()
    }

    fn cost(set: &[Weight], run: &Range<usize>) -> f64 {
        set[..run.start].iter().map(|m| BEFORE.of(m)).sum::<f64>()
            + set[run.clone()]
                .iter()
                .map(|m| if m.cycled { CYCLED.of(m) } else { PASSED.of(m) })
                .sum::<f64>()
    }

    #[test]
    fn a_small_set_or_one_job_is_one_run() {
        assert_eq!(split(&plain(&[true; 20]), 4), vec![(0..20)]);
        assert_eq!(split(&plain(&[true; 300]), 1), vec![(0..300)]);
        assert_eq!(split(&[], 2), vec![(0..0)]);
        // PR mode: two new migrations after 280 on the base are not worth a second database.
        let mut pr = vec![false; 280];
        pr.extend([true, true]);
        assert_eq!(split(&plain(&pr), 2), vec![(0..282)]);
    }

    #[test]
    fn runs_cover_the_set_in_order_and_balance_their_cost() {
        let set = plain(&[true; 285]);
        for jobs in [2, 3, 4] {
            let runs = split(&set, jobs);
            assert_eq!(runs.len(), jobs);
            assert_eq!(runs.first().map(|r| r.start), Some(0));
            assert_eq!(runs.last().map(|r| r.end), Some(285));
            assert!(runs.windows(2).all(|w| w[0].end == w[1].start));
            let costs: Vec<f64> = runs.iter().map(|r| cost(&set, r)).collect();
            let (min, max) = costs
                .iter()
                .fold((f64::MAX, 0f64), |(a, b), c| (a.min(*c), b.max(*c)));
            assert!(max - min <= CYCLED.of(&set[0]) + 0.01, "{jobs}: {costs:?}");
            // Later runs are shorter: they first apply what comes before them.
            assert!(runs[0].len() > runs[jobs - 1].len(), "{runs:?}");
        }
    }

    #[test]
    fn bigger_scripts_weigh_more() {
        // The second half's scripts are ten times the size: the first run takes more of them.
        let mut set = plain(&[true; 200]);
        for m in &mut set[100..] {
            m.bytes = 2000;
        }
        let runs = split(&set, 2);
        assert!(runs[0].end > 100, "{runs:?}");
        let costs: Vec<f64> = runs.iter().map(|r| cost(&set, r)).collect();
        assert!(
            (costs[0] - costs[1]).abs() <= CYCLED.of(&set[199]) + 0.01,
            "{costs:?}"
        );
    }

    #[test]
    fn caps_the_jobs_by_the_cycled_migrations() {
        assert_eq!(split(&plain(&[true; MIN_CYCLED_PER_JOB * 2]), 4).len(), 2);
        assert_eq!(
            split(&plain(&[true; MIN_CYCLED_PER_JOB * 2 - 1]), 4).len(),
            1
        );
    }

    #[test]
    fn a_finished_job_takes_over_the_part_that_balances_both() {
        let set = plain(&[true; 200]);
        // Right behind the other job: a little more than half of what is left goes to it, as
        // the finished job first applies what the other proves.
        let m = take_over(&set, 100, 100, 200, 1.0).unwrap();
        assert!((151..=160).contains(&m), "{m}");
        // Far behind: what it must apply first moves the point later.
        let far = take_over(&set, 0, 100, 200, 1.0).unwrap();
        assert!(far > m, "{far} vs {m}");
        let (theirs, mine) = (
            cost_of(&set[100..far]),
            set[..far].iter().map(|m| BEFORE.of(m)).sum::<f64>() + cost_of(&set[far..]),
        );
        assert!(
            (theirs - mine).abs() <= CYCLED.of(&set[0]) + 0.01,
            "{theirs} vs {mine}"
        );
    }

    #[test]
    fn nothing_is_taken_over_when_it_saves_too_little() {
        let set = plain(&[true; 200]);
        // Two migrations left: splitting them saves less than MIN_GAIN.
        assert_eq!(take_over(&set, 198, 198, 200, 1.0), None);
        // Everything begun.
        assert_eq!(take_over(&set, 100, 200, 200, 1.0), None);
        // Catching up would cost more than the other job's whole rest.
        assert_eq!(take_over(&set, 0, 190, 200, 1.0), None);
    }

    #[test]
    fn a_job_past_the_other_run_starts_over_when_that_pays() {
        let set = plain(&[true; 300]);
        // The last job is done at 300; the first is at 50 of its run 0..150.
        let m = take_over(&set, 300, 50, 150, 1.0).unwrap();
        let theirs = cost_of(&set[50..m]);
        let mine =
            FRESH + set[..m].iter().map(|m| BEFORE.of(m)).sum::<f64>() + cost_of(&set[m..150]);
        assert!(
            (theirs - mine).abs() <= CYCLED.of(&set[0]) + 0.01,
            "{theirs} vs {mine}"
        );
        // Near the end of the other run, starting over costs more than it saves, unless that
        // run goes ten times slower than estimated.
        assert_eq!(take_over(&set, 300, 140, 150, 1.0), None);
        assert!(take_over(&set, 300, 140, 150, 10.0).is_some());
    }

    fn cost_of(set: &[Weight]) -> f64 {
        set.iter()
            .map(|m| if m.cycled { CYCLED.of(m) } else { PASSED.of(m) })
            .sum()
    }
}
