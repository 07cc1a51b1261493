//! The catalog edge: reads a database's schema into a `SchemaSnapshot`, one query per object
//! kind (`OBJECTS`, then `PARTS`), each row as `to_json` writes it (`rows`), in one read-only
//! repeatable-read transaction (a consistent view), with the search path fixed to
//! `pg_catalog, public` so names print the same on every connection. System schemas and the
//! members of extensions are left out here; the tracking tables by the domain.
//!
//! `snapshot` reads everything. `Catalog` gives the same snapshot for a database it read
//! before, re-reading only the relations whose catalog rows changed since (see `incremental`),
//! through a function written from the same `PARTS` (`reread`).

mod changelog;
mod dependents;
mod incremental;
mod objects;
mod relations;
mod reread;
mod rows;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use sqlx::postgres::PgRow;
use sqlx::postgres::types::Oid;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Postgres, Row as _, Transaction};

use rows::Row;

use crate::check::schema::{
    Extension, Function, Schema, SchemaSnapshot, Sequence, SnapshotOptions, Table, Type, View,
};

pub use changelog::{SCHEMA as CHANGE_LOG_SCHEMA, hidden_from_change_log};
pub use incremental::{Catalog, CatalogStats};

/// `{alias}` is a user schema: not `pg_catalog`, `pg_toast*`, `pg_temp*` (every `pg_` name is
/// reserved for the system), `information_schema`, nor the check's change log
/// (`upcycle_sandbox`, see `changelog`).
macro_rules! user_schema {
    ($n:literal) => {
        concat!(
            $n,
            ".nspname NOT LIKE 'pg\\_%' AND ",
            $n,
            ".nspname NOT IN ('information_schema', 'upcycle_sandbox')"
        )
    };
}

/// The settings that change how values print, as one text value (compared between snapshots).
macro_rules! settings {
    () => {
        "concat_ws(' ', current_setting('DateStyle'), current_setting('IntervalStyle'),
                      current_setting('TimeZone'), current_setting('extra_float_digits'),
                      current_setting('bytea_output'), current_setting('quote_all_identifiers'),
                      current_setting('standard_conforming_strings'), current_setting('lc_monetary'),
                      current_setting('xmloption'), current_setting('xmlbinary'))"
    };
}

/// The planner cost that catalog reads run with, as a `SET` clause or `SET LOCAL` takes it:
/// a throwaway database's catalogs are small and in memory, and at the default (4) the
/// generic plans of the narrowed queries scanned `pg_class` and `pg_attribute` whole instead
/// of looking up a few OIDs (a re-read took twice as long). Set by a snapshot's transaction
/// (`begin`) and by the change log's read and re-read functions; the steps keep the server's.
macro_rules! planner_costs {
    () => {
        "random_page_cost = 1"
    };
}

/// The object `{oid}` of catalog `{catalog}` is not a member of an extension.
macro_rules! not_in_extension {
    ($catalog:literal, $oid:literal) => {
        concat!(
            "NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.classid = '",
            $catalog,
            "'::regclass AND e.objid = ",
            $oid,
            " AND e.deptype = 'e')"
        )
    };
}

/// `schema.name` as `quote_ident` writes each part, from a namespace and a name column.
macro_rules! qualified {
    ($n:literal, $name:literal) => {
        concat!(
            "quote_ident(",
            $n,
            ".nspname) || '.' || quote_ident(",
            $name,
            ")"
        )
    };
}

pub(crate) use {not_in_extension, planner_costs, qualified, settings, user_schema};

/// A snapshot of the schema `conn` sees. `conn` must not be inside a transaction.
pub async fn snapshot(
    conn: &mut PgConnection,
    options: &SnapshotOptions,
) -> anyhow::Result<SchemaSnapshot> {
    let mut tx = begin(conn).await?;
    let draft = read(&mut tx, None, Kinds::ALL).await?;
    end(tx).await?;
    let mut snapshot = draft.into_snapshot();
    snapshot.exclude(options);
    Ok(snapshot)
}

/// The read-only repeatable-read transaction a snapshot is read in, with the search path that
/// names print against and the planner costs of catalog reads (`planner_costs`).
async fn begin(conn: &mut PgConnection) -> anyhow::Result<Transaction<'_, Postgres>> {
    conn.begin_with(concat!(
        "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL search_path TO pg_catalog, public; \
         SET LOCAL plan_cache_mode TO force_generic_plan; SET LOCAL ",
        planner_costs!()
    ))
    .await
    .context("starting the read-only transaction for the schema snapshot")
}

async fn end(tx: Transaction<'_, Postgres>) -> anyhow::Result<()> {
    tx.rollback()
        .await
        .context("ending the schema snapshot's transaction")
}

/// A query over relations and what its rows add to a draft: one row of `PARTS`.
struct Part {
    /// Names the query in errors.
    what: &'static str,
    /// Every relation's rows, those of the relations `$1` only, and those as the re-read
    /// function asks for them.
    query: &'static Scoped,
    /// The kind of row (`Kinds`) a relation must have for the query to find anything in it;
    /// `None`: every relation has some.
    kind: Option<i32>,
    /// For a query with a `reusing` variant: the columns the re-read function returns of a
    /// row it did not write whole (`written` false), as `json_build_object` arguments over
    /// the row `q`. The decoder reads only those of such a row.
    compact: Option<&'static str>,
    apply: fn(&mut Draft, Vec<Row>) -> anyhow::Result<()>,
}

impl Part {
    /// Whether a read of relations that have `kinds` of rows needs this query.
    fn needed(&self, kinds: Kinds) -> bool {
        self.kind.is_none_or(|k| kinds.has(k))
    }
}

/// The queries over relations, in the order a read runs them (a column goes to a table or
/// view read before it; a privilege to an object read before it). A full read runs them after
/// the objects (`OBJECTS`), a partial one on its own, and the change log's re-read function
/// is written from this table (`reread`).
static PARTS: [Part; 9] = [
    Part {
        what: "tables and views",
        query: &relations::RELATIONS,
        kind: None,
        compact: None,
        apply: relations::relations,
    },
    Part {
        what: "columns",
        query: &relations::COLUMNS,
        kind: None,
        compact: Some(
            "'key', q.key, 'relkind', q.relkind, 'name', q.name, 'attnum', q.attnum, 'position', q.position, 'comment', q.comment, 'written', false",
        ),
        apply: relations::columns,
    },
    Part {
        what: "constraints",
        query: &relations::CONSTRAINTS,
        kind: Some(Kinds::CONSTRAINTS),
        compact: Some("'key', q.key, 'name', q.name, 'comment', q.comment, 'written', false"),
        apply: relations::constraints,
    },
    Part {
        what: "indexes",
        query: &relations::INDEXES,
        kind: Some(Kinds::INDEXES),
        compact: Some(
            "'key', q.key, 'rel', q.rel, 'index', q.index, 'name', q.name, 'valid', q.valid, 'ready', q.ready, 'comment', q.comment, 'written', false",
        ),
        apply: relations::indexes,
    },
    Part {
        what: "triggers",
        query: &relations::TRIGGERS,
        kind: Some(Kinds::TRIGGERS),
        compact: Some("'key', q.key, 'name', q.name, 'comment', q.comment, 'written', false"),
        apply: relations::triggers,
    },
    Part {
        what: "rules",
        query: &relations::RULES,
        kind: Some(Kinds::RULES),
        compact: None,
        apply: relations::rules,
    },
    Part {
        what: "policies",
        query: &relations::POLICIES,
        kind: Some(Kinds::POLICIES),
        compact: None,
        apply: relations::policies,
    },
    Part {
        what: "sequences",
        query: &objects::SEQUENCES,
        kind: Some(Kinds::SEQUENCES),
        compact: None,
        apply: objects::sequences,
    },
    Part {
        what: "privileges",
        query: &objects::PRIVILEGES,
        kind: None,
        compact: None,
        apply: objects::grants,
    },
];

/// The objects that are not relations, read first by a full read: (what, query, decoder).
type Objects = [(
    &'static str,
    &'static str,
    fn(&mut Draft, Vec<Row>) -> anyhow::Result<()>,
); 4];

static OBJECTS: Objects = [
    ("schemas", objects::SCHEMAS, objects::schemas),
    ("extensions", objects::EXTENSIONS, objects::extensions),
    ("types", objects::TYPES, objects::types),
    ("functions", objects::FUNCTIONS, objects::functions),
];

/// Reads every object (`only` is `None`), or only the relations `only` (tables, views and
/// sequences, with everything that hangs off them), leaving out the kinds of children that
/// `kinds` says none of them has.
async fn read(conn: &mut PgConnection, only: Only<'_>, kinds: Kinds) -> anyhow::Result<Draft> {
    let mut draft = Draft::default();
    if only.is_none() {
        for (what, sql, apply) in &OBJECTS {
            let rows = fetch(conn, sql, None, what).await?;
            apply(&mut draft, rows)?;
        }
    }
    for part in &PARTS {
        let rows = match only {
            None => fetch(conn, part.query.all, None, part.what).await?,
            Some(_) if !part.needed(kinds) => continue,
            Some(oids) => fetch(conn, part.query.some(), Some(oids), part.what).await?,
        };
        (part.apply)(&mut draft, rows)?;
    }
    Ok(draft)
}

/// Reads what depends on no relation's text: functions and types (composite types with their
/// attributes), with their privileges. Schemas and extensions are left empty.
async fn read_routines_and_types(conn: &mut PgConnection) -> anyhow::Result<Draft> {
    let mut draft = Draft::default();
    objects::types(
        &mut draft,
        fetch(conn, objects::TYPES, None, "types").await?,
    )?;
    if !draft.composites.is_empty() {
        let composites = std::mem::take(&mut draft.composites);
        let rows = fetch(
            conn,
            relations::COLUMNS.some(),
            Some(&composites),
            "columns",
        )
        .await?;
        relations::columns(&mut draft, rows)?;
    }
    objects::functions(
        &mut draft,
        fetch(conn, objects::FUNCTIONS, None, "functions").await?,
    )?;
    let rows = fetch(
        conn,
        objects::GRANTS_OF_ROUTINES_AND_TYPES,
        None,
        "privileges",
    )
    .await?;
    objects::grants(&mut draft, rows)?;
    Ok(draft)
}

/// The functions, when only functions changed since the last snapshot (no type, no schema),
/// from the rows of `FUNCTIONS_SINCE` and `GRANTS_OF_FUNCTIONS_SINCE` (the re-read function
/// runs them): those whose `pg_proc` row is older came back with their comment only and are
/// copied from `last`; `None` when one of those is not in `last` (read everything).
fn functions_since(
    rows: Vec<Row>,
    grants: Vec<Row>,
    last: &BTreeMap<String, Function>,
) -> anyhow::Result<Option<BTreeMap<String, Function>>> {
    let (mut written, mut kept) = (Vec::new(), Vec::new());
    for row in rows {
        if rows::get::<bool>(&row, "written")? {
            written.push(row);
        } else {
            kept.push(row);
        }
    }
    let mut draft = Draft::default();
    objects::functions(&mut draft, written)?;
    objects::grants(&mut draft, grants)?;
    for row in kept {
        let key: String = rows::get(&row, "key")?;
        let Some(old) = last.get(&key) else {
            return Ok(None);
        };
        let function = Function {
            comment: rows::get(&row, "comment")?,
            ..old.clone()
        };
        draft.functions.insert(key, function);
    }
    Ok(Some(draft.functions))
}

/// Which kinds of rows some relations have (bits as the incremental probe sets them): a read
/// of those relations leaves out the queries that would find nothing.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Kinds(i32);

impl Kinds {
    const ALL: Kinds = Kinds(!0);
    const TRIGGERS: i32 = 1;
    const RULES: i32 = 2;
    const POLICIES: i32 = 4;
    const SEQUENCES: i32 = 16;
    const CONSTRAINTS: i32 = 32;
    const INDEXES: i32 = 64;

    fn has(self, bit: i32) -> bool {
        self.0 & bit != 0
    }
}

/// Some relations by OID, or every object.
type Only<'a> = Option<&'a [Oid]>;

/// A snapshot being read: the model with its relations not yet shared, and what the incremental
/// reader needs to tell a relation's later versions apart (its OID, its columns' numbers).
#[derive(Debug, Default)]
struct Draft {
    schemas: BTreeMap<String, Schema>,
    extensions: BTreeMap<String, Extension>,
    tables: BTreeMap<String, Table>,
    views: BTreeMap<String, View>,
    sequences: BTreeMap<String, Sequence>,
    functions: BTreeMap<String, Function>,
    types: BTreeMap<String, Type>,
    /// The OID of each table, view and sequence read, by key.
    oids: HashMap<String, Oid>,
    /// The live columns of each table and view read, as (attnum, name), by key.
    attnums: HashMap<String, Vec<(i16, String)>>,
    /// Each index read, with the table or view it is on (by OID).
    index_owners: Vec<(Oid, Oid)>,
    /// The relations (`relkind` `c`) of the composite types read.
    composites: Vec<Oid>,
    /// Children the re-read function did not render again, to copy from the last read.
    reused: Vec<Reused>,
}

/// A column, constraint, index or trigger whose rows were not written since the last snapshot:
/// the re-read function returned only its name, comment and what can change without a new
/// row (a column's position, an index's flags: `Part::compact`), and the incremental reader
/// copies the rest from the last read of its relation (`incremental::reuse`).
#[derive(Debug)]
struct Reused {
    /// The relation's key, the kind of child and its name.
    key: String,
    child: Child,
    name: String,
}

impl Reused {
    fn new(key: &str, child: Child, name: &str) -> Reused {
        Reused {
            key: key.to_string(),
            child,
            name: name.to_string(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Child {
    Column,
    Constraint,
    Index,
    Trigger,
}

impl Draft {
    fn into_snapshot(self) -> SchemaSnapshot {
        SchemaSnapshot {
            schemas: self.schemas,
            extensions: self.extensions,
            tables: self
                .tables
                .into_iter()
                .map(|(k, t)| (k, Arc::new(t)))
                .collect(),
            views: self
                .views
                .into_iter()
                .map(|(k, v)| (k, Arc::new(v)))
                .collect(),
            sequences: self.sequences,
            functions: self.functions,
            types: self.types,
        }
    }
}

/// A catalog query over relations, `c` being the relation, which can be narrowed to some of
/// them (`AND c.oid = ANY($1)` appended: each such query ends with its `WHERE` conditions, or
/// `narrowed`, written with `$1` inside). `reusing`, when given, is the same query for the
/// re-read function (`reread`): it leaves the costly text of a row not written since the
/// last snapshot NULL (`written` false).
struct Scoped {
    all: &'static str,
    narrowed: Option<&'static str>,
    reusing: Option<&'static str>,
    some: OnceLock<String>,
    some_reusing: OnceLock<String>,
}

impl Scoped {
    const fn new(all: &'static str) -> Scoped {
        Scoped {
            all,
            narrowed: None,
            reusing: None,
            some: OnceLock::new(),
            some_reusing: OnceLock::new(),
        }
    }

    const fn reusing(all: &'static str, reusing: &'static str) -> Scoped {
        Scoped {
            all,
            narrowed: None,
            reusing: Some(reusing),
            some: OnceLock::new(),
            some_reusing: OnceLock::new(),
        }
    }

    /// A query whose narrowed form is not `all` with a condition appended.
    const fn narrowed(all: &'static str, narrowed: &'static str) -> Scoped {
        Scoped {
            all,
            narrowed: Some(narrowed),
            reusing: None,
            some: OnceLock::new(),
            some_reusing: OnceLock::new(),
        }
    }

    fn some(&'static self) -> &'static str {
        match self.narrowed {
            Some(narrowed) => narrowed,
            None => self
                .some
                .get_or_init(|| format!("{} AND c.oid = ANY($1)", self.all))
                .as_str(),
        }
    }

    /// `some` for the re-read function.
    fn some_reusing(&'static self) -> &'static str {
        match self.reusing {
            None => self.some(),
            Some(reusing) => self
                .some_reusing
                .get_or_init(|| format!("{reusing} AND c.oid = ANY($1)"))
                .as_str(),
        }
    }
}

/// Runs one catalog query (with `$1` bound to `only` when given), each row as `to_json`
/// writes it; `what` names it in the error.
async fn fetch(
    conn: &mut PgConnection,
    sql: &'static str,
    only: Only<'_>,
    what: &str,
) -> anyhow::Result<Vec<Row>> {
    let query = sqlx::query_scalar::<_, String>(as_json(sql));
    let texts = match only {
        None => query.fetch_all(conn).await,
        Some(oids) => query.bind(oids).fetch_all(conn).await,
    };
    parse(texts, what)
}

/// A catalog query whose rows come back as `to_json` writes them.
fn as_json(sql: &str) -> AssertSqlSafe<String> {
    AssertSqlSafe(format!("SELECT to_json(q)::text FROM ({sql}) q"))
}

fn parse(texts: Result<Vec<String>, sqlx::Error>, what: &str) -> anyhow::Result<Vec<Row>> {
    let texts = texts.with_context(|| format!("reading {what} from the catalog"))?;
    texts.iter().map(|t| Row::parse(t, what)).collect()
}

/// A column of a row that a query of the change log or the probe returned, the column named
/// in the error.
fn col<'r, T>(row: &'r PgRow, column: &str) -> anyhow::Result<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column)
        .with_context(|| format!("catalog column {column}"))
}
