//! Differences in tables and views and what hangs off them: columns (and their order),
//! constraints, indexes, triggers, rules and policies.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::objects::{Column, Constraint, Index, Policy, Table, TableKind, Trigger, View};
use super::super::text::{short_name, split_qualified};
use super::{ChangeKind, Changes};

pub(super) fn tables(
    c: &mut Changes,
    before: &BTreeMap<String, Arc<Table>>,
    after: &BTreeMap<String, Arc<Table>>,
) {
    c.map(
        before,
        after,
        |key, _| format!("table {key}"),
        |t| (t.kind != TableKind::Table).then(|| t.kind.as_str().to_string()),
        |c, object, b, a| table(c, object, b, a),
    );
}

fn table(c: &mut Changes, object: &str, b: &Table, a: &Table) {
    let key = object.strip_prefix("table ").unwrap_or(object);
    c.field(object, "kind", &b.kind, &a.kind);
    columns(c, "column", key, &b.columns, &a.columns);
    column_order(c, "column", key, &b.columns, &a.columns);
    constraints(c, key, &b.constraints, &a.constraints);
    indexes(c, key, &b.indexes, &a.indexes);
    triggers(c, key, &b.triggers, &a.triggers);
    rules(c, key, &b.rules, &a.rules);
    policies(c, key, &b.policies, &a.policies);
    c.field(
        object,
        "row level security",
        &b.row_security,
        &a.row_security,
    );
    c.field(
        object,
        "forced row level security",
        &b.force_row_security,
        &a.force_row_security,
    );
    c.field(object, "partition key", &b.partition_key, &a.partition_key);
    c.field(object, "partition of", &b.partition_of, &a.partition_of);
    let parents = |t: &Table| t.inherits.iter().map(|p| short_name(p)).collect::<Vec<_>>();
    c.field(object, "inherits", &parents(b), &parents(a));
    c.field(object, "options", &b.options, &a.options);
    c.field(
        object,
        "replica identity",
        &b.replica_identity,
        &a.replica_identity,
    );
    c.field(object, "foreign", &b.foreign, &a.foreign);
    c.field(object, "comment", &b.comment, &a.comment);
    c.privileges(object, &b.grants, &a.grants);
}

pub(super) fn views(
    c: &mut Changes,
    before: &BTreeMap<String, Arc<View>>,
    after: &BTreeMap<String, Arc<View>>,
) {
    c.map(
        before,
        after,
        |key, v| format!("{} {key}", v.kind()),
        |_| None,
        |c, object, b, a| {
            let key = split_kind(object);
            let object = &format!("view {key}");
            if b.materialized != a.materialized {
                c.field(object, "kind", b.kind(), a.kind());
            }
            let object = &format!("{} {key}", a.kind());
            if b.definition != a.definition {
                c.push(object, ChangeKind::Changed, "definition changed".into());
            }
            columns(c, "column", key, &b.columns, &a.columns);
            indexes(c, key, &b.indexes, &a.indexes);
            triggers(c, key, &b.triggers, &a.triggers);
            rules(c, key, &b.rules, &a.rules);
            c.field(object, "options", &b.options, &a.options);
            c.field(object, "populated", &b.populated, &a.populated);
            c.field(object, "comment", &b.comment, &a.comment);
            c.privileges(object, &b.grants, &a.grants);
        },
    );
}

/// The name in `materialized view public.v` or `view public.v`.
fn split_kind(object: &str) -> &str {
    object
        .strip_prefix("materialized view ")
        .or_else(|| object.strip_prefix("view "))
        .unwrap_or(object)
}

/// Columns of a table or view (`word` = `column`), or attributes of a composite type
/// (`word` = `attribute`), of the relation `owner`. Positions are compared by `column_order`.
pub(super) fn columns(
    c: &mut Changes,
    word: &str,
    owner: &str,
    before: &BTreeMap<String, Column>,
    after: &BTreeMap<String, Column>,
) {
    c.map(
        before,
        after,
        |name, _| format!("{word} {owner}.{name}"),
        |col| Some(describe_column(col)),
        |c, object, b, a| {
            c.field(object, "type", &b.data_type, &a.data_type);
            c.field(object, "default", &b.default, &a.default);
            c.field(object, "not null", &b.not_null, &a.not_null);
            c.field(object, "identity", &b.identity, &a.identity);
            c.field(object, "generated", &b.generated, &a.generated);
            c.field(object, "collation", &b.collation, &a.collation);
            c.field(object, "storage", &b.storage, &a.storage);
            c.field(object, "compression", &b.compression, &a.compression);
            c.field(object, "statistics", &b.statistics, &a.statistics);
            c.field(object, "comment", &b.comment, &a.comment);
            c.privileges(object, &b.grants, &a.grants);
        },
    );
}

/// `column order of users: id, email, name → id, name, email`, when the columns both sides
/// have are in another order (an added or removed column is reported by itself). A long
/// shared start is elided: `…, deleted_at, key, name → …, deleted_at, name, key`.
pub(super) fn column_order(
    c: &mut Changes,
    word: &str,
    owner: &str,
    before: &BTreeMap<String, Column>,
    after: &BTreeMap<String, Column>,
) {
    let order = |columns: &BTreeMap<String, Column>| {
        let mut named: Vec<(u32, &String)> = columns.iter().map(|(n, c)| (c.position, n)).collect();
        named.sort();
        named
            .into_iter()
            .map(|(_, n)| n.clone())
            .collect::<Vec<_>>()
    };
    let (b, a) = (order(before), order(after));
    let common = |names: &[String], other: &BTreeMap<String, Column>| {
        names
            .iter()
            .filter(|n| other.contains_key(*n))
            .cloned()
            .collect::<Vec<_>>()
    };
    if common(&b, after) != common(&a, before) {
        // A wide table's lists start alike: keep the last shared column as an anchor.
        let shared = b.iter().zip(&a).take_while(|(x, y)| x == y).count();
        let skip = if shared > 3 { shared - 1 } else { 0 };
        let list = |names: &[String]| {
            let shown = names[skip..].join(", ");
            if skip > 0 {
                format!("…, {shown}")
            } else {
                shown
            }
        };
        let detail = format!("{} → {}", list(&b), list(&a));
        c.push(
            &format!("{word} order of {owner}"),
            ChangeKind::Changed,
            detail,
        );
    }
}

/// `text NOT NULL DEFAULT now()`: a column as a person would declare it.
pub(super) fn describe_column(col: &Column) -> String {
    let mut out = col.data_type.clone();
    if let Some(collation) = &col.collation {
        out.push_str(&format!(" COLLATE {collation}"));
    }
    if let Some(identity) = col.identity {
        out.push_str(&format!(
            " GENERATED {} AS IDENTITY",
            identity.as_str().to_uppercase()
        ));
    }
    if let Some(expr) = &col.generated {
        out.push_str(&format!(" GENERATED ALWAYS AS ({expr}) STORED"));
    }
    if col.not_null {
        out.push_str(" NOT NULL");
    }
    if let Some(default) = &col.default {
        out.push_str(&format!(" DEFAULT {default}"));
    }
    out
}

fn constraints(
    c: &mut Changes,
    table: &str,
    before: &BTreeMap<String, Constraint>,
    after: &BTreeMap<String, Constraint>,
) {
    c.map(
        before,
        after,
        |name, _| format!("constraint {name} on {table}"),
        |k| Some(k.definition.clone()),
        |c, object, b, a| {
            // The definition spells out DEFERRABLE and NOT VALID; the flags only matter alone.
            if b.definition != a.definition {
                c.field(object, "definition", &b.definition, &a.definition);
            } else {
                c.field(object, "deferrable", &b.deferrable, &a.deferrable);
                c.field(
                    object,
                    "initially deferred",
                    &b.initially_deferred,
                    &a.initially_deferred,
                );
                c.field(object, "validated", &b.validated, &a.validated);
            }
            c.field(object, "comment", &b.comment, &a.comment);
        },
    );
}

/// Indexes of the relation `owner`; an index lives in its table's schema.
fn indexes(
    c: &mut Changes,
    owner: &str,
    before: &BTreeMap<String, Index>,
    after: &BTreeMap<String, Index>,
) {
    let (schema, _) = split_qualified(owner);
    c.map(
        before,
        after,
        |name, _| format!("index {schema}.{name}"),
        |i| Some(i.definition.clone()),
        |c, object, b, a| {
            c.field(object, "definition", &b.definition, &a.definition);
            c.field(object, "valid", &b.valid, &a.valid);
            c.field(object, "ready", &b.ready, &a.ready);
            c.field(object, "clustered", &b.clustered, &a.clustered);
            c.field(object, "comment", &b.comment, &a.comment);
        },
    );
}

fn triggers(
    c: &mut Changes,
    owner: &str,
    before: &BTreeMap<String, Trigger>,
    after: &BTreeMap<String, Trigger>,
) {
    c.map(
        before,
        after,
        |name, _| format!("trigger {name} on {owner}"),
        |t| Some(t.definition.clone()),
        |c, object, b, a| {
            c.field(object, "definition", &b.definition, &a.definition);
            c.field(object, "enabled", &b.enabled, &a.enabled);
            c.field(object, "comment", &b.comment, &a.comment);
        },
    );
}

fn rules(
    c: &mut Changes,
    owner: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) {
    c.map(
        before,
        after,
        |name, _| format!("rule {name} on {owner}"),
        |definition| Some(definition.clone()),
        |c, object, b, a| c.field(object, "definition", b, a),
    );
}

fn policies(
    c: &mut Changes,
    table: &str,
    before: &BTreeMap<String, Policy>,
    after: &BTreeMap<String, Policy>,
) {
    c.map(
        before,
        after,
        |name, _| format!("policy {name} on {table}"),
        |p| Some(format!("FOR {} TO {}", p.command, p.roles.join(", "))),
        |c, object, b, a| {
            c.field(object, "command", &b.command, &a.command);
            c.field(object, "permissive", &b.permissive, &a.permissive);
            c.field(object, "roles", &b.roles, &a.roles);
            c.field(object, "using", &b.using, &a.using);
            c.field(object, "with check", &b.with_check, &a.with_check);
            c.field(object, "comment", &b.comment, &a.comment);
        },
    );
}
