#!/usr/bin/env bash
# scripts/test.sh: the whole test suite, as CI runs it (README's test command; .ci/run calls it).
# 1. scripts/ci-setup.sh installs and starts what the tests need on a fresh Debian machine
#    (PostgreSQL server binaries, the Docker engine, the locally built PostgreSQL image);
# 2. UPCYCLE_CORPORA points at ../shared/corpora when present (tests over real migration sets
#    skip, saying so, without it);
# 3. cargo test runs the unit tests and the one integration test binary (tests/suite). The
#    suite starts one PostgreSQL server from the server binaries (a database per test) and
#    removes it.
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
# One build from scratch: incremental artefacts (about 1 GB) would only fill the disk.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
cargo test --locked --no-fail-fast
