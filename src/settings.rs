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
    /// upcycle.toml (defaults when the file is absent).
    pub config: crate::config::Config,
    /// Where the config was looked for, for messages.
    pub config_path: String,
    pub layout: Option<Layout>,
    pub format: Format,
    pub term: Term,
}

/// How to reach a database and behave on it.
#[derive(Debug, Clone)]
pub struct DbSettings {
    pub connect: crate::postgres::ConnectSettings,
    pub tracking: crate::postgres::Tracking,
    /// How long to wait for another run's migration lock.
    pub lock_wait: std::time::Duration,
    pub apply: crate::postgres::apply::ApplyOptions,
    /// The `--env` name, if any.
    pub environment: Option<String>,
    /// A protected environment needs confirmation, refuses divergences and backs up first.
    pub protected: bool,
    /// `--confirm` was given.
    pub confirmed: bool,
    pub backup_dir: PathBuf,
}
