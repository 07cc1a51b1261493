//! What a snapshot leaves out: the tracking tables of upcycle and of the tools it reads, which a
//! migration run writes to but which are not the schema under test.

use super::text::{split_qualified, unquote};

/// The tracking tables every snapshot leaves out by default: upcycle's own and those of sqlx,
/// diesel, golang-migrate and dbmate (`schema_migrations`), goose, Flyway, sql-migrate (gorp),
/// Alembic and refinery.
pub const TRACKING_TABLES: &[&str] = &[
    "upcycle_migrations",
    "_sqlx_migrations",
    "__diesel_schema_migrations",
    "schema_migrations",
    "goose_db_version",
    "flyway_schema_history",
    "gorp_migrations",
    "alembic_version",
    "refinery_schema_history",
];

/// What to leave out of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotOptions {
    /// Tables to leave out, with the sequences they own: a bare name (`schema_migrations`)
    /// matches in every schema, a qualified one (`app.schema_migrations`) in that schema only.
    /// Names are unquoted, as written in `CREATE TABLE` with quotes.
    pub exclude_tables: Vec<String>,
}

impl Default for SnapshotOptions {
    fn default() -> Self {
        SnapshotOptions {
            exclude_tables: TRACKING_TABLES.iter().map(|t| t.to_string()).collect(),
        }
    }
}

impl SnapshotOptions {
    /// Leaves nothing out.
    pub fn everything() -> Self {
        SnapshotOptions {
            exclude_tables: Vec::new(),
        }
    }

    /// Whether the table with this qualified key (`public.users`, quoted as `quote_ident` does)
    /// is left out.
    pub fn excludes(&self, key: &str) -> bool {
        let (schema, name) = split_qualified(key);
        let (schema, name) = (unquote(schema), unquote(name));
        self.exclude_tables
            .iter()
            .any(|entry| match entry.split_once('.') {
                Some((s, n)) => s == schema && n == name,
                None => *entry == name,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_names_match_in_every_schema_and_qualified_ones_in_theirs() {
        let options = SnapshotOptions {
            exclude_tables: vec!["history".into(), "app.Versions".into()],
        };
        assert!(options.excludes("public.history"));
        assert!(options.excludes("other.history"));
        assert!(options.excludes("app.\"Versions\""));
        assert!(!options.excludes("public.\"Versions\""));
        assert!(!options.excludes("public.historyx"));
        assert!(SnapshotOptions::default().excludes("public.schema_migrations"));
        assert!(!SnapshotOptions::everything().excludes("public.schema_migrations"));
    }
}
