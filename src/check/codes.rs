//! The code table: every finding code upcycle can emit, its default severity and its meaning.
//! This table is the one source of truth; `docs/checks.md` is generated from it by a test.

use serde::{Serialize, Serializer};

use super::Severity;

/// What one code means, for the docs and for `--format json` consumers.
#[derive(Debug, Clone, Copy)]
pub struct CodeSpec {
    pub code: Code,
    /// The stable id printed in every format (`duplicate-version`).
    pub id: &'static str,
    pub severity: Severity,
    /// One line: what was found.
    pub summary: &'static str,
    /// Why it matters and what to do instead.
    pub help: &'static str,
}

macro_rules! codes {
    ($($variant:ident => ($id:literal, $sev:ident, $summary:literal, $help:literal),)*) => {
        /// A finding code. Add one by adding a row to `codes!` below; nothing else lists them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code { $($variant,)* }

        /// Every code, in table order.
        pub const CODES: &[CodeSpec] = &[
            $(CodeSpec { code: Code::$variant, id: $id, severity: Severity::$sev, summary: $summary, help: $help },)*
        ];

        impl Code {
            /// This code's row in the table.
            pub fn spec(self) -> &'static CodeSpec {
                &CODES[self as usize]
            }
        }
    };
}

codes! {
    DuplicateVersion => ("duplicate-version", Error,
        "two migrations share one version",
        "Every tool refuses a set where one version names two migrations, or applies only one of them. Rename one file to a new version (`upcycle new` picks a fresh timestamp)."),
    DownWithoutUp => ("down-without-up", Error,
        "a down script has no up script with the same version",
        "A down that reverts nothing is usually a renamed or deleted up. Restore the up, or delete the stray down."),
    MissingDown => ("missing-down", Error,
        "a migration has no down script",
        "Without a down, a bad deploy can only be undone by hand or from a backup. Write the down (it must restore the exact previous schema), or declare the migration irreversible in upcycle.toml. In layouts that have no downs at all this is only information."),
    UnknownFile => ("unknown-file", Warning,
        "a file in the migration folder is not a migration of this layout",
        "The layout's tool skips it silently, so a misnamed migration never runs. Rename it to the layout's pattern, or move it out of the folder."),
    EmptyScript => ("empty-script", Error,
        "a script has no SQL statements",
        "An empty up records a version without changing anything, and an empty down pretends to revert. Write the SQL, or delete the migration before it ships."),
    NotUtf8 => ("not-utf8", Error,
        "a script is not valid UTF-8",
        "PostgreSQL and every migration tool read scripts as UTF-8. Re-save the file as UTF-8."),
    InvalidName => ("invalid-name", Error,
        "a file name looks like a migration but its version cannot be read",
        "The layout's tool rejects the whole folder (sqlx: \"expected integer version prefix\"). Rename the file to the layout's pattern."),
    UnterminatedQuote => ("unterminated-quote", Error,
        "a string literal or quoted identifier is never closed",
        "The server would read the rest of the file as part of the string. Close the quote; in SQL a quote inside a string is written twice ('it''s')."),
    UnterminatedDollarQuote => ("unterminated-dollar-quote", Error,
        "a dollar-quoted body ($$ or $tag$) is never closed",
        "The server would read the rest of the file as the body. Close it with the same tag it opened with."),
    UnterminatedComment => ("unterminated-comment", Error,
        "a /* block comment */ is never closed",
        "Everything after it is silently commented out. Close the comment."),
    PsqlOnly => ("psql-only", Error,
        "the script uses psql-only syntax (COPY … FROM stdin data or a backslash meta-command)",
        "Only psql understands these; the layout's tool sends the file to the server, which rejects them. Load data with INSERT, or COPY from a server-side file, and drop meta-commands."),
    NonTransactional => ("non-transactional-in-transaction", Error,
        "a statement that cannot run inside a transaction is in a transactional migration",
        "CREATE INDEX CONCURRENTLY, VACUUM, ALTER SYSTEM and friends fail with \"cannot run inside a transaction block\". Move the statement into a migration of its own that opts out of the transaction (sqlx: `-- no-transaction` as the first line)."),
    NonTransactionalShared => ("non-transactional-not-alone", Error,
        "a statement that cannot run inside a transaction shares its script with other statements",
        "This layout's tool sends the whole script as one query, which PostgreSQL runs as one implicit transaction, so the statement fails even though the script opts out. Give the statement a migration of its own."),
    InvalidConfig => ("invalid-config", Error,
        "a per-migration configuration file cannot be read",
        "Its tool would fail, or silently fall back to defaults. Fix the file (diesel: `run_in_transaction = false` in metadata.toml)."),
    DirectiveIgnored => ("directive-ignored", Warning,
        "a transaction directive is written where its tool does not see it",
        "sqlx honours `-- no-transaction` only as the very first bytes of the file; a byte-order mark, blank line or comment before it makes the migration transactional. Move the directive to the first line."),
    MissingSection => ("missing-section", Error,
        "a sectioned migration has no up section, or its sections are out of order",
        "The tool refuses the file (dbmate: both `-- migrate:up` and `-- migrate:down`, up first; goose: `-- +goose Up`)."),
    UnbalancedStatementBlock => ("unbalanced-statement-block", Error,
        "StatementBegin without StatementEnd (or the reverse)",
        "goose and sql-migrate refuse the file. Close every StatementBegin with a StatementEnd."),
    MissingSemicolon => ("missing-semicolon", Error,
        "a statement never ends with a line ending in `;`",
        "goose and sql-migrate end a statement only at a line whose last word ends with `;`, and refuse a file whose last statement has none. Add the `;`."),
    SplitMismatch => ("statement-split", Warning,
        "the tool splits this script into statements differently from SQL",
        "goose and sql-migrate end a statement at any line ending in `;`, so a function body is cut in two. Wrap the statement in `-- +goose StatementBegin` / `-- +goose StatementEnd` (or `-- +migrate StatementBegin` / `StatementEnd`)."),
    Syntax => ("syntax", Warning,
        "the SQL parser could not read a statement",
        "upcycle's parser (squawk) reports a syntax problem here. The sandbox check runs the script on a real server, which is the final word."),
    ChangedOnBase => ("changed-on-base", Error,
        "a migration that is already on the base branch was edited",
        "Databases that already ran it never run the edit, so environments drift apart. Revert the edit and put the change in a new migration."),
    OlderThanBase => ("older-than-base", Error,
        "a new migration is ordered before the newest migration on the base branch",
        "Databases already past that version skip it (golang-migrate), refuse it (goose, Flyway) or run it out of order (sqlx, diesel, dbmate). Give it a version after the newest one on the base (rebase and `upcycle new`)."),
    VersionReused => ("version-reused", Error,
        "a new migration uses a version that the base branch already uses for another migration",
        "Databases that ran the base's migration think this one is applied and never run it. Give it a new version."),
    UpFailed => ("up-failed", Error,
        "the up script fails on a fresh database",
        "It would fail in every environment too. The message names the statement's line and the server's error; fix the SQL. Later migrations were not checked, since they build on this one."),
    DownFailed => ("down-failed", Error,
        "the down script fails right after its up",
        "A down that fails cannot undo a bad deploy when it matters. Fix the SQL (drop what the up created, in reverse order, with the names the up used)."),
    SchemaNotRestored => ("schema-not-restored", Error,
        "the down runs, but the schema afterwards differs from the schema before the up",
        "Something the up created stays behind, or something it changed is not changed back (a column type, a default, an index). The diff lists each difference; make the down undo exactly what the up did."),
    ColumnOrder => ("column-order", Warning,
        "the down restores every column, but not in their original order",
        "A column that an up drops and its down adds back goes to the end of the table. Queries with `SELECT *` and `INSERT` without a column list see another order than a database that never ran the pair. Usually harmless; name your columns in queries, or recreate the table in the down if the order matters."),
    ReupFailed => ("reup-failed", Error,
        "the up fails when it runs again after its down",
        "The down left something behind that the up then collides with (\"already exists\"). Make the down remove it."),
    ReupDiffers => ("reup-differs", Error,
        "running the up again after its down gives a different schema than the first time",
        "The up depends on state the down does not restore (or is not deterministic). The diff shows what differs."),
    RerunNotNoop => ("rerun-not-noop", Error,
        "after every migration ran, `up` still plans something, or the history disagrees with the set",
        "A second deploy must change nothing. Check the tracking table and repeatable migrations."),
    DataLost => ("data-lost", Error,
        "rows of a table the migration did not create changed or disappeared across its up or its down",
        "Seeded data must survive a migration and its down: the down must restore rows it changed, and the up must not delete rows of existing tables unless that is its purpose."),
    MissingExtension => ("missing-extension", Error,
        "the sandbox's PostgreSQL lacks an extension the migrations create",
        "This is the sandbox, not your migration: run the check on an image that has the extension (postgis/postgis for PostGIS, pgvector/pgvector for vector, timescale/timescaledb for TimescaleDB) with --sandbox-image."),
    IrreversibleRan => ("irreversible-down-ran", Error,
        "a migration declared irreversible has a down that runs",
        "A migration declared irreversible in upcycle.toml must have no down, or a down that refuses (RAISE EXCEPTION) and changes nothing. Remove the declaration, or make the down refuse."),
    CodeMigration => ("code-migration", Info,
        "a migration written as code runs through its own tool",
        "upcycle reads SQL; migrations written in Python or Go run through their tool's CLI (alembic upgrade/downgrade)."),
}

impl Serialize for Code {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.spec().id)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.spec().id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_rows_match_their_variants() {
        for (index, spec) in CODES.iter().enumerate() {
            assert_eq!(spec.code as usize, index, "{} is out of place", spec.id);
        }
        let mut ids: Vec<_> = CODES.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), CODES.len(), "two codes share an id");
    }
}
