//! sqlx's `_sqlx_migrations`: one row per applied migration, version BIGINT, description (the
//! file's description, `_` as spaces), SHA-384 of the file bytes as BYTEA, execution time in
//! nanoseconds, and `success`. sqlx refuses to run while a row has `success = false`, which is
//! how a migration that started outside a transaction and did not finish shows (dirty).

use anyhow::Context;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::checksum;
use crate::history::{AppliedMigration, History, RowState};
use crate::migration::Migration;
use crate::postgres::tracking::{NewRow, Tracking, bigint_version};

pub const TABLE: &str = "_sqlx_migrations";

/// sqlx-postgres `ensure_migrations_table`.
pub async fn create(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<()> {
    super::create(
        t,
        conn,
        &format!(
            "CREATE TABLE IF NOT EXISTS {} (
                 version BIGINT PRIMARY KEY,
                 description TEXT NOT NULL,
                 installed_on TIMESTAMPTZ NOT NULL DEFAULT now(),
                 success BOOLEAN NOT NULL,
                 checksum BYTEA NOT NULL,
                 execution_time BIGINT NOT NULL
             );",
            t.table()
        ),
    )
    .await
}

/// sqlx's description of a migration: the name with `_` as spaces.
pub fn description(m: &Migration) -> String {
    m.name.replace('_', " ")
}

/// Rows in version order (sqlx's), the checksum as lowercase hex.
pub async fn read(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<History> {
    let sql = format!(
        "SELECT version, description, installed_on, success, encode(checksum, 'hex') AS checksum, execution_time
         FROM {} ORDER BY version",
        t.table()
    );
    let rows = super::read_rows(t, conn, sql).await?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let version: i64 = r.get("version");
            let nanos: i64 = r.get("execution_time");
            AppliedMigration {
                version: version.to_string(),
                name: r.get("description"),
                checksum: Some(r.get("checksum")),
                applied_at: Some(r.get("installed_on")),
                execution_ms: (nanos >= 0).then_some(nanos / 1_000_000),
                applied_by: None,
                state: if r.get("success") {
                    RowState::Applied
                } else {
                    RowState::Dirty
                },
                script: None,
                covers_earlier: false,
            }
        })
        .collect();
    Ok(History { rows })
}

/// Inserts the row (`success = false` for a migration about to run outside a transaction), or
/// completes the row of one that was marked so.
pub async fn record(t: &Tracking, conn: &mut PgConnection, row: &NewRow<'_>) -> anyhow::Result<()> {
    let m = row.migration;
    let sql = format!(
        "INSERT INTO {} (version, description, success, checksum, execution_time)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (version) DO UPDATE SET description = EXCLUDED.description,
             installed_on = now(), success = EXCLUDED.success, checksum = EXCLUDED.checksum,
             execution_time = EXCLUDED.execution_time",
        t.table()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(bigint_version(t, m.version.as_str())?)
        .bind(description(m))
        .bind(row.state == RowState::Applied)
        .bind(checksum::sqlx_bytes(&m.up))
        .bind(row.execution_ms.saturating_mul(1_000_000))
        .execute(&mut *conn)
        .await
        .with_context(|| format!("recording {} in {}", m.version, t.table()))?;
    Ok(())
}

pub async fn mark_dirty(
    t: &Tracking,
    conn: &mut PgConnection,
    version: &str,
) -> anyhow::Result<()> {
    let sql = format!(
        "UPDATE {} SET success = false WHERE version = $1",
        t.table()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(bigint_version(t, version)?)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("marking {version} dirty in {}", t.table()))?;
    Ok(())
}

pub async fn set_checksum(
    t: &Tracking,
    conn: &mut PgConnection,
    m: &Migration,
) -> anyhow::Result<()> {
    let sql = format!("UPDATE {} SET checksum = $2 WHERE version = $1", t.table());
    sqlx::query(AssertSqlSafe(sql))
        .bind(bigint_version(t, m.version.as_str())?)
        .bind(checksum::sqlx_bytes(&m.up))
        .execute(&mut *conn)
        .await
        .with_context(|| format!("updating the checksum of {} in {}", m.version, t.table()))?;
    Ok(())
}

pub async fn remove(t: &Tracking, conn: &mut PgConnection, version: &str) -> anyhow::Result<()> {
    super::delete_version(
        t,
        conn,
        "version",
        super::VersionKey::BigInt(bigint_version(t, version)?),
    )
    .await
}
