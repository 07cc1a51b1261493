//! The tracking table every command reads and writes: upcycle's own (`upcycle_migrations`), or
//! a tool's native one (sqlx, diesel, golang-migrate, dbmate, goose, Flyway), written exactly as
//! that tool writes it so a team can keep its tool side by side. `Tracking` is the one interface;
//! it dispatches on the mode to one module per table in `compat/`. All SQL binds values and
//! quotes identifiers.

use anyhow::bail;
use sqlx::PgConnection;

use super::compat::{self, detect};
use crate::history::{History, RowState};
use crate::migration::{Migration, MigrationSet};

/// The shape of the table this upcycle writes.
pub const SHAPE: u32 = compat::upcycle::SHAPE;
/// upcycle's own table.
pub const TABLE: &str = compat::upcycle::TABLE;

/// `"ident"`, with embedded quotes doubled.
pub fn quote_ident(ident: &str) -> String {
    format!("\"{}\"", ident.replace('"', "\"\""))
}

/// Which tracking table to read and write: upcycle's own, or a tool's native one, so a team can
/// keep its tool side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryMode {
    Upcycle,
    Sqlx,
    Diesel,
    GolangMigrate,
    Dbmate,
    Goose,
    Flyway,
    /// Detect an existing table by its columns; upcycle's own when there is none.
    Auto,
}

impl HistoryMode {
    /// Every mode with its `--history` id: the one list of them.
    pub const ALL: &'static [(HistoryMode, &'static str)] = &[
        (HistoryMode::Upcycle, "upcycle"),
        (HistoryMode::Sqlx, "sqlx"),
        (HistoryMode::Diesel, "diesel"),
        (HistoryMode::GolangMigrate, "golang-migrate"),
        (HistoryMode::Dbmate, "dbmate"),
        (HistoryMode::Goose, "goose"),
        (HistoryMode::Flyway, "flyway"),
        (HistoryMode::Auto, "auto"),
    ];

    pub fn from_id(id: &str) -> Option<HistoryMode> {
        Self::ALL
            .iter()
            .find(|(_, i)| i.eq_ignore_ascii_case(id))
            .map(|(m, _)| *m)
    }

    pub fn id(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(m, _)| *m == self)
            .map_or("upcycle", |(_, i)| i)
    }

    /// The table the mode keeps (`Auto` until resolved: upcycle's own).
    pub fn table_name(self) -> &'static str {
        match self {
            HistoryMode::Upcycle | HistoryMode::Auto => compat::upcycle::TABLE,
            HistoryMode::Sqlx => compat::sqlx::TABLE,
            HistoryMode::Diesel => compat::diesel::TABLE,
            HistoryMode::GolangMigrate => compat::golang_migrate::TABLE,
            HistoryMode::Dbmate => compat::dbmate::TABLE,
            HistoryMode::Goose => compat::goose::TABLE,
            HistoryMode::Flyway => compat::flyway::TABLE,
        }
    }
}

/// Where the table lives and who is writing.
#[derive(Debug, Clone)]
pub struct Tracking {
    pub schema: String,
    /// Recorded in `applied_by` with the database user (the CI run id, when there is one).
    pub run_id: Option<String>,
    pub mode: HistoryMode,
}

/// A row about to be written: this migration, applied (or started, for one that runs outside a
/// transaction). Each table takes what it keeps from it (its checksum, its description…).
pub struct NewRow<'a> {
    pub migration: &'a Migration,
    pub execution_ms: i64,
    pub state: RowState,
}

impl Tracking {
    /// The schema-qualified, quoted name of this mode's table.
    pub fn table(&self) -> String {
        self.qualified(self.mode.table_name())
    }

    /// `"schema"."name"`.
    pub fn qualified(&self, name: &str) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(name))
    }

    /// This tracking with `Auto` replaced by the mode the schema's tables show (by their columns;
    /// upcycle's own when none is there). Call once per session, before `ensure` and `read`.
    pub async fn resolve(&self, conn: &mut PgConnection) -> anyhow::Result<Tracking> {
        let mode = match self.mode {
            HistoryMode::Auto => detect::detect(conn, &self.schema).await?,
            mode => mode,
        };
        Ok(Tracking {
            mode,
            ..self.clone()
        })
    }

    /// The concrete mode (an unresolved `Auto` is detected now).
    async fn concrete(&self, conn: &mut PgConnection) -> anyhow::Result<Tracking> {
        match self.mode {
            HistoryMode::Auto => self.resolve(conn).await,
            _ => Ok(self.clone()),
        }
    }

    /// Creates the schema and table when absent (call while holding the migration lock).
    pub async fn ensure(&self, conn: &mut PgConnection) -> anyhow::Result<()> {
        let t = self.concrete(conn).await?;
        if t.exists(conn).await? {
            return Ok(());
        }
        match t.mode {
            HistoryMode::Upcycle | HistoryMode::Auto => compat::upcycle::create(&t, conn).await,
            HistoryMode::Sqlx => compat::sqlx::create(&t, conn).await,
            HistoryMode::Diesel => compat::diesel::create(&t, conn).await,
            HistoryMode::GolangMigrate => compat::golang_migrate::create(&t, conn).await,
            HistoryMode::Dbmate => compat::dbmate::create(&t, conn).await,
            HistoryMode::Goose => compat::goose::create(&t, conn).await,
            HistoryMode::Flyway => compat::flyway::create(&t, conn).await,
        }
    }

    /// Whether the table exists.
    pub async fn exists(&self, conn: &mut PgConnection) -> anyhow::Result<bool> {
        let t = self.concrete(conn).await?;
        compat::exists(conn, &t.table()).await
    }

    /// Every migration the table says is applied (or dirty), in the order applied. A database
    /// without the table has an empty history.
    pub async fn read(&self, conn: &mut PgConnection) -> anyhow::Result<History> {
        let t = self.concrete(conn).await?;
        if !t.exists(conn).await? {
            return Ok(History::default());
        }
        match t.mode {
            HistoryMode::Upcycle | HistoryMode::Auto => compat::upcycle::read(&t, conn).await,
            HistoryMode::Sqlx => compat::sqlx::read(&t, conn).await,
            HistoryMode::Diesel => compat::diesel::read(&t, conn).await,
            HistoryMode::GolangMigrate => compat::golang_migrate::read(&t, conn).await,
            HistoryMode::Dbmate => compat::dbmate::read(&t, conn).await,
            HistoryMode::Goose => compat::goose::read(&t, conn).await,
            HistoryMode::Flyway => compat::flyway::read(&t, conn).await,
        }
    }

    /// Records a migration as applied, or as started (`Dirty`) before one that runs outside a
    /// transaction; re-recording completes or replaces the row. Tables without a dirty state
    /// (diesel, dbmate, goose) record only the applied row.
    pub async fn record(&self, conn: &mut PgConnection, row: &NewRow<'_>) -> anyhow::Result<()> {
        let t = self.concrete(conn).await?;
        match (t.mode, row.state) {
            (HistoryMode::Upcycle | HistoryMode::Auto, _) => {
                compat::upcycle::record(&t, conn, row).await
            }
            (HistoryMode::Sqlx, _) => compat::sqlx::record(&t, conn, row).await,
            (HistoryMode::GolangMigrate, _) => compat::golang_migrate::record(&t, conn, row).await,
            (HistoryMode::Flyway, _) => compat::flyway::record(&t, conn, row).await,
            (HistoryMode::Diesel | HistoryMode::Dbmate | HistoryMode::Goose, RowState::Dirty) => {
                Ok(())
            }
            (HistoryMode::Diesel, RowState::Applied) => {
                compat::diesel::record(&t, conn, row.migration).await
            }
            (HistoryMode::Dbmate, RowState::Applied) => {
                compat::dbmate::record(&t, conn, row.migration).await
            }
            (HistoryMode::Goose, RowState::Applied) => {
                compat::goose::record(&t, conn, row.migration).await
            }
        }
    }

    /// Marks `version` dirty: a down that runs outside a transaction is starting. golang-migrate
    /// marks the version the down goes to (the previous one in `set`); tables without a dirty
    /// state keep the row until the down is done.
    pub async fn mark_dirty(
        &self,
        conn: &mut PgConnection,
        version: &str,
        set: &MigrationSet,
    ) -> anyhow::Result<()> {
        let t = self.concrete(conn).await?;
        match t.mode {
            HistoryMode::Upcycle | HistoryMode::Auto => {
                compat::upcycle::mark_dirty(&t, conn, version).await
            }
            HistoryMode::Sqlx => compat::sqlx::mark_dirty(&t, conn, version).await,
            HistoryMode::GolangMigrate => {
                compat::golang_migrate::mark_dirty(&t, conn, version, set).await
            }
            HistoryMode::Flyway => compat::flyway::mark_dirty(&t, conn, version).await,
            HistoryMode::Diesel | HistoryMode::Dbmate | HistoryMode::Goose => Ok(()),
        }
    }

    /// Records the checksum the table keeps of `m`'s up script as it is now (`repair
    /// --update-checksums`); nothing for tables without checksums.
    pub async fn set_checksum(&self, conn: &mut PgConnection, m: &Migration) -> anyhow::Result<()> {
        let t = self.concrete(conn).await?;
        match t.mode {
            HistoryMode::Upcycle | HistoryMode::Auto => {
                compat::upcycle::set_checksum(&t, conn, m).await
            }
            HistoryMode::Sqlx => compat::sqlx::set_checksum(&t, conn, m).await,
            HistoryMode::Flyway => compat::flyway::set_checksum(&t, conn, m).await,
            HistoryMode::Diesel
            | HistoryMode::GolangMigrate
            | HistoryMode::Dbmate
            | HistoryMode::Goose => Ok(()),
        }
    }

    /// Records `version` as not applied (after its down, or to drop a dirty row).
    /// golang-migrate's one row moves to the previous version in `set` (or away).
    pub async fn remove(
        &self,
        conn: &mut PgConnection,
        version: &str,
        set: &MigrationSet,
    ) -> anyhow::Result<()> {
        let t = self.concrete(conn).await?;
        match t.mode {
            HistoryMode::Upcycle | HistoryMode::Auto => {
                compat::upcycle::remove(&t, conn, version).await
            }
            HistoryMode::Sqlx => compat::sqlx::remove(&t, conn, version).await,
            HistoryMode::Diesel => compat::diesel::remove(&t, conn, version).await,
            HistoryMode::GolangMigrate => {
                compat::golang_migrate::remove(&t, conn, version, set).await
            }
            HistoryMode::Dbmate => compat::dbmate::remove(&t, conn, version).await,
            HistoryMode::Goose => compat::goose::remove(&t, conn, version).await,
            HistoryMode::Flyway => compat::flyway::remove(&t, conn, version).await,
        }
    }

    /// The advisory lock key: the first 8 bytes of sha256("upcycle:" + upcycle's table in the
    /// schema), whatever the mode, so every upcycle run on a schema excludes every other.
    pub fn lock_key(&self) -> i64 {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(format!("upcycle:{}", self.qualified(TABLE)).as_bytes());
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(bytes)
    }
}

/// Refuses a mode that needs integer versions for one that is not.
pub(super) fn bigint_version(t: &Tracking, version: &str) -> anyhow::Result<i64> {
    match version.parse::<i64>() {
        Ok(v) => Ok(v),
        Err(_) => bail!(
            "version {version} is not an integer, and {} keeps bigint versions; pick the --history of this layout's tool",
            t.table()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tracking(schema: &str, mode: HistoryMode) -> Tracking {
        Tracking {
            schema: schema.into(),
            run_id: None,
            mode,
        }
    }

    #[test]
    fn identifiers_are_quoted() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        let t = tracking("my schema", HistoryMode::Upcycle);
        assert_eq!(t.table(), "\"my schema\".\"upcycle_migrations\"");
        assert_ne!(
            t.lock_key(),
            tracking("public", HistoryMode::Upcycle).lock_key()
        );
    }

    #[test]
    fn every_mode_names_its_table_and_shares_the_lock_of_its_schema() {
        let names: Vec<&str> = HistoryMode::ALL
            .iter()
            .map(|(m, _)| m.table_name())
            .collect();
        assert_eq!(
            names,
            [
                "upcycle_migrations",
                "_sqlx_migrations",
                "__diesel_schema_migrations",
                "schema_migrations",
                "schema_migrations",
                "goose_db_version",
                "flyway_schema_history",
                "upcycle_migrations"
            ]
        );
        let key = tracking("public", HistoryMode::Upcycle).lock_key();
        for (mode, _) in HistoryMode::ALL {
            assert_eq!(tracking("public", *mode).lock_key(), key);
        }
    }
}
