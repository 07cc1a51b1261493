//! `upcycle check`: proves a migration folder in a throwaway PostgreSQL. For each migration:
//! snapshot, up, snapshot, down (which must give back the first snapshot), up again (which must
//! give back the second). It carries on past failures where it can (a broken state is replaced
//! by a fresh database with the migrations up to there), so one run shows every problem. A long
//! set is shared between parallel jobs, each in its own database (`check::jobs`).

mod board;
mod lab;
mod progress;
mod prove;
mod whole;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::Context;
use futures_util::future::try_join_all;

use crate::Outcome;
use crate::check::report::{CheckReport, MigrationCheck, Summary};
use crate::check::schema::TRACKING_TABLES;
use crate::check::{base, jobs};
use crate::history::same_version;
use crate::migration::{Migration, Reading};
use crate::report;
use crate::sandbox::{Sandbox, SandboxSettings};
use crate::settings::Settings;

use board::Board;
use lab::Seed;
use progress::Progress;
use prove::{Ctx, Job, pending};
use whole::Floor;

/// What the user asked the check to do.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub sandbox: SandboxSettings,
    /// PR mode: the git ref of the base branch.
    pub base: Option<String>,
    /// Also revert the whole set and apply it again.
    pub full_cycle: bool,
    /// Rows to load (SQL file), and after which migration.
    pub seed: Option<PathBuf>,
    pub seed_at: Option<String>,
    /// The command line that reproduces the check.
    pub reproduce: String,
    /// Also read every schema snapshot in full, and fail when it differs from the incremental
    /// one (a test switch for the snapshot cache).
    pub verify_snapshots: bool,
    /// Parallel jobs at most (`None`: one per CPU, up to `MAX_JOBS`).
    pub jobs: Option<usize>,
}

/// Jobs by default at most: beyond it, what the later jobs apply before their runs outweighs
/// what one more job saves.
pub const MAX_JOBS: usize = 4;

/// Runs the check and prints its report in the settings' format; exit 1 on error findings.
pub async fn run(settings: &Settings, options: &CheckOptions) -> anyhow::Result<Outcome> {
    let report = report(settings, options).await?;
    settings.term.out(&report::check::render(
        &report,
        settings.format,
        &settings.term,
    ));
    Ok(if report.has_errors() {
        Outcome::Findings
    } else {
        Outcome::Clean
    })
}

/// Runs the check and returns its report (the Action renders it its own way).
pub async fn report(settings: &Settings, options: &CheckOptions) -> anyhow::Result<CheckReport> {
    let started = Instant::now();
    let reading = super::read(settings)?;
    let mut findings = reading.findings.clone();
    let cycled: Vec<String> = match &options.base {
        Some(base_ref) => {
            let dirs = settings
                .dirs
                .iter()
                .map(|d| crate::source::read_dir_at(d, base_ref))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let base_set = if dirs.iter().all(|d| d.files.is_empty()) {
                Default::default()
            } else {
                crate::migration::read_dirs(&dirs, Some(reading.detection.layout))
                    .with_context(|| format!("reading the migrations on {base_ref}"))?
                    .set
            };
            let compared = base::compare(&reading.set, &base_set, base_ref);
            findings.extend(compared.findings);
            compared.cycled
        }
        None => reading.set.iter().map(|m| m.version.to_string()).collect(),
    };
    let seed = match &options.seed {
        None => None,
        Some(path) => {
            let sql = std::fs::read_to_string(path)
                .with_context(|| format!("reading the seed {}", path.display()))?;
            let after = match (&options.seed_at, options.base.is_some()) {
                (Some(v), _) => v.clone(),
                (None, true) => reading
                    .set
                    .iter()
                    .take_while(|m| !cycled.contains(&m.version.to_string()))
                    .last()
                    .map(|m| m.version.to_string())
                    .unwrap_or_default(),
                (None, false) => anyhow::bail!(
                    "--seed needs --seed-at VERSION: the migration after which the rows are loaded"
                ),
            };
            if !after.is_empty()
                && !reading
                    .set
                    .iter()
                    .any(|m| same_version(m.version.as_str(), &after))
            {
                anyhow::bail!("--seed-at {after}: not a version of the set");
            }
            Some(Seed {
                path: path.clone(),
                sql,
                after,
            })
        }
    };

    let sandbox = Sandbox::start(&options.sandbox).await?;
    settings.term.progress(&format!(
        "sandbox: {} (ready in {} ms)",
        sandbox.describe(),
        sandbox.startup_time().as_millis()
    ));
    let mut report = CheckReport {
        layout: reading.detection.layout.id().to_string(),
        dirs: reading.dirs.clone(),
        sandbox: sandbox.describe(),
        base: options.base.clone(),
        migrations: Vec::new(),
        full_cycle: None,
        findings: Vec::new(),
        summary: Summary::default(),
        // The command line may hold the --sandbox-url password; the report goes into PR comments.
        reproduce: match &options.sandbox.url {
            Some(url) => crate::postgres::url::scrub(&options.reproduce, url),
            None => options.reproduce.clone(),
        },
    };
    let outcome = cycle(
        settings,
        &reading,
        &cycled,
        seed.as_ref(),
        options,
        &sandbox,
        &mut report,
    )
    .await;
    let stopping = Instant::now();
    let closed = sandbox.dismiss().await;
    settings.term.detail(&format!(
        "sandbox: stopped in {} ms",
        stopping.elapsed().as_millis()
    ));
    outcome?;
    closed?;
    findings.append(&mut report.findings);
    report.findings = findings;
    report.summarize(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    Ok(report)
}

/// How many jobs the check may run: what was asked, or one per CPU up to `MAX_JOBS`; one when
/// a script writes objects that every database of the server shares (roles, tablespaces), as
/// jobs in parallel databases would trip over each other's.
fn job_count(reading: &Reading, asked: Option<usize>, term: &crate::term::Term) -> usize {
    let wanted = asked.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map_or(1, std::num::NonZeroUsize::get)
            .min(MAX_JOBS)
    });
    if wanted <= 1 {
        return 1;
    }
    let scripts = reading
        .set
        .iter()
        .flat_map(|m| std::iter::once(&m.up).chain(m.down.as_ref()));
    for script in scripts {
        if let Some(what) = crate::sql::server_wide(&script.text) {
            term.detail(&format!(
                "one job: {} has {what}, which every database of the server shares",
                script.path
            ));
            return 1;
        }
    }
    wanted
}

/// The job whose database holds the whole set (`len` migrations).
fn whole_set<'a, 's>(done: &'a mut [Job<'s>], len: usize) -> anyhow::Result<&'a mut Job<'s>> {
    done.iter_mut()
        .find(|j| j.pos == len)
        .context("no job of the check holds the whole set")
}

async fn cycle(
    settings: &Settings,
    reading: &Reading,
    cycled: &[String],
    seed: Option<&Seed>,
    options: &CheckOptions,
    sandbox: &Sandbox,
    report: &mut CheckReport,
) -> anyhow::Result<()> {
    let term = &settings.term;
    let irreversible = &settings.config.migrations.irreversible;
    let set: Vec<&Migration> = reading.set.iter().collect();
    // The newest migration that cannot be reverted (declared irreversible, or without a down):
    // the full cycle goes down to the schema right after it, not below.
    let floor = set.iter().rposition(|m| {
        !m.repeatable
            && (m.down.is_none()
                || irreversible
                    .iter()
                    .any(|v| same_version(m.version.as_str(), v)))
    });
    let weights: Vec<jobs::Weight> = set
        .iter()
        .map(|m| jobs::Weight {
            cycled: cycled.contains(&m.version.to_string()),
            bytes: m.up.text.len() + m.down.as_ref().map_or(0, |d| d.text.len()),
        })
        .collect();
    let runs = jobs::split(&weights, job_count(reading, options.jobs, term));
    if runs.len() > 1 {
        let label = |k: usize| set[k].version.to_string();
        term.detail(&format!(
            "{} jobs in parallel, one database each: {}",
            runs.len(),
            runs.iter()
                .map(|r| format!("{} to {}", label(r.start), label(r.end - 1)))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let ctx = Ctx {
        term,
        reading,
        cycled: weights.iter().map(|w| w.cycled).collect(),
        set,
        seed,
        irreversible,
        exclude: TRACKING_TABLES.iter().map(|t| t.to_string()).collect(),
        sandbox: report.sandbox.clone(),
        floor,
        stop: AtomicUsize::new(usize::MAX),
        verify_snapshots: options.verify_snapshots,
        full_cycle: options.full_cycle,
        board: Board::new(&runs, weights),
        progress: Progress::new(term),
    };
    let ctx = &ctx;
    let started = try_join_all(runs.iter().enumerate().map(|(id, run)| async move {
        let Some(mut job) = Job::start(ctx, sandbox, id, run.start).await? else {
            return Ok::<_, anyhow::Error>(None);
        };
        job.prove(ctx).await?;
        job.take_over(ctx).await?;
        Ok(Some(job))
    }))
    .await?;
    let mut done: Vec<Job> = started.into_iter().flatten().collect();
    // In the set's order, up to the first failed up: nothing after it counts.
    let stop = ctx.stop.load(Ordering::SeqCst);
    let mut proved: Vec<Option<MigrationCheck>> = ctx.set.iter().map(|_| None).collect();
    let mut found = Vec::new();
    for job in &mut done {
        for (k, check) in job.checks.drain(..).filter(|(k, _)| *k <= stop) {
            proved[k] = Some(check);
        }
        found.extend(job.findings.drain(..).filter(|(k, _)| *k <= stop));
    }
    found.sort_by_key(|(k, _)| *k);
    report.findings.extend(found.into_iter().map(|(_, f)| f));
    report.migrations = proved
        .into_iter()
        .zip(&ctx.set)
        .map(|(check, m)| check.unwrap_or_else(|| pending(m)))
        .collect();
    // Set by the job that reached it (job 1 before any migration, when there is no floor).
    let floor_schema = done.iter().find_map(|j| j.floor_schema.clone());
    if stop == usize::MAX {
        let found = match done.iter_mut().find_map(|j| j.integrity.take()) {
            Some(found) => found,
            None => {
                whole::integrity(&mut whole_set(&mut done, ctx.set.len())?.lab, reading).await?
            }
        };
        report.findings.extend(found);
        if options.full_cycle {
            let floor = Floor {
                version: floor.map(|k| ctx.set[k].version.to_string()),
                above: floor.map_or(usize::MAX, |k| {
                    ctx.set[k + 1..].iter().filter(|m| !m.repeatable).count()
                }),
                schema: floor_schema.context("no job reached the full cycle's floor")?,
            };
            let last = whole_set(&mut done, ctx.set.len())?;
            report.full_cycle = Some(
                whole::full_cycle(&mut last.lab, reading, &floor, &last.current, report).await?,
            );
        }
    }
    let count = runs.len();
    for job in done {
        let timings = job.lab.timings.line(job.lab.catalog.stats());
        term.detail(&if count > 1 {
            format!("time (job {} of {count}): {timings}", job.id + 1)
        } else {
            format!("time: {timings}")
        });
        job.lab.close().await?;
    }
    Ok(())
}
