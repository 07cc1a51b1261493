//! What a tracking table says, as plain data: the rows of applied (or half-applied) migrations.
//! Every tracking table upcycle reads (its own, or a compatible tool's) becomes a `History`.

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Whether a row's migration completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RowState {
    Applied,
    /// A non-transactional migration that started and did not finish: the schema may hold part
    /// of it. `up` refuses until `repair` or `force` settles it.
    Dirty,
}

/// One row: a migration the database has seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AppliedMigration {
    pub version: String,
    pub name: String,
    /// The checksum recorded when it was applied (hex), when the table keeps one.
    pub checksum: Option<String>,
    pub applied_at: Option<DateTime<Utc>>,
    pub execution_ms: Option<i64>,
    pub applied_by: Option<String>,
    pub state: RowState,
    /// The up script's text when it was applied, when the table keeps it.
    #[serde(skip)]
    pub script: Option<String>,
}

/// The rows of a tracking table, in the order they were applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct History {
    pub rows: Vec<AppliedMigration>,
}

impl History {
    pub fn find(&self, version: &str) -> Option<&AppliedMigration> {
        self.rows.iter().find(|r| same_version(&r.version, version))
    }

    pub fn dirty(&self) -> Option<&AppliedMigration> {
        self.rows.iter().find(|r| r.state == RowState::Dirty)
    }
}

/// Version texts name the same version when they are equal, or equal as integers (`0042` = `42`).
pub fn same_version(a: &str, b: &str) -> bool {
    a == b || matches!((a.parse::<i128>(), b.parse::<i128>()), (Ok(x), Ok(y)) if x == y)
}
