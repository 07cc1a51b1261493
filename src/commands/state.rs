//! The commands about the tracking table's state: `status`, `history`, `verify` (checksums, with
//! a diff), `repair` (dirty rows, edited files) and `force`/`baseline` (mark as applied without
//! running).

use anyhow::bail;
use serde_json::json;
use similar::TextDiff;

use crate::Outcome;
use crate::history::{RowState, same_version};
use crate::migration::Migration;
use crate::plan::status::lines;
pub use crate::plan::status::{Line, State};
use crate::postgres::compat::checksum;
use crate::postgres::tracking::NewRow;
use crate::report::escape;
use crate::settings::{DbSettings, Format, Settings};

use super::session::{Access, Session};

/// `status` rendered in `format`.
pub fn render(lines: &[Line], format: Format) -> String {
    match format {
        Format::Json => {
            serde_json::to_string_pretty(&json!({ "migrations": lines })).unwrap_or_default()
        }
        Format::Markdown => {
            let mut out = String::from(
                "| version | name | state | applied at | ms |\n|---|---|---|---|---|\n",
            );
            for l in lines {
                out.push_str(&format!(
                    "| {} | {} | {:?} | {} | {} |\n",
                    escape::markdown(&l.version),
                    escape::markdown(&l.name),
                    l.state,
                    l.applied_at.as_deref().unwrap_or(""),
                    l.execution_ms.map(|m| m.to_string()).unwrap_or_default()
                ));
            }
            out
        }
        Format::Text => {
            let mut out = String::new();
            for l in lines {
                let state = format!("{:?}", l.state).to_lowercase();
                let when = l
                    .applied_at
                    .as_deref()
                    .map(|t| format!("  {t}"))
                    .unwrap_or_default();
                let ms = l
                    .execution_ms
                    .map(|m| format!("  {m} ms"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "{:<9} {}  {}{when}{ms}\n",
                    state, l.version, l.name
                ));
            }
            let count = |s: State| lines.iter().filter(|l| l.state == s).count();
            out.push_str(&format!(
                "{} applied, {} pending, {} dirty, {} modified, {} missing on disk\n",
                count(State::Applied),
                count(State::Pending),
                count(State::Dirty),
                count(State::Modified),
                count(State::Missing)
            ));
            out
        }
    }
}

/// The state of every migration on disk and in the history (read-only: no lock, no table).
pub async fn status_lines(settings: &Settings, db: &DbSettings) -> anyhow::Result<Vec<Line>> {
    let reading = super::read(settings)?;
    let session = Session::open(db, Access::Read).await?;
    let lines = lines(&reading.set, &session.history);
    session.close().await?;
    Ok(lines)
}

pub async fn status(settings: &Settings, db: &DbSettings) -> anyhow::Result<Outcome> {
    let lines = status_lines(settings, db).await?;
    settings.term.out(&render(&lines, settings.format));
    Ok(Outcome::Clean)
}

pub async fn history(settings: &Settings, db: &DbSettings) -> anyhow::Result<Outcome> {
    let session = Session::open(db, Access::Read).await?;
    let rows = session.history.rows.clone();
    session.close().await?;
    let text = match settings.format {
        Format::Json => serde_json::to_string_pretty(&json!({ "rows": rows })).unwrap_or_default(),
        _ => {
            let mut out = String::new();
            for r in &rows {
                let when = r.applied_at.map(|t| t.to_rfc3339()).unwrap_or_default();
                out.push_str(
                    format!(
                        "{}  {}  {:?}  {when}  {} ms  {}\n",
                        r.version,
                        r.name,
                        r.state,
                        r.execution_ms.unwrap_or(0),
                        r.applied_by.as_deref().unwrap_or("")
                    )
                    .to_lowercase()
                    .as_str(),
                );
            }
            if rows.is_empty() {
                out.push_str("no migrations recorded\n");
            }
            out
        }
    };
    settings.term.out(&text);
    Ok(Outcome::Clean)
}

pub async fn verify(settings: &Settings, db: &DbSettings) -> anyhow::Result<Outcome> {
    let reading = super::read(settings)?;
    let session = Session::open(db, Access::Read).await?;
    let history = session.history.clone();
    session.close().await?;
    let mut out = String::new();
    let mut drift = 0;
    for row in &history.rows {
        let Some(m) = reading
            .set
            .iter()
            .find(|m| same_version(m.version.as_str(), &row.version))
        else {
            drift += 1;
            out.push_str(&format!(
                "missing: {} {} is applied but no longer on disk\n",
                row.version, row.name
            ));
            continue;
        };
        let Some(applied) = row.checksum.as_deref() else {
            continue;
        };
        if checksum::matches(applied, &m.up) || m.repeatable {
            continue;
        }
        drift += 1;
        let now = checksum::like(applied, &m.up);
        out.push_str(&format!(
            "modified: {} was applied with checksum {}…, the file now has {}…\n",
            m.up.path,
            &applied[..applied.len().min(12)],
            &now[..now.len().min(12)]
        ));
        if let Some(old) = &row.script {
            let diff = TextDiff::from_lines(old.as_str(), m.up.text.as_str());
            out.push_str(
                &diff
                    .unified_diff()
                    .context_radius(2)
                    .header("applied", &m.up.path)
                    .to_string(),
            );
        }
    }
    if drift == 0 {
        out.push_str(&format!(
            "verified: {} applied migration(s) match their files\n",
            history.rows.len()
        ));
    }
    settings.term.out(&out);
    Ok(if drift == 0 {
        Outcome::Clean
    } else {
        Outcome::Findings
    })
}

pub async fn repair(
    settings: &Settings,
    db: &DbSettings,
    update_checksums: bool,
) -> anyhow::Result<Outcome> {
    let reading = super::read(settings)?;
    let mut session = Session::open(db, Access::Write).await?;
    let mut said = Vec::new();
    for row in session.history.rows.clone() {
        if row.state == RowState::Dirty {
            session
                .tracking
                .remove(&mut session.conn, &row.version, &reading.set)
                .await?;
            said.push(format!("removed the dirty row of {} {}: it runs again on the next `up`, so undo what it did halfway (or make it idempotent) first", row.version, row.name));
        } else if update_checksums
            && let Some(m) = reading
                .set
                .iter()
                .find(|m| same_version(m.version.as_str(), &row.version))
            && row
                .checksum
                .as_deref()
                .is_some_and(|c| !checksum::matches(c, &m.up))
        {
            session.tracking.set_checksum(&mut session.conn, m).await?;
            said.push(format!("recorded the current checksum of {}", m.up.path));
        }
    }
    session.close().await?;
    if said.is_empty() {
        said.push("nothing to repair".into());
    }
    settings.term.out(&said.join("\n"));
    Ok(Outcome::Clean)
}

/// `force` moves the history anywhere; `baseline` only adopts a database with no history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForceKind {
    Force,
    Baseline,
}

pub async fn force(
    settings: &Settings,
    db: &DbSettings,
    version: &str,
    kind: ForceKind,
) -> anyhow::Result<Outcome> {
    let reading = super::read(settings)?;
    let Some(target) = reading
        .set
        .iter()
        .find(|m| same_version(m.version.as_str(), version))
    else {
        bail!("version {version} is not in the migration set; `upcycle list` shows the versions");
    };
    super::gate::confirm(
        db,
        &settings.term,
        &format!("mark migrations up to {version} as applied without running them"),
    )?;
    let mut session = Session::open(db, Access::Write).await?;
    if kind == ForceKind::Baseline && !session.history.rows.is_empty() {
        let n = session.history.rows.len();
        session.close().await?;
        bail!(
            "baseline adopts a database with no history, and this one has {n} row(s); use `upcycle force {version}` to move it"
        );
    }
    let (mut marked, mut unmarked) = (0, 0);
    let below: Vec<&Migration> = reading
        .set
        .iter()
        .filter(|m| m.version <= target.version && !m.repeatable)
        .collect();
    for m in below {
        let row = session.history.find(m.version.as_str());
        if row.is_none_or(|r| r.state == RowState::Dirty) {
            session
                .tracking
                .record(
                    &mut session.conn,
                    &NewRow {
                        migration: m,
                        execution_ms: 0,
                        state: RowState::Applied,
                    },
                )
                .await?;
            marked += 1;
        }
    }
    for m in reading.set.iter().filter(|m| m.version > target.version) {
        if session.history.find(m.version.as_str()).is_some() {
            session
                .tracking
                .remove(&mut session.conn, m.version.as_str(), &reading.set)
                .await?;
            unmarked += 1;
        }
    }
    session.reload().await?;
    session.close().await?;
    settings.term.out(&format!("{version} is now the newest applied migration: marked {marked} as applied and {unmarked} as not applied, without running any SQL"));
    Ok(Outcome::Clean)
}
