//! One job of a check: a run of migrations proved in order in one database. For each: up,
//! snapshot, down (which must give back the schema before the up), up again (which must give
//! back the schema after it), with the seed's rows counted around each step.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::check::report::{MigrationCheck, StepOutcome};
use crate::check::schema::SchemaSnapshot;
use crate::check::{Code, Finding, Severity};
use crate::history::same_version;
use crate::migration::{Direction, Migration, Reading, Script};
use crate::postgres::ScriptError;
use crate::postgres::data::{Fingerprints, fingerprints};
use crate::sandbox::Sandbox;
use crate::term::Term;

use super::lab::{Lab, Seed};

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
}

/// A job: its database and what it found so far.
pub(super) struct Job<'s> {
    pub lab: Lab<'s>,
    /// The schema now.
    pub current: SchemaSnapshot,
    /// The schema right after `Ctx::floor` (before any migration when there is no floor).
    pub floor_schema: Option<SchemaSnapshot>,
    /// The seed's rows are in the database.
    seeded: bool,
    pub checks: Vec<MigrationCheck>,
    pub findings: Vec<Finding>,
    /// Lines held back while an earlier job still prints (`None`: printed as they come), and
    /// whether each is a detail (`-v`) line.
    pub held: Option<Vec<(bool, String)>>,
    /// An up failed: nothing after it is checked.
    pub stopped: bool,
}

impl<'s> Job<'s> {
    /// A job whose run begins at `start`: its database, the migrations before `start` applied
    /// (and the seed's rows, when its version is among them). `Ok(None)` when one of those
    /// fails its up: the job cannot begin (the run goes to the job before it).
    pub async fn start(
        ctx: &Ctx<'_>,
        sandbox: &'s Sandbox,
        start: usize,
        live: bool,
    ) -> anyhow::Result<Option<Job<'s>>> {
        let mut lab = Lab::open(sandbox, ctx.verify_snapshots).await?;
        // Ready for a rebuild after a failure, made while the migrations run.
        sandbox.make_spare();
        if let Some(e) = lab
            .prepare_run(ctx.reading, &ctx.set[..start], ctx.seed)
            .await?
        {
            ctx.term.detail(&format!(
                "the job from {} cannot begin ({e:#}); the job before it goes on instead",
                ctx.set[start].label()
            ));
            lab.close().await?;
            return Ok(None);
        }
        let seeded = ctx
            .seed
            .is_some_and(|s| s.position(&ctx.set[..start]).is_some());
        let current = lab.snapshot().await?;
        Ok(Some(Job {
            lab,
            floor_schema: (ctx.floor.is_none() && start == 0).then(|| current.clone()),
            current,
            seeded,
            checks: Vec::new(),
            findings: Vec::new(),
            held: (!live).then(Vec::new),
            stopped: false,
        }))
    }

    fn print(&mut self, term: &Term, detail: bool, line: String) {
        match &mut self.held {
            Some(held) => held.push((detail, line)),
            None if detail => term.detail(&line),
            None => term.progress(&line),
        }
    }

    /// A progress line.
    fn say(&mut self, term: &Term, line: String) {
        self.print(term, false, line);
    }

    /// A detail line (`-v`).
    fn note(&mut self, term: &Term, line: String) {
        self.print(term, true, line);
    }

    /// Prints what was held back; from now on lines print as they come.
    pub fn go_live(&mut self, term: &Term) {
        for (detail, line) in self.held.take().unwrap_or_default() {
            if detail {
                term.detail(&line);
            } else {
                term.progress(&line);
            }
        }
    }

    /// Proves the migrations of `run`, in order, unless an up fails (here or in an earlier job).
    pub async fn prove(&mut self, ctx: &Ctx<'_>, run: Range<usize>) -> anyhow::Result<()> {
        for k in run.clone() {
            if ctx.floor.is_some() && ctx.floor == k.checked_sub(1) {
                self.floor_schema = Some(self.current.clone());
            }
            if self.stopped || ctx.stop.load(Ordering::SeqCst) < k {
                self.stopped = true;
                return Ok(());
            }
            let mut check = pending(ctx.set[k]);
            check.cycled = ctx.cycled[k];
            let before = self.findings.len();
            self.prove_one(ctx, k, &mut check).await?;
            check.errors = self.findings[before..]
                .iter()
                .filter(|f| f.severity == Severity::Error)
                .count();
            self.checks.push(check);
            if self.stopped {
                ctx.stop.fetch_min(k, Ordering::SeqCst);
                return Ok(());
            }
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
        if ctx.floor.is_some() && ctx.floor == run.end.checked_sub(1) {
            self.floor_schema = Some(self.current.clone());
        }
        Ok(())
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
            self.findings.push(match missing_extension(&e) {
                Some(ext) => Finding::new(Code::MissingExtension, &m.up.path, None, format!("the sandbox ({}) has no extension \"{ext}\"; run the check with --sandbox-image {}", ctx.sandbox, image_for(&ext))),
                None => script_finding(Code::UpFailed, m, Direction::Up, &e, "the up fails"),
            });
            self.say(
                ctx.term,
                format!(
                    "✗ {}: up failed; later migrations are not checked",
                    m.label()
                ),
            );
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
            self.findings.extend(lost);
        }
        let declared = ctx
            .irreversible
            .iter()
            .any(|v| same_version(m.version.as_str(), v));
        let Some(down_script) = &m.down else {
            self.current = after;
            self.progress(ctx, m, check);
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
                self.findings.push(script_finding(
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
                    self.findings.push(Finding::new(
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
                self.findings
                    .extend(restoration_findings(&check.diff, &down_script.path));
                if let Some(before) = &before_rows {
                    let now = fingerprints(&mut self.lab.conn, &ctx.exclude).await?;
                    let lost = data_findings(m, &down_script.path, before, &now, "down", true);
                    self.findings.extend(lost);
                }
                self.reup(ctx, k, check, after).await?;
            }
        }
        self.progress(ctx, m, check);
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
            self.findings.push(script_finding(
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
            self.findings.push(Finding::new(
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
            self.note(
                ctx.term,
                format!(
                    "{}: its failure changed nothing; settled in place",
                    m.label()
                ),
            );
            return Ok(());
        }
        self.rebuild(ctx, k, "a failed step left it in an unknown state")
            .await
    }

    /// Replaces the database with a fresh one holding the migrations up to `k`.
    async fn rebuild(&mut self, ctx: &Ctx<'_>, k: usize, why: &str) -> anyhow::Result<()> {
        self.note(
            ctx.term,
            format!(
                "fresh database with the migrations up to {} ({why})",
                ctx.set[k].version
            ),
        );
        self.lab
            .rebuild(ctx.reading, &ctx.set[..=k], ctx.seed)
            .await
    }

    fn progress(&mut self, ctx: &Ctx<'_>, m: &Migration, check: &MigrationCheck) {
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
        self.say(ctx.term, line);
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
