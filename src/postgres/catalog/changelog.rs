//! The change log: event triggers that the check installs in its throwaway database (schema
//! `upcycle_sandbox`, which snapshots leave out) so that a snapshot learns which relations the
//! last steps touched from a few log rows, instead of probing every catalog (`incremental`).
//!
//! `ddl_command_end` logs each object a command created or altered (`pg_event_trigger_ddl_commands`),
//! and reading the log finds the relation each belongs to: a relation is its own, an index's
//! table is looked up by the trigger (one index probe; a later drop of the index needs it),
//! and the rest (a constraint's, a default's, a trigger's, a rule's, a policy's table) when
//! the log is read (`relation_of`: once per snapshot for all the new rows, rather than once
//! per command in the trigger). `sql_drop` logs each object dropped, cascaded ones included
//! (`pg_event_trigger_dropped_objects`), with its table when its address names one. An object
//! created and dropped between two snapshots has no relation left to look up; its drop row
//! stands for it (a temporary table `ON COMMIT DROP` goes without one, and is its own
//! relation). The log is written in the steps' own transactions, so a step that fails
//! and rolls back leaves no rows, as it leaves no catalog change. The triggers are `ENABLE
//! ALWAYS` (a step may set `session_replication_role`) and their functions `SECURITY DEFINER`
//! (a step may `SET ROLE`); they must never fail, so every column may be null.
//!
//! What they do not see, and what a snapshot does about it (see `Changes` and `Catalog`): shared
//! objects (roles, tablespaces: their rows are checked by `xmin`, as the probe does), settings
//! (compared), writes to the catalogs by DML, `CLUSTER`, and what a failing step outside a
//! transaction left behind (the check asks for a full read after those: `Catalog::distrust`),
//! and the triggers being disabled or dropped (checked; then every snapshot is read in full).

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use sqlx::postgres::types::Oid;
use sqlx::{AssertSqlSafe, PgConnection};

use super::{col, planner_costs, settings};

/// The schema holding the log; snapshots and data fingerprints leave it out.
pub const SCHEMA: &str = "upcycle_sandbox";

/// The table, view or sequence that the object `$objid` of catalog `$classid` belongs to (an
/// index's, a constraint's, a default's, a trigger's, a rule's, a policy's table; a
/// relation itself), or NULL: one SQL expression, used when the change log is read and by
/// `dependents`. It is written into those queries rather than called as a function of its
/// own: a `LANGUAGE sql` function with a `SET` clause is planned again on every call. Nor is it
/// evaluated in the trigger function: each DDL command there planned its subqueries again
/// (the commands invalidate the plan), 0.07 ms per logged object, against once per snapshot
/// for all the new rows when the log is read.
macro_rules! relation_of {
    ($classid:literal, $objid:literal) => {
        concat!(
            "CASE ", $classid, "
    WHEN 'pg_class'::regclass THEN (
      SELECT CASE WHEN c.relkind IN ('i', 'I') THEN i.indrelid
                  WHEN c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') THEN c.oid END
      FROM pg_class c LEFT JOIN pg_index i ON i.indexrelid = c.oid WHERE c.oid = ", $objid, ")
    WHEN 'pg_attrdef'::regclass THEN (SELECT adrelid FROM pg_attrdef WHERE oid = ", $objid, ")
    WHEN 'pg_constraint'::regclass THEN (SELECT nullif(conrelid, 0) FROM pg_constraint WHERE oid = ", $objid, ")
    WHEN 'pg_trigger'::regclass THEN (SELECT tgrelid FROM pg_trigger WHERE oid = ", $objid, ")
    WHEN 'pg_rewrite'::regclass THEN (SELECT ev_class FROM pg_rewrite WHERE oid = ", $objid, ")
    WHEN 'pg_policy'::regclass THEN (SELECT polrelid FROM pg_policy WHERE oid = ", $objid, ")
  END"
        )
    };
}

pub(super) use relation_of;

/// The log after row `$1`, as one row per change plus one guard row (`id` NULL): the shared
/// catalogs' rows (roles, tablespaces: counted, and written since the horizon `$2`, the
/// last snapshot's oldest running transaction), whether both triggers are armed, the settings
/// that change how values print, and the new horizon. Run by `upcycle_sandbox.log`, with a
/// generic plan: at the default (`auto`) the steps' DDL had it planned again on one call in
/// seven, 0.33 ms each time, more than the query takes to run.
macro_rules! read_log {
    () => {
        concat!(
    "WITH horizon AS MATERIALIZED (SELECT age((($2::int8 % 4294967296)::text)::xid) AS h),
     shared AS (
       SELECT count(*) AS n, coalesce(bool_or(age(x) <= (SELECT h FROM horizon)), false) AS written
       FROM (SELECT xmin AS x FROM pg_authid UNION ALL SELECT xmin FROM pg_tablespace) s
     ), guard AS (
       SELECT s.n, s.written,
              (SELECT count(*) FROM pg_event_trigger
                WHERE evtname IN ('upcycle_sandbox_ddl', 'upcycle_sandbox_dropped') AND evtenabled = 'A') = 2
                AND coalesce(current_setting('event_triggers', true), 'on') = 'on' AS armed,
              ",
    settings!(),
    " AS settings, txid_snapshot_xmin(txid_current_snapshot()) AS horizon
       FROM shared s
     )
     SELECT NULL::int8 AS id, NULL::oid AS classid, NULL::oid AS objid, NULL::oid AS rel, NULL::text AS kind,
            NULL::bool AS dropped, NULL::bool AS original, NULL::bool AS normal,
            NULL::bool AS member, NULL::text AS tag, NULL::text[] AS name, g.n AS shared_rows, g.written AS shared_written, g.armed, g.settings, g.horizon
     FROM guard g
     UNION ALL
     SELECT l.id, l.classid, l.objid,
            CASE WHEN l.dropped OR l.rel IS NOT NULL THEN l.rel ELSE ",
    relation_of!("l.classid", "l.objid"),
    " END,
            l.kind, l.dropped, l.original, l.normal, l.member, l.tag, l.name,
            NULL, NULL, NULL, NULL, NULL
     FROM upcycle_sandbox.changes l WHERE l.id > $1"
        )
    };
}

const INSTALL: &str = concat!(
    r#"
CREATE SCHEMA upcycle_sandbox;
CREATE TABLE upcycle_sandbox.changes (
  id bigserial PRIMARY KEY, classid oid, objid oid, objsubid int4, rel oid, kind text,
  dropped bool, original bool, normal bool, member bool, tag text, name text[]);
CREATE FUNCTION upcycle_sandbox.ddl() RETURNS event_trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  INSERT INTO upcycle_sandbox.changes (classid, objid, objsubid, rel, kind, dropped, member, tag)
  SELECT d.classid, d.objid, d.objsubid,
         CASE WHEN d.object_type = 'index'
              THEN (SELECT i.indrelid FROM pg_index i WHERE i.indexrelid = d.objid) END,
         d.object_type, false, d.in_extension, d.command_tag
  FROM pg_event_trigger_ddl_commands() d;
END $$;
CREATE FUNCTION upcycle_sandbox.dropped() RETURNS event_trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $$
BEGIN
  INSERT INTO upcycle_sandbox.changes (classid, objid, objsubid, rel, kind, dropped, original, normal, tag,
                                       name)
  SELECT d.classid, d.objid, d.objsubid,
         CASE WHEN d.object_type IN ('table constraint', 'trigger', 'rule', 'policy', 'default value')
              THEN to_regclass(quote_ident(d.address_names[1]) || '.' || quote_ident(d.address_names[2]))
              WHEN d.object_type = 'table column' THEN d.objid END,
         d.object_type, true, d.original, d.normal, TG_TAG,
         CASE WHEN d.object_type = 'index'
              THEN ARRAY[quote_ident(d.address_names[1]), quote_ident(d.address_names[2])] END
  FROM pg_event_trigger_dropped_objects() d;
END $$;
CREATE FUNCTION upcycle_sandbox.log(int8, int8)
  RETURNS TABLE(id int8, classid oid, objid oid, rel oid, kind text, dropped bool, original bool,
                normal bool, member bool, tag text, name text[], shared_rows int8, shared_written bool, armed bool, settings text,
                horizon int8)
  LANGUAGE plpgsql STABLE SET search_path = pg_catalog SET plan_cache_mode = force_generic_plan SET "#,
    planner_costs!(),
    r#" AS $upcycle$
#variable_conflict use_column
BEGIN
  RETURN QUERY "#,
    read_log!(),
    r#";
END $upcycle$;
CREATE EVENT TRIGGER upcycle_sandbox_ddl ON ddl_command_end EXECUTE FUNCTION upcycle_sandbox.ddl();
CREATE EVENT TRIGGER upcycle_sandbox_dropped ON sql_drop EXECUTE FUNCTION upcycle_sandbox.dropped();
ALTER EVENT TRIGGER upcycle_sandbox_ddl ENABLE ALWAYS;
ALTER EVENT TRIGGER upcycle_sandbox_dropped ENABLE ALWAYS;
"#
);

/// Whether a script may change the schema in a way the change log does not see: writing to
/// the system catalogs, or `CLUSTER` (which marks an index in place). The check reads the
/// snapshot after such a script in full (`Catalog::distrust`). A script is suspect when it has
/// a write (`UPDATE`, `INSERT`, `DELETE`, `MERGE`) and names a `pg_` relation: any `pg_` name
/// except a schema before a dot (`pg_catalog.`, `pg_temp.`) and a function before its
/// parenthesis (`pg_advisory_lock(`), unless `INTO` comes just before it (`INSERT INTO
/// pg_description(…)`). A function that an earlier script created could write to the catalogs
/// without naming one; that is not detected.
pub fn hidden_from_change_log(text: &str) -> bool {
    let text = text.to_ascii_lowercase().replace('"', "");
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    // Each word, with the text after it.
    let mut words: Vec<(&str, &str)> = Vec::new();
    let mut rest = text.as_str();
    while let Some(start) = rest.find(is_word) {
        let tail = &rest[start..];
        let end = tail.find(|c| !is_word(c)).unwrap_or(tail.len());
        words.push((&tail[..end], &tail[end..]));
        rest = &tail[end..];
    }
    if words.iter().any(|(w, _)| *w == "cluster") {
        return true;
    }
    let writes = words
        .iter()
        .any(|(w, _)| matches!(*w, "update" | "insert" | "delete" | "merge"));
    writes
        && words.iter().enumerate().any(|(k, (word, after))| {
            let next = after.trim_start().chars().next();
            let schema = next == Some('.');
            let call = next == Some('(') && (k == 0 || words[k - 1].0 != "into");
            word.starts_with("pg_") && !schema && !call
        })
}

/// Installs the log (one implicit transaction: all or nothing). False when the server refuses
/// (event triggers need a superuser; older servers lack the syntax): then the check probes.
pub(super) async fn install(conn: &mut PgConnection) -> bool {
    let sql = format!("{INSTALL}{}", super::reread::function());
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(conn)
        .await
        .is_ok()
}

/// One logged change.
#[derive(Debug, Clone)]
pub(super) struct Change {
    /// The catalog the object is in (`pg_proc`, `pg_type`…) and its OID there.
    pub classid: Oid,
    pub objid: Oid,
    /// The table, view or sequence the object belongs to, when known.
    pub rel: Option<Oid>,
    /// `object_type` as event triggers name it (`table`, `index`, `table constraint`…).
    pub kind: String,
    pub dropped: bool,
    /// For drops: dropped by name (not along with something else), by a normal dependency.
    pub original: bool,
    pub normal: bool,
    /// Created or altered by an extension's script (`in_extension`): a member of it.
    pub member: bool,
    /// The command that logged it (`CREATE EXTENSION`, `DROP EXTENSION`, `ALTER TABLE`…).
    pub tag: String,
    /// A dropped index's schema and name, quoted (the last snapshot may know it by name only:
    /// `ALTER COLUMN … TYPE` builds a column's indexes again under new OIDs, unlogged).
    pub name: Option<[String; 2]>,
}

/// Which table an index dropped since the last snapshot belonged to, as that snapshot knew.
pub(super) trait IndexOwners {
    /// The table of the index `oid`, which was named `name` (schema and index, quoted).
    fn table_of(&self, oid: Oid, name: Option<&[String; 2]>) -> Option<Oid>;
}

/// By OID alone.
impl IndexOwners for HashMap<Oid, Oid> {
    fn table_of(&self, oid: Oid, _: Option<&[String; 2]>) -> Option<Oid> {
        self.get(&oid).copied()
    }
}

/// What the log says since the last snapshot, with the guards for what it cannot see.
#[derive(Debug)]
pub(super) struct Changes {
    pub changes: Vec<Change>,
    /// The newest log row read (the next read starts after it).
    pub last: i64,
    /// Rows of the shared catalogs (roles, tablespaces), and whether one was written since the
    /// horizon.
    pub shared_rows: i64,
    pub shared_written: bool,
    /// The settings that change how values print, as the probe reads them.
    pub settings: String,
    /// Both triggers present, enabled, and not switched off (`event_triggers`).
    pub armed: bool,
    pub horizon: i64,
}

/// Reads the log after row `last`; `horizon` is the last snapshot's (0 before the first).
pub(super) async fn read(
    conn: &mut PgConnection,
    last: i64,
    horizon: i64,
) -> anyhow::Result<Changes> {
    let rows = sqlx::query("SELECT * FROM upcycle_sandbox.log($1, $2)")
        .bind(last)
        .bind(horizon)
        .fetch_all(conn)
        .await
        .context("reading the change log")?;
    let mut changes = Changes {
        changes: Vec::new(),
        last,
        shared_rows: 0,
        shared_written: true,
        settings: String::new(),
        armed: false,
        horizon: 0,
    };
    for row in rows {
        match col::<Option<i64>>(&row, "id")? {
            None => {
                changes.shared_rows = col(&row, "shared_rows")?;
                changes.shared_written = col(&row, "shared_written")?;
                changes.armed = col(&row, "armed")?;
                changes.settings = col(&row, "settings")?;
                changes.horizon = col(&row, "horizon")?;
            }
            Some(id) => {
                changes.last = changes.last.max(id);
                changes.changes.push(Change {
                    classid: col::<Option<Oid>>(&row, "classid")?.unwrap_or(Oid(0)),
                    objid: col::<Option<Oid>>(&row, "objid")?.unwrap_or(Oid(0)),
                    rel: col(&row, "rel")?,
                    kind: col::<Option<String>>(&row, "kind")?.unwrap_or_default(),
                    dropped: col::<Option<bool>>(&row, "dropped")?.unwrap_or(false),
                    original: col::<Option<bool>>(&row, "original")?.unwrap_or(true),
                    normal: col::<Option<bool>>(&row, "normal")?.unwrap_or(true),
                    member: col::<Option<bool>>(&row, "member")?.unwrap_or(false),
                    tag: col::<Option<String>>(&row, "tag")?.unwrap_or_default(),
                    name: col::<Option<Vec<String>>>(&row, "name")?
                        .and_then(|n| <[String; 2]>::try_from(n).ok()),
                });
            }
        }
    }
    Ok(changes)
}

/// What a batch of changes asks a snapshot to read again.
#[derive(Debug, Default)]
pub(super) struct Targets {
    /// Relations created or changed (tables, views, sequences).
    pub changed: HashSet<Oid>,
    /// Relations dropped.
    pub gone: HashSet<Oid>,
    /// A function, procedure or type was created, changed or dropped: read those again (all
    /// of them, or only the functions written since, see `types`).
    pub routines: bool,
    /// Of those, a type (or a domain's constraint) was: the functions alone do not do.
    pub types: bool,
    /// The functions and types created or changed, as (catalog, OID): what depends on them
    /// prints their names (a rename), so it is read again too (`dependents`).
    pub altered: Vec<(Oid, Oid)>,
    /// An extension was created or dropped: read the extensions again.
    pub extensions: bool,
}

/// The kinds of objects (as event triggers name them) that are relations of a snapshot.
const RELATION_KINDS: [&str; 5] = [
    "table",
    "view",
    "materialized view",
    "sequence",
    "foreign table",
];

/// The kinds of objects that are parts of a relation: with `RELATION_KINDS`, what an
/// extension's script that logs one is followed for as any other command.
const PARTS_OF_RELATIONS: [&str; 7] = [
    "index",
    "table constraint",
    "trigger",
    "rule",
    "policy",
    "default value",
    "table column",
];

/// Those of `ROUTINES_AND_TYPES` that are functions.
const FUNCTIONS: [&str; 3] = ["function", "procedure", "aggregate"];

/// The kinds of objects (as event triggers name them) that live in the functions and types
/// part of a snapshot.
const ROUTINES_AND_TYPES: [&str; 6] = [
    "function",
    "procedure",
    "aggregate",
    "type",
    "domain constraint",
    "composite type",
];

/// What a batch of changes touched, or `None` when something changed that only a full read
/// shows (a schema, an altered extension, a privilege, an operator…). `owners` knows the
/// indexes of the last snapshot (an index's drop no longer names its table).
pub(super) fn targets(changes: &[Change], owners: &dyn IndexOwners) -> Option<Targets> {
    let mut out = Targets::default();
    let mut orphans = false;
    for change in changes {
        let kind = change.kind.as_str();
        // A table's row type, an array type, a toast table: they go with their relation.
        if change.dropped
            && matches!(kind, "type" | "toast table")
            && !change.original
            && !change.normal
        {
            continue;
        }
        // An extension created or dropped: its row is read again (`extensions`). Its members
        // are not in a snapshot: those its script created are skipped, and of those its drop
        // took along, functions and types are read again (a user's function may have gone with
        // them) and relations and their parts as usual. `ALTER EXTENSION` (an update, a member
        // added or dropped), or a comment on one: a full read.
        if kind == "extension" {
            if !change.dropped && change.tag != "CREATE EXTENSION" {
                return None;
            }
            out.extensions = true;
            continue;
        }
        if change.member && !RELATION_KINDS.contains(&kind) && !PARTS_OF_RELATIONS.contains(&kind) {
            continue;
        }
        if ROUTINES_AND_TYPES.contains(&kind) {
            out.routines = true;
            out.types |= !FUNCTIONS.contains(&kind);
            if !change.dropped {
                out.altered.push((change.classid, change.objid));
            }
            continue;
        }
        if !change.dropped {
            // Created or altered: its relation is looked up when the log is read; a relation
            // gone by then (a temporary table `ON COMMIT DROP`) is still its own.
            let rel = change
                .rel
                .or_else(|| RELATION_KINDS.contains(&kind).then_some(change.objid));
            match rel {
                Some(rel) => {
                    out.changed.insert(rel);
                }
                // Gone by then: dropped later in the batch, as a row of its own says.
                None if changes.iter().any(|c| {
                    c.dropped && c.objid == change.objid && c.classid == change.classid
                }) => {}
                None => return None,
            }
            continue;
        }
        match kind {
            kind if RELATION_KINDS.contains(&kind) => {
                out.gone.insert(change.objid);
            }
            "index" => {
                let table = owners
                    .table_of(change.objid, change.name.as_ref())
                    .or_else(|| {
                        // Created since the last snapshot: its creation named the table.
                        changes
                            .iter()
                            .find(|c| !c.dropped && c.objid == change.objid)
                            .and_then(|c| c.rel)
                    });
                match table {
                    Some(table) => {
                        out.changed.insert(table);
                    }
                    // Dropped along with something the log names (its table, a constraint).
                    None if !change.original => {}
                    None => return None,
                }
            }
            "table constraint" | "trigger" | "rule" | "policy" | "default value"
            | "table column" => match change.rel {
                Some(rel) => {
                    out.changed.insert(rel);
                }
                // Its table was gone by then: dropped by the same command.
                None => orphans = true,
            },
            // An extension's operators, casts, operator classes…, which a snapshot leaves out.
            _ if change.tag == "DROP EXTENSION" => {}
            _ => return None,
        }
    }
    if orphans && out.gone.is_empty() {
        return None;
    }
    let gone = &out.gone;
    out.changed.retain(|oid| !gone.contains(oid));
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_writes_and_cluster_are_hidden_from_the_log() {
        for text in [
            "UPDATE pg_catalog.pg_attribute SET attnotnull = true WHERE attname = 'x'",
            "update \"pg_catalog\".\"pg_class\" set relname = 'y'",
            "INSERT INTO pg_description(objoid, classoid, objsubid, description) VALUES (1, 2, 0, 'x')",
            "DELETE FROM pg_depend WHERE objid = 1",
            "CLUSTER jobs USING jobs_pkey",
            "DO $$ BEGIN UPDATE users SET a = 1; PERFORM 1 FROM pg_index; END $$",
        ] {
            assert!(hidden_from_change_log(text), "{text}");
        }
        for text in [
            "CREATE FUNCTION pg_temp.fix() RETURNS void LANGUAGE sql AS 'UPDATE t SET a = 1'",
            "SELECT pg_advisory_lock(1); UPDATE jobs SET state = 'done'",
            "UPDATE t SET c = pg_catalog.now()",
            "ALTER TABLE jobs ADD COLUMN clustered boolean",
            "CREATE INDEX ON t USING gin (name gin_trgm_ops)",
        ] {
            assert!(!hidden_from_change_log(text), "{text}");
        }
    }

    fn change(objid: u32, rel: Option<u32>, kind: &str, dropped: bool, original: bool) -> Change {
        Change {
            classid: Oid(1255),
            objid: Oid(objid),
            rel: rel.map(Oid),
            kind: kind.into(),
            dropped,
            original,
            normal: original,
            member: false,
            tag: String::new(),
            name: None,
        }
    }

    #[test]
    fn created_and_altered_objects_name_their_relation() {
        let changes = [
            change(10, Some(1), "table", false, true),
            change(11, Some(1), "index", false, true),
            change(12, Some(2), "table constraint", true, true),
        ];
        let t = targets(&changes, &HashMap::new()).unwrap();
        assert_eq!(t.changed, HashSet::from([Oid(1), Oid(2)]));
        assert!(t.gone.is_empty());
        assert!(!t.routines);
    }

    #[test]
    fn a_dropped_index_is_found_through_the_last_snapshot_or_its_creation() {
        let owners = HashMap::from([(Oid(20), Oid(3))]);
        let t = targets(&[change(20, None, "index", true, true)], &owners).unwrap();
        assert_eq!(t.changed, HashSet::from([Oid(3)]));
        let batch = [
            change(21, Some(4), "index", false, true),
            change(21, None, "index", true, true),
        ];
        let t = targets(&batch, &owners).unwrap();
        assert_eq!(t.changed, HashSet::from([Oid(4)]));
        assert!(targets(&[change(22, None, "index", true, true)], &owners).is_none());
        // Built again under a new OID (`ALTER COLUMN … TYPE`): known by its name.
        struct ByName;
        impl IndexOwners for ByName {
            fn table_of(&self, _: Oid, name: Option<&[String; 2]>) -> Option<Oid> {
                (name? == &["public".to_string(), "t_idx".to_string()]).then_some(Oid(5))
            }
        }
        let dropped = Change {
            name: Some(["public".into(), "t_idx".into()]),
            ..change(23, None, "index", true, true)
        };
        let t = targets(&[dropped], &ByName).unwrap();
        assert_eq!(t.changed, HashSet::from([Oid(5)]));
    }

    #[test]
    fn an_object_created_and_dropped_in_one_batch_is_left_to_its_drop_row() {
        // A table made and dropped between two snapshots: nothing to read, nothing left.
        let batch = [
            change(40, None, "table", false, true),
            change(40, None, "table", true, true),
        ];
        let t = targets(&batch, &HashMap::new()).unwrap();
        assert!(t.changed.is_empty());
        assert_eq!(t.gone, HashSet::from([Oid(40)]));
        // An object whose relation is unknown and that is still there: a full read.
        assert!(targets(&[change(41, None, "trigger", false, true)], &HashMap::new()).is_none());
    }

    #[test]
    fn a_dropped_table_takes_its_children_and_types_along() {
        let batch = [
            change(5, None, "table", true, true),
            change(6, None, "type", true, false),
            change(7, None, "default value", true, false),
            change(8, None, "index", true, false),
        ];
        let t = targets(&batch, &HashMap::new()).unwrap();
        assert!(t.changed.is_empty());
        assert_eq!(t.gone, HashSet::from([Oid(5)]));
        assert!(
            !t.routines,
            "a table's row type is not a type of the snapshot"
        );
    }

    #[test]
    fn functions_and_types_are_read_again_with_what_depends_on_the_changed_ones() {
        let batch = [
            change(30, None, "function", false, true),
            change(31, None, "type", true, true),
            change(32, None, "domain constraint", false, true),
        ];
        let t = targets(&batch, &HashMap::new()).unwrap();
        assert!(t.routines);
        assert!(
            t.types,
            "a type changed: every function and type is read again"
        );
        assert!(t.changed.is_empty() && t.gone.is_empty());
        // The dropped type has no dependents left; the others may be printed by relations.
        assert_eq!(t.altered, vec![(Oid(1255), Oid(30)), (Oid(1255), Oid(32))]);
        let functions = [
            change(33, None, "function", false, true),
            change(34, None, "procedure", true, true),
            change(35, None, "aggregate", false, true),
        ];
        let t = targets(&functions, &HashMap::new()).unwrap();
        assert!(
            t.routines && !t.types,
            "functions alone: those written are read"
        );
    }

    #[test]
    fn anything_else_is_a_full_read() {
        for c in [
            change(1, None, "", false, true),
            change(1, None, "schema", true, true),
            change(1, None, "schema", false, true),
            change(1, None, "extension", false, true),
            change(1, None, "operator", false, true),
            change(1, None, "operator", true, true),
        ] {
            assert!(targets(&[c], &HashMap::new()).is_none());
        }
    }

    fn by(tag: &str, member: bool, change: Change) -> Change {
        Change {
            tag: tag.into(),
            member,
            ..change
        }
    }

    #[test]
    fn an_extension_created_is_its_row_alone_unless_its_script_touches_a_relation() {
        let batch = [
            by(
                "CREATE FUNCTION",
                true,
                change(50, None, "function", false, true),
            ),
            by(
                "CREATE OPERATOR",
                true,
                change(51, None, "operator", false, true),
            ),
            by("CREATE TYPE", true, change(52, None, "type", false, true)),
            by(
                "CREATE EXTENSION",
                false,
                change(53, None, "extension", false, true),
            ),
            by(
                "ALTER TABLE",
                false,
                change(54, Some(7), "table", false, true),
            ),
        ];
        let t = targets(&batch, &HashMap::new()).unwrap();
        assert!(t.extensions);
        assert!(!t.routines && t.altered.is_empty());
        assert_eq!(t.changed, HashSet::from([Oid(7)]));
        // A table its script makes is read as any other (a snapshot leaves it out).
        let batch = [by(
            "CREATE TABLE",
            true,
            change(55, Some(55), "table", false, true),
        )];
        let t = targets(&batch, &HashMap::new()).unwrap();
        assert_eq!(t.changed, HashSet::from([Oid(55)]));
        // An update, a member added or dropped, a comment: a full read.
        for tag in ["ALTER EXTENSION", "COMMENT"] {
            let batch = [by(tag, false, change(53, None, "extension", false, true))];
            assert!(targets(&batch, &HashMap::new()).is_none(), "{tag}");
        }
    }

    #[test]
    fn an_extension_dropped_takes_its_members_and_what_uses_them() {
        let owners = HashMap::from([(Oid(60), Oid(8))]);
        let batch = [
            by(
                "DROP EXTENSION",
                false,
                change(56, None, "extension", true, true),
            ),
            by(
                "DROP EXTENSION",
                false,
                change(57, None, "operator", true, false),
            ),
            by(
                "DROP EXTENSION",
                false,
                change(58, None, "cast", true, false),
            ),
            by(
                "DROP EXTENSION",
                false,
                change(59, None, "function", true, false),
            ),
            by(
                "DROP EXTENSION",
                false,
                change(60, None, "index", true, false),
            ),
            by(
                "DROP EXTENSION",
                false,
                change(61, Some(9), "table column", true, false),
            ),
        ];
        let t = targets(&batch, &owners).unwrap();
        assert!(t.extensions && t.routines);
        assert_eq!(t.changed, HashSet::from([Oid(8), Oid(9)]));
        // An operator dropped by anything else: a full read, as before.
        let batch = [by(
            "DROP OPERATOR",
            false,
            change(57, None, "operator", true, true),
        )];
        assert!(targets(&batch, &HashMap::new()).is_none());
    }
}
