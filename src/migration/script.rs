//! `Script`: one up or down as its tool executes it, with its statements, transaction mode and
//! checksum; and the one builder every layout reader uses, which also yields the script's
//! findings (empty, unterminated quotes, psql-only content, no-transaction statements).

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::check::{Code, Finding, Severity};
use crate::sql::{self, LexProblemKind, Statement, StatementKind};

/// SHA-256 of a script's bytes as they are on disk (a BOM included), lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Checksum(String);

impl Checksum {
    pub fn of(bytes: &[u8]) -> Self {
        Checksum(hex(&Sha256::digest(bytes)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Lowercase hex of bytes (sha2 0.11 digests no longer implement `LowerHex`).
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

impl std::fmt::Display for Checksum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a script runs inside a transaction (with its tracking row) or outside one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum Transaction {
    Wrapped,
    /// Runs outside a transaction; `reason` says why (the directive, or the statement that needs it).
    Unwrapped {
        reason: String,
    },
}

impl Transaction {
    pub fn is_wrapped(&self) -> bool {
        matches!(self, Transaction::Wrapped)
    }
}

/// How the layout's tool sends a script to the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Execution {
    /// The whole script as one simple-protocol query (sqlx, diesel, golang-migrate, dbmate):
    /// all its statements share one implicit transaction.
    WholeScript,
    /// One statement at a time (goose, sql-migrate, Flyway, psql).
    PerStatement,
}

/// How a reader asks for the transaction mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TxPolicy {
    /// The file says: wrapped unless it opted out (`Some(reason)`).
    Declared(Option<String>),
    /// Unwrapped exactly when a statement cannot run in a transaction (Flyway, golang-migrate).
    Auto,
}

/// Which way a script migrates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Up,
    Down,
}

/// What a layout reader knows about one script before it is split.
#[derive(Debug, Clone)]
pub struct ScriptSpec {
    pub path: String,
    pub direction: Direction,
    /// Line of the file where `text` begins (1 for whole files, later for sections).
    pub first_line: u32,
    /// The script's text exactly as on disk (BOM included, if any).
    pub text: String,
    pub transaction: TxPolicy,
    pub execution: Execution,
    /// For goose and sql-migrate: the annotation word (`+goose`, `+migrate`) of their line-based split.
    pub line_split: Option<&'static str>,
    /// Whether the tool itself sends COPY … FROM stdin data (Flyway does).
    pub tool_handles_copy: bool,
}

/// One up or down script.
#[derive(Debug, Clone, Serialize)]
pub struct Script {
    pub path: String,
    pub first_line: u32,
    /// The text sent to the server (a leading BOM removed).
    #[serde(skip)]
    pub text: String,
    /// Whether the file started with a UTF-8 byte-order mark.
    #[serde(skip)]
    pub bom: bool,
    pub checksum: Checksum,
    pub transaction: Transaction,
    pub execution: Execution,
    /// Statements as SQL sees them (psql's split).
    #[serde(skip)]
    pub statements: Vec<Statement>,
    /// Statements as the layout's tool splits them, where that differs from SQL (goose, sql-migrate).
    #[serde(skip)]
    pub tool_statements: Option<Vec<Statement>>,
}

impl Script {
    /// The pieces the tool sends one at a time, in order (for `PerStatement` execution).
    pub fn executable_statements(&self) -> &[Statement] {
        self.tool_statements.as_deref().unwrap_or(&self.statements)
    }

    /// Whether every statement only changes definitions, so that running it (or part of it)
    /// writes no rows of existing tables (`sql::keeps_rows`); `COPY` data and psql commands
    /// count as writing.
    pub fn keeps_rows(&self) -> bool {
        self.statements.iter().all(|s| {
            matches!(s.kind, sql::StatementKind::Sql)
                && sql::keeps_rows(&sql::classify(&self.text[s.range.clone()]).words)
        })
    }

    /// The raw bytes on disk (with the BOM), for tools whose checksums cover them.
    pub fn raw_bytes(&self) -> Vec<u8> {
        let mut out = if self.bom {
            "\u{feff}".as_bytes().to_vec()
        } else {
            Vec::new()
        };
        out.extend_from_slice(self.text.as_bytes());
        out
    }

    /// Builds a script from what its reader knows, with the findings about it.
    pub fn build(spec: ScriptSpec) -> (Script, Vec<Finding>) {
        let checksum = Checksum::of(spec.text.as_bytes());
        let (bom, text) = match spec.text.strip_prefix('\u{feff}') {
            Some(rest) => (true, rest.to_string()),
            None => (false, spec.text.clone()),
        };
        let split = sql::split(&text, spec.first_line);
        let mut findings = lex_findings(&spec, &split);
        let tool_statements = spec.line_split.map(|marker| {
            let tool = sql::goose_split(&text, spec.first_line, marker);
            findings.extend(tool.findings(&spec.path, &split.statements));
            tool.statements
        });
        let non_tx: Vec<(u32, &'static str)> = split
            .sql()
            .filter_map(|s| {
                sql::classify(&text[s.range.clone()])
                    .non_transactional
                    .map(|r| (s.line, r))
            })
            .collect();
        let transaction = match &spec.transaction {
            TxPolicy::Declared(None) => Transaction::Wrapped,
            TxPolicy::Declared(Some(reason)) => Transaction::Unwrapped {
                reason: reason.clone(),
            },
            TxPolicy::Auto => match non_tx.first() {
                Some((_, reason)) => Transaction::Unwrapped {
                    reason: format!("{reason} cannot run in a transaction"),
                },
                None => Transaction::Wrapped,
            },
        };
        findings.extend(syntax_findings(&spec.path, &text, &split));
        let pieces = split.statements.len();
        for (line, reason) in &non_tx {
            if transaction.is_wrapped() {
                findings.push(Finding::new(
                    Code::NonTransactional,
                    &spec.path,
                    Some(*line),
                    format!("{reason} cannot run inside a transaction block, and this script runs in one; move it to its own migration that opts out of the transaction"),
                ));
            } else if spec.execution == Execution::WholeScript && pieces > 1 {
                findings.push(Finding::new(
                    Code::NonTransactionalShared,
                    &spec.path,
                    Some(*line),
                    format!("{reason} shares this script with {} other statement(s); the tool sends the script as one query, which runs as one transaction, so it fails: give it a migration of its own", pieces - 1),
                ));
            }
        }
        let script = Script {
            path: spec.path,
            first_line: spec.first_line,
            text,
            bom,
            checksum,
            transaction,
            execution: spec.execution,
            statements: split.statements,
            tool_statements,
        };
        (script, findings)
    }
}

/// squawk's parser on each SQL statement: what it cannot read becomes a `syntax` warning at the
/// line it points to (the sandbox check, on a real server, has the final word).
fn syntax_findings(path: &str, text: &str, split: &sql::Split) -> Vec<Finding> {
    let mut out = Vec::new();
    if !split.problems.is_empty() {
        // An unterminated quote or comment is already reported; the parser would repeat it.
        return out;
    }
    for statement in split.sql() {
        let body = &text[statement.range.clone()];
        let parsed = squawk_syntax::SourceFile::parse(body);
        if let Some(error) = parsed.errors().first() {
            let offset = statement.range.start + usize::from(error.range().start());
            let line = sql::LineIndex::new(text).line(offset.min(text.len())) + statement.line
                - sql::LineIndex::new(text).line(statement.range.start);
            out.push(Finding::new(
                Code::Syntax,
                path,
                Some(line),
                format!(
                    "the SQL parser cannot read this statement: {}",
                    error.message()
                ),
            ));
        }
    }
    out
}

fn lex_findings(spec: &ScriptSpec, split: &sql::Split) -> Vec<Finding> {
    let mut findings = Vec::new();
    let path = spec.path.as_str();
    // A script swallowed by an unclosed /* comment is reported as that, not also as empty.
    let swallowed = split
        .problems
        .iter()
        .any(|p| p.kind == LexProblemKind::Comment);
    if split.statements.is_empty() && !swallowed {
        findings.push(match spec.direction {
            Direction::Up => Finding::new(Code::EmptyScript, path, Some(spec.first_line), "the up script has no SQL statements; write the SQL, or delete the migration"),
            Direction::Down => Finding::new(Code::EmptyScript, path, Some(spec.first_line), "the down script is empty: reverting records the revert but changes nothing; write the SQL that restores the previous schema")
                .with_severity(Severity::Warning),
        });
    }
    for problem in &split.problems {
        let (code, what) = match problem.kind {
            LexProblemKind::Quote => (
                Code::UnterminatedQuote,
                "a quoted string or identifier opened here is never closed",
            ),
            LexProblemKind::DollarQuote => (
                Code::UnterminatedDollarQuote,
                "a dollar-quoted body opened here is never closed with the same tag",
            ),
            LexProblemKind::Comment => (
                Code::UnterminatedComment,
                "a /* comment opened here is never closed",
            ),
            LexProblemKind::CopyData => (
                Code::PsqlOnly,
                "COPY … FROM stdin data opened here has no terminating \\. line",
            ),
        };
        findings.push(Finding::new(code, path, Some(problem.line), what));
    }
    for statement in &split.statements {
        let message = match statement.kind {
            StatementKind::Sql => continue,
            StatementKind::CopyFromStdin { .. } if spec.tool_handles_copy => continue,
            StatementKind::CopyFromStdin { .. } => {
                "COPY … FROM stdin with inline data only works in psql; this layout's tool sends it to the server, which rejects the data lines"
            }
            StatementKind::PsqlMeta => {
                "a psql backslash meta-command; the server does not understand it"
            }
        };
        findings.push(Finding::new(
            Code::PsqlOnly,
            path,
            Some(statement.line),
            message,
        ));
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(text: &str, transaction: TxPolicy, execution: Execution) -> ScriptSpec {
        ScriptSpec {
            path: "m/1_x.up.sql".into(),
            direction: Direction::Up,
            first_line: 1,
            text: text.into(),
            transaction,
            execution,
            line_split: None,
            tool_handles_copy: false,
        }
    }

    fn codes(findings: &[Finding]) -> Vec<(Code, Option<u32>)> {
        findings.iter().map(|f| (f.code, f.line)).collect()
    }

    #[test]
    fn concurrently_in_a_wrapped_script_is_an_error_at_its_line() {
        let (_, f) = Script::build(spec(
            "SELECT 1;\nCREATE INDEX CONCURRENTLY i ON t (a);\n",
            TxPolicy::Declared(None),
            Execution::WholeScript,
        ));
        assert_eq!(codes(&f), vec![(Code::NonTransactional, Some(2))]);
    }

    #[test]
    fn concurrently_sharing_an_unwrapped_whole_script_is_an_error() {
        let (s, f) = Script::build(spec(
            "CREATE INDEX CONCURRENTLY i ON t (a);\nSELECT 1;\n",
            TxPolicy::Auto,
            Execution::WholeScript,
        ));
        assert!(!s.transaction.is_wrapped());
        assert_eq!(codes(&f), vec![(Code::NonTransactionalShared, Some(1))]);
        let (_, f) = Script::build(spec(
            "CREATE INDEX CONCURRENTLY i ON t (a);\nSELECT 1;\n",
            TxPolicy::Auto,
            Execution::PerStatement,
        ));
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn bom_is_stripped_for_execution_but_kept_in_the_checksum() {
        let (s, _) = Script::build(spec(
            "\u{feff}SELECT 1;",
            TxPolicy::Declared(None),
            Execution::WholeScript,
        ));
        assert!(s.bom);
        assert_eq!(s.text, "SELECT 1;");
        assert_eq!(s.checksum, Checksum::of("\u{feff}SELECT 1;".as_bytes()));
        assert_eq!(s.raw_bytes(), "\u{feff}SELECT 1;".as_bytes());
    }

    #[test]
    fn a_script_inside_an_unclosed_comment_is_one_finding() {
        let (_, f) = Script::build(spec(
            "/* draft\nALTER TABLE t ADD COLUMN a int;\n",
            TxPolicy::Declared(None),
            Execution::WholeScript,
        ));
        assert_eq!(codes(&f), vec![(Code::UnterminatedComment, Some(1))]);
    }

    #[test]
    fn statements_the_parser_cannot_read_are_syntax_warnings_at_their_line() {
        let mut s = spec(
            "SELECT 1;\n\nALTER TABLE t\n  DROP_COLUMN x;\n",
            TxPolicy::Declared(None),
            Execution::WholeScript,
        );
        s.first_line = 10;
        let (_, f) = Script::build(s);
        assert_eq!(codes(&f), vec![(Code::Syntax, Some(13))]);
        assert_eq!(f[0].severity, crate::check::Severity::Warning);
    }

    #[test]
    fn empty_and_comment_only_scripts_are_empty() {
        let (_, f) = Script::build(spec(
            "-- nothing here\n\n",
            TxPolicy::Declared(None),
            Execution::WholeScript,
        ));
        assert_eq!(codes(&f), vec![(Code::EmptyScript, Some(1))]);
    }
}
