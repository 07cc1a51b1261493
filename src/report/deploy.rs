//! The deploy report (the Action's `command: apply`, and `status`): the verdict first, every
//! step of the plan with its state and duration, the environment, the commit, the backup taken
//! first and the run; a failure's message in a code block. Pure: rendered from domain values.

use crate::plan::Plan;
use crate::plan::status::{Line, State};
use crate::postgres::apply::StepDone;
use crate::report::comment::CommentParts;
use crate::report::escape;

/// What a deploy did, and where it ran.
#[derive(Debug, Clone, Copy)]
pub struct Deploy<'a> {
    pub environment: &'a str,
    pub plan: &'a Plan,
    pub done: &'a [StepDone],
    /// The id of the backup taken before the first step.
    pub backup: Option<&'a str>,
    /// The error that stopped the run, as printed.
    pub failure: Option<&'a str>,
    /// The commit deployed, and its page.
    pub sha: &'a str,
    pub commit_url: Option<&'a str>,
    pub run_url: Option<&'a str>,
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

fn seconds(ms: u64) -> String {
    format!("{:.1} s", ms as f64 / 1000.0)
}

/// The context line: commit, plan digest, run.
fn context(d: &Deploy<'_>) -> String {
    let commit = match d.commit_url {
        Some(url) => format!("commit [`{}`]({url})", short(d.sha)),
        None if d.sha.is_empty() => String::new(),
        None => format!("commit `{}`", short(d.sha)),
    };
    let mut parts = vec![format!("plan digest `{}`", d.plan.digest)];
    if !commit.is_empty() {
        parts.insert(0, commit);
    }
    if let Some(url) = d.run_url {
        parts.push(format!("[the run]({url})"));
    }
    parts.join(" · ")
}

/// A deploy as a PR comment in parts.
pub fn markdown_parts(d: &Deploy<'_>) -> CommentParts {
    let env = escape::markdown(d.environment);
    let total: u64 = d.done.iter().map(|s| s.ms).sum();
    let planned = d.plan.steps.len();
    let heading = match (d.failure, planned) {
        (Some(_), _) => format!(
            "### ❌ upcycle: the deploy to {env} failed\n\n**{} of {planned} migration(s) applied** before the failure",
            d.done.len()
        ),
        (None, 0) => format!("### ✅ upcycle: {env} is up to date\n\n**Nothing to apply**"),
        (None, _) => format!(
            "### 🚀 upcycle deployed to {env}\n\n**{} migration(s) applied** in {}",
            d.done.len(),
            seconds(total)
        ),
    };
    let summary = format!("{heading} · {}", context(d));
    let mut table = String::new();
    if planned > 0 {
        table.push_str(
            "\n\n| version | name | transaction | result | time |\n|---|---|---|---|---|\n",
        );
        for (i, step) in d.plan.steps.iter().enumerate() {
            let (result, time) = match d.done.get(i) {
                Some(done) => ("✅ applied", format!("{} ms", done.ms)),
                None if i == d.done.len() && d.failure.is_some() => ("❌ failed", String::new()),
                None => ("⏸️ not run", String::new()),
            };
            table.push_str(&format!(
                "| {} | {} | {} | {result} | {time} |\n",
                escape::markdown(&step.version),
                escape::markdown(&step.name),
                if step.transaction { "yes" } else { "no" },
            ));
        }
    }
    let findings = d
        .failure
        .map(|e| vec![format!("{}\n", escape::code_block(e))])
        .unwrap_or_default();
    let mut footer = String::new();
    if let Some(id) = d.backup {
        footer.push_str(&format!(
            "\nA backup was taken first: `{}` (restore it with `upcycle restore {} --env {}`).\n",
            escape::markdown(id),
            escape::markdown(id),
            escape::markdown(d.environment)
        ));
    }
    if d.failure.is_some() {
        footer.push_str(
            "\nEach migration runs in its own transaction unless it opts out, so the failed one left nothing behind unless it ran outside a transaction; see `upcycle status` before trying again.\n",
        );
    }
    CommentParts {
        summary,
        table,
        findings_heading: "\n#### Error\n\n".into(),
        findings,
        footer,
        ..CommentParts::default()
    }
}

/// `status` as a report in parts: the counts first, then one row per migration.
pub fn status_parts(environment: &str, lines: &[Line]) -> CommentParts {
    let count = |s: State| lines.iter().filter(|l| l.state == s).count();
    let trouble = count(State::Dirty) + count(State::Modified) + count(State::Missing);
    let icon = if trouble > 0 { "⚠️" } else { "📋" };
    let summary = format!(
        "### {icon} upcycle status of {}\n\n**{} applied, {} pending**, {} dirty, {} modified, {} missing on disk",
        escape::markdown(environment),
        count(State::Applied),
        count(State::Pending),
        count(State::Dirty),
        count(State::Modified),
        count(State::Missing)
    );
    let mut table = String::new();
    if !lines.is_empty() {
        table.push_str("\n\n| version | name | state | applied at | ms |\n|---|---|---|---|---|\n");
        for l in lines {
            table.push_str(&format!(
                "| {} | {} | {} | {} | {} |\n",
                escape::markdown(&l.version),
                escape::markdown(&l.name),
                format!("{:?}", l.state).to_lowercase(),
                l.applied_at.as_deref().unwrap_or(""),
                l.execution_ms.map(|m| m.to_string()).unwrap_or_default()
            ));
        }
    }
    CommentParts {
        summary,
        table,
        footer: "\n".into(),
        ..CommentParts::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::Direction;
    use crate::plan::Step;

    fn plan(n: usize) -> Plan {
        Plan {
            direction: Direction::Up,
            target: "latest".into(),
            steps: (0..n)
                .map(|i| Step {
                    version: format!("2026010109000{i}"),
                    name: format!("step_{i}"),
                    path: format!("migrations/2026010109000{i}_step_{i}.up.sql"),
                    checksum: String::new(),
                    transaction: i != 1,
                })
                .collect(),
            divergences: Vec::new(),
            digest: "0123456789abcdef".into(),
        }
    }

    fn done(i: usize, ms: u64) -> StepDone {
        StepDone {
            version: format!("2026010109000{i}"),
            name: format!("step_{i}"),
            direction: Direction::Up,
            ms,
            attempts: 1,
        }
    }

    fn deploy<'a>(plan: &'a Plan, done: &'a [StepDone], failure: Option<&'a str>) -> Deploy<'a> {
        Deploy {
            environment: "production",
            plan,
            done,
            backup: Some("20261123T090000Z"),
            failure,
            sha: "e5bd3914e2e596debea16f433f57875b5b90bcd6",
            commit_url: None,
            run_url: Some("https://github.com/o/r/actions/runs/1"),
        }
    }

    #[test]
    fn a_failed_deploy_marks_the_failed_step_and_the_steps_not_run() {
        let p = plan(3);
        let d = [done(0, 12)];
        let text = markdown_parts(&deploy(&p, &d, Some("relation \"x\" <does> not exist"))).full();
        assert!(
            text.starts_with("### ❌ upcycle: the deploy to production failed"),
            "{text}"
        );
        assert!(
            text.contains("**1 of 3 migration(s) applied** before the failure · commit `e5bd391`"),
            "{text}"
        );
        assert!(
            text.contains("| step\\_0 | yes | ✅ applied | 12 ms |"),
            "{text}"
        );
        assert!(text.contains("| step\\_1 | no | ❌ failed |  |"), "{text}");
        assert!(
            text.contains("| step\\_2 | yes | ⏸️ not run |  |"),
            "{text}"
        );
        assert!(
            text.contains("```\nrelation \"x\" <does> not exist\n```"),
            "{text}"
        );
        assert!(
            text.contains("upcycle restore 20261123T090000Z --env production"),
            "{text}"
        );
    }

    #[test]
    fn a_clean_deploy_and_an_empty_one() {
        let p = plan(2);
        let d = [done(0, 1200), done(1, 300)];
        let text = markdown_parts(&deploy(&p, &d, None)).full();
        assert!(
            text.starts_with(
                "### 🚀 upcycle deployed to production\n\n**2 migration(s) applied** in 1.5 s"
            ),
            "{text}"
        );
        assert!(
            text.contains("[the run](https://github.com/o/r/actions/runs/1)"),
            "{text}"
        );
        let empty = plan(0);
        let text = markdown_parts(&deploy(&empty, &[], None)).full();
        assert!(
            text.starts_with("### ✅ upcycle: production is up to date\n\n**Nothing to apply**"),
            "{text}"
        );
        assert!(!text.contains("| version |"), "{text}");
    }
}
