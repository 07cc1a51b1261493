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
    Ok(())
}

fn script_of<'a>(m: &'a Migration, direction: Direction) -> Option<&'a Script> {
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
        match run_step(conn, tracking, m, script, plan.direction, options, step, on).await {
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

#[allow(clippy::too_many_arguments)]
async fn run_step(
    conn: &mut PgConnection,
    tracking: &Tracking,
    m: &Migration,
    script: &Script,
    direction: Direction,
    options: &ApplyOptions,
    step: &Step,
    on: &mut dyn FnMut(Event<'_>),
) -> anyhow::Result<StepDone> {
    let version = m.version.as_str();
    let mut attempt = 1;
    loop {
        let start = Instant::now();
        let result = if script.transaction.is_wrapped() {
            wrapped(conn, tracking, m, script, direction, &start).await
        } else {
            unwrapped(conn, tracking, m, script, direction, &start).await
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

async fn wrapped(
    conn: &mut PgConnection,
    tracking: &Tracking,
    m: &Migration,
    script: &Script,
    direction: Direction,
    start: &Instant,
) -> Result<(), Failure> {
    let mut tx = conn
        .begin()
        .await
        .context("opening the migration's transaction")?;
    run_script(&mut tx, script).await.map_err(Failure::Script)?;
    match direction {
        Direction::Up => {
            tracking
                .record(
                    &mut *tx,
                    &NewRow {
                        version: m.version.as_str(),
                        name: &m.name,
                        checksum: m.up.checksum.as_str(),
                        execution_ms: elapsed_ms(start),
                        state: RowState::Applied,
                        script: &m.up.text,
                    },
                )
                .await?
        }
        Direction::Down => tracking.remove(&mut *tx, m.version.as_str()).await?,
    }
    tx.commit().await.context("committing the migration")?;
    Ok(())
}

async fn unwrapped(
    conn: &mut PgConnection,
    tracking: &Tracking,
    m: &Migration,
    script: &Script,
    direction: Direction,
    start: &Instant,
) -> Result<(), Failure> {
    let row = |state, ms| NewRow {
        version: m.version.as_str(),
        name: &m.name,
        checksum: m.up.checksum.as_str(),
        execution_ms: ms,
        state,
        script: &m.up.text,
    };
    match direction {
        Direction::Up => {
            tracking
                .record(&mut *conn, &row(RowState::Dirty, 0))
                .await?
        }
        Direction::Down => tracking.mark_dirty(&mut *conn, m.version.as_str()).await?,
    }
    run_script(conn, script).await.map_err(Failure::Script)?;
    match direction {
        Direction::Up => {
            tracking
                .record(&mut *conn, &row(RowState::Applied, elapsed_ms(start)))
                .await?
        }
        Direction::Down => tracking.remove(&mut *conn, m.version.as_str()).await?,
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
