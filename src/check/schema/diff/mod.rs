//! `diff`: what changed between two snapshots, one `Change` per object and property, sorted.
//! Lines read `column users.email: type character varying(100) → text`; `public.` is implied.

mod objects;
mod tables;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::Serialize;

use super::SchemaSnapshot;
use super::objects::{ForeignTable, Identity, PartitionOf, Privileges, TableKind};
use super::text::short_name;

/// Whether an object appeared, disappeared or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    Added,
    Removed,
    Changed,
}

/// One difference between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Change {
    /// The object, its kind first and its name qualified: `column public.users.email`,
    /// `index public.jobs_status_idx`, `constraint users_pkey on public.users`.
    pub object: String,
    pub kind: ChangeKind,
    /// What changed: `added`, `removed (CREATE INDEX …)`, `type text → integer`.
    pub detail: String,
}

impl fmt::Display for Change {
    /// `column users.email: type character varying(100) → text`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", short_name(&self.object), self.detail)
    }
}

/// Every difference between `before` and `after`, sorted by object; empty when they are equal.
pub fn diff(before: &SchemaSnapshot, after: &SchemaSnapshot) -> Vec<Change> {
    if before == after {
        return Vec::new();
    }
    let mut changes = Changes::default();
    objects::schemas(&mut changes, &before.schemas, &after.schemas);
    objects::extensions(&mut changes, &before.extensions, &after.extensions);
    tables::tables(&mut changes, &before.tables, &after.tables);
    tables::views(&mut changes, &before.views, &after.views);
    objects::sequences(&mut changes, &before.sequences, &after.sequences);
    objects::functions(&mut changes, &before.functions, &after.functions);
    objects::types(&mut changes, &before.types, &after.types);
    let mut changes = changes.0;
    changes.sort();
    changes.dedup();
    changes
}

/// The changes found so far, and the ways of finding them.
#[derive(Default)]
struct Changes(Vec<Change>);

impl Changes {
    fn push(&mut self, object: &str, kind: ChangeKind, detail: String) {
        self.0.push(Change {
            object: object.to_string(),
            kind,
            detail,
        });
    }

    /// `{name} {before} → {after}`, when they differ.
    fn field<V: Value + PartialEq + ?Sized>(
        &mut self,
        object: &str,
        name: &str,
        before: &V,
        after: &V,
    ) {
        if before != after {
            let detail = format!("{name} {} → {}", before.show(), after.show());
            self.push(object, ChangeKind::Changed, detail);
        }
    }

    /// Added and removed entries of a map, and `compare` on the ones in both that differ.
    /// `label` names an entry by its key; `describe` says what an added or removed one is,
    /// when that helps.
    fn map<V: PartialEq>(
        &mut self,
        before: &BTreeMap<String, V>,
        after: &BTreeMap<String, V>,
        label: impl Fn(&str, &V) -> String,
        describe: impl Fn(&V) -> Option<String>,
        mut compare: impl FnMut(&mut Self, &str, &V, &V),
    ) {
        let keys: BTreeSet<&String> = before.keys().chain(after.keys()).collect();
        for key in keys {
            match (before.get(key), after.get(key)) {
                (Some(b), Some(a)) if b == a => {}
                (Some(b), Some(a)) => compare(self, &label(key, b), b, a),
                (Some(b), None) => {
                    let detail = with_description("removed", describe(b));
                    self.push(&label(key, b), ChangeKind::Removed, detail);
                }
                (None, Some(a)) => {
                    let detail = with_description("added", describe(a));
                    self.push(&label(key, a), ChangeKind::Added, detail);
                }
                (None, None) => {}
            }
        }
    }

    /// Grants beyond the default and defaults revoked, per grantee.
    fn privileges(&mut self, object: &str, before: &Privileges, after: &Privileges) {
        for (word, b, a) in [
            ("granted to", &before.granted, &after.granted),
            ("revoked from", &before.revoked, &after.revoked),
        ] {
            let grantees: BTreeSet<&String> = b.keys().chain(a.keys()).collect();
            let none = Vec::new();
            for grantee in grantees {
                let (b, a) = (b.get(grantee), a.get(grantee));
                self.field(
                    object,
                    &format!("{word} {grantee}"),
                    b.unwrap_or(&none),
                    a.unwrap_or(&none),
                );
            }
        }
    }

    /// How many changes were found so far (to tell whether a step found any).
    fn count(&self) -> usize {
        self.0.len()
    }
}

fn with_description(word: &str, description: Option<String>) -> String {
    match description {
        Some(d) if !d.is_empty() => format!("{word} ({d})"),
        _ => word.to_string(),
    }
}

/// How a property's value is written in a change line.
trait Value {
    fn show(&self) -> String;
}

impl Value for str {
    fn show(&self) -> String {
        if self.is_empty() {
            "(empty)".to_string()
        } else {
            self.to_string()
        }
    }
}

impl Value for String {
    fn show(&self) -> String {
        self.as_str().show()
    }
}

impl Value for bool {
    fn show(&self) -> String {
        if *self { "yes" } else { "no" }.to_string()
    }
}

impl Value for i64 {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl Value for i32 {
    fn show(&self) -> String {
        self.to_string()
    }
}

impl<T: Value> Value for Option<T> {
    fn show(&self) -> String {
        self.as_ref()
            .map_or_else(|| "(none)".to_string(), Value::show)
    }
}

impl<T: Value> Value for Vec<T> {
    fn show(&self) -> String {
        if self.is_empty() {
            return "(none)".to_string();
        }
        self.iter().map(Value::show).collect::<Vec<_>>().join(", ")
    }
}

impl Value for Identity {
    fn show(&self) -> String {
        self.as_str().to_string()
    }
}

impl Value for TableKind {
    fn show(&self) -> String {
        self.as_str().to_string()
    }
}

impl Value for PartitionOf {
    fn show(&self) -> String {
        format!("{} {}", short_name(&self.parent), self.bound)
    }
}

impl Value for ForeignTable {
    fn show(&self) -> String {
        format!("server {} options {}", self.server, self.options.show())
    }
}
