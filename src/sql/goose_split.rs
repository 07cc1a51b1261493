//! The line-based statement split of goose and sql-migrate: a statement ends at a line whose last
//! word before any `--` ends with `;`, and `StatementBegin` … `StatementEnd` makes one statement.
//! It differs from SQL's own split, and where it cuts a statement in two the tool fails.

use crate::check::{Code, Finding};

use super::{Statement, StatementKind};

/// Statements as the tool splits them, and what its splitter would refuse.
#[derive(Debug, Clone, Default)]
pub struct ToolSplit {
    pub statements: Vec<Statement>,
    /// Lines of a StatementBegin without StatementEnd, or a StatementEnd without StatementBegin.
    pub unbalanced: Vec<u32>,
    /// Line where a statement starts that no `;` line ends.
    pub unterminated: Option<u32>,
}

fn ends_with_semicolon(line: &str) -> bool {
    let mut last = "";
    for word in line.split_whitespace() {
        if word.starts_with("--") {
            break;
        }
        last = word;
    }
    last.ends_with(';')
}

/// Splits a section of a goose (`marker` = `+goose`) or sql-migrate (`+migrate`) file.
pub fn goose_split(text: &str, first_line: u32, marker: &str) -> ToolSplit {
    let mut out = ToolSplit::default();
    let mut start: Option<(usize, u32)> = None;
    let mut block: Option<u32> = None;
    let mut offset = 0;
    let push = |out: &mut ToolSplit, (from, line): (usize, u32), to: usize, end_line: u32| {
        out.statements.push(Statement {
            range: from..to,
            line,
            end_line,
            kind: StatementKind::Sql,
        });
    };
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = first_line + u32::try_from(index).unwrap_or(u32::MAX - first_line);
        let line_start = offset;
        offset += raw.len();
        let line = raw.trim_end();
        if line.starts_with("--") {
            let lower = line.to_ascii_lowercase();
            if let Some(at) = lower.find(marker) {
                match lower[at + marker.len()..].trim() {
                    "statementbegin" => {
                        if let Some(open) = block.replace(line_no) {
                            out.unbalanced.push(open);
                        }
                        start = None;
                    }
                    "statementend" => match (block.take(), start.take()) {
                        (Some(_), Some(open)) => {
                            push(&mut out, open, line_start, line_no.saturating_sub(1))
                        }
                        (Some(_), None) => {}
                        (None, _) => out.unbalanced.push(line_no),
                    },
                    _ => {}
                }
                continue;
            }
            continue;
        }
        if line.trim().is_empty() && start.is_none() {
            continue;
        }
        let open = *start.get_or_insert((line_start, line_no));
        if block.is_none() && ends_with_semicolon(line) {
            start = None;
            push(&mut out, open, line_start + line.len(), line_no);
        }
    }
    if let Some(open) = block {
        // The open block is the defect; its text has no `;` line to end it by design.
        out.unbalanced.push(open);
    } else if let Some((_, line)) = start.filter(|(from, _)| !text[*from..].trim().is_empty()) {
        out.unterminated = Some(line);
    }
    out
}

impl ToolSplit {
    /// Findings: unbalanced blocks, a missing final `;`, and statements the tool cuts in two.
    pub fn findings(&self, path: &str, sql: &[Statement]) -> Vec<Finding> {
        let mut out: Vec<Finding> = self
            .unbalanced
            .iter()
            .map(|line| Finding::new(Code::UnbalancedStatementBlock, path, Some(*line), "StatementBegin and StatementEnd do not pair up here; the tool refuses the file"))
            .collect();
        if let Some(line) = self.unterminated {
            out.push(Finding::new(Code::MissingSemicolon, path, Some(line), "this statement never ends with a line ending in `;`; the tool refuses the file (\"unfinished SQL query\")"));
        }
        for stmt in sql.iter().filter(|s| s.kind == StatementKind::Sql) {
            let cut = self.statements.iter().find(|t| {
                t.range.end > stmt.range.start && t.range.end < stmt.range.end.saturating_sub(1)
            });
            if let Some(cut) = cut {
                out.push(Finding::new(
                    Code::SplitMismatch,
                    path,
                    Some(cut.end_line),
                    format!("the tool ends a statement at this line, inside the statement that starts at line {}; wrap that statement in StatementBegin / StatementEnd", stmt.line),
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::split;

    #[test]
    fn statements_end_at_lines_ending_in_semicolons() {
        let text =
            "-- +goose Up\nCREATE TABLE t (\n  a int\n); -- done\n\nINSERT INTO t VALUES (1);\n";
        let got = goose_split(text, 1, "+goose");
        let lines: Vec<_> = got
            .statements
            .iter()
            .map(|s| (s.line, s.end_line))
            .collect();
        assert_eq!(lines, vec![(2, 4), (6, 6)]);
        assert!(got.findings("f.sql", &split(text, 1).statements).is_empty());
    }

    #[test]
    fn statement_blocks_are_one_statement() {
        let text = "-- +goose StatementBegin\nCREATE FUNCTION f() RETURNS void AS $$\nBEGIN\n  PERFORM 1;\nEND;\n$$ LANGUAGE plpgsql;\n-- +goose StatementEnd\n";
        let got = goose_split(text, 3, "+goose");
        assert_eq!(got.statements.len(), 1);
        assert_eq!((got.statements[0].line, got.statements[0].end_line), (4, 8));
        assert!(got.findings("f.sql", &split(text, 3).statements).is_empty());
    }

    #[test]
    fn a_body_without_a_block_is_cut_and_reported() {
        let text = "CREATE FUNCTION f() RETURNS void AS $$\nBEGIN\n  PERFORM 1;\nEND;\n$$ LANGUAGE plpgsql;\n";
        let got = goose_split(text, 1, "+goose");
        let findings = got.findings("f.sql", &split(text, 1).statements);
        assert_eq!(findings.len(), 1);
        assert_eq!(
            (findings[0].code, findings[0].line),
            (Code::SplitMismatch, Some(3))
        );
    }

    #[test]
    fn unbalanced_and_unterminated_are_reported() {
        let got = goose_split("-- +goose StatementBegin\nSELECT 1;\n", 1, "+goose");
        assert_eq!(got.unbalanced, vec![1]);
        assert_eq!(
            got.unterminated, None,
            "an open block is one defect, not also a missing `;`"
        );
        let got = goose_split("SELECT 1\n", 7, "+goose");
        assert_eq!(got.unterminated, Some(7));
    }
}
