//! golang-migrate: `<uint64>_<name>.up.<ext>` / `.down.<ext>` (the two names of a pair may
//! differ); every file is sent bare, as one query, with no transaction of the tool's own.

use std::collections::BTreeMap;

use super::{Evidence, Layout, Read, missing_down, text_of};
use crate::check::{Code, Finding};
use crate::migration::{
    Dir, Direction, Execution, Migration, Script, ScriptSpec, SourceFile, Version, script::TxPolicy,
};

/// `(version text, version, name, is_up)`, following `^([0-9]+)_(.*)\.(down|up)\.(.*)$`.
fn parse(name: &str) -> Option<(String, u64, String, bool)> {
    let (prefix, rest) = name.split_once('_')?;
    if prefix.is_empty() || !prefix.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let up = rest.rfind(".up.");
    let down = rest.rfind(".down.");
    let (at, is_up, len) = match (up, down) {
        (Some(u), Some(d)) if u > d => (u, true, 4),
        (_, Some(d)) => (d, false, 6),
        (Some(u), None) => (u, true, 4),
        (None, None) => return None,
    };
    if rest.len() == at + len {
        return None;
    }
    Some((
        prefix.to_string(),
        prefix.parse().ok()?,
        rest[..at].to_string(),
        is_up,
    ))
}

pub fn recognise(file: &SourceFile) -> Option<Evidence> {
    (file.parent().is_empty() && parse(file.name()).is_some()).then_some(Evidence::Name)
}

fn script(dir: &Dir, file: &SourceFile, direction: Direction, read: &mut Read) -> Option<Script> {
    let text = text_of(dir, file, read)?;
    let (script, findings) = Script::build(ScriptSpec {
        path: dir.path_of(file),
        direction,
        first_line: 1,
        text,
        transaction: TxPolicy::Auto,
        execution: Execution::WholeScript,
        line_split: None,
        tool_handles_copy: false,
    });
    read.findings.extend(findings);
    Some(script)
}

pub fn read(dir: &Dir, read: &mut Read) {
    /// Version text, name (of the up), ups and downs of one version.
    type Pair<'a> = (String, String, Vec<&'a SourceFile>, Vec<&'a SourceFile>);
    let mut pairs: BTreeMap<u64, Pair<'_>> = BTreeMap::new();
    for file in dir.files.iter().filter(|f| f.parent().is_empty()) {
        let Some((text, version, name, is_up)) = parse(file.name()) else {
            continue;
        };
        read.claim(file);
        let entry = pairs
            .entry(version)
            .or_insert_with(|| (text, name.clone(), Vec::new(), Vec::new()));
        if is_up {
            entry.1 = name;
            entry.2.push(file);
        } else {
            entry.3.push(file);
        }
    }
    for (version, (text, name, ups, downs)) in pairs {
        for extra in ups.iter().skip(1).chain(downs.iter().skip(1)) {
            read.findings.push(Finding::new(Code::DuplicateVersion, dir.path_of(extra), None, format!("version {text} already has a file for this direction; golang-migrate refuses the folder (duplicate migration)")));
        }
        let Some(up) = ups.first() else {
            if let Some(down) = downs.first() {
                read.findings.push(Finding::new(
                    Code::DownWithoutUp,
                    dir.path_of(down),
                    None,
                    format!("no up script has version {text}; restore the up, or delete this down"),
                ));
            }
            continue;
        };
        let Some(up_script) = script(dir, up, Direction::Up, read) else {
            continue;
        };
        let down = downs
            .first()
            .and_then(|d| script(dir, d, Direction::Down, read));
        if downs.is_empty() {
            read.findings
                .push(missing_down(&up_script.path, &format!("{text}_{name}")));
        }
        read.migrations.push(Migration {
            version: Version::int(&text, i128::from(version)),
            name,
            layout: Layout::GolangMigrate,
            up: up_script,
            down,
            repeatable: false,
        });
    }
}

pub fn new_files(version: &str, name: &str, _with_down: bool) -> Vec<(String, String)> {
    vec![
        (
            format!("{version}_{name}.up.sql"),
            format!("-- {name}: up\n"),
        ),
        (
            format!("{version}_{name}.down.sql"),
            format!("-- {name}: down (restore the exact schema before the up)\n"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn names_follow_the_tool_regex() {
        assert_eq!(
            parse("1_init.up.sql"),
            Some(("1".into(), 1, "init".into(), true))
        );
        assert_eq!(
            parse("0002_a.b.down.sql"),
            Some(("0002".into(), 2, "a.b".into(), false))
        );
        assert_eq!(parse("1_init.sql"), None);
        assert_eq!(parse("x_init.up.sql"), None);
    }
}
