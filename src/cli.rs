//! The command line: clap derive types, and their conversion into validated `Settings`. The
//! `Command` enum is the one list of subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::env::Env;
use crate::migration::{LAYOUTS, Layout};
use crate::settings::{Format, Settings};
use crate::term::{Term, Verbosity};

/// Make PostgreSQL schema migrations safe to ship.
///
/// Exit codes: 0 clean, 1 findings of error severity, 2 error (bad arguments, unreadable
/// folder, database error).
#[derive(Debug, Parser)]
#[command(name = "upcycle", version, about, long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Migration folder; repeat to merge several folders into one ordered set.
    #[arg(long = "dir", global = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Layout of the folders (detected when absent).
    #[arg(long, global = true, value_name = "LAYOUT", value_parser = layout_parser())]
    pub layout: Option<String>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,
    /// Say less: only the report and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Say more: every step.
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// No colour (NO_COLOR is honoured too).
    #[arg(long, global = true)]
    pub no_color: bool,
}

fn layout_parser() -> clap::builder::PossibleValuesParser {
    clap::builder::PossibleValuesParser::new(LAYOUTS.iter().map(|s| s.id))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
    Markdown,
}

/// What upcycle can do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List every migration with its version, layout, down, transaction mode and checksum, and
    /// what is wrong with the folder. Needs no database.
    List,
    /// Create the next migration (and its down, where the layout has downs).
    New(NewArgs),
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// What the migration does, e.g. `add_users_email_index`.
    pub name: String,
}

impl Cli {
    /// Validates the command line into settings; reads only what `env` gives.
    pub fn settings(&self, env: &dyn Env) -> Settings {
        let g = &self.global;
        let verbosity = if g.quiet {
            Verbosity::Quiet
        } else if g.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        Settings {
            dirs: if g.dirs.is_empty() { vec![PathBuf::from("migrations")] } else { g.dirs.clone() },
            layout: g.layout.as_deref().and_then(Layout::from_id),
            format: match g.format {
                FormatArg::Text => Format::Text,
                FormatArg::Json => Format::Json,
                FormatArg::Markdown => Format::Markdown,
            },
            term: Term::new(g.no_color, env.var("NO_COLOR").is_some(), verbosity),
        }
    }
}
