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
    markdown_parts(report, &|_, _| None).full()
}

/// Links a finding's `path` and line to the file on GitHub (`None`: no link).
pub type SourceLink<'a> = &'a dyn Fn(&str, Option<u32>) -> Option<String>;

/// Findings grouped by migration (its up or down), groups with the most severe findings first,
/// then in migration order; findings about no one migration last. Info findings are left out.
/// Each group's first line carries its heading, so that a comment cut to fit keeps whole lines.
fn grouped_findings(report: &CheckReport, link: SourceLink<'_>) -> Vec<String> {
    let shown: Vec<&crate::check::Finding> = report
        .findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .collect();
    let owner = |path: &str| {
        report
            .migrations
            .iter()
            .position(|m| m.path == path || m.down_path.as_deref() == Some(path))
    };
    let mut groups: Vec<(Option<usize>, Vec<&crate::check::Finding>)> = Vec::new();
    for f in shown {
        let key = owner(&f.path);
        match groups.iter_mut().find(|(k, _)| *k == key) {
            Some((_, list)) => list.push(f),
            None => groups.push((key, vec![f])),
        }
    }
    for (_, list) in &mut groups {
        list.sort_by_key(|f| (f.severity, f.line));
    }
    groups.sort_by_key(|(key, list)| (key.is_none(), list[0].severity, *key));
    let mut lines = Vec::new();
    for (n, (key, list)) in groups.into_iter().enumerate() {
        let gap = if n == 0 { "" } else { "\n" };
        let heading = match key.map(|i| &report.migrations[i]) {
            Some(m) => format!(
                "{gap}**{} {}**\n\n",
                escape::markdown(&m.version),
                escape::markdown(&m.name)
            ),
            None => format!("{gap}**The set as a whole**\n\n"),
        };
        for (i, f) in list.iter().enumerate() {
            let place = escape::markdown(&f.location());
            let place = match link(&f.path, f.line) {
                Some(url) => format!("[{place}]({url})"),
                None => place,
            };
            lines.push(format!(
                "{}- **{}** `{}` {place}: {}\n",
                if i == 0 { heading.as_str() } else { "" },
                f.severity.as_str(),
                f.code,
                escape::markdown(&f.message)
            ));
        }
    }
    lines
}

/// The markdown report in the parts a PR comment may drop to fit; `link` turns finding places
/// into links to the files at the commit checked.
pub fn markdown_parts(report: &CheckReport, link: SourceLink<'_>) -> CommentParts {
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
        "\n\n| | version | name | transaction | reversible | up | down | up again | schema restored |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    for m in report.migrations.iter().filter(|m| m.cycled) {
        let restored = match m.schema_restored {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        table.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            status(m),
            escape::markdown(&m.version),
            escape::markdown(&m.name),
            if m.transaction { "yes" } else { "no" },
            if m.down_path.is_some() { "yes" } else { "no" },
            ms(&m.up),
            ms(&m.down),
            ms(&m.reup),
            restored
        ));
    }
    let findings = grouped_findings(report, link);
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
