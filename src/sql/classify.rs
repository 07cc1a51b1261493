//! What a statement is, as far as execution cares: its leading keywords, and whether PostgreSQL
//! refuses to run it inside a transaction block.

use squawk_lexer::{TokenKind, tokenize};

/// A statement's leading keywords (lowercased, at most 12) and its no-transaction reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Classified {
    pub words: Vec<String>,
    /// Why the statement cannot run in a transaction block, e.g. "CREATE INDEX CONCURRENTLY".
    pub non_transactional: Option<&'static str>,
}

/// Leading keywords of `statement` (comments and whitespace skipped, identifiers lowercased).
fn words(statement: &str) -> Vec<String> {
    let mut offset = 0;
    let mut out = Vec::new();
    for tok in tokenize(statement) {
        let start = offset;
        offset += tok.len as usize;
        match tok.kind {
            TokenKind::Whitespace | TokenKind::LineComment | TokenKind::BlockComment { .. } => {}
            TokenKind::Ident => out.push(statement[start..offset].to_ascii_lowercase()),
            TokenKind::Semi | TokenKind::Eof => break,
            _ => out.push(statement[start..offset].to_string()),
        }
        if out.len() == 12 {
            break;
        }
    }
    out
}

/// Classifies one SQL statement.
pub fn classify(statement: &str) -> Classified {
    let words = words(statement);
    let non_transactional = non_transactional_reason(&words);
    Classified {
        words,
        non_transactional,
    }
}

/// The statements PostgreSQL refuses inside a transaction block ("cannot run inside a
/// transaction block"), matched on leading keywords as Flyway's PostgreSQL parser does.
pub fn non_transactional_reason(words: &[String]) -> Option<&'static str> {
    let w: Vec<&str> = words.iter().map(String::as_str).collect();
    let has = |k: &str| w.contains(&k);
    match w.as_slice() {
        ["create", "index", "concurrently", ..]
        | ["create", "unique", "index", "concurrently", ..] => Some("CREATE INDEX CONCURRENTLY"),
        ["drop", "index", "concurrently", ..] => Some("DROP INDEX CONCURRENTLY"),
        ["reindex", ..] if has("concurrently") => Some("REINDEX CONCURRENTLY"),
        ["reindex", "schema" | "database" | "system", ..] => Some("REINDEX SCHEMA/DATABASE/SYSTEM"),
        ["vacuum", ..] => Some("VACUUM"),
        ["create" | "drop", "database", ..] => Some("CREATE/DROP DATABASE"),
        ["create" | "drop", "tablespace", ..] => Some("CREATE/DROP TABLESPACE"),
        ["create", "subscription", ..] => Some("CREATE SUBSCRIPTION"),
        ["alter", "system", ..] => Some("ALTER SYSTEM"),
        ["discard", "all", ..] => Some("DISCARD ALL"),
        ["alter", "table", ..] if has("detach") && has("concurrently") => {
            Some("DETACH PARTITION CONCURRENTLY")
        }
        _ => None,
    }
}

/// Statements that change definitions only (and the session and transaction around them):
/// they cannot write rows of a table without the schema showing it. Anything else (`INSERT`,
/// `SELECT f()`, `DO`, `CALL`, `COPY`, …) may.
const KEEPS_ROWS: &[&str] = &[
    "create",
    "alter",
    "drop",
    "comment",
    "grant",
    "revoke",
    "set",
    "reset",
    "begin",
    "start",
    "commit",
    "end",
    "rollback",
    "savepoint",
    "release",
    "lock",
    "analyze",
    "vacuum",
    "reindex",
];

/// Whether a statement (by its leading keywords) writes no rows of existing tables.
pub fn keeps_rows(words: &[String]) -> bool {
    words
        .first()
        .is_none_or(|w| KEEPS_ROWS.contains(&w.as_str()))
}

#[cfg(test)]
mod tests {
    use super::{classify, keeps_rows};

    #[test]
    fn tells_statements_that_keep_rows() {
        for (sql, want) in [
            ("ALTER TABLE t ADD COLUMN c int", true),
            ("-- note\nCREATE INDEX i ON t (a)", true),
            ("drop function f()", true),
            ("", true),
            ("INSERT INTO t VALUES (1)", false),
            ("DELETE FROM t", false),
            ("SELECT setval('s', 1)", false),
            ("DO $$ BEGIN END $$", false),
            ("WITH x AS (DELETE FROM t) SELECT 1", false),
            ("TRUNCATE t", false),
        ] {
            assert_eq!(keeps_rows(&classify(sql).words), want, "{sql}");
        }
    }

    #[test]
    fn recognises_statements_that_refuse_transactions() {
        let cases = [
            (
                "-- c\nCREATE INDEX CONCURRENTLY i ON t (a);",
                Some("CREATE INDEX CONCURRENTLY"),
            ),
            (
                "create unique index concurrently if not exists i on t(a)",
                Some("CREATE INDEX CONCURRENTLY"),
            ),
            (
                "DROP INDEX CONCURRENTLY IF EXISTS i;",
                Some("DROP INDEX CONCURRENTLY"),
            ),
            (
                "REINDEX INDEX CONCURRENTLY i;",
                Some("REINDEX CONCURRENTLY"),
            ),
            ("VACUUM ANALYZE t;", Some("VACUUM")),
            (
                "ALTER TABLE p DETACH PARTITION c CONCURRENTLY;",
                Some("DETACH PARTITION CONCURRENTLY"),
            ),
            ("CREATE INDEX i ON t (a);", None),
            ("ALTER TYPE e ADD VALUE 'x';", None),
        ];
        for (sql, want) in cases {
            assert_eq!(classify(sql).non_transactional, want, "{sql}");
        }
    }
}
