//! GitHub's workflow commands as pure text: `::add-mask::`, `::error file=…,line=…::` and
//! `::warning` annotations (escaped per the runner's rules: `%`, CR and LF in data, and also `:`
//! and `,` in properties), and `$GITHUB_OUTPUT` entries with a delimiter the value cannot close.

use std::path::{Component, Path, PathBuf};

use crate::check::{Finding, Severity};

/// GitHub shows at most this many error (and as many warning) annotations per step.
pub const ANNOTATIONS_SHOWN: usize = 10;

/// Escapes a command's message (data).
pub fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a property value (`file=`, `title=`).
pub fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// `::add-mask::value`: the runner replaces the value with `***` in every later log line.
pub fn add_mask(value: &str) -> String {
    format!("::add-mask::{}", escape_data(value))
}

/// `::error::message`, for an error that stops the run.
pub fn error(message: &str) -> String {
    format!("::error title=upcycle::{}", escape_data(message))
}

/// `path` as GitHub wants it in an annotation: relative to the workspace (the repository root),
/// with `/` separators. `path` is absolute or relative to `cwd`; a path outside the workspace
/// stays as it is (GitHub then shows the annotation without a file).
pub fn workspace_relative(path: &str, cwd: &Path, workspace: &Path) -> String {
    let absolute = normalize(&cwd.join(path));
    let root = normalize(&cwd.join(workspace));
    match absolute.strip_prefix(&root) {
        Ok(rel) if !rel.as_os_str().is_empty() => rel
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/"),
        _ => path.to_string(),
    }
}

/// The page of `path` (relative to the repository root) at commit `sha`, at `line`:
/// `https://github.com/o/r/blob/<sha>/db/migrations/x.sql#L3`. Path bytes other than letters,
/// digits, `-._~/` are percent-encoded.
pub fn blob_url(
    server_url: &str,
    repository: &str,
    sha: &str,
    path: &str,
    line: Option<u32>,
) -> String {
    let encoded = crate::report::escape::url_part(path);
    let anchor = line.map(|l| format!("#L{l}")).unwrap_or_default();
    format!(
        "{}/{repository}/blob/{sha}/{encoded}{anchor}",
        server_url.trim_end_matches('/')
    )
}

/// Removes `.` and resolves `..` lexically (the files may not exist where this runs).
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// One annotation for a finding whose path is already workspace-relative.
pub fn annotation(finding: &Finding, path: &str) -> String {
    let level = match finding.severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "notice",
    };
    let mut props = vec![format!("file={}", escape_property(path))];
    if let Some(line) = finding.line {
        props.push(format!("line={line}"));
    }
    props.push(format!(
        "title={}",
        escape_property(&format!("upcycle {}", finding.code))
    ));
    format!(
        "::{level} {}::{}",
        props.join(","),
        escape_data(&finding.message)
    )
}

/// Annotations for the findings of error and warning severity, most severe first, at most
/// [`ANNOTATIONS_SHOWN`] of each (GitHub drops the rest), then a notice counting what was left
/// out. `place` turns a finding's path into a workspace-relative one.
pub fn annotations(findings: &[Finding], place: &dyn Fn(&str) -> String) -> Vec<String> {
    let mut sorted: Vec<&Finding> = findings
        .iter()
        .filter(|f| f.severity != Severity::Info)
        .collect();
    sorted.sort_by_key(|f| f.severity);
    let mut out = Vec::new();
    let mut left_out = 0;
    for severity in [Severity::Error, Severity::Warning] {
        let of: Vec<&&Finding> = sorted.iter().filter(|f| f.severity == severity).collect();
        left_out += of.len().saturating_sub(ANNOTATIONS_SHOWN);
        out.extend(
            of.iter()
                .take(ANNOTATIONS_SHOWN)
                .map(|f| annotation(f, &place(&f.path))),
        );
    }
    if left_out > 0 {
        out.push(format!(
            "::notice title=upcycle::{}",
            escape_data(&format!(
                "{left_out} more finding(s) than GitHub shows as annotations: see the job summary"
            ))
        ));
    }
    out
}

/// One `$GITHUB_OUTPUT` entry, multi-line safe: `name<<DELIM`, the value, `DELIM`. `None` when
/// the value contains the delimiter (the caller picks another).
pub fn output_entry(name: &str, value: &str, delimiter: &str) -> Option<String> {
    if value.contains(delimiter) || name.contains(delimiter) {
        return None;
    }
    Some(format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"))
}

/// A fresh random delimiter, `ghadelimiter_` and 128 random bits, as the Actions toolkit does.
pub fn random_delimiter() -> String {
    format!(
        "ghadelimiter_{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blob_urls_encode_the_path_and_point_at_the_line() {
        assert_eq!(
            blob_url(
                "https://github.com/",
                "o/r",
                "abc",
                "db/mig rations/1_a#b.sql",
                Some(3)
            ),
            "https://github.com/o/r/blob/abc/db/mig%20rations/1_a%23b.sql#L3"
        );
        assert_eq!(
            blob_url("https://ghe.example.com", "o/r", "abc", "m/x.sql", None),
            "https://ghe.example.com/o/r/blob/abc/m/x.sql"
        );
    }
    use crate::check::Code;

    #[test]
    fn data_and_properties_are_escaped() {
        assert_eq!(escape_data("50%\r\nnext"), "50%25%0D%0Anext");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
        assert_eq!(add_mask("p%ss\n"), "::add-mask::p%25ss%0A");
    }

    #[test]
    fn annotations_are_most_severe_first_and_capped() {
        let mut findings = vec![Finding::new(
            Code::UnknownFile,
            "migrations/x,y.txt",
            None,
            "w",
        )];
        for i in 0..12 {
            findings.push(Finding::new(
                Code::EmptyScript,
                "migrations/a:b.sql",
                Some(i + 1),
                "line one\nline two",
            ));
        }
        let lines = annotations(&findings, &|p| p.to_string());
        assert_eq!(
            lines[0],
            "::error file=migrations/a%3Ab.sql,line=1,title=upcycle empty-script::line one%0Aline two"
        );
        assert_eq!(lines.len(), 12);
        assert!(lines[10].starts_with("::warning file=migrations/x%2Cy.txt,title="));
        assert!(lines[11].starts_with("::notice title=upcycle::2 more finding(s)"));
    }

    #[test]
    fn paths_become_workspace_relative() {
        let ws = Path::new("/github/workspace");
        assert_eq!(
            workspace_relative("migrations/1.up.sql", ws, ws),
            "migrations/1.up.sql"
        );
        assert_eq!(
            workspace_relative("./db/../migrations/1.up.sql", &ws.join("sub"), ws),
            "sub/migrations/1.up.sql"
        );
        assert_eq!(
            workspace_relative("/github/workspace/m/1.sql", Path::new("/"), ws),
            "m/1.sql"
        );
        assert_eq!(
            workspace_relative("/elsewhere/1.sql", ws, ws),
            "/elsewhere/1.sql"
        );
    }

    #[test]
    fn outputs_survive_multi_line_values_and_refuse_their_delimiter() {
        assert_eq!(
            output_entry("report-path", "a\nb", "D1").as_deref(),
            Some("report-path<<D1\na\nb\nD1\n")
        );
        assert_eq!(output_entry("x", "has D1 inside", "D1"), None);
        assert_ne!(random_delimiter(), random_delimiter());
    }
}
