//! One module per subcommand; each turns settings into a report and an outcome. Database
//! commands run on a tokio runtime created here, the only one.

pub mod backups;
pub mod check;
pub mod gate;
pub mod list;
pub mod migrate;
pub mod new;
pub mod plan;
pub mod sandbox_probe;
pub mod session;
pub mod state;

use anyhow::bail;

use crate::Outcome;
use crate::cli::Command;
use crate::env::Env;
use crate::migration::{Reading, read_dirs};
use crate::report;
use crate::settings::Settings;

/// Runs `command`.
pub fn run(command: &Command, settings: &Settings, env: &dyn Env) -> anyhow::Result<Outcome> {
    match command {
        Command::List => list::run(settings),
        Command::New(args) => new::run(settings, &args.name, chrono::Utc::now()),
        Command::Plan(args) => block_on(plan::run(
            settings,
            &db_settings(&args.db, settings, env)?,
            &args.target.target(),
        )),
        Command::Up(args) => block_on(migrate::run(
            settings,
            &db_settings(&args.db, settings, env)?,
            migrate::Options::from_args(args, crate::migration::Direction::Up),
        )),
        Command::Down(args) => block_on(migrate::run(
            settings,
            &db_settings(&args.db, settings, env)?,
            migrate::Options::from_args(args, crate::migration::Direction::Down),
        )),
        Command::Status(db) => block_on(state::status(settings, &db_settings(db, settings, env)?)),
        Command::History(db) => {
            block_on(state::history(settings, &db_settings(db, settings, env)?))
        }
        Command::Verify(db) => block_on(state::verify(settings, &db_settings(db, settings, env)?)),
        Command::Repair(args) => block_on(state::repair(
            settings,
            &db_settings(&args.db, settings, env)?,
            args.update_checksums,
        )),
        Command::Force(args) => block_on(state::force(
            settings,
            &db_settings(&args.db, settings, env)?,
            &args.version,
            state::ForceKind::Force,
        )),
        Command::Backup(db) => {
            block_on(backups::backup(settings, &db_settings(db, settings, env)?))
        }
        Command::Backups(args) => backups::list(settings, &backup_dir(args, settings)?),
        Command::Restore(args) => block_on(backups::restore(
            settings,
            &db_settings(&args.db, settings, env)?,
            &args.id,
        )),
        Command::Baseline(args) => block_on(state::force(
            settings,
            &db_settings(&args.db, settings, env)?,
            &args.version,
            state::ForceKind::Baseline,
        )),
        Command::Check(args) => block_on(check::run(
            settings,
            &check::CheckOptions {
                sandbox: args.sandbox.settings(env)?,
                base: args.base.clone(),
                full_cycle: args.full_cycle,
                seed: args.seed.clone(),
                seed_at: args.seed_at.clone(),
                reproduce: reproduce(),
                verify_snapshots: args.verify_snapshots,
                jobs: args.jobs.map(usize::from),
            },
        )),
        Command::SandboxProbe(args) => block_on(sandbox_probe::run(settings, &args.settings(env)?)),
        Command::Action => {
            crate::action::run(env, &|p: &std::path::Path| std::fs::read_to_string(p))
        }
    }
}

fn db_settings(
    db: &crate::cli::DbArgs,
    settings: &Settings,
    env: &dyn Env,
) -> anyhow::Result<crate::settings::DbSettings> {
    db.settings(env, &settings.config, &settings.config_path)
}

fn backup_dir(
    args: &crate::cli::BackupsArgs,
    settings: &Settings,
) -> anyhow::Result<std::path::PathBuf> {
    if let Some(dir) = &args.backup_dir {
        return Ok(dir.clone());
    }
    match &args.environment {
        Some(name) => Ok(settings
            .config
            .environment(name, &settings.config_path)?
            .backup_dir
            .as_ref()
            .map_or_else(|| "backups".into(), std::path::PathBuf::from)),
        None => Ok("backups".into()),
    }
}

/// The command line as given, for "reproduce locally" (arguments quoted for a shell).
fn reproduce() -> String {
    let mut skip_next = false;
    shell_line(
        std::env::args()
            .filter(|a| {
                // The output format is the caller's business, not part of reproducing the check.
                let skip = skip_next || a == "--format" || a.starts_with("--format=");
                skip_next = a == "--format";
                !skip
            })
            .enumerate()
            .map(|(i, a)| if i == 0 { "upcycle".to_string() } else { a }),
    )
}

/// Words joined into one shell command line, each quoted when it needs to be.
pub fn shell_line(words: impl IntoIterator<Item = String>) -> String {
    words
        .into_iter()
        .map(|a| {
            if !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:@".contains(c))
            {
                a
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `future` on the one tokio runtime (the Action uses it too). One thread: a check's jobs
/// wait on their servers, and a second worker thread cost more in wake-ups than it saved
/// (docs/benchmarks.md, "Results with one client thread").
pub fn block_on<T, F: std::future::Future<Output = anyhow::Result<T>>>(
    future: F,
) -> anyhow::Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(future)
}

/// Reads the configured folders into one set (detecting the layout unless given).
pub fn read(settings: &Settings) -> anyhow::Result<Reading> {
    let dirs = crate::source::read_dirs(&settings.dirs)?;
    let mut reading = read_dirs(&dirs, settings.layout)?;
    declared_irreversible(&mut reading, &settings.config.migrations.irreversible);
    settings.term.detail(&format!(
        "layout {}: {}",
        reading.detection.layout, reading.detection.reason
    ));
    Ok(reading)
}

/// Migrations declared irreversible in upcycle.toml have no down on purpose: their missing down
/// is information, not an error.
fn declared_irreversible(reading: &mut Reading, versions: &[String]) {
    use crate::check::{Code, Severity};
    use crate::history::same_version;
    for finding in reading
        .findings
        .iter_mut()
        .filter(|f| f.code == Code::MissingDown)
    {
        let declared = reading.set.iter().any(|m| {
            (m.up.path == finding.path)
                && versions.iter().any(|v| same_version(m.version.as_str(), v))
        });
        if declared {
            finding.severity = Severity::Info;
            finding.message = format!(
                "{} (declared irreversible in upcycle.toml)",
                finding.message
            );
        }
    }
}

/// Reads the folders for a command that changes a database: findings of error severity make it
/// refuse (exit 2) before anything connects, listing them. A broken or missing down blocks `up`
/// too: fix it, or declare the migration irreversible in upcycle.toml.
pub fn read_for_apply(settings: &Settings) -> anyhow::Result<Reading> {
    let reading = read(settings)?;
    let errors: Vec<_> = reading
        .findings
        .iter()
        .filter(|f| f.severity == crate::check::Severity::Error)
        .cloned()
        .collect();
    if !errors.is_empty() {
        bail!(
            "the migrations have {} error(s); nothing was applied. Fix them first (`upcycle list` shows them all):\n{}",
            errors.len(),
            report::list::finding_lines(&errors, &settings.term).trim_end()
        );
    }
    Ok(reading)
}
