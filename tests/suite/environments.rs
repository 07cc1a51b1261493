//! Environments from upcycle.toml, the production gate, and pg_dump backups with restore,
//! against a real PostgreSQL.

use crate::support;

use std::process::Output;

use support::{column, fresh_db, objects, root, text};

fn run(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_upcycle"));
    cmd.args(args)
        .current_dir(root())
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run upcycle")
}

fn config(dir: &std::path::Path, body: &str) -> String {
    let path = dir.join("upcycle.toml");
    std::fs::write(&path, body).expect("write config");
    path.display().to_string()
}

#[test]
fn an_invalid_config_is_an_error_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        "[environments.dev]\nprotected = true\nprotectd = 1\n",
    );
    let out = run(&["--config", &path, "list"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{path}:3:")), "{err}");
    assert_eq!(
        err.lines().filter(|l| l.starts_with("upcycle: ")).count(),
        1,
        "{err}"
    );
}

#[test]
fn an_absent_default_config_means_defaults_but_a_named_one_must_exist() {
    assert_eq!(run(&["list"], &[]).status.code(), Some(0));
    let out = run(&["--config", "/nonexistent/upcycle.toml", "list"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}

#[test]
fn an_unknown_environment_lists_the_known_ones() {
    let dir = tempfile::tempdir().unwrap();
    let path = config(
        dir.path(),
        "[environments.dev]\n[environments.production]\nprotected = true\n",
    );
    let out = run(&["--config", &path, "status", "--env", "uat"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("it defines dev, production"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test]
async fn a_protected_environment_needs_confirmation_and_is_backed_up_first() {
    let url = fresh_db("gate").await;
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    let path = config(
        dir.path(),
        &format!(
            "[environments.production]\ndatabase_url_env = \"PROD_URL\"\nprotected = true\nbackup_dir = \"{}\"\n",
            backups.display()
        ),
    );
    let env = [("PROD_URL", url.as_str())];

    let refused = run(&["--config", &path, "up", "--env", "production"], &env);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("pass --confirm"),
        "{}",
        text(&refused.stderr)
    );
    assert!(
        objects(&url).await.is_empty(),
        "nothing may be applied without confirmation"
    );

    let applied = run(
        &[
            "--config",
            &path,
            "up",
            "--env",
            "production",
            "--confirm",
            "--count",
            "3",
        ],
        &env,
    );
    assert!(applied.status.success(), "{}", text(&applied.stderr));
    assert_eq!(
        column(&url, "SELECT count(*)::text FROM upcycle_migrations").await,
        ["3"]
    );
    let listed = run(
        &[
            "--config",
            &path,
            "backups",
            "--env",
            "production",
            "--format",
            "json",
        ],
        &[],
    );
    let json: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("json");
    let records = json["backups"].as_array().expect("backups");
    assert_eq!(records.len(), 1, "{json}");
    assert!(backups.join(records[0]["file"].as_str().unwrap()).is_file());

    // A divergence (an applied migration edited since) makes the protected environment refuse.
    let mut conn = support::connect(&url).await;
    sqlx::query(
        "UPDATE upcycle_migrations SET checksum = 'edited' WHERE version = '20260101090000'",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let diverged = run(
        &["--config", &path, "up", "--env", "production", "--confirm"],
        &env,
    );
    assert_eq!(diverged.status.code(), Some(2));
    assert!(
        text(&diverged.stderr).contains("diverges"),
        "{}",
        text(&diverged.stderr)
    );
    assert_eq!(
        column(&url, "SELECT count(*)::text FROM upcycle_migrations").await,
        ["3"]
    );
}

#[tokio::test]
async fn backup_then_restore_brings_the_schema_and_rows_back() {
    let url = fresh_db("restore").await;
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().display().to_string();
    let db = [
        "--database-url",
        url.as_str(),
        "--backup-dir",
        backups.as_str(),
    ];
    assert!(run(&[&["up"][..], &db].concat(), &[]).status.success());
    let mut conn = support::connect(&url).await;
    sqlx::query("INSERT INTO users (email) VALUES ('a@example.com')")
        .execute(&mut conn)
        .await
        .unwrap();
    let before = objects(&url).await;

    let out = run(&[&["backup", "--format", "json"][..], &db].concat(), &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let record: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let id = record["id"].as_str().unwrap().to_string();
    assert!(!text(&out.stdout).contains("password"));

    assert!(
        run(&[&["down", "--count", "7"][..], &db].concat(), &[])
            .status
            .success()
    );
    assert!(objects(&url).await.is_empty());

    let restored = run(&[&["restore", id.as_str()][..], &db].concat(), &[]);
    assert!(restored.status.success(), "{}", text(&restored.stderr));
    assert_eq!(objects(&url).await, before);
    assert_eq!(
        column(&url, "SELECT email FROM users").await,
        ["a@example.com"]
    );
    assert_eq!(
        column(&url, "SELECT count(*)::text FROM upcycle_migrations").await,
        ["7"]
    );

    let missing = run(&[&["restore", "nope"][..], &db].concat(), &[]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        text(&missing.stderr).contains(&id),
        "lists the backups there are: {}",
        text(&missing.stderr)
    );
}

#[tokio::test]
async fn a_migration_declared_irreversible_may_lack_its_down() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = root()
        .join("tests/fixtures/bad/missing-down/migrations")
        .display()
        .to_string();
    let blocked = run(&["--dir", &migrations, "list"], &[]);
    assert_eq!(
        blocked.status.code(),
        Some(1),
        "without the declaration the missing down is an error"
    );
    let path = config(
        dir.path(),
        "[migrations]\nirreversible = [\"20240102090000\"]\n",
    );
    let listed = run(&["--config", &path, "--dir", &migrations, "list"], &[]);
    assert_eq!(listed.status.code(), Some(0), "{}", text(&listed.stdout));
    assert!(
        text(&listed.stdout).contains("declared irreversible"),
        "{}",
        text(&listed.stdout)
    );
    let url = fresh_db("irreversible").await;
    let up = run(
        &[
            "--config",
            &path,
            "--dir",
            &migrations,
            "up",
            "--database-url",
            &url,
        ],
        &[],
    );
    assert!(up.status.success(), "{}", text(&up.stderr));
    let down = run(
        &[
            "--config",
            &path,
            "--dir",
            &migrations,
            "down",
            "--database-url",
            &url,
        ],
        &[],
    );
    assert_eq!(
        down.status.code(),
        Some(2),
        "an irreversible migration still cannot be reverted"
    );
    assert!(
        text(&down.stderr).contains("no down script"),
        "{}",
        text(&down.stderr)
    );
}
