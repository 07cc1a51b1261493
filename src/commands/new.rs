//! `upcycle new <name>`: writes the next migration in the folder's layout, numbered after the
//! highest version there (UTC timestamp, or the next number in a sequentially numbered folder).

use std::path::Path;

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use crate::Outcome;
use crate::migration::{Layout, Migration, NewMigration, Numbering, Part, read_dirs};
use crate::settings::Settings;

/// A migration name as files want it: lowercase words joined by `_`.
pub fn slug(name: &str) -> String {
    let words: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    words.join("_")
}

/// The version text for the next migration after `existing`, at time `now`.
pub fn next_version(numbering: Numbering, existing: &[Migration], now: DateTime<Utc>) -> String {
    let ints: Vec<i128> = existing
        .iter()
        .filter_map(|m| match m.version.key() {
            [Part::Int(v)] => Some(*v),
            _ => None,
        })
        .collect();
    let max = ints.iter().max().copied();
    match numbering {
        Numbering::NextInteger => {
            let last = existing
                .iter()
                .rfind(|m| !m.repeatable)
                .map(|m| m.version.as_str().to_string());
            match last {
                None => "1".into(),
                Some(v) => {
                    let mut parts: Vec<String> = v.split('.').map(str::to_string).collect();
                    let bumped = parts
                        .last()
                        .and_then(|p| p.parse::<u128>().ok())
                        .map_or(1, |n| n + 1);
                    let width = parts.last().map_or(1, String::len);
                    if let Some(last) = parts.last_mut() {
                        *last = format!("{bumped:0width$}");
                    }
                    parts.join("_")
                }
            }
        }
        // A folder numbered 1, 2, 3 (or 0001, 0002) keeps counting.
        _ if max.is_some_and(|m| m < 100_000_000) => {
            let width = existing
                .iter()
                .map(|m| m.version.as_str().len())
                .max()
                .unwrap_or(1);
            format!("{:0width$}", max.unwrap_or(0) + 1)
        }
        Numbering::Timestamp => {
            let stamp: i128 = now.format("%Y%m%d%H%M%S").to_string().parse().unwrap_or(0);
            max.map_or(stamp, |m| stamp.max(m + 1)).to_string()
        }
        Numbering::SplitTimestamp => {
            let stamp = now.format("%Y%m%d_%H%M%S").to_string();
            let after = existing
                .last()
                .is_none_or(|m| m.version.as_str() < stamp.as_str());
            if after {
                stamp
            } else {
                format!(
                    "{}_next",
                    existing
                        .last()
                        .map_or(String::new(), |m| m.version.to_string())
                )
            }
        }
        Numbering::DieselTimestamp => now.format("%Y-%m-%d-%H%M%S-0000").to_string(),
    }
}

pub fn run(settings: &Settings, name: &str, now: DateTime<Utc>) -> anyhow::Result<Outcome> {
    let name = slug(name);
    if name.is_empty() {
        bail!(
            "the migration name needs at least one letter or digit, e.g. `upcycle new add_users_email`"
        );
    }
    let [dir] = settings.dirs.as_slice() else {
        bail!("`new` writes into one folder; pass --dir once");
    };
    if !dir.exists() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let folder = crate::source::read_dir(dir)?;
    let (layout, existing) = if folder.files.is_empty() {
        (settings.layout.unwrap_or(Layout::Sqlx), Vec::new())
    } else {
        let reading = read_dirs(std::slice::from_ref(&folder), settings.layout)?;
        (reading.detection.layout, reading.set.as_slice().to_vec())
    };
    if layout == Layout::Alembic {
        bail!(
            "{} is an Alembic project; create revisions with `alembic revision -m \"{name}\"`",
            dir.display()
        );
    }
    let with_down = existing.is_empty() || existing.iter().any(|m| m.down.is_some());
    let version = next_version(layout.spec().numbering, &existing, now);
    let files = layout.new_files(&NewMigration {
        version: &version,
        name: &name,
        with_down,
    });
    for (rel, _) in &files {
        let path = dir.join(rel);
        if path.exists() {
            bail!("{} already exists; nothing was written", path.display());
        }
    }
    for (rel, content) in &files {
        let path = dir.join(rel);
        if let Some(parent) = path.parent().filter(|p| !p.exists()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        write_new(&path, content)?;
        settings.term.out(&path.display().to_string());
    }
    Ok(Outcome::Clean)
}

fn write_new(path: &Path, content: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(content.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
