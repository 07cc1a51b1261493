//! upcycle's own table, `upcycle_migrations`: one row per applied (or dirty) migration with its
//! SHA-256, timing, who applied it and the script's text. Its shape carries a version in the
//! table comment so a later upcycle can migrate it.

use anyhow::Context;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::history::{AppliedMigration, History, RowState};
use crate::migration::Migration;
use crate::postgres::tracking::{NewRow, Tracking};

/// The shape of the table this upcycle writes.
pub const SHAPE: u32 = 1;
pub const TABLE: &str = "upcycle_migrations";

pub async fn create(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<()> {
    let table = t.table();
    super::create(
        t,
        conn,
        &format!(
            "CREATE TABLE IF NOT EXISTS {table} (
                 ordinal bigint GENERATED ALWAYS AS IDENTITY,
                 version text PRIMARY KEY,
                 name text NOT NULL,
                 checksum text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now(),
                 execution_ms bigint NOT NULL DEFAULT 0,
                 applied_by text NOT NULL,
                 upcycle_version text NOT NULL,
                 state text NOT NULL DEFAULT 'applied' CHECK (state IN ('applied', 'dirty')),
                 script text
             );
             COMMENT ON TABLE {table} IS 'upcycle history, shape {SHAPE}';"
        ),
    )
    .await
}

pub async fn read(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<History> {
    let sql = format!(
        "SELECT version, name, checksum, applied_at, execution_ms, applied_by, state, script FROM {} ORDER BY ordinal",
        t.table()
    );
    let rows = super::read_rows(t, conn, sql).await?;
    let rows = rows
        .into_iter()
        .map(|r| {
            let state: String = r.get("state");
            AppliedMigration {
                version: r.get("version"),
                name: r.get("name"),
                checksum: Some(r.get("checksum")),
                applied_at: Some(r.get("applied_at")),
                execution_ms: Some(r.get("execution_ms")),
                applied_by: Some(r.get("applied_by")),
                state: if state == "dirty" {
                    RowState::Dirty
                } else {
                    RowState::Applied
                },
                script: r.get("script"),
                covers_earlier: false,
            }
        })
        .collect();
    Ok(History { rows })
}

/// Inserts (or, for a re-applied repeatable or a dirty row, replaces) a row.
pub async fn record(t: &Tracking, conn: &mut PgConnection, row: &NewRow<'_>) -> anyhow::Result<()> {
    let m = row.migration;
    let sql = format!(
        "INSERT INTO {} (version, name, checksum, execution_ms, applied_by, upcycle_version, state, script)
         VALUES ($1, $2, $3, $4, current_user || coalesce(' (run ' || $5 || ')', ''), $6, $7, $8)
         ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum,
             applied_at = now(), execution_ms = EXCLUDED.execution_ms, applied_by = EXCLUDED.applied_by,
             upcycle_version = EXCLUDED.upcycle_version, state = EXCLUDED.state, script = EXCLUDED.script",
        t.table()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(m.version.as_str())
        .bind(&m.name)
        .bind(m.up.checksum.as_str())
        .bind(row.execution_ms)
        .bind(t.run_id.as_deref())
        .bind(env!("CARGO_PKG_VERSION"))
        .bind(match row.state {
            RowState::Applied => "applied",
            RowState::Dirty => "dirty",
        })
        .bind(&m.up.text)
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
        "UPDATE {} SET state = 'dirty' WHERE version = $1",
        t.table()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(version)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("marking {version} dirty in {}", t.table()))?;
    Ok(())
}

/// Updates the checksum and the kept script of a row.
pub async fn set_checksum(
    t: &Tracking,
    conn: &mut PgConnection,
    m: &Migration,
) -> anyhow::Result<()> {
    let sql = format!(
        "UPDATE {} SET checksum = $2, script = $3 WHERE version = $1",
        t.table()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(m.version.as_str())
        .bind(m.up.checksum.as_str())
        .bind(&m.up.text)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("updating the checksum of {} in {}", m.version, t.table()))?;
    Ok(())
}

pub async fn remove(t: &Tracking, conn: &mut PgConnection, version: &str) -> anyhow::Result<()> {
    super::delete_version(t, conn, "version", super::VersionKey::Text(version)).await
}
