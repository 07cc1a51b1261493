#!/usr/bin/env bash
# scripts/test.sh: the whole test suite, as CI runs it (README's test command; .ci/run calls it).
# 1. scripts/ci-setup.sh installs and starts what the tests need on a fresh Debian machine
#    (PostgreSQL server binaries, the Docker engine, the locally built PostgreSQL image);
# 2. UPCYCLE_CORPORA points at ../shared/corpora when present (tests over real migration sets
#    skip, saying so, without it);
# 3. cargo test runs every unit and integration test. Tests start their own PostgreSQL servers
#    from the server binaries (one per test binary, a database per test) and remove them.
#    UPCYCLE_REQUIRE_DOCKER=1: ci-setup started Docker, so a test that needs it fails instead of
#    skipping when it does not answer.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/ci-setup.sh
if [[ -z "${UPCYCLE_CORPORA:-}" && -d ../shared/corpora ]]; then
    UPCYCLE_CORPORA=$(cd ../shared/corpora && pwd)
    export UPCYCLE_CORPORA
fi
export UPCYCLE_REQUIRE_DOCKER=${UPCYCLE_REQUIRE_DOCKER:-1}
cargo test --locked --no-fail-fast
