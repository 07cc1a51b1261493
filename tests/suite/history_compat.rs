//! `--history <tool>` against a real PostgreSQL: upcycle reads and writes each tool's NATIVE
//! tracking table exactly as the tool does (rows, checksums, dirty flags), so a set applied by
//! upcycle is applied for the tool and the reverse. Each mode goes up, down and up again on the
//! layout fixture of its tool with the table's rows asserted exactly; `auto` is shown each tool's
//! table made by hand with the tool's DDL; and where the real tools are installed (sqlx-cli,
//! diesel_cli, dbmate) they are run against tables upcycle wrote and the reverse (those tests say
//! why they skip when a tool is not on PATH).

use crate::support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::{Digest, Sha384};
use support::{column, copy_dir, fresh_db, root, text, upcycle};
use upcycle::postgres::compat::checksum;

fn fixture(layout: &str) -> String {
    format!("tests/fixtures/layouts/{layout}")
}

/// `upcycle --dir DIR <args> --history MODE --database-url URL`.
fn run(dir: &str, args: &[&str], mode: &str, url: &str) -> Output {
    upcycle(
        &[
            &["--dir", dir][..],
            args,
            &["--history", mode, "--database-url", url],
        ]
        .concat(),
    )
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        text(&out.stdout),
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// Asserts exit code `code` and returns stdout + stderr.
fn exits(out: &Output, code: i32) -> String {
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(code), "{all}");
    all
}

/// The summary line of `status`.
fn summary(status: &str) -> &str {
    status.lines().last().unwrap_or_default()
}

fn sha384_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read fixture");
    Sha384::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn flyway_crc(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read fixture");
    checksum::flyway_of(&text).to_string()
}

/// A copy of a fixture folder that a test may edit.
fn scratch(layout: &str) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join(layout);
    copy_dir(&root().join(fixture(layout)), &dir);
    let dir = dir.display().to_string();
    (tmp, dir)
}

/// A folder with `files`.
fn folder(files: &[(&str, &str)]) -> (tempfile::TempDir, String) {
    let tmp = tempfile::tempdir().expect("tempdir");
    for (name, body) in files {
        let path = tmp.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, body).expect("write");
    }
    let dir = tmp.path().display().to_string();
    (tmp, dir)
}

/// Runs trusted SQL (the tools' DDL, or what a tool leaves behind).
async fn execute(url: &str, sql: &str) {
    use sqlx::Executor;
    let mut conn = support::connect(url).await;
    conn.execute(sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
}

// ---------------------------------------------------------------------------------------------
// sqlx

const SQLX_ROWS: &str = "SELECT version || '|' || description || '|' || success || '|' || encode(checksum, 'hex') || '|' || (execution_time >= 0 AND execution_time % 1000000 = 0) FROM _sqlx_migrations ORDER BY version";

fn sqlx_expected(dir: &Path, files: &[(&str, &str, &str)]) -> Vec<String> {
    files
        .iter()
        .map(|(version, description, file)| {
            format!(
                "{version}|{description}|true|{}|true",
                sha384_hex(&dir.join(file))
            )
        })
        .collect()
}

const SQLX_FILES: [(&str, &str, &str); 3] = [
    (
        "20240101090000",
        "create users",
        "20240101090000_create_users.up.sql",
    ),
    (
        "20240102090000",
        "index users email",
        "20240102090000_index_users_email.up.sql",
    ),
    (
        "20240103090000",
        "add users display name",
        "20240103090000_add_users_display_name.up.sql",
    ),
];

#[tokio::test]
async fn sqlx_rows_are_sqlx_rows_up_down_and_up() {
    let url = fresh_db("compat_sqlx").await;
    let dir = fixture("sqlx-reversible");
    let abs = root().join(&dir);
    ok(&run(&dir, &["up"], "sqlx", &url));
    assert_eq!(
        column(&url, SQLX_ROWS).await,
        sqlx_expected(&abs, &SQLX_FILES)
    );
    assert_eq!(
        column(&url, "SELECT to_regclass('upcycle_migrations')::text").await,
        [""],
        "upcycle's own table is not created in sqlx mode"
    );
    let status = ok(&run(&dir, &["status"], "sqlx", &url));
    assert_eq!(
        summary(&status),
        "3 applied, 0 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    ok(&run(&dir, &["down", "--count", "1"], "sqlx", &url));
    assert_eq!(
        column(&url, SQLX_ROWS).await,
        sqlx_expected(&abs, &SQLX_FILES[..2])
    );
    let status = ok(&run(&dir, &["status"], "sqlx", &url));
    assert_eq!(
        summary(&status),
        "2 applied, 1 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    let plan = ok(&run(&dir, &["plan"], "sqlx", &url));
    assert!(
        plan.contains("1 pending migration(s)") && plan.contains("20240103090000"),
        "{plan}"
    );
    // The next down runs outside a transaction (`-- no-transaction`): marked, then removed.
    ok(&run(&dir, &["down", "--count", "1"], "sqlx", &url));
    assert_eq!(
        column(&url, SQLX_ROWS).await,
        sqlx_expected(&abs, &SQLX_FILES[..1])
    );
    ok(&run(&dir, &["up"], "sqlx", &url));
    assert_eq!(
        column(&url, SQLX_ROWS).await,
        sqlx_expected(&abs, &SQLX_FILES)
    );
    let verify = ok(&run(&dir, &["verify"], "sqlx", &url));
    assert!(verify.contains("verified: 3"), "{verify}");
}

#[tokio::test]
async fn sqlx_checksum_is_the_sha384_of_the_file_bytes() {
    let url = fresh_db("compat_sqlx_vector").await;
    // formats-and-tracking §3: SHA-384 of T.
    let (_tmp, dir) = folder(&[(
        "1_t.sql",
        "CREATE TABLE t (id int);\r\nINSERT INTO t VALUES (1);\n",
    )]);
    ok(&run(&dir, &["up"], "sqlx", &url));
    assert_eq!(
        column(
            &url,
            "SELECT version || '|' || description || '|' || encode(checksum, 'hex') FROM _sqlx_migrations"
        )
        .await,
        ["1|t|327a7ef81059f887c4f23a106d92ba984cec06b67cb82f6ef00cadc2f6e4f6f7f28b20ca4e51b17aa691998d51f88ad8"]
    );
}

#[tokio::test]
async fn sqlx_edited_files_are_modified_and_repair_records_the_new_sha384() {
    let url = fresh_db("compat_sqlx_edit").await;
    let (_tmp, dir) = scratch("sqlx-reversible");
    ok(&run(&dir, &["up"], "sqlx", &url));
    let file = Path::new(&dir).join(SQLX_FILES[0].2);
    let body = std::fs::read_to_string(&file).expect("read");
    // sqlx hashes bytes: line endings count.
    std::fs::write(&file, body.replace('\n', "\r\n")).expect("write");
    let status = ok(&run(&dir, &["status"], "sqlx", &url));
    assert!(status.contains("modified  20240101090000"), "{status}");
    let verify = exits(&run(&dir, &["verify"], "sqlx", &url), 1);
    assert!(verify.contains("modified:"), "{verify}");
    ok(&run(&dir, &["repair", "--update-checksums"], "sqlx", &url));
    assert_eq!(
        column(
            &url,
            "SELECT encode(checksum, 'hex') FROM _sqlx_migrations WHERE version = 20240101090000"
        )
        .await,
        [sha384_hex(&file)]
    );
    let verify = ok(&run(&dir, &["verify"], "sqlx", &url));
    assert!(verify.contains("verified: 3"), "{verify}");
}

#[tokio::test]
async fn sqlx_unfinished_row_is_dirty_and_refuses() {
    let url = fresh_db("compat_sqlx_dirty").await;
    let dir = fixture("sqlx-reversible");
    ok(&run(&dir, &["up"], "sqlx", &url));
    // What sqlx (and upcycle) leave when a no-transaction migration stops halfway.
    execute(
        &url,
        "UPDATE _sqlx_migrations SET success = false WHERE version = 20240103090000",
    )
    .await;
    let status = ok(&run(&dir, &["status"], "sqlx", &url));
    assert!(status.contains("dirty     20240103090000"), "{status}");
    let up = exits(&run(&dir, &["up"], "sqlx", &url), 2);
    assert!(up.contains("dirty"), "{up}");
    ok(&run(&dir, &["repair"], "sqlx", &url));
    assert_eq!(
        column(&url, "SELECT count(*)::text FROM _sqlx_migrations").await,
        ["2"]
    );
}

// ---------------------------------------------------------------------------------------------
// diesel

const DIESEL_ROWS: &str = "SELECT version || '|' || (run_on <= now()::timestamp) FROM __diesel_schema_migrations ORDER BY version";

#[tokio::test]
async fn diesel_rows_are_diesel_rows_up_down_and_up() {
    let url = fresh_db("compat_diesel").await;
    let dir = fixture("diesel");
    ok(&run(&dir, &["up"], "diesel", &url));
    assert_eq!(
        column(&url, DIESEL_ROWS).await,
        [
            "20240101090000|true",
            "20240102090000|true",
            "20240103090000|true"
        ]
    );
    assert_eq!(
        column(
            &url,
            "SELECT data_type FROM information_schema.columns WHERE table_name = '__diesel_schema_migrations' ORDER BY ordinal_position"
        )
        .await,
        ["character varying", "timestamp without time zone"]
    );
    ok(&run(&dir, &["down", "--count", "1"], "diesel", &url));
    assert_eq!(
        column(&url, DIESEL_ROWS).await,
        ["20240101090000|true", "20240102090000|true"]
    );
    let status = ok(&run(&dir, &["status"], "diesel", &url));
    assert_eq!(
        summary(&status),
        "2 applied, 1 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    // The index migration runs outside a transaction: no dirty state in diesel's table, the row
    // goes once the down is done.
    ok(&run(&dir, &["down", "--count", "1"], "diesel", &url));
    assert_eq!(column(&url, DIESEL_ROWS).await, ["20240101090000|true"]);
    let plan = ok(&run(&dir, &["plan"], "diesel", &url));
    assert!(plan.contains("2 pending migration(s)"), "{plan}");
    ok(&run(&dir, &["up"], "diesel", &url));
    assert_eq!(column(&url, DIESEL_ROWS).await.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// golang-migrate

const GOLANG_ROW: &str = "SELECT version || '|' || dirty FROM schema_migrations";

#[tokio::test]
async fn golang_migrate_keeps_one_row_that_moves_up_and_down() {
    let url = fresh_db("compat_golang").await;
    let dir = fixture("golang-migrate");
    ok(&run(&dir, &["up", "--count", "1"], "golang-migrate", &url));
    assert_eq!(column(&url, GOLANG_ROW).await, ["1|false"]);
    ok(&run(&dir, &["up"], "golang-migrate", &url));
    assert_eq!(column(&url, GOLANG_ROW).await, ["3|false"]);
    let status = ok(&run(&dir, &["status"], "golang-migrate", &url));
    assert_eq!(
        summary(&status),
        "3 applied, 0 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    ok(&run(
        &dir,
        &["down", "--count", "1"],
        "golang-migrate",
        &url,
    ));
    assert_eq!(column(&url, GOLANG_ROW).await, ["2|false"]);
    let status = ok(&run(&dir, &["status"], "golang-migrate", &url));
    assert!(
        status.contains("applied   000001") && status.contains("pending   000003"),
        "{status}"
    );
    assert_eq!(
        summary(&status),
        "2 applied, 1 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    // The down of 2 runs outside a transaction: its target (1) is marked dirty first.
    ok(&run(
        &dir,
        &["down", "--count", "1"],
        "golang-migrate",
        &url,
    ));
    assert_eq!(column(&url, GOLANG_ROW).await, ["1|false"]);
    ok(&run(
        &dir,
        &["down", "--count", "1"],
        "golang-migrate",
        &url,
    ));
    assert_eq!(column(&url, GOLANG_ROW).await, Vec::<String>::new());
    let plan = ok(&run(&dir, &["plan"], "golang-migrate", &url));
    assert!(plan.contains("3 pending migration(s)"), "{plan}");
    ok(&run(&dir, &["up"], "golang-migrate", &url));
    assert_eq!(column(&url, GOLANG_ROW).await, ["3|false"]);
}

#[tokio::test]
async fn golang_migrate_dirty_version_refuses_until_forced() {
    let url = fresh_db("compat_golang_dirty").await;
    let dir = fixture("golang-migrate");
    ok(&run(&dir, &["up"], "golang-migrate", &url));
    // What golang-migrate leaves when migration 3 fails.
    execute(&url, "UPDATE schema_migrations SET dirty = true").await;
    let status = ok(&run(&dir, &["status"], "golang-migrate", &url));
    assert_eq!(
        summary(&status),
        "2 applied, 0 pending, 1 dirty, 0 modified, 0 missing on disk"
    );
    let up = exits(&run(&dir, &["up"], "golang-migrate", &url), 2);
    assert!(up.contains("migration 3 is marked dirty"), "{up}");
    ok(&run(&dir, &["force", "2"], "golang-migrate", &url));
    assert_eq!(column(&url, GOLANG_ROW).await, ["2|false"]);
    let plan = ok(&run(&dir, &["plan"], "golang-migrate", &url));
    assert!(plan.contains("1 pending migration(s)"), "{plan}");
}

// ---------------------------------------------------------------------------------------------
// dbmate

const DBMATE_ROWS: &str = "SELECT version FROM schema_migrations ORDER BY version";

#[tokio::test]
async fn dbmate_rows_are_dbmate_rows_up_down_and_up() {
    let url = fresh_db("compat_dbmate").await;
    let dir = fixture("dbmate");
    ok(&run(&dir, &["up"], "dbmate", &url));
    assert_eq!(
        column(&url, DBMATE_ROWS).await,
        ["20240101090000", "20240102090000", "20240103090000"]
    );
    assert_eq!(
        column(
            &url,
            "SELECT column_name || ':' || data_type FROM information_schema.columns WHERE table_name = 'schema_migrations'"
        )
        .await,
        ["version:character varying"]
    );
    ok(&run(&dir, &["down", "--count", "1"], "dbmate", &url));
    assert_eq!(
        column(&url, DBMATE_ROWS).await,
        ["20240101090000", "20240102090000"]
    );
    let status = ok(&run(&dir, &["status"], "dbmate", &url));
    assert_eq!(
        summary(&status),
        "2 applied, 1 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    let plan = ok(&run(&dir, &["plan"], "dbmate", &url));
    assert!(plan.contains("1 pending migration(s)"), "{plan}");
    ok(&run(&dir, &["up"], "dbmate", &url));
    assert_eq!(column(&url, DBMATE_ROWS).await.len(), 3);
}

// ---------------------------------------------------------------------------------------------
// goose

const GOOSE_ROWS: &str = "SELECT version_id || '|' || is_applied FROM goose_db_version ORDER BY id";

#[tokio::test]
async fn goose_rows_are_goose_rows_up_down_and_up() {
    let url = fresh_db("compat_goose").await;
    let dir = fixture("goose");
    ok(&run(&dir, &["up"], "goose", &url));
    assert_eq!(
        column(&url, GOOSE_ROWS).await,
        ["0|true", "1|true", "2|true", "3|true"]
    );
    ok(&run(&dir, &["down", "--count", "1"], "goose", &url));
    assert_eq!(
        column(&url, GOOSE_ROWS).await,
        ["0|true", "1|true", "2|true"]
    );
    let status = ok(&run(&dir, &["status"], "goose", &url));
    assert_eq!(
        summary(&status),
        "2 applied, 1 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    let plan = ok(&run(&dir, &["plan"], "goose", &url));
    assert!(
        plan.contains("1 pending migration(s)") && plan.contains("00003"),
        "{plan}"
    );
    ok(&run(&dir, &["up"], "goose", &url));
    assert_eq!(
        column(&url, GOOSE_ROWS).await,
        ["0|true", "1|true", "2|true", "3|true"]
    );
    // Older goose wrote `is_applied = false` rows on down: the newest row of a version decides.
    execute(
        &url,
        "INSERT INTO goose_db_version (version_id, is_applied) VALUES (3, false)",
    )
    .await;
    let status = ok(&run(&dir, &["status"], "goose", &url));
    assert!(status.contains("pending   00003"), "{status}");
    ok(&run(&dir, &["force", "3"], "goose", &url));
    let status = ok(&run(&dir, &["status"], "goose", &url));
    assert_eq!(
        summary(&status),
        "3 applied, 0 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
}

// ---------------------------------------------------------------------------------------------
// Flyway

const FLYWAY_ROWS: &str = "SELECT installed_rank || '|' || coalesce(version, '') || '|' || description || '|' || type || '|' || script || '|' || coalesce(checksum::text, '') || '|' || (installed_by = current_user) || '|' || (execution_time >= 0) || '|' || success FROM flyway_schema_history ORDER BY installed_rank";

fn flyway_row(rank: u32, version: &str, description: &str, file: &str, dir: &Path) -> String {
    format!(
        "{rank}|{version}|{description}|SQL|{file}|{}|true|true|true",
        flyway_crc(&dir.join(file))
    )
}

#[tokio::test]
async fn flyway_rows_are_flyway_rows_and_a_set_without_undo_does_not_go_down() {
    let url = fresh_db("compat_flyway").await;
    let dir = fixture("flyway");
    let abs = root().join(&dir);
    ok(&run(&dir, &["up"], "flyway", &url));
    let expected = vec![
        flyway_row(1, "1", "create users", "V1__create_users.sql", &abs),
        flyway_row(
            2,
            "1.9",
            "add users display name",
            "V1_9__add_users_display_name.sql",
            &abs,
        ),
        flyway_row(
            3,
            "1.10",
            "index users email",
            "V1_10__index_users_email.sql",
            &abs,
        ),
        flyway_row(4, "", "active users view", "R__active_users_view.sql", &abs),
    ];
    assert_eq!(column(&url, FLYWAY_ROWS).await, expected);
    // The values java.util.zip.CRC32 over BufferedReader lines gives for these files.
    assert_eq!(
        column(
            &url,
            "SELECT checksum::text FROM flyway_schema_history ORDER BY installed_rank"
        )
        .await,
        ["-325455696", "2128441547", "-448899943", "-1778806493"]
    );
    let status = ok(&run(&dir, &["status"], "flyway", &url));
    assert_eq!(
        summary(&status),
        "4 applied, 0 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    // OSS Flyway has no undo: the set has no U files, so down refuses and changes nothing.
    let down = exits(&run(&dir, &["down", "--count", "1"], "flyway", &url), 2);
    assert!(down.contains("no down script"), "{down}");
    assert_eq!(column(&url, FLYWAY_ROWS).await, expected);
    let plan = ok(&run(&dir, &["plan"], "flyway", &url));
    assert!(plan.contains("nothing to apply"), "{plan}");
    let verify = ok(&run(&dir, &["verify"], "flyway", &url));
    assert!(verify.contains("verified: 4"), "{verify}");
}

#[tokio::test]
async fn flyway_checksum_is_the_crc32_of_the_lines() {
    let url = fresh_db("compat_flyway_vector").await;
    // formats-and-tracking §3: Flyway checksum(T) = 169406234.
    let (_tmp, dir) = folder(&[(
        "V1__t.sql",
        "CREATE TABLE t (id int);\r\nINSERT INTO t VALUES (1);\n",
    )]);
    ok(&run(&dir, &["up"], "flyway", &url));
    assert_eq!(
        column(
            &url,
            "SELECT version || '|' || description || '|' || script || '|' || checksum FROM flyway_schema_history"
        )
        .await,
        ["1|t|V1__t.sql|169406234"]
    );
}

#[tokio::test]
async fn flyway_edits_line_endings_repeatables_and_undo() {
    let url = fresh_db("compat_flyway_edit").await;
    let (_tmp, dir) = scratch("flyway");
    ok(&run(&dir, &["up"], "flyway", &url));
    let v1 = Path::new(&dir).join("V1__create_users.sql");
    let body = std::fs::read_to_string(&v1).expect("read");
    // Flyway's checksum ignores line endings: still applied, not modified.
    std::fs::write(&v1, body.replace('\n', "\r\n")).expect("write");
    let verify = ok(&run(&dir, &["verify"], "flyway", &url));
    assert!(verify.contains("verified: 4"), "{verify}");
    // A real edit is a modification, and repair records the new CRC32.
    std::fs::write(&v1, format!("{body}-- reviewed\n")).expect("write");
    let status = ok(&run(&dir, &["status"], "flyway", &url));
    assert!(status.contains("modified  1 "), "{status}");
    exits(&run(&dir, &["verify"], "flyway", &url), 1);
    ok(&run(
        &dir,
        &["repair", "--update-checksums"],
        "flyway",
        &url,
    ));
    assert_eq!(
        column(
            &url,
            "SELECT checksum::text FROM flyway_schema_history WHERE version = '1'"
        )
        .await,
        [flyway_crc(&v1)]
    );
    // An edited repeatable is applied again, as a new row at the next rank.
    let r = Path::new(&dir).join("R__active_users_view.sql");
    let view = std::fs::read_to_string(&r).expect("read");
    std::fs::write(&r, view.replace("display_name IS NOT NULL", "email <> ''")).expect("write");
    let plan = ok(&run(&dir, &["plan"], "flyway", &url));
    assert!(
        plan.contains("1 pending migration(s)") && plan.contains("R__active_users_view"),
        "{plan}"
    );
    ok(&run(&dir, &["up"], "flyway", &url));
    assert_eq!(
        column(
            &url,
            "SELECT installed_rank || '|' || checksum FROM flyway_schema_history WHERE version IS NULL ORDER BY installed_rank"
        )
        .await,
        [
            format!("4|{}", checksum::flyway_of(&view)),
            format!("5|{}", flyway_crc(&r))
        ]
    );
    let plan = ok(&run(&dir, &["plan"], "flyway", &url));
    assert!(plan.contains("nothing to apply"), "{plan}");
    // A failed row (a non-transactional migration that stopped) is dirty.
    execute(
        &url,
        "UPDATE flyway_schema_history SET success = false WHERE version = '1.10'",
    )
    .await;
    let status = ok(&run(&dir, &["status"], "flyway", &url));
    assert!(status.contains("dirty     1.10"), "{status}");
    exits(&run(&dir, &["up"], "flyway", &url), 2);
}

#[tokio::test]
async fn flyway_undo_files_take_the_version_out() {
    let url = fresh_db("compat_flyway_undo").await;
    let (_tmp, dir) = folder(&[
        ("V1__a.sql", "CREATE TABLE a (id int);\n"),
        ("U1__a.sql", "DROP TABLE a;\n"),
        ("V2__b.sql", "CREATE TABLE b (id int);\n"),
        ("U2__b.sql", "DROP TABLE b;\n"),
    ]);
    ok(&run(&dir, &["up"], "flyway", &url));
    ok(&run(&dir, &["down", "--count", "1"], "flyway", &url));
    assert_eq!(
        column(
            &url,
            "SELECT installed_rank || '|' || version FROM flyway_schema_history"
        )
        .await,
        ["1|1"]
    );
    ok(&run(&dir, &["up"], "flyway", &url));
    assert_eq!(
        column(
            &url,
            "SELECT installed_rank || '|' || version FROM flyway_schema_history ORDER BY 1"
        )
        .await,
        ["1|1", "2|2"]
    );
}

// ---------------------------------------------------------------------------------------------
// auto

/// Each tool's table as the tool creates it, with the tool's rows for the first migration of
/// its fixture (and golang-migrate's/dbmate's collision on `schema_migrations`).
const HAND_MADE: &[(&str, &str, &str)] = &[
    (
        "sqlx-reversible",
        "sqlx",
        "CREATE TABLE _sqlx_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL,
             installed_on TIMESTAMPTZ NOT NULL DEFAULT now(), success BOOLEAN NOT NULL,
             checksum BYTEA NOT NULL, execution_time BIGINT NOT NULL);
         INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
             VALUES (20240101090000, 'create users', true, decode('CHECKSUM', 'hex'), 1000);",
    ),
    (
        "diesel",
        "diesel",
        "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL,
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
         INSERT INTO __diesel_schema_migrations (version) VALUES ('20240101090000');",
    ),
    (
        "golang-migrate",
        "golang-migrate",
        "CREATE TABLE schema_migrations (version bigint not null primary key, dirty boolean not null);
         INSERT INTO schema_migrations (version, dirty) VALUES (1, false);",
    ),
    (
        "dbmate",
        "dbmate",
        "create table schema_migrations (version varchar primary key);
         insert into schema_migrations (version) values ('20240101090000');",
    ),
    (
        "goose",
        "goose",
        "CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
             version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now());
         INSERT INTO goose_db_version (version_id, is_applied) VALUES (0, true), (1, true);",
    ),
    (
        "flyway",
        "flyway",
        "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL, version VARCHAR(50),
             description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL,
             checksum INTEGER, installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT now(),
             execution_time INTEGER NOT NULL, success BOOLEAN NOT NULL);
         ALTER TABLE flyway_schema_history ADD CONSTRAINT flyway_schema_history_pk PRIMARY KEY (installed_rank);
         CREATE INDEX flyway_schema_history_s_idx ON flyway_schema_history (success);
         INSERT INTO flyway_schema_history VALUES
             (1, '1', 'create users', 'SQL', 'V1__create_users.sql', CHECKSUM, 'flyway', now(), 12, true);",
    ),
];

/// What the first migration of every layout fixture creates.
const USERS: &str = "CREATE TABLE users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
)";

#[tokio::test]
async fn auto_reads_each_tools_table_by_its_columns() {
    for (layout, mode, ddl) in HAND_MADE {
        let url = fresh_db("compat_auto").await;
        let dir = fixture(layout);
        let abs = root().join(&dir);
        let ddl = match *mode {
            "sqlx" => ddl.replace(
                "CHECKSUM",
                &sha384_hex(&abs.join("20240101090000_create_users.up.sql")),
            ),
            "flyway" => ddl.replace("CHECKSUM", &flyway_crc(&abs.join("V1__create_users.sql"))),
            _ => ddl.to_string(),
        };
        // The tool applied the first migration of its fixture (each creates this table).
        execute(&url, USERS).await;
        execute(&url, &ddl).await;
        let pending = match *mode {
            "flyway" => 3,
            _ => 2,
        };
        let plan = ok(&run(&dir, &["plan"], "auto", &url));
        assert!(
            plan.contains(&format!("{pending} pending migration(s)")),
            "{mode}: {plan}"
        );
        assert!(!plan.contains("divergence"), "{mode}: {plan}");
        let status = ok(&run(&dir, &["status"], "auto", &url));
        assert_eq!(
            summary(&status),
            format!("1 applied, {pending} pending, 0 dirty, 0 modified, 0 missing on disk"),
            "{mode}: {status}"
        );
        // `up --history auto` writes the table it found, and no other.
        ok(&run(&dir, &["up"], "auto", &url));
        let status = ok(&run(&dir, &["status"], mode, &url));
        assert_eq!(
            summary(&status),
            format!(
                "{} applied, 0 pending, 0 dirty, 0 modified, 0 missing on disk",
                pending + 1
            ),
            "{mode}: {status}"
        );
        assert_eq!(
            column(&url, "SELECT to_regclass('upcycle_migrations')::text").await,
            [""],
            "{mode}"
        );
    }
}

#[tokio::test]
async fn auto_without_a_table_is_upcycles_own_and_several_tables_are_an_error() {
    let url = fresh_db("compat_auto_none").await;
    let dir = fixture("sqlx-reversible");
    ok(&run(&dir, &["up", "--count", "1"], "auto", &url));
    assert_eq!(
        column(&url, "SELECT version FROM upcycle_migrations").await,
        ["20240101090000"]
    );
    let status = ok(&run(&dir, &["status"], "auto", &url));
    assert_eq!(
        summary(&status),
        "1 applied, 2 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    execute(
        &url,
        "CREATE TABLE goose_db_version (id integer PRIMARY KEY GENERATED BY DEFAULT AS IDENTITY,
             version_id bigint NOT NULL, is_applied boolean NOT NULL, tstamp timestamp NOT NULL DEFAULT now())",
    )
    .await;
    let plan = exits(&run(&dir, &["plan"], "auto", &url), 2);
    assert!(
        plan.contains("upcycle_migrations (upcycle), goose_db_version (goose)"),
        "{plan}"
    );
}

// ---------------------------------------------------------------------------------------------
// Cross-checks with the real tools, where they are installed.

/// The tool's binary, or `None` with the reason printed.
fn tool(name: &str, install: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        eprintln!("skipped: `{name}` is not on PATH (install it with `{install}`)");
    }
    found
}

fn tool_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("run the tool");
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{cmd:?}\n{all}");
    all
}

#[tokio::test]
async fn real_sqlx_cli_agrees_with_upcycle() {
    let Some(sqlx) = tool(
        "sqlx",
        "cargo install sqlx-cli --no-default-features --features postgres,rustls --locked",
    ) else {
        return;
    };
    let url = fresh_db("compat_real_sqlx").await;
    let (_tmp, dir) = scratch("sqlx-reversible");
    let sqlx = |args: &[&str]| {
        tool_ok(Command::new(&sqlx).args(args).args([
            "--source",
            dir.as_str(),
            "--database-url",
            url.as_str(),
        ]))
    };
    // upcycle applies, sqlx sees every migration installed and has nothing to run.
    ok(&run(&dir, &["up"], "sqlx", &url));
    let info = sqlx(&["migrate", "info"]);
    assert_eq!(info.matches("/installed").count(), 3, "{info}");
    let again = sqlx(&["migrate", "run"]);
    assert!(!again.contains("Applied"), "{again}");
    // sqlx reverts two, upcycle sees them pending; sqlx applies one, upcycle sees it applied.
    sqlx(&["migrate", "revert"]);
    sqlx(&["migrate", "revert"]);
    let status = ok(&run(&dir, &["status"], "sqlx", &url));
    assert_eq!(
        summary(&status),
        "1 applied, 2 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    sqlx(&["migrate", "run", "--target-version", "20240102090000"]);
    let status = ok(&run(&dir, &["status"], "sqlx", &url));
    assert_eq!(
        summary(&status),
        "2 applied, 1 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    let verify = ok(&run(&dir, &["verify"], "auto", &url));
    assert!(verify.contains("verified: 2"), "{verify}");
    // upcycle reverts what sqlx applied; sqlx agrees.
    ok(&run(&dir, &["down", "--count", "1"], "sqlx", &url));
    let info = sqlx(&["migrate", "info"]);
    assert_eq!(info.matches("/installed").count(), 1, "{info}");
    assert_eq!(info.matches("/pending").count(), 2, "{info}");
}

#[tokio::test]
async fn real_diesel_cli_agrees_with_upcycle() {
    let Some(diesel) = tool(
        "diesel",
        "apt-get install -y libpq-dev && cargo install diesel_cli --no-default-features --features postgres",
    ) else {
        return;
    };
    let url = fresh_db("compat_real_diesel").await;
    let (tmp, dir) = scratch("diesel");
    let diesel = |args: &[&str]| {
        tool_ok(
            Command::new(&diesel)
                .current_dir(tmp.path())
                .args(["migration"])
                .args(args)
                .args([
                    "--migration-dir",
                    dir.as_str(),
                    "--database-url",
                    url.as_str(),
                ]),
        )
    };
    ok(&run(&dir, &["up"], "diesel", &url));
    let list = diesel(&["list"]);
    assert_eq!(list.matches("[X]").count(), 3, "{list}");
    assert_eq!(list.matches("[ ]").count(), 0, "{list}");
    diesel(&["revert"]);
    let status = ok(&run(&dir, &["status"], "diesel", &url));
    assert_eq!(
        summary(&status),
        "2 applied, 1 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    diesel(&["run"]);
    let status = ok(&run(&dir, &["status"], "auto", &url));
    assert_eq!(
        summary(&status),
        "3 applied, 0 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    ok(&run(&dir, &["down", "--count", "2"], "diesel", &url));
    let list = diesel(&["list"]);
    assert_eq!(list.matches("[X]").count(), 1, "{list}");
    assert_eq!(list.matches("[ ]").count(), 2, "{list}");
}

#[tokio::test]
async fn real_dbmate_agrees_with_upcycle() {
    let Some(dbmate) = tool("dbmate", "npm install -g dbmate") else {
        return;
    };
    let url = fresh_db("compat_real_dbmate").await;
    let (tmp, dir) = scratch("dbmate");
    let dbmate_url = format!(
        "{url}{}sslmode=disable",
        if url.contains('?') { "&" } else { "?" }
    );
    let dbmate = |args: &[&str]| {
        tool_ok(
            Command::new(&dbmate)
                .current_dir(tmp.path())
                .args([
                    "--url",
                    dbmate_url.as_str(),
                    "--migrations-dir",
                    dir.as_str(),
                    "--no-dump-schema",
                ])
                .args(args),
        )
    };
    ok(&run(&dir, &["up"], "dbmate", &url));
    let status = dbmate(&["status"]);
    assert!(
        status.contains("Applied: 3") && status.contains("Pending: 0"),
        "{status}"
    );
    dbmate(&["rollback"]);
    let status = ok(&run(&dir, &["status"], "dbmate", &url));
    assert_eq!(
        summary(&status),
        "2 applied, 1 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    dbmate(&["up"]);
    let status = ok(&run(&dir, &["status"], "auto", &url));
    assert_eq!(
        summary(&status),
        "3 applied, 0 pending, 0 dirty, 0 modified, 0 missing on disk"
    );
    ok(&run(&dir, &["down", "--count", "2"], "dbmate", &url));
    let status = dbmate(&["status"]);
    assert!(
        status.contains("Applied: 1") && status.contains("Pending: 2"),
        "{status}"
    );
}

// ---------------------------------------------------------------------------------------------
// A migration that fails outside a transaction, in each table that has a dirty state.

#[tokio::test]
async fn failed_non_transactional_migrations_leave_each_tools_dirty_state() {
    const BAD: &str = "CREATE INDEX CONCURRENTLY missing_idx ON missing (id);\n";
    /// `(mode, files, query of the table, its rows after the failure)`.
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a str, &'a [&'a str]);
    let cases: [Case<'_>; 3] = [
        (
            "sqlx",
            &[
                ("1_a.sql", "CREATE TABLE a (id int);\n"),
                (
                    "2_b.sql",
                    "-- no-transaction\nCREATE INDEX CONCURRENTLY missing_idx ON missing (id);\n",
                ),
            ],
            "SELECT version || '|' || success FROM _sqlx_migrations ORDER BY version",
            &["1|true", "2|false"],
        ),
        (
            "golang-migrate",
            &[
                ("1_a.up.sql", "CREATE TABLE a (id int);\n"),
                ("1_a.down.sql", "DROP TABLE a;\n"),
                ("2_b.up.sql", BAD),
                ("2_b.down.sql", "SELECT 1;\n"),
            ],
            GOLANG_ROW,
            &["2|true"],
        ),
        (
            "flyway",
            &[
                ("V1__a.sql", "CREATE TABLE a (id int);\n"),
                ("V2__b.sql", BAD),
            ],
            "SELECT installed_rank || '|' || version || '|' || success FROM flyway_schema_history ORDER BY 1",
            &["1|1|true", "2|2|false"],
        ),
    ];
    for (mode, files, sql, dirty_rows) in cases {
        let url = fresh_db("compat_failed").await;
        let (_tmp, dir) = folder(files);
        let up = exits(&run(&dir, &["up"], mode, &url), 2);
        assert!(up.contains("marked dirty"), "{mode}: {up}");
        assert_eq!(column(&url, sql).await, *dirty_rows, "{mode}");
        let status = ok(&run(&dir, &["status"], mode, &url));
        assert_eq!(
            summary(&status),
            "1 applied, 0 pending, 1 dirty, 0 modified, 0 missing on disk",
            "{mode}: {status}"
        );
        let again = exits(&run(&dir, &["up"], mode, &url), 2);
        assert!(
            again.contains("migration 2 is marked dirty"),
            "{mode}: {again}"
        );
        // repair takes the row back out: the migration is pending again.
        ok(&run(&dir, &["repair"], mode, &url));
        let status = ok(&run(&dir, &["status"], mode, &url));
        assert_eq!(
            summary(&status),
            "1 applied, 1 pending, 0 dirty, 0 modified, 0 missing on disk",
            "{mode}: {status}"
        );
    }
}
