//! `upcycle check` end to end, through the binary, on a real PostgreSQL.
//!
//! Every folder under `tests/fixtures/check/` is a small sqlx set with one planted defect (in its
//! last migration, or its middle one where later ones must go unchecked) and an `EXPECT` file
//! saying what the check must report; the binary runs in the fixture folder, as a user would.
//! The other tests cover the JSON shape, markdown escaping, PR mode in a real git repository,
//! `--full-cycle`, integrity after a clean run, and the exit-2 errors.
//!
//! The sandbox is `--sandbox url` on the tests' shared local server (tests/support), which keeps
//! each run under a second; tests/suite/check_providers.rs proves the providers agree.

use crate::support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{fresh_db, root, show, text, upcycle_in};

const FIXTURES: &str = "tests/fixtures/check";

fn fixture(case: &str) -> PathBuf {
    root().join(FIXTURES).join(case)
}

/// The shared server, as a `--sandbox url` target (a fresh database on it, so the URL is valid).
async fn sandbox_url() -> support::TestDb {
    fresh_db("check").await
}

/// `upcycle check --sandbox url --sandbox-url URL <args>` in `dir`.
fn check_in(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut all = vec!["check", "--sandbox", "url", "--sandbox-url", url];
    all.extend_from_slice(args);
    upcycle_in(dir, &all)
}

fn exit_code(out: &Output) -> Option<i32> {
    out.status.code()
}

/// The JSON report on stdout (which holds nothing else: progress goes to stderr).
fn report(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e})\n{}", show(out)))
}

/// A finding's code, path and line.
type Place = (String, String, Option<u32>);

/// Every finding above info, as (code, path, line).
fn places(report: &Value) -> BTreeSet<Place> {
    findings(report)
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| {
            (
                f["code"].as_str().unwrap_or_default().to_string(),
                f["path"].as_str().unwrap_or_default().to_string(),
                f["line"]
                    .as_u64()
                    .map(|l| u32::try_from(l).expect("a line")),
            )
        })
        .collect()
}

fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().expect("findings is an array")
}

fn migration<'r>(report: &'r Value, version: &str) -> &'r Value {
    report["migrations"]
        .as_array()
        .expect("migrations is an array")
        .iter()
        .find(|m| m["version"] == version)
        .unwrap_or_else(|| panic!("no migration {version} in the report"))
}

/// `passed`, `failed`, `not-checked` (an earlier up failed) or `on-base` (PR mode, no cycle).
fn state(m: &Value) -> &'static str {
    let step_ok = |s: &Value| s.is_null() || s["ok"] == true;
    if m["up"].is_null() {
        "not-checked"
    } else if ["up", "down", "reup"].iter().all(|s| step_ok(&m[*s]))
        && m["schema_restored"] != false
        && m["reup_matches"] != false
    {
        if m["cycled"] == true {
            "passed"
        } else {
            "on-base"
        }
    } else {
        "failed"
    }
}

fn diff_lines(m: &Value) -> Vec<&str> {
    m["diff"]
        .as_array()
        .expect("diff is an array")
        .iter()
        .map(|l| l.as_str().expect("a diff line"))
        .collect()
}

/// What one fixture must produce, from its `EXPECT` file: one directive per line,
/// `#` comments.
///
/// - `args ARG…`: more arguments for `upcycle check`
/// - `exit N`
/// - `finding CODE PATH[:LINE]`: the findings above info are exactly these
/// - `diff VERSION LINE`: the migration's `diff` holds this line
/// - `message CODE TEXT`: a finding with this code has TEXT in its message
/// - `migration VERSION passed|failed|not-checked|on-base`
#[derive(Debug, Default)]
struct Expect {
    args: Vec<String>,
    exit: Option<i32>,
    findings: BTreeSet<Place>,
    diffs: Vec<(String, String)>,
    messages: Vec<(String, String)>,
    states: Vec<(String, String)>,
}

fn parse_expect(case: &str, source: &str) -> Expect {
    let mut e = Expect::default();
    for line in source.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let two = || {
            let (a, b) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("{case}/EXPECT: `{line}` wants two fields"));
            (a.to_string(), b.to_string())
        };
        match word {
            "args" => e.args = rest.split_whitespace().map(str::to_string).collect(),
            "exit" => e.exit = Some(rest.parse().expect("exit N")),
            "finding" => {
                let (code, place) = two();
                let (path, line) = match place.rsplit_once(':') {
                    Some((p, n)) if n.chars().all(|c| c.is_ascii_digit()) => {
                        (p.to_string(), Some(n.parse().expect("a line")))
                    }
                    _ => (place, None),
                };
                e.findings.insert((code, path, line));
            }
            "diff" => e.diffs.push(two()),
            "message" => e.messages.push(two()),
            "migration" => e.states.push(two()),
            other => panic!("{case}/EXPECT: unknown directive `{other}`"),
        }
    }
    assert!(e.exit.is_some(), "{case}/EXPECT: no `exit` line");
    e
}

/// Checks one fixture against its EXPECT; returns what is wrong (empty when it holds).
fn verify_fixture(case: &str, url: &str) -> Vec<String> {
    let dir = fixture(case);
    let expect = parse_expect(
        case,
        &std::fs::read_to_string(dir.join("EXPECT")).expect("EXPECT"),
    );
    let mut args: Vec<&str> = vec!["--format", "json"];
    args.extend(expect.args.iter().map(String::as_str));
    let out = check_in(&dir, url, &args);
    let mut wrong = Vec::new();
    if exit_code(&out) != expect.exit {
        wrong.push(format!(
            "exit {:?}, want {:?}",
            exit_code(&out),
            expect.exit
        ));
    }
    let Ok(report) = serde_json::from_slice::<Value>(&out.stdout) else {
        wrong.push(format!("no JSON report\n{}", show(&out)));
        return wrong;
    };
    let got = places(&report);
    if got != expect.findings {
        wrong.push(format!(
            "findings {got:?}, want {:?}\nmessages: {:#?}",
            expect.findings,
            findings(&report)
                .iter()
                .map(|f| f["message"].as_str().unwrap_or_default())
                .collect::<Vec<_>>()
        ));
    }
    for (version, line) in &expect.diffs {
        let lines = diff_lines(migration(&report, version));
        if !lines.contains(&line.as_str()) {
            wrong.push(format!("{version}: diff {lines:?} lacks `{line}`"));
        }
    }
    for (code, fragment) in &expect.messages {
        let found = findings(&report).iter().any(|f| {
            f["code"] == code.as_str()
                && f["message"]
                    .as_str()
                    .is_some_and(|m| m.contains(fragment.as_str()))
        });
        if !found {
            wrong.push(format!("no {code} finding says `{fragment}`"));
        }
    }
    for (version, want) in &expect.states {
        let got = state(migration(&report, version));
        if got != want {
            wrong.push(format!("{version} is {got}, want {want}"));
        }
    }
    wrong
}

fn cases() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root().join(FIXTURES))
        .expect("the check fixtures")
        .map(|e| e.expect("an entry"))
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn every_fixture_reports_its_planted_defect() {
    let url = sandbox_url().await;
    let cases = cases();
    for must in [
        "clean",
        "column-order-only",
        "down-drops-wrong-column",
        "down-leaves-function",
        "down-loses-data",
        "down-misses-index",
        "down-restores-different-type",
        "down-syntax-error",
        "irreversible",
        "irreversible-down-ran",
        "up-fails",
    ] {
        assert!(cases.iter().any(|c| c == must), "fixture {must} is missing");
    }
    let failures: Vec<String> = std::thread::scope(|s| {
        let runs: Vec<_> = cases
            .iter()
            .map(|case| (case, s.spawn(|| verify_fixture(case, &url))))
            .collect();
        runs.into_iter()
            .flat_map(|(case, run)| {
                run.join()
                    .expect("fixture thread")
                    .into_iter()
                    .map(move |w| format!("{case}: {w}"))
            })
            .collect()
    });
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[tokio::test]
async fn text_output_names_the_file_and_line_of_a_failing_statement() {
    let url = sandbox_url().await;
    let out = check_in(&fixture("down-syntax-error"), &url, &[]);
    assert_eq!(exit_code(&out), Some(1), "{}", show(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "migrations/20240102090000_add_t_audit.down.sql:5: error[down-failed]: the down fails right after its up: syntax error at or near \"CASCADE\" (SQLSTATE 42601)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("✗ 20240102090000 add_t_audit  up "),
        "{stdout}"
    );
    let out = check_in(&fixture("up-fails"), &url, &[]);
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("migrations/20240102090000_add_owner.up.sql:4: error[up-failed]"),
        "{stdout}"
    );
    assert!(
        stdout.contains("· 20240103090000 add_t_note  up - · down - · up again -"),
        "{stdout}"
    );
    assert!(stdout.contains("1 not checked"), "{stdout}");
}

#[tokio::test]
async fn json_report_has_the_documented_shape() {
    let url = sandbox_url().await;
    let out = check_in(&fixture("down-misses-index"), &url, &["--format", "json"]);
    assert_eq!(exit_code(&out), Some(1), "{}", show(&out));
    let r = report(&out);
    for key in [
        "layout",
        "dirs",
        "sandbox",
        "base",
        "migrations",
        "full_cycle",
        "findings",
        "summary",
        "reproduce",
    ] {
        assert!(r.get(key).is_some(), "no `{key}` in {r:#}");
    }
    assert_eq!(r["layout"], "sqlx");
    assert_eq!(r["dirs"], serde_json::json!(["migrations"]));
    assert!(r["base"].is_null() && r["full_cycle"].is_null());
    let migrations = r["migrations"].as_array().expect("migrations");
    assert_eq!(migrations.len(), 2);
    for m in migrations {
        assert!(m["version"].is_string() && m["name"].is_string(), "{m:#}");
        assert!(m["path"].is_string() && m["cycled"].is_boolean(), "{m:#}");
        for step in ["up", "down", "reup"] {
            let s = &m[step];
            assert!(s["ok"].is_boolean(), "{step} of {m:#}");
            assert!(s["ms"].is_u64(), "{step} of {m:#}");
            assert!(
                s["error"].is_null() || s["error"].is_string(),
                "{step} of {m:#}"
            );
        }
        assert!(m["schema_restored"].is_boolean(), "{m:#}");
        assert!(m["diff"].is_array() && m["reup_diff"].is_array(), "{m:#}");
    }
    let first = &migrations[0];
    assert_eq!(first["version"], "20240101090000");
    assert_eq!(first["name"], "create_t");
    assert_eq!(first["path"], "migrations/20240101090000_create_t.up.sql");
    assert_eq!(first["schema_restored"], true);
    assert_eq!(first["diff"], serde_json::json!([]));
    let second = &migrations[1];
    assert_eq!(second["schema_restored"], false);
    assert_eq!(second["reup"]["ok"], false);
    let error = second["reup"]["error"]
        .as_str()
        .expect("the second up's error");
    assert!(
        error.starts_with(
            "migrations/20240102090000_index_t_a.up.sql:1: relation \"t_a_idx\" already exists"
        ),
        "{error}"
    );
    for f in findings(&r) {
        for key in ["severity", "code", "path", "line", "message"] {
            assert!(f.get(key).is_some(), "no `{key}` in {f:#}");
        }
    }
    let s = &r["summary"];
    assert_eq!(
        (
            &s["migrations"],
            &s["cycled"],
            &s["passed"],
            &s["failed"],
            &s["not_checked"],
            &s["errors"],
            &s["warnings"]
        ),
        (
            &Value::from(2),
            &Value::from(2),
            &Value::from(1),
            &Value::from(1),
            &Value::from(0),
            &Value::from(2),
            &Value::from(0)
        ),
        "{s:#}"
    );
    assert!(s["ms"].is_u64());
    let reproduce = r["reproduce"].as_str().expect("reproduce");
    assert!(reproduce.starts_with("upcycle check "), "{reproduce}");
}

/// Text outside fenced code blocks (where markdown and HTML are live).
fn outside_code_blocks(markdown: &str) -> String {
    let mut fence: Option<String> = None;
    let mut out = String::new();
    for line in markdown.lines() {
        let ticks: String = line
            .trim_start()
            .chars()
            .take_while(|c| *c == '`')
            .collect();
        match &fence {
            Some(open) if ticks.len() >= open.len() && line.trim() == ticks => fence = None,
            Some(_) => {}
            None if ticks.len() >= 3 => fence = Some(ticks),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out
}

#[tokio::test]
async fn markdown_escapes_names_and_messages_taken_from_files() {
    let url = sandbox_url().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let migrations = tmp.path().join("migrations");
    std::fs::create_dir_all(&migrations).expect("mkdir");
    for file in [
        "20240101090000_create_t.up.sql",
        "20240101090000_create_t.down.sql",
    ] {
        std::fs::copy(
            fixture("down-leaves-function")
                .join("migrations")
                .join(file),
            migrations.join(file),
        )
        .expect("copy");
    }
    // A file name with HTML, a table pipe and a mention; a function named with HTML that the
    // down leaves behind, so it shows up in a finding's message and in the diff.
    let name = "20240102090000_<script>alert(1)<script>|@octocat";
    std::fs::write(
        migrations.join(format!("{name}.up.sql")),
        "CREATE FUNCTION \"<script>alert(2)</script>@hubot\"() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;\n",
    )
    .expect("write up");
    std::fs::write(
        migrations.join(format!("{name}.down.sql")),
        "-- forgets the function\nSELECT 1;\n",
    )
    .expect("write down");
    let out = check_in(tmp.path(), &url, &["--format", "markdown"]);
    assert_eq!(exit_code(&out), Some(1), "{}", show(&out));
    let md = text(&out.stdout);
    assert!(md.starts_with("### ❌ upcycle check: "), "{md}");
    let live = outside_code_blocks(&md);
    assert!(
        !live.contains("<script"),
        "raw HTML outside code blocks:\n{md}"
    );
    for mention in ["@octocat", "@hubot"] {
        assert!(!live.contains(mention), "a live {mention}:\n{md}");
    }
    assert!(
        live.contains("&lt;script\\>alert\\(1\\)&lt;script\\>\\|@\u{200b}octocat"),
        "{md}"
    );
    assert!(live.contains("&lt;/script\\>@\u{200b}hubot"), "{md}");
    // The row of the odd migration still has the table's 10 cell borders.
    let row = live
        .lines()
        .find(|l| l.starts_with('|') && l.contains("octocat"))
        .unwrap_or_else(|| panic!("no table row for the migration:\n{md}"));
    let borders = row
        .char_indices()
        .filter(|(i, c)| *c == '|' && (*i == 0 || row.as_bytes()[i - 1] != b'\\'))
        .count();
    assert_eq!(borders, 10, "{row}");
    // The diff is in a code block, verbatim.
    assert!(
        md.contains("function \"<script>alert(2)</script>@hubot\"(): added"),
        "{md}"
    );
}

fn git(repo: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=upcycle tests",
            "-c",
            "user.email=tests@upcycle.invalid",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(repo)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", repo)
        .output()
        .expect("run git");
    assert!(out.status.success(), "git {args:?}: {}", text(&out.stderr));
}

fn write(dir: &Path, name: &str, sql: &str) {
    std::fs::write(dir.join(name), sql).expect("write a migration");
}

/// A repository whose `main` holds 1, 2 and 5, and a branch `feature` (checked out) that
/// forked before 5 landed: it edits 2, and adds 3 (older than 5), its own 5, and 6.
fn pr_repo() -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path();
    let m = repo.join("migrations");
    std::fs::create_dir_all(&m).expect("mkdir");
    git(repo, &["init", "-q", "-b", "main"]);
    for (v, table) in [("1_create_a", "a"), ("2_create_b", "b")] {
        write(
            &m,
            &format!("{v}.up.sql"),
            &format!("CREATE TABLE {table} (id int PRIMARY KEY);\n"),
        );
        write(
            &m,
            &format!("{v}.down.sql"),
            &format!("DROP TABLE {table};\n"),
        );
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "1 and 2"]);
    git(repo, &["branch", "feature"]);
    write(
        &m,
        "5_create_c.up.sql",
        "CREATE TABLE c (id int PRIMARY KEY);\n",
    );
    write(&m, "5_create_c.down.sql", "DROP TABLE c;\n");
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "5 lands on main"]);
    git(repo, &["checkout", "-q", "feature"]);
    write(
        &m,
        "2_create_b.up.sql",
        "CREATE TABLE b (id bigint PRIMARY KEY);\n",
    );
    for (v, table) in [
        ("3_create_late", "late"),
        ("5_create_other", "other"),
        ("6_create_new", "new_table"),
    ] {
        write(
            &m,
            &format!("{v}.up.sql"),
            &format!("CREATE TABLE {table} (id int);\n"),
        );
        write(
            &m,
            &format!("{v}.down.sql"),
            &format!("DROP TABLE {table};\n"),
        );
    }
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", "the branch"]);
    tmp
}

#[tokio::test]
async fn pr_mode_reports_edits_ordering_and_reuse_against_the_base() {
    let url = sandbox_url().await;
    let repo = pr_repo();
    let out = check_in(repo.path(), &url, &["--base", "main", "--format", "json"]);
    assert_eq!(exit_code(&out), Some(1), "{}", show(&out));
    let r = report(&out);
    assert_eq!(r["base"], "main");
    let want: BTreeSet<Place> = [
        ("changed-on-base", "migrations/2_create_b.up.sql"),
        ("older-than-base", "migrations/3_create_late.up.sql"),
        ("version-reused", "migrations/5_create_other.up.sql"),
    ]
    .iter()
    .map(|(c, p)| (c.to_string(), p.to_string(), None))
    .collect();
    assert_eq!(places(&r), want, "{r:#}");
    let reused = findings(&r)
        .iter()
        .find(|f| f["code"] == "version-reused")
        .expect("version-reused");
    assert!(
        reused["message"]
            .as_str()
            .is_some_and(|m| m.contains("migrations/5_create_c.up.sql")),
        "{reused:#}"
    );
    let on_base = migration(&r, "1");
    assert_eq!(on_base["cycled"], false, "{on_base:#}");
    assert_eq!(on_base["up"]["ok"], true);
    assert!(on_base["down"].is_null() && on_base["reup"].is_null());
    assert_eq!(state(on_base), "on-base");
    for v in ["2", "3", "5", "6"] {
        let m = migration(&r, v);
        assert_eq!(m["cycled"], true, "{m:#}");
        assert_eq!(state(m), "passed", "{m:#}");
    }
    assert_eq!(r["summary"]["migrations"], 5);
    assert_eq!(r["summary"]["cycled"], 4);

    // Against its own tip nothing is new: everything is applied once, nothing cycled.
    let out = check_in(repo.path(), &url, &["--base", "HEAD", "--format", "json"]);
    assert_eq!(exit_code(&out), Some(0), "{}", show(&out));
    let r = report(&out);
    assert!(places(&r).is_empty(), "{r:#}");
    assert_eq!(r["summary"]["cycled"], 0);
    let text_out = check_in(repo.path(), &url, &["--base", "HEAD"]);
    assert!(
        text(&text_out.stdout)
            .contains("0 of 5 migration(s) cycled (5 already on the base applied without a cycle)"),
        "{}",
        show(&text_out)
    );
}

#[tokio::test]
async fn pr_mode_with_an_unknown_base_is_an_error() {
    let url = sandbox_url().await;
    let repo = pr_repo();
    let out = check_in(repo.path(), &url, &["--base", "no-such-branch"]);
    assert_eq!(exit_code(&out), Some(2), "{}", show(&out));
    assert!(
        text(&out.stderr).contains("--base no-such-branch: not a commit"),
        "{}",
        show(&out)
    );
}

#[tokio::test]
async fn full_cycle_passes_on_the_clean_set() {
    let url = sandbox_url().await;
    let out = check_in(
        &fixture("clean"),
        &url,
        &["--full-cycle", "--format", "json"],
    );
    assert_eq!(exit_code(&out), Some(0), "{}", show(&out));
    let r = report(&out);
    let full = &r["full_cycle"];
    assert_eq!(full["down"]["ok"], true, "{full:#}");
    assert_eq!(full["up"]["ok"], true, "{full:#}");
    assert_eq!(full["schema_restored"], true, "{full:#}");
    assert_eq!(full["diff"], serde_json::json!([]));
    assert!(places(&r).is_empty(), "{r:#}");
}

#[tokio::test]
async fn full_cycle_reports_what_the_downs_leave_behind() {
    let url = sandbox_url().await;
    let out = check_in(
        &fixture("down-leaves-function"),
        &url,
        &["--full-cycle", "--format", "json"],
    );
    assert_eq!(exit_code(&out), Some(1), "{}", show(&out));
    let r = report(&out);
    let full = &r["full_cycle"];
    assert_eq!(full["schema_restored"], false, "{full:#}");
    assert_eq!(
        full["diff"],
        serde_json::json!(["function t_touch(): added"])
    );
    let whole = findings(&r)
        .iter()
        .find(|f| f["code"] == "schema-not-restored" && f["path"] == "migrations")
        .unwrap_or_else(|| panic!("no full-cycle finding on the folder: {r:#}"));
    assert!(
        whole["message"].as_str().is_some_and(
            |m| m.starts_with("after every down") && m.contains("function t_touch(): added")
        ),
        "{whole:#}"
    );
}

#[tokio::test]
async fn full_cycle_stops_at_an_irreversible_migration() {
    let url = sandbox_url().await;
    let out = check_in(
        &fixture("irreversible"),
        &url,
        &["--full-cycle", "--format", "json"],
    );
    assert_eq!(exit_code(&out), Some(0), "{}", show(&out));
    let r = report(&out);
    assert!(places(&r).is_empty(), "{r:#}");
    assert_eq!(r["full_cycle"]["down"]["ok"], true, "{r:#}");
    assert_eq!(r["full_cycle"]["schema_restored"], true, "{r:#}");
}

#[tokio::test]
async fn a_clean_run_of_the_bundled_set_has_no_integrity_findings() {
    let url = sandbox_url().await;
    let out = check_in(&root(), &url, &["--full-cycle", "--format", "json"]);
    assert_eq!(exit_code(&out), Some(0), "{}", show(&out));
    let r = report(&out);
    assert!(
        !findings(&r).iter().any(|f| f["code"] == "rerun-not-noop"),
        "{r:#}"
    );
    assert!(places(&r).is_empty(), "{r:#}");
    let s = &r["summary"];
    assert_eq!(s["migrations"], 7);
    assert_eq!(s["passed"], 7, "{s:#}");
    assert_eq!(r["full_cycle"]["schema_restored"], true);
}

#[tokio::test]
async fn an_unknown_seed_version_is_an_error_before_any_sandbox() {
    let url = sandbox_url().await;
    let out = check_in(
        &fixture("down-loses-data"),
        &url,
        &["--seed", "seed.sql", "--seed-at", "99"],
    );
    assert_eq!(exit_code(&out), Some(2), "{}", show(&out));
    assert_eq!(
        text(&out.stderr).trim(),
        "upcycle: --seed-at 99: not a version of the set"
    );
    assert!(out.stdout.is_empty(), "{}", show(&out));
}

#[test]
fn an_unreachable_sandbox_url_is_an_error_that_names_it() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr").port()
    };
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let started = std::time::Instant::now();
    let out = check_in(&fixture("clean"), &url, &[]);
    assert_eq!(exit_code(&out), Some(2), "{}", show(&out));
    let stderr = text(&out.stderr);
    assert!(stderr.starts_with("upcycle: --sandbox-url: "), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(stderr.contains("Connection refused"), "{stderr}");
    assert_eq!(stderr.matches("upcycle:").count(), 1, "{stderr}");
    assert!(out.stdout.is_empty(), "{}", show(&out));
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn the_sandbox_url_password_stays_out_of_the_report() {
    let url = sandbox_url().await;
    // The shared server trusts local connections, so any password works; a URL that already
    // has one (UPCYCLE_TEST_DATABASE_URL) keeps it.
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (userinfo, host) = rest.split_once('@').expect("a user");
    let (with_password, secret) = match userinfo.split_once(':') {
        Some((_, password)) => (url.to_string(), password.to_string()),
        None => (
            format!("{scheme}://{userinfo}:hunter2-secret@{host}"),
            "hunter2-secret".to_string(),
        ),
    };
    for format in ["json", "markdown", "text"] {
        let out = check_in(&fixture("clean"), &with_password, &["--format", format]);
        assert_eq!(exit_code(&out), Some(0), "{}", show(&out));
        assert!(!show(&out).contains(&secret), "{format}: {}", show(&out));
    }
}

/// A `--sandbox url` role that is not a superuser (a managed database's, say): event triggers
/// need a superuser, so the catalog probes instead of following a change log, and the probe
/// reads nothing only a superuser may (`pg_authid`). The planted defects are found all the same.
#[tokio::test]
async fn a_sandbox_url_role_that_is_not_a_superuser_is_checked_by_probing() {
    use sqlx::{Connection, Executor};
    // Its own server: a role made on the shared one would force full reads in other tests.
    let server = support::own_server().await;
    let mut admin = sqlx::PgConnection::connect(&server.url)
        .await
        .expect("connect");
    admin
        .execute("CREATE ROLE upcycle_plain LOGIN CREATEDB")
        .await
        .expect("create the role");
    admin.close().await.ok();
    let url = server.url.replacen("postgres@", "upcycle_plain@", 1);
    for case in ["clean", "down-misses-index", "down-leaves-function"] {
        let wrong = verify_fixture(case, &url);
        assert!(wrong.is_empty(), "{case}: {wrong:#?}");
    }
}
