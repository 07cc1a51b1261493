//! `Catalog`: the snapshots of one database over a check, each read in full only when it has to
//! be. A check takes three snapshots per migration, and a migration changes a few relations of
//! hundreds, so most of every full read is work already done.
//!
//! At its first snapshot the catalog installs the change log (`changelog`: event triggers
//! that record which objects each command created, altered or dropped). Each later snapshot
//! then reads the new log rows (one statement, with guards for roles, tablespaces and
//! settings) and re-reads the relations they name with one call of the re-read function
//! (`reread`: with the tables that inherit from them; the children not written since the last
//! snapshot come back compact and are copied from the last read, `reuse`; and, in the same
//! call, the functions written since when only functions changed, and what depends on a
//! changed function or type), every function and type when a type changed, the extensions when
//! one was created or dropped (its members are not in a snapshot), and what depends on a
//! renamed relation or column (`dependents`); it reads everything when they name anything else
//! (a schema, an altered extension, a privilege…). After a step the log cannot vouch for (it failed
//! outside a transaction, or its text writes to the catalogs), the check calls `distrust` and
//! the next snapshot is read in full. Where the log cannot be installed (event triggers need
//! a superuser), or a step removed it, the catalog probes instead, as follows.
//!
//! A probing snapshot starts with a probe (one query): for every table, view and sequence, whether
//! any catalog row that describes it (its `pg_class` row, its columns, defaults, constraints,
//! indexes, triggers, rules, policies, parents, comments, dependencies and row type) was written
//! since the last snapshot, how many rows describe it in the catalogs where a row can go on its
//! own (a dropped index, a removed comment), and a hash of its indexes' flags; and the same for
//! everything else a snapshot shows or prints names from (schemas, tablespaces, extensions,
//! functions, types, operators, collations, composite types, …), with the settings that change
//! how values print and a digest of the roles' names (a role's row, `pg_authid`, is for
//! superusers only, and the probe is what runs for a role that is not one). A row was written
//! since the last snapshot when its `xmin` is not older than that snapshot's oldest running
//! transaction: only this check writes to its
//! database, and every insert or update writes a row version with a new `xmin`. A row can go
//! without a new row appearing (an index dropped, a comment removed), so the catalogs where that
//! happens are counted; where rows only go with their relation (columns, row types), the
//! relation's own row goes too. `pg_index`'s flags are updated in place, without a new `xmin`,
//! so they are hashed. Triggers that PostgreSQL makes for foreign keys are left out: a snapshot
//! never shows them, and they come and go with a constraint that it does show.
//!
//! Then: if anything global changed, everything is read again (`read`, as `snapshot` does).
//! Otherwise the relations that changed (or are new) are read again,
//! with the same queries narrowed to them, and the others are reused as they were. A relation's
//! text can also name another relation or column (a foreign key, a view, a default's sequence,
//! a partition's parent), so when a re-read shows a relation or a column under a new name (a
//! rename, `SET SCHEMA`), what depends on it is read again too (`dependents`), and everything
//! when something other than a relation, a function or a type depends on it.
//!
//! What the probe does not watch: objects that initdb created (OID below 16384: built-in
//! types, functions, operators, collations…) being renamed, which would change how user
//! objects print. Schemas, roles, tablespaces and extensions are watched whole. `verify` reads
//! everything besides and fails on any difference (the check's hidden `--verify-snapshots`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use sqlx::postgres::types::Oid;
use sqlx::{PgConnection, Postgres, Transaction};

use super::changelog::{self, Changes};
use super::dependents;
use super::reread;
use super::{
    Child, Draft, Kinds, begin, col, end, fetch, functions_since, objects, read,
    read_routines_and_types, settings, user_schema,
};
use crate::check::schema::{
    Column, Constraint, Extension, Function, Index, Schema, SchemaSnapshot, Sequence,
    SnapshotOptions, Table, Trigger, Type, View, diff,
};

/// What a relation (or everything else) looks like to the probe: how many rows of the
/// catalogs where a row can go on its own (an index, a constraint, a comment…) describe it, a
/// hash of its indexes' in-place flags, and whether any row that describes it was written
/// since the last snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Seen {
    rows: i64,
    flags: i64,
    written: bool,
}

impl Seen {
    /// Whether the rows may differ from those `before` counted.
    fn changed_since(&self, before: Option<&Seen>) -> bool {
        self.written || before.is_none_or(|b| (b.rows, b.flags) != (self.rows, self.flags))
    }
}

/// The rows that describe relations, each with the relation it describes (an index's rows and
/// comment count for its table): `$written` keeps only those written since the horizon.
macro_rules! describing {
    ($written:literal) => {
        concat!(
            "SELECT c.oid AS rel FROM pg_class c
               WHERE c.oid >= 16384 AND c.relkind NOT IN ('i', 'I')", $written, "
             UNION ALL SELECT i.indrelid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid
               WHERE c.oid >= 16384 AND c.relkind IN ('i', 'I')", $written, "
             UNION ALL SELECT c.indrelid FROM pg_index c WHERE c.indrelid >= 16384", $written, "
             UNION ALL SELECT c.attrelid FROM pg_attribute c WHERE c.attrelid >= 16384 AND c.attnum > 0", $written, "
             UNION ALL SELECT c.adrelid FROM pg_attrdef c WHERE true", $written, "
             UNION ALL SELECT c.conrelid FROM pg_constraint c WHERE c.conrelid <> 0", $written, "
             UNION ALL SELECT c.tgrelid FROM pg_trigger c WHERE NOT c.tgisinternal", $written, "
             UNION ALL SELECT c.ev_class FROM pg_rewrite c WHERE c.ev_class >= 16384", $written, "
             UNION ALL SELECT c.polrelid FROM pg_policy c WHERE true", $written, "
             UNION ALL SELECT c.inhrelid FROM pg_inherits c WHERE true", $written, "
             UNION ALL SELECT c.seqrelid FROM pg_sequence c WHERE c.seqrelid >= 16384", $written, "
             UNION ALL SELECT c.ftrelid FROM pg_foreign_table c WHERE true", $written, "
             UNION ALL SELECT c.objid FROM pg_depend c
               WHERE c.classid = 'pg_class'::regclass AND c.objid >= 16384 AND c.deptype IN ('e', 'a', 'i')", $written, "
             UNION ALL SELECT coalesce(i.indrelid, c.objoid) FROM pg_description c
               LEFT JOIN pg_index i ON i.indexrelid = c.objoid
               WHERE c.classoid = 'pg_class'::regclass AND c.objoid >= 16384", $written, "
             UNION ALL SELECT k.conrelid FROM pg_description c JOIN pg_constraint k ON k.oid = c.objoid
               WHERE c.classoid = 'pg_constraint'::regclass AND c.objoid >= 16384 AND k.conrelid <> 0", $written, "
             UNION ALL SELECT t.tgrelid FROM pg_description c JOIN pg_trigger t ON t.oid = c.objoid
               WHERE c.classoid = 'pg_trigger'::regclass AND c.objoid >= 16384", $written, "
             UNION ALL SELECT p.polrelid FROM pg_description c JOIN pg_policy p ON p.oid = c.objoid
               WHERE c.classoid = 'pg_policy'::regclass AND c.objoid >= 16384", $written, "
             UNION ALL SELECT c.typrelid FROM pg_type c WHERE c.oid >= 16384 AND c.typrelid <> 0", $written, "
             UNION ALL SELECT e.typrelid FROM pg_type c JOIN pg_type e ON e.oid = c.typelem
               WHERE c.oid >= 16384 AND c.typlen = -1 AND e.typrelid <> 0", $written
        )
    };
}

/// The probe. `$1` is the horizon: the oldest transaction the last snapshot could not see
/// (`txid_snapshot_xmin`), so a row whose `xmin` is not older was written since. Only this
/// check writes to its database, and every insert or update writes a row version with a new
/// `xmin`; a row that goes away on its own goes from a catalog that is counted per relation.
/// Returns one row per table, view and sequence, and one (OID 0) for everything else with the
/// settings that change how values print and the new horizon.
const PROBE: &str = concat!(
    "WITH horizon AS MATERIALIZED (SELECT age((($1::int8 % 4294967296)::text)::xid) AS h),
     written AS (",
    describing!(" AND age(c.xmin) <= (SELECT h FROM horizon)"),
    "), counted(rel, w, f, k) AS (
       SELECT c.oid, 1, 0, CASE WHEN c.relkind = 'S' THEN 16 ELSE 0 END
         FROM pg_class c WHERE c.oid >= 16384 AND c.relkind NOT IN ('i', 'I')
       UNION ALL SELECT indrelid, 1,
              hashint8((indexrelid::int8 << 3) + (indisvalid::int << 2) + (indisready::int << 1) + indislive::int),
              64
         FROM pg_index WHERE indrelid >= 16384
       UNION ALL SELECT adrelid, 1, 0, 0 FROM pg_attrdef
       UNION ALL SELECT conrelid, 1, 0, 32 FROM pg_constraint WHERE conrelid <> 0
       UNION ALL SELECT tgrelid, 1, 0, 1 FROM pg_trigger WHERE NOT tgisinternal
       UNION ALL SELECT ev_class, 1, 0, CASE WHEN rulename <> '_RETURN' THEN 2 ELSE 0 END
         FROM pg_rewrite WHERE ev_class >= 16384
       UNION ALL SELECT polrelid, 1, 0, 4 FROM pg_policy
       UNION ALL SELECT inhrelid, 1, 0, 0 FROM pg_inherits
       UNION ALL SELECT objid, 1, 0, 0 FROM pg_depend
         WHERE classid = 'pg_class'::regclass AND objid >= 16384 AND deptype = 'e'
       UNION ALL SELECT s.seqrelid,
              (SELECT count(*) FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                 AND d.objid = s.seqrelid AND d.deptype IN ('a', 'i')),
              0, 0
         FROM pg_sequence s WHERE s.seqrelid >= 16384
       UNION ALL SELECT coalesce(i.indrelid, d.objoid), 1, 0, 0 FROM pg_description d
         LEFT JOIN pg_index i ON i.indexrelid = d.objoid
         WHERE d.classoid = 'pg_class'::regclass AND d.objoid >= 16384
       UNION ALL SELECT k.conrelid, 1, 0, 0 FROM pg_description d JOIN pg_constraint k ON k.oid = d.objoid
         WHERE d.classoid = 'pg_constraint'::regclass AND d.objoid >= 16384 AND k.conrelid <> 0
       UNION ALL SELECT t.tgrelid, 1, 0, 0 FROM pg_description d JOIN pg_trigger t ON t.oid = d.objoid
         WHERE d.classoid = 'pg_trigger'::regclass AND d.objoid >= 16384
       UNION ALL SELECT p.polrelid, 1, 0, 0 FROM pg_description d JOIN pg_policy p ON p.oid = d.objoid
         WHERE d.classoid = 'pg_policy'::regclass AND d.objoid >= 16384
     ), per AS (
       SELECT rel, sum(w) AS n, sum(f) AS f, bit_or(k) AS k FROM counted GROUP BY rel
     ), fresh AS (
       SELECT DISTINCT rel FROM written
     ), classified AS (
       SELECT coalesce(p.rel, w.rel) AS rel, coalesce(p.n, 0) AS n, coalesce(p.f, 0) AS f,
              coalesce(p.k, 0) AS k, w.rel IS NOT NULL AS written,
              CASE WHEN c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND ",
    user_schema!("n"),
    " THEN 'r'
                   WHEN c.relkind IN ('i', 'I', 't') OR n.nspname LIKE 'pg\\_toast%' THEN 'x'
                   ELSE 'g' END AS class
       FROM per p FULL JOIN fresh w ON w.rel = p.rel
       LEFT JOIN pg_class c ON c.oid = coalesce(p.rel, w.rel)
       LEFT JOIN pg_namespace n ON n.oid = c.relnamespace
     ), global(x) AS (
       SELECT xmin FROM pg_namespace
       UNION ALL SELECT xmin FROM pg_tablespace
       UNION ALL SELECT xmin FROM pg_extension
       UNION ALL SELECT xmin FROM pg_foreign_data_wrapper
       UNION ALL SELECT xmin FROM pg_foreign_server
       UNION ALL SELECT xmin FROM pg_proc WHERE oid >= 16384
       UNION ALL SELECT xmin FROM pg_aggregate WHERE aggfnoid >= 16384
       UNION ALL SELECT xmin FROM pg_language WHERE oid >= 16384
       UNION ALL SELECT xmin FROM pg_operator WHERE oid >= 16384
       UNION ALL SELECT xmin FROM pg_opclass WHERE oid >= 16384
       UNION ALL SELECT xmin FROM pg_opfamily WHERE oid >= 16384
       UNION ALL SELECT xmin FROM pg_am WHERE oid >= 16384
       UNION ALL SELECT xmin FROM pg_collation WHERE oid >= 16384
       UNION ALL SELECT xmin FROM pg_cast WHERE oid >= 16384
       UNION ALL SELECT xmin FROM pg_ts_config WHERE oid >= 16384
       UNION ALL SELECT xmin FROM pg_ts_dict WHERE oid >= 16384
       UNION ALL SELECT xmin FROM pg_type
         WHERE oid >= 16384 AND typrelid = 0 AND NOT (typelem <> 0 AND typlen = -1)
       UNION ALL SELECT xmin FROM pg_enum
       UNION ALL SELECT xmin FROM pg_range WHERE rngtypid >= 16384
       UNION ALL SELECT xmin FROM pg_constraint WHERE conrelid = 0
       UNION ALL SELECT xmin FROM pg_depend
         WHERE classid IN ('pg_proc'::regclass, 'pg_type'::regclass, 'pg_namespace'::regclass)
           AND objid >= 16384
           AND (deptype = 'e' OR (deptype = 'i' AND classid = 'pg_proc'::regclass))
       UNION ALL SELECT xmin FROM pg_description
         WHERE objoid >= 16384 AND classoid NOT IN ('pg_class'::regclass, 'pg_constraint'::regclass,
                                                    'pg_trigger'::regclass, 'pg_policy'::regclass)
       UNION ALL SELECT d.xmin FROM pg_namespace n
         JOIN pg_description d ON d.objoid = n.oid AND d.classoid = 'pg_namespace'::regclass
         WHERE n.oid < 16384
     )
     SELECT rel, n::int8 AS n, f::int8 AS f, k AS k, written, NULL::text AS settings, NULL::int8 AS horizon
     FROM classified WHERE class = 'r'
     UNION ALL
     SELECT 0::oid, (g.n + coalesce(c.n, 0))::int8, coalesce(c.f, 0)::int8, 0,
            g.written OR coalesce(c.written, false),
            ",
    settings!(),
    " || ' roles ' || (SELECT md5(string_agg(oid::text || ':' || rolname, ',' ORDER BY oid)) FROM pg_roles),
            txid_snapshot_xmin(txid_current_snapshot())
     FROM (SELECT count(*) AS n, bool_or(age(x) <= (SELECT h FROM horizon)) AS written FROM global) g,
          (SELECT sum(n) AS n, sum(f) AS f, bool_or(written) AS written FROM classified WHERE class = 'g') c"
);

/// What the probe saw: each relation and the kinds of rows it has, everything else, the
/// settings, and the horizon for the next probe.
struct Probe {
    relations: HashMap<Oid, (Seen, Kinds)>,
    global: Seen,
    settings: String,
    horizon: i64,
}

/// `horizon`: the previous probe's, or 0 before the first (everything counts as written).
async fn probe(conn: &mut PgConnection, horizon: i64) -> anyhow::Result<Probe> {
    let rows = sqlx::query(PROBE)
        .bind(horizon)
        .fetch_all(conn)
        .await
        .context("probing the catalog for changes since the last snapshot")?;
    let mut relations = HashMap::with_capacity(rows.len());
    let mut global = None;
    for row in rows {
        let rel: Oid = col(&row, "rel")?;
        let seen = Seen {
            rows: col(&row, "n")?,
            flags: col(&row, "f")?,
            written: col(&row, "written")?,
        };
        if rel.0 == 0 {
            global = Some((seen, col(&row, "settings")?, col(&row, "horizon")?));
        } else {
            relations.insert(rel, (seen, Kinds(col(&row, "k")?)));
        }
    }
    let (global, settings, horizon) = global.context("the catalog probe returned no global row")?;
    Ok(Probe {
        relations,
        global,
        settings,
        horizon,
    })
}

/// How a snapshot learns what changed since the last one.
enum Look {
    Probe(Probe),
    Log(Changes),
}

/// What one table, view or sequence adds to a snapshot.
#[derive(Debug)]
struct Section {
    key: String,
    body: Body,
    /// Live columns as (attnum, name), to tell a rename from a change.
    columns: Vec<(i16, String)>,
    /// Left out by the snapshot options (a tracking table, or a sequence one owns).
    excluded: bool,
}

#[derive(Debug)]
enum Body {
    Table(Arc<Table>),
    View(Arc<View>),
    Sequence(Sequence),
}

/// Everything a snapshot holds besides the relations: read again only on a full read.
#[derive(Debug, Default)]
struct Rest {
    schemas: BTreeMap<String, Schema>,
    extensions: BTreeMap<String, Extension>,
    functions: BTreeMap<String, Function>,
    types: BTreeMap<String, Type>,
}

/// What the last snapshot's look saw, to compare the next one with.
#[derive(Debug)]
enum Watch {
    Probe {
        global: Seen,
        relations: HashMap<Oid, Seen>,
    },
    Log {
        last: i64,
        shared_rows: i64,
    },
}

#[derive(Debug)]
struct State {
    watch: Watch,
    settings: String,
    horizon: i64,
    sections: HashMap<Oid, Section>,
    /// The relation of each index read (an index's drop does not name its table).
    owners: HashMap<Oid, Oid>,
    rest: Rest,
}

/// The last snapshot's indexes: by OID, or else by name (an index built again by
/// `ALTER COLUMN … TYPE` has a new OID and the same name). A name another table's index took
/// since would have that table read again too; the index's creation named it.
impl changelog::IndexOwners for State {
    fn table_of(&self, oid: Oid, name: Option<&[String; 2]>) -> Option<Oid> {
        if let Some(table) = self.owners.get(&oid) {
            return Some(*table);
        }
        let [schema, index] = name?;
        self.sections.iter().find_map(|(oid, section)| {
            let indexes = match &section.body {
                Body::Table(table) => &table.indexes,
                Body::View(view) => &view.indexes,
                Body::Sequence(_) => return None,
            };
            let in_schema = section
                .key
                .strip_prefix(schema.as_str())
                .is_some_and(|rest| rest.starts_with('.'));
            (in_schema && indexes.contains_key(index)).then_some(*oid)
        })
    }
}

/// How much each snapshot had to read (for `-v`).
#[derive(Debug, Default, Clone, Copy)]
pub struct CatalogStats {
    /// Snapshots read in full.
    pub full: u32,
    /// Snapshots that re-read some relations only.
    pub partial: u32,
    /// Snapshots that reused every relation.
    pub reused: u32,
    /// Relations re-read by partial snapshots.
    pub relations: u32,
    /// Time in the probe (or the change log), in partial re-reads and in full reads
    /// (transaction included).
    pub probing: Duration,
    pub rereading: Duration,
    pub reading: Duration,
}

/// The snapshots of one database, read incrementally (see the module documentation).
#[derive(Debug)]
pub struct Catalog {
    options: SnapshotOptions,
    verify: bool,
    /// Whether the change log is installed (`None`: not tried yet).
    log: Option<bool>,
    /// The next snapshot must be read in full (see `distrust`).
    distrusted: bool,
    state: Option<State>,
    stats: CatalogStats,
}

impl Catalog {
    /// `verify`: also read every snapshot in full, and fail when the two differ.
    pub fn new(options: SnapshotOptions, verify: bool) -> Catalog {
        Catalog {
            options,
            verify,
            log: None,
            distrusted: false,
            state: None,
            stats: CatalogStats::default(),
        }
    }

    /// A catalog that probes by `xmin` and never installs the change log.
    pub fn probing(options: SnapshotOptions, verify: bool) -> Catalog {
        Catalog {
            log: Some(false),
            ..Catalog::new(options, verify)
        }
    }

    pub fn stats(&self) -> CatalogStats {
        self.stats
    }

    /// Whether snapshots follow the change log (installed at the first snapshot).
    pub fn follows_log(&self) -> bool {
        self.log == Some(true)
    }

    /// Reads the next snapshot in full: the database changed in a way the change log may not
    /// show (a step failed outside a transaction, or wrote to the system catalogs).
    pub fn distrust(&mut self) {
        self.distrusted = true;
    }

    /// A snapshot of the schema `conn` sees, equal to what `super::snapshot` reads. `conn`
    /// must not be inside a transaction, and must be the database this `Catalog` read before.
    pub async fn snapshot(&mut self, conn: &mut PgConnection) -> anyhow::Result<SchemaSnapshot> {
        let start = Instant::now();
        if self.log.is_none() {
            self.log = Some(changelog::install(conn).await);
        }
        if self.log == Some(true) {
            self.follow_log(conn, start).await?;
        } else {
            self.probe(conn, start).await?;
        }
        let snapshot = self
            .state
            .as_ref()
            .context("no snapshot state after a read")?
            .assemble();
        if self.verify {
            let full = super::snapshot(conn, &self.options).await?;
            if full != snapshot {
                let lines: Vec<String> = diff(&full, &snapshot)
                    .iter()
                    .map(ToString::to_string)
                    .collect();
                anyhow::bail!(
                    "the incremental schema snapshot differs from a full one in {} place(s) (full → incremental): {}",
                    lines.len().max(1),
                    if lines.is_empty() {
                        "(no diff line; the JSON differs)".to_string()
                    } else {
                        lines.join("; ")
                    }
                );
            }
        }
        Ok(snapshot)
    }

    /// A snapshot from the change log: the log (one statement), then the re-read function (one
    /// statement) when the log names relations, functions or types, with no transaction around
    /// them (only the check writes to its database). What that function does not read (what
    /// depends on a renamed relation, every function and type after a type changed) and full
    /// reads run in the snapshot's transaction (`begin`), as the probe does.
    async fn follow_log(&mut self, conn: &mut PgConnection, start: Instant) -> anyhow::Result<()> {
        let last = match self.state.as_ref().map(|s| &s.watch) {
            Some(Watch::Log { last, .. }) => *last,
            _ => 0,
        };
        let horizon = self.state.as_ref().map_or(0, |s| s.horizon);
        let Ok(changes) = changelog::read(conn, last, horizon).await else {
            // A step dropped the log's schema or function: probe from now on (a full read
            // first, since the state follows the log).
            self.log = Some(false);
            return self.probe(conn, start).await;
        };
        let looked = Instant::now();
        self.stats.probing += looked - start;
        let refreshed = match self.state.as_mut() {
            Some(state) if !self.distrusted => {
                refresh_log(state, conn, &changes, &self.options, &mut self.stats).await?
            }
            _ => false,
        };
        if refreshed {
            self.stats.rereading += looked.elapsed();
        } else {
            let mut tx = begin(conn).await?;
            let draft = read(&mut tx, None, Kinds::ALL).await?;
            end(tx).await?;
            self.start_over(draft, Look::Log(changes), looked);
        }
        Ok(())
    }

    /// Takes a full read as the new state (`since`: when the read began, for the stats).
    fn start_over(&mut self, draft: Draft, look: Look, since: Instant) {
        self.state = Some(State::new(draft, look, &self.options));
        self.distrusted = false;
        self.stats.full += 1;
        self.stats.reading += since.elapsed();
    }

    /// A snapshot by probing, in one read-only transaction: the probe, then the relations it
    /// shows changed, or everything.
    async fn probe(&mut self, conn: &mut PgConnection, start: Instant) -> anyhow::Result<()> {
        let mut tx = begin(conn).await?;
        let horizon = self.state.as_ref().map_or(0, |s| s.horizon);
        let look = probe(&mut tx, horizon).await?;
        let probed = Instant::now();
        self.stats.probing += probed - start;
        let refreshed = match self.state.as_mut() {
            Some(state) if !self.distrusted => {
                refresh_probe(state, &mut tx, &look, &self.options, &mut self.stats).await?
            }
            _ => false,
        };
        if refreshed {
            end(tx).await?;
            self.stats.rereading += probed.elapsed();
        } else {
            let draft = read(&mut tx, None, Kinds::ALL).await?;
            end(tx).await?;
            self.start_over(draft, Look::Probe(look), probed);
        }
        Ok(())
    }
}

/// Re-reads the relations that the probe shows changed; false when a full read is needed
/// instead. `conn` is in the snapshot's transaction.
async fn refresh_probe(
    state: &mut State,
    conn: &mut PgConnection,
    probe: &Probe,
    options: &SnapshotOptions,
    stats: &mut CatalogStats,
) -> anyhow::Result<bool> {
    let Watch::Probe { global, relations } = &state.watch else {
        return Ok(false);
    };
    if probe.global.changed_since(Some(global)) || probe.settings != state.settings {
        return Ok(false);
    }
    let mut kinds = Kinds(0);
    let changed: Vec<Oid> = probe
        .relations
        .iter()
        .filter(|(oid, (seen, _))| seen.changed_since(relations.get(oid)))
        .map(|(oid, (_, k))| {
            kinds.0 |= k.0;
            *oid
        })
        .collect();
    let gone: Vec<Oid> = relations
        .keys()
        .filter(|oid| !probe.relations.contains_key(oid))
        .copied()
        .collect();
    state.horizon = probe.horizon;
    let fresh = if changed.is_empty() {
        Draft::default()
    } else {
        read(conn, Some(&changed), kinds).await?
    };
    let asked = Reread {
        changed: &changed,
        gone: &gone,
        routines: false,
        altered: &[],
        fresh,
        besides: reread::Extras::default(),
    };
    if !merge(state, conn, true, asked, options, stats).await? {
        return Ok(false);
    }
    let Watch::Probe { relations, .. } = &mut state.watch else {
        return Ok(false);
    };
    for oid in &gone {
        relations.remove(oid);
    }
    for oid in &changed {
        relations.insert(*oid, probe.relations[oid].0);
    }
    Ok(true)
}

/// Re-reads the relations that the change log names (through the re-read function); false
/// when a full read is needed instead. `conn` is in no transaction.
async fn refresh_log(
    state: &mut State,
    conn: &mut PgConnection,
    changes: &Changes,
    options: &SnapshotOptions,
    stats: &mut CatalogStats,
) -> anyhow::Result<bool> {
    let Watch::Log { last, shared_rows } = &mut state.watch else {
        return Ok(false);
    };
    if !changes.armed
        || changes.shared_written
        || changes.shared_rows != *shared_rows
        || changes.settings != state.settings
    {
        return Ok(false);
    }
    *last = changes.last;
    // Rows written since this horizon are new to the state; the re-read function renders only those.
    let since = std::mem::replace(&mut state.horizon, changes.horizon);
    let Some(targets) = changelog::targets(&changes.changes, &*state) else {
        return Ok(false);
    };
    let changelog::Targets {
        mut changed,
        mut gone,
        routines,
        types,
        altered,
        extensions,
    } = targets;
    if extensions {
        let mut draft = Draft::default();
        objects::extensions(
            &mut draft,
            fetch(conn, objects::EXTENSIONS, None, "extensions").await?,
        )?;
        state.rest.extensions = draft.extensions;
    }
    if changed.is_empty() && gone.is_empty() && !routines {
        if extensions {
            stats.partial += 1;
        } else {
            stats.reused += 1;
        }
        return Ok(true);
    }
    // A command on a parent reaches its partitions and children without naming them;
    // those attached now are found by the re-read function, those detached are still in the
    // state.
    let parents: HashSet<&str> = changed
        .iter()
        .filter_map(|oid| state.sections.get(oid))
        .map(|s| s.key.as_str())
        .collect();
    if !parents.is_empty() {
        for (oid, section) in &state.sections {
            if let Body::Table(table) = &section.body
                && (table
                    .partition_of
                    .as_ref()
                    .is_some_and(|p| parents.contains(p.parent.as_str()))
                    || table.inherits.iter().any(|p| parents.contains(p.as_str())))
            {
                changed.insert(*oid);
            }
        }
    }
    // The sequences the changed tables own (`schema.table.column`) may be gone.
    let owned: Vec<Oid> = state
        .sections
        .iter()
        .filter(|(_, s)| match &s.body {
            Body::Sequence(sequence) => sequence
                .owned_by
                .as_deref()
                .and_then(|column| column.rsplit_once('.'))
                .is_some_and(|(table, _)| parents.contains(table)),
            _ => false,
        })
        .map(|(oid, _)| *oid)
        .collect();
    // When only functions changed, the function reads them too (those written since), and
    // what depends on the functions and types altered; and a child copied from the last read
    // would print their names as they were then (a rename), so it renders every child.
    let functions = (routines && !types).then_some(since);
    let (fresh, besides) = if changed.is_empty() && functions.is_none() && altered.is_empty() {
        (Draft::default(), reread::Extras::default())
    } else {
        let named: Vec<Oid> = changed.iter().copied().collect();
        let ask = reread::Ask {
            named: &named,
            owned: &owned,
            since: if routines { 0 } else { since },
            functions,
            altered: &altered,
        };
        let read = reread::reread(conn, ask).await?;
        changed.extend(read.reach.rels);
        gone.extend(read.reach.vanished);
        (read.draft, read.extras)
    };
    changed.retain(|oid| !gone.contains(oid));
    let changed: Vec<Oid> = changed.into_iter().collect();
    let gone: Vec<Oid> = gone.into_iter().collect();
    let asked = Reread {
        changed: &changed,
        gone: &gone,
        routines,
        altered: &altered,
        fresh,
        besides,
    };
    merge(state, conn, false, asked, options, stats).await
}

/// What a snapshot read again, and what it asks to read besides.
struct Reread<'a> {
    /// Relations created or changed, and those dropped.
    changed: &'a [Oid],
    gone: &'a [Oid],
    /// Read the functions and types again.
    routines: bool,
    /// Functions and types created or changed (catalog, OID): their dependents too.
    altered: &'a [(Oid, Oid)],
    /// The relations `changed` as read (those that still exist).
    fresh: Draft,
    /// What the re-read function read of the rest.
    besides: reread::Extras,
}

/// Whether a relation was renamed or had a column renamed between two reads.
fn renamed(old: &Section, new: &Section) -> bool {
    new.key != old.key
        || old.columns.iter().any(|(attnum, name)| {
            new.columns
                .iter()
                .any(|(n, new_name)| n == attnum && new_name != name)
        })
}

/// Puts what `asked` read again into the state, after reading what prints the names of what
/// was renamed or changed (`dependents`) and the functions and types when asked; false when a
/// full read is needed instead. Those reads run in the snapshot's transaction: `conn`'s own
/// when `in_transaction`, else one begun here.
async fn merge(
    state: &mut State,
    conn: &mut PgConnection,
    in_transaction: bool,
    asked: Reread<'_>,
    options: &SnapshotOptions,
    stats: &mut CatalogStats,
) -> anyhow::Result<bool> {
    let Reread {
        changed,
        gone,
        routines,
        altered,
        mut fresh,
        besides: read,
    } = asked;
    if changed.is_empty() && gone.is_empty() && !routines {
        stats.reused += 1;
        return Ok(true);
    }
    let reused = !fresh.reused.is_empty();
    if !reuse(&mut fresh, &state.sections) {
        return Ok(false);
    }
    state.owners.extend(std::mem::take(&mut fresh.index_owners));
    let mut fresh = sections(fresh, options);
    // Other objects print a relation's name and its columns' names, a function's or a type's.
    let mut names_changed = Vec::new();
    for oid in changed {
        let Some(old) = state.sections.get(oid) else {
            continue;
        };
        let Some(new) = fresh.get(oid) else {
            return Ok(false);
        };
        if renamed(old, new) {
            names_changed.push(*oid);
        }
    }
    let mut read_again: Vec<Oid> = changed.to_vec();
    if !names_changed.is_empty() || !altered.is_empty() || routines {
        let besides = Besides {
            names_changed: &names_changed,
            altered,
            routines,
            changed,
            gone,
            // A child copied from the last read prints names as they were then: after a
            // rename, read those relations whole (after a change to a function or a type,
            // the re-read function rendered every child already).
            whole: reused,
        };
        let mut reader = if in_transaction {
            Reader::Within(conn)
        } else {
            Reader::Idle(conn)
        };
        let found = besides.read(state, &mut reader, read, options).await?;
        reader.finish().await?;
        let Some(found) = found else {
            return Ok(false);
        };
        fresh.extend(found.whole);
        fresh.extend(found.more);
        read_again.extend(found.extra);
        if let Some(functions) = found.functions {
            state.rest.functions = functions;
        }
        if let Some(types) = found.types {
            state.rest.types = types;
        }
    }
    for oid in gone {
        state.sections.remove(oid);
    }
    for oid in &read_again {
        match fresh.remove(oid) {
            Some(section) => state.sections.insert(*oid, section),
            None => state.sections.remove(oid),
        };
    }
    stats.partial += 1;
    stats.relations += u32::try_from(read_again.len()).unwrap_or(u32::MAX);
    Ok(true)
}

/// What a re-read reads besides the relations it names: what depends on the renamed
/// relations and the changed functions and types, and the functions and types themselves.
struct Besides<'a> {
    names_changed: &'a [Oid],
    altered: &'a [(Oid, Oid)],
    routines: bool,
    changed: &'a [Oid],
    gone: &'a [Oid],
    /// Read the relations `changed` again, whole (their children were copied).
    whole: bool,
}

/// What `Besides` read.
struct Found {
    /// The relations `changed`, read whole (when asked).
    whole: HashMap<Oid, Section>,
    /// The dependents, by OID, and which they are.
    more: HashMap<Oid, Section>,
    extra: Vec<Oid>,
    /// The functions, and the types, when read.
    functions: Option<BTreeMap<String, Function>>,
    types: Option<BTreeMap<String, Type>>,
}

impl Besides<'_> {
    /// `None` when only a full read shows what changed. `read`: what the re-read function
    /// read already (the dependents of `altered`, which do for no rename; the functions).
    async fn read(
        &self,
        state: &mut State,
        reader: &mut Reader<'_>,
        read: reread::Extras,
        options: &SnapshotOptions,
    ) -> anyhow::Result<Option<Found>> {
        let mut found = Found {
            whole: HashMap::new(),
            more: HashMap::new(),
            extra: Vec::new(),
            functions: None,
            types: None,
        };
        if self.whole {
            let mut draft =
                super::read(reader.conn().await?, Some(self.changed), Kinds::ALL).await?;
            state.owners.extend(std::mem::take(&mut draft.index_owners));
            found.whole = sections(draft, options);
        }
        let mut routines = self.routines;
        let mut functions = read.functions;
        if !self.names_changed.is_empty() || !self.altered.is_empty() {
            let dependents = match read.dependents {
                Some(rows) if self.names_changed.is_empty() => dependents::classify(rows)?,
                _ => {
                    let conn = reader.conn().await?;
                    dependents::dependents(conn, self.names_changed, self.altered).await?
                }
            };
            let Some(dependents) = dependents else {
                return Ok(None);
            };
            if dependents.routines {
                // A function or a type prints what changed without its own row being written.
                routines = true;
                functions = None;
            }
            found.extra = dependents
                .rels
                .into_iter()
                .filter(|oid| {
                    !self.changed.contains(oid)
                        && !self.gone.contains(oid)
                        && state.sections.contains_key(oid)
                })
                .collect();
            if !found.extra.is_empty() {
                let conn = reader.conn().await?;
                let mut draft = super::read(conn, Some(&found.extra), Kinds::ALL).await?;
                state.owners.extend(std::mem::take(&mut draft.index_owners));
                found.more = sections(draft, options);
                // They print the new names; their own names stay (a view's columns keep theirs).
                for oid in &found.extra {
                    match (state.sections.get(oid), found.more.get(oid)) {
                        (Some(old), Some(new)) if !renamed(old, new) => {}
                        _ => return Ok(None),
                    }
                }
            }
        }
        if routines {
            if let Some((rows, grants)) = functions {
                found.functions = functions_since(rows, grants, &state.rest.functions)?;
            }
            if found.functions.is_none() {
                let mut draft = read_routines_and_types(reader.conn().await?).await?;
                found.functions = Some(std::mem::take(&mut draft.functions));
                found.types = Some(std::mem::take(&mut draft.types));
            }
        }
        Ok(Some(found))
    }
}

/// The connection `Besides` reads with, in the snapshot's transaction: the caller's
/// (`Within`), or one begun on first use (`Idle`, then `Open`), so that what the re-read
/// function read already costs no round trip.
enum Reader<'c> {
    Within(&'c mut PgConnection),
    Idle(&'c mut PgConnection),
    Open(Transaction<'c, Postgres>),
    /// Only while beginning.
    Beginning,
}

impl Reader<'_> {
    async fn conn(&mut self) -> anyhow::Result<&mut PgConnection> {
        if let Reader::Idle(_) = self
            && let Reader::Idle(conn) = std::mem::replace(self, Reader::Beginning)
        {
            *self = Reader::Open(begin(conn).await?);
        }
        match self {
            Reader::Within(conn) | Reader::Idle(conn) => Ok(conn),
            Reader::Open(tx) => Ok(tx),
            Reader::Beginning => anyhow::bail!("the snapshot's transaction failed to begin"),
        }
    }

    /// Ends the transaction begun here, if any.
    async fn finish(self) -> anyhow::Result<()> {
        match self {
            Reader::Open(tx) => end(tx).await,
            _ => Ok(()),
        }
    }
}

/// Fills in what the re-read function left out of the children it did not write whole
/// (`Reused`) from the last read of their relation; false when one is not there (a full read
/// is needed instead).
fn reuse(draft: &mut Draft, last: &HashMap<Oid, Section>) -> bool {
    for reused in std::mem::take(&mut draft.reused) {
        let Some(section) = draft.oids.get(&reused.key).and_then(|oid| last.get(oid)) else {
            return false;
        };
        let old = match &section.body {
            Body::Table(table) => ChildMaps::of_table(table),
            Body::View(view) => ChildMaps::of_view(view),
            Body::Sequence(_) => return false,
        };
        let new = match (draft.tables.get_mut(&reused.key), &section.body) {
            (Some(table), Body::Table(_)) => ChildMapsMut::of_table(table),
            (None, Body::View(_)) => match draft.views.get_mut(&reused.key) {
                Some(view) => ChildMapsMut::of_view(view),
                None => return false,
            },
            _ => return false,
        };
        let name = reused.name.as_str();
        let filled = match reused.child {
            Child::Column => fill_column(old.columns.get(name), new.columns.get_mut(name)),
            Child::Constraint => fill(
                old.constraints.and_then(|c| c.get(name)),
                new.constraints.and_then(|c| c.get_mut(name)),
                |old, new| Constraint {
                    comment: new.comment.take(),
                    ..old.clone()
                },
            ),
            Child::Index => fill(old.indexes.get(name), new.indexes.get_mut(name), fill_index),
            Child::Trigger => fill(
                old.triggers.get(name),
                new.triggers.get_mut(name),
                fill_trigger,
            ),
        };
        if !filled {
            return false;
        }
    }
    true
}

/// The children of a table or a view alike (a view has no constraints), borrowed from the last
/// read (`ChildMaps`) or from the draft being filled in (`ChildMapsMut`).
struct Children<C, X, I, T> {
    columns: C,
    constraints: Option<X>,
    indexes: I,
    triggers: T,
}

type ChildMaps<'a> = Children<
    &'a BTreeMap<String, Column>,
    &'a BTreeMap<String, Constraint>,
    &'a BTreeMap<String, Index>,
    &'a BTreeMap<String, Trigger>,
>;

type ChildMapsMut<'a> = Children<
    &'a mut BTreeMap<String, Column>,
    &'a mut BTreeMap<String, Constraint>,
    &'a mut BTreeMap<String, Index>,
    &'a mut BTreeMap<String, Trigger>,
>;

impl<'a> ChildMaps<'a> {
    fn of_table(table: &'a Table) -> Self {
        Children {
            columns: &table.columns,
            constraints: Some(&table.constraints),
            indexes: &table.indexes,
            triggers: &table.triggers,
        }
    }

    fn of_view(view: &'a View) -> Self {
        Children {
            columns: &view.columns,
            constraints: None,
            indexes: &view.indexes,
            triggers: &view.triggers,
        }
    }
}

impl<'a> ChildMapsMut<'a> {
    fn of_table(table: &'a mut Table) -> Self {
        Children {
            columns: &mut table.columns,
            constraints: Some(&mut table.constraints),
            indexes: &mut table.indexes,
            triggers: &mut table.triggers,
        }
    }

    fn of_view(view: &'a mut View) -> Self {
        Children {
            columns: &mut view.columns,
            constraints: None,
            indexes: &mut view.indexes,
            triggers: &mut view.triggers,
        }
    }
}

/// Replaces `new` (what the compact row gave) with `with(old, new)`; false when either is
/// missing.
fn fill<T>(old: Option<&T>, new: Option<&mut T>, with: impl Fn(&T, &mut T) -> T) -> bool {
    let (Some(old), Some(new)) = (old, new) else {
        return false;
    };
    *new = with(old, new);
    true
}

/// A column as last read, at its position now, with its comment and privileges now.
fn fill_column(old: Option<&Column>, new: Option<&mut Column>) -> bool {
    fill(old, new, |old, new| Column {
        position: new.position,
        comment: new.comment.take(),
        grants: std::mem::take(&mut new.grants),
        ..old.clone()
    })
}

/// An index as last read, with its flags (updated in place, without a new row) and comment now.
fn fill_index(old: &Index, new: &mut Index) -> Index {
    Index {
        valid: new.valid,
        ready: new.ready,
        comment: new.comment.take(),
        ..old.clone()
    }
}

fn fill_trigger(old: &Trigger, new: &mut Trigger) -> Trigger {
    Trigger {
        comment: new.comment.take(),
        ..old.clone()
    }
}

/// The relations of a draft, by OID.
fn sections(mut draft: Draft, options: &SnapshotOptions) -> HashMap<Oid, Section> {
    let mut out = HashMap::with_capacity(draft.oids.len());
    for (key, oid) in std::mem::take(&mut draft.oids) {
        let columns = draft.attnums.remove(&key).unwrap_or_default();
        let (body, excluded) = if let Some(table) = draft.tables.remove(&key) {
            (Body::Table(Arc::new(table)), options.excludes(&key))
        } else if let Some(view) = draft.views.remove(&key) {
            (Body::View(Arc::new(view)), false)
        } else if let Some(sequence) = draft.sequences.remove(&key) {
            let excluded = sequence
                .owned_by
                .as_deref()
                .and_then(|column| column.rsplit_once('.'))
                .is_some_and(|(table, _)| options.excludes(table));
            (Body::Sequence(sequence), excluded)
        } else {
            continue;
        };
        out.insert(
            oid,
            Section {
                key,
                body,
                columns,
                excluded,
            },
        );
    }
    out
}

impl State {
    fn new(mut draft: Draft, look: Look, options: &SnapshotOptions) -> State {
        let rest = Rest {
            schemas: std::mem::take(&mut draft.schemas),
            extensions: std::mem::take(&mut draft.extensions),
            functions: std::mem::take(&mut draft.functions),
            types: std::mem::take(&mut draft.types),
        };
        let (watch, settings, horizon) = match look {
            Look::Probe(probe) => (
                Watch::Probe {
                    global: probe.global,
                    relations: probe
                        .relations
                        .into_iter()
                        .map(|(oid, (f, _))| (oid, f))
                        .collect(),
                },
                probe.settings,
                probe.horizon,
            ),
            Look::Log(changes) => (
                Watch::Log {
                    last: changes.last,
                    shared_rows: changes.shared_rows,
                },
                changes.settings,
                changes.horizon,
            ),
        };
        State {
            watch,
            settings,
            horizon,
            owners: std::mem::take(&mut draft.index_owners)
                .into_iter()
                .collect(),
            sections: sections(draft, options),
            rest,
        }
    }

    fn assemble(&self) -> SchemaSnapshot {
        let mut snapshot = SchemaSnapshot {
            schemas: self.rest.schemas.clone(),
            extensions: self.rest.extensions.clone(),
            functions: self.rest.functions.clone(),
            types: self.rest.types.clone(),
            ..SchemaSnapshot::default()
        };
        for section in self.sections.values().filter(|s| !s.excluded) {
            let key = section.key.clone();
            match &section.body {
                Body::Table(table) => {
                    snapshot.tables.insert(key, Arc::clone(table));
                }
                Body::View(view) => {
                    snapshot.views.insert(key, Arc::clone(view));
                }
                Body::Sequence(sequence) => {
                    snapshot.sequences.insert(key, sequence.clone());
                }
            }
        }
        snapshot
    }
}
