//! Differences in the objects that stand alone: schemas, extensions, sequences, functions and
//! procedures, and types (enums, domains, composite and range types).

use std::collections::BTreeMap;

use super::super::objects::{Extension, Function, Schema, Sequence, Type, TypeDef};
use super::tables::{column_order, columns};
use super::{ChangeKind, Changes};

pub(super) fn schemas(
    c: &mut Changes,
    before: &BTreeMap<String, Schema>,
    after: &BTreeMap<String, Schema>,
) {
    c.map(
        before,
        after,
        |key, _| format!("schema {key}"),
        |_| None,
        |c, object, b, a| {
            c.field(object, "comment", &b.comment, &a.comment);
            c.privileges(object, &b.grants, &a.grants);
        },
    );
}

pub(super) fn extensions(
    c: &mut Changes,
    before: &BTreeMap<String, Extension>,
    after: &BTreeMap<String, Extension>,
) {
    c.map(
        before,
        after,
        |key, _| format!("extension {key}"),
        |e| Some(format!("version {}", e.version)),
        |c, object, b, a| {
            c.field(object, "version", &b.version, &a.version);
            c.field(object, "schema", &b.schema, &a.schema);
        },
    );
}

pub(super) fn sequences(
    c: &mut Changes,
    before: &BTreeMap<String, Sequence>,
    after: &BTreeMap<String, Sequence>,
) {
    c.map(
        before,
        after,
        |key, _| format!("sequence {key}"),
        |_| None,
        |c, object, b, a| {
            c.field(object, "type", &b.data_type, &a.data_type);
            c.field(object, "start", &b.start, &a.start);
            c.field(object, "increment", &b.increment, &a.increment);
            c.field(object, "min", &b.min, &a.min);
            c.field(object, "max", &b.max, &a.max);
            c.field(object, "cache", &b.cache, &a.cache);
            c.field(object, "cycle", &b.cycle, &a.cycle);
            let owner = |s: &Sequence| s.owned_by.as_deref().map(super::short_name);
            c.field(object, "owned by", &owner(b), &owner(a));
            c.field(object, "comment", &b.comment, &a.comment);
            c.privileges(object, &b.grants, &a.grants);
        },
    );
}

pub(super) fn functions(
    c: &mut Changes,
    before: &BTreeMap<String, Function>,
    after: &BTreeMap<String, Function>,
) {
    c.map(
        before,
        after,
        |key, f| format!("{} {key}", f.kind),
        |_| None,
        |c, object, b, a| {
            let found = c.count();
            c.field(object, "kind", &b.kind, &a.kind);
            c.field(object, "result", &b.result, &a.result);
            c.field(object, "language", &b.language, &a.language);
            c.field(object, "volatility", &b.volatility, &a.volatility);
            c.field(
                object,
                "security definer",
                &b.security_definer,
                &a.security_definer,
            );
            // The definition holds every property; say it changed when the body did, or
            // when something without a line of its own did (STRICT, SET, argument defaults).
            let explained = c.count() > found;
            if b.body != a.body || (b.definition != a.definition && !explained) {
                c.push(object, ChangeKind::Changed, "definition changed".into());
            }
            c.field(object, "comment", &b.comment, &a.comment);
            c.privileges(object, &b.grants, &a.grants);
        },
    );
}

pub(super) fn types(
    c: &mut Changes,
    before: &BTreeMap<String, Type>,
    after: &BTreeMap<String, Type>,
) {
    c.map(
        before,
        after,
        |key, t| format!("{} {key}", t.def.kind()),
        |t| match &t.def {
            TypeDef::Enum { labels } => Some(format!("labels {}", labels.join(", "))),
            _ => None,
        },
        |c, object, b, a| {
            let key = object
                .strip_prefix(b.def.kind())
                .map_or(object, str::trim_start);
            type_def(c, object, key, &b.def, &a.def);
            c.field(object, "comment", &b.comment, &a.comment);
            c.privileges(object, &b.grants, &a.grants);
        },
    );
}

fn type_def(c: &mut Changes, object: &str, key: &str, b: &TypeDef, a: &TypeDef) {
    match (b, a) {
        (TypeDef::Enum { labels: b }, TypeDef::Enum { labels: a }) => {
            c.field(object, "labels", b, a);
        }
        (
            TypeDef::Domain {
                base_type: bt,
                default: bd,
                not_null: bn,
                collation: bc,
                checks: bk,
            },
            TypeDef::Domain {
                base_type: at,
                default: ad,
                not_null: an,
                collation: ac,
                checks: ak,
            },
        ) => {
            c.field(object, "base type", bt, at);
            c.field(object, "default", bd, ad);
            c.field(object, "not null", bn, an);
            c.field(object, "collation", bc, ac);
            let names: std::collections::BTreeSet<&String> = bk.keys().chain(ak.keys()).collect();
            for name in names {
                let (b, a) = (bk.get(name).cloned(), ak.get(name).cloned());
                c.field(object, &format!("check {name}"), &b, &a);
            }
        }
        (TypeDef::Composite { attributes: b }, TypeDef::Composite { attributes: a }) => {
            columns(c, "attribute", key, b, a);
            column_order(c, "attribute", key, b, a);
        }
        (
            TypeDef::Range {
                subtype: bs,
                opclass: bo,
                collation: bc,
                canonical: bn,
                subtype_diff: bd,
                multirange: bm,
            },
            TypeDef::Range {
                subtype: as_,
                opclass: ao,
                collation: ac,
                canonical: an,
                subtype_diff: ad,
                multirange: am,
            },
        ) => {
            c.field(object, "subtype", bs, as_);
            c.field(object, "operator class", bo, ao);
            c.field(object, "collation", bc, ac);
            c.field(object, "canonical", bn, an);
            c.field(object, "subtype diff", bd, ad);
            c.field(object, "multirange", bm, am);
        }
        _ => {
            let object = format!("type {key}");
            c.field(&object, "kind", b.kind(), a.kind());
        }
    }
}
