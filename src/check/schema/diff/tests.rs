//! `diff` on snapshots built by hand: one expected line per kind of change, and insta snapshots
//! of the text a person reads.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::super::objects::*;
use super::super::{SchemaSnapshot, diff};

fn column(position: u32, data_type: &str, not_null: bool) -> Column {
    Column {
        not_null,
        ..Column::new(position, data_type)
    }
}

fn sample() -> SchemaSnapshot {
    let mut s = SchemaSnapshot::default();
    s.schemas.insert("public".into(), Schema::default());
    s.extensions.insert(
        "pgcrypto".into(),
        Extension {
            version: "1.3".into(),
            schema: "public".into(),
        },
    );
    let mut users = Table::new(TableKind::Table);
    users.columns.insert(
        "id".into(),
        Column {
            identity: Some(Identity::Always),
            ..column(1, "bigint", true)
        },
    );
    users
        .columns
        .insert("email".into(), column(2, "character varying(100)", true));
    users
        .columns
        .insert("name".into(), column(3, "text", false));
    users.constraints.insert(
        "users_pkey".into(),
        Constraint {
            kind: ConstraintKind::PrimaryKey,
            definition: "PRIMARY KEY (id)".into(),
            deferrable: false,
            initially_deferred: false,
            validated: true,
            comment: None,
        },
    );
    users.indexes.insert(
        "users_pkey".into(),
        Index {
            definition: "CREATE UNIQUE INDEX users_pkey ON public.users USING btree (id)".into(),
            valid: true,
            ready: true,
            clustered: false,
            comment: None,
        },
    );
    s.tables.insert("public.users".into(), users.into());
    let mut jobs = Table::new(TableKind::Table);
    jobs.columns.insert("id".into(), column(1, "bigint", true));
    jobs.columns
        .insert("status".into(), column(2, "job_status", true));
    jobs.indexes.insert(
        "jobs_status_idx".into(),
        Index {
            definition: "CREATE INDEX jobs_status_idx ON public.jobs USING btree (status)".into(),
            valid: true,
            ready: true,
            clustered: false,
            comment: None,
        },
    );
    s.tables.insert("public.jobs".into(), jobs.into());
    s.types.insert(
        "public.job_status".into(),
        Type {
            def: TypeDef::Enum {
                labels: vec!["queued".into(), "running".into()],
            },
            comment: None,
            grants: Privileges::default(),
        },
    );
    s.functions.insert(
        "public.f(integer)".into(),
        Function {
            kind: "function".into(),
            result: Some("integer".into()),
            language: "sql".into(),
            volatility: "volatile".into(),
            security_definer: false,
            definition: "CREATE OR REPLACE FUNCTION public.f(x integer) … SELECT x".into(),
            body: "SELECT x".into(),
            comment: None,
            grants: Privileges::default(),
        },
    );
    s
}

fn lines(before: &SchemaSnapshot, after: &SchemaSnapshot) -> Vec<String> {
    diff(before, after)
        .iter()
        .map(ToString::to_string)
        .collect()
}

fn users(s: &mut SchemaSnapshot) -> &mut Table {
    Arc::make_mut(s.tables.get_mut("public.users").expect("users"))
}

#[test]
fn equal_snapshots_have_no_changes() {
    assert!(diff(&sample(), &sample()).is_empty());
}

#[test]
fn column_type_change_is_one_line() {
    let mut after = sample();
    users(&mut after)
        .columns
        .get_mut("email")
        .expect("email")
        .data_type = "text".into();
    assert_eq!(
        lines(&sample(), &after),
        ["column users.email: type character varying(100) → text"]
    );
    let change = &diff(&sample(), &after)[0];
    assert_eq!(change.object, "column public.users.email");
    assert_eq!(change.kind, ChangeKind::Changed);
}

#[test]
fn removed_index_shows_its_definition() {
    let mut after = sample();
    Arc::make_mut(after.tables.get_mut("public.jobs").expect("jobs"))
        .indexes
        .clear();
    assert_eq!(
        lines(&sample(), &after),
        [
            "index jobs_status_idx: removed (CREATE INDEX jobs_status_idx ON public.jobs USING btree (status))"
        ]
    );
}

#[test]
fn function_body_change_says_definition_changed() {
    let mut after = sample();
    let f = after.functions.get_mut("public.f(integer)").expect("f");
    f.body = "SELECT x + 1".into();
    f.definition = "CREATE OR REPLACE FUNCTION public.f(x integer) … SELECT x + 1".into();
    assert_eq!(
        lines(&sample(), &after),
        ["function f(integer): definition changed"]
    );
}

#[test]
fn function_volatility_change_is_not_also_a_definition_change() {
    let mut after = sample();
    let f = after.functions.get_mut("public.f(integer)").expect("f");
    f.volatility = "stable".into();
    f.definition = "CREATE OR REPLACE FUNCTION public.f(x integer) … STABLE … SELECT x".into();
    assert_eq!(
        lines(&sample(), &after),
        ["function f(integer): volatility volatile → stable"]
    );
}

#[test]
fn enum_label_added_lists_labels_in_order() {
    let mut after = sample();
    after.types.get_mut("public.job_status").expect("enum").def = TypeDef::Enum {
        labels: vec!["queued".into(), "running".into(), "failed".into()],
    };
    assert_eq!(
        lines(&sample(), &after),
        ["enum job_status: labels queued, running → queued, running, failed"]
    );
}

#[test]
fn column_order_is_reported_once() {
    let mut after = sample();
    let table = users(&mut after);
    table.columns.get_mut("email").expect("email").position = 3;
    table.columns.get_mut("name").expect("name").position = 2;
    assert_eq!(
        lines(&sample(), &after),
        ["column order of users: id, email, name → id, name, email"]
    );
}

#[test]
fn a_long_shared_start_of_the_column_order_is_elided() {
    let table = |names: &[&str]| {
        let mut t = Table::new(TableKind::Table);
        for (i, n) in names.iter().enumerate() {
            t.columns
                .insert(n.to_string(), column(i as u32 + 1, "text", false));
        }
        t
    };
    let mut before = SchemaSnapshot::default();
    before.tables.insert(
        "public.wide".into(),
        table(&["id", "a", "b", "c", "deleted_at", "key", "name"]).into(),
    );
    let mut after = SchemaSnapshot::default();
    after.tables.insert(
        "public.wide".into(),
        table(&["id", "a", "b", "c", "deleted_at", "name", "key"]).into(),
    );
    assert_eq!(
        lines(&before, &after),
        ["column order of wide: …, deleted_at, key, name → …, deleted_at, name, key"]
    );
}

#[test]
fn an_added_column_at_the_end_is_not_an_order_change() {
    let mut after = sample();
    users(&mut after)
        .columns
        .insert("age".into(), column(4, "integer", false));
    assert_eq!(
        lines(&sample(), &after),
        ["column users.age: added (integer)"]
    );
}

#[test]
fn a_column_dropped_and_added_back_at_the_end_changes_the_order() {
    let mut after = sample();
    let table = users(&mut after);
    table.columns.get_mut("email").expect("email").position = 3;
    table.columns.get_mut("name").expect("name").position = 2;
    assert_eq!(
        lines(&sample(), &after),
        ["column order of users: id, email, name → id, name, email"]
    );
}

#[test]
fn a_removed_table_is_one_line_without_its_children() {
    let mut after = sample();
    after.tables.remove("public.users");
    assert_eq!(lines(&sample(), &after), ["table users: removed"]);
}

#[test]
fn other_schemas_keep_their_prefix() {
    let mut after = sample();
    let users = after.tables.remove("public.users").expect("users");
    after.tables.insert("app.users".into(), users);
    assert_eq!(
        lines(&sample(), &after),
        ["table app.users: added", "table users: removed"]
    );
}

#[test]
fn grants_and_revoked_defaults_are_per_grantee() {
    let mut after = sample();
    users(&mut after)
        .grants
        .granted
        .insert("app".into(), vec!["INSERT".into(), "SELECT".into()]);
    after
        .functions
        .get_mut("public.f(integer)")
        .expect("f")
        .grants
        .revoked
        .insert("PUBLIC".into(), vec!["EXECUTE".into()]);
    assert_eq!(
        lines(&sample(), &after),
        [
            "function f(integer): revoked from PUBLIC (none) → EXECUTE",
            "table users: granted to app (none) → INSERT, SELECT",
        ]
    );
}

#[test]
fn changes_are_sorted_and_deterministic() {
    let mut after = sample();
    after.tables.remove("public.jobs");
    after.types.remove("public.job_status");
    users(&mut after).comment = Some("people".into());
    let first = diff(&sample(), &after);
    let mut sorted = first.clone();
    sorted.sort();
    assert_eq!(first, sorted);
    assert_eq!(first, diff(&sample(), &after));
}

/// Every kind of change at once: the text `check` prints when a down does not restore.
#[test]
fn diff_text_of_many_changes() {
    let before = sample();
    let mut after = sample();
    after.extensions.get_mut("pgcrypto").expect("ext").version = "1.4".into();
    after.schemas.insert("app".into(), Schema::default());
    let table = users(&mut after);
    let email = table.columns.get_mut("email").expect("email");
    email.data_type = "text".into();
    email.not_null = false;
    email.default = Some("''::text".into());
    table.columns.remove("name");
    table.columns.insert(
        "created_at".into(),
        Column {
            default: Some("now()".into()),
            ..column(3, "timestamp with time zone", true)
        },
    );
    table.constraints.insert(
        "users_email_check".into(),
        Constraint {
            kind: ConstraintKind::Check,
            definition: "CHECK ((email <> ''::text))".into(),
            deferrable: false,
            initially_deferred: false,
            validated: false,
            comment: None,
        },
    );
    table.row_security = true;
    table.policies.insert(
        "own_rows".into(),
        Policy {
            command: "SELECT".into(),
            permissive: true,
            roles: vec!["app".into()],
            using: Some("(id = 1)".into()),
            with_check: None,
            comment: None,
        },
    );
    let jobs = Arc::make_mut(after.tables.get_mut("public.jobs").expect("jobs"));
    jobs.indexes.get_mut("jobs_status_idx").expect("idx").valid = false;
    jobs.triggers.insert(
        "jobs_touch".into(),
        Trigger {
            definition: "CREATE TRIGGER jobs_touch BEFORE UPDATE ON public.jobs FOR EACH ROW EXECUTE FUNCTION touch()".into(),
            enabled: "origin".into(),
            comment: None,
        },
    );
    after.views.insert(
        "public.active_jobs".into(),
        View {
            materialized: true,
            definition: "SELECT id FROM jobs".into(),
            columns: BTreeMap::from([("id".into(), column(1, "bigint", false))]),
            indexes: BTreeMap::new(),
            triggers: BTreeMap::new(),
            rules: BTreeMap::new(),
            options: Vec::new(),
            populated: true,
            comment: None,
            grants: Privileges::default(),
        }
        .into(),
    );
    after.sequences.insert(
        "app.counter_seq".into(),
        Sequence {
            data_type: "bigint".into(),
            start: 1,
            increment: 10,
            min: 1,
            max: i64::MAX,
            cache: 1,
            cycle: false,
            owned_by: None,
            comment: None,
            grants: Privileges::default(),
        },
    );
    after.functions.remove("public.f(integer)");
    after.types.insert(
        "public.email".into(),
        Type {
            def: TypeDef::Domain {
                base_type: "text".into(),
                default: None,
                not_null: false,
                collation: None,
                checks: BTreeMap::from([(
                    "email_check".into(),
                    "CHECK ((VALUE ~~ '%@%'::text))".into(),
                )]),
            },
            comment: Some("an address".into()),
            grants: Privileges::default(),
        },
    );
    let text = diff(&before, &after)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("diff_text_of_many_changes", text);
}

/// Properties changed in place (nothing added or removed): one line each.
#[test]
fn diff_text_of_changed_properties() {
    let mut before = sample();
    let mut address = BTreeMap::new();
    address.insert("street".to_string(), column(1, "text", false));
    address.insert("city".to_string(), column(2, "text", false));
    before.types.insert(
        "public.address".into(),
        Type {
            def: TypeDef::Composite {
                attributes: address,
            },
            comment: None,
            grants: Privileges::default(),
        },
    );
    before.types.insert(
        "public.email".into(),
        Type {
            def: TypeDef::Domain {
                base_type: "text".into(),
                default: None,
                not_null: false,
                collation: None,
                checks: BTreeMap::from([(
                    "email_at".into(),
                    "CHECK ((VALUE ~~ '%@%'::text))".into(),
                )]),
            },
            comment: None,
            grants: Privileges::default(),
        },
    );
    before.sequences.insert(
        "public.counter".into(),
        Sequence {
            data_type: "bigint".into(),
            start: 1,
            increment: 1,
            min: 1,
            max: i64::MAX,
            cache: 1,
            cycle: false,
            owned_by: Some("public.users.id".into()),
            comment: None,
            grants: Privileges::default(),
        },
    );
    before.views.insert(
        "public.v".into(),
        View {
            materialized: false,
            definition: "SELECT 1".into(),
            columns: BTreeMap::new(),
            indexes: BTreeMap::new(),
            triggers: BTreeMap::new(),
            rules: BTreeMap::new(),
            options: Vec::new(),
            populated: true,
            comment: None,
            grants: Privileges::default(),
        }
        .into(),
    );
    let table = users(&mut before);
    table.triggers.insert(
        "users_touch".into(),
        Trigger {
            definition: "CREATE TRIGGER users_touch BEFORE UPDATE ON public.users FOR EACH ROW EXECUTE FUNCTION touch()".into(),
            enabled: "origin".into(),
            comment: None,
        },
    );
    let mut after = before.clone();
    if let Some(TypeDef::Composite { attributes }) =
        after.types.get_mut("public.address").map(|t| &mut t.def)
    {
        attributes.get_mut("city").expect("city").data_type = "character varying(40)".into();
    }
    if let Some(TypeDef::Domain {
        checks, not_null, ..
    }) = after.types.get_mut("public.email").map(|t| &mut t.def)
    {
        *not_null = true;
        checks.insert("email_at".into(), "CHECK ((length(VALUE) > 3))".into());
    }
    let counter = after.sequences.get_mut("public.counter").expect("seq");
    counter.increment = 5;
    counter.cycle = true;
    counter.owned_by = None;
    let v = Arc::make_mut(after.views.get_mut("public.v").expect("v"));
    v.materialized = true;
    v.definition = "SELECT 2".into();
    let table = users(&mut after);
    table
        .triggers
        .get_mut("users_touch")
        .expect("trigger")
        .enabled = "disabled".into();
    table.kind = TableKind::Unlogged;
    table.options = vec!["fillfactor=70".into()];
    let pkey = table.constraints.get_mut("users_pkey").expect("pkey");
    pkey.definition = "PRIMARY KEY (id) DEFERRABLE".into();
    pkey.deferrable = true;
    table.columns.get_mut("name").expect("name").comment = Some("display name".into());
    let text = diff(&before, &after)
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("diff_text_of_changed_properties", text);
}

/// The JSON of a change list, as `check --format json` would carry it.
#[test]
fn diff_json() {
    let mut after = sample();
    after.types.get_mut("public.job_status").expect("enum").def = TypeDef::Enum {
        labels: vec!["queued".into(), "running".into(), "failed".into()],
    };
    after.tables.remove("public.jobs");
    insta::assert_json_snapshot!("diff_json", diff(&sample(), &after));
}

use super::ChangeKind;
