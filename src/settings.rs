//! Validated configuration that both entries (CLI, Action) produce; no raw strings past here.

use std::path::PathBuf;

use crate::migration::Layout;
use crate::term::Term;

/// Output format of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Text,
    Json,
    Markdown,
}

/// What every command needs to know.
#[derive(Debug, Clone)]
pub struct Settings {
    pub dirs: Vec<PathBuf>,
    pub layout: Option<Layout>,
    pub format: Format,
    pub term: Term,
}
