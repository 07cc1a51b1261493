//! `--history auto`: which tracking table a schema already has, told by its COLUMNS (from
//! `information_schema.columns`), never by its name alone: golang-migrate's and dbmate's tables
//! are both `schema_migrations`. No table → upcycle's own. Tables of several tools → an error
//! that names them, since picking one would hide the other's history.

use anyhow::{Context, bail};
use sqlx::PgConnection;

use crate::postgres::tracking::HistoryMode;

/// The modes a table can be (every mode but `Auto`), in `HistoryMode::ALL` order.
fn candidates() -> impl Iterator<Item = HistoryMode> {
    HistoryMode::ALL
        .iter()
        .map(|(mode, _)| *mode)
        .filter(|mode| *mode != HistoryMode::Auto)
}

/// One column of a candidate table: `(table, column, data_type)`.
pub type Column = (String, String, String);

/// Whether `table`'s columns are those `mode` writes.
fn is(mode: HistoryMode, columns: &[Column]) -> bool {
    let table = mode.table_name();
    let type_of = |name: &str| {
        columns
            .iter()
            .find(|(t, c, _)| t == table && c == name)
            .map(|(_, _, ty)| ty.as_str())
    };
    let has = |names: &[&str]| names.iter().all(|n| type_of(n).is_some());
    match mode {
        HistoryMode::Upcycle => has(&["version", "checksum", "state", "upcycle_version"]),
        HistoryMode::Sqlx => has(&[
            "version",
            "description",
            "checksum",
            "success",
            "execution_time",
        ]),
        HistoryMode::Diesel => has(&["version", "run_on"]),
        HistoryMode::GolangMigrate => {
            has(&["version", "dirty"]) && type_of("version") == Some("bigint")
        }
        HistoryMode::Dbmate => {
            type_of("dirty").is_none()
                && matches!(
                    type_of("version"),
                    Some("character varying" | "text" | "character")
                )
        }
        HistoryMode::Goose => has(&["id", "version_id", "is_applied", "tstamp"]),
        HistoryMode::Flyway => has(&["installed_rank", "version", "script", "checksum", "success"]),
        HistoryMode::Auto => false,
    }
}

/// The modes whose tables `columns` show (pure).
pub fn found(columns: &[Column]) -> Vec<HistoryMode> {
    candidates().filter(|mode| is(*mode, columns)).collect()
}

/// The one mode `columns` show: upcycle's when none, an error naming them when several.
pub fn choose(schema: &str, columns: &[Column]) -> anyhow::Result<HistoryMode> {
    match found(columns).as_slice() {
        [] => Ok(HistoryMode::Upcycle),
        [one] => Ok(*one),
        several => bail!(
            "--history auto found the tracking tables of {} tools in schema \"{schema}\": {}; pass --history with the one this project keeps",
            several.len(),
            several
                .iter()
                .map(|m| format!("{} ({})", m.table_name(), m.id()))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Reads the columns of every candidate table in `schema` and chooses.
pub async fn detect(conn: &mut PgConnection, schema: &str) -> anyhow::Result<HistoryMode> {
    let mut tables: Vec<String> = candidates().map(|m| m.table_name().to_string()).collect();
    tables.dedup();
    let columns: Vec<Column> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text
         FROM information_schema.columns
         WHERE table_schema = $1 AND table_name = ANY($2)
         ORDER BY table_name, ordinal_position",
    )
    .bind(schema)
    .bind(&tables)
    .fetch_all(&mut *conn)
    .await
    .with_context(|| format!("looking for tracking tables in schema \"{schema}\""))?;
    choose(schema, &columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn columns(table: &str, cols: &[(&str, &str)]) -> Vec<Column> {
        cols.iter()
            .map(|(c, ty)| (table.to_string(), c.to_string(), ty.to_string()))
            .collect()
    }

    #[test]
    fn schema_migrations_is_told_apart_by_its_columns() {
        let golang = columns(
            "schema_migrations",
            &[("version", "bigint"), ("dirty", "boolean")],
        );
        assert_eq!(
            choose("public", &golang).unwrap(),
            HistoryMode::GolangMigrate
        );
        let dbmate = columns("schema_migrations", &[("version", "character varying")]);
        assert_eq!(choose("public", &dbmate).unwrap(), HistoryMode::Dbmate);
        let neither = columns("schema_migrations", &[("version", "integer")]);
        assert_eq!(choose("public", &neither).unwrap(), HistoryMode::Upcycle);
    }

    #[test]
    fn each_tool_is_recognised_and_none_means_upcycle() {
        assert_eq!(choose("public", &[]).unwrap(), HistoryMode::Upcycle);
        let cases = [
            (
                HistoryMode::Sqlx,
                columns(
                    "_sqlx_migrations",
                    &[
                        ("version", "bigint"),
                        ("description", "text"),
                        ("installed_on", "timestamp with time zone"),
                        ("success", "boolean"),
                        ("checksum", "bytea"),
                        ("execution_time", "bigint"),
                    ],
                ),
            ),
            (
                HistoryMode::Diesel,
                columns(
                    "__diesel_schema_migrations",
                    &[
                        ("version", "character varying"),
                        ("run_on", "timestamp without time zone"),
                    ],
                ),
            ),
            (
                HistoryMode::Goose,
                columns(
                    "goose_db_version",
                    &[
                        ("id", "integer"),
                        ("version_id", "bigint"),
                        ("is_applied", "boolean"),
                        ("tstamp", "timestamp without time zone"),
                    ],
                ),
            ),
            (
                HistoryMode::Flyway,
                columns(
                    "flyway_schema_history",
                    &[
                        ("installed_rank", "integer"),
                        ("version", "character varying"),
                        ("script", "character varying"),
                        ("checksum", "integer"),
                        ("success", "boolean"),
                    ],
                ),
            ),
            (
                HistoryMode::Upcycle,
                columns(
                    "upcycle_migrations",
                    &[
                        ("version", "text"),
                        ("checksum", "text"),
                        ("state", "text"),
                        ("upcycle_version", "text"),
                    ],
                ),
            ),
        ];
        for (mode, cols) in cases {
            assert_eq!(choose("public", &cols).unwrap(), mode);
        }
    }

    #[test]
    fn several_tools_are_an_error_naming_them() {
        let mut both = columns(
            "_sqlx_migrations",
            &[
                ("version", "bigint"),
                ("description", "text"),
                ("success", "boolean"),
                ("checksum", "bytea"),
                ("execution_time", "bigint"),
            ],
        );
        both.extend(columns(
            "goose_db_version",
            &[
                ("id", "integer"),
                ("version_id", "bigint"),
                ("is_applied", "boolean"),
                ("tstamp", "timestamp without time zone"),
            ],
        ));
        let err = choose("app", &both).unwrap_err().to_string();
        assert!(
            err.contains("_sqlx_migrations (sqlx), goose_db_version (goose)"),
            "{err}"
        );
        assert!(err.contains("--history"), "{err}");
    }
}
