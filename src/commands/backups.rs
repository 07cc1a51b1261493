//! `upcycle backup`, `upcycle backups`, `upcycle restore <id>`.

use crate::Outcome;
use crate::backup::{self, BackupRecord};
use crate::settings::{DbSettings, Format, Settings};

fn line(b: &BackupRecord) -> String {
    format!(
        "{}  {}  {} bytes  {}  {}",
        b.id,
        b.created_at.to_rfc3339(),
        b.size,
        b.database,
        b.file
    )
}

/// Takes a backup and says where it went.
pub async fn take(settings: &Settings, db: &DbSettings) -> anyhow::Result<BackupRecord> {
    settings.term.progress(&format!(
        "backing up {} into {} …",
        db.connect.masked(),
        db.backup_dir.display()
    ));
    let record = backup::backup(
        &db.connect,
        &db.backup_dir,
        db.environment.as_deref(),
        chrono::Utc::now(),
    )
    .await?;
    settings
        .term
        .progress(&format!("  backup {} ({} bytes)", record.id, record.size));
    Ok(record)
}

pub async fn backup(settings: &Settings, db: &DbSettings) -> anyhow::Result<Outcome> {
    let record = take(settings, db).await?;
    settings.term.out(&match settings.format {
        Format::Json => serde_json::to_string_pretty(&record)?,
        _ => line(&record),
    });
    Ok(Outcome::Clean)
}

pub fn list(settings: &Settings, dir: &std::path::Path) -> anyhow::Result<Outcome> {
    let all = backup::list(dir)?;
    settings.term.out(&match settings.format {
        Format::Json => serde_json::to_string_pretty(&serde_json::json!({ "backups": all }))?,
        _ if all.is_empty() => format!("no backups in {}", dir.display()),
        _ => all.iter().map(line).collect::<Vec<_>>().join("\n"),
    });
    Ok(Outcome::Clean)
}

pub async fn restore(settings: &Settings, db: &DbSettings, id: &str) -> anyhow::Result<Outcome> {
    super::gate::confirm(
        db,
        &settings.term,
        &format!("restore backup {id} over its data"),
    )?;
    let record = backup::restore(&db.connect, &db.backup_dir, id).await?;
    settings.term.out(&format!(
        "restored {} into {}",
        record.id,
        db.connect.masked()
    ));
    Ok(Outcome::Clean)
}
