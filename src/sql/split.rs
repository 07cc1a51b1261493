//! The statement splitter: squawk's lexer (the tokeniser of squawk's PostgreSQL parser) drives a
//! split that follows psql's rules: a top-level `;` ends a statement, except inside parentheses
//! and `BEGIN ATOMIC … END` bodies. psql-only content (COPY … FROM stdin data up to `\.`, and
//! backslash meta-commands) is recognised and kept apart, never mis-split.

use std::ops::Range;

use squawk_lexer::{LiteralKind, TokenKind, tokenize};

use super::LineIndex;

/// What a piece of a script is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StatementKind {
    /// An SQL statement the server runs.
    Sql,
    /// `COPY … FROM stdin`: the statement, plus its inline data (byte range), which only psql
    /// (and Flyway) can send.
    CopyFromStdin { data: Range<usize> },
    /// A psql backslash meta-command line (`\set`, `\i`, `\connect`, …).
    PsqlMeta,
}

/// One statement of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Statement {
    /// Byte range in the script text, from the first token through the closing `;` (if any).
    pub range: Range<usize>,
    /// 1-based first and last line in the file (the script's first line is applied).
    pub line: u32,
    pub end_line: u32,
    pub kind: StatementKind,
}

/// What the lexer could not close.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LexProblemKind {
    Quote,
    DollarQuote,
    Comment,
    /// COPY … FROM stdin data without its terminating `\.` line.
    CopyData,
}

/// A lexical problem at a line of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LexProblem {
    pub kind: LexProblemKind,
    pub line: u32,
}

/// A script split into statements.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    pub statements: Vec<Statement>,
    pub problems: Vec<LexProblem>,
}

impl Split {
    /// The SQL statements (what the server runs), without psql-only pieces.
    pub fn sql(&self) -> impl Iterator<Item = &Statement> {
        self.statements
            .iter()
            .filter(|s| s.kind == StatementKind::Sql)
    }
}

#[derive(Debug, Clone, Copy)]
struct Tok {
    kind: TokenKind,
    start: usize,
    end: usize,
}

fn is_trivia(kind: TokenKind) -> bool {
    matches!(
        kind,
        TokenKind::Whitespace
            | TokenKind::LineComment
            | TokenKind::BlockComment { .. }
            | TokenKind::Eof
    )
}

fn unterminated(kind: TokenKind) -> Option<LexProblemKind> {
    match kind {
        TokenKind::BlockComment { terminated: false } => Some(LexProblemKind::Comment),
        TokenKind::QuotedIdent {
            terminated: false, ..
        } => Some(LexProblemKind::Quote),
        TokenKind::Literal { kind } => match kind {
            LiteralKind::DollarQuotedString { terminated: false } => {
                Some(LexProblemKind::DollarQuote)
            }
            LiteralKind::Str { terminated: false }
            | LiteralKind::NationalStr { terminated: false }
            | LiteralKind::ByteStr { terminated: false }
            | LiteralKind::BitStr { terminated: false }
            | LiteralKind::UnicodeEscStr { terminated: false }
            | LiteralKind::EscStr { terminated: false } => Some(LexProblemKind::Quote),
            _ => None,
        },
        _ => None,
    }
}

fn lex(text: &str, base: usize) -> Vec<Tok> {
    let mut offset = base;
    tokenize(&text[base..])
        .map(|t| {
            let start = offset;
            offset += t.len as usize;
            Tok {
                kind: t.kind,
                start,
                end: offset,
            }
        })
        .collect()
}

/// The statement being collected: where it starts and the words that decide its shape.
#[derive(Default)]
struct Open {
    start: usize,
    last_end: usize,
    words: Vec<String>,
    depth: u32,
    atomic: u32,
}

impl Open {
    fn routine(&self) -> bool {
        let w: Vec<&str> = self.words.iter().take(5).map(String::as_str).collect();
        w.first() == Some(&"create") && w.iter().any(|x| *x == "function" || *x == "procedure")
    }

    fn copy_from_stdin(&self) -> bool {
        self.words.first().map(String::as_str) == Some("copy")
            && self
                .words
                .windows(2)
                .any(|w| w[0] == "from" && w[1] == "stdin")
    }
}

/// Splits `text` (whose first line is line `first_line` of its file) into statements.
pub fn split(text: &str, first_line: u32) -> Split {
    let lines = LineIndex::new(text);
    let at = |offset: usize| lines.line(offset) + first_line - 1;
    let mut out = Split::default();
    let mut pos = 0;
    'relex: while pos < text.len() {
        let toks = lex(text, pos);
        let mut open: Option<Open> = None;
        let mut i = 0;
        while i < toks.len() {
            let tok = toks[i];
            i += 1;
            if let Some(kind) = unterminated(tok.kind) {
                out.problems.push(LexProblem {
                    kind,
                    line: at(tok.start),
                });
            }
            if is_trivia(tok.kind) {
                continue;
            }
            let word = &text[tok.start..tok.end];
            let Some(stmt) = open.as_mut() else {
                if tok.kind == TokenKind::Semi {
                    continue;
                }
                if word.starts_with('\\') {
                    // A meta-command runs to the end of its line; lex again after it.
                    let end = text[tok.start..]
                        .find('\n')
                        .map_or(text.len(), |n| tok.start + n);
                    out.statements.push(Statement {
                        range: tok.start..end,
                        line: at(tok.start),
                        end_line: at(end.max(tok.start + 1) - 1),
                        kind: StatementKind::PsqlMeta,
                    });
                    pos = end;
                    continue 'relex;
                }
                open = Some(Open {
                    start: tok.start,
                    ..Open::default()
                });
                let stmt = open.as_mut().expect("just opened");
                step(stmt, tok, word, &toks[i..], text);
                continue;
            };
            if tok.kind == TokenKind::Semi && stmt.depth == 0 && stmt.atomic == 0 {
                let range = stmt.start..tok.end;
                let copy = stmt.copy_from_stdin();
                open = None;
                if copy {
                    let data_start = text[tok.end..]
                        .find('\n')
                        .map_or(text.len(), |n| tok.end + n + 1);
                    let (data, next) = copy_data(text, data_start);
                    if next.is_none() {
                        out.problems.push(LexProblem {
                            kind: LexProblemKind::CopyData,
                            line: at(range.start),
                        });
                    }
                    out.statements.push(Statement {
                        line: at(range.start),
                        end_line: at(data.end.max(range.end) - 1),
                        range,
                        kind: StatementKind::CopyFromStdin { data },
                    });
                    pos = next.unwrap_or(text.len());
                    continue 'relex;
                }
                out.statements.push(Statement {
                    line: at(range.start),
                    end_line: at(range.end - 1),
                    range,
                    kind: StatementKind::Sql,
                });
                continue;
            }
            step(stmt, tok, word, &toks[i..], text);
        }
        if let Some(stmt) = open {
            out.statements.push(Statement {
                line: at(stmt.start),
                end_line: at(stmt.last_end - 1),
                range: stmt.start..stmt.last_end,
                kind: StatementKind::Sql,
            });
        }
        break;
    }
    out
}

/// Advances the open statement over one non-trivia token.
fn step(stmt: &mut Open, tok: Tok, word: &str, rest: &[Tok], text: &str) {
    stmt.last_end = tok.end;
    match tok.kind {
        TokenKind::OpenParen => stmt.depth += 1,
        TokenKind::CloseParen => stmt.depth = stmt.depth.saturating_sub(1),
        TokenKind::Ident => {
            let lower = word.to_ascii_lowercase();
            if stmt.atomic > 0 {
                match lower.as_str() {
                    "case" | "begin" => stmt.atomic += 1,
                    "end" => stmt.atomic -= 1,
                    _ => {}
                }
            } else if lower == "begin"
                && stmt.routine()
                && next_word(rest, text).as_deref() == Some("atomic")
            {
                stmt.atomic = 1;
            }
            if stmt.words.len() < 64 {
                stmt.words.push(lower);
            }
        }
        _ => {}
    }
}

fn next_word(rest: &[Tok], text: &str) -> Option<String> {
    rest.iter()
        .find(|t| !is_trivia(t.kind))
        .map(|t| text[t.start..t.end].to_ascii_lowercase())
}

/// The COPY data block starting at `start`: its range (without the `\.` line) and the offset
/// after the `\.` line, or `None` when the block never ends.
fn copy_data(text: &str, start: usize) -> (Range<usize>, Option<usize>) {
    let mut line_start = start;
    while line_start < text.len() {
        let line_end = text[line_start..]
            .find('\n')
            .map_or(text.len(), |n| line_start + n);
        if text[line_start..line_end].trim_end_matches('\r') == "\\." {
            return (start..line_start, Some((line_end + 1).min(text.len())));
        }
        line_start = line_end + 1;
    }
    (start..text.len(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<(String, u32, u32)> {
        split(text, 1)
            .statements
            .iter()
            .map(|s| (text[s.range.clone()].to_string(), s.line, s.end_line))
            .collect()
    }

    #[test]
    fn splits_on_top_level_semicolons_only() {
        let text = "SET x = 1;\nCREATE TABLE t (a text DEFAULT 'a;b' /* ; */);\n-- c;\nSELECT 1";
        assert_eq!(
            pieces(text),
            vec![
                ("SET x = 1;".into(), 1, 1),
                (
                    "CREATE TABLE t (a text DEFAULT 'a;b' /* ; */);".into(),
                    2,
                    2
                ),
                ("SELECT 1".into(), 4, 4),
            ]
        );
    }

    #[test]
    fn dollar_bodies_and_begin_atomic_stay_whole() {
        let text = "DO $$ BEGIN PERFORM 1; END $$;\nCREATE FUNCTION f() RETURNS int LANGUAGE sql\nBEGIN ATOMIC\n  SELECT CASE WHEN true THEN 1 END;\n  SELECT 2;\nEND;\nSELECT 3;";
        let got = pieces(text);
        assert_eq!(got.len(), 3, "{got:?}");
        assert_eq!((got[1].1, got[1].2), (2, 6));
        assert_eq!(got[2].0, "SELECT 3;");
    }

    #[test]
    fn copy_data_and_meta_commands_are_recognised() {
        let text = "\\set ON_ERROR_STOP 1\nCOPY t (a, b) FROM stdin;\n1\to'brien\n2\tx\n\\.\nINSERT INTO t VALUES (3, 'y');\n";
        let split = split(text, 10);
        let kinds: Vec<_> = split
            .statements
            .iter()
            .map(|s| (s.kind.clone(), s.line))
            .collect();
        assert_eq!(kinds[0], (StatementKind::PsqlMeta, 10));
        assert!(matches!(
            kinds[1],
            (StatementKind::CopyFromStdin { .. }, 11)
        ));
        assert_eq!(split.statements[1].end_line, 13);
        assert_eq!(kinds[2], (StatementKind::Sql, 15));
        assert!(split.problems.is_empty(), "{:?}", split.problems);
    }

    #[test]
    fn unterminated_things_are_problems_with_lines() {
        let got = split("SELECT 1;\nSELECT 'oops;\n", 1).problems;
        assert_eq!(
            got,
            vec![LexProblem {
                kind: LexProblemKind::Quote,
                line: 2
            }]
        );
        let got = split("SELECT 1;\nDO $x$ BEGIN END $$;\n", 1).problems;
        assert_eq!(
            got,
            vec![LexProblem {
                kind: LexProblemKind::DollarQuote,
                line: 2
            }]
        );
        let got = split("/* open\nSELECT 1;", 5).problems;
        assert_eq!(
            got,
            vec![LexProblem {
                kind: LexProblemKind::Comment,
                line: 5
            }]
        );
        let got = split("COPY t FROM stdin;\n1\n", 1).problems;
        assert_eq!(
            got,
            vec![LexProblem {
                kind: LexProblemKind::CopyData,
                line: 1
            }]
        );
    }
}
