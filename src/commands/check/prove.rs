//! One job of a check: a run of migrations proved in order in one database. For each: up,
//! snapshot, down (which must give back the schema before the up), up again (which must give
//! back the schema after it), with the seed's rows counted around each step.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use crate::check::report::{MigrationCheck, StepOutcome};
use crate::check::schema::SchemaSnapshot;
use crate::check::{Code, Finding, Severity};
use crate::history::same_version;
use crate::migration::{Direction, Migration, Reading, Script};
use crate::postgres::ScriptError;
use crate::postgres::data::{Fingerprints, fingerprints};
use crate::sandbox::Sandbox;
use crate::term::Term;

use super::board::{Board, Next};
use super::lab::{Lab, Seed};
use super::progress::{Line, Progress};
use super::whole;

/// What every job of one check shares.
pub(super) struct Ctx<'a> {
    pub term: &'a Term,
    pub reading: &'a Reading,
    pub set: Vec<&'a Migration>,
    /// Whether each migration of `set` gets the full proof (PR mode cycles only new ones).
    pub cycled: Vec<bool>,
    pub seed: Option<&'a Seed>,
    pub irreversible: &'a [String],
    /// Tables whose rows are not the seed's (the tracking tables).
    pub exclude: Vec<String>,
    /// The sandbox as the report names it.
    pub sandbox: String,
    /// The newest migration that cannot be reverted: the full cycle goes down to right after it.
    pub floor: Option<usize>,
    /// The first migration whose up failed in any job: nothing after it is checked.
    pub stop: AtomicUsize,
    pub verify_snapshots: bool,
    /// `--full-cycle`: it runs in the database that holds the whole set.
    pub full_cycle: bool,
    /// Which job proves which migrations, as they go.
    pub board: Board,
    /// The jobs' lines, printed in the set's order.
    pub progress: Progress<'a>,
}

impl Ctx<'_> {
    /// Whether a database holding the migrations before `k` is at the full cycle's floor
    /// (right after `floor`, or empty when there is none).
    fn at_floor(&self, k: usize) -> bool {
        match self.floor {
            Some(floor) => floor + 1 == k,
            None => k == 0,
        }
    }
}

/// A job: its database and what it found so far.
pub(super) struct Job<'s> {
    /// Its place among the check's jobs (`Board`).
    pub id: usize,
    pub lab: Lab<'s>,
    /// The database holds the migrations before this one.
    pub pos: usize,
    /// The schema now.
    pub current: SchemaSnapshot,
    /// The schema right after `Ctx::floor` (before any migration when there is no floor).
    pub floor_schema: Option<SchemaSnapshot>,
    /// The seed's rows are in the database.
    seeded: bool,
    /// What it proved, by the migration's place in the set.
    pub checks: Vec<(usize, MigrationCheck)>,
    pub findings: Vec<(usize, Finding)>,
    /// The findings and lines of the migration being proved.
    found: Vec<Finding>,
    lines: Vec<Line>,
    /// An up failed: nothing after it is checked.
    stopped: bool,
    /// What `whole::integrity` found, when the job held the whole set and then started over to
    /// take over an earlier run.
    pub integrity: Option<Vec<Finding>>,
}

impl<'s> Job<'s> {
    /// Job `id`, whose run begins at `start`: its database, the migrations before `start`
    /// applied (and the seed's rows, when its version is among them). `Ok(None)` when one of
    /// those fails its up: the job cannot begin (its run goes to the job that reaches it).
    pub async fn start(
        ctx: &Ctx<'_>,
        sandbox: &'s Sandbox,
        id: usize,
        start: usize,
    ) -> anyhow::Result<Option<Job<'s>>> {
        let mut lab = Lab::open(sandbox, ctx.verify_snapshots).await?;
        // Ready for a rebuild after a failure, made while the migrations run.
        sandbox.make_spare();
        if let Some(e) = lab
            .prepare_run(ctx.reading, &ctx.set[..start], ctx.seed)
            .await?
        {
            ctx.term.detail(&format!(
                "the job from {} cannot begin ({e:#}); the job that reaches it goes on instead",
                ctx.set[start].label()
            ));
            lab.close().await?;
            ctx.board.give_up(id);
            return Ok(None);
        }
        let seeded = ctx
            .seed
            .is_some_and(|s| s.position(&ctx.set[..start]).is_some());
        let current = lab.snapshot().await?;
        ctx.board.begin(id);
        Ok(Some(Job {
            id,
            lab,
            pos: start,
            floor_schema: None,
            current,
            seeded,
            checks: Vec::new(),
            findings: Vec::new(),
            found: Vec::new(),
            lines: Vec::new(),
            stopped: false,
            integrity: None,
        }))
    }

    /// A progress line about the migration being proved.
    fn say(&mut self, line: String) {
        self.lines.push(Line {
            detail: false,
            text: line,
        });
    }

    /// A detail line (`-v`) about the migration being proved.
    fn note(&mut self, line: String) {
        self.lines.push(Line {
            detail: true,
            text: line,
        });
    }

    /// Proves the migrations of its run from its position, in order, until the run ends (it
    /// may shrink while it goes: `Board`) or an up fails, here or in another job.
    pub async fn prove(&mut self, ctx: &Ctx<'_>) -> anyhow::Result<()> {
        loop {
            let k = self.pos;
            if ctx.at_floor(k) {
                self.floor_schema = Some(self.current.clone());
            }
            if self.stopped || ctx.stop.load(Ordering::SeqCst) < k || !ctx.board.take(self.id, k) {
                break;
            }
            let mut check = pending(ctx.set[k]);
            check.cycled = ctx.cycled[k];
            let began = Instant::now();
            self.prove_one(ctx, k, &mut check).await?;
            ctx.board
                .proved(self.id, k, began.elapsed().as_secs_f64() * 1000.0);
            check.errors = self
                .found
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            self.checks.push((k, check));
            self.findings.extend(self.found.drain(..).map(|f| (k, f)));
            ctx.progress
                .proved(k, std::mem::take(&mut self.lines), self.stopped);
            if self.stopped {
                ctx.stop.fetch_min(k, Ordering::SeqCst);
                break;
            }
            self.pos = k + 1;
            let m = ctx.set[k];
            if let Some(seed) = ctx
                .seed
                .filter(|s| same_version(m.version.as_str(), &s.after))
            {
                seed.load(&mut self.lab.conn).await?;
                self.lab.catalog.distrust();
                self.seeded = true;
            }
        }
        ctx.board.done(self.id);
        Ok(())
    }

    /// Once its run is done: takes over the rest of a slower job's run, or the run of a job that
    /// could not begin, and proves it; again until nothing is worth taking. A run before its
    /// position takes a fresh database; the job that holds the whole set first proves what
    /// holds of it (`whole::integrity`), and keeps it when the full cycle needs it.
    pub async fn take_over(&mut self, ctx: &Ctx<'_>) -> anyhow::Result<()> {
        loop {
            // Set by this job too when its own up failed.
            if ctx.stop.load(Ordering::SeqCst) != usize::MAX {
                return Ok(());
            }
            let whole = self.pos == ctx.set.len();
            let changed = ctx.board.changed.notified();
            let restart = !(whole && ctx.full_cycle);
            let offer = match ctx.board.offer(self.pos, restart) {
                Next::Nothing => return Ok(()),
                Next::Wait => {
                    changed.await;
                    continue;
                }
                Next::Take(offer) => offer,
            };
            // The migrations before the run taken are applied before the other job's run is
            // cut, so that a failure here costs it nothing: those after its position, or, when
            // it is past the run, all of them in a fresh database.
            if offer.from != self.pos {
                let restart = offer.from < self.pos;
                let first = if restart { 0 } else { self.pos };
                let migrations = &ctx.set[first..offer.from];
                // In with them when its version is among them (or, from scratch, before them all).
                let seed = ctx.seed.filter(|s| {
                    (restart || !s.after.is_empty()) && s.position(migrations).is_some()
                });
                let failed = if restart {
                    if whole {
                        self.integrity = Some(whole::integrity(&mut self.lab, ctx.reading).await?);
                    }
                    self.lab.restart(ctx.reading, migrations, seed).await?
                } else {
                    self.lab.prepare_run(ctx.reading, migrations, seed).await?
                };
                if let Some(e) = failed {
                    self.cannot_take(ctx, offer.from, &e);
                    return Ok(());
                }
                self.seeded = seed.is_some() || (self.seeded && !restart);
            }
            self.pos = offer.from;
            if ctx.board.commit(self.id, &offer) {
                ctx.term.detail(&format!(
                    "job {} takes over from {}",
                    self.id + 1,
                    ctx.set[offer.from].label()
                ));
                self.current = self.lab.snapshot().await?;
                self.prove(ctx).await?;
            }
        }
    }

    /// A take-over given up: applying the migrations before it failed (the other job goes on).
    fn cannot_take(&mut self, ctx: &Ctx<'_>, from: usize, e: &anyhow::Error) {
        ctx.term.detail(&format!(
            "job {} cannot take over from {} ({e:#}); the job proving it goes on",
            self.id + 1,
            ctx.set[from].label()
        ));
        // Its database holds no known prefix of the set now.
        self.pos = usize::MAX;
    }

    /// The rows of the seeded tables now, when the seed is in and `m` is being proved.
    async fn rows(&mut self, ctx: &Ctx<'_>, cycled: bool) -> anyhow::Result<Option<Fingerprints>> {
        if self.seeded && cycled {
            Ok(Some(fingerprints(&mut self.lab.conn, &ctx.exclude).await?))
        } else {
            Ok(None)
        }
    }

    async fn prove_one(
        &mut self,
        ctx: &Ctx<'_>,
        k: usize,
        check: &mut MigrationCheck,
    ) -> anyhow::Result<()> {
        let (m, reading) = (ctx.set[k], ctx.reading);
        let before_rows = self.rows(ctx, check.cycled).await?;
        let up = self.lab.run(reading, Direction::Up, &[m]).await;
        check.up = Some(up.outcome.clone());
        if let Some(e) = up.error {
            self.found.push(match missing_extension(&e) {
                Some(ext) => Finding::new(Code::MissingExtension, &m.up.path, None, format!("the sandbox ({}) has no extension \"{ext}\"; run the check with --sandbox-image {}", ctx.sandbox, image_for(&ext))),
                None => script_finding(Code::UpFailed, m, Direction::Up, &e, "the up fails"),
            });
            self.say(format!(
                "✗ {}: up failed; later migrations are not checked",
                m.label()
            ));
            self.stopped = true;
            return Ok(());
        }
        let after = self.lab.snapshot().await?;
        if !check.cycled {
            self.current = after;
            return Ok(());
        }
        if let Some(before) = &before_rows {
            let now = fingerprints(&mut self.lab.conn, &ctx.exclude).await?;
            let lost = data_findings(m, &m.up.path, before, &now, "up", false);
            self.found.extend(lost);
        }
        let declared = ctx
            .irreversible
            .iter()
            .any(|v| same_version(m.version.as_str(), v));
        let Some(down_script) = &m.down else {
            self.current = after;
            self.progress(m, check);
            return Ok(());
        };
        let down = self.lab.run(reading, Direction::Down, &[m]).await;
        check.down = Some(down.outcome.clone());
        match (down.error, declared) {
            (Some(_), true) => {
                // Declared irreversible and its down refuses: it must change nothing.
                let now = self.lab.snapshot().await?;
                check.diff = self.lab.diff(&after, &now);
                check.schema_restored = Some(check.diff.is_empty());
                check.down = Some(StepOutcome {
                    ok: check.diff.is_empty(),
                    ..down.outcome
                });
                if !check.diff.is_empty() {
                    self.rebuild(ctx, k, "its refused down changed the schema")
                        .await?;
                }
                self.current = after;
            }
            (Some(e), false) => {
                self.found.push(script_finding(
                    Code::DownFailed,
                    m,
                    Direction::Down,
                    &e,
                    "the down fails right after its up",
                ));
                if !down_script.transaction.is_wrapped() {
                    self.recover(ctx, k, &after, &[down_script]).await?;
                }
                self.current = after;
            }
            (None, _) => {
                if declared {
                    self.found.push(Finding::new(
                        Code::IrreversibleRan,
                        &down_script.path,
                        None,
                        format!("{} is declared irreversible, but its down ran", m.label()),
                    ));
                }
                let restored = self.lab.snapshot().await?;
                check.diff = self.lab.diff(&self.current, &restored);
                // Only the column order differing is a warning (column-order), not a failure.
                check.schema_restored = Some(check.diff.iter().all(|l| is_order_line(l)));
                self.found
                    .extend(restoration_findings(&check.diff, &down_script.path));
                if let Some(before) = &before_rows {
                    let now = fingerprints(&mut self.lab.conn, &ctx.exclude).await?;
                    let lost = data_findings(m, &down_script.path, before, &now, "down", true);
                    self.found.extend(lost);
                }
                self.reup(ctx, k, check, after).await?;
            }
        }
        self.progress(m, check);
        Ok(())
    }

    /// The second up, which must give back the schema `after` the first.
    async fn reup(
        &mut self,
        ctx: &Ctx<'_>,
        k: usize,
        check: &mut MigrationCheck,
        after: SchemaSnapshot,
    ) -> anyhow::Result<()> {
        let m = ctx.set[k];
        let reup = self.lab.run(ctx.reading, Direction::Up, &[m]).await;
        check.reup = Some(reup.outcome.clone());
        if let Some(e) = reup.error {
            self.found.push(script_finding(
                Code::ReupFailed,
                m,
                Direction::Up,
                &e,
                "the up fails when run again after its down",
            ));
            let down = m
                .down
                .iter()
                .chain((!m.up.transaction.is_wrapped()).then_some(&m.up));
            self.recover(ctx, k, &after, &down.collect::<Vec<_>>())
                .await?;
            self.current = after;
            return Ok(());
        }
        let again = self.lab.snapshot().await?;
        check.reup_diff = self.lab.diff(&after, &again);
        check.reup_matches = Some(check.reup_diff.is_empty());
        if !check.reup_diff.is_empty() {
            self.found.push(Finding::new(
                Code::ReupDiffers,
                &m.up.path,
                None,
                format!(
                    "the second up gives a different schema in {} place(s): {}",
                    check.reup_diff.len(),
                    first_lines(&check.reup_diff)
                ),
            ));
            // Later migrations are checked against the schema the set gives, not this one.
            self.rebuild(ctx, k, "its second up gave another schema")
                .await?;
            self.current = after;
        } else {
            self.current = again;
        }
        Ok(())
    }

    /// Back to the migrations up to `k` applied, after a failed step left the database in a
    /// state the check did not plan for. A fresh database costs every up again (hundreds of
    /// milliseconds on a long set); it is not needed when no seed is in, the scripts that ran
    /// (`ran`) write no rows, and the schema is `after` (the failure changed nothing): then
    /// only the tracking row is set right.
    async fn recover(
        &mut self,
        ctx: &Ctx<'_>,
        k: usize,
        after: &SchemaSnapshot,
        ran: &[&Script],
    ) -> anyhow::Result<()> {
        let m = ctx.set[k];
        if !self.seeded && ran.iter().all(|s| s.keeps_rows()) && self.lab.settle(m, after).await? {
            self.note(format!(
                "{}: its failure changed nothing; settled in place",
                m.label()
            ));
            return Ok(());
        }
        self.rebuild(ctx, k, "a failed step left it in an unknown state")
            .await
    }

    /// Replaces the database with a fresh one holding the migrations up to `k`.
    async fn rebuild(&mut self, ctx: &Ctx<'_>, k: usize, why: &str) -> anyhow::Result<()> {
        self.note(format!(
            "fresh database with the migrations up to {} ({why})",
            ctx.set[k].version
        ));
        self.lab
            .rebuild(ctx.reading, &ctx.set[..=k], ctx.seed)
            .await
    }

    fn progress(&mut self, m: &Migration, check: &MigrationCheck) {
        let verdict = if check.passed() { "✓" } else { "✗" };
        let ms = |s: &Option<StepOutcome>| {
            s.as_ref()
                .map_or(String::from("-"), |s| format!("{} ms", s.ms))
        };
        let line = format!(
            "{verdict} {}  up {} · down {} · up again {}",
            m.label(),
            ms(&check.up),
            ms(&check.down),
            ms(&check.reup)
        );
        self.say(line);
    }
}

/// A migration's entry before (or without) its proof.
pub(super) fn pending(m: &Migration) -> MigrationCheck {
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

/// The first three lines of a diff, on one line.
pub(super) fn first_lines<S: AsRef<str>>(lines: &[S]) -> String {
    lines
        .iter()
        .take(3)
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join("; ")
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

/// Whether a diff line only says that the columns of a table are in another order.
fn is_order_line(line: &str) -> bool {
    line.starts_with("column order of ")
}

/// `schema-not-restored` for real differences, `column-order` when only the order differs.
fn restoration_findings(lines: &[String], path: &str) -> Vec<Finding> {
    let (order, other): (Vec<&String>, Vec<&String>) = lines.iter().partition(|l| is_order_line(l));
    let mut out = Vec::new();
    if !other.is_empty() {
        out.push(Finding::new(
            Code::SchemaNotRestored,
            path,
            None,
            format!(
                "after the down, the schema differs from before the up in {} place(s): {}",
                other.len(),
                first_lines(&other)
            ),
        ));
    }
    if !order.is_empty() {
        out.push(Finding::new(
            Code::ColumnOrder,
            path,
            None,
            format!("after the down, {}", first_lines(&order)),
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
