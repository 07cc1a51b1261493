//! rollback-suffix: `YYYYMMDD_HHMMSS_<name>.sql` with its down in
//! `YYYYMMDD_HHMMSS_<name>_rollback.sql`. No tool owns it, so it runs as psql would: statement
//! by statement, in one transaction unless a statement cannot run in one.

use std::collections::BTreeMap;

use super::{Evidence, Layout, Read, missing_down, text_of};
use crate::check::{Code, Finding};
use crate::migration::{
    Dir, Direction, Execution, Migration, Script, ScriptSpec, SourceFile, Version, script::TxPolicy,
};

/// `(version text "YYYYMMDD_HHMMSS", value, name)` when the name has the shape, `Err` when the
/// date or time is impossible.
fn parse(name: &str) -> Option<Result<(String, i64, String), String>> {
    let stem = name.strip_suffix(".sql")?;
    let b = stem.as_bytes();
    if b.len() < 17
        || !b[..8].iter().all(u8::is_ascii_digit)
        || b[8] != b'_'
        || !b[9..15].iter().all(u8::is_ascii_digit)
        || b[15] != b'_'
    {
        return None;
    }
    let n = |r: std::ops::Range<usize>| stem[r].parse::<u32>().unwrap_or(99);
    let (month, day, hour, minute, second) = (n(4..6), n(6..8), n(9..11), n(11..13), n(13..15));
    let text = stem[..15].to_string();
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return Some(Err(format!(
            "{text} is not a valid YYYYMMDD_HHMMSS timestamp"
        )));
    }
    let value: i64 = format!("{}{}", &stem[..8], &stem[9..15]).parse().ok()?;
    Some(Ok((text, value, stem[16..].to_string())))
}

pub fn recognise(file: &SourceFile) -> Option<Evidence> {
    (file.parent().is_empty() && parse(file.name()).is_some())
        .then_some(Evidence::Marker("YYYYMMDD_HHMMSS_ prefix"))
}

fn script(dir: &Dir, file: &SourceFile, direction: Direction, read: &mut Read) -> Option<Script> {
    let text = text_of(dir, file, read)?;
    let (script, findings) = Script::build(ScriptSpec {
        path: dir.path_of(file),
        direction,
        first_line: 1,
        text,
        transaction: TxPolicy::Auto,
        execution: Execution::PerStatement,
        line_split: None,
        tool_handles_copy: false,
    });
    read.findings.extend(findings);
    Some(script)
}

pub fn read(dir: &Dir, read: &mut Read) {
    let mut named: BTreeMap<(i64, String), (String, &SourceFile)> = BTreeMap::new();
    for file in dir.files.iter().filter(|f| f.parent().is_empty()) {
        match parse(file.name()) {
            None => {}
            Some(Err(why)) => {
                read.claim(file);
                read.findings.push(Finding::new(
                    Code::InvalidName,
                    dir.path_of(file),
                    None,
                    why,
                ));
            }
            Some(Ok((text, value, name))) => {
                read.claim(file);
                named.insert((value, name), (text, file));
            }
        }
    }
    // A `_rollback` file is a down only when its forward file exists.
    let downs: Vec<(i64, String)> = named
        .keys()
        .filter(|(v, n)| {
            n.strip_suffix("_rollback")
                .is_some_and(|fwd| named.contains_key(&(*v, fwd.to_string())))
        })
        .cloned()
        .collect();
    let mut down_files: BTreeMap<(i64, String), &SourceFile> = BTreeMap::new();
    for key in downs {
        if let Some((_, file)) = named.remove(&key) {
            down_files.insert(
                (key.0, key.1.trim_end_matches("_rollback").to_string()),
                file,
            );
        }
    }
    for ((value, name), (text, file)) in named {
        let Some(up) = script(dir, file, Direction::Up, read) else {
            continue;
        };
        let down = down_files
            .get(&(value, name.clone()))
            .and_then(|d| script(dir, d, Direction::Down, read));
        if down.is_none() {
            read.findings
                .push(missing_down(&up.path, &format!("{text}_{name}")));
        }
        read.migrations.push(Migration {
            version: Version::int(&text, i128::from(value)),
            name,
            layout: Layout::RollbackSuffix,
            up,
            down,
            repeatable: false,
        });
    }
}

pub fn new_files(version: &str, name: &str, _with_down: bool) -> Vec<(String, String)> {
    vec![
        (format!("{version}_{name}.sql"), format!("-- {name}\n")),
        (
            format!("{version}_{name}_rollback.sql"),
            format!("-- {name}: rollback (restore the exact schema before it)\n"),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn names_carry_a_real_timestamp() {
        assert_eq!(
            parse("20240131_235959_add_x.sql"),
            Some(Ok((
                "20240131_235959".into(),
                20240131235959,
                "add_x".into()
            )))
        );
        assert!(matches!(parse("20241331_000000_bad.sql"), Some(Err(_))));
        assert_eq!(parse("20240131_add.sql"), None);
    }
}
