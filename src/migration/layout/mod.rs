//! The layout table (one row per migration layout, the only list of them) and detection: which
//! layout a set of folders is written in, and why.

mod alembic;
mod dbmate;
mod detect;
mod diesel;
mod flyway;
mod golang_migrate;
mod goose;
mod rollback;
mod sections;
mod sql_migrate;
mod sqlx;

use serde::Serialize;

use crate::check::{Code, Finding, Severity};

use super::{Dir, Migration, MigrationSet, SourceFile};
pub use detect::{DetectError, Detection};

/// A migration layout: how a tool names, orders and executes its migrations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    Sqlx,
    Diesel,
    GolangMigrate,
    Dbmate,
    Goose,
    SqlMigrate,
    Flyway,
    RollbackSuffix,
    Alembic,
}

/// How strongly a file says it belongs to a layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Evidence {
    /// Its name fits the layout's pattern.
    Name,
    /// Its content or place carries the layout's own marker (`-- +goose Up`, `up.sql` in a folder…).
    Marker(&'static str),
}

/// Whether a layout has down migrations, which decides how a missing down weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downs {
    /// Every migration is expected to have one.
    Expected,
    /// Downs exist only in some variants (sqlx simple files, Flyway without U files).
    Variant,
    /// The layout runs through its own tool.
    External,
}

/// How `upcycle new` numbers a new migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Numbering {
    /// UTC `YYYYMMDDHHMMSS`.
    Timestamp,
    /// diesel's `YYYY-MM-DD-HHMMSS-0000`.
    DieselTimestamp,
    /// `YYYYMMDD_HHMMSS`.
    SplitTimestamp,
    /// Flyway: the next integer after the highest version.
    NextInteger,
}

/// A row of the layout table.
pub struct LayoutSpec {
    pub layout: Layout,
    /// The id used by `--layout` and in every output.
    pub id: &'static str,
    /// The tool that owns the layout.
    pub tool: &'static str,
    /// The file pattern, for messages and docs.
    pub pattern: &'static str,
    pub downs: Downs,
    pub numbering: Numbering,
    recognise: fn(&SourceFile) -> Option<Evidence>,
    read: fn(&Dir, &mut Read),
    new_files: fn(&str, &str, bool) -> Vec<(String, String)>,
}

/// What reading one folder produced.
#[derive(Debug, Default)]
pub struct Read {
    pub migrations: Vec<Migration>,
    pub findings: Vec<Finding>,
    /// Files the reader took as part of a migration (the rest are unknown).
    claimed: std::collections::HashSet<String>,
}

impl Read {
    fn claim(&mut self, file: &SourceFile) {
        self.claimed.insert(file.rel.clone());
    }
}

/// Every layout upcycle reads. Detection, `--layout`, `new` and the docs all come from here.
pub const LAYOUTS: &[LayoutSpec] = &[
    LayoutSpec {
        layout: Layout::Sqlx,
        id: "sqlx",
        tool: "sqlx-cli",
        pattern: "<int>_<name>.sql, or <int>_<name>.up.sql + .down.sql",
        downs: Downs::Variant,
        numbering: Numbering::Timestamp,
        recognise: sqlx::recognise,
        read: sqlx::read,
        new_files: sqlx::new_files,
    },
    LayoutSpec {
        layout: Layout::Diesel,
        id: "diesel",
        tool: "diesel_cli",
        pattern: "<version>_<name>/up.sql + down.sql",
        downs: Downs::Expected,
        numbering: Numbering::DieselTimestamp,
        recognise: diesel::recognise,
        read: diesel::read,
        new_files: diesel::new_files,
    },
    LayoutSpec {
        layout: Layout::GolangMigrate,
        id: "golang-migrate",
        tool: "golang-migrate",
        pattern: "<uint>_<name>.up.sql + <uint>_<name>.down.sql",
        downs: Downs::Expected,
        numbering: Numbering::Timestamp,
        recognise: golang_migrate::recognise,
        read: golang_migrate::read,
        new_files: golang_migrate::new_files,
    },
    LayoutSpec {
        layout: Layout::Dbmate,
        id: "dbmate",
        tool: "dbmate",
        pattern: "<digits><name>.sql with -- migrate:up / -- migrate:down",
        downs: Downs::Expected,
        numbering: Numbering::Timestamp,
        recognise: dbmate::recognise,
        read: dbmate::read,
        new_files: dbmate::new_files,
    },
    LayoutSpec {
        layout: Layout::Goose,
        id: "goose",
        tool: "goose",
        pattern: "<int>_<name>.sql with -- +goose Up / -- +goose Down",
        downs: Downs::Expected,
        numbering: Numbering::Timestamp,
        recognise: goose::recognise,
        read: goose::read,
        new_files: goose::new_files,
    },
    LayoutSpec {
        layout: Layout::SqlMigrate,
        id: "sql-migrate",
        tool: "sql-migrate",
        pattern: "<digits>-<name>.sql with -- +migrate Up / -- +migrate Down",
        downs: Downs::Expected,
        numbering: Numbering::Timestamp,
        recognise: sql_migrate::recognise,
        read: sql_migrate::read,
        new_files: sql_migrate::new_files,
    },
    LayoutSpec {
        layout: Layout::Flyway,
        id: "flyway",
        tool: "Flyway",
        pattern: "V<version>__<desc>.sql, U<version>__<desc>.sql, R__<desc>.sql",
        downs: Downs::Variant,
        numbering: Numbering::NextInteger,
        recognise: flyway::recognise,
        read: flyway::read,
        new_files: flyway::new_files,
    },
    LayoutSpec {
        layout: Layout::RollbackSuffix,
        id: "rollback-suffix",
        tool: "plain SQL",
        pattern: "YYYYMMDD_HHMMSS_<name>.sql + YYYYMMDD_HHMMSS_<name>_rollback.sql",
        downs: Downs::Expected,
        numbering: Numbering::SplitTimestamp,
        recognise: rollback::recognise,
        read: rollback::read,
        new_files: rollback::new_files,
    },
    LayoutSpec {
        layout: Layout::Alembic,
        id: "alembic",
        tool: "Alembic",
        pattern: "alembic.ini + versions/<rev>_<slug>.py",
        downs: Downs::External,
        numbering: Numbering::Timestamp,
        recognise: alembic::recognise,
        read: alembic::read,
        new_files: alembic::new_files,
    },
];

impl Layout {
    /// This layout's row in the table.
    pub fn spec(self) -> &'static LayoutSpec {
        LAYOUTS
            .iter()
            .find(|s| s.layout == self)
            .expect("every layout has a row in LAYOUTS")
    }

    pub fn id(self) -> &'static str {
        self.spec().id
    }

    /// Parses a `--layout` value.
    pub fn from_id(id: &str) -> Option<Layout> {
        LAYOUTS
            .iter()
            .find(|s| s.id.eq_ignore_ascii_case(id))
            .map(|s| s.layout)
    }

    /// The files `upcycle new` writes for a migration `version` named `name` (relative paths
    /// and contents).
    pub fn new_files(self, new: &NewMigration<'_>) -> Vec<(String, String)> {
        (self.spec().new_files)(new.version, new.name, new.with_down)
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.id())
    }
}

/// What `upcycle new` asks a layout to write.
pub struct NewMigration<'a> {
    pub version: &'a str,
    pub name: &'a str,
    /// Write a down too (layouts whose downs are optional write one only when the folder has downs).
    pub with_down: bool,
}

/// Everything read from the migration folders.
#[derive(Debug)]
pub struct Reading {
    pub detection: Detection,
    pub dirs: Vec<String>,
    pub set: MigrationSet,
    pub findings: Vec<Finding>,
}

impl Reading {
    /// Whether any finding is of error severity.
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Reads folders as one ordered set: detects the layout (unless `forced`), reads every folder
/// with it, and reports duplicates across folders. An error means no layout could be chosen.
pub fn read_dirs(dirs: &[Dir], forced: Option<Layout>) -> Result<Reading, detect::DetectError> {
    let detection = match forced {
        Some(layout) => Detection {
            layout,
            reason: format!("--layout {layout}"),
            also: None,
        },
        None => detect::detect(dirs)?,
    };
    let spec = detection.layout.spec();
    let mut migrations = Vec::new();
    let mut findings = Vec::new();
    for dir in dirs {
        let mut read = Read::default();
        (spec.read)(dir, &mut read);
        for file in &dir.files {
            if !read.claimed.contains(&file.rel) && !ignorable(file) {
                findings.push(Finding::new(
                    Code::UnknownFile,
                    dir.path_of(file),
                    None,
                    format!(
                        "not a {} migration (expected {}); {} skips it",
                        spec.id, spec.pattern, spec.tool
                    ),
                ));
            }
        }
        migrations.extend(read.migrations);
        findings.extend(read.findings);
    }
    let (set, dropped) = MigrationSet::new(migrations);
    for m in dropped {
        let kept = set
            .get(&m.version)
            .map_or_else(String::new, |k| k.up.path.clone());
        findings.push(Finding::new(
            Code::DuplicateVersion,
            &m.up.path,
            Some(1),
            format!(
                "version {} is already used by {kept}; give one of them a new version",
                m.version
            ),
        ));
    }
    if spec.downs == Downs::Variant && !set.is_empty() && set.iter().all(|m| m.down.is_none()) {
        findings.push(Finding::new(
            Code::MissingDown,
            dirs.first().map_or("", |d| d.display.as_str()),
            None,
            format!("none of the {} migrations has a down: a deploy can only be undone from a backup", set.len()),
        ).with_severity(Severity::Info));
    }
    findings.sort_by(|a, b| (a.severity, &a.path, a.line).cmp(&(b.severity, &b.path, b.line)));
    Ok(Reading {
        detection,
        dirs: dirs.iter().map(|d| d.display.clone()).collect(),
        set,
        findings,
    })
}

/// Files no layout owns and no tool minds: docs, keep-files, hidden files.
fn ignorable(file: &SourceFile) -> bool {
    let name = file.name();
    name.starts_with('.')
        || file.rel.split('/').any(|p| p.starts_with('.'))
        || name.eq_ignore_ascii_case("README")
        || name.to_ascii_lowercase().ends_with(".md")
}

/// A missing down in a layout that has downs.
fn missing_down(path: &str, label: &str) -> Finding {
    Finding::new(
        Code::MissingDown,
        path,
        None,
        format!("migration {label} has no down; write one that restores the previous schema"),
    )
}

/// The file's text, or a `not-utf8` finding naming the first bad line.
fn text_of(dir: &Dir, file: &SourceFile, read: &mut Read) -> Option<String> {
    match String::from_utf8(file.bytes.clone()) {
        Ok(text) => Some(text),
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let line = file.bytes[..valid].iter().filter(|b| **b == b'\n').count() + 1;
            read.findings.push(Finding::new(
                Code::NotUtf8,
                dir.path_of(file),
                u32::try_from(line).ok(),
                format!("byte {valid} is not UTF-8; re-save the file as UTF-8"),
            ));
            None
        }
    }
}
