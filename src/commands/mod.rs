//! One module per subcommand; each turns settings into a report and an outcome.

pub mod list;
pub mod new;

use crate::Outcome;
use crate::cli::Command;
use crate::migration::{Reading, read_dirs};
use crate::settings::Settings;

/// Runs `command`.
pub fn run(command: &Command, settings: &Settings) -> anyhow::Result<Outcome> {
    match command {
        Command::List => list::run(settings),
        Command::New(args) => new::run(settings, &args.name, chrono::Utc::now()),
    }
}

/// Reads the configured folders into one set (detecting the layout unless given).
pub fn read(settings: &Settings) -> anyhow::Result<Reading> {
    let dirs = crate::source::read_dirs(&settings.dirs)?;
    let reading = read_dirs(&dirs, settings.layout)?;
    settings.term.detail(&format!("layout {}: {}", reading.detection.layout, reading.detection.reason));
    Ok(reading)
}
