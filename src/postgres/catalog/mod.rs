//! The catalog edge: reads a database's schema into a `SchemaSnapshot`, one query per object
//! kind, in one read-only repeatable-read transaction (a consistent view), with the search path
//! fixed to `pg_catalog, public` so names print the same on every connection. System schemas
//! and the members of extensions are left out here; the tracking tables by the domain.

mod objects;
mod relations;

use anyhow::Context;
use sqlx::postgres::PgRow;
use sqlx::{Connection, PgConnection, Row};

use crate::check::schema::{SchemaSnapshot, SnapshotOptions};

/// `{alias}` is a user schema: not `pg_catalog`, `pg_toast*`, `pg_temp*` (every `pg_` name is
/// reserved for the system) nor `information_schema`.
macro_rules! user_schema {
    ($n:literal) => {
        concat!(
            $n,
            ".nspname NOT LIKE 'pg\\_%' AND ",
            $n,
            ".nspname <> 'information_schema'"
        )
    };
}

/// The object `{oid}` of catalog `{catalog}` is not a member of an extension.
macro_rules! not_in_extension {
    ($catalog:literal, $oid:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '",
            $catalog,
            "'::regclass AND e.objid = ",
            $oid,
            " AND e.deptype = 'e')"
        )
    };
}

/// `schema.name` as `quote_ident` writes each part, from a namespace and a name column.
macro_rules! qualified {
    ($n:literal, $name:literal) => {
        concat!(
            "quote_ident(",
            $n,
            ".nspname) || '.' || quote_ident(",
            $name,
            ")"
        )
    };
}

pub(crate) use {not_in_extension, qualified, user_schema};

/// A snapshot of the schema `conn` sees. `conn` must not be inside a transaction.
pub async fn snapshot(
    conn: &mut PgConnection,
    options: &SnapshotOptions,
) -> anyhow::Result<SchemaSnapshot> {
    let mut tx = conn
        .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        .await
        .context("starting the read-only transaction for the schema snapshot")?;
    sqlx::query("SELECT set_config('search_path', 'pg_catalog, public', true)")
        .execute(&mut *tx)
        .await
        .context("fixing the search path for the schema snapshot")?;
    let mut snapshot = SchemaSnapshot::default();
    objects::schemas(&mut tx, &mut snapshot).await?;
    objects::extensions(&mut tx, &mut snapshot).await?;
    relations::relations(&mut tx, &mut snapshot).await?;
    objects::types(&mut tx, &mut snapshot).await?;
    relations::columns(&mut tx, &mut snapshot).await?;
    relations::constraints(&mut tx, &mut snapshot).await?;
    relations::indexes(&mut tx, &mut snapshot).await?;
    relations::triggers(&mut tx, &mut snapshot).await?;
    relations::rules(&mut tx, &mut snapshot).await?;
    relations::policies(&mut tx, &mut snapshot).await?;
    objects::sequences(&mut tx, &mut snapshot).await?;
    objects::functions(&mut tx, &mut snapshot).await?;
    objects::grants(&mut tx, &mut snapshot).await?;
    tx.rollback()
        .await
        .context("ending the schema snapshot's transaction")?;
    snapshot.exclude(options);
    Ok(snapshot)
}

/// Runs one catalog query; `what` names it in the error.
async fn fetch(
    conn: &mut PgConnection,
    sql: &'static str,
    what: &str,
) -> anyhow::Result<Vec<PgRow>> {
    sqlx::query(sql)
        .fetch_all(conn)
        .await
        .with_context(|| format!("reading {what} from the catalog"))
}

/// A column of a catalog row, the column named in the error.
fn get<'r, T>(row: &'r PgRow, column: &str) -> anyhow::Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column)
        .with_context(|| format!("catalog column {column}"))
}
