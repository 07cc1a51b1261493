//! `Finding` and `Severity`: a problem found, where it is, and how bad it is.

use serde::Serialize;

use super::Code;

/// How bad a finding is. Only `Error` makes a command exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something a person should fix before shipping; exit code 1.
    Error,
    /// Likely a mistake, but the migration's own tool accepts it.
    Warning,
    /// Worth knowing; never a failure.
    Info,
}

impl Severity {
    /// The lowercase word used in every output format.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }
}

/// One problem: a code from the code table, a place (path and 1-based line), and a message that
/// says what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub code: Code,
    /// Path as the user gave it (the `--dir` joined with the file's relative path).
    pub path: String,
    /// 1-based line in `path`, when the finding has one.
    pub line: Option<u32>,
    pub message: String,
}

impl Finding {
    /// A finding at the code's default severity.
    pub fn new(
        code: Code,
        path: impl Into<String>,
        line: Option<u32>,
        message: impl Into<String>,
    ) -> Self {
        Finding {
            severity: code.spec().severity,
            code,
            path: path.into(),
            line,
            message: message.into(),
        }
    }

    /// The same finding at another severity (for codes whose weight depends on the layout).
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// `path:line` (or just `path`), the way editors and GitHub annotations want it.
    pub fn location(&self) -> String {
        match self.line {
            Some(line) => format!("{}:{line}", self.path),
            None => self.path.clone(),
        }
    }
}
