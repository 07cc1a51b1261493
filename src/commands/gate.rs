//! The production gate: a protected environment needs `--confirm` (or a typed `yes` on a
//! terminal) before anything changes, refuses a plan with divergences, and is backed up first.

use anyhow::bail;

use crate::plan::Plan;
use crate::settings::DbSettings;
use crate::term::Term;

fn name(db: &DbSettings) -> &str {
    db.environment.as_deref().unwrap_or("this database")
}

/// Refuses unless the change to a protected environment is confirmed.
pub fn confirm(db: &DbSettings, term: &Term, action: &str) -> anyhow::Result<()> {
    if !db.protected || db.confirmed {
        return Ok(());
    }
    let env = name(db);
    if term.interactive() {
        if term
            .ask(&format!("{env} is protected. Type yes to {action}: "))
            .as_deref()
            == Some("yes")
        {
            return Ok(());
        }
        bail!("{env}: not confirmed; nothing was changed");
    }
    bail!("{env} is a protected environment: pass --confirm to {action} (nothing was changed)")
}

/// Refuses a plan with divergences on a protected environment.
pub fn no_divergences(db: &DbSettings, plan: &Plan) -> anyhow::Result<()> {
    if !db.protected || plan.divergences.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = plan
        .divergences
        .iter()
        .map(|d| format!("  - {}", d.describe()))
        .collect();
    bail!(
        "{} is protected and the plan diverges from its history; nothing was changed. Reconcile first (`upcycle status`, `upcycle verify`):\n{}",
        name(db),
        list.join("\n")
    )
}
