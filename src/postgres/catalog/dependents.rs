//! What prints another object's name: when a relation or a column is renamed, or a function
//! or a type is changed (perhaps renamed), the objects that depend on it (`pg_depend`) may
//! print the new name: a foreign key, a view, a default, a trigger, an index expression, a
//! sequence's `OWNED BY`, a partition's parent, a function's signature. An incremental
//! snapshot reads those again instead of reading everything (`incremental::Besides`).

use sqlx::PgConnection;
use sqlx::postgres::types::Oid;

use super::changelog::relation_of;
use super::rows::{Row, get};
use super::{as_json, parse};

/// The dependents of the relations `$renamed` (with their row types) and of the objects
/// `$classes`/`$objects` (catalog, OID; with their array types and a composite type's
/// relation), each as the relation it belongs to (`r`), a part of the functions and types
/// (`f`), something that needs nothing (`x`: a toast table, a relation's own row type), or
/// something else (`o`: an operator, a cast, extended statistics…; a full read). Run on its
/// own (`DEPENDENTS`) and by the re-read function for the functions and types a batch
/// altered (`reread`), before it knows of any rename.
macro_rules! dependents {
    ($renamed:literal, $classes:literal, $objects:literal) => {
        concat!(
            "WITH given(classid, objid) AS (
       SELECT * FROM unnest(", $classes, "::oid[], ", $objects, "::oid[])
     ), refs(classid, objid) AS (
       SELECT 'pg_class'::regclass::oid, r FROM unnest(", $renamed, "::oid[]) r
       UNION SELECT 'pg_type'::regclass::oid, c.reltype FROM pg_class c
         WHERE c.oid = ANY(", $renamed, "::oid[]) AND c.reltype <> 0
       UNION SELECT classid, objid FROM given
       UNION SELECT 'pg_type'::regclass::oid, t.typarray FROM pg_type t
         JOIN given g ON g.classid = 'pg_type'::regclass AND g.objid = t.oid WHERE t.typarray <> 0
       UNION SELECT 'pg_class'::regclass::oid, t.typrelid FROM pg_type t
         JOIN given g ON g.classid = 'pg_type'::regclass AND g.objid = t.oid WHERE t.typrelid <> 0
       UNION SELECT 'pg_type'::regclass::oid, c.reltype FROM pg_class c
         JOIN given g ON g.classid = 'pg_class'::regclass AND g.objid = c.oid WHERE c.reltype <> 0
     ), deps AS (
       SELECT DISTINCT d.classid, d.objid FROM pg_depend d
       JOIN refs r ON d.refclassid = r.classid AND d.refobjid = r.objid
       WHERE d.deptype NOT IN ('e', 'x')
     )
     SELECT ",
            relation_of!("d.classid", "d.objid"),
            " AS rel,
       CASE
         WHEN d.classid = 'pg_class'::regclass
           THEN (SELECT CASE WHEN c.relkind = 't' THEN 'x' WHEN c.relkind = 'c' THEN 'f' ELSE 'r' END
                 FROM pg_class c WHERE c.oid = d.objid)
         WHEN d.classid = 'pg_type'::regclass
           THEN (SELECT CASE WHEN c.relkind IS NOT NULL AND c.relkind <> 'c' THEN 'x' ELSE 'f' END
                 FROM pg_type t LEFT JOIN pg_class c ON c.oid = t.typrelid WHERE t.oid = d.objid)
         WHEN d.classid = 'pg_proc'::regclass THEN 'f'
         WHEN d.classid = 'pg_constraint'::regclass
           THEN (SELECT CASE WHEN k.contypid <> 0 THEN 'f' ELSE 'r' END FROM pg_constraint k WHERE k.oid = d.objid)
         WHEN d.classid IN ('pg_attrdef'::regclass, 'pg_trigger'::regclass, 'pg_rewrite'::regclass,
                            'pg_policy'::regclass) THEN 'r'
         ELSE 'o' END AS kind
     FROM deps d"
        )
    };
}

const DEPENDENTS: &str = dependents!("$1", "$2", "$3");

/// In the re-read function: what depends on the functions and types a batch altered, given
/// as its variables `upcycle_classes` and `upcycle_objects`.
pub(super) const DEPENDENTS_OF_ALTERED: &str =
    dependents!("'{}'", "upcycle_classes", "upcycle_objects");

/// What depends on some renamed relations and some changed functions and types.
#[derive(Debug, Default)]
pub(super) struct Dependents {
    /// The relations that print them.
    pub rels: Vec<Oid>,
    /// Functions or types print them.
    pub routines: bool,
}

/// The dependents of `renamed` (relations, or relations with a renamed column) and of
/// `altered` (functions and types, as catalog and OID); `None` when something else depends
/// on them, which only a full read shows.
pub(super) async fn dependents(
    conn: &mut PgConnection,
    renamed: &[Oid],
    altered: &[(Oid, Oid)],
) -> anyhow::Result<Option<Dependents>> {
    let (classes, objects): (Vec<Oid>, Vec<Oid>) = altered.iter().copied().unzip();
    let texts = sqlx::query_scalar::<_, String>(as_json(DEPENDENTS))
        .bind(renamed)
        .bind(&classes)
        .bind(&objects)
        .fetch_all(conn)
        .await;
    classify(parse(texts, "what depends on the changed objects")?)
}

/// What the rows of `dependents!` say; `None` when something other than a relation, a
/// function or a type depends on the objects asked about.
pub(super) fn classify(rows: Vec<Row>) -> anyhow::Result<Option<Dependents>> {
    let mut out = Dependents::default();
    for row in rows {
        let kind: Option<String> = get(&row, "kind")?;
        match kind.as_deref() {
            Some("x") => {}
            Some("f") => out.routines = true,
            Some("r") => match get::<Option<Oid>>(&row, "rel")? {
                Some(rel) => out.rels.push(rel),
                None => return Ok(None),
            },
            _ => return Ok(None),
        }
    }
    out.rels.sort_unstable_by_key(|o| o.0);
    out.rels.dedup();
    Ok(Some(out))
}
