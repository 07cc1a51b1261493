//! Up/down sections of single-file layouts (dbmate, goose, sql-migrate): where each section
//! starts, its directive options, and the file text it covers (directive line included, so line
//! numbers stay those of the file).

pub use crate::migration::Direction;

/// One section of a file.
#[derive(Debug, Clone)]
pub struct Section {
    pub direction: Direction,
    /// 1-based line of the directive.
    pub line: u32,
    /// The rest of the directive line, lowercased (`transaction:false`, `notransaction`).
    pub options: String,
    /// Byte range of the section: from the directive line to the next directive (or the end).
    pub range: std::ops::Range<usize>,
}

/// A directive recogniser: for a line, `Some((direction, options))` when it opens a section.
pub type Directive = fn(&str) -> Option<(Direction, String)>;

/// The sections of `text`, and the line of the first statement-like text before the first one.
pub fn sections(text: &str, directive: Directive) -> (Vec<Section>, Option<u32>) {
    let mut out: Vec<Section> = Vec::new();
    let mut before: Option<u32> = None;
    let mut offset = 0;
    for (index, raw) in text.split_inclusive('\n').enumerate() {
        let line_no = u32::try_from(index + 1).unwrap_or(u32::MAX);
        let start = offset;
        offset += raw.len();
        if let Some((direction, options)) = directive(raw.trim_end()) {
            if let Some(last) = out.last_mut() {
                last.range.end = start;
            }
            out.push(Section {
                direction,
                line: line_no,
                options,
                range: start..text.len(),
            });
            continue;
        }
        let trimmed = raw.trim();
        if out.is_empty() && before.is_none() && !trimmed.is_empty() && !trimmed.starts_with("--") {
            before = Some(line_no);
        }
    }
    (out, before)
}

/// Parses `-- <prefix> Up|Down [options]` (case-insensitive, spaces after `--` optional).
pub fn annotation(line: &str, prefix: &str) -> Option<(Direction, String)> {
    let rest = line.strip_prefix("--")?.trim_start();
    let lower = rest.to_ascii_lowercase();
    let after = lower.strip_prefix(prefix)?;
    let mut words = after.split_whitespace();
    let direction = match words.next()? {
        "up" => Direction::Up,
        "down" => Direction::Down,
        _ => return None,
    };
    if !after.starts_with(char::is_whitespace) {
        return None;
    }
    Some((direction, words.collect::<Vec<_>>().join(" ")))
}

/// What differs between the single-file layouts; `read_sectioned` does the rest.
pub struct Sectioned {
    pub layout: super::Layout,
    pub marker: &'static str,
    pub directive: Directive,
    /// `(version, name)` from a file name, or `None` when the name is not a migration's.
    pub version: fn(&str) -> Option<(crate::migration::Version, String)>,
    /// The transaction opt-out of a section (given the whole file text), as its directive reason.
    pub no_tx: fn(&Section, &str) -> Option<String>,
    pub execution: crate::migration::Execution,
    pub line_split: Option<&'static str>,
    /// Whether the tool's line split is also how the scripts execute (goose), or only a warning
    /// for runners that use it (sql-migrate: GoAlert and others split SQL-aware).
    pub execute_line_split: bool,
    /// dbmate refuses a file without a down section; goose and sql-migrate do not.
    pub down_required: bool,
}

/// Whether the file text carries the layout's up directive.
pub fn has_up(bytes: &[u8], directive: Directive) -> bool {
    String::from_utf8_lossy(bytes)
        .lines()
        .any(|l| matches!(directive(l.trim_end()), Some((Direction::Up, _))))
}

/// Reads every top-level `.sql` file of `dir` that carries `cfg`'s up directive.
pub fn read_sectioned(dir: &super::Dir, read: &mut super::Read, cfg: &Sectioned) {
    use crate::check::{Code, Finding};
    use crate::migration::{Migration, Script, ScriptSpec, script::TxPolicy};

    for file in dir
        .files
        .iter()
        .filter(|f| f.parent().is_empty() && f.name().ends_with(".sql"))
    {
        if !has_up(&file.bytes, cfg.directive) {
            continue;
        }
        read.claim(file);
        let path = dir.path_of(file);
        let Some((version, name)) = (cfg.version)(file.name()) else {
            read.findings.push(Finding::new(
                Code::InvalidName,
                &path,
                None,
                format!(
                    "the file carries `{}` but its name has no version the tool reads",
                    cfg.marker
                ),
            ));
            continue;
        };
        let Some(text) = super::text_of(dir, file, read) else {
            continue;
        };
        let (found, before) = sections(&text, cfg.directive);
        if let Some(line) = before {
            read.findings.push(Finding::new(
                Code::MissingSection,
                &path,
                Some(line),
                format!(
                    "SQL before the first `{}` section; the tool refuses the file",
                    cfg.marker
                ),
            ));
        }
        let up = found.iter().find(|s| s.direction == Direction::Up);
        let down = found.iter().find(|s| s.direction == Direction::Down);
        if let (Some(u), Some(d)) = (up, down)
            && d.line < u.line
        {
            read.findings.push(Finding::new(
                Code::MissingSection,
                &path,
                Some(d.line),
                "the down section comes before the up section; the tool refuses the file",
            ));
        }
        let build = |section: &Section, read: &mut super::Read| {
            let (script, findings) = Script::build(ScriptSpec {
                path: path.clone(),
                direction: section.direction,
                first_line: section.line,
                text: text[section.range.clone()].to_string(),
                transaction: TxPolicy::Declared((cfg.no_tx)(section, &text)),
                execution: cfg.execution,
                line_split: cfg.line_split,
                tool_handles_copy: false,
            });
            read.findings.extend(findings);
            let mut script = script;
            if !cfg.execute_line_split {
                script.tool_statements = None;
            }
            script
        };
        let Some(up) = up else { continue };
        let up_script = build(up, read);
        let down_script = down.map(|d| build(d, read));
        if down.is_none() {
            if cfg.down_required {
                read.findings.push(Finding::new(
                    Code::MissingSection,
                    &path,
                    None,
                    "no down section; the tool refuses a file without one (add it, even if empty)",
                ));
            } else {
                read.findings
                    .push(super::missing_down(&path, &format!("{version}_{name}")));
            }
        }
        read.migrations.push(Migration {
            version,
            name,
            layout: cfg.layout,
            up: up_script,
            down: down_script,
            repeatable: false,
        });
    }
}

/// Leading ASCII digits of a file name and the rest (without `.sql` and a leading `_`/`-`).
pub fn leading_digits(file_name: &str) -> Option<(&str, String)> {
    let end = file_name
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(file_name.len());
    if end == 0 {
        return None;
    }
    let rest = file_name[end..]
        .trim_end_matches(".sql")
        .trim_start_matches(['_', '-']);
    Some((&file_name[..end], rest.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn goose(line: &str) -> Option<(Direction, String)> {
        annotation(line, "+goose")
    }

    #[test]
    fn sections_cover_the_file_from_their_directive() {
        let text = "-- comment\n-- +goose Up\nSELECT 1;\n-- +goose Down\nSELECT 2;\n";
        let (found, before) = sections(text, goose);
        assert_eq!(before, None);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].direction, found[0].line), (Direction::Up, 2));
        assert_eq!(&text[found[0].range.clone()], "-- +goose Up\nSELECT 1;\n");
        assert_eq!(&text[found[1].range.clone()], "-- +goose Down\nSELECT 2;\n");
    }

    #[test]
    fn text_before_the_first_section_is_located() {
        let (_, before) = sections("\nSELECT 0;\n-- +goose Up\n", goose);
        assert_eq!(before, Some(2));
    }

    #[test]
    fn annotations_need_their_word() {
        assert!(goose("-- +goose Upgrade").is_none());
        assert!(goose("--+goose UP").is_some());
        assert_eq!(
            annotation("-- +migrate Up notransaction", "+migrate").map(|a| a.1),
            Some("notransaction".into())
        );
    }
}
