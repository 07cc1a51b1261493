# shellcheck shell=bash
# scripts/lib.sh: helpers sourced by the other scripts in this folder (not run directly).
# log: prefixed progress line on stderr. apt_install: installs Debian packages, running
# `apt-get update` at most once per process tree (UPCYCLE_APT_UPDATED=1 marks it done).

log() { printf '[%s] %s\n' "${UPCYCLE_LOG_TAG:-upcycle}" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

apt_update_once() {
    if [[ "${UPCYCLE_APT_UPDATED:-0}" != 1 ]]; then
        log "apt-get update"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || die "apt-get update failed"
        export UPCYCLE_APT_UPDATED=1
    fi
}

# apt_install PKG...: install the packages (no recommends); needs root.
apt_install() {
    [[ $(id -u) == 0 ]] || die "need root to apt-get install $*"
    apt_update_once
    log "apt-get install $*"
    local out
    out=$(mktemp /tmp/upcycle-apt.XXXXXX)
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >"$out" 2>&1; then
        tail -n 30 "$out" >&2
        rm -f "$out"
        die "apt-get install $* failed"
    fi
    rm -f "$out"
}

# now_s: seconds since epoch with millisecond precision
now_s() { date +%s.%3N; }
# elapsed START: seconds elapsed since START (from now_s), 1 decimal
elapsed() { awk -v a="$1" -v b="$(now_s)" 'BEGIN { printf "%.1f", b - a }'; }
