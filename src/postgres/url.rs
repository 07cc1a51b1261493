//! Database URLs as people may see them: passwords masked, everywhere.

/// The URL with its password (userinfo and `password=` parameter) replaced by `***`.
pub fn mask(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                let start = rest_start + colon + 1;
                out.replace_range(start..rest_start + at, "***");
            }
        }
    }
    let lower = out.to_ascii_lowercase();
    if let Some(p) = lower.find("password=") {
        let start = p + "password=".len();
        let end = out[start..].find('&').map_or(out.len(), |i| start + i);
        out.replace_range(start..end, "***");
    }
    out
}

/// Removes every occurrence of the URL's password from `text` (error messages may quote it).
pub fn scrub(text: &str, url: &str) -> String {
    let Some(password) = password_of(url) else {
        return text.to_string();
    };
    if password.is_empty() {
        text.to_string()
    } else {
        text.replace(url, &mask(url)).replace(&password, "***")
    }
}

fn password_of(url: &str) -> Option<String> {
    let rest = &url[url.find("://")? + 3..];
    let authority = &rest[..rest.find(['/', '?']).unwrap_or(rest.len())];
    let userinfo = &authority[..authority.rfind('@')?];
    Some(userinfo.split_once(':')?.1.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_survive() {
        assert_eq!(
            mask("postgres://app:s3cr%40t@db:5432/app?sslmode=require"),
            "postgres://app:***@db:5432/app?sslmode=require"
        );
        assert_eq!(mask("postgres://app@db/app"), "postgres://app@db/app");
        assert_eq!(
            mask("postgres://db/app?user=a&password=hunter2&x=1"),
            "postgres://db/app?user=a&password=***&x=1"
        );
        assert_eq!(
            scrub(
                "failed for s3cret at postgres://u:s3cret@h/d",
                "postgres://u:s3cret@h/d"
            ),
            "failed for *** at postgres://u:***@h/d"
        );
    }
}

/// The URL without its password, and the (percent-decoded) password, for tools that take the
/// password from `PGPASSWORD` rather than from a command line anyone can read in `ps`.
pub fn split_password(url: &str) -> (String, Option<String>) {
    let Some(password) = password_of(url) else {
        return (url.to_string(), None);
    };
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let at = url[scheme_end..].find('@').map_or(0, |i| scheme_end + i);
    let colon = url[scheme_end..at].find(':').map_or(at, |i| scheme_end + i);
    (
        format!("{}{}", &url[..colon], &url[at..]),
        Some(percent_decode(&password)),
    )
}

fn percent_decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

#[cfg(test)]
mod split_tests {
    use super::split_password;

    #[test]
    fn the_password_leaves_the_url() {
        assert_eq!(
            split_password("postgres://u:p%40ss@h:5/d?x=1"),
            ("postgres://u@h:5/d?x=1".into(), Some("p@ss".into()))
        );
        assert_eq!(
            split_password("postgres://u@h/d"),
            ("postgres://u@h/d".into(), None)
        );
    }
}
