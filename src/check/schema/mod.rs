//! The schema model `check` uses to prove a down restores the exact schema: a normalised,
//! OID-free, sorted snapshot of the catalog (`SchemaSnapshot`), what to leave out of it
//! (`SnapshotOptions`), and `diff`, which says what changed between two snapshots in lines a
//! person reads. Pure: the catalog edge (`postgres::catalog`) fills the snapshot in.

mod diff;
mod objects;
mod options;
mod text;

pub use diff::{Change, ChangeKind, diff};
pub use objects::{
    Column, Constraint, ConstraintKind, Extension, ForeignTable, Function, Identity, Index,
    PartitionOf, Policy, Privileges, Schema, Sequence, Table, TableKind, Trigger, Type, TypeDef,
    View,
};
pub use options::{SnapshotOptions, TRACKING_TABLES};
pub use text::{normalise_whitespace, quote_ident, short_name};

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

/// Everything a migration can change in a database's schema, keyed by qualified name
/// (`public.users`, `public.f(integer)`) and sorted, so two databases with the same schema give
/// equal snapshots (and equal JSON) however they were built. Tables and views are shared
/// (`Arc`): consecutive snapshots of a check hold the same unchanged ones, so cloning a
/// snapshot is cheap and comparing two is a pointer check for every relation that did not change.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SchemaSnapshot {
    pub schemas: BTreeMap<String, Schema>,
    pub extensions: BTreeMap<String, Extension>,
    pub tables: BTreeMap<String, Arc<Table>>,
    pub views: BTreeMap<String, Arc<View>>,
    pub sequences: BTreeMap<String, Sequence>,
    pub functions: BTreeMap<String, Function>,
    pub types: BTreeMap<String, Type>,
}

impl SchemaSnapshot {
    /// Removes what `options` leaves out: the tracking tables, and the sequences they own.
    pub fn exclude(&mut self, options: &SnapshotOptions) {
        self.tables.retain(|name, _| !options.excludes(name));
        self.sequences.retain(|_, sequence| {
            !sequence
                .owned_by
                .as_deref()
                .and_then(|column| column.rsplit_once('.'))
                .is_some_and(|(table, _)| options.excludes(table))
        });
    }

    /// The number of objects (tables, views, sequences, functions, types), for a summary line.
    pub fn len(&self) -> usize {
        self.tables.len()
            + self.views.len()
            + self.sequences.len()
            + self.functions.len()
            + self.types.len()
    }

    /// True when the snapshot holds no table, view, sequence, function or type.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclude_drops_tracking_tables_and_their_sequences() {
        let mut snapshot = SchemaSnapshot::default();
        snapshot
            .tables
            .insert("public.users".into(), Table::new(TableKind::Table).into());
        snapshot.tables.insert(
            "public.upcycle_migrations".into(),
            Table::new(TableKind::Table).into(),
        );
        snapshot.tables.insert(
            "app._sqlx_migrations".into(),
            Table::new(TableKind::Table).into(),
        );
        let sequence = |owner: Option<&str>| Sequence {
            data_type: "bigint".into(),
            start: 1,
            increment: 1,
            min: 1,
            max: i64::MAX,
            cache: 1,
            cycle: false,
            owned_by: owner.map(str::to_string),
            comment: None,
            grants: Privileges::default(),
        };
        snapshot.sequences.insert(
            "public.upcycle_migrations_ordinal_seq".into(),
            sequence(Some("public.upcycle_migrations.ordinal")),
        );
        snapshot.sequences.insert(
            "public.users_id_seq".into(),
            sequence(Some("public.users.id")),
        );
        snapshot
            .sequences
            .insert("public.free_seq".into(), sequence(None));
        snapshot.exclude(&SnapshotOptions::default());
        assert_eq!(snapshot.tables.keys().collect::<Vec<_>>(), ["public.users"]);
        assert_eq!(
            snapshot.sequences.keys().collect::<Vec<_>>(),
            ["public.free_seq", "public.users_id_seq"]
        );
    }
}
