//! goose: `<int64>_<name>.sql` with `-- +goose Up` / `-- +goose Down`; statements split by
//! lines (StatementBegin/End for bodies) and sent one at a time; `-- +goose NO TRANSACTION`
//! anywhere in the file runs both directions outside a transaction.

use super::sections::{Direction, Section, Sectioned, annotation, has_up, read_sectioned};
use super::{Evidence, Layout, Read};
use crate::migration::{Dir, Execution, SourceFile, Version};

fn directive(line: &str) -> Option<(Direction, String)> {
    annotation(line, "+goose")
}

fn version(name: &str) -> Option<(Version, String)> {
    let (prefix, rest) = name
        .split_once('_')
        .unwrap_or((name.trim_end_matches(".sql"), ""));
    let value: i64 = prefix.parse().ok().filter(|v| *v >= 1)?;
    Some((
        Version::int(prefix, i128::from(value)),
        rest.trim_end_matches(".sql").to_string(),
    ))
}

fn no_tx(_: &Section, text: &str) -> Option<String> {
    text.lines()
        .any(|l| {
            l.starts_with("--")
                && l.to_ascii_lowercase()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .ends_with(&["+goose", "no", "transaction"])
        })
        .then(|| "-- +goose NO TRANSACTION".to_string())
}

const CFG: Sectioned = Sectioned {
    layout: Layout::Goose,
    marker: "-- +goose Up",
    directive,
    version,
    no_tx,
    execution: Execution::PerStatement,
    line_split: Some("+goose"),
    execute_line_split: true,
    down_required: false,
};

pub fn recognise(file: &SourceFile) -> Option<Evidence> {
    (file.parent().is_empty() && file.name().ends_with(".sql") && has_up(&file.bytes, directive))
        .then_some(Evidence::Marker("-- +goose Up"))
}

pub fn read(dir: &Dir, read: &mut Read) {
    read_sectioned(dir, read, &CFG);
}

pub fn new_files(version: &str, name: &str, _with_down: bool) -> Vec<(String, String)> {
    vec![(
        format!("{version}_{name}.sql"),
        "-- +goose Up\n\n-- +goose Down\n".to_string(),
    )]
}
