//! Schemas, extensions, types, sequences, functions and procedures, and the privileges of every
//! object (as differences from its default ACL, so an untouched object has none).

use std::collections::BTreeMap;

use sqlx::postgres::types::Oid;

use crate::check::schema::{Extension, Function, Privileges, Schema, Sequence, Type, TypeDef};

use super::rows::{Row, get};
use super::{Draft, Scoped, not_in_extension, qualified, user_schema};

pub(super) const SCHEMAS: &str = concat!(
    "SELECT quote_ident(n.nspname) AS key, d.description AS comment
     FROM pg_namespace n
     LEFT JOIN pg_description d ON d.classoid = 'pg_namespace'::regclass AND d.objoid = n.oid AND d.objsubid = 0
     WHERE ",
    user_schema!("n"),
    " AND ",
    not_in_extension!("pg_namespace", "n.oid"),
);

pub(super) fn schemas(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let schema = Schema {
            comment: get(&row, "comment")?,
            grants: Privileges::default(),
        };
        snapshot.schemas.insert(get(&row, "key")?, schema);
    }
    Ok(())
}

pub(super) const EXTENSIONS: &str = "SELECT quote_ident(e.extname) AS key, e.extversion AS version,
       quote_ident(n.nspname) AS schema
     FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace";

pub(super) fn extensions(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let extension = Extension {
            version: get(&row, "version")?,
            schema: get(&row, "schema")?,
        };
        snapshot.extensions.insert(get(&row, "key")?, extension);
    }
    Ok(())
}

/// Enums, domains (with their checks), composite types (attributes come with the columns) and
/// range types. Domain not-null constraints (catalogued from PostgreSQL 17) are `not_null`.
pub(super) const TYPES: &str = concat!(
    "SELECT ",
    qualified!("n", "t.typname"),
    " AS key, t.typtype::text AS kind,
       ARRAY(SELECT e.enumlabel::text FROM pg_enum e WHERE e.enumtypid = t.oid ORDER BY e.enumsortorder) AS labels,
       format_type(t.typbasetype, t.typtypmod) AS base_type,
       pg_get_expr(t.typdefaultbin, 0) AS default_expr, t.typnotnull AS not_null,
       CASE WHEN t.typcollation <> 0 AND t.typcollation <> coalesce(b.typcollation, 0)
            THEN t.typcollation::regcollation::text END AS collation,
       ARRAY(SELECT quote_ident(k.conname) FROM pg_constraint k
             WHERE k.contypid = t.oid AND k.contype = 'c' ORDER BY k.conname) AS check_names,
       ARRAY(SELECT pg_get_constraintdef(k.oid) FROM pg_constraint k
             WHERE k.contypid = t.oid AND k.contype = 'c' ORDER BY k.conname) AS check_definitions,
       format_type(r.rngsubtype, NULL) AS subtype,
       (SELECT quote_ident(o.opcname) FROM pg_opclass o WHERE o.oid = r.rngsubopc) AS opclass,
       CASE WHEN r.rngcollation <> 0 THEN r.rngcollation::regcollation::text END AS range_collation,
       CASE WHEN r.rngcanonical::oid <> 0 THEN r.rngcanonical::regprocedure::text END AS canonical,
       CASE WHEN r.rngsubdiff::oid <> 0 THEN r.rngsubdiff::regprocedure::text END AS subtype_diff,
       format_type(r.rngmultitypid, NULL) AS multirange,
       d.description AS comment, t.typrelid AS composite
     FROM pg_type t
     JOIN pg_namespace n ON n.oid = t.typnamespace
     LEFT JOIN pg_type b ON b.oid = t.typbasetype
     LEFT JOIN pg_class c ON c.oid = t.typrelid
     LEFT JOIN pg_range r ON r.rngtypid = t.oid
     LEFT JOIN pg_description d ON d.classoid = 'pg_type'::regclass AND d.objoid = t.oid AND d.objsubid = 0
     WHERE (t.typtype IN ('e', 'd', 'r') OR (t.typtype = 'c' AND c.relkind = 'c')) AND ",
    user_schema!("n"),
    " AND ",
    not_in_extension!("pg_type", "t.oid"),
);

pub(super) fn types(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let def = match get::<String>(&row, "kind")?.as_str() {
            "e" => TypeDef::Enum {
                labels: get(&row, "labels")?,
            },
            "d" => {
                let names: Vec<String> = get(&row, "check_names")?;
                let definitions: Vec<String> = get(&row, "check_definitions")?;
                TypeDef::Domain {
                    base_type: get(&row, "base_type")?,
                    default: get(&row, "default_expr")?,
                    not_null: get(&row, "not_null")?,
                    collation: get(&row, "collation")?,
                    checks: names.into_iter().zip(definitions).collect(),
                }
            }
            "r" => TypeDef::Range {
                subtype: get(&row, "subtype")?,
                opclass: get::<Option<String>>(&row, "opclass")?.unwrap_or_default(),
                collation: get(&row, "range_collation")?,
                canonical: get(&row, "canonical")?,
                subtype_diff: get(&row, "subtype_diff")?,
                multirange: get(&row, "multirange")?,
            },
            _ => {
                snapshot.composites.push(get(&row, "composite")?);
                TypeDef::Composite {
                    attributes: BTreeMap::new(),
                }
            }
        };
        let ty = Type {
            def,
            comment: get(&row, "comment")?,
            grants: Privileges::default(),
        };
        snapshot.types.insert(get(&row, "key")?, ty);
    }
    Ok(())
}

/// Sequences with `OWNED BY` (auto, `a`) or identity (internal, `i`) owners.
pub(super) static SEQUENCES: Scoped = Scoped::new(concat!(
    "SELECT ",
    qualified!("n", "c.relname"),
    " AS key, c.oid AS oid, format_type(s.seqtypid, NULL) AS data_type, s.seqstart AS start,
       s.seqincrement AS increment, s.seqmin AS min, s.seqmax AS max, s.seqcache AS cache,
       s.seqcycle AS cycle,
       (SELECT ",
    qualified!("tn", "tc.relname"),
    " || '.' || quote_ident(ta.attname)
          FROM pg_depend o
          JOIN pg_class tc ON tc.oid = o.refobjid
          JOIN pg_namespace tn ON tn.oid = tc.relnamespace
          JOIN pg_attribute ta ON ta.attrelid = o.refobjid AND ta.attnum = o.refobjsubid
          WHERE o.classid = 'pg_class'::regclass AND o.objid = c.oid
            AND o.refclassid = 'pg_class'::regclass AND o.refobjsubid > 0
            AND o.deptype IN ('a', 'i')
          LIMIT 1) AS owned_by,
       d.description AS comment
     FROM pg_sequence s
     JOIN pg_class c ON c.oid = s.seqrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = 0
     WHERE ",
    user_schema!("n"),
    " AND ",
    not_in_extension!("pg_class", "c.oid"),
));

pub(super) fn sequences(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let key: String = get(&row, "key")?;
        snapshot.oids.insert(key.clone(), get::<Oid>(&row, "oid")?);
        let sequence = Sequence {
            data_type: get(&row, "data_type")?,
            start: get(&row, "start")?,
            increment: get(&row, "increment")?,
            min: get(&row, "min")?,
            max: get(&row, "max")?,
            cache: get(&row, "cache")?,
            cycle: get(&row, "cycle")?,
            owned_by: get(&row, "owned_by")?,
            comment: get(&row, "comment")?,
            grants: Privileges::default(),
        };
        snapshot.sequences.insert(key, sequence);
    }
    Ok(())
}

/// The key of a function: `schema.name(argument types)`.
macro_rules! function_key {
    () => {
        concat!(
            qualified!("n", "p.proname"),
            " || '(' || oidvectortypes(p.proargtypes) || ')'"
        )
    };
}

/// Functions and procedures that are not an extension's nor a type's own (nor initdb's: an OID
/// below 16384, which keeps the scan of `pg_proc` to its index), each rendered whole
/// when `$written` holds (its result, definition and body; else those are NULL, and `written`
/// says so). `pg_get_functiondef` refuses aggregates, so an aggregate's definition is its
/// state function, state type, final function and initial condition.
macro_rules! functions {
    ($written:expr) => {
        concat!(
            "SELECT ",
            function_key!(),
            " AS key, ",
            $written,
            " AS written, p.prokind::text AS kind,
       CASE WHEN ",
            $written,
            " THEN pg_get_function_result(p.oid) END AS result,
       l.lanname AS language, p.provolatile::text AS volatility,
       p.prosecdef AS security_definer,
       CASE WHEN NOT ",
            $written,
            " THEN NULL WHEN p.prokind = 'a' THEN
            (SELECT 'SFUNC = ' || a.aggtransfn::regprocedure::text
                    || ', STYPE = ' || format_type(a.aggtranstype, NULL)
                    || CASE WHEN a.aggfinalfn::oid <> 0
                            THEN ', FINALFUNC = ' || a.aggfinalfn::regprocedure::text ELSE '' END
                    || coalesce(', INITCOND = ' || quote_literal(a.agginitval), '')
             FROM pg_aggregate a WHERE a.aggfnoid = p.oid)
            ELSE pg_get_functiondef(p.oid) END AS definition,
       CASE WHEN NOT ",
            $written,
            " THEN NULL WHEN p.prosqlbody IS NOT NULL THEN pg_get_function_sqlbody(p.oid)
            ELSE p.prosrc END AS body,
       d.description AS comment
     FROM pg_proc p
     JOIN pg_namespace n ON n.oid = p.pronamespace
     JOIN pg_language l ON l.oid = p.prolang
     LEFT JOIN pg_description d ON d.classoid = 'pg_proc'::regclass AND d.objoid = p.oid AND d.objsubid = 0
     WHERE p.oid >= 16384 AND ",
            user_schema!("n"),
            " AND ",
            not_in_extension!("pg_proc", "p.oid"),
            // A range type's constructors depend on it internally; the type stands for them.
            " AND NOT EXISTS (SELECT 1 FROM pg_depend i WHERE i.classid = 'pg_proc'::regclass
        AND i.objid = p.oid AND i.deptype = 'i')",
        )
    };
}

/// A function's `pg_proc` row was written since the horizon `upcycle_functions` (a variable
/// of the re-read function, `reread`: the oldest transaction the last snapshot could not see,
/// as `txid_snapshot_xmin` gives it; 0: every row was).
macro_rules! function_written {
    () => {
        "(CASE WHEN upcycle_functions > 0 THEN age(p.xmin) <= age(((upcycle_functions % 4294967296)::text)::xid) ELSE true END)"
    };
}

pub(super) const FUNCTIONS: &str = functions!("true");

/// `FUNCTIONS`, rendering whole only the functions written since the horizon
/// `upcycle_functions` (in the re-read function): when no type and no schema changed, the
/// others print as the last read has them (a comment, which is a row of its own, comes back
/// with every row).
pub(super) const FUNCTIONS_SINCE: &str = functions!(function_written!());

pub(super) fn functions(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let kind = match get::<String>(&row, "kind")?.as_str() {
            "p" => "procedure",
            "a" => "aggregate",
            "w" => "window function",
            _ => "function",
        };
        let volatility = match get::<String>(&row, "volatility")?.as_str() {
            "i" => "immutable",
            "s" => "stable",
            _ => "volatile",
        };
        let function = Function {
            kind: kind.to_string(),
            result: get(&row, "result")?,
            language: get(&row, "language")?,
            volatility: volatility.to_string(),
            security_definer: get(&row, "security_definer")?,
            definition: get::<Option<String>>(&row, "definition")?.unwrap_or_default(),
            body: get::<Option<String>>(&row, "body")?.unwrap_or_default(),
            comment: get(&row, "comment")?,
            grants: Privileges::default(),
        };
        snapshot.functions.insert(get(&row, "key")?, function);
    }
    Ok(())
}

/// The objects with an ACL, as (kind, key, column) with their owner and default ACL kind: one
/// branch per catalog; `$only` narrows the relation branches (see `PRIVILEGES`).
macro_rules! schemas_with_acl {
    () => {
        concat!(
            "SELECT 'schema' AS kind, quote_ident(n.nspname) AS key, NULL::text AS sub,
              n.nspowner AS owner, 'n'::\"char\" AS acl_kind, n.nspacl AS acl
       FROM pg_namespace n WHERE n.nspacl IS NOT NULL AND ",
            user_schema!("n"),
        )
    };
}

macro_rules! relations_with_acl {
    ($only:literal) => {
        concat!(
            "SELECT CASE WHEN c.relkind = 'S' THEN 'sequence' WHEN c.relkind IN ('v', 'm') THEN 'view'
                   ELSE 'table' END AS kind, ",
            qualified!("n", "c.relname"),
            " AS key, NULL::text AS sub, c.relowner AS owner,
              CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::\"char\" AS acl_kind, c.relacl AS acl
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND ",
            user_schema!("n"),
            $only,
            "
       UNION ALL
       SELECT CASE WHEN c.relkind IN ('v', 'm') THEN 'view' ELSE 'table' END, ",
            qualified!("n", "c.relname"),
            ", quote_ident(a.attname), c.relowner, 'c', a.attacl
       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
       JOIN pg_namespace n ON n.oid = c.relnamespace
       WHERE a.attacl IS NOT NULL AND a.attnum > 0 AND NOT a.attisdropped AND ",
            user_schema!("n"),
            $only,
        )
    };
}

/// Functions with an ACL: not initdb's (an OID from 16384, which keeps the scan of `pg_proc`
/// to its index, as `functions!` does); `$only` narrows them.
macro_rules! functions_with_acl {
    ($only:expr) => {
        concat!(
            "SELECT 'function', ",
            function_key!(),
            ", NULL, p.proowner, 'f', p.proacl
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
       WHERE p.oid >= 16384 AND p.proacl IS NOT NULL AND ",
            user_schema!("n"),
            $only,
        )
    };
}

macro_rules! routines_and_types_with_acl {
    () => {
        concat!(
            functions_with_acl!(""),
            "
       UNION ALL
       SELECT 'type', ",
            qualified!("n", "t.typname"),
            ", NULL, t.typowner, 'T', t.typacl
       FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
       WHERE t.typacl IS NOT NULL AND ",
            user_schema!("n"),
        )
    };
}

/// The privileges each object in `objects` has beyond the default (`granted`) and the
/// defaults it lost (`revoked`).
macro_rules! privileges_of {
    ($objects:expr) => {
        concat!(
            "WITH objects AS (",
            $objects,
            "
     ), entries AS (
       SELECT o.kind, o.key, o.sub, 'granted' AS sense, x.grantee, x.privilege_type, x.is_grantable
       FROM objects o, aclexplode(o.acl) x
       WHERE NOT EXISTS (SELECT 1 FROM aclexplode(acldefault(o.acl_kind, o.owner)) f
                         WHERE f.grantee = x.grantee AND f.privilege_type = x.privilege_type
                           AND f.is_grantable = x.is_grantable)
       UNION ALL
       SELECT o.kind, o.key, o.sub, 'revoked', f.grantee, f.privilege_type, f.is_grantable
       FROM objects o, aclexplode(acldefault(o.acl_kind, o.owner)) f
       WHERE NOT EXISTS (SELECT 1 FROM aclexplode(o.acl) x
                         WHERE f.grantee = x.grantee AND f.privilege_type = x.privilege_type
                           AND f.is_grantable = x.is_grantable)
     )
     SELECT kind, key, sub, sense,
            CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(grantee)) END AS grantee,
            privilege_type || CASE WHEN is_grantable THEN ' WITH GRANT OPTION' ELSE '' END AS privilege
     FROM entries ORDER BY kind, key, sub, sense, grantee, privilege"
        )
    };
}

/// The privileges of every object with an ACL (schemas, relations and their columns,
/// functions, types), or of the relations `$1` (tables, views, sequences) and their columns.
pub(super) static PRIVILEGES: Scoped = Scoped::narrowed(
    privileges_of!(concat!(
        schemas_with_acl!(),
        " UNION ALL ",
        relations_with_acl!(""),
        " UNION ALL ",
        routines_and_types_with_acl!()
    )),
    privileges_of!(relations_with_acl!(" AND c.oid = ANY($1)")),
);

/// Functions, procedures and types.
pub(super) const GRANTS_OF_ROUTINES_AND_TYPES: &str = privileges_of!(concat!(
    "SELECT kind, key, sub, owner, acl_kind::\"char\" AS acl_kind, acl FROM (",
    routines_and_types_with_acl!(),
    ") AS r(kind, key, sub, owner, acl_kind, acl)"
));

/// The privileges of the functions that `FUNCTIONS_SINCE` renders whole.
pub(super) const GRANTS_OF_FUNCTIONS_SINCE: &str = privileges_of!(concat!(
    "SELECT kind, key, sub, owner, acl_kind::\"char\" AS acl_kind, acl FROM (",
    functions_with_acl!(concat!(" AND ", function_written!())),
    ") AS r(kind, key, sub, owner, acl_kind, acl)"
));

/// Attaches each privilege to its object; an object not in the snapshot (an extension's)
/// keeps none.
pub(super) fn grants(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let kind: String = get(&row, "kind")?;
        let key: String = get(&row, "key")?;
        let sub: Option<String> = get(&row, "sub")?;
        let privileges = match (kind.as_str(), sub) {
            ("schema", _) => snapshot.schemas.get_mut(&key).map(|s| &mut s.grants),
            ("table", Some(column)) => snapshot
                .tables
                .get_mut(&key)
                .and_then(|t| t.columns.get_mut(&column))
                .map(|c| &mut c.grants),
            ("view", Some(column)) => snapshot
                .views
                .get_mut(&key)
                .and_then(|v| v.columns.get_mut(&column))
                .map(|c| &mut c.grants),
            ("table", None) => snapshot.tables.get_mut(&key).map(|t| &mut t.grants),
            ("view", None) => snapshot.views.get_mut(&key).map(|v| &mut v.grants),
            ("sequence", _) => snapshot.sequences.get_mut(&key).map(|s| &mut s.grants),
            ("function", _) => snapshot.functions.get_mut(&key).map(|f| &mut f.grants),
            _ => snapshot.types.get_mut(&key).map(|t| &mut t.grants),
        };
        let Some(privileges) = privileges else {
            continue;
        };
        let side = if get::<String>(&row, "sense")? == "revoked" {
            &mut privileges.revoked
        } else {
            &mut privileges.granted
        };
        side.entry(get(&row, "grantee")?)
            .or_default()
            .push(get(&row, "privilege")?);
    }
    Ok(())
}
