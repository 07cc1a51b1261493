//! The paths of `up`, `down` and the history commands against a real PostgreSQL, through the
//! real binary: failures located in their file and line, what stays applied, dirty migrations and
//! their repair, `--dry-run`, `--expect-plan`, `--to`/`--count`, `verify`/`repair`, `force` and
//! `baseline`, plan divergences, and the errors of bad arguments. Every bad fixture that is an
//! error makes `up` refuse before it connects.
//!
//! Fixtures: `tests/fixtures/apply/<case>` (small sqlx, goose folders) and the bundled
//! `migrations/`.

use crate::common;
use crate::support;

use std::path::Path;
use std::process::Output;

use support::{column, copy_dir, fresh_db, objects, text, upcycle};

const APPLY: &str = "tests/fixtures/apply";

/// Runs `upcycle --dir <dir> <args…> --database-url <url>`.
fn run(dir: &str, url: &str, args: &[&str]) -> Output {
    let mut all = vec!["--dir", dir];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database-url", url]);
    upcycle(&all)
}

/// Asserts the exit code; returns (stdout, stderr).
fn exits(out: &Output, code: i32) -> (String, String) {
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\nstdout: {stdout}\nstderr: {stderr}"
    );
    (stdout, stderr)
}

fn contains(haystack: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            haystack.contains(needle),
            "expected `{needle}` in:\n{haystack}"
        );
    }
}

/// `version:state` of every tracking row, in the order applied.
async fn rows(url: &str) -> Vec<String> {
    column(
        url,
        "SELECT version || ':' || state FROM upcycle_migrations ORDER BY ordinal",
    )
    .await
}

async fn tracking_exists(url: &str) -> bool {
    column(url, "SELECT to_regclass('public.upcycle_migrations')::text").await != [""]
}

fn rels(names: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = names.iter().map(|n| format!("rel:{n}")).collect();
    out.sort();
    out
}

/// A writable copy of a fixture folder.
fn scratch(case: &str) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join(case);
    copy_dir(&Path::new(APPLY).join(case), &dir);
    let display = dir.display().to_string();
    (tmp, display)
}

#[tokio::test]
async fn syntax_error_names_file_and_line_and_keeps_what_was_applied_before() {
    let url = fresh_db("syntax").await;
    let dir = format!("{APPLY}/syntax-error");
    let (stdout, stderr) = exits(&run(&dir, &url, &["up"]), 2);
    contains(
        &stderr,
        &[
            &format!("{dir}/2_broken.up.sql:3: syntax error at or near \"TABEL\""),
            "SQLSTATE 42601",
            "rolled back; nothing of it was applied",
            // what was applied before the failure
            "1 of 3",
            "1_create_alpha",
        ],
    );
    contains(&stdout, &["applied 1 of 3"]);
    assert_eq!(rows(&url).await, ["1:applied"]);
    // beta (line 2) never exists, and the third migration did not run.
    assert_eq!(objects(&url).await, rels(&["alpha"]));
}

/// A unique violation has no position: the line comes from counting the statements that
/// completed, so it names line 4, and the table of line 1 was rolled back with the row.
#[tokio::test]
async fn server_error_without_position_names_the_failing_statement() {
    let url = fresh_db("unique").await;
    let dir = format!("{APPLY}/unique-violation");
    let (_, stderr) = exits(&run(&dir, &url, &["up"]), 2);
    contains(
        &stderr,
        &[
            &format!(
                "{dir}/2_duplicate_key.up.sql:4: duplicate key value violates unique constraint \"beta_pkey\""
            ),
            "SQLSTATE 23505",
            "detail: Key (id)=(1) already exists.",
        ],
    );
    assert_eq!(rows(&url).await, ["1:applied"]);
    assert_eq!(objects(&url).await, rels(&["alpha"]));
}

/// goose runs a NO TRANSACTION file statement by statement: the first statement stays, the row is
/// dirty, `up` refuses until `repair`, and the fixed file then completes.
#[tokio::test]
async fn failed_no_transaction_migration_stays_dirty_until_repaired() {
    let url = fresh_db("dirty").await;
    let (_tmp, dir) = scratch("no-transaction-fails");
    let (_, stderr) = exits(&run(&dir, &url, &["up"]), 2);
    contains(
        &stderr,
        &[
            &format!("{dir}/00002_half_done.sql:4: division by zero"),
            "marked dirty",
            "upcycle repair",
            "upcycle force 00002",
        ],
    );
    assert_eq!(rows(&url).await, ["00001:applied", "00002:dirty"]);
    assert_eq!(objects(&url).await, rels(&["alpha", "half"]));

    let (_, stderr) = exits(&run(&dir, &url, &["up"]), 2);
    contains(
        &stderr,
        &[
            "migration 00002 is marked dirty",
            "upcycle repair",
            "upcycle force 00002",
        ],
    );
    let (status, _) = exits(&run(&dir, &url, &["status"]), 0);
    contains(&status, &["1 applied, 0 pending, 1 dirty"]);
    // `down` refuses too: the history is not trustworthy until someone looks.
    exits(&run(&dir, &url, &["down"]), 2);
    assert_eq!(rows(&url).await, ["00001:applied", "00002:dirty"]);

    let (said, _) = exits(&run(&dir, &url, &["repair"]), 0);
    contains(&said, &["removed the dirty row of 00002"]);
    assert_eq!(rows(&url).await, ["00001:applied"]);

    std::fs::write(
        Path::new(&dir).join("00002_half_done.sql"),
        "-- +goose NO TRANSACTION\n-- +goose Up\nCREATE TABLE IF NOT EXISTS half (id int);\nSELECT 1;\nCREATE TABLE never (id int);\n\n-- +goose Down\nDROP TABLE never;\nDROP TABLE half;\n",
    )
    .expect("fix the migration");
    let (stdout, _) = exits(&run(&dir, &url, &["up"]), 0);
    contains(&stdout, &["applied 1 of 1"]);
    assert_eq!(rows(&url).await, ["00001:applied", "00002:applied"]);
    assert_eq!(objects(&url).await, rels(&["alpha", "half", "never"]));
}

#[tokio::test]
async fn dry_run_prints_the_exact_sql_and_changes_nothing() {
    let url = fresh_db("dryrun").await;
    let (sql, _) = exits(&run("migrations", &url, &["up", "--dry-run"]), 0);
    let mut files: Vec<_> = std::fs::read_dir("migrations")
        .expect("migrations/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.to_string_lossy().ends_with(".up.sql"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 7);
    let mut at = 0;
    for file in &files {
        let body = std::fs::read_to_string(file).expect("read");
        let body = body.trim_end();
        let version = file
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.split('_').next())
            .expect("version");
        let insert = format!(
            "INSERT INTO \"public\".\"upcycle_migrations\" (version, name, checksum, execution_ms, applied_by, upcycle_version, state, script) VALUES ('{version}'"
        );
        let block = if body.starts_with("-- no-transaction") {
            format!(
                "-- outside a transaction; the row is marked dirty until it finishes\n{body}\n{insert}"
            )
        } else {
            format!("BEGIN;\n{body}\n{insert}")
        };
        let found = sql[at..].find(&block).unwrap_or_else(|| {
            panic!(
                "{} not printed in order as\n{block}\n\n{sql}",
                file.display()
            )
        });
        at += found + block.len();
        if body.starts_with("-- no-transaction") {
            assert!(
                !sql.contains(&format!("BEGIN;\n{body}")),
                "the no-transaction migration is wrapped:\n{sql}"
            );
        }
    }
    assert_eq!(sql.matches("BEGIN;").count(), 6, "{sql}");
    assert_eq!(sql.matches("COMMIT;").count(), 6, "{sql}");
    // Nothing ran: not even the tracking table was created.
    assert!(!tracking_exists(&url).await);
    assert!(objects(&url).await.is_empty());

    // A down dry run prints the down scripts and the DELETEs, and changes nothing either.
    exits(&run("migrations", &url, &["up"]), 0);
    let before = objects(&url).await;
    let (sql, _) = exits(
        &run("migrations", &url, &["down", "--count", "2", "--dry-run"]),
        0,
    );
    let down =
        std::fs::read_to_string("migrations/20260101090600_jobs_updated_at_trigger.down.sql")
            .expect("read");
    contains(
        &sql,
        &[
            down.trim_end(),
            "DELETE FROM \"public\".\"upcycle_migrations\" WHERE version = '20260101090600';",
            "DELETE FROM \"public\".\"upcycle_migrations\" WHERE version = '20260101090500';",
        ],
    );
    assert_eq!(rows(&url).await.len(), 7);
    assert_eq!(objects(&url).await, before);
}

#[tokio::test]
async fn expect_plan_applies_only_the_reviewed_plan() {
    let url = fresh_db("expect").await;
    let (json, _) = exits(&run("migrations", &url, &["plan", "--format", "json"]), 0);
    let plan: serde_json::Value = serde_json::from_str(&json).expect("plan JSON");
    let digest = plan["digest"].as_str().expect("digest").to_string();

    let (_, stderr) = exits(
        &run(
            "migrations",
            &url,
            &["up", "--expect-plan", "0123456789abcdef"],
        ),
        2,
    );
    contains(
        &stderr,
        &[
            "expected digest 0123456789abcdef",
            &format!("the plan now is {digest}"),
            "nothing was applied",
        ],
    );
    assert!(objects(&url).await.is_empty());
    if tracking_exists(&url).await {
        assert!(rows(&url).await.is_empty());
    }

    let (stdout, _) = exits(
        &run("migrations", &url, &["up", "--expect-plan", &digest]),
        0,
    );
    contains(&stdout, &["applied 7 of 7", &digest]);
    assert_eq!(rows(&url).await.len(), 7);
}

#[tokio::test]
async fn down_refuses_naming_migrations_without_a_down() {
    let url = fresh_db("nodown").await;
    let dir = format!("{APPLY}/no-downs");
    exits(&run(&dir, &url, &["up"]), 0);
    let (_, stderr) = exits(&run(&dir, &url, &["down"]), 2);
    contains(&stderr, &["cannot revert 2_create_beta: no down script"]);
    let (_, stderr) = exits(&run(&dir, &url, &["down", "--count", "2"]), 2);
    contains(
        &stderr,
        &["cannot revert 2_create_beta, 1_create_alpha: no down script"],
    );
    assert_eq!(rows(&url).await, ["1:applied", "2:applied"]);
    assert_eq!(objects(&url).await, rels(&["alpha", "beta"]));
}

#[tokio::test]
async fn verify_shows_the_changed_line_and_repair_accepts_it() {
    let url = fresh_db("verify").await;
    let (_tmp, dir) = scratch("steps");
    exits(&run(&dir, &url, &["up"]), 0);
    let (said, _) = exits(&run(&dir, &url, &["verify"]), 0);
    contains(&said, &["verified: 4"]);

    let file = format!("{dir}/2_create_two.up.sql");
    std::fs::write(&file, "CREATE TABLE two (id bigint);\n").expect("edit");
    let (said, _) = exits(&run(&dir, &url, &["verify"]), 1);
    contains(
        &said,
        &[
            &format!("modified: {file} was applied with checksum"),
            "--- applied",
            &format!("+++ {file}"),
            "@@",
            "-CREATE TABLE two (id int);",
            "+CREATE TABLE two (id bigint);",
        ],
    );
    let (plan, _) = exits(&run(&dir, &url, &["plan"]), 0);
    contains(&plan, &["2 was applied with another checksum"]);

    let (said, _) = exits(&run(&dir, &url, &["repair", "--update-checksums"]), 0);
    contains(
        &said,
        &[&format!("recorded the current checksum of {file}")],
    );
    let (said, _) = exits(&run(&dir, &url, &["verify"]), 0);
    contains(&said, &["verified: 4"]);
}

#[tokio::test]
async fn force_and_baseline_move_the_history_without_running_sql() {
    let url = fresh_db("force").await;
    let dir = format!("{APPLY}/steps");
    let (said, _) = exits(&run(&dir, &url, &["baseline", "2"]), 0);
    contains(&said, &["marked 2 as applied"]);
    assert_eq!(rows(&url).await, ["1:applied", "2:applied"]);
    assert!(objects(&url).await.is_empty(), "baseline ran SQL");

    let (_, stderr) = exits(&run(&dir, &url, &["baseline", "3"]), 2);
    contains(
        &stderr,
        &["baseline adopts a database with no history", "2 row(s)"],
    );
    assert_eq!(rows(&url).await, ["1:applied", "2:applied"]);

    let (stdout, _) = exits(&run(&dir, &url, &["up"]), 0);
    contains(&stdout, &["applied 2 of 2"]);
    assert_eq!(objects(&url).await, rels(&["four", "three"]));

    let (said, _) = exits(&run(&dir, &url, &["force", "1"]), 0);
    contains(&said, &["marked 0 as applied and 3 as not applied"]);
    assert_eq!(rows(&url).await, ["1:applied"]);
    assert_eq!(
        objects(&url).await,
        rels(&["four", "three"]),
        "force ran SQL"
    );

    let (said, _) = exits(&run(&dir, &url, &["force", "3"]), 0);
    contains(&said, &["marked 2 as applied and 0 as not applied"]);
    assert_eq!(rows(&url).await, ["1:applied", "2:applied", "3:applied"]);

    let (_, stderr) = exits(&run(&dir, &url, &["force", "9"]), 2);
    contains(&stderr, &["version 9 is not in the migration set"]);
}

#[tokio::test]
async fn to_and_count_bound_up_and_down() {
    let url = fresh_db("target").await;
    let dir = format!("{APPLY}/steps");
    exits(&run(&dir, &url, &["up", "--count", "1"]), 0);
    assert_eq!(rows(&url).await, ["1:applied"]);
    exits(&run(&dir, &url, &["up", "--to", "3"]), 0);
    assert_eq!(rows(&url).await, ["1:applied", "2:applied", "3:applied"]);
    assert_eq!(objects(&url).await, rels(&["one", "three", "two"]));
    let (_, stderr) = exits(&run(&dir, &url, &["up", "--to", "7"]), 2);
    contains(&stderr, &["version 7 is not in the migration set"]);
    exits(&run(&dir, &url, &["up"]), 0);
    assert_eq!(rows(&url).await.len(), 4);

    exits(&run(&dir, &url, &["down", "--count", "2"]), 0);
    assert_eq!(rows(&url).await, ["1:applied", "2:applied"]);
    assert_eq!(objects(&url).await, rels(&["one", "two"]));
    exits(&run(&dir, &url, &["up", "--count", "1"]), 0);
    exits(&run(&dir, &url, &["down", "--to", "1"]), 0);
    assert_eq!(rows(&url).await, ["1:applied"]);
    assert_eq!(objects(&url).await, rels(&["one"]));
    let (stdout, _) = exits(&run(&dir, &url, &["down"]), 0);
    contains(&stdout, &["reverted 1 of 1"]);
    assert!(rows(&url).await.is_empty());
    assert!(objects(&url).await.is_empty());
    let (stdout, _) = exits(&run(&dir, &url, &["down"]), 0);
    contains(&stdout, &["reverted 0 of 0"]);
}

/// 1, 3 and 4 applied; then 2 appears (older than 3: out of order) and 4 disappears from disk.
#[tokio::test]
async fn plan_json_has_digest_steps_and_divergences() {
    let url = fresh_db("diverge").await;
    let (_tmp, dir) = scratch("steps");
    let two = ["2_create_two.up.sql", "2_create_two.down.sql"];
    let aside = tempfile::tempdir().expect("temp dir");
    for f in two {
        std::fs::rename(Path::new(&dir).join(f), aside.path().join(f)).expect("move");
    }
    exits(&run(&dir, &url, &["up"]), 0);
    assert_eq!(rows(&url).await, ["1:applied", "3:applied", "4:applied"]);
    for f in two {
        std::fs::rename(aside.path().join(f), Path::new(&dir).join(f)).expect("move back");
    }
    for f in ["4_create_four.up.sql", "4_create_four.down.sql"] {
        std::fs::remove_file(Path::new(&dir).join(f)).expect("delete");
    }

    let (json, _) = exits(&run(&dir, &url, &["plan", "--format", "json"]), 0);
    let plan: serde_json::Value = serde_json::from_str(&json).expect("plan JSON");
    let digest = plan["digest"].as_str().expect("digest");
    assert_eq!(digest.len(), 16, "{json}");
    assert!(digest.bytes().all(|b| b.is_ascii_hexdigit()), "{json}");
    let steps = plan["steps"].as_array().expect("steps");
    assert_eq!(steps.len(), 1, "{json}");
    assert_eq!(steps[0]["version"], "2");
    assert_eq!(steps[0]["path"], format!("{dir}/2_create_two.up.sql"));
    assert_eq!(steps[0]["transaction"], true);
    let divergences = plan["divergences"].as_array().expect("divergences");
    assert!(
        divergences.contains(&serde_json::json!({
            "kind": "missing-on-disk", "version": "4", "name": "create_four"
        })),
        "{json}"
    );
    assert!(
        divergences.contains(&serde_json::json!({
            "kind": "out-of-order", "version": "2", "newest_applied": "3"
        })),
        "{json}"
    );
    assert_eq!(divergences.len(), 2, "{json}");

    let (plan_text, _) = exits(&run(&dir, &url, &["plan"]), 0);
    contains(
        &plan_text,
        &[
            &format!("plan digest {digest}"),
            "divergence: 4 create_four is applied but no longer on disk",
            "divergence: 2 is pending but older than the newest applied migration 3",
        ],
    );
    let (_, stderr) = exits(&run(&dir, &url, &["up", "--expect-plan", digest]), 0);
    contains(
        &stderr,
        &["warning: 4 create_four is applied but no longer on disk"],
    );
    assert_eq!(
        rows(&url).await,
        ["1:applied", "3:applied", "4:applied", "2:applied"]
    );
}

#[test]
fn a_database_is_required() {
    let (_, stderr) = exits(&upcycle(&["up"]), 2);
    contains(
        &stderr,
        &["no database: pass --database-url", "DATABASE_URL"],
    );
}

/// The shared server trusts loopback (initdb -A trust), so every password works there: the
/// password is checked on the error paths a URL can reach instead (an unreachable port, a
/// database that does not exist).
#[tokio::test]
async fn the_password_never_appears() {
    let password = "Sup3rS3cretPw";
    let with_password = |url: &str| {
        let (scheme, rest) = url.split_once("://").expect("a URL");
        let (userinfo, host) = rest.split_once('@').expect("a user in the URL");
        let user = userinfo.split(':').next().unwrap_or(userinfo);
        format!("{scheme}://{user}:{password}@{host}")
    };
    let base = fresh_db("pw").await;
    for url in [
        format!("postgres://someone:{password}@127.0.0.1:1/nowhere"),
        with_password(&upcycle::sandbox::with_database(&base, "no_such_database")),
    ] {
        let out = upcycle(&["up", "--connect-retries", "1", "--database-url", &url]);
        let (stdout, stderr) = exits(&out, 2);
        contains(&stderr, &["***"]);
        assert!(
            !stdout.contains(password) && !stderr.contains(password),
            "password printed:\n{stdout}\n{stderr}"
        );
    }
}

#[test]
fn lock_timeout_must_be_an_interval() {
    let (_, stderr) = exits(
        &upcycle(&[
            "up",
            "--lock-timeout",
            "1x",
            "--database-url",
            "postgres://u@127.0.0.1:1/d",
        ]),
        2,
    );
    contains(&stderr, &["--lock-timeout 1x: not an interval"]);
    let (_, stderr) = exits(
        &upcycle(&[
            "up",
            "--statement-timeout",
            "ten",
            "--database-url",
            "postgres://u@127.0.0.1:1/d",
        ]),
        2,
    );
    contains(&stderr, &["--statement-timeout ten: not an interval"]);
}

/// Every bad fixture that is an error (a finding of error severity, or no readable layout):
/// `up` exits 2 naming the file, and the database is untouched, tracking table included, because
/// the refusal comes before connecting.
#[tokio::test]
async fn bad_input_is_refused_before_connecting() {
    let mut checked = Vec::new();
    for (case, expect) in common::bad_cases() {
        let file = match &expect {
            common::Expect::Finding { code, path, .. } => {
                let spec = upcycle::check::CODES
                    .iter()
                    .find(|c| c.id == code)
                    .unwrap_or_else(|| panic!("{case}: unknown code {code}"));
                if spec.severity != upcycle::check::Severity::Error {
                    continue;
                }
                Some(path.clone())
            }
            common::Expect::Exit2 => None,
        };
        let url = fresh_db("bad").await;
        let dir = common::bad_dir(&case);
        let (stdout, stderr) = exits(&run(&dir, &url, &["up"]), 2);
        assert!(
            !stderr.contains("connecting to"),
            "{case}: connected before refusing:\n{stderr}"
        );
        if let Some(file) = &file {
            contains(&stderr, &["nothing was applied", &format!("{dir}/{file}")]);
        } else {
            contains(&stderr, &[&dir]);
        }
        assert!(!stdout.contains("applied"), "{case}: {stdout}");
        assert!(
            !tracking_exists(&url).await,
            "{case}: the tracking table was created"
        );
        assert!(
            objects(&url).await.is_empty(),
            "{case}: objects were created"
        );
        checked.push(case);
    }
    assert!(checked.len() >= 15, "{checked:?}");
}
