//! diesel: one folder per migration, `<version>_<name>/up.sql` + `down.sql`, optional
//! `metadata.toml` (`run_in_transaction = false`). Version = folder name before the first `_`,
//! dashes removed, ordered as a string.

use std::collections::BTreeMap;

use super::{Evidence, Layout, Read, missing_down, text_of};
use crate::check::{Code, Finding};
use crate::migration::{
    Dir, Direction, Execution, Migration, Part, Script, ScriptSpec, SourceFile, Version,
    script::TxPolicy,
};

const FILES: [&str; 3] = ["up.sql", "down.sql", "metadata.toml"];

fn in_migration_folder(file: &SourceFile) -> Option<&str> {
    let (folder, name) = file.rel.split_once('/')?;
    (!name.contains('/') && !folder.starts_with('.') && FILES.contains(&name)).then_some(folder)
}

pub fn recognise(file: &SourceFile) -> Option<Evidence> {
    in_migration_folder(file).map(|_| Evidence::Marker("<version>_<name>/up.sql"))
}

/// `run_in_transaction` from metadata.toml: absent file = true; an invalid file is a finding,
/// never a silent default.
fn run_in_transaction(dir: &Dir, file: Option<&SourceFile>, read: &mut Read) -> Result<bool, ()> {
    let Some(file) = file else { return Ok(true) };
    let path = dir.path_of(file);
    let text = text_of(dir, file, read).ok_or(())?;
    match text.parse::<toml::Table>() {
        Ok(table) => match table.get("run_in_transaction") {
            None => Ok(true),
            Some(toml::Value::Boolean(b)) => Ok(*b),
            Some(other) => {
                read.findings.push(Finding::new(
                    Code::InvalidConfig,
                    path,
                    None,
                    format!("run_in_transaction must be true or false, not {other}"),
                ));
                Err(())
            }
        },
        Err(e) => {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            read.findings.push(Finding::new(
                Code::InvalidConfig,
                path,
                line.and_then(|l| u32::try_from(l).ok()),
                format!("not valid TOML: {}", e.message()),
            ));
            Err(())
        }
    }
}

pub fn read(dir: &Dir, read: &mut Read) {
    let mut folders: BTreeMap<&str, Vec<&SourceFile>> = BTreeMap::new();
    for file in &dir.files {
        if let Some(folder) = in_migration_folder(file) {
            read.claim(file);
            folders.entry(folder).or_default().push(file);
        }
    }
    for (folder, files) in folders {
        let find = |n: &str| files.iter().copied().find(|f| f.name() == n);
        let (prefix, name) = folder.split_once('_').unwrap_or((folder, ""));
        let version_text = prefix.replace('-', "");
        let Some(up) = find("up.sql") else {
            let any = files[0];
            read.findings.push(Finding::new(Code::DownWithoutUp, dir.path_of(any), None, format!("{folder}/ has no up.sql; diesel refuses the whole folder (UnknownMigrationFormat)")));
            continue;
        };
        let Ok(wrapped) = run_in_transaction(dir, find("metadata.toml"), read) else {
            continue;
        };
        let transaction = if wrapped {
            TxPolicy::Declared(None)
        } else {
            TxPolicy::Declared(Some("run_in_transaction = false".into()))
        };
        let script = |file: &SourceFile, direction: Direction, read: &mut Read| -> Option<Script> {
            let text = text_of(dir, file, read)?;
            let (script, findings) = Script::build(ScriptSpec {
                path: dir.path_of(file),
                direction,
                first_line: 1,
                text,
                transaction: transaction.clone(),
                execution: Execution::WholeScript,
                line_split: None,
                tool_handles_copy: false,
            });
            read.findings.extend(findings);
            Some(script)
        };
        let Some(up_script) = script(up, Direction::Up, read) else {
            continue;
        };
        let down = find("down.sql").and_then(|d| script(d, Direction::Down, read));
        if find("down.sql").is_none() {
            read.findings.push(missing_down(&up_script.path, folder));
        }
        read.migrations.push(Migration {
            version: Version::new(version_text.clone(), vec![Part::Text(version_text)]),
            name: name.to_string(),
            layout: Layout::Diesel,
            up: up_script,
            down,
            repeatable: false,
        });
    }
}

pub fn new_files(version: &str, name: &str, _with_down: bool) -> Vec<(String, String)> {
    vec![
        (
            format!("{version}_{name}/up.sql"),
            format!("-- {name}: up\n"),
        ),
        (
            format!("{version}_{name}/down.sql"),
            format!("-- {name}: down (restore the exact schema before the up)\n"),
        ),
    ]
}
