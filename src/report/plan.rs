//! Plans and their results as text, JSON and markdown, and the exact SQL of `--dry-run`.

use serde_json::json;

use super::comment::CommentParts;
use super::escape;
use crate::migration::{Direction, MigrationSet, Reading};
use crate::plan::Plan;
use crate::postgres::Tracking;
use crate::postgres::apply::StepDone;
use crate::postgres::tracking::HistoryMode;
use crate::settings::Format;

/// `upcycle plan`.
pub fn render(plan: &Plan, reading: &Reading, format: Format) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(&json!({
            "direction": plan.direction,
            "target": plan.target,
            "digest": plan.digest,
            "pending_count": plan.steps.len(),
            "steps": plan.steps,
            "divergences": plan.divergences,
            "layout": reading.detection.layout.id(),
        }))
        .unwrap_or_default(),
        Format::Markdown => {
            let mut out = format!(
                "**{} pending migration(s)** · plan digest `{}`\n\n",
                plan.steps.len(),
                plan.digest
            );
            if !plan.steps.is_empty() {
                out.push_str("| version | name | transaction | script |\n|---|---|---|---|\n");
                for s in &plan.steps {
                    out.push_str(&format!(
                        "| {} | {} | {} | {} |\n",
                        escape::markdown(&s.version),
                        escape::markdown(&s.name),
                        if s.transaction { "yes" } else { "no" },
                        escape::markdown(&s.path)
                    ));
                }
            }
            for d in &plan.divergences {
                out.push_str(&format!("\n- ⚠️ {}", escape::markdown(&d.describe())));
            }
            out
        }
        Format::Text => {
            let mut out = match plan.steps.len() {
                0 => "nothing to apply: the database is up to date\n".to_string(),
                n => format!("{n} pending migration(s):\n"),
            };
            for s in &plan.steps {
                out.push_str(&format!(
                    "  {}  {}{}\n",
                    s.version,
                    s.name,
                    if s.transaction {
                        ""
                    } else {
                        "  (no transaction)"
                    }
                ));
            }
            for d in &plan.divergences {
                out.push_str(&format!("divergence: {}\n", d.describe()));
            }
            out.push_str(&format!("plan digest {}\n", plan.digest));
            out
        }
    }
}

/// A plan as a PR comment in parts (the Action's `command: plan`): `title` names the target
/// (the environment), then the pending migrations and the divergences.
pub fn markdown_parts(plan: &Plan, title: &str) -> CommentParts {
    let icon = if plan.divergences.is_empty() {
        "📋"
    } else {
        "⚠️"
    };
    let summary = format!(
        "### {icon} {}\n\n**{} pending migration(s)** · plan digest `{}`",
        escape::markdown(title),
        plan.steps.len(),
        plan.digest
    );
    let mut table = String::new();
    if !plan.steps.is_empty() {
        table.push_str("\n\n| version | name | transaction | script |\n|---|---|---|---|\n");
        for s in &plan.steps {
            table.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                escape::markdown(&s.version),
                escape::markdown(&s.name),
                if s.transaction { "yes" } else { "no" },
                escape::markdown(&s.path)
            ));
        }
    }
    CommentParts {
        summary,
        table,
        findings_heading: "\n#### Divergences\n\n".into(),
        findings: plan
            .divergences
            .iter()
            .map(|d| format!("- {}\n", escape::markdown(&d.describe())))
            .collect(),
        footer: "\n".into(),
        ..CommentParts::default()
    }
}

/// `up`/`down` results.
pub fn applied(plan: &Plan, done: &[StepDone], format: Format) -> String {
    let verb = if plan.direction == Direction::Up {
        "applied"
    } else {
        "reverted"
    };
    match format {
        Format::Json => serde_json::to_string_pretty(&json!({
            "direction": plan.direction,
            "digest": plan.digest,
            "planned": plan.steps.len(),
            "applied_count": done.len(),
            "steps": done,
        }))
        .unwrap_or_default(),
        Format::Markdown => {
            let mut out = format!(
                "**{verb} {} of {} migration(s)** · plan digest `{}`\n\n| version | name | ms |\n|---|---|---|\n",
                done.len(),
                plan.steps.len(),
                plan.digest
            );
            for d in done {
                out.push_str(&format!(
                    "| {} | {} | {} |\n",
                    escape::markdown(&d.version),
                    escape::markdown(&d.name),
                    d.ms
                ));
            }
            out
        }
        Format::Text => {
            let total: u64 = done.iter().map(|d| d.ms).sum();
            format!(
                "{verb} {} of {} migration(s) in {total} ms (plan {})\n",
                done.len(),
                plan.steps.len(),
                plan.digest
            )
        }
    }
}

/// A SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The exact SQL `up`/`down` would send, in order, with the tracking statements.
pub fn dry_run(plan: &Plan, set: &MigrationSet, tracking: &Tracking) -> String {
    let mut out = format!(
        "-- upcycle dry run: {} migration(s), plan {}\n",
        plan.steps.len(),
        plan.digest
    );
    let table = tracking.table();
    for step in &plan.steps {
        let Some(m) = set.iter().find(|m| m.version.as_str() == step.version) else {
            continue;
        };
        let script = if plan.direction == Direction::Up {
            &m.up
        } else {
            m.down.as_ref().unwrap_or(&m.up)
        };
        let track = match plan.direction {
            _ if tracking.mode != HistoryMode::Upcycle => format!(
                "-- {} {} in {table} as {} does",
                if plan.direction == Direction::Up {
                    "record"
                } else {
                    "remove"
                },
                step.version,
                tracking.mode.id()
            ),
            Direction::Up => format!(
                "INSERT INTO {table} (version, name, checksum, execution_ms, applied_by, upcycle_version, state, script) VALUES ({}, {}, {}, <ms>, current_user, {}, 'applied', <up script>);",
                literal(&step.version),
                literal(&m.name),
                literal(m.up.checksum.as_str()),
                literal(env!("CARGO_PKG_VERSION"))
            ),
            Direction::Down => format!(
                "DELETE FROM {table} WHERE version = {};",
                literal(&step.version)
            ),
        };
        out.push_str(&format!(
            "\n-- {} {} ({})\n",
            step.version, m.name, script.path
        ));
        let body = script.text.trim_end();
        if script.transaction.is_wrapped() {
            out.push_str(&format!("BEGIN;\n{body}\n{track}\nCOMMIT;\n"));
        } else {
            out.push_str(&format!("-- outside a transaction; the row is marked dirty until it finishes\n{body}\n{track}\n"));
        }
    }
    out
}
