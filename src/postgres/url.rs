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
