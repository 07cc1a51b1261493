//! Executes a plan. A wrapped migration runs in one transaction together with its tracking row,
//! so both commit or neither does; on `lock_timeout` it is retried a bounded number of times. A
//! migration that opts out runs outside a transaction and is marked dirty until it finishes. The
//! report carries what was done before a failure.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};

use super::tracking::{NewRow, Tracking};
use super::{ScriptError, run_script};
use crate::history::RowState;
use crate::migration::{Direction, Migration, MigrationSet, Script};
use crate::plan::{Plan, Step};

/// Session settings for every migration.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// `lock_timeout` (a PostgreSQL interval such as `10s`), so DDL waiting for a lock does not
    /// queue every reader behind it.
    pub lock_timeout: String,
    /// `statement_timeout` (`0` = none).
    pub statement_timeout: String,
    /// Extra attempts for a wrapped migration that failed on `lock_timeout`.
    pub lock_retries: u32,
}

impl Default for ApplyOptions {
    fn default() -> Self {
        ApplyOptions {
            lock_timeout: "10s".into(),
            statement_timeout: "0".into(),
            lock_retries: 3,
        }
    }
}

/// One migration done.
#[derive(Debug, Clone, Serialize)]
pub struct StepDone {
    pub version: String,
    pub name: String,
    pub direction: Direction,
    pub ms: u64,
    pub attempts: u32,
}

/// What happened: the steps done, and the failure that stopped the run, if any.
#[derive(Debug, Default)]
pub struct ApplyReport {
    pub done: Vec<StepDone>,
    pub failure: Option<anyhow::Error>,
}

/// What `apply` tells its caller as it goes.
pub enum Event<'a> {
    Starting(&'a Step),
    Retrying {
        step: &'a Step,
        attempt: u32,
        error: &'a ScriptError,
    },
    Done(&'a StepDone),
}

/// Sets the session's timeouts.
pub async fn set_timeouts(conn: &mut PgConnection, options: &ApplyOptions) -> anyhow::Result<()> {
    for (name, value) in [
        ("lock_timeout", &options.lock_timeout),
        ("statement_timeout", &options.statement_timeout),
    ] {
        sqlx::query("SELECT set_config($1, $2, false)")
            .bind(name)
            .bind(value)
            .execute(&mut *conn)
            .await
            .with_context(|| format!("setting {name} = {value}"))?;
    }
    // When upcycle dies mid-migration (SIGKILL, a cancelled CI job), the server otherwise learns
    // it only when the running statement ends: a long backfill would run on for hours holding
    // its locks. Have it check for a vanished client every second (PostgreSQL 14+) and roll back.
    sqlx::query(
        "SELECT set_config('client_connection_check_interval', '1s', false) WHERE current_setting('server_version_num')::int >= 140000",
    )
    .execute(&mut *conn)
    .await
    .context("setting client_connection_check_interval")?;
    Ok(())
}

fn script_of(m: &Migration, direction: Direction) -> Option<&Script> {
    match direction {
        Direction::Up => Some(&m.up),
        Direction::Down => m.down.as_ref(),
    }
}

/// Applies `plan` (whose steps come from `set`) on `conn`, which must not be in a transaction.
pub async fn apply(
    conn: &mut PgConnection,
    tracking: &Tracking,
    set: &MigrationSet,
    plan: &Plan,
    options: &ApplyOptions,
    on: &mut dyn FnMut(Event<'_>),
) -> ApplyReport {
    let mut report = ApplyReport::default();
    // The caller passes the session's tracking, already resolved from `--history auto`.
    let tracking = tracking.clone();
    for step in &plan.steps {
        let Some((m, script)) = set
            .iter()
            .find(|m| m.version.as_str() == step.version)
            .and_then(|m| Some((m, script_of(m, plan.direction)?)))
        else {
            report.failure = Some(anyhow::anyhow!(
                "{} is in the plan but not in the migration set",
                step.version
            ));
            break;
        };
        on(Event::Starting(step));
        let run = Run {
            tracking: &tracking,
            set,
            m,
            script,
            direction: plan.direction,
        };
        match run_step(conn, &run, options, step, on).await {
            Ok(done) => {
                on(Event::Done(&done));
                report.done.push(done);
            }
            Err(e) => {
                report.failure = Some(e);
                break;
            }
        }
    }
    report
}

/// One migration to run in one direction, and the tracking table to record it in.
#[derive(Clone, Copy)]
struct Run<'a> {
    tracking: &'a Tracking,
    /// The whole set (golang-migrate's one row moves to the previous version on a down).
    set: &'a MigrationSet,
    m: &'a Migration,
    script: &'a Script,
    direction: Direction,
}

async fn run_step(
    conn: &mut PgConnection,
    run: &Run<'_>,
    options: &ApplyOptions,
    step: &Step,
    on: &mut dyn FnMut(Event<'_>),
) -> anyhow::Result<StepDone> {
    let Run {
        m,
        script,
        direction,
        ..
    } = *run;
    let version = m.version.as_str();
    let mut attempt = 1;
    loop {
        let start = Instant::now();
        let result = if script.transaction.is_wrapped() {
            wrapped(conn, run, &start).await
        } else {
            unwrapped(conn, run, &start).await
        };
        match result {
            Ok(()) => {
                let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
                return Ok(StepDone {
                    version: version.to_string(),
                    name: m.name.clone(),
                    direction,
                    ms,
                    attempts: attempt,
                });
            }
            Err(Failure::Script(e))
                if e.is_lock_timeout()
                    && script.transaction.is_wrapped()
                    && attempt <= options.lock_retries =>
            {
                on(Event::Retrying {
                    step,
                    attempt,
                    error: &e,
                });
                tokio::time::sleep(Duration::from_millis(500 * 2u64.pow(attempt - 1))).await;
                attempt += 1;
            }
            Err(Failure::Script(e)) => {
                let state = if script.transaction.is_wrapped() {
                    "rolled back; nothing of it was applied".to_string()
                } else {
                    format!(
                        "it ran outside a transaction and is marked dirty: check the schema, then `upcycle repair` or `upcycle force {version}`"
                    )
                };
                return Err(anyhow::Error::new(e).context(
                    format!("{direction:?} of {} failed ({state})", m.label()).to_lowercase(),
                ));
            }
            Err(Failure::Other(e)) => {
                return Err(e.context(format!("{direction:?} of {}", m.label()).to_lowercase()));
            }
        }
    }
}

enum Failure {
    Script(ScriptError),
    Other(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Other(e)
    }
}

fn elapsed_ms(start: &Instant) -> i64 {
    i64::try_from(start.elapsed().as_millis()).unwrap_or(i64::MAX)
}

async fn wrapped(conn: &mut PgConnection, run: &Run<'_>, start: &Instant) -> Result<(), Failure> {
    let Run {
        tracking,
        set,
        m,
        script,
        direction,
    } = *run;
    let mut tx = conn
        .begin()
        .await
        .context("opening the migration's transaction")?;
    run_script(&mut tx, script).await.map_err(Failure::Script)?;
    match direction {
        Direction::Up => {
            tracking
                .record(
                    &mut tx,
                    &NewRow {
                        migration: m,
                        execution_ms: elapsed_ms(start),
                        state: RowState::Applied,
                    },
                )
                .await?
        }
        Direction::Down => tracking.remove(&mut tx, m.version.as_str(), set).await?,
    }
    tx.commit().await.context("committing the migration")?;
    Ok(())
}

async fn unwrapped(conn: &mut PgConnection, run: &Run<'_>, start: &Instant) -> Result<(), Failure> {
    let Run {
        tracking,
        set,
        m,
        script,
        direction,
    } = *run;
    let row = |state, execution_ms| NewRow {
        migration: m,
        execution_ms,
        state,
    };
    match direction {
        Direction::Up => tracking.record(conn, &row(RowState::Dirty, 0)).await?,
        Direction::Down => tracking.mark_dirty(conn, m.version.as_str(), set).await?,
    }
    run_script(conn, script).await.map_err(Failure::Script)?;
    match direction {
        Direction::Up => {
            tracking
                .record(conn, &row(RowState::Applied, elapsed_ms(start)))
                .await?
        }
        Direction::Down => tracking.remove(conn, m.version.as_str(), set).await?,
    }
    Ok(())
}

/// Runs arbitrary trusted SQL (used by tests and `force`-style maintenance).
pub async fn execute_sql(conn: &mut PgConnection, sql: &str) -> anyhow::Result<()> {
    conn.execute(sqlx::raw_sql(AssertSqlSafe(sql.to_string())))
        .await
        .map(|_| ())
        .context("running SQL")
}
