//! The re-read as one statement: a PL/pgSQL function that the change log installs beside its
//! triggers (`upcycle_sandbox.reread`), written from the same queries a read runs (`PARTS`).
//! Given the relations a batch of changes named and the sequences the changed tables own, it
//! finds what those reach (`EXPAND`) and returns every part of their rows, each as one JSON
//! array, in one round trip; and, when asked, the functions written since the last snapshot
//! and what depends on the functions and types the batch altered (`EXTRAS`), which would
//! otherwise take a transaction of their own. A snapshot that follows the log is then two
//! statements (the log, this), with no transaction around them: only the check writes to its
//! database, so nothing changes between them, and the function fixes the search path names
//! print against and keeps its plans for the session (generic ones: planning these queries
//! costs more than running them on a few relations).

use std::sync::OnceLock;

use anyhow::Context;
use sqlx::PgConnection;
use sqlx::postgres::types::Oid;

use super::rows::{Row, get};
use super::{Draft, PARTS, dependents, objects};

/// The relations to read again for `$1` (tables, views, sequences): those and the tables
/// that inherit from them (a command on a parent reaches its partitions and children without
/// naming them: `ATTACH PARTITION`, an index or a column added to the parent), each with the
/// kinds of rows it has (bits as `Kinds`); and, with `-1`, those of the sequences `$2` that no
/// longer exist (`DROP IDENTITY` drops one without a `sql_drop` event). An identity column's
/// sequence, which `ALTER TABLE` changes, is logged by itself. The relations are looked up
/// by OID (`= ANY` of an array) and each kind by a `LIMIT 1` subquery, which keeps a generic
/// plan on the catalogs' indexes (an `EXISTS` became a hash of the whole catalog).
const EXPAND: &str = "WITH RECURSIVE tree(rel) AS (
       SELECT unnest($1::oid[])
       UNION SELECT i.inhrelid FROM pg_inherits i JOIN tree t ON i.inhparent = t.rel
     )
     SELECT c.oid AS rel,
       (coalesce((SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal LIMIT 1), 0)
      | coalesce((SELECT 2 FROM pg_rewrite w WHERE w.ev_class = c.oid AND w.rulename <> '_RETURN' LIMIT 1), 0)
      | coalesce((SELECT 4 FROM pg_policy p WHERE p.polrelid = c.oid LIMIT 1), 0)
      | CASE WHEN c.relkind = 'S' THEN 16 ELSE 0 END
      | coalesce((SELECT 32 FROM pg_constraint k WHERE k.conrelid = c.oid LIMIT 1), 0)
      | coalesce((SELECT 64 FROM pg_index i WHERE i.indrelid = c.oid LIMIT 1), 0))::int4 AS k
     FROM pg_class c WHERE c.oid = ANY (ARRAY(SELECT rel FROM tree))
     UNION ALL
     SELECT s, -1 FROM unnest($2::oid[]) s WHERE NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = s)";

/// What the function returns after the parts of `PARTS`, in order, each as (what, query,
/// when it runs): the functions written since the horizon `upcycle_functions` with their
/// privileges (when only functions changed: `Ask::functions`), and what depends on the
/// functions and types the batch altered (`Ask::altered`, in `upcycle_classes` and
/// `upcycle_objects`). So a step that changes a function and a table is two statements too.
const EXTRAS: [(&str, &str, &str); 3] = [
    (
        "functions",
        objects::FUNCTIONS_SINCE,
        "upcycle_functions IS NOT NULL",
    ),
    (
        "privileges of functions",
        objects::GRANTS_OF_FUNCTIONS_SINCE,
        "upcycle_functions IS NOT NULL",
    ),
    (
        "what depends on the changed objects",
        dependents::DEPENDENTS_OF_ALTERED,
        "cardinality(upcycle_objects) > 0",
    ),
];

/// `CREATE FUNCTION upcycle_sandbox.reread(named oid[], owned oid[], since int8, functions
/// int8, classes oid[], objects oid[])`: part 0 is what `EXPAND` found (`{"rels": […],
/// "vanished": […]}`); part `i + 1` holds the rows of `PARTS[i]` for the relations reached, or
/// nothing when none of them has that kind of row; then `EXTRAS`, each when asked for.
/// The first parameter is then set to the relations reached, so that each part's query
/// (written for `$1`, as `Scoped::some_reusing`) reads them. `since` is the last snapshot's
/// horizon (its oldest running transaction, 0 for none): a child whose rows are all older
/// (`upcycle_horizon`, as an age) is returned as `Part::compact` says, and the last read has
/// the rest (`Reused`).
pub(super) fn function() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let mut body = String::new();
        for (i, part) in PARTS.iter().enumerate() {
            let row = match part.compact {
                Some(compact) => format!(
                    "CASE WHEN q.written THEN to_json(q) ELSE json_build_object({compact}) END"
                ),
                None => "q".to_string(),
            };
            let query = format!(
                "RETURN QUERY SELECT {}, json_agg({row})::text FROM ({}) q;",
                i + 1,
                part.query.some_reusing()
            );
            match part.kind {
                Some(bit) => body.push_str(&format!(
                    "\n    IF upcycle_kinds & {bit} <> 0 THEN\n      {query}\n    END IF;"
                )),
                None => body.push_str(&format!("\n    {query}")),
            }
        }
        let mut extras = String::new();
        for (i, (_, query, when)) in EXTRAS.iter().enumerate() {
            extras.push_str(&format!(
                "\n  IF {when} THEN\n    RETURN QUERY SELECT {}, json_agg(q)::text FROM ({query}) q;\n  END IF;",
                PARTS.len() + 1 + i
            ));
        }
        format!(
            r#"
CREATE FUNCTION upcycle_sandbox.reread(upcycle_named oid[], upcycle_owned oid[], upcycle_since int8,
                                       upcycle_functions int8, upcycle_classes oid[],
                                       upcycle_objects oid[])
  RETURNS TABLE(upcycle_part int4, upcycle_rows text)
  LANGUAGE plpgsql STABLE
  SET search_path = pg_catalog, public SET plan_cache_mode = force_generic_plan
  SET {costs} AS $upcycle$
#variable_conflict use_column
DECLARE
  upcycle_horizon int4 := CASE WHEN upcycle_since > 0
                               THEN age(((upcycle_since % 4294967296)::text)::xid)
                               ELSE 2147483647 END;
  upcycle_rels oid[];
  upcycle_kinds int4;
  upcycle_vanished oid[];
BEGIN
  SELECT coalesce(array_agg(x.rel) FILTER (WHERE x.k >= 0), '{{}}'),
         coalesce(bit_or(x.k) FILTER (WHERE x.k >= 0), 0),
         coalesce(array_agg(x.rel) FILTER (WHERE x.k < 0), '{{}}')
    INTO upcycle_rels, upcycle_kinds, upcycle_vanished
    FROM ({EXPAND}) x;
  RETURN QUERY SELECT 0, json_build_object('rels', upcycle_rels, 'vanished', upcycle_vanished)::text;
  IF cardinality(upcycle_rels) > 0 THEN
    upcycle_named := upcycle_rels;{body}
  END IF;{extras}
END $upcycle$;
"#,
            costs = super::planner_costs!()
        )
    })
}

/// What a batch of changes reaches (see `EXPAND`).
#[derive(Debug)]
pub(super) struct Reach {
    pub rels: Vec<Oid>,
    /// Those of the sequences asked about that no longer exist.
    pub vanished: Vec<Oid>,
}

/// What to read again.
pub(super) struct Ask<'a> {
    /// The relations a batch named, and the sequences the changed tables own.
    pub named: &'a [Oid],
    pub owned: &'a [Oid],
    /// The last snapshot's horizon: children not written since come back compact (0: every
    /// child whole).
    pub since: i64,
    /// Read the functions written since this horizon (`EXTRAS`).
    pub functions: Option<i64>,
    /// Read what depends on these functions and types (catalog, OID).
    pub altered: &'a [(Oid, Oid)],
}

/// What the function returned.
#[derive(Debug)]
pub(super) struct Reread {
    pub reach: Reach,
    /// The relations reached, read (with `Draft::reused`).
    pub draft: Draft,
    pub extras: Extras,
}

/// What the function read besides relations (`EXTRAS`), each when asked for.
#[derive(Debug, Default)]
pub(super) struct Extras {
    /// The rows of `FUNCTIONS_SINCE` and their privileges (only functions changed).
    pub functions: Option<(Vec<Row>, Vec<Row>)>,
    /// The rows of `DEPENDENTS_OF_ALTERED`.
    pub dependents: Option<Vec<Row>>,
}

/// Calls the function (see `function`).
pub(super) async fn reread(conn: &mut PgConnection, ask: Ask<'_>) -> anyhow::Result<Reread> {
    let (classes, objects): (Vec<Oid>, Vec<Oid>) = ask.altered.iter().copied().unzip();
    let mut parts: Vec<(i32, Option<String>)> = sqlx::query_as(
        "SELECT upcycle_part, upcycle_rows FROM upcycle_sandbox.reread($1, $2, $3, $4, $5, $6)",
    )
    .bind(ask.named)
    .bind(ask.owned)
    .bind(ask.since)
    .bind(ask.functions)
    .bind(&classes)
    .bind(&objects)
    .fetch_all(conn)
    .await
    .context("re-reading the changed relations")?;
    parts.sort_by_key(|(part, _)| *part);
    let mut reach = None;
    let mut draft = Draft::default();
    let mut extras: [Option<Vec<Row>>; EXTRAS.len()] = Default::default();
    for (part, rows) in parts {
        if part == 0 {
            let row = Row::parse(rows.as_deref().unwrap_or("{}"), "the relations reached")?;
            reach = Some(Reach {
                rels: get(&row, "rels")?,
                vanished: get(&row, "vanished")?,
            });
            continue;
        }
        let index = usize::try_from(part - 1).ok();
        if let Some(part) = index.and_then(|i| PARTS.get(i)) {
            (part.apply)(&mut draft, Row::parse_all(rows.as_deref(), part.what)?)?;
            continue;
        }
        let extra = index.and_then(|i| i.checked_sub(PARTS.len()));
        let Some((slot, (what, _, _))) = extra.and_then(|i| extras.get_mut(i).zip(EXTRAS.get(i)))
        else {
            anyhow::bail!("the re-read function returned an unknown part {part}");
        };
        *slot = Some(Row::parse_all(rows.as_deref(), what)?);
    }
    let reach = reach.context("the re-read function returned no relations")?;
    let [functions, grants, dependents] = extras;
    Ok(Reread {
        reach,
        draft,
        extras: Extras {
            functions: functions.zip(grants),
            dependents,
        },
    })
}
