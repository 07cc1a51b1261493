//! golang-migrate's `schema_migrations`: at most ONE row, the current version and a dirty flag.
//! Every version of the set up to the current one counts as applied, so the row is read as one
//! that covers the earlier versions. Writes follow `SetVersion`: the row is replaced (TRUNCATE +
//! INSERT in one transaction). An up goes to its own version, a down to the previous version of
//! the set (or to no row); a step outside a transaction marks its target dirty first.

use anyhow::Context;
use sqlx::{AssertSqlSafe, Executor, PgConnection, Row};

use crate::history::{AppliedMigration, History, RowState};
use crate::migration::MigrationSet;
use crate::postgres::tracking::{NewRow, Tracking, bigint_version};

pub const TABLE: &str = "schema_migrations";

/// golang-migrate's "no version" (an empty table, or a dirty row going to nothing).
const NIL: i64 = -1;

/// golang-migrate's `ensureVersionTable`.
pub async fn create(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<()> {
    super::create(
        t,
        conn,
        &format!(
            "CREATE TABLE IF NOT EXISTS {} (version bigint not null primary key, dirty boolean not null);",
            t.table()
        ),
    )
    .await
}

/// The one row, if any: `(version, dirty)`.
async fn current(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<Option<(i64, bool)>> {
    let sql = format!(
        "SELECT version, dirty FROM {} ORDER BY version DESC LIMIT 1",
        t.table()
    );
    let row = sqlx::query(AssertSqlSafe(sql))
        .fetch_optional(&mut *conn)
        .await
        .with_context(|| format!("reading {}", t.table()))?;
    Ok(row.map(|r| (r.get("version"), r.get("dirty"))))
}

/// The current version as a row that covers every earlier version.
pub async fn read(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<History> {
    let rows = current(t, conn)
        .await?
        .map(|(version, dirty)| AppliedMigration {
            state: if dirty {
                RowState::Dirty
            } else {
                RowState::Applied
            },
            covers_earlier: true,
            ..AppliedMigration::applied(version.to_string())
        })
        .into_iter()
        .collect();
    Ok(History { rows })
}

/// `SetVersion(version, dirty)`: the table then holds that one row (none for a clean `NIL`).
/// Both statements go as one simple query, so they commit together.
async fn set_version(
    t: &Tracking,
    conn: &mut PgConnection,
    version: i64,
    dirty: bool,
) -> anyhow::Result<()> {
    let table = t.table();
    let mut sql = format!("TRUNCATE {table};");
    if version != NIL || dirty {
        sql.push_str(&format!(
            "\nINSERT INTO {table} (version, dirty) VALUES ({version}, {dirty});"
        ));
    }
    conn.execute(sqlx::raw_sql(AssertSqlSafe(sql)))
        .await
        .with_context(|| format!("setting {table} to version {version} (dirty: {dirty})"))?;
    Ok(())
}

/// The version before `version` in `set` (golang-migrate's `Prev`), or `NIL`.
fn previous(set: &MigrationSet, version: i64) -> i64 {
    set.iter()
        .filter(|m| !m.repeatable)
        .filter_map(|m| m.version.as_i64())
        .filter(|v| *v < version)
        .max()
        .unwrap_or(NIL)
}

/// An up: the current version becomes this one (dirty while it runs outside a transaction).
pub async fn record(t: &Tracking, conn: &mut PgConnection, row: &NewRow<'_>) -> anyhow::Result<()> {
    let version = bigint_version(t, row.migration.version.as_str())?;
    set_version(t, conn, version, row.state == RowState::Dirty).await
}

/// A down of `version` is starting: its target (the previous version) is marked dirty.
pub async fn mark_dirty(
    t: &Tracking,
    conn: &mut PgConnection,
    version: &str,
    set: &MigrationSet,
) -> anyhow::Result<()> {
    let version = bigint_version(t, version)?;
    set_version(t, conn, previous(set, version), true).await
}

/// `version` is no longer applied: when the current version is it or later (or the dirty target
/// of its down), the current version becomes the previous one, clean. Otherwise the table already
/// says it is not applied.
pub async fn remove(
    t: &Tracking,
    conn: &mut PgConnection,
    version: &str,
    set: &MigrationSet,
) -> anyhow::Result<()> {
    let version = bigint_version(t, version)?;
    let previous = previous(set, version);
    match current(t, conn).await? {
        Some((current, dirty)) if current >= version || (current == previous && dirty) => {
            set_version(t, conn, previous, false).await
        }
        _ => Ok(()),
    }
}
