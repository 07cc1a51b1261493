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
    /// Show what `up` would do: pending migrations, divergences, and the plan digest.
    Plan(PlanArgs),
    /// Apply pending migrations, each in a transaction with its tracking row.
    Up(UpArgs),
    /// Revert applied migrations with their downs, newest first (one by default).
    Down(DownArgs),
    /// Applied, pending, dirty and modified migrations, with when and how long.
    Status(DbArgs),
    /// Compare the checksums of applied migrations with the files; exit 1 on drift, with a diff.
    Verify(DbArgs),
    /// Settle a dirty migration (remove its row so it runs again), or accept edited files.
    Repair(RepairArgs),
    /// Mark migrations up to VERSION as applied (and later ones as not) without running them.
    Force(ForceArgs),
    /// Adopt an existing database: mark migrations up to VERSION as applied on an empty history.
    Baseline(ForceArgs),
    /// The tracking table's rows, in the order they were applied.
    History(DbArgs),
}

/// How to reach the database and how to behave on it.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// Database URL (default: the DATABASE_URL environment variable). Add `?sslmode=verify-full` for TLS.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Schema of the tracking table.
    #[arg(long, default_value = "public")]
    pub schema: String,
    /// Tracking table to keep: upcycle's own, a tool's native one (to run side by side with
    /// it), or auto (detect an existing one by its columns).
    #[arg(long, value_name = "MODE", default_value = "upcycle", value_parser = clap::builder::PossibleValuesParser::new(crate::postgres::tracking::HistoryMode::ALL.iter().map(|(_, id)| *id)))]
    pub history: String,
    /// Seconds to wait for another run's migration lock.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub lock_wait: u64,
    /// lock_timeout for every migration (a PostgreSQL interval: 500ms, 10s, 1min).
    #[arg(long, value_name = "INTERVAL", default_value = "10s")]
    pub lock_timeout: String,
    /// statement_timeout for every migration (0 = none).
    #[arg(long, value_name = "INTERVAL", default_value = "0")]
    pub statement_timeout: String,
    /// Extra attempts for a migration that failed on lock_timeout (it was rolled back).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub lock_retries: u32,
    /// CA certificate for sslmode=verify-ca or verify-full.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Connection attempts while the server is unreachable.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub connect_retries: u32,
}

/// Which migrations a command covers.
#[derive(Debug, Args)]
pub struct TargetArgs {
    /// Up: apply up to and including VERSION. Down: revert down to VERSION, which stays applied.
    #[arg(long, value_name = "VERSION", conflicts_with = "count")]
    pub to: Option<String>,
    /// Apply or revert this many migrations.
    #[arg(long, value_name = "N")]
    pub count: Option<usize>,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub target: TargetArgs,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub db: DbArgs,
    #[command(flatten)]
    pub target: TargetArgs,
    /// Print the exact SQL that would run, in order, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Refuse unless the plan's digest is this one (the plan a reviewer saw).
    #[arg(long, value_name = "DIGEST")]
    pub expect_plan: Option<String>,
}

pub type DownArgs = UpArgs;

#[derive(Debug, Args)]
pub struct RepairArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// Record the checksums of the files as they are now (accept edited migrations).
    #[arg(long)]
    pub update_checksums: bool,
}

#[derive(Debug, Args)]
pub struct ForceArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The version that becomes the newest applied one.
    pub version: String,
}

#[derive(Debug, Args)]
pub struct NewArgs {
    /// What the migration does, e.g. `add_users_email_index`.
    pub name: String,
}

impl TargetArgs {
    pub fn target(&self) -> crate::plan::Target {
        match (&self.to, self.count) {
            (Some(v), _) => crate::plan::Target::Version(v.clone()),
            (None, Some(n)) => crate::plan::Target::Count(n),
            (None, None) => crate::plan::Target::Default,
        }
    }
}

/// Checks that `value` is a PostgreSQL interval upcycle passes through (`500ms`, `10s`, `0`).
fn interval(option: &str, value: &str) -> anyhow::Result<String> {
    let digits = value.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = &value[digits.len()..];
    if digits.is_empty()
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !["", "us", "ms", "s", "min", "h", "d"].contains(&unit)
    {
        anyhow::bail!(
            "--{option} {value}: not an interval; use a number with us, ms, s, min, h or d (e.g. 10s)"
        );
    }
    Ok(value.to_string())
}

impl DbArgs {
    /// Validates into database settings; the URL comes from `--database-url` or DATABASE_URL.
    pub fn settings(&self, env: &dyn Env) -> anyhow::Result<crate::settings::DbSettings> {
        let url = self
            .database_url
            .clone()
            .or_else(|| env.var("DATABASE_URL"))
            .ok_or_else(|| {
                anyhow::anyhow!("no database: pass --database-url or set DATABASE_URL")
            })?;
        let mut connect = crate::postgres::ConnectSettings::new(url);
        connect.ca_file = self.ca_file.clone();
        connect.attempts = self.connect_retries.max(1);
        if self.schema.is_empty() {
            anyhow::bail!("--schema must not be empty");
        }
        Ok(crate::settings::DbSettings {
            connect,
            tracking: crate::postgres::Tracking {
                schema: self.schema.clone(),
                run_id: env.var("GITHUB_RUN_ID"),
                mode: crate::postgres::tracking::HistoryMode::from_id(&self.history)
                    .unwrap_or(crate::postgres::tracking::HistoryMode::Upcycle),
            },
            lock_wait: std::time::Duration::from_secs(self.lock_wait),
            apply: crate::postgres::apply::ApplyOptions {
                lock_timeout: interval("lock-timeout", &self.lock_timeout)?,
                statement_timeout: interval("statement-timeout", &self.statement_timeout)?,
                lock_retries: self.lock_retries,
            },
        })
    }
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
            dirs: if g.dirs.is_empty() {
                vec![PathBuf::from("migrations")]
            } else {
                g.dirs.clone()
            },
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
