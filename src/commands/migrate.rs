//! `upcycle up` and `upcycle down`: compute the plan, check it is the expected one, then run it
//! under the migration lock (or print its exact SQL with `--dry-run`).

use anyhow::bail;

use crate::Outcome;
use crate::cli::UpArgs;
use crate::migration::Direction;
use crate::plan::{Plan, Target, plan_down, plan_up};
use crate::postgres::apply::{Event, apply};
use crate::report;
use crate::settings::{DbSettings, Settings};

use super::session::{Access, Session};

/// What the user asked `up`/`down` to do.
pub struct Options {
    pub direction: Direction,
    pub target: Target,
    pub dry_run: bool,
    pub expect_plan: Option<String>,
    pub backup: bool,
}

impl Options {
    pub fn from_args(args: &UpArgs, direction: Direction) -> Self {
        Options {
            direction,
            target: args.target.target(),
            dry_run: args.dry_run,
            expect_plan: args.expect_plan.clone(),
            backup: args.backup,
        }
    }
}

fn check_expected(plan: &Plan, expect: Option<&str>) -> anyhow::Result<()> {
    match expect {
        Some(digest) if digest != plan.digest => bail!(
            "the plan is not the one reviewed: expected digest {digest}, the plan now is {} ({} step(s)); nothing was applied. Review `upcycle plan` again",
            plan.digest,
            plan.steps.len()
        ),
        _ => Ok(()),
    }
}

pub async fn run(
    settings: &Settings,
    db: &DbSettings,
    options: Options,
) -> anyhow::Result<Outcome> {
    let reading = super::read_for_apply(settings)?;
    let access = if options.dry_run {
        Access::Read
    } else {
        Access::Write
    };
    let mut session = Session::open(db, access).await?;
    let plan = match options.direction {
        Direction::Up => plan_up(&reading.set, &session.history, &options.target)?,
        Direction::Down => plan_down(&reading.set, &session.history, &options.target)?,
    };
    check_expected(&plan, options.expect_plan.as_deref())?;
    for divergence in &plan.divergences {
        settings
            .term
            .progress(&format!("warning: {}", divergence.describe()));
    }
    if options.dry_run {
        let sql = report::plan::dry_run(&plan, &reading.set, &session.tracking);
        session.close().await?;
        settings.term.out(&sql);
        return Ok(Outcome::Clean);
    }
    super::gate::no_divergences(db, &plan)?;
    if plan.is_empty() {
        session.close().await?;
        settings
            .term
            .out(&report::plan::applied(&plan, &[], settings.format));
        return Ok(Outcome::Clean);
    }
    let verb_for_gate = if options.direction == Direction::Up {
        "apply"
    } else {
        "revert"
    };
    super::gate::confirm(
        db,
        &settings.term,
        &format!("{verb_for_gate} {} migration(s)", plan.steps.len()),
    )?;
    if options.backup || db.protected {
        super::backups::take(settings, db).await?;
    }
    let term = settings.term;
    let verb = if options.direction == Direction::Up {
        "applying"
    } else {
        "reverting"
    };
    let result = apply(
        &mut session.conn,
        &session.tracking,
        &reading.set,
        &plan,
        &db.apply,
        &mut |event| match event {
            Event::Starting(step) => {
                term.progress(&format!("{verb} {} {} …", step.version, step.name))
            }
            Event::Retrying {
                step,
                attempt,
                error,
            } => term.progress(&format!(
                "  {} waited too long for a lock ({}); retry {attempt}",
                step.version, error.message
            )),
            Event::Done(done) => term.progress(&format!("  done in {} ms", done.ms)),
        },
    )
    .await;
    // Closing fails when the server went away; that must not hide the failure that stopped the
    // run, nor the report of what was applied before it.
    let closed = session.close().await;
    settings
        .term
        .out(&report::plan::applied(&plan, &result.done, settings.format));
    match (result.failure, closed) {
        (Some(e), _) => Err(e.context(progress(&plan, &result.done))),
        (None, Err(e)) => Err(e),
        (None, Ok(())) => Ok(Outcome::Clean),
    }
}

/// What a failed run did before it stopped (the error carries it, not only the report).
fn progress(plan: &Plan, done: &[crate::postgres::apply::StepDone]) -> String {
    let verb = if plan.direction == Direction::Up {
        "applying"
    } else {
        "reverting"
    };
    match done.last() {
        None => format!(
            "stopped before {verb} any of {} migration(s)",
            plan.steps.len()
        ),
        Some(last) => format!(
            "stopped after {verb} {} of {} migration(s) (the last one done: {})",
            done.len(),
            plan.steps.len(),
            format!("{}_{}", last.version, last.name).trim_end_matches('_')
        ),
    }
}
