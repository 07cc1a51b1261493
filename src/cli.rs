//! The command line: clap derive types, and their conversion into validated `Settings`. The
//! `Command` enum is the one list of subcommands.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::config::Config;
use crate::env::Env;
use crate::migration::{LAYOUTS, Layout};
use crate::settings::{DbSettings, Format, Settings};
use crate::term::{Term, Verbosity};

/// Make PostgreSQL schema migrations safe to ship.
///
/// Exit codes: 0 clean, 1 findings of error severity, 2 error (bad arguments, unreadable
/// folder, database error).
#[derive(Debug, Parser)]
#[command(
    name = "upcycle",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 clean, 1 findings of error severity, 2 error (bad arguments, unreadable folder, database error)."
)]
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
    /// Project configuration [default: upcycle.toml, if present].
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
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
    /// Prove the migrations in a throwaway PostgreSQL: up, down, up again for each one, checking
    /// that every down restores the exact schema. Exit 1 on findings.
    Check(CheckArgs),
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
    /// Dump the database with pg_dump (custom format), check it reads back, record it.
    Backup(DbArgs),
    /// List the backups recorded in the backup folder.
    Backups(BackupsArgs),
    /// Restore a backup into the database, in one transaction.
    Restore(RestoreArgs),
    /// Run as the GitHub Action (the container's entrypoint): reads the INPUT_* and GITHUB_*
    /// variables, writes annotations, outputs, the job summary and the PR comment.
    Action,
    /// Start a throwaway PostgreSQL, run `select 1` in a fresh database, remove everything, and
    /// say how long each step took (a diagnostic for the sandbox providers).
    #[command(hide = true)]
    SandboxProbe(SandboxArgs),
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub sandbox: SandboxArgs,
    /// PR mode: migrations already on this git ref are applied once; only new or changed ones
    /// are cycled, and ordering against the base is checked.
    #[arg(long, value_name = "REF")]
    pub base: Option<String>,
    /// Also revert the whole set and apply it again.
    #[arg(long)]
    pub full_cycle: bool,
    /// SQL that loads rows; their tables must keep them through every later up and down.
    #[arg(long, value_name = "FILE")]
    pub seed: Option<PathBuf>,
    /// The version after which the seed is loaded [default in PR mode: the newest on the base].
    #[arg(long, value_name = "VERSION", requires = "seed")]
    pub seed_at: Option<String>,
    /// Read every schema snapshot in full as well, and fail when the incremental one differs
    /// (a test switch for the snapshot cache; slower).
    #[arg(long, hide = true)]
    pub verify_snapshots: bool,
    /// Parallel jobs at most, each proving a run of the set in its own database of the sandbox
    /// [default: one per CPU, up to 4].
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
}

/// Where `check` gets its throwaway PostgreSQL.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Throwaway PostgreSQL provider [default: url when --sandbox-url is given, else auto].
    #[arg(long, value_name = "PROVIDER", value_parser = clap::builder::PossibleValuesParser::new(crate::sandbox::PROVIDERS.iter().map(|p| p.id)))]
    pub sandbox: Option<String>,
    /// Image for `--sandbox docker`; it must be present locally (upcycle never pulls).
    #[arg(long, value_name = "IMAGE", default_value = crate::sandbox::DEFAULT_IMAGE)]
    pub sandbox_image: String,
    /// Existing server for `--sandbox url`; a role that may create databases.
    #[arg(long, value_name = "URL")]
    pub sandbox_url: Option<String>,
    /// Folder with initdb and postgres for `--sandbox local` [default: PATH, then /usr/lib/postgresql/*/bin].
    #[arg(long, value_name = "DIR")]
    pub pg_bin: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct BackupsArgs {
    /// Folder of the backups [default: the environment's backup_dir, then backups].
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
    /// Environment from upcycle.toml whose backup_dir to list.
    #[arg(long = "env", value_name = "NAME")]
    pub environment: Option<String>,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub db: DbArgs,
    /// The backup id (see `upcycle backups`).
    pub id: String,
}

/// How to reach the database and how to behave on it. Unset options come from the
/// `--env` environment in upcycle.toml, then from the defaults shown.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// Database URL (default: the environment's `database_url_env` variable, then DATABASE_URL).
    /// Add `?sslmode=verify-full` for TLS.
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Environment from upcycle.toml (dev, uat, production, …).
    #[arg(long = "env", value_name = "NAME")]
    pub environment: Option<String>,
    /// Confirm a change to a protected environment (or type yes when asked on a terminal).
    #[arg(long)]
    pub confirm: bool,
    /// Schema of the tracking table [default: public].
    #[arg(long)]
    pub schema: Option<String>,
    /// Tracking table to keep: upcycle's own, a tool's native one (to run side by side with
    /// it), or auto (detect an existing one by its columns) [default: upcycle].
    #[arg(long, value_name = "MODE", value_parser = clap::builder::PossibleValuesParser::new(crate::postgres::tracking::HistoryMode::ALL.iter().map(|(_, id)| *id)))]
    pub history: Option<String>,
    /// Seconds to wait for another run's migration lock [default: 60].
    #[arg(long, value_name = "SECONDS")]
    pub lock_wait: Option<u64>,
    /// lock_timeout for every migration (a PostgreSQL interval: 500ms, 10s, 1min) [default: 10s].
    #[arg(long, value_name = "INTERVAL")]
    pub lock_timeout: Option<String>,
    /// statement_timeout for every migration (0 = none) [default: 0].
    #[arg(long, value_name = "INTERVAL")]
    pub statement_timeout: Option<String>,
    /// Extra attempts for a migration that failed on lock_timeout (it was rolled back).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub lock_retries: u32,
    /// CA certificate for sslmode=verify-ca or verify-full.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Connection attempts while the server is unreachable.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub connect_retries: u32,
    /// Folder for pg_dump backups and their manifest [default: the environment's backup_dir, then backups].
    #[arg(long, value_name = "DIR")]
    pub backup_dir: Option<PathBuf>,
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
    /// Take a pg_dump backup before changing anything (always done for a protected environment).
    #[arg(long)]
    pub backup: bool,
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
    /// Validates into database settings, with the `--env` environment of `config` filling what
    /// the command line leaves unset.
    pub fn settings(
        &self,
        env: &dyn Env,
        config: &Config,
        config_path: &str,
    ) -> anyhow::Result<DbSettings> {
        use crate::postgres::tracking::HistoryMode;
        let none = crate::config::Environment::default();
        let environment = match &self.environment {
            Some(name) => config.environment(name, config_path)?,
            None => &none,
        };
        let url = match (&self.database_url, &environment.database_url_env) {
            (Some(url), _) => url.clone(),
            (None, Some(var)) => env.var(var).ok_or_else(|| anyhow::anyhow!("environment {}: its database URL variable {var} is not set", self.environment.as_deref().unwrap_or("")))?,
            (None, None) => env.var("DATABASE_URL").ok_or_else(|| anyhow::anyhow!("no database: pass --database-url, set DATABASE_URL, or use --env with an environment from upcycle.toml"))?,
        };
        let mut connect = crate::postgres::ConnectSettings::new(url);
        connect.ca_file = self.ca_file.clone();
        connect.attempts = self.connect_retries.max(1);
        let schema = self
            .schema
            .clone()
            .or_else(|| environment.schema.clone())
            .unwrap_or_else(|| "public".into());
        if schema.is_empty() {
            anyhow::bail!("--schema must not be empty");
        }
        let history = self
            .history
            .clone()
            .or_else(|| environment.history.clone())
            .unwrap_or_else(|| "upcycle".into());
        let lock_timeout = self
            .lock_timeout
            .clone()
            .or_else(|| environment.lock_timeout.clone())
            .unwrap_or_else(|| "10s".into());
        let statement_timeout = self
            .statement_timeout
            .clone()
            .or_else(|| environment.statement_timeout.clone())
            .unwrap_or_else(|| "0".into());
        Ok(DbSettings {
            connect,
            tracking: crate::postgres::Tracking {
                schema,
                run_id: env.var("GITHUB_RUN_ID"),
                mode: HistoryMode::from_id(&history).unwrap_or(HistoryMode::Upcycle),
            },
            lock_wait: std::time::Duration::from_secs(
                self.lock_wait.or(environment.lock_wait).unwrap_or(60),
            ),
            apply: crate::postgres::apply::ApplyOptions {
                lock_timeout: interval("lock-timeout", &lock_timeout)?,
                statement_timeout: interval("statement-timeout", &statement_timeout)?,
                lock_retries: self.lock_retries,
            },
            environment: self.environment.clone(),
            protected: environment.protected,
            confirmed: self.confirm,
            backup_dir: self
                .backup_dir
                .clone()
                .or_else(|| environment.backup_dir.as_ref().map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("backups")),
        })
    }
}

impl SandboxArgs {
    /// Validates into sandbox settings; `UPCYCLE_DOCKER_HOST` and `PATH` come from `env`.
    pub fn settings(&self, env: &dyn Env) -> anyhow::Result<crate::sandbox::SandboxSettings> {
        use crate::sandbox::Provider;
        let provider = match (&self.sandbox, &self.sandbox_url) {
            (Some(id), _) => Provider::from_id(id)
                .ok_or_else(|| anyhow::anyhow!("--sandbox {id}: unknown provider"))?,
            (None, Some(_)) => Provider::Url,
            (None, None) => Provider::Auto,
        };
        if self.sandbox_url.is_some() && provider != Provider::Url {
            anyhow::bail!("--sandbox-url is for --sandbox url, not --sandbox {provider}");
        }
        Ok(crate::sandbox::SandboxSettings {
            provider,
            image: self.sandbox_image.clone(),
            pg_bin: self.pg_bin.clone(),
            url: self.sandbox_url.clone(),
            docker_host_override: env.var("UPCYCLE_DOCKER_HOST"),
            path_var: env.var("PATH"),
            cache_dir: cache_dir(env),
        })
    }
}

/// upcycle's cache folder: `UPCYCLE_CACHE_DIR` (empty: no cache), else
/// `$XDG_CACHE_HOME/upcycle`, else `$HOME/.cache/upcycle`.
fn cache_dir(env: &dyn Env) -> Option<std::path::PathBuf> {
    if let Some(dir) = env.var("UPCYCLE_CACHE_DIR") {
        return (!dir.is_empty()).then(|| dir.into());
    }
    let nonempty = |name: &str| env.var(name).filter(|v| !v.is_empty());
    nonempty("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| nonempty("HOME").map(|h| std::path::Path::new(&h).join(".cache")))
        .map(|base| base.join("upcycle"))
}

impl Cli {
    /// Validates the command line (and upcycle.toml) into settings; reads only what `env` gives.
    pub fn settings(&self, env: &dyn Env) -> anyhow::Result<Settings> {
        self.global.settings(env)
    }
}

impl GlobalArgs {
    /// Validates the global options (and upcycle.toml) into settings; the Action builds its
    /// `GlobalArgs` from its inputs and comes through here too.
    pub fn settings(&self, env: &dyn Env) -> anyhow::Result<Settings> {
        let g = self;
        let verbosity = if g.quiet {
            Verbosity::Quiet
        } else if g.verbose {
            Verbosity::Verbose
        } else {
            Verbosity::Normal
        };
        let config_path = g
            .config
            .clone()
            .unwrap_or_else(|| PathBuf::from("upcycle.toml"));
        let config = crate::config::load(&config_path, g.config.is_some())?;
        let dirs = if !g.dirs.is_empty() {
            g.dirs.clone()
        } else if !config.migrations.dirs.is_empty() {
            config.migrations.dirs.iter().map(PathBuf::from).collect()
        } else {
            vec![PathBuf::from("migrations")]
        };
        let layout = g
            .layout
            .as_deref()
            .or(config.migrations.layout.as_deref())
            .and_then(Layout::from_id);
        Ok(Settings {
            dirs,
            config,
            config_path: config_path.display().to_string(),
            layout,
            format: match g.format {
                FormatArg::Text => Format::Text,
                FormatArg::Json => Format::Json,
                FormatArg::Markdown => Format::Markdown,
            },
            term: Term::new(g.no_color, env.var("NO_COLOR").is_some(), verbosity),
        })
    }
}
