//! How names and SQL text are written in a snapshot and its diff: identifiers quoted as
//! PostgreSQL's `quote_ident` does, qualified keys split and shortened (`public.` is implied),
//! and view definitions with their whitespace normalised.

/// `ident` as `quote_ident` writes it, for the common case: bare when it is lower case letters,
/// digits, `_` and `$` (not first), quoted otherwise. Keywords are not known here, so `user`
/// stays bare where PostgreSQL would quote it; use it to build names, not to parse them.
pub fn quote_ident(ident: &str) -> String {
    let bare = ident
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && ident
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '$');
    if bare {
        ident.to_string()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

/// The identifier a quoted one stands for: `"My ""T"""` → `My "T"`, `users` → `users`.
pub fn unquote(ident: &str) -> String {
    match ident.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
        Some(inner) => inner.replace("\"\"", "\""),
        None => ident.to_string(),
    }
}

/// Splits a qualified key at its first dot outside quotes: `public.users` → (`public`,
/// `users`), `"a.b".c` → (`"a.b"`, `c`). A key with no dot is all name.
pub fn split_qualified(key: &str) -> (&str, &str) {
    let mut quoted = false;
    for (i, c) in key.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '.' if !quoted => return (&key[..i], &key[i + 1..]),
            _ => {}
        }
    }
    ("", key)
}

/// A name as a person reads it: `public.` is dropped where it starts a qualified name
/// (`column public.users.email` → `column users.email`); other schemas stay.
pub fn short_name(text: &str) -> String {
    const PUBLIC: &str = "public.";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let mut previous: Option<char> = None;
    while !rest.is_empty() {
        let starts_name = previous.is_none_or(|c| matches!(c, ' ' | '(' | ','));
        if starts_name && rest.starts_with(PUBLIC) {
            rest = &rest[PUBLIC.len()..];
            previous = Some('.');
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        previous = Some(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// SQL text with every run of whitespace outside quotes made one space, trimmed, so a
/// re-indented `pg_get_viewdef` compares equal; quoted literals and identifiers keep theirs.
pub fn normalise_whitespace(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut quote: Option<char> = None;
    let mut pending_space = false;
    for c in sql.chars() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => pending_space = true,
            None => {
                if pending_space && !out.is_empty() {
                    out.push(' ');
                }
                pending_space = false;
                if c == '\'' || c == '"' {
                    quote = Some(c);
                }
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_quote_and_unquote() {
        assert_eq!(quote_ident("users"), "users");
        assert_eq!(quote_ident("Users"), "\"Users\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_ident("1a"), "\"1a\"");
        assert_eq!(unquote("\"My \"\"T\"\"\""), "My \"T\"");
        assert_eq!(unquote("users"), "users");
    }

    #[test]
    fn qualified_keys_split_outside_quotes() {
        assert_eq!(split_qualified("public.users"), ("public", "users"));
        assert_eq!(split_qualified("\"a.b\".c"), ("\"a.b\"", "c"));
        assert_eq!(split_qualified("users"), ("", "users"));
    }

    #[test]
    fn public_is_implied() {
        assert_eq!(
            short_name("column public.users.email"),
            "column users.email"
        );
        assert_eq!(
            short_name("function public.f(integer)"),
            "function f(integer)"
        );
        assert_eq!(short_name("trigger t on public.jobs"), "trigger t on jobs");
        assert_eq!(short_name("table app.users"), "table app.users");
        assert_eq!(short_name("table mypublic.users"), "table mypublic.users");
        assert_eq!(short_name("public.a, public.b"), "a, b");
    }

    #[test]
    fn whitespace_is_normalised_outside_quotes() {
        assert_eq!(
            normalise_whitespace(" SELECT a,\n    b\n   FROM t\n  WHERE c = 'x  y';"),
            "SELECT a, b FROM t WHERE c = 'x  y';"
        );
        assert_eq!(
            normalise_whitespace("SELECT \"a  b\"\tFROM t"),
            "SELECT \"a  b\" FROM t"
        );
    }
}
