//! Row fingerprints for the check's data survival: per user table, the row count and an md5 of
//! its rows in a stable order. Only used with `--seed`, on small seeded sandboxes.

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::{AssertSqlSafe, PgConnection};

use super::tracking::quote_ident;

/// `schema.table` → (rows, md5 of the rows as text, sorted).
pub type Fingerprints = BTreeMap<String, (i64, String)>;

/// Fingerprints every ordinary and partitioned table outside the system schemas, except
/// `exclude` (tracking tables, by bare name).
pub async fn fingerprints(
    conn: &mut PgConnection,
    exclude: &[String],
) -> anyhow::Result<Fingerprints> {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname::text, c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
           AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'upcycle_sandbox') AND n.nspname NOT LIKE 'pg\\_%'
         ORDER BY 1, 2",
    )
    .fetch_all(&mut *conn)
    .await
    .context("listing tables for the data check")?;
    let mut out = Fingerprints::new();
    for (schema, table) in tables.into_iter().filter(|(_, t)| !exclude.contains(t)) {
        let qualified = format!("{}.{}", quote_ident(&schema), quote_ident(&table));
        let sql = format!(
            "SELECT count(*)::bigint, coalesce(md5(string_agg(t::text, E'\\n' ORDER BY t::text)), '') FROM {qualified} t"
        );
        let row: (i64, String) = sqlx::query_as(AssertSqlSafe(sql))
            .fetch_one(&mut *conn)
            .await
            .with_context(|| format!("fingerprinting {qualified}"))?;
        let key = if schema == "public" {
            table
        } else {
            format!("{schema}.{table}")
        };
        out.insert(key, row);
    }
    Ok(out)
}
