//! Fuzzes the migration layout readers: a folder of fuzzed files goes through layout detection
//! and every layout's reader (`upcycle::migration::read_dirs`, detected and forced), and every
//! reading is rendered by the `list` report. Nothing may panic; errors and findings are fine.
//!
//! Input format (see fuzz/README.md): files separated by NUL bytes, at most 16. In each file the
//! bytes up to the first `\n` are its name and the rest its content. A name `%<t><digits><stem>`
//! is expanded from template `<t>` (see `name`) so the fuzzer reaches every layout's pattern
//! quickly; any other name is used as it is (lossy UTF-8).
#![no_main]

use libfuzzer_sys::fuzz_target;
use upcycle::migration::{Dir, LAYOUTS, Reading, SourceFile, read_dirs};
use upcycle::report::list;
use upcycle::term::{Term, Verbosity};

const MAX_FILES: usize = 16;

/// A file name from the name line of one input part.
fn name(line: &[u8]) -> String {
    let line = String::from_utf8_lossy(line);
    let Some(rest) = line.strip_prefix('%') else { return line.into_owned() };
    let mut chars = rest.chars();
    let Some(template) = chars.next() else { return line.into_owned() };
    let rest = chars.as_str();
    let digits_end = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
    let n = if digits_end == 0 { "1" } else { &rest[..digits_end] };
    let s = if rest[digits_end..].is_empty() { "x" } else { &rest[digits_end..] };
    match template {
        // sqlx / golang-migrate
        'a' => format!("{n}_{s}.up.sql"),
        'b' => format!("{n}_{s}.down.sql"),
        'c' => format!("{n}_{s}.sql"),
        // Flyway
        'd' => format!("V{n}__{s}.sql"),
        'e' => format!("U{n}__{s}.sql"),
        'f' => format!("R__{s}.sql"),
        'g' => format!("V{n}__{s}.sql.conf"),
        // diesel
        'h' => format!("2024-01-01-{n:0>6}_{s}/up.sql"),
        'i' => format!("2024-01-01-{n:0>6}_{s}/down.sql"),
        'j' => format!("2024-01-01-{n:0>6}_{s}/metadata.toml"),
        // rollback-suffix
        'k' => format!("20240101_{n:0>6}_{s}.sql"),
        'l' => format!("20240101_{n:0>6}_{s}_rollback.sql"),
        // sql-migrate / dbmate / goose (the content carries their markers)
        'm' => format!("{n}-{s}.sql"),
        'n' => format!("{n}{s}.sql"),
        // alembic
        'o' => format!("versions/{n}_{s}.py"),
        'p' => "alembic.ini".to_string(),
        // files no layout owns
        'q' => format!("{s}.md"),
        'r' => format!(".{s}"),
        _ => line.into_owned(),
    }
}

/// Every script's statements lie within its text.
fn check(reading: &Reading) {
    for m in reading.set.iter() {
        for script in std::iter::once(&m.up).chain(m.down.as_ref()) {
            let text = &script.text;
            let lists = std::iter::once(&script.statements).chain(script.tool_statements.as_ref());
            for s in lists.flatten() {
                assert!(s.range.start <= s.range.end && s.range.end <= text.len(), "{}: statement {:?} outside the text", script.path, s.range);
                assert!(text.is_char_boundary(s.range.start) && text.is_char_boundary(s.range.end), "{}: statement {:?} not on char boundaries", script.path, s.range);
                assert!(s.line <= s.end_line, "{}: statement line {} > end_line {}", script.path, s.line, s.end_line);
            }
            assert_eq!(script.checksum.as_str().len(), 64, "{}: checksum is not SHA-256 hex", script.path);
        }
    }
}

fn render(reading: &Reading) {
    check(reading);
    let term = Term { color: false, verbosity: Verbosity::Quiet };
    let json = list::json(reading);
    assert!(json.starts_with('{'), "list::json did not produce an object: {json}");
    let _ = list::text(reading, &term);
    let _ = list::text(reading, &Term { color: true, verbosity: Verbosity::Verbose });
    let _ = list::markdown(reading);
}

fuzz_target!(|data: &[u8]| {
    let files: Vec<SourceFile> = data
        .split(|b| *b == 0)
        .take(MAX_FILES)
        .map(|part| {
            let (line, bytes) = match part.iter().position(|b| *b == b'\n') {
                Some(at) => (&part[..at], &part[at + 1..]),
                None => (part, &[][..]),
            };
            SourceFile { rel: name(line), bytes: bytes.to_vec() }
        })
        .collect();
    let dir = Dir { display: "f".into(), files };
    let dirs = [dir];

    match read_dirs(&dirs, None) {
        Ok(reading) => render(&reading),
        Err(e) => {
            let _ = e.to_string();
        }
    }
    for spec in LAYOUTS {
        match read_dirs(&dirs, Some(spec.layout)) {
            Ok(reading) => {
                assert_eq!(reading.detection.layout, spec.layout, "a forced layout was not used");
                render(&reading);
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
});
