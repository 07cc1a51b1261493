//! Backups: `pg_dump -Fc` into a backup folder, checked with `pg_restore --list`, recorded in the
//! folder's `manifest.json`; and restores with `pg_restore` in one transaction. The password
//! goes through `PGPASSWORD`, never on a command line. Files are written under a temporary name
//! and renamed, so a failed backup leaves nothing that looks complete.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::postgres::ConnectSettings;
use crate::postgres::url::split_password;

/// One backup in the manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct BackupRecord {
    pub id: String,
    /// File name inside the backup folder.
    pub file: String,
    pub size: u64,
    pub created_at: DateTime<Utc>,
    /// The database, with its password masked.
    pub database: String,
    pub environment: Option<String>,
    /// `pg_dump --version` of the tool that wrote it.
    pub tool: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Manifest {
    backups: Vec<BackupRecord>,
}

const MANIFEST: &str = "manifest.json";

/// The backups recorded in `dir`, oldest first (an absent folder has none).
pub fn list(dir: &Path) -> anyhow::Result<Vec<BackupRecord>> {
    let path = dir.join(MANIFEST);
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(serde_json::from_str::<Manifest>(&text)
            .with_context(|| format!("{}: not a valid backup manifest", path.display()))?
            .backups),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

fn write_manifest(dir: &Path, backups: Vec<BackupRecord>) -> anyhow::Result<()> {
    let tmp = dir.join(".manifest.json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&Manifest { backups })?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, dir.join(MANIFEST))
        .with_context(|| format!("writing {}", dir.join(MANIFEST).display()))
}

/// The pg_dump/pg_restore to use for a server of major version `major`: the matching Debian
/// install when there is one, else the one on PATH.
fn tool(name: &str, major: u32) -> PathBuf {
    let debian = PathBuf::from(format!("/usr/lib/postgresql/{major}/bin/{name}"));
    if debian.is_file() {
        debian
    } else {
        PathBuf::from(name)
    }
}

async fn server_major(connect: &ConnectSettings) -> anyhow::Result<u32> {
    let mut conn = connect.connect().await?;
    let num: String = sqlx::query_scalar("SHOW server_version_num")
        .fetch_one(&mut conn)
        .await
        .context("reading the server version")?;
    crate::postgres::connect::close(conn).await;
    Ok(num.parse::<u32>().unwrap_or(0) / 10000)
}

async fn run(program: &Path, args: &[&str], connect: &ConnectSettings) -> anyhow::Result<String> {
    let (_, password) = split_password(&connect.url);
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args).stdin(std::process::Stdio::null());
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    if let Some(ca) = &connect.ca_file {
        cmd.env("PGSSLROOTCERT", ca);
    }
    let out = cmd.output().await.with_context(|| format!("running {} (install the PostgreSQL client tools, e.g. apt-get install postgresql-client)", program.display()))?;
    if !out.status.success() {
        let stderr =
            crate::postgres::url::scrub(&String::from_utf8_lossy(&out.stderr), &connect.url);
        bail!("{} failed: {}", program.display(), stderr.trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Dumps the database into `dir` and records it.
pub async fn backup(
    connect: &ConnectSettings,
    dir: &Path,
    environment: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<BackupRecord> {
    std::fs::create_dir_all(dir)
        .with_context(|| format!("creating the backup folder {}", dir.display()))?;
    let major = server_major(connect).await?;
    let pg_dump = tool("pg_dump", major);
    let version = run(&pg_dump, &["--version"], connect)
        .await?
        .trim()
        .to_string();
    let id = format!(
        "{}{}",
        now.format("%Y%m%dT%H%M%SZ"),
        environment.map(|e| format!("-{e}")).unwrap_or_default()
    );
    let file = format!("{id}.dump");
    let tmp = dir.join(format!(".{file}.partial"));
    let (url, _) = split_password(&connect.url);
    let target = dir.join(&file);
    if target.exists() {
        bail!(
            "{} already exists; wait a second and run the backup again",
            target.display()
        );
    }
    let tmp_arg = tmp.display().to_string();
    let dumped = run(
        &pg_dump,
        &[
            "--format=custom",
            "--no-password",
            "--file",
            &tmp_arg,
            "--dbname",
            &url,
        ],
        connect,
    )
    .await;
    if let Err(e) = dumped {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context(format!("backing up {}", connect.masked())));
    }
    if let Err(e) = run(&tool("pg_restore", major), &["--list", &tmp_arg], connect).await {
        let _ = std::fs::remove_file(&tmp);
        return Err(e.context("the dump did not read back; it was deleted"));
    }
    std::fs::rename(&tmp, &target)
        .with_context(|| format!("moving the dump to {}", target.display()))?;
    let record = BackupRecord {
        id,
        size: std::fs::metadata(&target).map(|m| m.len()).unwrap_or(0),
        file,
        created_at: now,
        database: connect.masked(),
        environment: environment.map(str::to_string),
        tool: version,
    };
    let mut all = list(dir)?;
    all.push(record.clone());
    write_manifest(dir, all)?;
    Ok(record)
}

/// Restores backup `id` from `dir` into the database: drops what the dump has and recreates it,
/// in one transaction (all or nothing).
pub async fn restore(
    connect: &ConnectSettings,
    dir: &Path,
    id: &str,
) -> anyhow::Result<BackupRecord> {
    let all = list(dir)?;
    let Some(record) = all.iter().find(|b| b.id == id).cloned() else {
        let known: Vec<&str> = all.iter().map(|b| b.id.as_str()).collect();
        bail!(
            "no backup {id} in {}{}",
            dir.display(),
            if known.is_empty() {
                String::from(" (it has none)")
            } else {
                format!("; it has {}", known.join(", "))
            }
        );
    };
    let path = dir.join(&record.file);
    let major = server_major(connect).await?;
    let (url, _) = split_password(&connect.url);
    let path_arg = path.display().to_string();
    run(
        &tool("pg_restore", major),
        &[
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            "--no-password",
            "--dbname",
            &url,
            &path_arg,
        ],
        connect,
    )
    .await
    .with_context(|| {
        format!(
            "restoring {id} into {} (nothing was changed: the restore runs in one transaction)",
            connect.masked()
        )
    })?;
    Ok(record)
}
