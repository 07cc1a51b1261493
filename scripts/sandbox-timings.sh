#!/usr/bin/env bash
# scripts/sandbox-timings.sh: start-to-first-connection of the sandbox providers, median of N runs.
#   sandbox-timings.sh [--runs N] [--image IMAGE] [--bin PATH-TO-UPCYCLE]
# - docker (upcycle): `upcycle sandbox-probe --sandbox docker` prints ready_ms (create, start, ready
#   line, first successful connection);
# - docker (CLI): `docker run -d` of the same image with the same settings, then psql retried every
#   50 ms until `select 1` answers; the container is removed by id afterwards;
# - local (upcycle): `upcycle sandbox-probe --sandbox local` (initdb + postgres + first connection).
# Default image: upcycle-local/postgres:15 (scripts/build-pg-image.sh); default binary:
# target/release/upcycle. Needs docker and psql.
set -euo pipefail
UPCYCLE_LOG_TAG=sandbox-timings
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

runs=3 image=upcycle-local/postgres:15 bin=$here/../target/release/upcycle
while (($#)); do
    case $1 in
    --runs) runs=${2:?}; shift 2 ;;
    --image) image=${2:?}; shift 2 ;;
    --bin) bin=${2:?}; shift 2 ;;
    *) die "unknown argument: $1" ;;
    esac
done
[[ -x $bin ]] || die "no upcycle binary at $bin (cargo build --release)"

now_ms() { date +%s%3N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

probe_ms() { "$bin" sandbox-probe "$@" | sed -n 's/^ready_ms: \([0-9]*\).*/\1/p'; }

cli_ms() {
    local t0 id port ms
    t0=$(now_ms)
    id=$(docker run -d -p 127.0.0.1::5432 -e POSTGRES_PASSWORD=pw -e POSTGRES_DB=upcycle \
        --label dev.upcycle.sandbox=timings --label "dev.upcycle.started=$(date +%s)" \
        "$image" -c fsync=off -c full_page_writes=off -c synchronous_commit=off)
    port=$(docker port "$id" 5432/tcp | head -n1 | sed 's/.*://')
    until PGPASSWORD=pw PGCONNECT_TIMEOUT=2 psql -qtA -h 127.0.0.1 -p "$port" -U postgres -d upcycle \
        -c 'select 1' >/dev/null 2>&1; do
        sleep 0.05
    done
    ms=$(($(now_ms) - t0))
    docker rm -f -v "$id" >/dev/null
    echo "$ms"
}

declare -A results
for kind in docker-upcycle docker-cli local-upcycle; do
    values=()
    for ((i = 1; i <= runs; i++)); do
        case $kind in
        docker-upcycle) v=$(probe_ms --sandbox docker --sandbox-image "$image") ;;
        docker-cli) v=$(cli_ms) ;;
        local-upcycle) v=$(probe_ms --sandbox local) ;;
        esac
        log "$kind run $i: $v ms"
        values+=("$v")
    done
    results[$kind]="$(printf '%s\n' "${values[@]}" | median) ms (runs: ${values[*]})"
done
for kind in docker-upcycle docker-cli local-upcycle; do
    printf '%-15s median %s\n' "$kind" "${results[$kind]}"
done
