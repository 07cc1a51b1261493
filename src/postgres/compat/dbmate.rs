//! dbmate's `schema_migrations`: one `version` (the file's leading digits, as text) per applied
//! migration. No checksum and no dirty state. (golang-migrate's table has the same name; the
//! columns tell them apart.)

use anyhow::Context;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use crate::history::{AppliedMigration, History};
use crate::migration::Migration;
use crate::postgres::tracking::Tracking;

pub const TABLE: &str = "schema_migrations";

/// dbmate's `create table if not exists … (version varchar primary key)`.
pub async fn create(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<()> {
    super::create(
        t,
        conn,
        &format!(
            "create table if not exists {} (version varchar primary key);",
            t.table()
        ),
    )
    .await
}

/// Rows in version order (dbmate keeps no time).
pub async fn read(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<History> {
    let sql = format!(
        "SELECT version::text AS version FROM {} ORDER BY version COLLATE \"C\"",
        t.table()
    );
    let rows = super::read_rows(t, conn, sql).await?;
    let rows = rows
        .into_iter()
        .map(|r| AppliedMigration::applied(r.get("version")))
        .collect();
    Ok(History { rows })
}

/// dbmate's `insert into … (version) values ($1)`.
pub async fn record(t: &Tracking, conn: &mut PgConnection, m: &Migration) -> anyhow::Result<()> {
    let sql = format!(
        "insert into {} (version) values ($1) on conflict (version) do nothing",
        t.table()
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(m.version.as_str())
        .execute(&mut *conn)
        .await
        .with_context(|| format!("recording {} in {}", m.version, t.table()))?;
    Ok(())
}

/// dbmate's `delete from … where version = $1`.
pub async fn remove(t: &Tracking, conn: &mut PgConnection, version: &str) -> anyhow::Result<()> {
    super::delete_version(t, conn, "version", super::VersionKey::Text(version)).await
}
