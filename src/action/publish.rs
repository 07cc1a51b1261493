//! Where a report goes when upcycle runs as the Action: annotations in the log, the JSON report
//! in the workspace, the sticky PR comment (when there is a pull request, a token and
//! `comment: true`), the job summary (with a line saying why no comment was posted), and the
//! outputs. The exit code follows `fail-on`.

use std::path::{Path, PathBuf};

use anyhow::Context;

use super::context::ActionContext;
use super::inputs::{FailOn, Output};
use super::workflow;
use crate::Outcome;
use crate::check::{Finding, Severity};
use crate::github::{GitHub, Upserted};
use crate::report::comment::{COMMENT_BUDGET, CommentParts, fit, marker};
use crate::term::Term;

/// GitHub refuses a step summary over 1 MiB; 262,144 characters stay under it in any UTF-8.
pub const SUMMARY_BUDGET: usize = 262_144;

/// A report ready to be published.
#[derive(Debug, Clone)]
pub struct Publication {
    /// `check`, `plan`, `deploy` or `status`: with `key`, it names the sticky comment.
    pub kind: &'static str,
    /// The migration folder(s), and the environment for plans and deploys.
    pub key: String,
    /// Which pull requests get the sticky comment.
    pub comment_on: CommentOn,
    pub parts: CommentParts,
    pub findings: Vec<Finding>,
    pub outputs: Vec<(Output, String)>,
    /// The JSON report, written to `.upcycle/<kind>-report.json` in the workspace.
    pub json: String,
    /// Whether the findings fail the step under `fail-on`.
    pub failed: bool,
}

/// Whether `findings` fail the step under `fail_on`.
pub fn fails(fail_on: FailOn, findings: &[Finding]) -> bool {
    let has = |s: Severity| findings.iter().any(|f| f.severity == s);
    match fail_on {
        FailOn::Error => has(Severity::Error),
        FailOn::Warning => has(Severity::Error) || has(Severity::Warning),
        FailOn::Never => false,
    }
}

/// What became of the PR comment, as the job summary says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommentStatus {
    Posted(String),
    Off,
    /// Not posted, and why (a line for the job summary).
    NotPosted(String),
    Failed(String),
}

impl CommentStatus {
    /// The line for the job summary (`None`: nothing to say).
    pub fn summary_line(&self) -> Option<String> {
        match self {
            CommentStatus::Posted(_) | CommentStatus::Off => None,
            CommentStatus::NotPosted(why) => Some(format!("> ℹ️ No PR comment was posted: {why}")),
            CommentStatus::Failed(why) => {
                Some(format!("> ⚠️ The PR comment could not be posted: {why}"))
            }
        }
    }
}

/// Which pull requests a report goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommentOn {
    /// The pull request of the event (check, plan, status); none on other events.
    PullRequest,
    /// The event's pull request, else the pull request(s) that brought `GITHUB_SHA` (a deploy
    /// after the merge: `GET /repos/{owner}/{repo}/commits/{sha}/pulls`).
    PullsOfCommit,
    /// Nowhere, for the reason given (a deploy that applied nothing keeps the comment as is).
    Skip(&'static str),
}

fn write_refused(e: &crate::github::ApiError) -> CommentStatus {
    CommentStatus::NotPosted(format!(
        "the token may not write to this pull request ({e}). Pull requests from forks get a read-only token; otherwise give the job `permissions: pull-requests: write`."
    ))
}

/// Posts or updates the sticky comment on each pull request it goes to, or says why not.
/// Never fails the step.
fn comment(ctx: &ActionContext, publication: &Publication, body: &str) -> CommentStatus {
    let event = &ctx.github.event_name;
    if !ctx.inputs.comment {
        return CommentStatus::Off;
    }
    if let CommentOn::Skip(why) = publication.comment_on {
        return CommentStatus::NotPosted(why.into());
    }
    let own = ctx.pull_request().map(|pr| pr.number);
    if own.is_none() && publication.comment_on == CommentOn::PullRequest {
        return CommentStatus::NotPosted(format!(
            "this run is for a {event} event, not a pull request."
        ));
    }
    let Some(token) = &ctx.inputs.github_token else {
        return CommentStatus::NotPosted(
            "the step has no github-token (the default is the job's GITHUB_TOKEN).".into(),
        );
    };
    let marker = marker(publication.kind, &publication.key);
    let sha = &ctx.github.sha;
    let result = crate::commands::block_on(async {
        let gh = GitHub::new(&ctx.github.api_url, token, ctx.github.repository.clone())?;
        let numbers = match own {
            Some(number) => vec![number],
            None => match gh.pulls_of_commit(sha).await {
                Ok(pulls) => pulls.iter().map(|p| p.number).collect(),
                Err(e) if e.is_forbidden() => {
                    return Ok(CommentStatus::NotPosted(format!(
                        "the token may not read the pull requests of commit {sha} ({e}); give the job `permissions: pull-requests: write`."
                    )));
                }
                Err(e) => return Ok(CommentStatus::Failed(e.to_string())),
            },
        };
        if numbers.is_empty() {
            return Ok(CommentStatus::NotPosted(format!(
                "commit {sha} belongs to no pull request (a direct push?)."
            )));
        }
        let mut posted = Vec::new();
        for number in numbers {
            match gh.upsert_comment(number, &marker, body).await {
                Ok(Upserted::Created(c) | Upserted::Updated(c)) => posted.push(
                    c.html_url
                        .unwrap_or_else(|| format!("comment {} on #{number}", c.id)),
                ),
                Err(e) if e.is_forbidden() => return Ok(write_refused(&e)),
                Err(e) => return Ok(CommentStatus::Failed(e.to_string())),
            }
        }
        Ok(CommentStatus::Posted(posted.join(", ")))
    });
    result.unwrap_or_else(|e: anyhow::Error| CommentStatus::Failed(format!("{e:#}")))
}

fn append(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("opening {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// The job summary of a command that stopped with an error before it had a report.
pub fn error_summary(ctx: &ActionContext, error: &anyhow::Error) -> anyhow::Result<()> {
    let Some(summary) = &ctx.github.step_summary else {
        return Ok(());
    };
    let text = format!(
        "### ❌ upcycle {}: error\n\n{}\n",
        ctx.inputs.command.id(),
        crate::report::escape::code_block(&format!("{error:#}"))
    );
    append(summary, &text)
}

/// `$GITHUB_OUTPUT` text for `outputs`, each with a fresh random delimiter.
fn outputs_text(outputs: &[(Output, String)]) -> String {
    outputs
        .iter()
        .map(|(output, value)| {
            loop {
                if let Some(entry) =
                    workflow::output_entry(output.id(), value, &workflow::random_delimiter())
                {
                    break entry;
                }
            }
        })
        .collect()
}

/// Publishes `publication` everywhere it goes; `cwd` is where the finding paths are relative to.
pub fn publish(
    ctx: &ActionContext,
    mut publication: Publication,
    term: &Term,
    cwd: &Path,
) -> anyhow::Result<Outcome> {
    let github = &ctx.github;
    let report_rel = PathBuf::from(".upcycle").join(format!("{}-report.json", publication.kind));
    let report_abs = cwd.join(&github.workspace).join(&report_rel);
    if let Some(parent) = report_abs.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&report_abs, &publication.json)
        .with_context(|| format!("writing {}", report_abs.display()))?;
    publication.outputs.push((
        Output::ReportPath,
        report_rel.to_string_lossy().replace('\\', "/"),
    ));

    let place = |path: &str| workflow::workspace_relative(path, cwd, &github.workspace);
    for line in workflow::annotations(&publication.findings, &place) {
        term.out(&line);
    }

    let mut parts = publication.parts.clone();
    parts.full_report = github
        .run_url()
        .map(|url| format!("[the job summary of this run]({url})"));
    parts.marker = marker(publication.kind, &publication.key);
    let body = fit(&parts, COMMENT_BUDGET);
    let status = comment(ctx, &publication, &body);
    match &status {
        CommentStatus::Posted(url) => term.progress(&format!("PR comment: {url}")),
        CommentStatus::Failed(why) => term.out(&format!(
            "::warning title=upcycle::{}",
            workflow::escape_data(&format!("the PR comment could not be posted: {why}"))
        )),
        CommentStatus::NotPosted(why) => term.progress(&format!("no PR comment: {why}")),
        CommentStatus::Off => {}
    }

    if let Some(summary) = &github.step_summary {
        let mut full = publication.parts.clone();
        full.full_report = Some(format!(
            "`{}` (the report-path output)",
            report_rel.display()
        ));
        let mut text = fit(&full, SUMMARY_BUDGET);
        if let Some(line) = status.summary_line() {
            text.push_str(&format!("\n{line}\n"));
        }
        append(summary, &format!("{text}\n"))?;
    }
    if let Some(output) = &github.output {
        append(output, &outputs_text(&publication.outputs))?;
    }
    Ok(if publication.failed {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::Code;

    #[test]
    fn fail_on_decides_the_exit() {
        let warning = vec![Finding::new(Code::UnknownFile, "m/x", None, "w")];
        assert!(!fails(FailOn::Error, &warning));
        assert!(fails(FailOn::Warning, &warning));
        let error = vec![Finding::new(Code::EmptyScript, "m/x", None, "e")];
        assert!(fails(FailOn::Error, &error));
        assert!(!fails(FailOn::Never, &error));
    }

    #[test]
    fn every_output_gets_its_own_delimiter() {
        let text = outputs_text(&[
            (Output::FindingsCount, "3".into()),
            (Output::ReportPath, ".upcycle/check-report.json".into()),
        ]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("findings-count<<ghadelimiter_"));
        assert_eq!(lines[1], "3");
        assert_eq!(lines[2], &lines[0]["findings-count<<".len()..]);
        assert_ne!(lines[2], &lines[3]["report-path<<".len()..]);
    }
}
