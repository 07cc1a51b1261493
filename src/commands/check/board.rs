//! Which migrations each job of a check has yet to prove, while the jobs run. A job takes each
//! migration of its run before proving it; one that has finished its run takes over the rest of
//! a slower job's (`check::jobs::take_over`), or the whole run of a job that could not begin.

use std::ops::Range;
use std::sync::Mutex;

use tokio::sync::Notify;

use crate::check::jobs::{Weight, own, take_over};

/// Where a job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Applying the migrations before its run.
    Starting,
    Proving,
    /// Proves nothing more: its run is done, or it stopped at a failed up.
    Done,
    /// Could not begin: its run is for the job that reaches its start.
    Gone,
}

#[derive(Debug, Clone, Copy)]
struct Claim {
    /// The first migration of the run not yet begun, and the end of the run.
    next: usize,
    end: usize,
    state: State,
    /// Time spent proving (ms), and what that was estimated to cost (`jobs::own`).
    spent: f64,
    estimated: f64,
}

impl Claim {
    /// Its time per unit of estimated cost so far (1 before it has proved enough to tell),
    /// within bounds that keep one odd migration from deciding.
    fn pace(&self) -> f64 {
        if self.estimated < 20.0 {
            1.0
        } else {
            (self.spent / self.estimated).clamp(0.25, 20.0)
        }
    }
}

/// A run to take over, as offered to a job that has finished its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Offer {
    job: usize,
    /// The taker proves `from..end` (after applying the migrations from its position to `from`).
    pub from: usize,
    end: usize,
}

/// What a finished job can do next.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Next {
    Take(Offer),
    /// A job after it is still starting: whether its run needs taking is not known yet.
    Wait,
    Nothing,
}

/// The jobs' runs as they go. `changed` wakes the jobs that wait for one to start.
pub(super) struct Board {
    claims: Mutex<Vec<Claim>>,
    /// What each migration costs (`check::jobs`).
    weights: Vec<Weight>,
    pub changed: Notify,
}

impl Board {
    pub fn new(runs: &[Range<usize>], weights: Vec<Weight>) -> Board {
        Board {
            claims: Mutex::new(
                runs.iter()
                    .map(|r| Claim {
                        next: r.start,
                        end: r.end,
                        state: State::Starting,
                        spent: 0.0,
                        estimated: 0.0,
                    })
                    .collect(),
            ),
            weights,
            changed: Notify::new(),
        }
    }

    /// Job `job` proved migration `k` in `ms` milliseconds.
    pub fn proved(&self, job: usize, k: usize, ms: f64) {
        let cost = self.weights.get(k).map_or(0.0, own);
        if let Some(claim) = self.claims().get_mut(job) {
            claim.spent += ms;
            claim.estimated += cost;
        }
    }

    fn claims(&self) -> std::sync::MutexGuard<'_, Vec<Claim>> {
        // A job that panicked holding the lock left the claims whole (every update is one
        // assignment), so they stay usable.
        self.claims.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set_state(&self, job: usize, state: State) {
        if let Some(claim) = self.claims().get_mut(job) {
            claim.state = state;
            if state == State::Done {
                claim.end = claim.next;
            }
        }
        self.changed.notify_waiters();
    }

    /// The job has applied what comes before its run.
    pub fn begin(&self, job: usize) {
        self.set_state(job, State::Proving);
    }

    /// The job could not begin: its run goes to the job that reaches its start.
    pub fn give_up(&self, job: usize) {
        self.set_state(job, State::Gone);
    }

    /// The job proves nothing more (what is left of its run, after a failed up, is no one's).
    pub fn done(&self, job: usize) {
        self.set_state(job, State::Done);
    }

    /// Whether `job` proves migration `k`, the next of its run: false when the run ends
    /// before it (it was taken over).
    pub fn take(&self, job: usize, k: usize) -> bool {
        let mut claims = self.claims();
        match claims.get_mut(job) {
            Some(claim) if claim.state == State::Proving && k < claim.end => {
                claim.next = k + 1;
                true
            }
            _ => false,
        }
    }

    /// What a job whose database holds the migrations before `pos` can take over: the run of a
    /// job that could not begin, when it starts at `pos`; else the best part of another job's
    /// run (`take_over`), by a fresh database when that part begins before `pos` and
    /// `restart` allows it.
    pub fn offer(&self, pos: usize, restart: bool) -> Next {
        let claims = self.claims();
        if claims.iter().any(|c| c.state == State::Starting) {
            return Next::Wait;
        }
        let gone = claims
            .iter()
            .enumerate()
            .find(|(_, c)| c.state == State::Gone && c.next == pos && c.next < c.end);
        if let Some((job, claim)) = gone {
            return Next::Take(Offer {
                job,
                from: claim.next,
                end: claim.end,
            });
        }
        claims
            .iter()
            .enumerate()
            .filter(|(_, c)| c.state == State::Proving)
            .filter_map(|(job, c)| {
                let from = take_over(&self.weights, pos, c.next, c.end, c.pace())?;
                (restart || from >= pos).then_some(Offer {
                    job,
                    from,
                    end: c.end,
                })
            })
            .max_by_key(|offer| offer.end - offer.from)
            .map_or(Next::Nothing, Next::Take)
    }

    /// Gives `offer` to `taker` unless its job has begun `offer.from` by now or its run
    /// changed since: the taker then proves `from..end`, the other job stops before `from`.
    pub fn commit(&self, taker: usize, offer: &Offer) -> bool {
        let mut claims = self.claims();
        let Some(&claim) = claims.get(offer.job) else {
            return false;
        };
        if claim.end != offer.end || claim.next > offer.from || claim.state == State::Done {
            return false;
        }
        claims[offer.job].end = offer.from;
        if let Some(own) = claims.get_mut(taker) {
            *own = Claim {
                next: offer.from,
                end: offer.end,
                state: State::Proving,
                ..*own
            };
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize) -> Vec<Weight> {
        vec![
            Weight {
                cycled: true,
                bytes: 200
            };
            n
        ]
    }

    #[test]
    fn a_finished_job_takes_over_the_tail_of_a_slower_one() {
        let weights = set(200);
        let board = Board::new(&[0..100, 100..200], weights.clone());
        board.begin(0);
        assert_eq!(board.offer(100, true), Next::Wait, "job 2 is starting");
        board.begin(1);
        assert!(board.take(1, 100) && board.take(1, 101));
        for k in 0..100 {
            assert!(board.take(0, k));
        }
        assert!(!board.take(0, 100), "job 1's run ends at 100");
        board.done(0);
        let Next::Take(offer) = board.offer(100, true) else {
            panic!("nothing offered");
        };
        assert!(offer.from > 102 && offer.from < 200, "{offer:?}");
        assert!(board.commit(0, &offer));
        assert!(
            !board.commit(0, &offer),
            "a second commit of the same offer"
        );
        // Job 2 stops before the point; job 1 goes on from it.
        for k in 102..offer.from {
            assert!(board.take(1, k));
        }
        assert!(!board.take(1, offer.from));
        assert!(board.take(0, offer.from));
    }

    #[test]
    fn an_offer_fails_once_the_other_job_has_passed_its_point() {
        let weights = set(200);
        let board = Board::new(&[0..100, 100..200], weights.clone());
        board.begin(0);
        board.begin(1);
        board.done(0);
        let Next::Take(offer) = board.offer(100, true) else {
            panic!("nothing offered");
        };
        for k in 100..=offer.from {
            assert!(board.take(1, k));
        }
        assert!(!board.commit(0, &offer));
        assert!(board.take(1, offer.from + 1), "job 2 keeps its run");
    }

    #[test]
    fn the_run_of_a_job_that_could_not_begin_goes_whole_to_the_job_at_its_start() {
        let weights = set(300);
        let board = Board::new(&[0..100, 100..200, 200..300], weights.clone());
        board.begin(0);
        board.give_up(1);
        board.begin(2);
        // Job 3 is past the run: only a job at 100 takes it whole.
        board.done(2);
        assert_ne!(
            board.offer(300, true),
            Next::Take(Offer {
                job: 1,
                from: 100,
                end: 200
            })
        );
        board.done(0);
        assert_eq!(
            board.offer(100, true),
            Next::Take(Offer {
                job: 1,
                from: 100,
                end: 200
            })
        );
    }

    #[test]
    fn a_job_past_a_slower_run_takes_its_tail_only_when_it_may_start_over() {
        let weights = set(300);
        let board = Board::new(&[0..150, 150..300], weights.clone());
        board.begin(0);
        board.begin(1);
        assert!(board.take(0, 0));
        for k in 150..300 {
            assert!(board.take(1, k));
        }
        board.done(1);
        assert_eq!(board.offer(300, false), Next::Nothing);
        let Next::Take(offer) = board.offer(300, true) else {
            panic!("nothing offered");
        };
        assert!(offer.from > 1 && offer.from < 150, "{offer:?}");
        assert!(board.commit(1, &offer));
        for k in 1..offer.from {
            assert!(board.take(0, k));
        }
        assert!(
            !board.take(0, offer.from),
            "job 1 stops where job 2 takes over"
        );
        assert!(board.take(1, offer.from));
    }

    #[test]
    fn what_is_left_after_a_failed_up_is_offered_to_no_one() {
        let weights = set(200);
        let board = Board::new(&[0..100, 100..200], weights.clone());
        board.begin(0);
        board.begin(1);
        assert!(board.take(1, 100));
        board.done(1);
        board.done(0);
        assert_eq!(board.offer(100, true), Next::Nothing);
    }
}
