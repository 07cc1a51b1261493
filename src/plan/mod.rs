//! Plans: what `up` or `down` would do, as a value computed before anything runs
//! (reconcile the set on disk with the history in the database). `--dry-run` prints it, `up`
//! executes it, `--expect-plan` compares its digest with the one a reviewer saw.

mod reconcile;
pub mod status;

pub use reconcile::{PlanError, plan_down, plan_up};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::migration::{Direction, hex};

/// How far to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Every pending migration (up), or the last applied one (down).
    Default,
    /// Up to and including this version (up), or down to this version, which stays applied.
    Version(String),
    /// This many migrations.
    Count(usize),
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Default => f.write_str("default"),
            Target::Version(v) => write!(f, "version {v}"),
            Target::Count(n) => write!(f, "count {n}"),
        }
    }
}

/// One migration to run, in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    pub version: String,
    pub name: String,
    /// The script that runs (the up or the down).
    pub path: String,
    pub checksum: String,
    pub transaction: bool,
}

/// Where the database and the folder disagree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Divergence {
    /// Applied, but no migration on disk has its version.
    MissingOnDisk { version: String, name: String },
    /// Applied with another checksum than the file has now.
    Modified {
        version: String,
        path: String,
        applied: String,
        disk: String,
    },
    /// Pending, but older than the newest applied migration.
    OutOfOrder {
        version: String,
        newest_applied: String,
    },
}

impl Divergence {
    /// A sentence a person reads.
    pub fn describe(&self) -> String {
        match self {
            Divergence::MissingOnDisk { version, name } => format!(
                "{} is applied but no longer on disk",
                format!("{version} {name}").trim_end()
            ),
            Divergence::Modified { version, path, .. } => {
                format!("{version} was applied with another checksum: {path} changed since")
            }
            Divergence::OutOfOrder {
                version,
                newest_applied,
            } => format!(
                "{version} is pending but older than the newest applied migration {newest_applied}"
            ),
        }
    }
}

/// A plan: the steps in order, what diverges, and a digest that names this exact plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub direction: Direction,
    pub target: String,
    pub steps: Vec<Step>,
    pub divergences: Vec<Divergence>,
    /// sha256 over direction, target, and each step's version and checksum (first 16 hex digits).
    pub digest: String,
}

impl Plan {
    pub(crate) fn new(
        direction: Direction,
        target: &Target,
        steps: Vec<Step>,
        divergences: Vec<Divergence>,
    ) -> Self {
        let mut hasher = Sha256::new();
        hasher.update(format!("{direction:?}\n{target}\n").as_bytes());
        for step in &steps {
            hasher.update(format!("{}\t{}\n", step.version, step.checksum).as_bytes());
        }
        let digest = hex(&hasher.finalize())[..16].to_string();
        Plan {
            direction,
            target: target.to_string(),
            steps,
            divergences,
            digest,
        }
    }

    /// A plan of exactly these migrations in this direction (the check's single steps, PR mode's
    /// base): no reconciliation, no divergences.
    pub fn of(direction: Direction, migrations: &[&crate::migration::Migration]) -> Option<Plan> {
        let steps = migrations
            .iter()
            .map(|m| {
                let script = match direction {
                    Direction::Up => &m.up,
                    Direction::Down => m.down.as_ref()?,
                };
                Some(Step {
                    version: m.version.to_string(),
                    name: m.name.clone(),
                    path: script.path.clone(),
                    checksum: script.checksum.to_string(),
                    transaction: script.transaction.is_wrapped(),
                })
            })
            .collect::<Option<Vec<Step>>>()?;
        Some(Plan::new(direction, &Target::Default, steps, Vec::new()))
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}
