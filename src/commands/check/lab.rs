//! The database one job of a check works in: its connection, tracking table and snapshot
//! catalog, the steps it runs (timed), and its replacement by a fresh database when a failure
//! leaves it in an unknown state.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use sqlx::PgConnection;

use crate::check::report::StepOutcome;
use crate::check::schema::{SchemaSnapshot, SnapshotOptions, diff};
use crate::history::{RowState, same_version};
use crate::migration::{Direction, Migration, Reading};
use crate::plan::Plan;
use crate::postgres::apply::{ApplyOptions, apply, set_timeouts};
use crate::postgres::catalog::{Catalog, CatalogStats, hidden_from_change_log};
use crate::postgres::tracking::{HistoryMode, NewRow, Tracking};
use crate::postgres::{ConnectSettings, ScriptError, connect};
use crate::sandbox::{Sandbox, ThrowawayDb};

/// The database a job works in, replaceable when a failure leaves it in an unknown state.
pub(super) struct Lab<'s> {
    sandbox: &'s Sandbox,
    db: ThrowawayDb<'s>,
    pub conn: PgConnection,
    pub tracking: Tracking,
    apply: ApplyOptions,
    pub catalog: Catalog,
    verify_snapshots: bool,
    pub timings: Timings,
}

/// Where a job's time went, for `-v`: the steps themselves, and what the proof adds to them.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Timings {
    steps: Duration,
    snapshots: Duration,
    snapshot_count: u32,
    diffs: Duration,
    rebuilds: Duration,
    /// Databases replaced after a failure, and failures settled in place (`Lab::settle`).
    rebuilt: u32,
    settled: u32,
    /// The migrations applied before the job's own run (up only, unproved).
    before: Duration,
    /// Of the databases replaced so far.
    catalog: CatalogStats,
}

impl Timings {
    pub fn line(&self, current: CatalogStats) -> String {
        let ms = |d: Duration| d.as_millis();
        let c = |f: fn(&CatalogStats) -> u32| f(&self.catalog) + f(&current);
        let before = if self.before.is_zero() {
            String::new()
        } else {
            format!("migrations before the run {} ms · ", ms(self.before))
        };
        format!(
            "{before}steps {} ms · {} snapshots {} ms ({} full, {} re-reading {} relations, {} unchanged; probes {} ms, re-reads {} ms, full reads {} ms) · diffs {} ms · {} rebuilds, {} settled in place, {} ms",
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
            self.rebuilt,
            self.settled,
            ms(self.rebuilds)
        )
    }

    /// Adds the catalog counts of a database that is being replaced.
    fn absorb(&mut self, stats: CatalogStats) {
        let sum = &mut self.catalog;
        sum.full += stats.full;
        sum.partial += stats.partial;
        sum.relations += stats.relations;
        sum.reused += stats.reused;
        sum.probing += stats.probing;
        sum.rereading += stats.rereading;
        sum.reading += stats.reading;
    }
}

/// A step's outcome, and the script error (for file:line findings) when it failed.
pub(super) struct Ran {
    pub outcome: StepOutcome,
    pub error: Option<anyhow::Error>,
}

/// Rows loaded once a given migration is applied.
pub(super) struct Seed {
    pub path: PathBuf,
    pub sql: String,
    /// The version after which the rows are loaded; empty: before the first migration.
    pub after: String,
}

impl Seed {
    pub async fn load(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
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

    /// How many of `migrations` run before the rows are loaded (`None`: none of them is the
    /// seed's version, so the rows come after them all, or never).
    pub fn position(&self, migrations: &[&Migration]) -> Option<usize> {
        if self.after.is_empty() {
            return Some(0);
        }
        migrations
            .iter()
            .position(|m| same_version(m.version.as_str(), &self.after))
            .map(|k| k + 1)
    }
}

impl<'s> Lab<'s> {
    pub async fn open(sandbox: &'s Sandbox, verify_snapshots: bool) -> anyhow::Result<Lab<'s>> {
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

    pub async fn snapshot(&mut self) -> anyhow::Result<SchemaSnapshot> {
        let start = Instant::now();
        let taken = self.catalog.snapshot(&mut self.conn).await;
        self.timings.snapshots += start.elapsed();
        self.timings.snapshot_count += 1;
        taken
    }

    /// The diff of two snapshots as lines for people, timed.
    pub fn diff(&mut self, before: &SchemaSnapshot, after: &SchemaSnapshot) -> Vec<String> {
        let start = Instant::now();
        let lines = diff(before, after)
            .iter()
            .map(ToString::to_string)
            .collect();
        self.timings.diffs += start.elapsed();
        lines
    }

    /// Runs `migrations` in `direction` as `up`/`down` would (tracking rows included).
    pub async fn run(
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

    /// Applies `migrations` up (not timed as steps), loading the seed at its version.
    /// `Ok(Some(e))`: one of them fails its up; `Err`: the database or the seed fails.
    pub async fn prepare(
        &mut self,
        reading: &Reading,
        migrations: &[&Migration],
        seed: Option<&Seed>,
    ) -> anyhow::Result<Option<anyhow::Error>> {
        let steps = self.timings.steps;
        let at = seed.and_then(|s| s.position(migrations).map(|k| (s, k)));
        let split = at.map_or(migrations.len(), |(_, k)| k);
        let mut failed = None;
        if split > 0 {
            failed = self
                .run(reading, Direction::Up, &migrations[..split])
                .await
                .error;
        }
        if failed.is_none() {
            if let Some((seed, _)) = at {
                seed.load(&mut self.conn).await?;
            }
            if split < migrations.len() {
                failed = self
                    .run(reading, Direction::Up, &migrations[split..])
                    .await
                    .error;
            }
        }
        self.timings.steps = steps;
        Ok(failed)
    }

    /// Replaces the database with a fresh one holding `migrations` (and the seed, if loaded).
    pub async fn rebuild(
        &mut self,
        reading: &Reading,
        migrations: &[&Migration],
        seed: Option<&Seed>,
    ) -> anyhow::Result<()> {
        let start = Instant::now();
        self.replace().await?;
        let failed = self.prepare(reading, migrations, seed).await?;
        self.timings.rebuilds += start.elapsed();
        self.timings.rebuilt += 1;
        match failed {
            Some(e) => Err(e.context("rebuilding the sandbox database after a failure")),
            None => Ok(()),
        }
    }

    /// A fresh, empty database in place of this one (its timings kept).
    async fn replace(&mut self) -> anyhow::Result<()> {
        let fresh = Lab::open(self.sandbox, self.verify_snapshots).await?;
        self.sandbox.make_spare();
        let old = std::mem::replace(self, fresh);
        self.timings = old.timings;
        self.timings.absorb(old.catalog.stats());
        if let Err(e) = old.close().await {
            log::warn!("{e:#}");
        }
        Ok(())
    }

    /// A fresh database holding `migrations` (and the seed, at its version among them), for a
    /// job that takes over a run before its position; timed as what comes before a run.
    /// `Ok(Some(e))`: one of them fails its up.
    pub async fn restart(
        &mut self,
        reading: &Reading,
        migrations: &[&Migration],
        seed: Option<&Seed>,
    ) -> anyhow::Result<Option<anyhow::Error>> {
        let start = Instant::now();
        self.replace().await?;
        self.timings.before += start.elapsed();
        self.prepare_run(reading, migrations, seed).await
    }

    /// After a failed step, when the schema is `after` (the schema with `m` applied) and the
    /// failure wrote no rows: sets `m`'s tracking row right (applied), in place of a fresh
    /// database. `false` when the schema is not `after`.
    pub async fn settle(&mut self, m: &Migration, after: &SchemaSnapshot) -> anyhow::Result<bool> {
        let start = Instant::now();
        let now = self.snapshot().await?;
        let same = now == *after;
        if same {
            let row = NewRow {
                migration: m,
                execution_ms: 0,
                state: RowState::Applied,
            };
            self.tracking.record(&mut self.conn, &row).await?;
            self.timings.settled += 1;
        }
        self.timings.rebuilds += start.elapsed();
        Ok(same)
    }

    /// Applies the migrations before a job's run, timed apart from its steps (when there are
    /// any: the first job's run has none, at most the seed's rows).
    pub async fn prepare_run(
        &mut self,
        reading: &Reading,
        migrations: &[&Migration],
        seed: Option<&Seed>,
    ) -> anyhow::Result<Option<anyhow::Error>> {
        let start = Instant::now();
        let failed = self.prepare(reading, migrations, seed).await;
        if !migrations.is_empty() {
            self.timings.before += start.elapsed();
        }
        failed
    }

    /// Done: closes the connection and gives the database back to the sandbox.
    pub async fn close(self) -> anyhow::Result<()> {
        connect::close(self.conn).await;
        self.sandbox.release(self.db).await
    }
}
