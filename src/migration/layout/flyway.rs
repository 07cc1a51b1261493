//! Flyway: `V<version>__<desc>.sql` (versioned), `U<version>__<desc>.sql` (undo, read as the
//! down), `R__<desc>.sql` (repeatable), in any subfolder. Versions compare numerically part by
//! part (`1_10` after `1_9`, trailing zero parts ignored). Statements run one at a time, in a
//! transaction unless a statement needs otherwise or `<file>.sql.conf` says
//! `executeInTransaction=false`.

use std::collections::BTreeMap;

use super::{Evidence, Layout, Read, missing_down, text_of};
use crate::check::{Code, Finding};
use crate::migration::{
    Dir, Direction, Execution, Migration, Part, Script, ScriptSpec, SourceFile, Transaction,
    Version, script::TxPolicy,
};

#[derive(Debug, PartialEq, Eq)]
enum Kind {
    Versioned,
    Undo,
    Repeatable,
}

/// `(kind, version, description)` of a Flyway file name; the version is `None` for R files and
/// `Err` when it has something other than digits and separators.
fn parse(name: &str) -> Option<(Kind, Result<Option<Version>, String>, String)> {
    let lower = name.to_ascii_lowercase();
    if !lower.ends_with(".sql") {
        return None;
    }
    let stem = &name[..name.len() - 4];
    let kind = match stem.chars().next()? {
        'V' => Kind::Versioned,
        'U' => Kind::Undo,
        'R' => Kind::Repeatable,
        _ => return None,
    };
    let (version, desc) = stem[1..].split_once("__")?;
    let desc = desc.to_string();
    if kind == Kind::Repeatable {
        return version.is_empty().then_some((kind, Ok(None), desc));
    }
    let dotted = version.replace('_', ".");
    let parts: Vec<&str> = dotted.split('.').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
    {
        return Some((
            kind,
            Err(format!(
                "\"{version}\" is not a Flyway version (digits separated by . or _)"
            )),
            desc,
        ));
    }
    let mut key: Vec<Part> = parts.iter().map(|p| Part::digits(p)).collect();
    while key.len() > 1 && key.last() == Some(&Part::Digits("0".into())) {
        key.pop();
    }
    key.insert(0, Part::Int(0));
    Some((kind, Ok(Some(Version::new(dotted, key))), desc))
}

pub fn recognise(file: &SourceFile) -> Option<Evidence> {
    if file.name().ends_with(".sql.conf") {
        return parse(file.name().trim_end_matches(".conf")).map(|_| Evidence::Name);
    }
    matches!(parse(file.name()), Some((_, Ok(_), _))).then_some(Evidence::Name)
}

fn execute_in_transaction(dir: &Dir, conf: Option<&SourceFile>, read: &mut Read) -> bool {
    let Some(conf) = conf else { return true };
    let Some(text) = text_of(dir, conf, read) else {
        return true;
    };
    for (index, line) in text.lines().enumerate() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim() == "executeInTransaction" {
            match value.trim() {
                "false" => return false,
                "true" => return true,
                other => read.findings.push(Finding::new(
                    Code::InvalidConfig,
                    dir.path_of(conf),
                    u32::try_from(index + 1).ok(),
                    format!("executeInTransaction must be true or false, not {other}"),
                )),
            }
        }
    }
    true
}

fn script(
    dir: &Dir,
    file: &SourceFile,
    direction: Direction,
    conf: Option<&SourceFile>,
    read: &mut Read,
) -> Option<Script> {
    let text = text_of(dir, file, read)?;
    let transaction = if execute_in_transaction(dir, conf, read) {
        TxPolicy::Auto
    } else {
        TxPolicy::Declared(Some("executeInTransaction=false".into()))
    };
    let auto = transaction == TxPolicy::Auto;
    let (script, findings) = Script::build(ScriptSpec {
        path: dir.path_of(file),
        direction,
        first_line: 1,
        text,
        transaction,
        execution: Execution::PerStatement,
        line_split: None,
        tool_handles_copy: true,
    });
    read.findings.extend(findings);
    if auto
        && !script.transaction.is_wrapped()
        && script.statements.len() > 1
        && let Transaction::Unwrapped { reason } = &script.transaction
    {
        read.findings.push(Finding::new(Code::NonTransactionalShared, &script.path, None, format!("{reason}, and the script has other statements; Flyway refuses to mix them unless `postgresql.transactional.lock=false` and `mixed=true`: give the statement its own migration")));
    }
    Some(script)
}

pub fn read(dir: &Dir, read: &mut Read) {
    let confs: BTreeMap<String, &SourceFile> = dir
        .files
        .iter()
        .filter(|f| f.rel.ends_with(".sql.conf"))
        .map(|f| (f.rel.trim_end_matches(".conf").to_string(), f))
        .collect();
    let mut versioned: BTreeMap<Version, (&SourceFile, String)> = BTreeMap::new();
    let mut undos: BTreeMap<Version, &SourceFile> = BTreeMap::new();
    for file in &dir.files {
        let Some((kind, version, desc)) = parse(file.name()) else {
            if confs.values().any(|c| c.rel == file.rel)
                && confs.contains_key(file.rel.trim_end_matches(".conf"))
            {
                read.claim(file);
            }
            continue;
        };
        read.claim(file);
        let conf = confs.get(&file.rel).copied();
        match (kind, version) {
            (_, Err(why)) => read.findings.push(Finding::new(
                Code::InvalidName,
                dir.path_of(file),
                None,
                format!("{why}; Flyway ignores the file"),
            )),
            (Kind::Repeatable, Ok(_)) => {
                if let Some(up) = script(dir, file, Direction::Up, conf, read) {
                    let key = vec![Part::Int(1), Part::Text(desc.clone())];
                    read.migrations.push(Migration {
                        version: Version::new(format!("R__{desc}"), key),
                        name: desc,
                        layout: Layout::Flyway,
                        up,
                        down: None,
                        repeatable: true,
                    });
                }
            }
            (Kind::Versioned, Ok(Some(v))) => {
                if let Some((first, _)) = versioned.get(&v) {
                    read.findings.push(Finding::new(
                        Code::DuplicateVersion,
                        dir.path_of(file),
                        None,
                        format!(
                            "version {v} is already used by {}; Flyway refuses the set",
                            dir.path_of(first)
                        ),
                    ));
                } else {
                    versioned.insert(v, (file, desc));
                }
            }
            (Kind::Undo, Ok(Some(v))) => {
                undos.insert(v, file);
            }
            (_, Ok(None)) => {}
        }
    }
    let any_undo = !undos.is_empty();
    for (version, (file, desc)) in versioned {
        let Some(up) = script(
            dir,
            file,
            Direction::Up,
            confs.get(&file.rel).copied(),
            read,
        ) else {
            continue;
        };
        let down = undos
            .remove(&version)
            .and_then(|u| script(dir, u, Direction::Down, confs.get(&u.rel).copied(), read));
        if any_undo && down.is_none() {
            read.findings
                .push(missing_down(&up.path, &format!("V{version}__{desc}")));
        }
        read.migrations.push(Migration {
            version,
            name: desc,
            layout: Layout::Flyway,
            up,
            down,
            repeatable: false,
        });
    }
    for (version, file) in undos {
        read.findings.push(Finding::new(
            Code::DownWithoutUp,
            dir.path_of(file),
            None,
            format!("no V file has version {version}; restore it, or delete this undo"),
        ));
    }
}

pub fn new_files(version: &str, name: &str, with_down: bool) -> Vec<(String, String)> {
    let mut files = vec![(format!("V{version}__{name}.sql"), format!("-- {name}\n"))];
    if with_down {
        files.push((
            format!("U{version}__{name}.sql"),
            format!("-- undo {name}: restore the exact schema before V{version}\n"),
        ));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(name: &str) -> Version {
        match parse(name) {
            Some((_, Ok(Some(v)), _)) => v,
            other => panic!("{name}: {other:?}"),
        }
    }

    #[test]
    fn versions_order_part_by_part() {
        assert!(v("V1_9__a.sql") < v("V1_10__b.sql"));
        assert_eq!(v("V1.0__a.sql"), v("V1__b.sql"));
        assert!(v("V2__a.sql") > v("V1_99__b.sql"));
        assert_eq!(v("V1_10__a.sql").to_string(), "1.10");
    }

    #[test]
    fn other_names_are_not_flyway() {
        assert!(parse("1_init.sql").is_none());
        assert!(matches!(parse("V1x__a.sql"), Some((_, Err(_), _))));
        assert!(matches!(
            parse("R__views.sql"),
            Some((Kind::Repeatable, Ok(None), _))
        ));
    }
}
