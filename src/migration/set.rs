//! `Migration` and `MigrationSet`: the ordered, unique set a folder (or several) describes.

use serde::Serialize;

use super::{Layout, Script, Version};

/// One migration on disk: its version, name, up and optional down.
#[derive(Debug, Clone, Serialize)]
pub struct Migration {
    pub version: Version,
    pub name: String,
    pub layout: Layout,
    pub up: Script,
    pub down: Option<Script>,
    /// Flyway repeatable (`R__`): no version of its own, re-applied when its checksum changes.
    pub repeatable: bool,
}

impl Migration {
    /// `version_name`, the way people refer to a migration.
    pub fn label(&self) -> String {
        if self.name.is_empty() || self.version.as_str().contains(&self.name) {
            self.version.to_string()
        } else {
            format!("{}_{}", self.version, self.name)
        }
    }
}

/// Migrations in the order their tool applies them, each version once.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MigrationSet {
    migrations: Vec<Migration>,
}

impl MigrationSet {
    /// Orders `migrations` and keeps the first of each version; returns the set and the
    /// migrations left out because their version was taken.
    pub fn new(mut migrations: Vec<Migration>) -> (Self, Vec<Migration>) {
        migrations.sort_by(|a, b| {
            a.version
                .cmp(&b.version)
                .then_with(|| a.up.path.cmp(&b.up.path))
        });
        let mut kept: Vec<Migration> = Vec::with_capacity(migrations.len());
        let mut dropped = Vec::new();
        for m in migrations {
            match kept.last() {
                Some(last) if last.version == m.version => dropped.push(m),
                _ => kept.push(m),
            }
        }
        (MigrationSet { migrations: kept }, dropped)
    }

    pub fn iter(&self) -> std::slice::Iter<'_, Migration> {
        self.migrations.iter()
    }

    pub fn len(&self) -> usize {
        self.migrations.len()
    }

    pub fn is_empty(&self) -> bool {
        self.migrations.is_empty()
    }

    pub fn get(&self, version: &Version) -> Option<&Migration> {
        self.migrations
            .binary_search_by(|m| m.version.cmp(version))
            .ok()
            .map(|i| &self.migrations[i])
    }

    pub fn as_slice(&self) -> &[Migration] {
        &self.migrations
    }
}

impl<'a> IntoIterator for &'a MigrationSet {
    type Item = &'a Migration;
    type IntoIter = std::slice::Iter<'a, Migration>;
    fn into_iter(self) -> Self::IntoIter {
        self.migrations.iter()
    }
}
