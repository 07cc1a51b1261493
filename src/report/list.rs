//! The `list` report: every migration and every finding, as text, JSON and markdown. The JSON
//! shape is documented in docs/json.md and kept stable.

use serde::Serialize;

use super::{counts, escape};
use crate::check::Finding;
use crate::migration::{Migration, Reading};
use crate::term::Term;

#[derive(Serialize)]
struct JsonMigration<'a> {
    version: &'a str,
    name: &'a str,
    layout: &'static str,
    up_path: &'a str,
    down_path: Option<&'a str>,
    transaction: bool,
    /// Why the migration runs outside a transaction, when it does.
    transaction_reason: Option<&'a str>,
    execution: crate::migration::Execution,
    checksum: &'a str,
    down_checksum: Option<&'a str>,
    statements: usize,
}

#[derive(Serialize)]
struct JsonList<'a> {
    layout: &'static str,
    layout_reason: &'a str,
    dirs: &'a [String],
    migrations: Vec<JsonMigration<'a>>,
    findings: &'a [Finding],
}

fn tx_reason(m: &Migration) -> Option<&str> {
    match &m.up.transaction {
        crate::migration::Transaction::Wrapped => None,
        crate::migration::Transaction::Unwrapped { reason } => Some(reason),
    }
}

/// The stable JSON document (see docs/json.md).
pub fn json(reading: &Reading) -> String {
    let doc = JsonList {
        layout: reading.detection.layout.id(),
        layout_reason: &reading.detection.reason,
        dirs: &reading.dirs,
        migrations: reading
            .set
            .iter()
            .map(|m| JsonMigration {
                version: m.version.as_str(),
                name: &m.name,
                layout: m.layout.id(),
                up_path: &m.up.path,
                down_path: m.down.as_ref().map(|d| d.path.as_str()),
                transaction: m.up.transaction.is_wrapped(),
                transaction_reason: tx_reason(m),
                execution: m.up.execution,
                checksum: m.up.checksum.as_str(),
                down_checksum: m.down.as_ref().map(|d| d.checksum.as_str()),
                statements: m.up.statements.len(),
            })
            .collect(),
        findings: &reading.findings,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// A line per finding: `path:line: severity[code]: message`.
pub fn finding_lines(findings: &[Finding], term: &Term) -> String {
    findings
        .iter()
        .map(|f| {
            format!(
                "{}: {}[{}]: {}\n",
                f.location(),
                term.paint(f.severity.as_str(), f.severity),
                f.code,
                f.message
            )
        })
        .collect()
}

/// The terminal report.
pub fn text(reading: &Reading, term: &Term) -> String {
    let mut out = format!(
        "layout {} ({})\n",
        reading.detection.layout, reading.detection.reason
    );
    let rows: Vec<[String; 5]> = reading
        .set
        .iter()
        .map(|m| {
            let down = if m.down.is_some() { "yes" } else { "no" };
            let tx = if m.up.transaction.is_wrapped() {
                "tx"
            } else {
                "no-tx"
            };
            [
                m.version.to_string(),
                m.name.clone(),
                down.into(),
                tx.into(),
                m.up.checksum.as_str()[..12].to_string(),
            ]
        })
        .collect();
    let header = ["VERSION", "NAME", "DOWN", "TX", "CHECKSUM"].map(String::from);
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            rows.iter()
                .chain(std::iter::once(&header))
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(rows.iter()) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    if !reading.findings.is_empty() {
        out.push('\n');
        out.push_str(&finding_lines(&reading.findings, term));
    }
    out.push_str(&format!(
        "\n{} migration(s); {}\n",
        reading.set.len(),
        counts(&reading.findings)
    ));
    out
}

/// A markdown table of migrations and findings (everything from files escaped).
pub fn markdown(reading: &Reading) -> String {
    let mut out = format!(
        "**{}** migration(s), layout `{}`: {}\n\n",
        reading.set.len(),
        reading.detection.layout,
        counts(&reading.findings)
    );
    out.push_str("| version | name | down | transaction |\n|---|---|---|---|\n");
    for m in &reading.set {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            escape::markdown(m.version.as_str()),
            escape::markdown(&m.name),
            if m.down.is_some() { "yes" } else { "no" },
            if m.up.transaction.is_wrapped() {
                "yes"
            } else {
                "no"
            }
        ));
    }
    if !reading.findings.is_empty() {
        out.push_str("\n| severity | code | where | message |\n|---|---|---|---|\n");
        for f in &reading.findings {
            out.push_str(&format!(
                "| {} | `{}` | {} | {} |\n",
                f.severity.as_str(),
                f.code,
                escape::markdown(&f.location()),
                escape::markdown(&f.message)
            ));
        }
    }
    out
}
