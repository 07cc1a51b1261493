//! Shared test support: one real PostgreSQL server for the whole suite (upcycle's own `local`
//! sandbox, from the server binaries), and a fresh database per test.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection};
use upcycle::sandbox::{LocalOptions, LocalServer};

/// The whole suite shares one server, so it keeps its WAL small (by default it grows to 1 GB,
/// which a small CI disk may not have): no archiving or replication, and frequent checkpoints.
const SMALL_WAL: &[(&str, &str)] = &[
    ("wal_level", "minimal"),
    ("max_wal_senders", "0"),
    ("max_wal_size", "96MB"),
    ("min_wal_size", "32MB"),
];

struct Shared {
    url: String,
    _server: Option<LocalServer>,
}

fn shared() -> &'static Shared {
    static SERVER: OnceLock<Shared> = OnceLock::new();
    SERVER.get_or_init(|| {
        if let Ok(url) = std::env::var("UPCYCLE_TEST_DATABASE_URL") {
            return Shared { url, _server: None };
        }
        std::thread::spawn(|| {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let server = rt
                .block_on(LocalServer::start(&LocalOptions {
                    bin: None,
                    path_var: std::env::var("PATH").ok(),
                    settings: SMALL_WAL
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                        .collect(),
                    ..LocalOptions::default()
                }))
                .expect("start a local PostgreSQL for the tests");
            Shared {
                url: server.url.clone(),
                _server: Some(server),
            }
        })
        .join()
        .expect("server thread")
    })
}

/// A new empty database on the shared server, dropped when the returned guard is (it derefs
/// to the database's URL). The suite makes about 300 of them at some 8 MB each: kept to the
/// end, they would need 2.5 GB of disk. A failing test keeps its database for a look.
pub async fn fresh_db(prefix: &str) -> TestDb {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let name = format!("{prefix}_{}_{n}", std::process::id());
    TestDb {
        url: create_db(&shared().url, &name).await,
    }
}

/// The URL of a database `fresh_db` made; drops the database when dropped.
pub struct TestDb {
    url: String,
}

impl TestDb {
    pub fn as_str(&self) -> &str {
        &self.url
    }
}

impl std::ops::Deref for TestDb {
    type Target = str;
    fn deref(&self) -> &str {
        &self.url
    }
}

impl AsRef<str> for TestDb {
    fn as_ref(&self) -> &str {
        &self.url
    }
}

impl std::fmt::Display for TestDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        // Drop runs inside the test's runtime, which cannot be blocked on: a thread of its own.
        let url = self.url.clone();
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(drop_db(&url));
        })
        .join();
        if dropped.is_err() {
            eprintln!("could not drop the test database {}", self.url);
        }
    }
}

/// Drops the database of `url` on the shared server, closing its connections.
pub async fn drop_db(url: &str) {
    let path = url.split('?').next().unwrap_or(url);
    let (_, name) = path.rsplit_once('/').expect("url has a database");
    let mut conn = PgConnection::connect(&shared().url)
        .await
        .expect("connect to the shared server");
    conn.execute(AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
    )))
    .await
    .expect("drop database");
    conn.close().await.ok();
}

/// Creates database `name` on the server of `base` (a URL naming any database); returns its URL.
pub async fn create_db(base: &str, name: &str) -> String {
    let mut conn = PgConnection::connect(base)
        .await
        .expect("connect to the server");
    conn.execute(AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
        .await
        .expect("create database");
    conn.close().await.ok();
    upcycle::sandbox::with_database(base, name)
}

/// A server of the test's own, for the few tests that must not see other tests' writes to
/// the catalogs shared by every database of a server (roles, tablespaces, databases). Keep the
/// returned guard alive: dropping it stops the server.
pub async fn own_server() -> LocalServer {
    LocalServer::start(&LocalOptions {
        bin: None,
        path_var: std::env::var("PATH").ok(),
        ..Default::default()
    })
    .await
    .expect("start a PostgreSQL server of the test's own")
}

pub async fn connect(url: &str) -> PgConnection {
    PgConnection::connect(url).await.expect("connect")
}

/// Runs `sql` and returns the first column of every row as text.
pub async fn column(url: &str, sql: &str) -> Vec<String> {
    let mut conn = connect(url).await;
    let rows: Vec<(Option<String>,)> = sqlx::query_as(AssertSqlSafe(sql.to_string()))
        .fetch_all(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.ok();
    rows.into_iter().map(|r| r.0.unwrap_or_default()).collect()
}

/// The public relations, types and functions of a database, sorted: a cheap schema fingerprint.
pub async fn objects(url: &str) -> Vec<String> {
    column(
        url,
        "SELECT kind || ':' || name FROM (
           SELECT 'rel' AS kind, c.relname::text AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relname <> 'upcycle_migrations' AND c.relname NOT LIKE 'upcycle_migrations%'
           UNION ALL SELECT 'type', t.typname::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE n.nspname = 'public' AND t.typtype = 'e'
           UNION ALL SELECT 'func', p.proname::text FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
         ) o ORDER BY 1",
    )
    .await
}

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs the upcycle binary with `args` in the crate root.
pub fn upcycle(args: &[&str]) -> Output {
    upcycle_in(&root(), args)
}

pub fn upcycle_in(dir: &Path, args: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_upcycle"))
        .args(args)
        .current_dir(dir)
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .output()
        .expect("run upcycle")
}

/// A finished command for an assertion message: its exit code, stdout and stderr.
pub fn show(out: &std::process::Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    )
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Copies a folder (for tests that write into one).
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}
