//! How a check shares a set between parallel jobs: contiguous runs of migrations, each proved in
//! its own database of the sandbox once the migrations before the run are applied (up only,
//! unproved). Pure: the costs in, the runs out.

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
    let own = |i: usize| {
        if set[i].cycled {
            CYCLED.of(&set[i])
        } else {
            PASSED.of(&set[i])
        }
    };
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
}
