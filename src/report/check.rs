//! The check report as text (terminal), JSON (stable; docs/json.md) and markdown (the PR
//! comment body: verdict first, everything from files escaped, diffs collapsed).

use super::comment::CommentParts;
use super::escape;
use crate::check::Severity;
use crate::check::report::{CheckReport, MigrationCheck, StepOutcome};
use crate::settings::Format;
use crate::term::Term;

pub fn render(report: &CheckReport, format: Format, term: &Term) -> String {
    match format {
        Format::Json => serde_json::to_string_pretty(report).unwrap_or_default(),
        Format::Markdown => markdown(report),
        Format::Text => text(report, term),
    }
}

fn verdict(report: &CheckReport) -> String {
    let s = &report.summary;
    let mut parts = vec![format!("{} passed", s.passed)];
    if s.failed > 0 {
        parts.push(format!("{} failed", s.failed));
    }
    if s.not_checked > 0 {
        parts.push(format!("{} not checked", s.not_checked));
    }
    let applied = s.migrations - s.cycled;
    let base = if applied > 0 {
        format!(" ({applied} already on the base applied without a cycle)")
    } else {
        String::new()
    };
    format!(
        "{} of {} migration(s) cycled{base}: {}; {} error(s), {} warning(s) in {:.1} s",
        s.cycled,
        s.migrations,
        parts.join(", "),
        s.errors,
        s.warnings,
        s.ms as f64 / 1000.0
    )
}

fn ms(step: &Option<StepOutcome>) -> String {
    match step {
        None => "-".into(),
        Some(s) if s.ok => format!("{} ms", s.ms),
        Some(_) => "failed".into(),
    }
}

fn text(report: &CheckReport, term: &Term) -> String {
    let mut out = format!(
        "check of {} ({}) in {}\n",
        report.dirs.join(", "),
        report.layout,
        report.sandbox
    );
    for m in &report.migrations {
        let mark = match (m.cycled, m.up.is_some(), m.passed()) {
            (_, false, _) => "·",
            (false, true, true) => "=",
            (_, true, true) => "✓",
            (_, true, false) => "✗",
        };
        out.push_str(&format!(
            "{mark} {} {}  up {} · down {} · up again {}\n",
            m.version,
            m.name,
            ms(&m.up),
            ms(&m.down),
            ms(&m.reup)
        ));
        for line in m.diff.iter().chain(m.reup_diff.iter()) {
            out.push_str(&format!("    {line}\n"));
        }
    }
    if !report.findings.is_empty() {
        out.push('\n');
        out.push_str(&super::list::finding_lines(&report.findings, term));
    }
    out.push_str(&format!("\n{}\n", verdict(report)));
    out
}

fn status(m: &MigrationCheck) -> &'static str {
    match (m.up.is_some(), m.passed(), m.cycled) {
        (false, _, _) => "not checked",
        (true, true, false) => "on base",
        (true, true, true) => "✅ passed",
        (true, false, _) => "❌ failed",
    }
}

/// The markdown report (the PR comment body, before the Action adds its marker and fits it to
/// GitHub's budget).
pub fn markdown(report: &CheckReport) -> String {
    markdown_parts(report).full()
}

/// The markdown report in the parts a PR comment may drop to fit.
pub fn markdown_parts(report: &CheckReport) -> CommentParts {
    let icon = if report.has_errors() { "❌" } else { "✅" };
    let mut summary = format!(
        "### {icon} upcycle check: {}\n\n",
        escape::markdown(&verdict(report))
    );
    summary.push_str(&format!(
        "Layout `{}` · sandbox {}",
        report.layout,
        escape::markdown(&report.sandbox)
    ));
    if let Some(base) = &report.base {
        summary.push_str(&format!(" · base `{}`", escape::markdown(base)));
    }
    let mut table = String::from(
        "\n\n| | version | name | transaction | up | down | up again | schema restored |\n|---|---|---|---|---|---|---|---|\n",
    );
    for m in report.migrations.iter().filter(|m| m.cycled) {
        let restored = match m.schema_restored {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            status(m),
            escape::markdown(&m.version),
            escape::markdown(&m.name),
            if m.transaction { "yes" } else { "no" },
            ms(&m.up),
            ms(&m.down),
            ms(&m.reup),
            restored
        ));
    }
    let findings = report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .map(|f| {
            format!(
                "- **{}** `{}` {}: {}\n",
                f.severity.as_str(),
                f.code,
                escape::markdown(&f.location()),
                escape::markdown(&f.message)
            )
        })
        .collect();
    let mut details = String::new();
    for m in report
        .migrations
        .iter()
        .filter(|m| !m.diff.is_empty() || !m.reup_diff.is_empty())
    {
        let lines: Vec<&String> = m.diff.iter().chain(m.reup_diff.iter()).collect();
        details.push_str(&format!(
            "\n<details><summary>Schema diff of {} {} ({} difference(s))</summary>\n\n",
            escape::markdown(&m.version),
            escape::markdown(&m.name),
            lines.len()
        ));
        details.push_str(&escape::code_block(
            &lines
                .iter()
                .map(|l| l.as_str())
                .collect::<Vec<_>>()
                .join("\n"),
        ));
        details.push_str("\n\n</details>\n");
    }
    CommentParts {
        summary,
        table,
        findings_heading: "\n#### Findings\n\n".into(),
        findings,
        details,
        footer: format!(
            "\nReproduce locally:\n\n{}\n",
            escape::code_block(&report.reproduce)
        ),
        ..CommentParts::default()
    }
}
