//! The tracking tables upcycle reads and writes, one module per tool: upcycle's own and the
//! native tables of sqlx, diesel, golang-migrate, dbmate, goose and Flyway, each written the way
//! its tool writes it (DDL, row format, checksum, dirty flag), so a set applied by upcycle is
//! applied for the tool and the reverse. `Tracking` (in `tracking.rs`) dispatches to them;
//! `detect` resolves `--history auto`; `checksum` holds the tools' checksums as pure functions.

pub mod checksum;
pub mod detect;

pub(super) mod dbmate;
pub(super) mod diesel;
pub(super) mod flyway;
pub(super) mod golang_migrate;
pub(super) mod goose;
pub(super) mod sqlx;
pub(super) mod upcycle;

use ::sqlx::postgres::PgRow;
use ::sqlx::{AssertSqlSafe, Executor, PgConnection};
use anyhow::Context;

use super::tracking::{Tracking, quote_ident};

/// Whether the (qualified, quoted) table exists.
pub(super) async fn exists(conn: &mut PgConnection, table: &str) -> anyhow::Result<bool> {
    let found: Option<String> = ::sqlx::query_scalar("SELECT to_regclass($1)::text")
        .bind(table)
        .fetch_one(&mut *conn)
        .await
        .with_context(|| format!("looking for the tracking table {table}"))?;
    Ok(found.is_some())
}

/// Creates the schema when absent and runs `ddl` (the tool's own statements for its table), all
/// as one simple query, so it happens whole or not at all.
async fn create(t: &Tracking, conn: &mut PgConnection, ddl: &str) -> anyhow::Result<()> {
    let sql = format!(
        "CREATE SCHEMA IF NOT EXISTS {};\n{ddl}",
        quote_ident(&t.schema)
    );
    conn.execute(::sqlx::raw_sql(AssertSqlSafe(sql)))
        .await
        .with_context(|| format!("creating the tracking table {}", t.table()))?;
    Ok(())
}

/// Every row of `sql`, a SELECT on the tracking table.
async fn read_rows(
    t: &Tracking,
    conn: &mut PgConnection,
    sql: String,
) -> anyhow::Result<Vec<PgRow>> {
    ::sqlx::query(AssertSqlSafe(sql))
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("reading {}", t.table()))
}

/// A version as a tool's table keys it.
enum VersionKey<'a> {
    Text(&'a str),
    BigInt(i64),
}

/// `DELETE FROM <table> WHERE <column> = $1` for one version.
async fn delete_version(
    t: &Tracking,
    conn: &mut PgConnection,
    column: &str,
    key: VersionKey<'_>,
) -> anyhow::Result<()> {
    let sql = format!("DELETE FROM {} WHERE {column} = $1", t.table());
    let query = ::sqlx::query(AssertSqlSafe(sql));
    let (query, shown) = match key {
        VersionKey::Text(v) => (query.bind(v.to_string()), v.to_string()),
        VersionKey::BigInt(v) => (query.bind(v), v.to_string()),
    };
    query
        .execute(&mut *conn)
        .await
        .with_context(|| format!("removing {shown} from {}", t.table()))?;
    Ok(())
}

/// The file name of a script path (`dir/sub/V1__x.sql` → `V1__x.sql`).
fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}
