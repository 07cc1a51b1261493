//! The check's report as plain data: per migration what each step did (up, down, up again),
//! whether the down restored the schema and the diff when it did not, the findings, and a
//! summary. JSON is its stable form (docs/json.md); text and markdown render from it.

use serde::Serialize;

use crate::check::{Finding, Severity};

/// One step of the cycle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepOutcome {
    pub ok: bool,
    pub ms: u64,
    /// `path:line: message (SQLSTATE …)` when it failed.
    pub error: Option<String>,
}

/// What the check did with one migration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MigrationCheck {
    pub version: String,
    pub name: String,
    pub path: String,
    /// The down script (None: the migration has no down, so it is not reversible).
    pub down_path: Option<String>,
    pub transaction: bool,
    /// False for a migration already on the base branch (PR mode), applied once without a cycle.
    pub cycled: bool,
    pub up: Option<StepOutcome>,
    pub down: Option<StepOutcome>,
    /// The second up, after the down.
    pub reup: Option<StepOutcome>,
    /// Whether the down gave back exactly the schema before the up (None: not checked).
    pub schema_restored: Option<bool>,
    /// Whether the second up gave exactly the schema of the first.
    pub reup_matches: Option<bool>,
    /// Before the up → after the down, as a person reads it (empty when restored).
    pub diff: Vec<String>,
    /// After the first up → after the second.
    pub reup_diff: Vec<String>,
    /// Findings of error severity about this migration (data lost, an irreversible down that ran, …).
    pub errors: usize,
}

impl MigrationCheck {
    /// Whether every step that ran passed and every comparison held.
    pub fn passed(&self) -> bool {
        [&self.up, &self.down, &self.reup]
            .iter()
            .all(|s| s.as_ref().is_none_or(|s| s.ok))
            && self.schema_restored != Some(false)
            && self.reup_matches != Some(false)
            && self.errors == 0
    }
}

/// The whole set down and up again (`--full-cycle`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FullCycle {
    pub down: StepOutcome,
    pub up: Option<StepOutcome>,
    /// Whether the full down gave back the schema before the first migration.
    pub schema_restored: Option<bool>,
    pub diff: Vec<String>,
}

/// Counts for the verdict.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub migrations: usize,
    pub cycled: usize,
    pub passed: usize,
    pub failed: usize,
    /// Migrations the check could not reach (an earlier up failed).
    pub not_checked: usize,
    pub errors: usize,
    pub warnings: usize,
    pub ms: u64,
}

/// Everything `upcycle check` found.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    pub layout: String,
    pub dirs: Vec<String>,
    /// The sandbox, e.g. `docker upcycle-local/postgres:15 (PostgreSQL 15.18)`.
    pub sandbox: String,
    /// The base ref in PR mode.
    pub base: Option<String>,
    pub migrations: Vec<MigrationCheck>,
    pub full_cycle: Option<FullCycle>,
    pub findings: Vec<Finding>,
    pub summary: Summary,
    /// The command that reproduces this check locally.
    pub reproduce: String,
}

impl CheckReport {
    /// Fills in the summary from the migrations and findings.
    pub fn summarize(&mut self, ms: u64) {
        let count = |s: Severity| self.findings.iter().filter(|f| f.severity == s).count();
        let cycled: Vec<&MigrationCheck> = self.migrations.iter().filter(|m| m.cycled).collect();
        let not_checked = cycled.iter().filter(|m| m.up.is_none()).count();
        let failed = cycled
            .iter()
            .filter(|m| m.up.is_some() && !m.passed())
            .count();
        self.summary = Summary {
            migrations: self.migrations.len(),
            cycled: cycled.len(),
            passed: cycled.len() - failed - not_checked,
            failed,
            not_checked,
            errors: count(Severity::Error),
            warnings: count(Severity::Warning),
            ms,
        };
        self.findings
            .sort_by(|a, b| (a.severity, &a.path, a.line).cmp(&(b.severity, &b.path, b.line)));
    }

    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}
