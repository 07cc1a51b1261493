//! PR mode: compare the migrations of a branch with those on its base. Migrations already on the
//! base are applied once, quickly; only new or changed ones get the full cycle. Findings: a
//! migration on the base whose file changed, a new migration ordered before the newest one on
//! the base, and a version already used on the base by another migration.

use crate::check::{Code, Finding};
use crate::migration::{Migration, MigrationSet};

/// How the branch's set relates to the base's.
#[derive(Debug, Default)]
pub struct BaseComparison {
    /// Versions (of the branch set) that are on the base unchanged: applied without a cycle.
    pub unchanged: Vec<String>,
    /// Versions that are new on the branch, or changed: these get the cycle.
    pub cycled: Vec<String>,
    pub findings: Vec<Finding>,
}

fn same_script(a: &Migration, b: &Migration) -> bool {
    a.up.checksum == b.up.checksum
        && a.down.as_ref().map(|d| &d.checksum) == b.down.as_ref().map(|d| &d.checksum)
}

/// Compares `head` (the branch) with `base`; `base_ref` names the base in messages.
pub fn compare(head: &MigrationSet, base: &MigrationSet, base_ref: &str) -> BaseComparison {
    let mut out = BaseComparison::default();
    let newest_on_base = base
        .iter()
        .filter(|m| !m.repeatable)
        .map(|m| &m.version)
        .max();
    for m in head {
        match base.get(&m.version) {
            Some(on_base) if on_base.name == m.name || on_base.up.path == m.up.path => {
                if same_script(m, on_base) {
                    out.unchanged.push(m.version.to_string());
                } else {
                    out.cycled.push(m.version.to_string());
                    let which = if m.up.checksum != on_base.up.checksum {
                        &m.up.path
                    } else {
                        m.down.as_ref().map_or(&m.up.path, |d| &d.path)
                    };
                    out.findings.push(Finding::new(
                        Code::ChangedOnBase,
                        which,
                        None,
                        format!("migration {} is already on {base_ref} and this branch changes it; databases that ran the old version will never run the change: revert the edit and add a new migration", m.label()),
                    ));
                }
            }
            Some(on_base) => {
                out.cycled.push(m.version.to_string());
                out.findings.push(Finding::new(
                    Code::VersionReused,
                    &m.up.path,
                    None,
                    format!("version {} is already used on {base_ref} by {}; give this migration a new version (`upcycle new`)", m.version, on_base.up.path),
                ));
            }
            None => {
                out.cycled.push(m.version.to_string());
                if let Some(newest) = newest_on_base.filter(|n| m.version < **n && !m.repeatable) {
                    out.findings.push(Finding::new(
                        Code::OlderThanBase,
                        &m.up.path,
                        None,
                        format!("new migration {} is ordered before {newest}, the newest on {base_ref}: databases already at {newest} skip it or refuse it, depending on the tool; rename it with a version after {newest}", m.version),
                    ));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::{Dir, read_dirs};

    fn set(files: &[(&str, &str)]) -> MigrationSet {
        let dir = Dir::of_texts(files);
        read_dirs(&[dir], None).expect("reads").set
    }

    #[test]
    fn new_changed_reused_and_older_migrations_are_told_apart() {
        let base = set(&[
            ("1_a.sql", "SELECT 1;"),
            ("5_b.sql", "SELECT 5;"),
            ("7_c.sql", "SELECT 7;"),
        ]);
        let head = set(&[
            ("1_a.sql", "SELECT 1;"),
            ("5_b.sql", "SELECT 55;"),
            ("6_late.sql", "SELECT 6;"),
            ("7_other.sql", "SELECT 7;"),
            ("9_new.sql", "SELECT 9;"),
        ]);
        let c = compare(&head, &base, "origin/main");
        assert_eq!(c.unchanged, ["1"]);
        assert_eq!(c.cycled, ["5", "6", "7", "9"]);
        let codes: Vec<(Code, &str)> = c
            .findings
            .iter()
            .map(|f| (f.code, f.path.as_str()))
            .collect();
        assert_eq!(
            codes,
            [
                (Code::ChangedOnBase, "m/5_b.sql"),
                (Code::OlderThanBase, "m/6_late.sql"),
                (Code::VersionReused, "m/7_other.sql")
            ]
        );
    }
}
