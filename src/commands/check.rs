//! `upcycle check`: proves a migration folder in a throwaway PostgreSQL. For each migration:
//! snapshot, up, snapshot, down (which must give back the first snapshot), up again (which must
//! give back the second). It carries on past failures where it can (a broken state is replaced
//! by a fresh database with the migrations up to there), so one run shows every problem.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use sqlx::PgConnection;

use crate::Outcome;
use crate::check::report::{CheckReport, FullCycle, MigrationCheck, StepOutcome, Summary};
use crate::check::schema::{SchemaSnapshot, SnapshotOptions, TRACKING_TABLES, diff};
use crate::check::{Code, Finding, Severity, base};
use crate::history::same_version;
use crate::migration::{Direction, Migration, Reading};
use crate::plan::{Plan, Target, plan_down, plan_up};
use crate::postgres::apply::{ApplyOptions, apply, set_timeouts};
use crate::postgres::catalog::{Catalog, CatalogStats, hidden_from_change_log};
use crate::postgres::data::{Fingerprints, fingerprints};
use crate::postgres::tracking::{HistoryMode, Tracking};
use crate::postgres::{ConnectSettings, ScriptError, connect};
use crate::report;
use crate::sandbox::{Sandbox, SandboxSettings};
use crate::settings::Settings;

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
}

/// The database the check works in, replaceable when a failure leaves it in an unknown state.
struct Lab<'s> {
    sandbox: &'s Sandbox,
    db: crate::sandbox::ThrowawayDb<'s>,
    conn: PgConnection,
    tracking: Tracking,
    apply: ApplyOptions,
    catalog: Catalog,
    verify_snapshots: bool,
    timings: Timings,
}

/// Where a check's time went, for `-v`: the steps themselves, and what the proof adds to them.
#[derive(Debug, Default, Clone, Copy)]
struct Timings {
    steps: std::time::Duration,
    snapshots: std::time::Duration,
    snapshot_count: u32,
    diffs: std::time::Duration,
    rebuilds: std::time::Duration,
    /// Of the databases replaced so far.
    catalog: CatalogStats,
}

impl Timings {
    fn line(&self, current: CatalogStats) -> String {
        let ms = |d: std::time::Duration| d.as_millis();
        let c = |f: fn(&CatalogStats) -> u32| f(&self.catalog) + f(&current);
        format!(
            "time: steps {} ms · {} snapshots {} ms ({} full, {} re-reading {} relations, {} unchanged; probes {} ms, re-reads {} ms, full reads {} ms) · diffs {} ms · rebuilds {} ms",
            ms(self.steps),
            self.snapshot_count,
            ms(self.snapshots),
            c(|s| s.full),
            c(|s| s.partial),
            c(|s| s.relations),
            c(|s| s.reused),
            ms(self.catalog.probing + current.probing),
            ms(self.catalog.rereading + current.rereading),
            ms(self.catalog.reading + current.reading),
            ms(self.diffs),
            ms(self.rebuilds)
        )
    }
}

/// A step's outcome, and the script error (for file:line findings) when it failed.
struct Ran {
    outcome: StepOutcome,
    error: Option<anyhow::Error>,
}

impl<'s> Lab<'s> {
    async fn open(sandbox: &'s Sandbox, verify_snapshots: bool) -> anyhow::Result<Lab<'s>> {
        let db = sandbox.database().await?;
        let mut conn = ConnectSettings::new(db.url()).connect().await?;
        let apply = ApplyOptions::default();
        set_timeouts(&mut conn, &apply).await?;
        let tracking = Tracking {
            schema: "public".into(),
            run_id: None,
            mode: HistoryMode::Upcycle,
        };
        tracking.ensure(&mut conn).await?;
        Ok(Lab {
            sandbox,
            db,
            conn,
            tracking,
            apply,
            catalog: Catalog::new(SnapshotOptions::default(), verify_snapshots),
            verify_snapshots,
            timings: Timings::default(),
        })
    }

    async fn snapshot(&mut self) -> anyhow::Result<SchemaSnapshot> {
        let start = Instant::now();
        let taken = self.catalog.snapshot(&mut self.conn).await;
        self.timings.snapshots += start.elapsed();
        self.timings.snapshot_count += 1;
        taken
    }

    /// `diff_lines`, timed.
    fn diff(&mut self, before: &SchemaSnapshot, after: &SchemaSnapshot) -> Vec<String> {
        let start = Instant::now();
        let lines = diff_lines(before, after);
        self.timings.diffs += start.elapsed();
        lines
    }

    /// Runs `migrations` in `direction` as `up`/`down` would (tracking rows included).
    async fn run(
        &mut self,
        reading: &Reading,
        direction: Direction,
        migrations: &[&Migration],
    ) -> Ran {
        let Some(plan) = Plan::of(direction, migrations) else {
            return Ran {
                outcome: StepOutcome {
                    ok: false,
                    ms: 0,
                    error: Some("no down script".into()),
                },
                error: None,
            };
        };
        let start = Instant::now();
        let result = apply(
            &mut self.conn,
            &self.tracking,
            &reading.set,
            &plan,
            &self.apply,
            &mut |_| {},
        )
        .await;
        self.timings.steps += start.elapsed();
        let scripts = migrations.iter().filter_map(|m| match direction {
            Direction::Up => Some(&m.up),
            Direction::Down => m.down.as_ref(),
        });
        let unseen = scripts.clone().any(|s| hidden_from_change_log(&s.text));
        // A failed script that ran in a transaction left nothing behind (its log rows rolled
        // back with it); one that ran outside may have (an invalid index from a failed
        // `CREATE INDEX CONCURRENTLY`), and only a full read shows that.
        let failed_outside =
            result.failure.is_some() && scripts.clone().any(|s| !s.transaction.is_wrapped());
        if failed_outside || unseen {
            self.catalog.distrust();
        }
        let ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        match result.failure {
            None => Ran {
                outcome: StepOutcome {
                    ok: true,
                    ms,
                    error: None,
                },
                error: None,
            },
            Some(e) => {
                let text = match e.downcast_ref::<ScriptError>() {
                    Some(script) => script.to_string(),
                    None => format!("{e:#}"),
                };
                Ran {
                    outcome: StepOutcome {
                        ok: false,
                        ms,
                        error: Some(text),
                    },
                    error: Some(e),
                }
            }
        }
    }

    /// Replaces the database with a fresh one holding `migrations` (and the seed, if loaded).
    async fn rebuild(
        &mut self,
        reading: &Reading,
        migrations: &[&Migration],
        seed: Option<&Seed>,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        let fresh = Lab::open(self.sandbox, self.verify_snapshots).await?;
        self.sandbox.make_spare();
        let old = std::mem::replace(self, fresh);
        self.timings = old.timings;
        let stats = old.catalog.stats();
        let sum = &mut self.timings.catalog;
        sum.full += stats.full;
        sum.partial += stats.partial;
        sum.relations += stats.relations;
        sum.reused += stats.reused;
        sum.probing += stats.probing;
        sum.rereading += stats.rereading;
        sum.reading += stats.reading;
        connect::close(old.conn).await;
        if let Err(e) = self.sandbox.release(old.db).await {
            log::warn!("{e:#}");
        }
        let steps = self.timings.steps;
        let failed = self.run(reading, Direction::Up, migrations).await.error;
        self.timings.steps = steps;
        self.timings.rebuilds += start.elapsed();
        if let Some(e) = failed {
            return Err(e.context("rebuilding the sandbox database after a failure"));
        }
        if let Some(seed) = seed.filter(|s| {
            migrations
                .iter()
                .any(|m| same_version(m.version.as_str(), &s.after))
        }) {
            seed.load(&mut self.conn).await?;
        }
        Ok(())
    }
}

/// Rows loaded once a given migration is applied.
struct Seed {
    path: PathBuf,
    sql: String,
    after: String,
}

impl Seed {
    async fn load(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        use crate::migration::{Execution, Script, ScriptSpec, TxPolicy};
        let (script, _) = Script::build(ScriptSpec {
            path: self.path.display().to_string(),
            direction: Direction::Up,
            first_line: 1,
            text: self.sql.clone(),
            transaction: TxPolicy::Declared(None),
            execution: Execution::PerStatement,
            line_split: None,
            tool_handles_copy: true,
        });
        crate::postgres::run_script(conn, &script)
            .await
            .map_err(|e| anyhow::anyhow!("the seed fails: {e}"))
    }
}

fn script_finding(
    code: Code,
    m: &Migration,
    direction: Direction,
    e: &anyhow::Error,
    what: &str,
) -> Finding {
    let script = if direction == Direction::Up {
        &m.up
    } else {
        m.down.as_ref().unwrap_or(&m.up)
    };
    match e.downcast_ref::<ScriptError>() {
        Some(s) => Finding::new(
            code,
            &s.path,
            s.line,
            format!(
                "{what}: {}",
                s.to_string()
                    .split_once(": ")
                    .map_or(s.message.as_str(), |(_, rest)| rest)
            ),
        ),
        None => Finding::new(code, &script.path, None, format!("{what}: {e:#}")),
    }
}

/// `Some(extension)` when the error says the server lacks an extension.
fn missing_extension(e: &anyhow::Error) -> Option<String> {
    let s = e.downcast_ref::<ScriptError>()?;
    let text = format!("{} {}", s.message, s.detail.as_deref().unwrap_or(""));
    let lacking = (s.sqlstate.as_deref() == Some("0A000") && text.contains("extension"))
        || text.contains("could not open extension control file");
    lacking.then(|| s.message.split('"').nth(1).unwrap_or("?").to_string())
}

fn image_for(extension: &str) -> &'static str {
    match extension {
        e if e.starts_with("postgis") => "postgis/postgis:17-3.5",
        "vector" => "pgvector/pgvector:pg17",
        "timescaledb" => "timescale/timescaledb:latest-pg17",
        _ => "an image with the extension installed",
    }
}

fn diff_lines(before: &SchemaSnapshot, after: &SchemaSnapshot) -> Vec<String> {
    diff(before, after)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Whether a diff line only says that the columns of a table are in another order.
fn is_order_line(line: &str) -> bool {
    line.starts_with("column order of ")
}

/// `schema-not-restored` for real differences, `column-order` when only the order differs.
fn restoration_findings(lines: &[String], path: &str) -> Vec<Finding> {
    let (order, other): (Vec<&String>, Vec<&String>) = lines.iter().partition(|l| is_order_line(l));
    let summary = |ls: &[&String]| {
        ls.iter()
            .take(3)
            .map(|l| l.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let mut out = Vec::new();
    if !other.is_empty() {
        out.push(Finding::new(
            Code::SchemaNotRestored,
            path,
            None,
            format!(
                "after the down, the schema differs from before the up in {} place(s): {}",
                other.len(),
                summary(&other)
            ),
        ));
    }
    if !order.is_empty() {
        out.push(Finding::new(
            Code::ColumnOrder,
            path,
            None,
            format!("after the down, {}", summary(&order)),
        ));
    }
    out
}

fn data_findings(
    m: &Migration,
    path: &str,
    before: &Fingerprints,
    now: &Fingerprints,
    step: &str,
    exact: bool,
) -> Vec<Finding> {
    before
        .iter()
        .filter_map(|(table, (rows, hash))| {
            let (now_rows, now_hash) = now.get(table)?;
            let lost = if exact { now_rows != rows || now_hash != hash } else { now_rows < rows };
            lost.then(|| Finding::new(Code::DataLost, path, None, format!("table {table}: {rows} seeded row(s) before the up of {}, {now_rows} after its {step}{}", m.label(), if exact && now_rows == rows { " (their content changed)" } else { "" })))
        })
        .collect()
}

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

fn pending(m: &Migration) -> MigrationCheck {
    MigrationCheck {
        version: m.version.to_string(),
        name: m.name.clone(),
        path: m.up.path.clone(),
        down_path: m.down.as_ref().map(|d| d.path.clone()),
        transaction: m.up.transaction.is_wrapped(),
        cycled: true,
        up: None,
        down: None,
        reup: None,
        schema_restored: None,
        reup_matches: None,
        diff: Vec::new(),
        reup_diff: Vec::new(),
        errors: 0,
    }
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
    let exclude: Vec<String> = TRACKING_TABLES.iter().map(|t| t.to_string()).collect();
    let mut lab = Lab::open(sandbox, options.verify_snapshots).await?;
    // Ready for a rebuild after a failure, made while the migrations run.
    sandbox.make_spare();
    let initial = lab.snapshot().await?;
    let mut current = initial.clone();
    let set: Vec<&Migration> = reading.set.iter().collect();
    let mut seeded = seed.is_some_and(|s| s.after.is_empty());
    if seeded && let Some(seed) = seed {
        seed.load(&mut lab.conn).await?;
        lab.catalog.distrust();
    }
    // The newest migration that cannot be reverted (declared irreversible, or without a down):
    // the full cycle goes down to the schema right after it, not below.
    let floor = set.iter().rposition(|m| {
        !m.repeatable
            && (m.down.is_none()
                || irreversible
                    .iter()
                    .any(|v| same_version(m.version.as_str(), v)))
    });
    let mut floor_schema = floor.is_none().then(|| initial.clone());
    let mut stopped = false;
    for (k, m) in set.iter().enumerate() {
        if floor.is_some() && floor == k.checked_sub(1) {
            floor_schema = Some(current.clone());
        }
        let mut check = pending(m);
        let findings_before = report.findings.len();
        if stopped {
            report.migrations.push(check);
            continue;
        }
        check.cycled = cycled.contains(&m.version.to_string());
        let before_rows = if seeded && check.cycled {
            Some(fingerprints(&mut lab.conn, &exclude).await?)
        } else {
            None
        };
        let up = lab.run(reading, Direction::Up, &[m]).await;
        check.up = Some(up.outcome.clone());
        if let Some(e) = up.error {
            report.findings.push(match missing_extension(&e) {
                Some(ext) => Finding::new(Code::MissingExtension, &m.up.path, None, format!("the sandbox ({}) has no extension \"{ext}\"; run the check with --sandbox-image {}", report.sandbox, image_for(&ext))),
                None => script_finding(Code::UpFailed, m, Direction::Up, &e, "the up fails"),
            });
            term.progress(&format!(
                "✗ {}: up failed; later migrations are not checked",
                m.label()
            ));
            check.errors = report.findings[findings_before..]
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            report.migrations.push(check);
            stopped = true;
            continue;
        }
        let after = lab.snapshot().await?;
        if !check.cycled {
            current = after;
            check.errors = report.findings[findings_before..]
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            report.migrations.push(check);
            continue;
        }
        if let (Some(before), true) = (&before_rows, seeded) {
            report.findings.extend(data_findings(
                m,
                &m.up.path,
                before,
                &fingerprints(&mut lab.conn, &exclude).await?,
                "up",
                false,
            ));
        }
        let declared = irreversible
            .iter()
            .any(|v| same_version(m.version.as_str(), v));
        if let Some(down_script) = &m.down {
            let down = lab.run(reading, Direction::Down, &[m]).await;
            check.down = Some(down.outcome.clone());
            match (down.error, declared) {
                (Some(_), true) => {
                    // Declared irreversible and its down refuses: it must change nothing.
                    let now = lab.snapshot().await?;
                    check.diff = lab.diff(&after, &now);
                    check.schema_restored = Some(check.diff.is_empty());
                    check.down = Some(StepOutcome {
                        ok: check.diff.is_empty(),
                        ..down.outcome
                    });
                    if !check.diff.is_empty() {
                        lab.rebuild(reading, &set[..=k], seed).await?;
                    }
                    current = after;
                }
                (Some(e), false) => {
                    report.findings.push(script_finding(
                        Code::DownFailed,
                        m,
                        Direction::Down,
                        &e,
                        "the down fails right after its up",
                    ));
                    if !down_script.transaction.is_wrapped() {
                        lab.rebuild(reading, &set[..=k], seed).await?;
                    }
                    current = after;
                }
                (None, _) => {
                    if declared {
                        report.findings.push(Finding::new(
                            Code::IrreversibleRan,
                            &down_script.path,
                            None,
                            format!("{} is declared irreversible, but its down ran", m.label()),
                        ));
                    }
                    let restored = lab.snapshot().await?;
                    check.diff = lab.diff(&current, &restored);
                    // Only the column order differing is a warning (column-order), not a failure.
                    check.schema_restored = Some(check.diff.iter().all(|l| is_order_line(l)));
                    report
                        .findings
                        .extend(restoration_findings(&check.diff, &down_script.path));
                    if let Some(before) = &before_rows {
                        report.findings.extend(data_findings(
                            m,
                            &down_script.path,
                            before,
                            &fingerprints(&mut lab.conn, &exclude).await?,
                            "down",
                            true,
                        ));
                    }
                    let reup = lab.run(reading, Direction::Up, &[m]).await;
                    check.reup = Some(reup.outcome.clone());
                    if let Some(e) = reup.error {
                        report.findings.push(script_finding(
                            Code::ReupFailed,
                            m,
                            Direction::Up,
                            &e,
                            "the up fails when run again after its down",
                        ));
                        lab.rebuild(reading, &set[..=k], seed).await?;
                        current = after;
                    } else {
                        let again = lab.snapshot().await?;
                        check.reup_diff = lab.diff(&after, &again);
                        check.reup_matches = Some(check.reup_diff.is_empty());
                        if !check.reup_diff.is_empty() {
                            report.findings.push(Finding::new(
                                Code::ReupDiffers,
                                &m.up.path,
                                None,
                                format!(
                                    "the second up gives a different schema in {} place(s): {}",
                                    check.reup_diff.len(),
                                    check
                                        .reup_diff
                                        .iter()
                                        .take(3)
                                        .cloned()
                                        .collect::<Vec<_>>()
                                        .join("; ")
                                ),
                            ));
                        }
                        current = again;
                    }
                }
            }
        } else {
            current = after;
        }
        let verdict = if check.passed() { "✓" } else { "✗" };
        let ms = |s: &Option<StepOutcome>| {
            s.as_ref()
                .map_or(String::from("-"), |s| format!("{} ms", s.ms))
        };
        term.progress(&format!(
            "{verdict} {}  up {} · down {} · up again {}",
            m.label(),
            ms(&check.up),
            ms(&check.down),
            ms(&check.reup)
        ));
        check.errors = report.findings[findings_before..]
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        report.migrations.push(check);
        if let Some(seed) = seed.filter(|s| same_version(m.version.as_str(), &s.after)) {
            seed.load(&mut lab.conn).await?;
            lab.catalog.distrust();
            seeded = true;
        }
    }
    if !stopped {
        integrity(&mut lab, reading, report).await?;
        if floor.is_some() && floor == set.len().checked_sub(1) {
            floor_schema = Some(current.clone());
        }
        if options.full_cycle {
            let floor = Floor {
                version: floor.map(|k| set[k].version.to_string()),
                above: floor.map_or(usize::MAX, |k| {
                    set[k + 1..].iter().filter(|m| !m.repeatable).count()
                }),
                schema: floor_schema.unwrap_or(initial),
            };
            report.full_cycle =
                Some(full_cycle(&mut lab, reading, &floor, &current, report).await?);
        }
    }
    term.detail(&lab.timings.line(lab.catalog.stats()));
    connect::close(lab.conn).await;
    sandbox.release(lab.db).await
}

/// After every migration ran: a second `up` plans nothing and the history matches the set.
async fn integrity(
    lab: &mut Lab<'_>,
    reading: &Reading,
    report: &mut CheckReport,
) -> anyhow::Result<()> {
    let history = lab.tracking.read(&mut lab.conn).await?;
    let where_ = reading.dirs.first().cloned().unwrap_or_default();
    match plan_up(&reading.set, &history, &Target::Default) {
        Ok(plan) if plan.is_empty() && plan.divergences.is_empty() => {}
        Ok(plan) => report.findings.push(Finding::new(
            Code::RerunNotNoop,
            &where_,
            None,
            format!(
                "after every migration ran, `up` still plans {} step(s) with {} divergence(s)",
                plan.steps.len(),
                plan.divergences.len()
            ),
        )),
        Err(e) => report.findings.push(Finding::new(
            Code::RerunNotNoop,
            &where_,
            None,
            format!("after every migration ran: {e}"),
        )),
    }
    let expected = reading.set.iter().filter(|m| !m.repeatable).count();
    let recorded = history
        .rows
        .iter()
        .filter(|r| {
            reading
                .set
                .iter()
                .any(|m| !m.repeatable && same_version(m.version.as_str(), &r.version))
        })
        .count();
    if recorded != expected {
        report.findings.push(Finding::new(
            Code::RerunNotNoop,
            &where_,
            None,
            format!("the history records {recorded} of {expected} migrations"),
        ));
    }
    Ok(())
}

/// How far down the full cycle goes: to the schema before the first migration, or right after
/// the newest migration that cannot be reverted.
struct Floor {
    version: Option<String>,
    /// How many migrations the full cycle reverts (all of them without a floor).
    above: usize,
    schema: SchemaSnapshot,
}

/// Down the whole set (down to the floor), compare with the schema there, up again.
async fn full_cycle(
    lab: &mut Lab<'_>,
    reading: &Reading,
    floor: &Floor,
    last: &SchemaSnapshot,
    report: &mut CheckReport,
) -> anyhow::Result<FullCycle> {
    let initial = &floor.schema;
    let history = lab.tracking.read(&mut lab.conn).await?;
    let where_ = reading.dirs.first().cloned().unwrap_or_default();
    let plan = match plan_down(&reading.set, &history, &Target::Count(floor.above)) {
        Ok(plan) => plan,
        Err(e) => {
            report.findings.push(Finding::new(
                Code::DownFailed,
                &where_,
                None,
                format!("the full down-all pass cannot start: {e}"),
            ));
            return Ok(FullCycle {
                down: StepOutcome {
                    ok: false,
                    ms: 0,
                    error: Some(e.to_string()),
                },
                up: None,
                schema_restored: None,
                diff: Vec::new(),
            });
        }
    };
    let all: Vec<&Migration> = plan
        .steps
        .iter()
        .filter_map(|s| reading.set.iter().find(|m| m.version.as_str() == s.version))
        .collect();
    let down = lab.run(reading, Direction::Down, &all).await;
    if let Some(e) = &down.error {
        report.findings.push(Finding::new(
            Code::DownFailed,
            &where_,
            None,
            format!("the full down-all pass fails: {e:#}"),
        ));
        return Ok(FullCycle {
            down: down.outcome,
            up: None,
            schema_restored: None,
            diff: Vec::new(),
        });
    }
    let emptied = lab.snapshot().await?;
    let lines = lab.diff(initial, &emptied);
    if !lines.is_empty() {
        report.findings.push(Finding::new(
            Code::SchemaNotRestored,
            &where_,
            None,
            format!(
                "after every down, {} object(s) differ from {}: {}",
                lines.len(),
                floor.version.as_ref().map_or_else(
                    || "the empty schema".to_string(),
                    |v| format!(
                        "the schema after {v}, the newest migration that cannot be reverted"
                    )
                ),
                lines.iter().take(3).cloned().collect::<Vec<_>>().join("; ")
            ),
        ));
    }
    let mut ordered = all.clone();
    ordered.reverse();
    let up = lab.run(reading, Direction::Up, &ordered).await;
    if up.error.is_none() {
        let again = lab.snapshot().await?;
        let differs = lab.diff(last, &again);
        if !differs.is_empty() {
            report.findings.push(Finding::new(
                Code::ReupDiffers,
                &where_,
                None,
                format!(
                    "after the full down and up, {} object(s) differ: {}",
                    differs.len(),
                    differs
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ));
        }
    }
    let _ = Severity::Error;
    Ok(FullCycle {
        down: down.outcome,
        up: Some(up.outcome),
        schema_restored: Some(lines.is_empty()),
        diff: lines,
    })
}
