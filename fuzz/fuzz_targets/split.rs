//! Fuzzes the SQL statement splitters: `upcycle::sql::split` (psql's rules, via squawk's lexer)
//! and `upcycle::sql::goose_split` (goose's / sql-migrate's line-based split), then classifies
//! every statement. Panics when a structural invariant fails (see fuzz/README.md).
#![no_main]

use libfuzzer_sys::fuzz_target;
use upcycle::sql::{self, LineIndex, Statement, StatementKind};

/// Checks the statements of one split of `text` (whose first line is line `first_line`).
fn check(what: &str, text: &str, first_line: u32, statements: &[Statement]) {
    let lines = LineIndex::new(text);
    let count = u32::try_from(lines.count()).expect("line count fits u32");
    let last_line = first_line + count - 1;
    // Where the previous statement (with its COPY data, if any) ended.
    let mut prev_end = 0usize;
    for (i, s) in statements.iter().enumerate() {
        let r = &s.range;
        assert!(r.start < r.end, "{what}: statement {i} has an empty or reversed range {r:?}");
        assert!(r.end <= text.len(), "{what}: statement {i} range {r:?} is past the text ({} bytes)", text.len());
        assert!(text.is_char_boundary(r.start) && text.is_char_boundary(r.end), "{what}: statement {i} range {r:?} is not on char boundaries");
        assert!(r.start >= prev_end, "{what}: statement {i} range {r:?} overlaps or precedes the previous one (ended at {prev_end})");
        assert!(s.line <= s.end_line, "{what}: statement {i} line {} > end_line {}", s.line, s.end_line);
        assert!(s.line >= first_line && s.end_line <= last_line, "{what}: statement {i} lines {}..={} outside {first_line}..={last_line}", s.line, s.end_line);
        // The lines are those of the first and last byte of the range (COPY's end_line also
        // covers its data, checked below).
        assert_eq!(s.line, lines.line(r.start) + first_line - 1, "{what}: statement {i} line is not the line of its first byte");
        prev_end = r.end;
        match &s.kind {
            StatementKind::CopyFromStdin { data } => {
                assert!(data.start <= data.end && data.end <= text.len(), "{what}: statement {i} COPY data {data:?} outside the text");
                assert!(text.is_char_boundary(data.start) && text.is_char_boundary(data.end), "{what}: statement {i} COPY data {data:?} not on char boundaries");
                assert!(data.start >= r.end, "{what}: statement {i} COPY data {data:?} starts inside the statement {r:?}");
                assert!(s.end_line >= lines.line(r.end - 1) + first_line - 1, "{what}: statement {i} end_line before the statement's last byte");
                prev_end = prev_end.max(data.end);
            }
            StatementKind::Sql | StatementKind::PsqlMeta => {
                assert_eq!(s.end_line, lines.line(r.end - 1) + first_line - 1, "{what}: statement {i} end_line is not the line of its last byte");
            }
        }
        let classified = sql::classify(&text[r.clone()]);
        assert!(classified.words.len() <= 12, "{what}: classify returned {} words", classified.words.len());
        if let Some(reason) = classified.non_transactional {
            assert!(!reason.is_empty());
        }
    }
}

fn lines_ok(what: &str, text: &str, first_line: u32, lines: impl IntoIterator<Item = u32>) {
    let count = u32::try_from(LineIndex::new(text).count()).expect("line count fits u32");
    for line in lines {
        assert!(line >= first_line && line < first_line + count, "{what}: reported line {line} outside {first_line}..{}", first_line + count);
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };

    let split = sql::split(text, 1);
    check("split", text, 1, &split.statements);
    lines_ok("split problems", text, 1, split.problems.iter().map(|p| p.line));

    // The first line only shifts line numbers.
    let shifted = sql::split(text, 100);
    assert_eq!(shifted.statements.len(), split.statements.len(), "split: first_line changed the statements");
    for (a, b) in split.statements.iter().zip(&shifted.statements) {
        assert_eq!((&a.range, &a.kind, a.line + 99, a.end_line + 99), (&b.range, &b.kind, b.line, b.end_line), "split: first_line changed a statement");
    }
    check("split@100", text, 100, &shifted.statements);

    for marker in ["+goose", "+migrate"] {
        let tool = sql::goose_split(text, 1, marker);
        check(marker, text, 1, &tool.statements);
        lines_ok(marker, text, 1, tool.unbalanced.iter().copied().chain(tool.unterminated));
        // Findings compare the two splits; they must not panic either.
        let _ = tool.findings("f.sql", &split.statements);
    }
});
