//! upcycle's own tracking table, `upcycle_migrations`, in a configurable schema: one row per
//! applied (or dirty) migration. Its shape carries a version in the table comment so a later
//! upcycle can migrate it. All SQL binds values and quotes identifiers.

use anyhow::Context;
use sqlx::{AssertSqlSafe, Executor, PgConnection, Row};

use crate::history::{AppliedMigration, History, RowState};

/// The shape of the table this upcycle writes.
pub const SHAPE: u32 = 1;
pub const TABLE: &str = "upcycle_migrations";

/// `"ident"`, with embedded quotes doubled.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Which tracking table to read and write: upcycle's own, or a tool's native one, so a team can
/// keep its tool side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryMode {
    Upcycle,
    Sqlx,
    Diesel,
    GolangMigrate,
    Dbmate,
    Goose,
    Flyway,
    /// Detect an existing table by its columns; upcycle's own when there is none.
    Auto,
}

impl HistoryMode {
    /// Every mode with its `--history` id: the one list of them.
    pub const ALL: &'static [(HistoryMode, &'static str)] = &[
        (HistoryMode::Upcycle, "upcycle"),
        (HistoryMode::Sqlx, "sqlx"),
        (HistoryMode::Diesel, "diesel"),
        (HistoryMode::GolangMigrate, "golang-migrate"),
        (HistoryMode::Dbmate, "dbmate"),
        (HistoryMode::Goose, "goose"),
        (HistoryMode::Flyway, "flyway"),
        (HistoryMode::Auto, "auto"),
    ];

    pub fn from_id(id: &str) -> Option<HistoryMode> {
        Self::ALL
            .iter()
            .find(|(_, i)| i.eq_ignore_ascii_case(id))
            .map(|(m, _)| *m)
    }

    pub fn id(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("upcycle", |(_, i)| i)
    }
}

/// Where the table lives and who is writing.
#[derive(Debug, Clone)]
pub struct Tracking {
    pub schema: String,
    /// Recorded in `applied_by` with the database user (the CI run id, when there is one).
    pub run_id: Option<String>,
    pub mode: HistoryMode,
}

/// A row about to be written.
pub struct NewRow<'a> {
    pub version: &'a str,
    pub name: &'a str,
    pub checksum: &'a str,
    pub execution_ms: i64,
    pub state: RowState,
    /// The up script's text, kept so `verify` can show what changed since.
    pub script: &'a str,
}

impl Tracking {
    pub fn table(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(TABLE))
    }

    /// Creates the schema and table when absent (call while holding the migration lock).
    pub async fn ensure(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        let table = self.table();
        let ddl = format!(
            "CREATE SCHEMA IF NOT EXISTS {schema};
             CREATE TABLE IF NOT EXISTS {table} (
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
             COMMENT ON TABLE {table} IS 'upcycle history, shape {SHAPE}';",
            schema = quote_ident(&self.schema)
        );
        if self.exists(conn).await? {
            return Ok(());
        }
        conn.execute(sqlx::raw_sql(AssertSqlSafe(ddl)))
            .await
            .with_context(|| format!("creating the tracking table {table}"))?;
        Ok(())
    }

    /// Whether the table exists.
    pub async fn exists(&self, conn: &mut PgConnection) -> anyhow::Result<bool> {
        let found: Option<String> = sqlx::query_scalar("SELECT to_regclass($1)::text")
            .bind(self.table())
            .fetch_one(&mut *conn)
            .await
            .context("looking for the tracking table")?;
        Ok(found.is_some())
    }

    /// Every row, in the order applied. A database without the table has an empty history.
    pub async fn read(&self, conn: &mut PgConnection) -> anyhow::Result<History> {
        if !self.exists(conn).await? {
            return Ok(History::default());
        }
        let sql = format!(
            "SELECT version, name, checksum, applied_at, execution_ms, applied_by, state, script FROM {} ORDER BY ordinal",
            self.table()
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await
            .context("reading the tracking table")?;
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
                }
            })
            .collect();
        Ok(History { rows })
    }

    /// Inserts (or, for a re-applied repeatable or a dirty row, replaces) a row.
    pub async fn record<'c, E: Executor<'c, Database = sqlx::Postgres>>(
        &self,
        executor: E,
        row: &NewRow<'_>,
    ) -> anyhow::Result<()> {
        let sql = format!(
            "INSERT INTO {} (version, name, checksum, execution_ms, applied_by, upcycle_version, state, script)
             VALUES ($1, $2, $3, $4, current_user || coalesce(' (run ' || $5 || ')', ''), $6, $7, $8)
             ON CONFLICT (version) DO UPDATE SET name = EXCLUDED.name, checksum = EXCLUDED.checksum,
                 applied_at = now(), execution_ms = EXCLUDED.execution_ms, applied_by = EXCLUDED.applied_by,
                 upcycle_version = EXCLUDED.upcycle_version, state = EXCLUDED.state, script = EXCLUDED.script",
            self.table()
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(row.version)
            .bind(row.name)
            .bind(row.checksum)
            .bind(row.execution_ms)
            .bind(self.run_id.as_deref())
            .bind(env!("CARGO_PKG_VERSION"))
            .bind(match row.state {
                RowState::Applied => "applied",
                RowState::Dirty => "dirty",
            })
            .bind(row.script)
            .execute(executor)
            .await
            .with_context(|| format!("recording {} in {}", row.version, self.table()))?;
        Ok(())
    }

    /// Marks a row dirty (a non-transactional down is starting).
    pub async fn mark_dirty<'c, E: Executor<'c, Database = sqlx::Postgres>>(
        &self,
        executor: E,
        version: &str,
    ) -> anyhow::Result<()> {
        let sql = format!(
            "UPDATE {} SET state = 'dirty' WHERE version = $1",
            self.table()
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(version)
            .execute(executor)
            .await
            .with_context(|| format!("marking {version} dirty"))?;
        Ok(())
    }

    /// Updates the checksum (and kept script) of a row (`repair --update-checksums`).
    pub async fn set_checksum<'c, E: Executor<'c, Database = sqlx::Postgres>>(
        &self,
        executor: E,
        version: &str,
        checksum: &str,
        script: &str,
    ) -> anyhow::Result<()> {
        let sql = format!(
            "UPDATE {} SET checksum = $2, script = $3 WHERE version = $1",
            self.table()
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(version)
            .bind(checksum)
            .bind(script)
            .execute(executor)
            .await
            .with_context(|| format!("updating the checksum of {version}"))?;
        Ok(())
    }

    /// Deletes a row (after a down).
    pub async fn remove<'c, E: Executor<'c, Database = sqlx::Postgres>>(
        &self,
        executor: E,
        version: &str,
    ) -> anyhow::Result<()> {
        let sql = format!("DELETE FROM {} WHERE version = $1", self.table());
        sqlx::query(AssertSqlSafe(sql))
            .bind(version)
            .execute(executor)
            .await
            .with_context(|| format!("removing {version} from {}", self.table()))?;
        Ok(())
    }

    /// The advisory lock key for this table: the first 8 bytes of sha256("upcycle:" + table).
    pub fn lock_key(&self) -> i64 {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("upcycle:{}", self.table()).as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        let t = Tracking {
            schema: "my schema".into(),
            run_id: None,
            mode: HistoryMode::Upcycle,
        };
        assert_eq!(t.table(), "\"my schema\".\"upcycle_migrations\"");
        assert_ne!(
            t.lock_key(),
            Tracking {
                schema: "public".into(),
                run_id: None,
                mode: HistoryMode::Upcycle,
            }
            .lock_key()
        );
    }
}
