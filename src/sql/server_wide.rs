//! What in a script reaches past its own database: roles, role membership, tablespaces,
//! databases and server settings, which every database of a server shares. A check proves a
//! set in parallel jobs (one database each) only when no script touches them.

use squawk_lexer::{LiteralKind, TokenKind, tokenize};

/// Leading words of a statement (or of a clause inside one) that write a server-wide object,
/// and what to call it. The one list the scan matches against.
const SERVER_WIDE: &[(&[&str], &str)] = &[
    (&["create", "role"], "CREATE ROLE"),
    (&["alter", "role"], "ALTER ROLE"),
    (&["drop", "role"], "DROP ROLE"),
    (&["create", "user"], "CREATE USER"),
    (&["alter", "user"], "ALTER USER"),
    (&["drop", "user"], "DROP USER"),
    (&["create", "group"], "CREATE GROUP"),
    (&["alter", "group"], "ALTER GROUP"),
    (&["drop", "group"], "DROP GROUP"),
    (&["create", "tablespace"], "CREATE TABLESPACE"),
    (&["alter", "tablespace"], "ALTER TABLESPACE"),
    (&["drop", "tablespace"], "DROP TABLESPACE"),
    (&["create", "database"], "CREATE DATABASE"),
    (&["alter", "database"], "ALTER DATABASE"),
    (&["drop", "database"], "DROP DATABASE"),
    (&["alter", "system"], "ALTER SYSTEM"),
    (&["reassign", "owned"], "REASSIGN OWNED"),
    (&["comment", "on", "role"], "COMMENT ON ROLE"),
    (&["comment", "on", "database"], "COMMENT ON DATABASE"),
    (&["comment", "on", "tablespace"], "COMMENT ON TABLESPACE"),
];

/// The words of `text` in order, lowercased: identifiers and keywords, with `;` kept as a
/// boundary. Comments and string literals are skipped; dollar-quoted bodies (functions, `DO`
/// blocks) are code, so their words are scanned too.
fn words(text: &str, out: &mut Vec<String>) {
    let mut offset = 0;
    for tok in tokenize(text) {
        let piece = &text[offset..offset + tok.len as usize];
        offset += tok.len as usize;
        match tok.kind {
            TokenKind::Ident => out.push(piece.to_ascii_lowercase()),
            TokenKind::Semi => out.push(";".into()),
            TokenKind::Literal {
                kind: LiteralKind::DollarQuotedString { .. },
            } => {
                // `$tag$ body $tag$`: the tag ends at the second `$`.
                let tag = piece[1..].find('$').map_or(piece.len(), |i| i + 2);
                let delimiter = &piece[..tag];
                let body = &piece[tag..];
                words(body.strip_suffix(delimiter).unwrap_or(body), out);
                out.push(";".into());
            }
            _ => {}
        }
    }
}

/// `GRANT role TO role` or `REVOKE role FROM role` (membership, kept server-wide in
/// `pg_auth_members`), told from a privilege grant by the `ON` that a privilege grant has.
fn membership(rest: &[String]) -> bool {
    for w in rest.iter().take(24) {
        match w.as_str() {
            "on" | ";" => return false,
            "to" | "from" => return true,
            _ => {}
        }
    }
    false
}

/// What in `text` writes a server-wide object ("CREATE ROLE"), if anything. A false alarm
/// (a column named `user` after `ALTER`) only costs parallelism, never a finding.
pub fn server_wide(text: &str) -> Option<&'static str> {
    let mut all = Vec::new();
    words(text, &mut all);
    for (i, w) in all.iter().enumerate() {
        let rest = &all[i..];
        if let Some((_, name)) = SERVER_WIDE.iter().find(|(seq, _)| {
            rest.len() >= seq.len()
                && seq.iter().zip(rest).all(|(a, b)| a == b)
                // `CREATE USER MAPPING` belongs to one database.
                && rest.get(seq.len()).map(String::as_str) != Some("mapping")
        }) {
            return Some(name);
        }
        if matches!(w.as_str(), "grant" | "revoke") && membership(&all[i + 1..]) {
            return Some("GRANT/REVOKE of a role");
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::server_wide;

    #[test]
    fn finds_server_wide_objects_in_statements_and_bodies() {
        let cases = [
            ("CREATE ROLE app LOGIN;", Some("CREATE ROLE")),
            ("create user app;", Some("CREATE USER")),
            (
                "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles) THEN CREATE ROLE app; END IF; END $$;",
                Some("CREATE ROLE"),
            ),
            (
                "DO $body$ BEGIN ALTER DATABASE current SET x = 1; END $body$",
                Some("ALTER DATABASE"),
            ),
            ("GRANT app TO web;", Some("GRANT/REVOKE of a role")),
            ("REVOKE app FROM web;", Some("GRANT/REVOKE of a role")),
            ("ALTER SYSTEM SET work_mem = '8MB';", Some("ALTER SYSTEM")),
            ("COMMENT ON ROLE app IS 'x';", Some("COMMENT ON ROLE")),
            ("GRANT SELECT ON users TO app;", None),
            ("REVOKE ALL ON SCHEMA s FROM public;", None),
            ("CREATE USER MAPPING FOR app SERVER s;", None),
            ("CREATE TABLE users (id int);", None),
            // Words in strings and comments are not statements.
            (
                "CREATE FUNCTION f() RETURNS void AS $$ BEGIN RAISE EXCEPTION 'cannot create user with reserved username'; END $$ LANGUAGE plpgsql;",
                None,
            ),
            ("-- create role app\nSELECT 1;", None),
            ("SELECT 'drop database x';", None),
        ];
        for (sql, want) in cases {
            assert_eq!(server_wide(sql), want, "{sql}");
        }
    }
}
