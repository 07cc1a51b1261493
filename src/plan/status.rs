//! `status`: the state of every migration against the database (applied, pending, dirty,
//! modified since applied, missing on disk), from the folder and the history. Pure.

use serde::Serialize;

use crate::history::{History, RowState, same_version};
use crate::migration::MigrationSet;
use crate::postgres::compat::checksum;

/// The state of one migration against the database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Applied,
    Pending,
    Dirty,
    /// Applied with another checksum than the file has now.
    Modified,
    /// Applied, but no longer on disk.
    Missing,
}

/// One line of `status`: a migration on disk or in the history, and its state.
#[derive(Debug, Serialize)]
pub struct Line {
    pub version: String,
    pub name: String,
    pub state: State,
    pub applied_at: Option<String>,
    pub execution_ms: Option<i64>,
}

pub fn lines(set: &MigrationSet, history: &History) -> Vec<Line> {
    let mut out: Vec<Line> = set
        .iter()
        .map(|m| {
            let row = history.find(m.version.as_str());
            let state = match row {
                None => State::Pending,
                // A row covering this version is dirty about its own version only.
                Some(r)
                    if r.state == RowState::Dirty
                        && same_version(&r.version, m.version.as_str()) =>
                {
                    State::Dirty
                }
                Some(r)
                    if r.checksum
                        .as_deref()
                        .is_some_and(|c| !checksum::matches(c, &m.up)) =>
                {
                    State::Modified
                }
                Some(_) => State::Applied,
            };
            Line {
                version: m.version.to_string(),
                name: m.name.clone(),
                state,
                applied_at: row.and_then(|r| r.applied_at).map(|t| t.to_rfc3339()),
                execution_ms: row.and_then(|r| r.execution_ms),
            }
        })
        .collect();
    for row in history.rows.iter().filter(|r| {
        !set.iter()
            .any(|m| same_version(m.version.as_str(), &r.version))
    }) {
        out.push(Line {
            version: row.version.clone(),
            name: row.name.clone(),
            state: State::Missing,
            applied_at: row.applied_at.map(|t| t.to_rfc3339()),
            execution_ms: row.execution_ms,
        });
    }
    out
}
