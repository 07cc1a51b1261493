//! diesel's `__diesel_schema_migrations`: `version` (the folder's version, dashes removed) and
//! `run_on`. No checksum and no dirty state: a migration is recorded once it is done.

use anyhow::Context;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::history::{AppliedMigration, History};
use crate::migration::Migration;
use crate::postgres::tracking::Tracking;

pub const TABLE: &str = "__diesel_schema_migrations";

/// diesel's `setup_migration_table.sql`.
pub async fn create(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<()> {
    super::create(
        t,
        conn,
        &format!(
            "CREATE TABLE IF NOT EXISTS {} (
                 version VARCHAR(50) PRIMARY KEY NOT NULL,
                 run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
             );",
            t.table()
        ),
    )
    .await
}

/// Rows in the order run (then by version, compared bytewise as diesel does).
pub async fn read(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<History> {
    let sql = format!(
        "SELECT version::text AS version, run_on::timestamptz AS run_on FROM {} ORDER BY run_on, version COLLATE \"C\"",
        t.table()
    );
    let rows = super::read_rows(t, conn, sql).await?;
    let rows = rows
        .into_iter()
        .map(|r| AppliedMigration {
            applied_at: Some(r.get("run_on")),
            ..AppliedMigration::applied(r.get("version"))
        })
        .collect();
    Ok(History { rows })
}

/// diesel's `INSERT INTO __diesel_schema_migrations (version) VALUES ($1)`.
pub async fn record(t: &Tracking, conn: &mut PgConnection, m: &Migration) -> anyhow::Result<()> {
    let sql = format!(
        "INSERT INTO {} (version) VALUES ($1) ON CONFLICT (version) DO NOTHING",
        t.table()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(m.version.as_str())
        .execute(&mut *conn)
        .await
        .with_context(|| format!("recording {} in {}", m.version, t.table()))?;
    Ok(())
}

pub async fn remove(t: &Tracking, conn: &mut PgConnection, version: &str) -> anyhow::Result<()> {
    super::delete_version(t, conn, "version", super::VersionKey::Text(version)).await
}
