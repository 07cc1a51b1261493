//! `upcycle up` and `upcycle down`: compute the plan, check it is the expected one, then run it
//! under the migration lock (or print its exact SQL with `--dry-run`).

use anyhow::bail;

use crate::Outcome;
use crate::backup::BackupRecord;
use crate::cli::UpArgs;
use crate::migration::{Direction, MigrationSet};
use crate::plan::{Plan, Target, plan_down, plan_up};
use crate::postgres::apply::{Event, StepDone, apply};
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

/// The plan of `options` against the session's history, checked against `expect_plan`, with
/// its divergences said on the terminal.
fn planned(
    settings: &Settings,
    set: &MigrationSet,
    session: &Session,
    options: &Options,
) -> anyhow::Result<Plan> {
    let plan = match options.direction {
        Direction::Up => plan_up(set, &session.history, &options.target)?,
        Direction::Down => plan_down(set, &session.history, &options.target)?,
    };
    check_expected(&plan, options.expect_plan.as_deref())?;
    for divergence in &plan.divergences {
        settings
            .term
            .progress(&format!("warning: {}", divergence.describe()));
    }
    Ok(plan)
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

/// What an `up`/`down` run did: the plan, the steps done (in order), the backup taken first (if
/// any), and the failure that stopped it (after which nothing else ran).
pub struct Applied {
    pub plan: Plan,
    pub done: Vec<StepDone>,
    pub backup: Option<BackupRecord>,
    pub failure: Option<anyhow::Error>,
}

/// What `execute` reports as it goes.
pub type Progress<'a> = &'a mut dyn FnMut(Event<'_>);

/// Plans, checks the plan against `expect_plan`, passes the gate, backs up when asked or
/// protected, and applies under the lock. An `Err` means nothing was changed; a failure after
/// the first step started is in [`Applied::failure`], with what was done before it.
pub async fn execute(
    settings: &Settings,
    db: &DbSettings,
    options: &Options,
    on_event: Progress<'_>,
) -> anyhow::Result<Applied> {
    let reading = super::read_for_apply(settings)?;
    let mut session = Session::open(db, Access::Write).await?;
    let plan = planned(settings, &reading.set, &session, options)?;
    super::gate::no_divergences(db, &plan)?;
    if plan.is_empty() {
        session.close().await?;
        return Ok(Applied {
            plan,
            done: Vec::new(),
            backup: None,
            failure: None,
        });
    }
    let verb = if options.direction == Direction::Up {
        "apply"
    } else {
        "revert"
    };
    super::gate::confirm(
        db,
        &settings.term,
        &format!("{verb} {} migration(s)", plan.steps.len()),
    )?;
    let backup = if options.backup || db.protected {
        Some(super::backups::take(settings, db).await?)
    } else {
        None
    };
    let result = apply(
        &mut session.conn,
        &session.tracking,
        &reading.set,
        &plan,
        &db.apply,
        on_event,
    )
    .await;
    // Closing fails when the server went away; that must not hide the failure that stopped the
    // run, nor the report of what was applied before it.
    let closed = session.close().await;
    let failure = match (result.failure, closed) {
        (Some(e), _) => Some(e.context(progress(&plan, &result.done))),
        (None, Err(e)) => Some(e),
        (None, Ok(())) => None,
    };
    Ok(Applied {
        plan,
        done: result.done,
        backup,
        failure,
    })
}

/// The progress lines of a run, for the terminal.
pub fn progress_line(direction: Direction, event: &Event<'_>) -> String {
    let verb = if direction == Direction::Up {
        "applying"
    } else {
        "reverting"
    };
    match event {
        Event::Starting(step) => format!("{verb} {} {} …", step.version, step.name),
        Event::Retrying {
            step,
            attempt,
            error,
        } => format!(
            "  {} waited too long for a lock ({}); retry {attempt}",
            step.version, error.message
        ),
        Event::Done(done) => format!("  done in {} ms", done.ms),
    }
}

pub async fn run(
    settings: &Settings,
    db: &DbSettings,
    options: Options,
) -> anyhow::Result<Outcome> {
    if options.dry_run {
        return dry_run(settings, db, &options).await;
    }
    let term = settings.term;
    let direction = options.direction;
    let applied = execute(settings, db, &options, &mut |event| {
        term.progress(&progress_line(direction, &event))
    })
    .await?;
    settings.term.out(&report::plan::applied(
        &applied.plan,
        &applied.done,
        settings.format,
    ));
    match applied.failure {
        Some(e) => Err(e),
        None => Ok(Outcome::Clean),
    }
}

/// `--dry-run`: the plan's exact SQL, read-only (no lock, no table created).
async fn dry_run(
    settings: &Settings,
    db: &DbSettings,
    options: &Options,
) -> anyhow::Result<Outcome> {
    let reading = super::read_for_apply(settings)?;
    let session = Session::open(db, Access::Read).await?;
    let plan = planned(settings, &reading.set, &session, options)?;
    let sql = report::plan::dry_run(&plan, &reading.set, &session.tracking);
    session.close().await?;
    settings.term.out(&sql);
    Ok(Outcome::Clean)
}

/// What a failed run did before it stopped (the error carries it, not only the report).
fn progress(plan: &Plan, done: &[StepDone]) -> String {
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
