//! Tables and views, and what hangs off them: columns (of composite types too), constraints,
//! indexes, triggers, rules and policies. A child whose relation is not in the snapshot (it belongs to
//! an extension) is skipped.

use sqlx::postgres::types::Oid;

use crate::check::schema::{
    Column, Constraint, ConstraintKind, ForeignTable, Identity, Index, PartitionOf, Policy, Table,
    TableKind, Trigger, TypeDef, View, normalise_whitespace,
};

use super::rows::{Row, get};
use super::{Child, Draft, Reused, Scoped, not_in_extension, qualified, user_schema};

pub(super) static RELATIONS: Scoped = Scoped::new(concat!(
    "SELECT ",
    qualified!("n", "c.relname"),
    " AS key, c.oid AS oid, c.relkind::text AS relkind, c.relpersistence::text AS persistence,
       c.relrowsecurity AS row_security, c.relforcerowsecurity AS force_row_security,
       c.relreplident::text AS replica_identity, c.relispopulated AS populated,
       ARRAY(SELECT o FROM unnest(c.reloptions) o ORDER BY o) AS options,
       CASE WHEN c.relkind = 'p' THEN pg_get_partkeydef(c.oid) END AS partition_key,
       CASE WHEN c.relispartition THEN pg_get_expr(c.relpartbound, c.oid) END AS partition_bound,
       ARRAY(SELECT ",
    qualified!("pn", "pc.relname"),
    " FROM pg_inherits i JOIN pg_class pc ON pc.oid = i.inhparent
             JOIN pg_namespace pn ON pn.oid = pc.relnamespace
             WHERE i.inhrelid = c.oid ORDER BY i.inhseqno) AS parents,
       CASE WHEN c.relkind IN ('v', 'm') THEN pg_get_viewdef(c.oid) END AS definition,
       quote_ident(fs.srvname) AS foreign_server,
       ARRAY(SELECT o FROM unnest(ft.ftoptions) o ORDER BY o) AS foreign_options,
       d.description AS comment
     FROM pg_class c
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_foreign_table ft ON ft.ftrelid = c.oid
     LEFT JOIN pg_foreign_server fs ON fs.oid = ft.ftserver
     LEFT JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = c.oid AND d.objsubid = 0
     WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm') AND ",
    user_schema!("n"),
    " AND ",
    not_in_extension!("pg_class", "c.oid"),
));

/// Tables (every kind) and views (plain and materialized), without their children.
pub(super) fn relations(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let key: String = get(&row, "key")?;
        snapshot.oids.insert(key.clone(), get::<Oid>(&row, "oid")?);
        let relkind: String = get(&row, "relkind")?;
        let options: Vec<String> = get(&row, "options")?;
        let comment: Option<String> = get(&row, "comment")?;
        if let Some(definition) = get::<Option<String>>(&row, "definition")? {
            let view = View {
                materialized: relkind == "m",
                definition: normalise_whitespace(&definition),
                columns: Default::default(),
                indexes: Default::default(),
                triggers: Default::default(),
                rules: Default::default(),
                options,
                populated: get(&row, "populated")?,
                comment,
                grants: Default::default(),
            };
            snapshot.views.insert(key, view);
            continue;
        }
        let persistence: String = get(&row, "persistence")?;
        let kind = match (relkind.as_str(), persistence.as_str()) {
            ("p", _) => TableKind::Partitioned,
            ("f", _) => TableKind::Foreign,
            (_, "u") => TableKind::Unlogged,
            _ => TableKind::Table,
        };
        let mut table = Table::new(kind);
        table.row_security = get(&row, "row_security")?;
        table.force_row_security = get(&row, "force_row_security")?;
        table.replica_identity = match get::<String>(&row, "replica_identity")?.as_str() {
            "n" => Some("nothing".into()),
            "f" => Some("full".into()),
            "i" => Some("index".into()),
            _ => None,
        };
        table.options = options;
        table.partition_key = get(&row, "partition_key")?;
        let parents: Vec<String> = get(&row, "parents")?;
        match get::<Option<String>>(&row, "partition_bound")? {
            Some(bound) => {
                table.partition_of = parents.first().map(|parent| PartitionOf {
                    parent: parent.clone(),
                    bound,
                });
            }
            None => table.inherits = parents,
        }
        if let Some(server) = get::<Option<String>>(&row, "foreign_server")? {
            table.foreign = Some(ForeignTable {
                server,
                options: get(&row, "foreign_options")?,
            });
        }
        table.comment = comment;
        snapshot.tables.insert(key, table);
    }
    Ok(())
}

/// `$written`: whether a column's rows were written since the last snapshot (`true` in a
/// read, a test of `xmin` in the re-read function); the type and expressions of one that was
/// not are left NULL, and the re-read function returns only what `Part::compact` names of it
/// (the rest is copied from the last read: `Reused`).
macro_rules! columns_query {
    ($written:literal) => {
        concat!(
    "SELECT ",
    qualified!("n", "c.relname"),
    " AS key, c.relkind::text AS relkind, quote_ident(a.attname) AS name, a.attnum AS attnum,
       row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum)::int4 AS position,
       CASE WHEN ", $written, " THEN format_type(a.atttypid, a.atttypmod) END AS data_type,
       CASE WHEN ", $written, " AND a.attgenerated = '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS default_expr,
       CASE WHEN ", $written, " AND a.attgenerated <> '' THEN pg_get_expr(ad.adbin, ad.adrelid) END AS generated,
       coalesce(", $written, ", false) AS written,
       a.attnotnull AS not_null, a.attidentity::text AS identity,
       CASE WHEN a.attcollation <> t.typcollation THEN a.attcollation::regcollation::text END AS collation,
       CASE WHEN a.attstorage <> t.typstorage THEN a.attstorage::text END AS storage,
       nullif(a.attcompression::text, '') AS compression,
       nullif(a.attstattarget::int4, -1) AS statistics,
       d.description AS comment
     FROM pg_attribute a
     JOIN pg_class c ON c.oid = a.attrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     JOIN pg_type t ON t.oid = a.atttypid
     LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
     LEFT JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = a.attrelid AND d.objsubid = a.attnum
     WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'c') AND ",
    user_schema!("n"),
)
    };
}

pub(super) static COLUMNS: Scoped = Scoped::reusing(
    columns_query!("true"),
    columns_query!("(age(a.xmin) <= upcycle_horizon OR age(ad.xmin) <= upcycle_horizon)"),
);

/// Columns of tables and views, and attributes of composite types. A row the re-read function
/// did not write whole (`written` false: name, number, position and comment) is a column as the
/// last read has it (`Reused`).
pub(super) fn columns(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let key: String = get(&row, "key")?;
        let name: String = get(&row, "name")?;
        let position: i32 = get(&row, "position")?;
        let written: bool = get(&row, "written")?;
        let mut column = Column::new(u32::try_from(position).unwrap_or(0), "");
        column.comment = get(&row, "comment")?;
        if written {
            column.data_type = get(&row, "data_type")?;
            column.default = get(&row, "default_expr")?;
            column.generated = get(&row, "generated")?;
            column.not_null = get(&row, "not_null")?;
            column.identity = match get::<String>(&row, "identity")?.as_str() {
                "a" => Some(Identity::Always),
                "d" => Some(Identity::ByDefault),
                _ => None,
            };
            column.collation = get(&row, "collation")?;
            column.storage = get::<Option<String>>(&row, "storage")?.map(|s| storage_name(&s));
            column.compression =
                get::<Option<String>>(&row, "compression")?.map(|c| match c.as_str() {
                    "p" => "pglz".to_string(),
                    "l" => "lz4".to_string(),
                    _ => c,
                });
            column.statistics = get(&row, "statistics")?;
        }
        let relkind: String = get(&row, "relkind")?;
        if relkind != "c" {
            snapshot
                .attnums
                .entry(key.clone())
                .or_default()
                .push((get(&row, "attnum")?, name.clone()));
        }
        let columns = match relkind.as_str() {
            "v" | "m" => snapshot.views.get_mut(&key).map(|v| &mut v.columns),
            "c" => match snapshot.types.get_mut(&key).map(|t| &mut t.def) {
                Some(TypeDef::Composite { attributes }) => Some(attributes),
                _ => None,
            },
            _ => snapshot.tables.get_mut(&key).map(|t| &mut t.columns),
        };
        if let Some(columns) = columns {
            columns.insert(name.clone(), column);
            if !written {
                snapshot
                    .reused
                    .push(Reused::new(&key, Child::Column, &name));
            }
        }
    }
    Ok(())
}

fn storage_name(code: &str) -> String {
    match code {
        "p" => "plain",
        "e" => "external",
        "m" => "main",
        "x" => "extended",
        other => other,
    }
    .to_string()
}

/// Not-null constraints (PostgreSQL 18 catalogues them) are the columns' `not_null`; a
/// foreign key's copies for each partition of the table it references are internal.
/// `$written` as for `columns_query!`: the definition of one not written is left NULL.
macro_rules! constraints_query {
    ($written:literal) => {
        concat!(
    "SELECT ",
    qualified!("n", "c.relname"),
    " AS key, quote_ident(k.conname) AS name, k.contype::text AS kind,
       CASE WHEN ", $written, " THEN pg_get_constraintdef(k.oid) END AS definition,
       coalesce(", $written, ", false) AS written, k.condeferrable AS deferrable,
       k.condeferred AS initially_deferred, k.convalidated AS validated, d.description AS comment
     FROM pg_constraint k
     JOIN pg_class c ON c.oid = k.conrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_description d ON d.classoid = 'pg_constraint'::regclass AND d.objoid = k.oid AND d.objsubid = 0
     WHERE k.contype <> 'n' AND ",
    user_schema!("n"),
    " AND NOT EXISTS (SELECT 1 FROM pg_constraint p WHERE p.oid = k.conparentid AND p.conrelid = k.conrelid)",
)
    };
}

pub(super) static CONSTRAINTS: Scoped = Scoped::reusing(
    constraints_query!("true"),
    constraints_query!("age(k.xmin) <= upcycle_horizon"),
);

pub(super) fn constraints(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let key: String = get(&row, "key")?;
        let name: String = get(&row, "name")?;
        let written: bool = get(&row, "written")?;
        let Some(table) = snapshot.tables.get_mut(&key) else {
            continue;
        };
        let mut constraint = Constraint {
            kind: ConstraintKind::Check,
            definition: String::new(),
            deferrable: false,
            initially_deferred: false,
            validated: true,
            comment: get(&row, "comment")?,
        };
        if written {
            constraint.kind = match get::<String>(&row, "kind")?.as_str() {
                "c" => ConstraintKind::Check,
                "f" => ConstraintKind::ForeignKey,
                "p" => ConstraintKind::PrimaryKey,
                "u" => ConstraintKind::Unique,
                "x" => ConstraintKind::Exclusion,
                _ => ConstraintKind::Trigger,
            };
            constraint.definition = get(&row, "definition")?;
            constraint.deferrable = get(&row, "deferrable")?;
            constraint.initially_deferred = get(&row, "initially_deferred")?;
            constraint.validated = get(&row, "validated")?;
        }
        table.constraints.insert(name.clone(), constraint);
        if !written {
            snapshot
                .reused
                .push(Reused::new(&key, Child::Constraint, &name));
        }
    }
    Ok(())
}

/// `$written` as for `columns_query!`: the definition of one not written is left NULL.
macro_rules! indexes_query {
    ($written:literal) => {
        concat!(
    "SELECT ",
    qualified!("n", "c.relname"),
    " AS key, c.oid AS rel, i.indexrelid AS index, quote_ident(ic.relname) AS name,
       CASE WHEN ", $written, " THEN pg_get_indexdef(i.indexrelid) END AS definition,
       coalesce(", $written, ", false) AS written,
       i.indisvalid AS valid, i.indisready AS ready, i.indisclustered AS clustered,
       d.description AS comment
     FROM pg_index i
     JOIN pg_class ic ON ic.oid = i.indexrelid
     JOIN pg_class c ON c.oid = i.indrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_description d ON d.classoid = 'pg_class'::regclass AND d.objoid = i.indexrelid AND d.objsubid = 0
     WHERE c.relkind IN ('r', 'p', 'm') AND ",
    user_schema!("n"),
)
    };
}

pub(super) static INDEXES: Scoped = Scoped::reusing(
    indexes_query!("true"),
    indexes_query!("(age(i.xmin) <= upcycle_horizon OR age(ic.xmin) <= upcycle_horizon)"),
);

pub(super) fn indexes(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let key: String = get(&row, "key")?;
        snapshot
            .index_owners
            .push((get(&row, "index")?, get(&row, "rel")?));
        let name: String = get(&row, "name")?;
        let written: bool = get(&row, "written")?;
        let index = Index {
            definition: if written {
                get(&row, "definition")?
            } else {
                String::new()
            },
            valid: get(&row, "valid")?,
            ready: get(&row, "ready")?,
            clustered: written && get(&row, "clustered")?,
            comment: get(&row, "comment")?,
        };
        let indexes = match snapshot.tables.get_mut(&key) {
            Some(table) => Some(&mut table.indexes),
            None => snapshot.views.get_mut(&key).map(|v| &mut v.indexes),
        };
        if let Some(indexes) = indexes {
            indexes.insert(name.clone(), index);
            if !written {
                snapshot.reused.push(Reused::new(&key, Child::Index, &name));
            }
        }
    }
    Ok(())
}

/// `$written` as for `columns_query!`: the definition of one not written is left NULL.
macro_rules! triggers_query {
    ($written:literal) => {
        concat!(
    "SELECT ",
    qualified!("n", "c.relname"),
    " AS key, quote_ident(t.tgname) AS name, CASE WHEN ", $written, " THEN pg_get_triggerdef(t.oid) END AS definition,
       coalesce(", $written, ", false) AS written,
       t.tgenabled::text AS enabled, d.description AS comment
     FROM pg_trigger t
     JOIN pg_class c ON c.oid = t.tgrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_description d ON d.classoid = 'pg_trigger'::regclass AND d.objoid = t.oid AND d.objsubid = 0
     WHERE NOT t.tgisinternal AND ",
    user_schema!("n"),
)
    };
}

pub(super) static TRIGGERS: Scoped = Scoped::reusing(
    triggers_query!("true"),
    triggers_query!("age(t.xmin) <= upcycle_horizon"),
);

pub(super) fn triggers(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let key: String = get(&row, "key")?;
        let name: String = get(&row, "name")?;
        let written: bool = get(&row, "written")?;
        let mut trigger = Trigger {
            definition: String::new(),
            enabled: String::new(),
            comment: get(&row, "comment")?,
        };
        if written {
            trigger.definition = get(&row, "definition")?;
            trigger.enabled = match get::<String>(&row, "enabled")?.as_str() {
                "O" => "origin",
                "D" => "disabled",
                "R" => "replica",
                "A" => "always",
                _ => "unknown",
            }
            .to_string();
        }
        let triggers = match snapshot.tables.get_mut(&key) {
            Some(table) => Some(&mut table.triggers),
            None => snapshot.views.get_mut(&key).map(|v| &mut v.triggers),
        };
        if let Some(triggers) = triggers {
            triggers.insert(name.clone(), trigger);
            if !written {
                snapshot
                    .reused
                    .push(Reused::new(&key, Child::Trigger, &name));
            }
        }
    }
    Ok(())
}

pub(super) static RULES: Scoped = Scoped::new(concat!(
    "SELECT ",
    qualified!("n", "c.relname"),
    " AS key, quote_ident(r.rulename) AS name, pg_get_ruledef(r.oid) AS definition
     FROM pg_rewrite r
     JOIN pg_class c ON c.oid = r.ev_class
     JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE r.rulename <> '_RETURN' AND ",
    user_schema!("n"),
));

/// Rewrite rules of tables and views (a view's own `_RETURN` rule is its definition).
pub(super) fn rules(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let key: String = get(&row, "key")?;
        let rules = match snapshot.tables.get_mut(&key) {
            Some(table) => Some(&mut table.rules),
            None => snapshot.views.get_mut(&key).map(|v| &mut v.rules),
        };
        if let Some(rules) = rules {
            let definition: String = get(&row, "definition")?;
            rules.insert(get(&row, "name")?, normalise_whitespace(&definition));
        }
    }
    Ok(())
}

pub(super) static POLICIES: Scoped = Scoped::new(concat!(
    "SELECT ",
    qualified!("n", "c.relname"),
    " AS key, quote_ident(p.polname) AS name, p.polcmd::text AS command,
       p.polpermissive AS permissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(r)) END
             FROM unnest(p.polroles) r ORDER BY 1) AS roles,
       pg_get_expr(p.polqual, p.polrelid) AS using_expr,
       pg_get_expr(p.polwithcheck, p.polrelid) AS with_check,
       d.description AS comment
     FROM pg_policy p
     JOIN pg_class c ON c.oid = p.polrelid
     JOIN pg_namespace n ON n.oid = c.relnamespace
     LEFT JOIN pg_description d ON d.classoid = 'pg_policy'::regclass AND d.objoid = p.oid AND d.objsubid = 0
     WHERE ",
    user_schema!("n"),
));

pub(super) fn policies(snapshot: &mut Draft, rows: Vec<Row>) -> anyhow::Result<()> {
    for row in rows {
        let key: String = get(&row, "key")?;
        let Some(table) = snapshot.tables.get_mut(&key) else {
            continue;
        };
        let command = match get::<String>(&row, "command")?.as_str() {
            "r" => "SELECT",
            "a" => "INSERT",
            "w" => "UPDATE",
            "d" => "DELETE",
            _ => "ALL",
        };
        let policy = Policy {
            command: command.to_string(),
            permissive: get(&row, "permissive")?,
            roles: get(&row, "roles")?,
            using: get(&row, "using_expr")?,
            with_check: get(&row, "with_check")?,
            comment: get(&row, "comment")?,
        };
        table.policies.insert(get(&row, "name")?, policy);
    }
    Ok(())
}
