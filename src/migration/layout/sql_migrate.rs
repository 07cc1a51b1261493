//! sql-migrate (rubenv): any `.sql` with `-- +migrate Up` / `-- +migrate Down`; the file name is
//! the id, ordered by its leading number then by name; `notransaction` on a directive line runs
//! that section outside a transaction; statements split by lines as goose does.

use super::sections::{
    Direction, Section, Sectioned, annotation, has_up, leading_digits, read_sectioned,
};
use super::{Evidence, Layout, Read};
use crate::migration::{Dir, Execution, Part, SourceFile, Version};

fn directive(line: &str) -> Option<(Direction, String)> {
    annotation(line, "+migrate")
}

/// The id is the whole file name; numeric ids sort first, by number, then by id.
fn version(name: &str) -> Option<(Version, String)> {
    match leading_digits(name) {
        Some((digits, rest)) => {
            let number: i128 = digits.parse().ok()?;
            Some((
                Version::new(name, vec![Part::Int(number), Part::Text(name.to_string())]),
                rest,
            ))
        }
        None => Some((
            Version::new(name, vec![Part::Text(name.to_string())]),
            name.trim_end_matches(".sql").to_string(),
        )),
    }
}

fn no_tx(section: &Section, _: &str) -> Option<String> {
    section
        .options
        .split_whitespace()
        .any(|o| o == "notransaction")
        .then(|| "-- +migrate … notransaction".to_string())
}

const CFG: Sectioned = Sectioned {
    layout: Layout::SqlMigrate,
    marker: "-- +migrate Up",
    directive,
    version,
    no_tx,
    execution: Execution::PerStatement,
    line_split: Some("+migrate"),
    execute_line_split: false,
    down_required: false,
};

pub fn recognise(file: &SourceFile) -> Option<Evidence> {
    (file.parent().is_empty() && file.name().ends_with(".sql") && has_up(&file.bytes, directive))
        .then_some(Evidence::Marker("-- +migrate Up"))
}

pub fn read(dir: &Dir, read: &mut Read) {
    read_sectioned(dir, read, &CFG);
}

pub fn new_files(version: &str, name: &str, _with_down: bool) -> Vec<(String, String)> {
    vec![(
        format!("{version}-{name}.sql"),
        "-- +migrate Up\n\n-- +migrate Down\n".to_string(),
    )]
}
