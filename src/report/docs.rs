//! Reference pages rendered from the tables they document (`CODES`, `LAYOUTS`), so the docs
//! cannot drift: `tests/suite/docs.rs` fails when docs/checks.md or docs/layouts.md differ from these.

use crate::check::CODES;
use crate::migration::{LAYOUTS, layout::Downs};

/// docs/checks.md.
pub fn checks() -> String {
    let mut out = String::from(
        "# Checks\n\n<!-- generated from src/check/codes.rs by tests/suite/docs.rs; edit the table there -->\n\n",
    );
    out.push_str("Every finding upcycle reports carries one of these codes. Only findings of severity `error` make a command exit 1.\n\n");
    out.push_str("| code | default severity | what it means |\n|---|---|---|\n");
    for c in CODES {
        out.push_str(&format!(
            "| [`{}`](#{}) | {} | {} |\n",
            c.id,
            c.id,
            c.severity.as_str(),
            c.summary
        ));
    }
    for c in CODES {
        out.push_str(&format!(
            "\n## {}\n\n**{}** ({} by default).\n\n{}\n",
            c.id,
            c.summary,
            c.severity.as_str(),
            c.help
        ));
    }
    out
}

/// docs/layouts.md.
pub fn layouts() -> String {
    let mut out = String::from(
        "# Layouts\n\n<!-- generated from LAYOUTS in src/migration/layout/mod.rs by tests/suite/docs.rs -->\n\n",
    );
    out.push_str("upcycle detects the layout from the files: content markers (`-- +goose Up`, `-- migrate:up`, `up.sql` inside a folder, `alembic.ini`) beat name patterns, a folder whose files carry two layouts' markers is an error, and sqlx and golang-migrate (which name files alike) are told apart by whether a file needs golang-migrate's bare execution. `--layout` overrides.\n\n");
    out.push_str("| layout | tool | files | downs |\n|---|---|---|---|\n");
    for l in LAYOUTS {
        let downs = match l.downs {
            Downs::Expected => "expected: a missing down is an error",
            Downs::Variant => "optional: a folder without any is reported once, as info",
            Downs::External => "run by the tool itself",
        };
        out.push_str(&format!(
            "| `{}` | {} | `{}` | {} |\n",
            l.id, l.tool, l.pattern, downs
        ));
    }
    out
}

/// docs/sandbox.md.
pub fn sandbox() -> String {
    use crate::sandbox::PROVIDERS;
    let mut out = String::from(
        "# Sandbox providers\n\n<!-- generated from PROVIDERS in src/sandbox/mod.rs by tests/suite/docs.rs -->\n\n",
    );
    out.push_str("`upcycle check` proves migrations on a throwaway PostgreSQL. `--sandbox` picks where it comes from; every check gets a fresh database there, dropped afterwards, and the server is removed when upcycle ends.\n\n");
    out.push_str("| `--sandbox` | what it does |\n|---|---|\n");
    for p in PROVIDERS {
        out.push_str(&format!("| `{}` | {} |\n", p.id, p.description));
    }
    out.push_str(&format!(
        "\nOptions: `--sandbox-image` (default `{}`), `--sandbox-url`, `--pg-bin`. `--sandbox-url` alone implies `--sandbox url`. `UPCYCLE_DOCKER_HOST` forces the host upcycle connects to for a docker sandbox (with the mapped port), when the detected one is wrong. The `local` provider keeps an initdb result (without `template0`, which a check never copies) in upcycle's cache folder (`UPCYCLE_CACHE_DIR`, else `$XDG_CACHE_HOME/upcycle`, else `~/.cache/upcycle`; about 40 MB per PostgreSQL installation) and copies it instead of running initdb each time; `UPCYCLE_CACHE_DIR=` (empty) turns that off.\n",
        crate::sandbox::DEFAULT_IMAGE
    ));
    out.push_str(
        "\n**Faster local checks.** The `local` provider's temp folder follows `TMPDIR`. On Linux, `TMPDIR=/dev/shm upcycle check --sandbox local` keeps the throwaway server's files in memory (tmpfs), away from the file system's cost of creating and deleting thousands of relation files: on the bench machine crates-io's check took 2.2–2.9 s that way against 3.8–4.8 s in `/tmp` (see [benchmarks.md](benchmarks.md)). It needs that much free memory: about 40 MB for the server and for each database it makes, more with `--seed` data. A container's `/dev/shm` is often 64 MB (Docker's default), too small; there, leave `TMPDIR` alone.\n",
    );
    out
}
