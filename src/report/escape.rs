//! Escaping for text taken from files before it goes into markdown (tables, PR comments):
//! markdown punctuation, HTML, and @mentions are neutralised; and percent-encoding for text that
//! goes into a URL (a file's path in a link, a socket folder in a database URL).

/// Escapes `text` for a markdown paragraph or table cell, on one line.
pub fn markdown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '!' | '|'
            | '~' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            // A zero-width joiner after @ keeps "@user" from notifying anybody.
            '@' => out.push_str("@\u{200b}"),
            '\r' => {}
            '\n' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// Text for inside a fenced code block: a fence in the text cannot close ours.
pub fn code_block(text: &str) -> String {
    let longest = text
        .split('\n')
        .map(|l| l.trim_start().chars().take_while(|c| *c == '`').count())
        .max()
        .unwrap_or(0);
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}\n{}\n{fence}", text.trim_end_matches('\n'))
}

/// What `url_part` leaves as it is: letters, digits and `-._~/`.
const URL_KEPT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'/');

/// `text` percent-encoded for a URL's path or one value of its query: every byte but letters,
/// digits and `-._~/`.
pub fn url_part(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, URL_KEPT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_html_and_mentions_are_neutralised() {
        assert_eq!(
            markdown("a|b <script> @team *x*"),
            "a\\|b &lt;script\\> @\u{200b}team \\*x\\*"
        );
        assert_eq!(markdown("line\nbreak"), "line break");
    }

    #[test]
    fn fences_grow_past_the_text() {
        assert_eq!(code_block("```\nx"), "````\n```\nx\n````");
    }
}
