//! Reconcile a migration set with a history into a `Plan` (pure).

use super::{Divergence, Plan, Step, Target};
use crate::history::{History, RowState, same_version};
use crate::migration::{Direction, Migration, MigrationSet, Script};
use crate::postgres::compat::checksum;

/// Why no plan can be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error(
        "migration {version} is marked dirty: it started outside a transaction and did not finish. Check the schema, then either undo what it did (or make it safe to rerun) and run `upcycle repair`, which removes the dirty row so the next `up` runs it again, or finish it by hand and run `upcycle force {version}`, which marks it applied without running it"
    )]
    Dirty { version: String },
    #[error("version {version} is not in the migration set; `upcycle list` shows the versions")]
    UnknownVersion { version: String },
    #[error("cannot revert {}: no down script. Write the down, or restore from a backup", versions.join(", "))]
    NoDown { versions: Vec<String> },
    #[error("version {version} is applied; nothing to do up to it")]
    AlreadyApplied { version: String },
}

fn step(m: &Migration, script: &Script) -> Step {
    Step {
        version: m.version.to_string(),
        name: m.name.clone(),
        path: script.path.clone(),
        checksum: script.checksum.to_string(),
        transaction: script.transaction.is_wrapped(),
    }
}

/// The divergences between `set` and `history`.
pub fn divergences(set: &MigrationSet, history: &History) -> Vec<Divergence> {
    let mut out = Vec::new();
    for row in &history.rows {
        match set
            .iter()
            .find(|m| same_version(m.version.as_str(), &row.version))
        {
            None => out.push(Divergence::MissingOnDisk {
                version: row.version.clone(),
                name: row.name.clone(),
            }),
            Some(m) => {
                if let Some(applied) = &row.checksum
                    && !checksum::matches(applied, &m.up)
                    && !m.repeatable
                {
                    out.push(Divergence::Modified {
                        version: row.version.clone(),
                        path: m.up.path.clone(),
                        applied: applied.clone(),
                        disk: checksum::like(applied, &m.up),
                    });
                }
            }
        }
    }
    let newest = set
        .iter()
        .rev()
        .find(|m| history.find(m.version.as_str()).is_some());
    if let Some(newest) = newest {
        for m in set.iter().take_while(|m| m.version < newest.version) {
            if history.find(m.version.as_str()).is_none() && !m.repeatable {
                out.push(Divergence::OutOfOrder {
                    version: m.version.to_string(),
                    newest_applied: newest.version.to_string(),
                });
            }
        }
    }
    out
}

fn dirty(history: &History) -> Result<(), PlanError> {
    match history.dirty() {
        Some(row) => Err(PlanError::Dirty {
            version: row.version.clone(),
        }),
        None => Ok(()),
    }
}

/// The pending migrations up to `target`, in version order.
pub fn plan_up(set: &MigrationSet, history: &History, target: &Target) -> Result<Plan, PlanError> {
    dirty(history)?;
    let pending: Vec<&Migration> = set
        .iter()
        .filter(|m| match history.find(m.version.as_str()) {
            None => true,
            Some(row) => {
                m.repeatable
                    && !row
                        .checksum
                        .as_deref()
                        .is_some_and(|c| checksum::matches(c, &m.up))
            }
        })
        .collect();
    let chosen: Vec<&Migration> = match target {
        Target::Default => pending,
        Target::Count(n) => pending.into_iter().take(*n).collect(),
        Target::Version(v) => {
            let limit = set
                .iter()
                .find(|m| same_version(m.version.as_str(), v))
                .ok_or_else(|| PlanError::UnknownVersion { version: v.clone() })?;
            pending
                .into_iter()
                .filter(|m| m.version <= limit.version && !m.repeatable)
                .collect()
        }
    };
    let steps = chosen.iter().map(|m| step(m, &m.up)).collect();
    Ok(Plan::new(
        Direction::Up,
        target,
        steps,
        divergences(set, history),
    ))
}

/// The applied migrations to revert, newest first: one by default, `Count(n)`, or all above
/// `Version(v)` (which stays applied).
pub fn plan_down(
    set: &MigrationSet,
    history: &History,
    target: &Target,
) -> Result<Plan, PlanError> {
    dirty(history)?;
    let applied: Vec<&Migration> = set
        .iter()
        .rev()
        .filter(|m| {
            history
                .find(m.version.as_str())
                .is_some_and(|r| r.state == RowState::Applied)
                && !m.repeatable
        })
        .collect();
    let chosen: Vec<&Migration> = match target {
        Target::Default => applied.into_iter().take(1).collect(),
        Target::Count(n) => applied.into_iter().take(*n).collect(),
        Target::Version(v) => {
            let keep = set
                .iter()
                .find(|m| same_version(m.version.as_str(), v))
                .ok_or_else(|| PlanError::UnknownVersion { version: v.clone() })?;
            applied
                .into_iter()
                .filter(|m| m.version > keep.version)
                .collect()
        }
    };
    let missing: Vec<String> = chosen
        .iter()
        .filter(|m| m.down.is_none())
        .map(|m| m.label())
        .collect();
    if !missing.is_empty() {
        return Err(PlanError::NoDown { versions: missing });
    }
    let steps = chosen
        .iter()
        .filter_map(|m| m.down.as_ref().map(|d| step(m, d)))
        .collect();
    Ok(Plan::new(
        Direction::Down,
        target,
        steps,
        divergences(set, history),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::AppliedMigration;
    use crate::migration::{Dir, read_dirs};

    fn set(files: &[(&str, &str)]) -> MigrationSet {
        let dir = Dir::of_texts(files);
        read_dirs(&[dir], None).expect("reads").set
    }

    fn row(version: &str, checksum: Option<String>) -> AppliedMigration {
        AppliedMigration {
            checksum,
            ..AppliedMigration::applied(version.into())
        }
    }

    fn three() -> MigrationSet {
        set(&[
            ("1_a.up.sql", "SELECT 1;"),
            ("1_a.down.sql", "SELECT -1;"),
            ("2_b.up.sql", "SELECT 2;"),
            ("2_b.down.sql", "SELECT -2;"),
            ("3_c.up.sql", "SELECT 3;"),
        ])
    }

    #[test]
    fn up_plans_pending_in_order_and_the_digest_names_the_plan() {
        let s = three();
        let h = History {
            rows: vec![row("1", Some(s.as_slice()[0].up.checksum.to_string()))],
        };
        let plan = plan_up(&s, &h, &Target::Default).unwrap();
        assert_eq!(
            plan.steps
                .iter()
                .map(|s| s.version.as_str())
                .collect::<Vec<_>>(),
            ["2", "3"]
        );
        assert!(plan.divergences.is_empty());
        let again = plan_up(&s, &h, &Target::Default).unwrap();
        assert_eq!(plan.digest, again.digest);
        let shorter = plan_up(&s, &h, &Target::Count(1)).unwrap();
        assert_ne!(plan.digest, shorter.digest);
        assert_eq!(
            plan_up(&s, &h, &Target::Version("2".into()))
                .unwrap()
                .steps
                .len(),
            1
        );
    }

    #[test]
    fn divergences_are_reported() {
        let s = three();
        let h = History {
            rows: vec![row("2", Some("old".into())), row("9", None)],
        };
        let plan = plan_up(&s, &h, &Target::Default).unwrap();
        let kinds: Vec<String> = plan.divergences.iter().map(Divergence::describe).collect();
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        assert!(kinds[0].contains("2 was applied with another checksum"));
        assert!(kinds[1].contains("9 is applied but no longer on disk"));
        assert!(kinds[2].contains("1 is pending but older"));
    }

    #[test]
    fn down_refuses_naming_migrations_without_a_down() {
        let s = three();
        let h = History {
            rows: vec![row("1", None), row("2", None), row("3", None)],
        };
        assert_eq!(
            plan_down(&s, &h, &Target::Count(2)),
            Err(PlanError::NoDown {
                versions: vec!["3_c".into()]
            })
        );
        let h = History {
            rows: vec![row("1", None), row("2", None)],
        };
        let plan = plan_down(&s, &h, &Target::Version("0".into()));
        assert!(matches!(plan, Err(PlanError::UnknownVersion { .. })));
        let plan = plan_down(&s, &h, &Target::Count(5)).unwrap();
        assert_eq!(
            plan.steps
                .iter()
                .map(|s| s.path.as_str())
                .collect::<Vec<_>>(),
            ["m/2_b.down.sql", "m/1_a.down.sql"]
        );
    }

    #[test]
    fn dirty_history_refuses_with_instructions() {
        let s = three();
        let mut r = row("2", None);
        r.state = RowState::Dirty;
        let err = plan_up(&s, &History { rows: vec![r] }, &Target::Default).unwrap_err();
        assert!(err.to_string().contains("upcycle repair"), "{err}");
    }
}
