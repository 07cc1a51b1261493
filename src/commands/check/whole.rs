//! What a check proves of the whole set once every migration is proved: a second `up` plans
//! nothing and the history matches the set, and (`--full-cycle`) every down in one pass gives
//! back the schema at the floor, and every up after it the schema at the top.

use crate::check::report::{CheckReport, FullCycle, StepOutcome};
use crate::check::schema::SchemaSnapshot;
use crate::check::{Code, Finding};
use crate::history::same_version;
use crate::migration::{Direction, Migration, Reading};
use crate::plan::{Target, plan_down, plan_up};

use super::lab::Lab;
use super::prove::first_lines;

/// After every migration ran: a second `up` plans nothing and the history matches the set.
pub(super) async fn integrity(
    lab: &mut Lab<'_>,
    reading: &Reading,
) -> anyhow::Result<Vec<Finding>> {
    let mut findings = Vec::new();
    let history = lab.tracking.read(&mut lab.conn).await?;
    let where_ = reading.dirs.first().cloned().unwrap_or_default();
    match plan_up(&reading.set, &history, &Target::Default) {
        Ok(plan) if plan.is_empty() && plan.divergences.is_empty() => {}
        Ok(plan) => findings.push(Finding::new(
            Code::RerunNotNoop,
            &where_,
            None,
            format!(
                "after every migration ran, `up` still plans {} step(s) with {} divergence(s)",
                plan.steps.len(),
                plan.divergences.len()
            ),
        )),
        Err(e) => findings.push(Finding::new(
            Code::RerunNotNoop,
            &where_,
            None,
            format!("after every migration ran: {e}"),
        )),
    }
    let expected = reading.set.iter().filter(|m| !m.repeatable).count();
    let recorded = history
        .rows
        .iter()
        .filter(|r| {
            reading
                .set
                .iter()
                .any(|m| !m.repeatable && same_version(m.version.as_str(), &r.version))
        })
        .count();
    if recorded != expected {
        findings.push(Finding::new(
            Code::RerunNotNoop,
            &where_,
            None,
            format!("the history records {recorded} of {expected} migrations"),
        ));
    }
    Ok(findings)
}

/// How far down the full cycle goes: to the schema before the first migration, or right after
/// the newest migration that cannot be reverted.
pub(super) struct Floor {
    pub version: Option<String>,
    /// How many migrations the full cycle reverts (all of them without a floor).
    pub above: usize,
    pub schema: SchemaSnapshot,
}

/// Down the whole set (down to the floor), compare with the schema there, up again.
pub(super) async fn full_cycle(
    lab: &mut Lab<'_>,
    reading: &Reading,
    floor: &Floor,
    last: &SchemaSnapshot,
    report: &mut CheckReport,
) -> anyhow::Result<FullCycle> {
    let initial = &floor.schema;
    let history = lab.tracking.read(&mut lab.conn).await?;
    let where_ = reading.dirs.first().cloned().unwrap_or_default();
    let plan = match plan_down(&reading.set, &history, &Target::Count(floor.above)) {
        Ok(plan) => plan,
        Err(e) => {
            report.findings.push(Finding::new(
                Code::DownFailed,
                &where_,
                None,
                format!("the full down-all pass cannot start: {e}"),
            ));
            return Ok(FullCycle {
                down: StepOutcome {
                    ok: false,
                    ms: 0,
                    error: Some(e.to_string()),
                },
                up: None,
                schema_restored: None,
                diff: Vec::new(),
            });
        }
    };
    let all: Vec<&Migration> = plan
        .steps
        .iter()
        .filter_map(|s| reading.set.iter().find(|m| m.version.as_str() == s.version))
        .collect();
    let down = lab.run(reading, Direction::Down, &all).await;
    if let Some(e) = &down.error {
        report.findings.push(Finding::new(
            Code::DownFailed,
            &where_,
            None,
            format!("the full down-all pass fails: {e:#}"),
        ));
        return Ok(FullCycle {
            down: down.outcome,
            up: None,
            schema_restored: None,
            diff: Vec::new(),
        });
    }
    let emptied = lab.snapshot().await?;
    let lines = lab.diff(initial, &emptied);
    if !lines.is_empty() {
        report.findings.push(Finding::new(
            Code::SchemaNotRestored,
            &where_,
            None,
            format!(
                "after every down, {} object(s) differ from {}: {}",
                lines.len(),
                floor.version.as_ref().map_or_else(
                    || "the empty schema".to_string(),
                    |v| format!(
                        "the schema after {v}, the newest migration that cannot be reverted"
                    )
                ),
                first_lines(&lines)
            ),
        ));
    }
    let mut ordered = all.clone();
    ordered.reverse();
    let up = lab.run(reading, Direction::Up, &ordered).await;
    if up.error.is_none() {
        let again = lab.snapshot().await?;
        let differs = lab.diff(last, &again);
        if !differs.is_empty() {
            report.findings.push(Finding::new(
                Code::ReupDiffers,
                &where_,
                None,
                format!(
                    "after the full down and up, {} object(s) differ: {}",
                    differs.len(),
                    first_lines(&differs)
                ),
            ));
        }
    }
    Ok(FullCycle {
        down: down.outcome,
        up: Some(up.outcome),
        schema_restored: Some(lines.is_empty()),
        diff: lines,
    })
}
