//! `upcycle check` on real migration sets from public projects (the folder named by
//! `UPCYCLE_CORPORA`, one corpus per subfolder): each test pins findings a person can verify
//! by reading the named file at the named line. Skipped, saying so, when the variable is unset.
//!
//! Each run uses `--sandbox local` (a private server from the PostgreSQL binaries) and takes
//! 5–40 s in a debug build; the binary runs in the corpora folder, so paths read
//! `<corpus>/<file>`.

use crate::support;

use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;
use support::{text, upcycle_in};

fn corpora_root(test: &str) -> Option<PathBuf> {
    match std::env::var_os("UPCYCLE_CORPORA") {
        Some(root) => Some(PathBuf::from(root)),
        None => {
            println!("{test}: skipped, UPCYCLE_CORPORA is not set (the folder with the corpora)");
            None
        }
    }
}

/// `upcycle check --sandbox local --format json <args>` in the corpora folder: exit code and
/// the report.
fn check(test: &str, args: &[&str]) -> Option<(Option<i32>, Value)> {
    let root = corpora_root(test)?;
    let mut all = vec!["check", "--sandbox", "local", "--format", "json"];
    all.extend_from_slice(args);
    let started = Instant::now();
    let out = upcycle_in(&root, &all);
    println!(
        "{test}: {args:?} in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{test}: no JSON report ({e}); exit {:?}\nstderr: {}",
            out.status.code(),
            text(&out.stderr)
        )
    });
    Some((out.status.code(), report))
}

fn findings<'r>(report: &'r Value, code: &str) -> Vec<&'r Value> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["code"] == code)
        .collect()
}

/// The one finding with `code` at `path` (and `line`, when given); panics listing the
/// findings of that code otherwise.
fn finding_at<'r>(report: &'r Value, code: &str, path: &str, line: Option<u64>) -> &'r Value {
    let all = findings(report, code);
    all.iter()
        .copied()
        .find(|f| f["path"] == path && line.is_none_or(|l| f["line"] == l))
        .unwrap_or_else(|| {
            let places: Vec<String> = all
                .iter()
                .map(|f| format!("{}:{}", f["path"], f["line"]))
                .collect();
            panic!("no {code} at {path}:{line:?}; {code} findings: {places:#?}")
        })
}

fn message(f: &Value) -> &str {
    f["message"].as_str().unwrap_or_default()
}

fn migration<'r>(report: &'r Value, version: &str) -> &'r Value {
    report["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .find(|m| m["version"] == version)
        .unwrap_or_else(|| panic!("no migration {version}"))
}

fn diff_has(m: &Value, line: &str) -> bool {
    m["diff"].as_array().is_some_and(|d| {
        d.iter()
            .any(|l| l.as_str().is_some_and(|l| l.starts_with(line)))
    })
}

fn errors(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| format!("{} {}:{} {}", f["code"], f["path"], f["line"], message(f)))
        .collect()
}

#[test]
fn crates_io_down_drops_a_constraint_that_does_not_exist() {
    let Some((code, r)) = check("crates_io", &["--dir", "crates-io"]) else {
        return;
    };
    assert_eq!(code, Some(1));
    let f = finding_at(
        &r,
        "down-failed",
        "crates-io/2024-10-25-112826_make-unique-version-unique/down.sql",
        Some(1),
    );
    assert!(
        message(f).contains(
            "constraint \"versions_crate_id_num_no_build_uindex\" of relation \"versions\" does not exist"
        ),
        "{f:#}"
    );
    assert_eq!(r["layout"], "diesel");
    // A failing down does not stop the check: every migration was cycled.
    assert_eq!(r["summary"]["not_checked"], 0, "{:#}", r["summary"]);
}

#[test]
fn openmeter_downs_leave_objects_behind() {
    let Some((code, r)) = check(
        "openmeter",
        &["--dir", "openmeter", "--layout", "golang-migrate"],
    ) else {
        return;
    };
    assert_eq!(code, Some(1));
    assert!(
        findings(&r, "schema-not-restored").len() >= 5,
        "{:#?}",
        errors(&r)
    );
    // The down reverts the foreign keys but not the trigger function and trigger the up
    // created; the second up then collides with the trigger.
    let f = finding_at(
        &r,
        "schema-not-restored",
        "openmeter/20250605102416_subscription-cascade.down.sql",
        None,
    );
    assert!(
        message(f).contains("function delete_entitlement_on_subscription_item_delete(): added"),
        "{f:#}"
    );
    let m = migration(&r, "20250605102416");
    assert!(
        diff_has(
            m,
            "trigger trigger_delete_entitlement_on_subscription_item_delete on subscription_items: added"
        ),
        "{m:#}"
    );
    finding_at(
        &r,
        "reup-failed",
        "openmeter/20250605102416_subscription-cascade.up.sql",
        None,
    );
    // A backup table the up creates is left behind by its down (a comment-only down).
    let m = migration(&r, "20260716150455");
    assert!(
        diff_has(
            m,
            "table om_migration_backup_20260716150455_gathering_details: added"
        ),
        "{m:#}"
    );
}

#[test]
fn goalert_down_with_a_syntax_error() {
    let Some((code, r)) = check("goalert", &["--dir", "goalert"]) else {
        return;
    };
    assert_eq!(code, Some(1));
    let f = finding_at(
        &r,
        "down-failed",
        "goalert/20170620104459-contact-constraints.sql",
        Some(10),
    );
    assert!(message(f).contains("syntax error"), "{f:#}");
}

#[test]
fn fluidity_down_has_a_drop_column_typo() {
    let Some((code, r)) = check(
        "fluidity",
        &[
            "--dir",
            "fluidity-pg/100-up-sql-shared",
            "--dir",
            "fluidity-pg/101-up-postgres",
        ],
    ) else {
        return;
    };
    assert_eq!(code, Some(1));
    let f = finding_at(
        &r,
        "down-failed",
        "fluidity-pg/101-up-postgres/20230315104305-worker_config_add_epoch_size.sql",
        Some(23),
    );
    assert!(
        message(f).contains("syntax error at or near \"DROP_COLUMN\""),
        "{f:#}"
    );
}

#[test]
fn hatchet_stops_where_the_go_migration_is_missing() {
    let Some((code, r)) = check("hatchet", &["--dir", "hatchet"]) else {
        return;
    };
    assert_eq!(code, Some(1));
    let f = finding_at(&r, "up-failed", "hatchet/20260424205453_v1_0_100.sql", None);
    assert!(
        message(f).contains("relation \"v1_dags_olap_new\" does not exist"),
        "{f:#}"
    );
    assert!(f["line"].is_u64(), "{f:#}");
    // Later migrations build on it: not checked.
    let not_checked = r["summary"]["not_checked"].as_u64().expect("not_checked");
    assert!(not_checked > 0, "{:#}", r["summary"]);
    let m = migration(&r, "20260427142714");
    assert!(m["up"].is_null(), "{m:#}");
    // Before it, downs that do not restore the schema.
    assert!(
        !findings(&r, "schema-not-restored").is_empty(),
        "{:#?}",
        errors(&r)
    );
    let f = finding_at(
        &r,
        "schema-not-restored",
        "hatchet/20250912162812_v1_0_42.sql",
        None,
    );
    assert!(
        message(f)
            .contains("function find_matching_tenants_in_payload_wal_partition(integer): added"),
        "{f:#}"
    );
}

#[test]
fn kestra_passes() {
    let Some((code, r)) = check("kestra", &["--dir", "kestra-pg"]) else {
        return;
    };
    assert_eq!(code, Some(0), "{:#?}", errors(&r));
    assert_eq!(r["layout"], "flyway");
    assert_eq!(r["summary"]["errors"], 0);
}

#[test]
fn atuin_server_passes() {
    let Some((code, r)) = check("atuin", &["--dir", "atuin-server-pg"]) else {
        return;
    };
    assert_eq!(code, Some(0), "{:#?}", errors(&r));
    assert_eq!(r["summary"]["errors"], 0);
    assert_eq!(r["summary"]["failed"], 0);
}
