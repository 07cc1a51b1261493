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
    /// The row also stands for every earlier version: golang-migrate keeps one row (the current
    /// version), and a Flyway baseline covers the versions below it.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub covers_earlier: bool,
}

impl AppliedMigration {
    /// A row that says only that `version` was applied (what dbmate, diesel and goose keep);
    /// the others fill in more with struct update syntax.
    pub fn applied(version: String) -> Self {
        AppliedMigration {
            version,
            name: String::new(),
            checksum: None,
            applied_at: None,
            execution_ms: None,
            applied_by: None,
            state: RowState::Applied,
            script: None,
            covers_earlier: false,
        }
    }
}

/// The rows of a tracking table, in the order they were applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct History {
    pub rows: Vec<AppliedMigration>,
}

impl History {
    /// The row of `version`: its own, or else a row that covers earlier versions.
    pub fn find(&self, version: &str) -> Option<&AppliedMigration> {
        self.rows
            .iter()
            .find(|r| same_version(&r.version, version))
            .or_else(|| {
                self.rows
                    .iter()
                    .find(|r| r.covers_earlier && is_earlier(version, &r.version))
            })
    }

    pub fn dirty(&self) -> Option<&AppliedMigration> {
        self.rows.iter().find(|r| r.state == RowState::Dirty)
    }
}

/// Version texts name the same version when they are equal, or equal as integers (`0042` = `42`).
pub fn same_version(a: &str, b: &str) -> bool {
    a == b || matches!((a.parse::<i128>(), b.parse::<i128>()), (Ok(x), Ok(y)) if x == y)
}

/// Whether version `a` comes before `b`, both numeric (`42`, `1.10`: dot-separated integers
/// compared part by part, trailing zero parts ignored); `false` when either is not numeric.
pub fn is_earlier(a: &str, b: &str) -> bool {
    fn parts(v: &str) -> Option<Vec<i128>> {
        let mut parts = v
            .split('.')
            .map(|p| p.parse::<i128>().ok())
            .collect::<Option<Vec<_>>>()?;
        while parts.len() > 1 && parts.last() == Some(&0) {
            parts.pop();
        }
        Some(parts)
    }
    matches!((parts(a), parts(b)), (Some(x), Some(y)) if x < y)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(version: &str, covers_earlier: bool) -> AppliedMigration {
        AppliedMigration {
            covers_earlier,
            ..AppliedMigration::applied(version.into())
        }
    }

    #[test]
    fn a_covering_row_stands_for_earlier_versions_only() {
        let h = History {
            rows: vec![row("20240102", true)],
        };
        assert!(h.find("20240101").is_some());
        assert!(h.find("020240102").is_some());
        assert!(h.find("20240103").is_none());
        assert!(h.find("abc").is_none());
        let plain = History {
            rows: vec![row("20240102", false)],
        };
        assert!(plain.find("20240101").is_none());
    }

    #[test]
    fn numeric_versions_order_part_by_part() {
        assert!(is_earlier("1.9", "1.10"));
        assert!(is_earlier("1", "1.0.1"));
        assert!(!is_earlier("1.0", "1"));
        assert!(is_earlier("-1", "1"));
        assert!(!is_earlier("R__views", "2"));
    }
}
