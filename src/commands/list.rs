//! `upcycle list`: every migration and every finding, without a database.

use crate::Outcome;
use crate::report;
use crate::settings::{Format, Settings};

pub fn run(settings: &Settings) -> anyhow::Result<Outcome> {
    let reading = super::read(settings)?;
    let text = match settings.format {
        Format::Text => report::list::text(&reading, &settings.term),
        Format::Json => report::list::json(&reading),
        Format::Markdown => report::list::markdown(&reading),
    };
    settings.term.out(&text);
    Ok(if reading.has_errors() {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}
