//! dbmate: `<digits>…sql`, one file with `-- migrate:up` and `-- migrate:down` sections;
//! `transaction:false` on a directive line runs that section outside a transaction.

use super::sections::{Direction, Section, Sectioned, has_up, leading_digits, read_sectioned};
use super::{Evidence, Layout, Read};
use crate::migration::{Dir, Execution, Part, SourceFile, Version};

/// `(?m)^--\s*migrate:(up|down)(\s*$|\s+\S+)`.
fn directive(line: &str) -> Option<(Direction, String)> {
    let rest = line
        .strip_prefix("--")?
        .trim_start()
        .strip_prefix("migrate:")?;
    let (word, options) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let direction = match word {
        "up" => Direction::Up,
        "down" => Direction::Down,
        _ => return None,
    };
    Some((direction, options.trim().to_ascii_lowercase()))
}

fn version(name: &str) -> Option<(Version, String)> {
    let (digits, rest) = leading_digits(name)?;
    Some((
        Version::new(digits, vec![Part::Text(digits.to_string())]),
        rest,
    ))
}

fn no_tx(section: &Section, _: &str) -> Option<String> {
    section
        .options
        .split_whitespace()
        .any(|o| o == "transaction:false")
        .then(|| "transaction:false".to_string())
}

const CFG: Sectioned = Sectioned {
    layout: Layout::Dbmate,
    marker: "-- migrate:up",
    directive,
    version,
    no_tx,
    execution: Execution::WholeScript,
    line_split: None,
    execute_line_split: false,
    down_required: true,
};

pub fn recognise(file: &SourceFile) -> Option<Evidence> {
    (file.parent().is_empty() && file.name().ends_with(".sql") && has_up(&file.bytes, directive))
        .then_some(Evidence::Marker("-- migrate:up"))
}

pub fn read(dir: &Dir, read: &mut Read) {
    read_sectioned(dir, read, &CFG);
}

pub fn new_files(version: &str, name: &str, _with_down: bool) -> Vec<(String, String)> {
    vec![(
        format!("{version}_{name}.sql"),
        "-- migrate:up\n\n\n-- migrate:down\n\n".to_string(),
    )]
}
