//! Faults in the middle of a migration, with real processes and a real server: upcycle killed
//! with SIGKILL, its migration connection terminated by an administrator, a non-transactional
//! migration cut short, the server crashing (a private server, which restarts on its data
//! folder) and the server shut down. Each test waits for what it needs with a bound and asserts
//! outcomes, never durations.
//!
//! Fixtures: `tests/fixtures/apply/long-transaction` (sqlx: 2 runs `CREATE TABLE big …;
//! SELECT pg_sleep(30);` in a transaction) and `tests/fixtures/apply/long-no-transaction`
//! (goose NO TRANSACTION: `CREATE TABLE half …;` then `SELECT pg_sleep(30);`, one at a time).

use crate::support;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sqlx::{AssertSqlSafe, Connection, PgConnection};
use support::{column, copy_dir, fresh_db, root, text, upcycle};
use upcycle::sandbox::{LocalOptions, LocalServer};

const APPLY: &str = "tests/fixtures/apply";
/// How long to wait for something that normally takes well under a second. Generous, since a
/// loaded CI machine is slow; an assertion never depends on it.
const BOUND: Duration = Duration::from_secs(90);

/// `upcycle --dir <dir> up --database-url <url>`, started in the background.
fn spawn_up(dir: &str, url: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_upcycle"))
        .args(["--dir", dir, "up", "--database-url", url])
        .current_dir(root())
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start upcycle")
}

fn run(dir: &str, url: &str, args: &[&str]) -> Output {
    let mut all = vec!["--dir", dir];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--database-url", url]);
    upcycle(&all)
}

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

/// The first column of `sql`'s rows, or None while the server cannot answer (it may be down
/// or recovering).
async fn try_column(url: &str, sql: &str) -> Option<Vec<String>> {
    let mut conn = PgConnection::connect(url).await.ok()?;
    let rows: Vec<(Option<String>,)> = sqlx::query_as(AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut conn)
        .await
        .ok()?;
    conn.close().await.ok();
    Some(rows.into_iter().map(|r| r.0.unwrap_or_default()).collect())
}

/// Polls `sql` until `done` holds for its rows; panics after `BOUND`, with `what`. While
/// waiting, `child` (when given) must still be running.
async fn wait_until(
    url: &str,
    sql: &str,
    done: impl Fn(&[String]) -> bool,
    what: &str,
    mut child: Option<&mut Child>,
) -> Vec<String> {
    let start = Instant::now();
    loop {
        if let Some(rows) = try_column(url, sql).await
            && done(&rows)
        {
            return rows;
        }
        if let Some(child) = child.as_deref_mut()
            && let Ok(Some(status)) = child.try_wait()
        {
            panic!("upcycle ended ({status}) while waiting for {what}");
        }
        assert!(start.elapsed() < BOUND, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const SLEEPING: &str = "SELECT pid::text FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND query LIKE '%pg_sleep(30)%'";

/// Waits until upcycle's migration is in its sleep; returns the backend's pid.
async fn sleeping_backend(url: &str, child: &mut Child) -> String {
    wait_until(
        url,
        SLEEPING,
        |rows| rows.len() == 1,
        "the migration's pg_sleep",
        Some(child),
    )
    .await
    .remove(0)
}

/// Waits until no backend runs the sleep any more (the server noticed its client is gone).
async fn sleep_ended(url: &str) {
    wait_until(
        url,
        SLEEPING,
        <[String]>::is_empty,
        "the orphaned sleep to end",
        None,
    )
    .await;
}

/// Waits until no advisory lock is held on this database (the migration lock is free).
async fn lock_released(url: &str) {
    wait_until(
        url,
        "SELECT l.pid::text FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE l.locktype = 'advisory' AND d.datname = current_database()",
        <[String]>::is_empty,
        "the migration lock to be released",
        None,
    )
    .await;
}

async fn rows(url: &str) -> Vec<String> {
    column(
        url,
        "SELECT version || ':' || state FROM upcycle_migrations ORDER BY ordinal",
    )
    .await
}

async fn exists(url: &str, relation: &str) -> bool {
    column(url, &format!("SELECT to_regclass('{relation}')::text")).await != [""]
}

/// A writable copy of a fixture folder.
fn scratch(case: &str) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let dir = tmp.path().join(case);
    copy_dir(&root().join(APPLY).join(case), &dir);
    let display = dir.display().to_string();
    (tmp, display)
}

/// Removes the sleep from the long migration, as a fixed release would.
fn without_sleep(dir: &str) {
    std::fs::write(
        Path::new(dir).join("2_big_then_sleep.up.sql"),
        "CREATE TABLE big AS SELECT g FROM generate_series(1, 1) g;\n",
    )
    .expect("rewrite the migration");
}

/// The state after the long transactional migration was cut short: it left nothing (no table,
/// no row), the first migration stays, and the lock is free; a fixed `up` then completes.
async fn rolled_back_then_completes(url: &str, dir: &str) {
    assert!(
        !exists(url, "big").await,
        "the cut migration's table exists"
    );
    assert_eq!(rows(url).await, ["1:applied"]);
    assert!(exists(url, "alpha").await);
    lock_released(url).await;
    without_sleep(dir);
    let (stdout, _) = exits(&run(dir, url, &["up"]), 0);
    contains(&stdout, &["applied 1 of 1"]);
    assert_eq!(rows(url).await, ["1:applied", "2:applied"]);
    assert_eq!(column(url, "SELECT count(*)::text FROM big").await, ["1"]);
}

/// (a) SIGKILL of upcycle while its migration sleeps in a transaction.
#[tokio::test]
async fn killed_upcycle_leaves_nothing_of_the_migration_and_frees_the_lock() {
    let url = fresh_db("sigkill").await;
    let (_tmp, dir) = scratch("long-transaction");
    let mut child = spawn_up(&dir, &url);
    sleeping_backend(&url, &mut child).await;
    child.kill().expect("SIGKILL upcycle");
    let status = child.wait().expect("reap upcycle");
    assert!(!status.success());
    // The connection is gone but the server only learns it when it next talks to the client;
    // the migration's transaction can never commit, and ends with the statement.
    sleep_ended(&url).await;
    rolled_back_then_completes(&url, &dir).await;
}

/// (b) An administrator terminates upcycle's migration connection during the sleep.
#[tokio::test]
async fn terminated_migration_connection_is_reported_and_rolled_back() {
    let url = fresh_db("terminate").await;
    let (_tmp, dir) = scratch("long-transaction");
    let mut child = spawn_up(&dir, &url);
    let pid = sleeping_backend(&url, &mut child).await;
    assert_eq!(
        column(&url, &format!("SELECT pg_terminate_backend({pid})::text")).await,
        ["true"]
    );
    let out = child.wait_with_output().expect("wait for upcycle");
    let (stdout, stderr) = exits(&out, 2);
    contains(
        &stderr,
        &[
            "up of 2_big_then_sleep failed",
            &format!("{dir}/2_big_then_sleep.up.sql"),
            "terminating connection due to administrator command",
            "stopped after applying 1 of 2 migration(s)",
        ],
    );
    contains(&stdout, &["applied 1 of 2"]);
    rolled_back_then_completes(&url, &dir).await;
}

/// (c) A NO TRANSACTION migration (goose, statement by statement) killed in its second
/// statement: the first statement's table stays, the row is dirty, and `up` refuses.
#[tokio::test]
async fn killed_non_transactional_migration_stays_dirty() {
    let url = fresh_db("notxkill").await;
    let dir = format!("{APPLY}/long-no-transaction");
    let mut child = spawn_up(&dir, &url);
    sleeping_backend(&url, &mut child).await;
    child.kill().expect("SIGKILL upcycle");
    child.wait().expect("reap upcycle");
    sleep_ended(&url).await;
    lock_released(&url).await;

    assert_eq!(rows(&url).await, ["00001:applied", "00002:dirty"]);
    assert!(exists(&url, "half").await, "the first statement's table");
    let (_, stderr) = exits(&run(&dir, &url, &["up"]), 2);
    contains(
        &stderr,
        &[
            "migration 00002 is marked dirty",
            "upcycle repair",
            "upcycle force 00002",
        ],
    );
    assert_eq!(rows(&url).await, ["00001:applied", "00002:dirty"]);
    // The sleep only slept: the migration's work is done, so `force` settles it without
    // running anything, and `up` has nothing left to do.
    exits(&run(&dir, &url, &["force", "00002"]), 0);
    assert_eq!(rows(&url).await, ["00001:applied", "00002:applied"]);
    let (stdout, _) = exits(&run(&dir, &url, &["up"]), 0);
    contains(&stdout, &["applied 0 of 0"]);
}

async fn private_server() -> LocalServer {
    LocalServer::start(&LocalOptions {
        bin: None,
        path_var: std::env::var("PATH").ok(),
        ..Default::default()
    })
    .await
    .expect("start a private PostgreSQL")
}

/// (d1) The server crashes mid-migration (its backend is killed, so the postmaster resets every
/// connection and recovers on the same data folder). On a private server, since a crash takes
/// every session with it. upcycle exits 2 naming the migration; after recovery the migration
/// left nothing and a fixed `up` completes.
#[tokio::test]
async fn server_crash_mid_migration_is_reported_and_recovered_from() {
    let server = private_server().await;
    let url = server.url.clone();
    // The sandbox server runs with `-c synchronous_commit=off`, which may lose the last commits
    // in a crash; this test is about what upcycle committed, so make commits durable again (a
    // database setting overrides the command line).
    column(&url, "ALTER DATABASE postgres SET synchronous_commit = on").await;
    assert_eq!(column(&url, "SHOW synchronous_commit").await, ["on"]);
    let (_tmp, dir) = scratch("long-transaction");
    let mut child = spawn_up(&dir, &url);
    let pid = sleeping_backend(&url, &mut child).await;
    let before = column(&url, "SELECT now()::text").await.remove(0);
    let killed = Command::new("kill")
        .args(["-9", &pid])
        .status()
        .expect("kill the backend");
    assert!(killed.success());
    let out = child.wait_with_output().expect("wait for upcycle");
    let (stdout, stderr) = exits(&out, 2);
    contains(
        &stderr,
        &[
            "up of 2_big_then_sleep failed",
            &format!("{dir}/2_big_then_sleep.up.sql"),
            "stopped after applying 1 of 2 migration(s)",
        ],
    );
    contains(&stdout, &["applied 1 of 2"]);
    // Recovery: the postmaster restarted its processes (the checkpointer is newer than the
    // crash) and the server is out of recovery.
    wait_until(
        &url,
        &format!(
            "SELECT (backend_start > '{before}'::timestamptz AND NOT pg_is_in_recovery())::text FROM pg_stat_activity WHERE backend_type = 'checkpointer'"
        ),
        |rows| rows == ["true"],
        "the server to recover from the crash",
        None,
    )
    .await;
    rolled_back_then_completes(&url, &dir).await;
    drop(server);
}

/// (d2) The server is shut down mid-migration. The data folder goes with the server, so only
/// upcycle's side can be checked: exit 2, naming the migration and the server's message.
#[tokio::test]
async fn server_shutdown_mid_migration_is_reported() {
    let mut server = private_server().await;
    let url = server.url.clone();
    let dir = format!("{APPLY}/long-transaction");
    let mut child = spawn_up(&dir, &url);
    sleeping_backend(&url, &mut child).await;
    server.stop();
    let out = child.wait_with_output().expect("wait for upcycle");
    let (stdout, stderr) = exits(&out, 2);
    contains(
        &stderr,
        &[
            "up of 2_big_then_sleep failed",
            &format!("{dir}/2_big_then_sleep.up.sql"),
            "stopped after applying 1 of 2 migration(s)",
        ],
    );
    assert!(
        stderr.contains("terminating connection") || stderr.contains("connection"),
        "{stderr}"
    );
    contains(&stdout, &["applied 1 of 2"]);
    // A new run cannot reach the server, and says so without hanging.
    let (_, stderr) = exits(&run(&dir, &url, &["up", "--connect-retries", "1"]), 2);
    contains(&stderr, &["connecting to"]);
}
