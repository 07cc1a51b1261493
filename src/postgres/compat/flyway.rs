//! Flyway's `flyway_schema_history`: a log ranked by `installed_rank`, one row per run of a
//! migration with its version (NULL for repeatables), description (`_` as spaces), type `SQL`,
//! script (the file, relative to the location), CRC32 checksum, who, when, `execution_time` in ms
//! and `success`. A migration that ran outside a transaction and failed keeps `success = false`
//! (Flyway's "failed migration"), which is upcycle's dirty. The newest row of a version (or of a
//! repeatable's script) is its state; `BASELINE` rows cover the versions below them; `SCHEMA`
//! rows are not migrations; undo and delete rows (from Flyway's paid undo and `repair`) take
//! the version back out.

use std::collections::BTreeMap;

use anyhow::Context;
use sqlx::{AssertSqlSafe, PgConnection, Row};

use super::checksum;
use crate::history::{AppliedMigration, History, RowState};
use crate::migration::Migration;
use crate::postgres::tracking::{NewRow, Tracking};

pub const TABLE: &str = "flyway_schema_history";

/// `PostgreSQLDatabase.getRawCreateScript`.
pub async fn create(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<()> {
    let table = t.table();
    super::create(
        t,
        conn,
        &format!(
            "CREATE TABLE {table} (
                 \"installed_rank\" INT NOT NULL,
                 \"version\" VARCHAR(50),
                 \"description\" VARCHAR(200) NOT NULL,
                 \"type\" VARCHAR(20) NOT NULL,
                 \"script\" VARCHAR(1000) NOT NULL,
                 \"checksum\" INTEGER,
                 \"installed_by\" VARCHAR(100) NOT NULL,
                 \"installed_on\" TIMESTAMP NOT NULL DEFAULT now(),
                 \"execution_time\" INTEGER NOT NULL,
                 \"success\" BOOLEAN NOT NULL
             );
             ALTER TABLE {table} ADD CONSTRAINT \"{TABLE}_pk\" PRIMARY KEY (\"installed_rank\");
             CREATE INDEX \"{TABLE}_s_idx\" ON {table} (\"success\");"
        ),
    )
    .await
}

/// Which rows a migration's are: a version's, or a repeatable's (version NULL, by its script).
enum Key {
    Versioned(String),
    Repeatable(String),
}

impl Key {
    /// Versions are digits and dots; anything else is a repeatable, named `R__<desc>` like its
    /// file without `.sql` (as upcycle's Flyway reader names repeatables).
    fn of_version(version: &str) -> Key {
        if version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        {
            Key::Versioned(version.to_string())
        } else {
            Key::Repeatable(format!("{version}.sql"))
        }
    }

    fn of_migration(m: &Migration) -> Key {
        if m.repeatable {
            Key::Repeatable(super::file_name(&m.up.path).to_string())
        } else {
            Key::Versioned(m.version.to_string())
        }
    }

    /// `(version, script)` to bind with `WHERE_KEY`.
    fn binds(&self) -> (Option<&str>, &str) {
        match self {
            Key::Versioned(v) => (Some(v.as_str()), ""),
            Key::Repeatable(script) => (None, script.as_str()),
        }
    }
}

/// Rows of a key, `$1` = version (NULL for a repeatable), `$2` = the repeatable's file name (the
/// script column holds it relative to the location, so it may sit in a subfolder).
const WHERE_KEY: &str = "(version = $1::varchar OR ($1::varchar IS NULL AND version IS NULL
    AND (script = $2::varchar OR right(script, length($2::varchar) + 1) = '/' || $2::varchar)))";

/// Flyway's description of a migration: the name with `_` as spaces, at most 200 characters.
pub fn description(m: &Migration) -> String {
    abbreviate(&m.name.replace('_', " "), 200)
}

/// `AbbreviationUtils.abbreviateDescription` / `abbreviateScript`.
fn abbreviate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}...", text.chars().take(max - 3).collect::<String>())
    }
}

fn script_of(m: &Migration) -> String {
    abbreviate(super::file_name(&m.up.path), 1000)
}

/// The newest row of each migration, in rank order.
pub async fn read(t: &Tracking, conn: &mut PgConnection) -> anyhow::Result<History> {
    let sql = format!(
        "SELECT installed_rank, version::text AS version, description::text AS description,
                type::text AS type, script::text AS script, checksum::text AS checksum,
                installed_by::text AS installed_by, installed_on::timestamptz AS installed_on,
                execution_time, success
         FROM {} ORDER BY installed_rank",
        t.table()
    );
    let rows = super::read_rows(t, conn, sql).await?;
    let mut newest: BTreeMap<String, (i32, AppliedMigration)> = BTreeMap::new();
    for r in rows {
        let kind: String = r.get("type");
        let version: Option<String> = r.get("version");
        let script: String = r.get("script");
        if kind == "SCHEMA" {
            continue;
        }
        let key = version.clone().unwrap_or_else(|| {
            super::file_name(&script)
                .trim_end_matches(".sql")
                .to_string()
        });
        if kind == "DELETE" || kind.starts_with("UNDO") {
            newest.remove(&key);
            continue;
        }
        let execution: i32 = r.get("execution_time");
        let row = AppliedMigration {
            version: key.clone(),
            name: r.get("description"),
            checksum: r.get("checksum"),
            applied_at: Some(r.get("installed_on")),
            execution_ms: Some(i64::from(execution)),
            applied_by: Some(r.get("installed_by")),
            state: if r.get("success") {
                RowState::Applied
            } else {
                RowState::Dirty
            },
            script: None,
            covers_earlier: kind.ends_with("BASELINE"),
        };
        newest.insert(key, (r.get("installed_rank"), row));
    }
    let mut rows: Vec<(i32, AppliedMigration)> = newest.into_values().collect();
    rows.sort_by_key(|(rank, _)| *rank);
    Ok(History {
        rows: rows.into_iter().map(|(_, row)| row).collect(),
    })
}

/// Completes the failed row upcycle left before running the migration outside a transaction, or
/// inserts a row at the next rank (a re-applied repeatable gets a new row, as in Flyway).
pub async fn record(t: &Tracking, conn: &mut PgConnection, row: &NewRow<'_>) -> anyhow::Result<()> {
    let m = row.migration;
    let table = t.table();
    let key = Key::of_migration(m);
    let (version, script) = key.binds();
    let success = row.state == RowState::Applied;
    let execution = i32::try_from(row.execution_ms).unwrap_or(i32::MAX);
    let update = format!(
        "UPDATE {table} SET description = $3, checksum = $4, execution_time = $5, success = $6,
             installed_on = now(), installed_by = current_user
         WHERE NOT success AND installed_rank = (SELECT max(installed_rank) FROM {table} WHERE {WHERE_KEY})"
    );
    let updated = sqlx::query(AssertSqlSafe(update))
        .bind(version)
        .bind(script)
        .bind(description(m))
        .bind(checksum::flyway(&m.up))
        .bind(execution)
        .bind(success)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("recording {} in {table}", m.version))?;
    if updated.rows_affected() > 0 {
        return Ok(());
    }
    let insert = format!(
        "INSERT INTO {table} (installed_rank, version, description, type, script, checksum,
             installed_by, execution_time, success)
         SELECT coalesce(max(installed_rank), 0) + 1, $1, $2, 'SQL', $3, $4, current_user, $5, $6
         FROM {table}"
    );
    sqlx::query(AssertSqlSafe(insert))
        .bind(version)
        .bind(description(m))
        .bind(script_of(m))
        .bind(checksum::flyway(&m.up))
        .bind(execution)
        .bind(success)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("recording {} in {table}", m.version))?;
    Ok(())
}

/// A down outside a transaction is starting: the version's newest row is marked failed.
pub async fn mark_dirty(
    t: &Tracking,
    conn: &mut PgConnection,
    version: &str,
) -> anyhow::Result<()> {
    let table = t.table();
    let key = Key::of_version(version);
    let (version_bind, script) = key.binds();
    let sql = format!(
        "UPDATE {table} SET success = false
         WHERE installed_rank = (SELECT max(installed_rank) FROM {table} WHERE {WHERE_KEY})"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(version_bind)
        .bind(script)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("marking {version} failed in {table}"))?;
    Ok(())
}

/// Realigns the newest row's checksum with the file (what `flyway repair` does).
pub async fn set_checksum(
    t: &Tracking,
    conn: &mut PgConnection,
    m: &Migration,
) -> anyhow::Result<()> {
    let table = t.table();
    let key = Key::of_migration(m);
    let (version, script) = key.binds();
    let sql = format!(
        "UPDATE {table} SET checksum = $3, description = $4
         WHERE installed_rank = (SELECT max(installed_rank) FROM {table} WHERE {WHERE_KEY})"
    );
    sqlx::query(AssertSqlSafe(sql))
        .bind(version)
        .bind(script)
        .bind(checksum::flyway(&m.up))
        .bind(description(m))
        .execute(&mut *conn)
        .await
        .with_context(|| format!("updating the checksum of {} in {table}", m.version))?;
    Ok(())
}

/// A version is no longer applied: its rows are deleted (OSS Flyway has no undo rows, and then
/// shows it pending). For a repeatable, only its newest row goes, so an earlier run shows again.
pub async fn remove(t: &Tracking, conn: &mut PgConnection, version: &str) -> anyhow::Result<()> {
    let table = t.table();
    let key = Key::of_version(version);
    let (version_bind, script) = key.binds();
    let sql = match key {
        Key::Versioned(_) => format!("DELETE FROM {table} WHERE {WHERE_KEY}"),
        Key::Repeatable(_) => format!(
            "DELETE FROM {table} WHERE installed_rank = (SELECT max(installed_rank) FROM {table} WHERE {WHERE_KEY})"
        ),
    };
    sqlx::query(AssertSqlSafe(sql))
        .bind(version_bind)
        .bind(script)
        .execute(&mut *conn)
        .await
        .with_context(|| format!("removing {version} from {table}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_and_repeatables_are_told_apart() {
        assert!(matches!(Key::of_version("1.10"), Key::Versioned(v) if v == "1.10"));
        assert!(matches!(Key::of_version("001"), Key::Versioned(_)));
        assert!(
            matches!(Key::of_version("R__active_users"), Key::Repeatable(s) if s == "R__active_users.sql")
        );
    }

    #[test]
    fn long_texts_are_abbreviated_as_flyway_does() {
        assert_eq!(abbreviate("abc", 200), "abc");
        let long = "x".repeat(250);
        let short = abbreviate(&long, 200);
        assert_eq!(short.len(), 200);
        assert!(short.ends_with("..."));
    }
}
