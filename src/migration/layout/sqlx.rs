//! sqlx: `<i64>_<desc>.sql` (up only) or `<i64>_<desc>.up.sql` + `.down.sql`, top level only;
//! `-- no-transaction` as the literal first bytes opts out of the transaction.

use std::collections::BTreeMap;

use super::{Evidence, Read, missing_down, text_of};
use crate::check::{Code, Finding};
use crate::migration::{
    Dir, Direction, Execution, Migration, Script, ScriptSpec, SourceFile, Version, script::TxPolicy,
};

const NO_TX: &str = "-- no-transaction";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Simple,
    Up,
    Down,
}

/// `(version text, version, description, kind)` of a sqlx file name, or why not.
fn parse(name: &str) -> Option<Result<(String, i64, String, Kind), String>> {
    let (prefix, rest) = name.split_once('_')?;
    if !rest.ends_with(".sql") {
        return None;
    }
    let (desc, kind) = if let Some(d) = rest.strip_suffix(".up.sql") {
        (d, Kind::Up)
    } else if let Some(d) = rest.strip_suffix(".down.sql") {
        (d, Kind::Down)
    } else {
        (rest.trim_end_matches(".sql"), Kind::Simple)
    };
    Some(match prefix.parse::<i64>() {
        Ok(v) => Ok((prefix.to_string(), v, desc.to_string(), kind)),
        Err(_) => Err(format!(
            "\"{prefix}\" is not an integer version; sqlx refuses the folder (expected integer version prefix)"
        )),
    })
}

pub fn recognise(file: &SourceFile) -> Option<Evidence> {
    if !file.parent().is_empty() || !matches!(parse(file.name()), Some(Ok(_))) {
        return None;
    }
    if file.bytes.starts_with(NO_TX.as_bytes()) {
        return Some(Evidence::Marker(NO_TX));
    }
    Some(Evidence::Name)
}

fn tx_of(text: &str, path: &str, read: &mut Read) -> TxPolicy {
    if text.starts_with(NO_TX) {
        return TxPolicy::Declared(Some(NO_TX.into()));
    }
    if let Some((index, _)) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.trim_start_matches('\u{feff}').trim() == NO_TX)
    {
        read.findings.push(Finding::new(
            Code::DirectiveIgnored,
            path,
            u32::try_from(index + 1).ok(),
            "sqlx sees `-- no-transaction` only as the very first bytes of the file; here it is not, so the migration runs in a transaction",
        ));
    }
    TxPolicy::Declared(None)
}

fn script(dir: &Dir, file: &SourceFile, direction: Direction, read: &mut Read) -> Option<Script> {
    let text = text_of(dir, file, read)?;
    let path = dir.path_of(file);
    let transaction = tx_of(&text, &path, read);
    let (script, findings) = Script::build(ScriptSpec {
        path,
        direction,
        first_line: 1,
        text,
        transaction,
        execution: Execution::WholeScript,
        line_split: None,
        tool_handles_copy: false,
    });
    read.findings.extend(findings);
    Some(script)
}

pub fn read(dir: &Dir, read: &mut Read) {
    /// The files of one version: ups (simple or reversible) and downs, with their descriptions.
    #[derive(Default)]
    struct Files<'a> {
        text: String,
        ups: Vec<(String, &'a SourceFile)>,
        downs: Vec<(String, &'a SourceFile)>,
    }
    let mut by_version: BTreeMap<i64, Files<'_>> = BTreeMap::new();
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
            Some(Ok((text, version, desc, kind))) => {
                read.claim(file);
                let entry = by_version.entry(version).or_default();
                entry.text = text;
                match kind {
                    Kind::Down => entry.downs.push((desc, file)),
                    _ => entry.ups.push((desc, file)),
                }
            }
        }
    }
    for (version, files) in by_version {
        let Files {
            text,
            ups,
            mut downs,
        } = files;
        // A down pairs with the up of the same description; a lone up and a lone down pair too.
        let lone = ups.len() == 1 && downs.len() == 1;
        for (desc, up) in &ups {
            let paired = match downs.iter().position(|(d, _)| d == desc) {
                Some(i) => Some(downs.remove(i).1),
                None if lone => Some(downs.remove(0).1),
                None => None,
            };
            let Some(up_script) = script(dir, up, Direction::Up, read) else {
                continue;
            };
            let down_script = paired.and_then(|d| script(dir, d, Direction::Down, read));
            if paired.is_none() && up.name().ends_with(".up.sql") {
                read.findings
                    .push(missing_down(&up_script.path, &format!("{text}_{desc}")));
            }
            read.migrations.push(Migration {
                version: Version::int(&text, i128::from(version)),
                name: desc.clone(),
                layout: super::Layout::Sqlx,
                up: up_script,
                down: down_script,
                repeatable: false,
            });
        }
        for (_, down) in downs {
            read.findings.push(Finding::new(
                Code::DownWithoutUp,
                dir.path_of(down),
                None,
                format!("no up script has version {text} and this name; restore the up, or delete this down"),
            ));
        }
    }
}

pub fn new_files(version: &str, name: &str, with_down: bool) -> Vec<(String, String)> {
    if with_down {
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
    } else {
        vec![(format!("{version}_{name}.sql"), format!("-- {name}\n"))]
    }
}

#[cfg(test)]
mod tests {
    use crate::check::Code;
    use crate::migration::{Dir, read_dirs};

    #[test]
    fn two_migrations_of_one_version_keep_their_own_downs() {
        let files = [
            ("5_c.up.sql", "CREATE TABLE c ();"),
            ("5_c.down.sql", "DROP TABLE c;"),
            ("5_other.up.sql", "CREATE TABLE o ();"),
            ("5_other.down.sql", "DROP TABLE o;"),
        ];
        let dir = Dir::of_texts(&files);
        let reading = read_dirs(&[dir], None).expect("reads");
        let kept = reading.set.as_slice();
        assert_eq!(kept.len(), 1);
        assert_eq!(
            kept[0].down.as_ref().map(|d| d.path.as_str()),
            Some("m/5_c.down.sql")
        );
        let codes: Vec<Code> = reading.findings.iter().map(|f| f.code).collect();
        assert!(codes.contains(&Code::DuplicateVersion), "{codes:?}");
        assert!(!codes.contains(&Code::DownWithoutUp), "{codes:?}");
    }
}
