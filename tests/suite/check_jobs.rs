//! `upcycle check` in parallel jobs: a long set is shared between databases of the sandbox, and
//! the report is the one a single job gives, whatever fails where. Also what a failed step
//! leaves for the migrations after it: a fresh database, or (when the failure changed nothing)
//! only the tracking row set right. Sets are written per test (sqlx `.up.sql`/`.down.sql`), 40
//! migrations so that two jobs of at least 16 each are worth it.

use crate::support;

use std::path::Path;
use std::process::Output;

use serde_json::Value;
use support::{fresh_db, show, text, upcycle_in};

/// Migrations per generated set.
const N: usize = 40;

/// Writes `N` migrations into `dir/migrations`: migration `i` creates table `t<i>` (with an index) and its
/// down drops it, except where `custom` gives the up and down of `i`.
fn write_set(dir: &Path, custom: &[(usize, &str, &str)]) {
    let dir = dir.join("migrations");
    std::fs::create_dir_all(&dir).expect("mkdir");
    for i in 1..=N {
        let (up, down) = custom
            .iter()
            .find(|(k, _, _)| *k == i)
            .map(|(_, up, down)| (up.to_string(), down.to_string()))
            .unwrap_or_else(|| {
                (
                    format!("CREATE TABLE t{i} (id int PRIMARY KEY, v text);\nCREATE INDEX t{i}_v ON t{i} (v);\n"),
                    format!("DROP TABLE t{i};\n"),
                )
            });
        let stem = format!("{i:03}_step{i}");
        std::fs::write(dir.join(format!("{stem}.up.sql")), up).expect("write up");
        std::fs::write(dir.join(format!("{stem}.down.sql")), down).expect("write down");
    }
}

/// Migrations 1 and 2 of a set where a cycle leaves two rows in `t1` and a plain up one: 2's
/// down keeps the row its up inserted, and its second up inserts another.
const DOUBLED_ROW: [(usize, &str, &str); 2] = [
    (1, "CREATE TABLE t1 (id int, v text);\n", "DROP TABLE t1;\n"),
    (
        2,
        "INSERT INTO t1 VALUES (1, 'a');\n",
        "COMMENT ON TABLE t1 IS NULL;\n",
    ),
];

/// `check --format json` of `dir` on the shared server, with `-v` (stderr says what the jobs
/// did) and `args`.
fn check(dir: &Path, url: &str, args: &[&str]) -> Output {
    let mut all = vec![
        "-v",
        "check",
        "--sandbox",
        "url",
        "--sandbox-url",
        url,
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    upcycle_in(dir, &all)
}

/// The report without what differs between runs (times, the database's name).
fn comparable(out: &Output) -> Value {
    let mut report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON report ({e})\n{}", show(out)));
    let obj = report.as_object_mut().expect("an object");
    for key in ["sandbox", "reproduce"] {
        obj.remove(key);
    }
    if let Some(summary) = obj.get_mut("summary").and_then(Value::as_object_mut) {
        summary.remove("ms");
    }
    if let Some(full) = obj.get_mut("full_cycle").and_then(Value::as_object_mut) {
        for step in ["up", "down"] {
            if let Some(s) = full.get_mut(step).and_then(Value::as_object_mut) {
                s.remove("ms");
            }
        }
    }
    for m in obj
        .get_mut("migrations")
        .and_then(Value::as_array_mut)
        .expect("migrations")
    {
        for step in ["up", "down", "reup"] {
            if let Some(s) = m.get_mut(step).and_then(Value::as_object_mut) {
                s.remove("ms");
            }
        }
    }
    report
}

/// Where the second job's run begins (`-v`: "2 jobs in parallel, one database each: 001 to
/// 021, 022 to 040"), as a migration number.
fn second_run(stderr: &str) -> usize {
    stderr
        .lines()
        .find_map(|l| l.split_once("one database each: "))
        .and_then(|(_, runs)| runs.split(", ").nth(1)?.split(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no second run in\n{stderr}"))
}

/// Runs the set with one job and with two; asserts both reports are the same, that two jobs
/// ran (or that `expect_two` is false), and returns the report and the two-job stderr.
fn one_and_two(dir: &Path, url: &str, expect_two: bool) -> (Value, String) {
    let one = check(dir, url, &["--jobs", "1"]);
    let two = check(dir, url, &["--jobs", "2"]);
    assert_ne!(one.status.code(), Some(2), "{}", show(&one));
    assert_eq!(one.status.code(), two.status.code(), "{}", show(&two));
    let stderr = text(&two.stderr);
    assert_eq!(
        stderr.contains("2 jobs in parallel"),
        expect_two,
        "{}",
        show(&two)
    );
    let report = comparable(&one);
    assert_eq!(report, comparable(&two), "{}", show(&two));
    (report, stderr)
}

/// The findings above info as `code path`.
fn places(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| {
            format!(
                "{} {}",
                f["code"].as_str().unwrap_or_default(),
                f["path"].as_str().unwrap_or_default()
            )
        })
        .collect()
}

fn not_checked(report: &Value) -> usize {
    report["migrations"]
        .as_array()
        .expect("migrations")
        .iter()
        .filter(|m| m["up"].is_null())
        .count()
}

#[tokio::test]
async fn two_jobs_report_what_one_job_reports_with_defects_in_both_halves() {
    let db = fresh_db("jobs").await;
    let dir = tempfile::tempdir().expect("tempdir");
    write_set(
        dir.path(),
        &[
            // In the first job's run: a down that misses the index.
            (
                5,
                "CREATE TABLE t5 (id int);\nCREATE INDEX t5_id ON t5 (id);\n",
                "DROP INDEX t5_id;\n",
            ),
            // A down that renames instead of dropping: the second up names its sequence
            // t7_id_seq1 (reup-differs). Later migrations must see the set's own schema
            // (t7_id_seq), as the second job does, or 25 fails its up on t7_old's sequence.
            (
                7,
                "CREATE TABLE t7 (id serial);\n",
                "ALTER TABLE t7 RENAME TO t7_old;\n",
            ),
            (
                25,
                "ALTER TABLE t7 ALTER COLUMN id DROP DEFAULT;\nDROP SEQUENCE t7_id_seq;\n",
                "CREATE SEQUENCE t7_id_seq AS integer OWNED BY t7.id;\nALTER TABLE t7 ALTER COLUMN id SET DEFAULT nextval('t7_id_seq');\n",
            ),
            // In the second job's run: a down that fails, and one that drops the wrong column.
            (
                30,
                "ALTER TABLE t1 ADD COLUMN a int, ADD COLUMN b int;\n",
                "ALTER TABLE t1 DROP COLUMN b;\n",
            ),
            (35, "CREATE TABLE t35 (id int);\n", "DROP TABLE t35_typo;\n"),
        ],
    );
    let (report, stderr) = one_and_two(dir.path(), db.as_str(), true);
    assert!((8..=25).contains(&second_run(&stderr)), "{stderr}");
    let got = places(&report);
    for want in [
        "schema-not-restored migrations/005_step5.down.sql",
        "reup-differs migrations/007_step7.up.sql",
        "schema-not-restored migrations/030_step30.down.sql",
        "down-failed migrations/035_step35.down.sql",
    ] {
        assert!(got.iter().any(|p| p == want), "{want} not in {got:#?}");
    }
    assert_eq!(not_checked(&report), 0);
    assert!(
        !got.iter().any(|p| p.contains("025_step25")),
        "25 passes on the set's schema: {got:#?}"
    );
}

#[tokio::test]
async fn an_up_that_fails_in_the_first_job_leaves_every_later_migration_unchecked() {
    let db = fresh_db("jobs").await;
    let dir = tempfile::tempdir().expect("tempdir");
    // 20's unique index fails in the first job (1..21) on the row that 2's cycle doubled; in
    // the second, which applies 1..21 once first, it passes: that job has proved some of its
    // run by then, and none of it may count.
    let mut set = DOUBLED_ROW.to_vec();
    set.extend([
        (
            20,
            "CREATE UNIQUE INDEX t1_id ON t1 (id);\n",
            "DROP INDEX t1_id;\n",
        ),
        // Would be a finding if the second job's results counted.
        (30, "CREATE TABLE t30 (id int);\n", "SELECT 1;\n"),
    ]);
    write_set(dir.path(), &set);
    let (report, stderr) = one_and_two(dir.path(), db.as_str(), true);
    assert!(second_run(&stderr) > 20, "{stderr}");
    assert_eq!(
        places(&report),
        vec!["up-failed migrations/020_step20.up.sql"]
    );
    assert_eq!(not_checked(&report), N - 20);
}

#[tokio::test]
async fn a_job_that_cannot_begin_has_its_run_proved_by_the_job_before_it() {
    let db = fresh_db("jobs").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut set = DOUBLED_ROW.to_vec();
    set.extend([
        // Passes after the cycle of 2, fails on a plain up of 1..9 (the second job's start).
        (
            10,
            "CREATE TABLE t10 (id int);\nDO $$ BEGIN IF (SELECT count(*) FROM t1) < 2 THEN RAISE EXCEPTION 'needs the row of a second up'; END IF; END $$;\n",
            "DROP TABLE t10;\n",
        ),
        // In the second job's run, found all the same (its second up passes: no rebuild,
        // which would fail at 10).
        (
            33,
            "CREATE TABLE IF NOT EXISTS t33 (id int);\nCREATE INDEX IF NOT EXISTS t33_id ON t33 (id);\n",
            "DROP INDEX t33_id;\n",
        ),
    ]);
    write_set(dir.path(), &set);
    let (report, stderr) = one_and_two(dir.path(), db.as_str(), true);
    assert!((11..=33).contains(&second_run(&stderr)), "{stderr}");
    assert!(stderr.contains("cannot begin"), "{stderr}");
    let got = places(&report);
    assert!(
        got.iter()
            .any(|p| p == "schema-not-restored migrations/033_step33.down.sql"),
        "{got:#?}"
    );
    assert_eq!(not_checked(&report), 0);
}

#[tokio::test]
async fn a_script_that_writes_a_role_keeps_the_check_to_one_job() {
    let db = fresh_db("jobs").await;
    let dir = tempfile::tempdir().expect("tempdir");
    write_set(
        dir.path(),
        &[(
            3,
            "CREATE TABLE t3 (id int);\nDO $$ BEGIN IF false THEN CREATE ROLE upcycle_never_made; END IF; END $$;\n",
            "DROP TABLE t3;\n",
        )],
    );
    let (_, stderr) = one_and_two(dir.path(), db.as_str(), false);
    assert!(
        stderr.contains("one job: migrations/003_step3.up.sql has CREATE ROLE"),
        "{stderr}"
    );
}

#[tokio::test]
async fn jobs_must_be_a_positive_number() {
    let dir = tempfile::tempdir().expect("tempdir");
    write_set(dir.path(), &[]);
    let out = upcycle_in(dir.path(), &["check", "--jobs", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(text(&out.stderr).contains("--jobs"), "{}", show(&out));
}

/// The time line's count of failures settled in place (`N settled in place`).
fn settled(stderr: &str) -> Vec<u32> {
    stderr
        .lines()
        .filter_map(|l| {
            l.split(" settled in place")
                .next()?
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// One job on the set `custom` makes: 3's second up fails after its down left t3 behind; how
/// many failures were settled in place (the time line's count); the rest of the set checked.
fn settles(url: &str, custom: &[(usize, &str, &str)]) -> Vec<u32> {
    let dir = tempfile::tempdir().expect("tempdir");
    write_set(dir.path(), custom);
    let out = check(dir.path(), url, &["--jobs", "1"]);
    let report = comparable(&out);
    assert_eq!(
        places(&report),
        vec![
            "schema-not-restored migrations/003_step3.down.sql",
            "reup-failed migrations/003_step3.up.sql"
        ],
        "{}",
        show(&out)
    );
    assert_eq!(not_checked(&report), 0, "{}", show(&out));
    settled(&text(&out.stderr))
}

#[tokio::test]
async fn a_failure_that_changed_nothing_is_settled_in_place_and_one_that_wrote_rows_is_rebuilt() {
    let db = fresh_db("jobs").await;
    // 3's down changes no definition and writes no rows, so its second up fails ("t3 exists")
    // on the very schema after its first: the check goes on in the same database.
    let create_t3 = "CREATE TABLE t3 (id int);\n";
    let same = settles(
        db.as_str(),
        &[(3, create_t3, "COMMENT ON TABLE t3 IS NULL;\n")],
    );
    assert_eq!(same, vec![1]);
    // 3's down deletes the row 2 inserted, then its second up fails: the schema is the same,
    // but the rows are not, so the database is rebuilt, and 5 (which needs the row) passes.
    let wrote = settles(
        db.as_str(),
        &[
            (2, "INSERT INTO t1 VALUES (1, 'a');\n", "DELETE FROM t1;\n"),
            (3, create_t3, "DELETE FROM t1;\n"),
            (
                5,
                "CREATE TABLE t5 (id int);\nDO $$ BEGIN IF NOT EXISTS (SELECT FROM t1) THEN RAISE EXCEPTION 'the row of 2 is lost'; END IF; END $$;\n",
                "DROP TABLE t5;\n",
            ),
        ],
    );
    assert_eq!(wrote, vec![0]);
}

/// Migrations `range` of a set where each up sleeps (`pg_sleep`, 40 ms): a job proving them runs
/// for seconds while one proving the others is done in a fraction of that.
fn slow(range: std::ops::RangeInclusive<usize>) -> Vec<(usize, String, String)> {
    range
        .map(|i| {
            (
                i,
                format!(
                    "CREATE TABLE t{i} (id int PRIMARY KEY, v text);\nSELECT pg_sleep(0.04);\n"
                ),
                format!("DROP TABLE t{i};\n"),
            )
        })
        .collect()
}

fn with(set: &[(usize, String, String)]) -> Vec<(usize, &str, &str)> {
    set.iter()
        .map(|(i, up, down)| (*i, up.as_str(), down.as_str()))
        .collect()
}

#[tokio::test]
async fn a_job_that_finishes_first_takes_over_the_rest_of_a_slower_run() {
    let db = fresh_db("jobs").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut set = slow(21..=N);
    // In the part the first job takes over: a down that deletes the seed's rows, and one that
    // fails. The seed comes in after 25, which the first job applies before its part, so its
    // rows must be there for the finding.
    set.retain(|(i, _, _)| *i != 36 && *i != 39);
    set.push((
        36,
        "CREATE TABLE t36 (id int);\nSELECT pg_sleep(0.04);\n".into(),
        "DROP TABLE t36;\nDELETE FROM t1;\n".into(),
    ));
    set.push((
        39,
        "CREATE TABLE t39 (id int);\nSELECT pg_sleep(0.04);\n".into(),
        "DROP TABLE t39_typo;\n".into(),
    ));
    write_set(dir.path(), &with(&set));
    std::fs::write(
        dir.path().join("seed.sql"),
        "INSERT INTO t1 VALUES (1, 'a');\n",
    )
    .expect("seed");
    let seeded = ["--seed", "seed.sql", "--seed-at", "025"];
    let one = check(
        dir.path(),
        db.as_str(),
        &[&["--jobs", "1"][..], &seeded].concat(),
    );
    let two = check(
        dir.path(),
        db.as_str(),
        &[&["--jobs", "2"][..], &seeded].concat(),
    );
    let stderr = text(&two.stderr);
    assert!(second_run(&stderr) <= 25, "{stderr}");
    assert!(stderr.contains("job 1 takes over from"), "{}", show(&two));
    let report = comparable(&one);
    assert_eq!(report, comparable(&two), "{}", show(&two));
    let got = places(&report);
    for want in [
        "data-lost migrations/036_step36.down.sql",
        "down-failed migrations/039_step39.down.sql",
    ] {
        assert!(got.iter().any(|p| p == want), "{want} not in {got:#?}");
    }
    assert_eq!(not_checked(&report), 0);
    // Each migration's line once, in the set's order, whichever job proved it.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("_step") && (l.starts_with('✓') || l.starts_with('✗')))
        .collect();
    let numbers: Vec<usize> = lines
        .iter()
        .filter_map(|l| l.split_once(' ')?.1.get(..3)?.parse().ok())
        .collect();
    assert_eq!(numbers, (1..=N).collect::<Vec<_>>(), "{stderr}");
}

#[tokio::test]
async fn a_job_past_a_slower_run_starts_over_to_take_its_tail_unless_the_full_cycle_needs_it() {
    let db = fresh_db("jobs").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let mut set = slow(1..=20);
    // In the first job's run, late enough to be taken over: a down that misses the index.
    set.retain(|(i, _, _)| *i != 18);
    set.push((
        18,
        "CREATE TABLE t18 (id int);\nCREATE INDEX t18_id ON t18 (id);\nSELECT pg_sleep(0.04);\n"
            .into(),
        "DROP INDEX t18_id;\n".into(),
    ));
    write_set(dir.path(), &with(&set));
    let (report, stderr) = one_and_two(dir.path(), db.as_str(), true);
    // The second job held the whole set: it proved what holds of it before it started over.
    assert!(stderr.contains("job 2 takes over from"), "{stderr}");
    assert_eq!(
        places(&report),
        vec![
            "schema-not-restored migrations/018_step18.down.sql",
            "reup-failed migrations/018_step18.up.sql"
        ]
    );
    // The full cycle runs in the database that holds the whole set: it stays.
    let one = check(dir.path(), db.as_str(), &["--jobs", "1", "--full-cycle"]);
    let two = check(dir.path(), db.as_str(), &["--jobs", "2", "--full-cycle"]);
    assert!(
        !text(&two.stderr).contains("job 2 takes over"),
        "{}",
        show(&two)
    );
    let full = comparable(&two);
    assert!(full["full_cycle"].is_object(), "{}", show(&two));
    assert_eq!(comparable(&one), full, "{}", show(&two));
}
