# shellcheck shell=bash
# scripts/lib.sh: helpers sourced by the other scripts in this folder (not run directly).
# log: prefixed progress line on stderr. apt_install: installs Debian packages, running
# `apt-get update` at most once per process tree (UPCYCLE_APT_UPDATED=1 marks it done).
# debian_mirror: the Debian mirror for debootstrap. unmount_under/remove_rootfs: cleanup of a
# debootstrap work folder.

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

# debian_mirror: UPCYCLE_DEBOOTSTRAP_MIRROR, else the first http(s) URI of a Debian (not -security)
# source in the apt config, else deb.debian.org.
debian_mirror() {
    local mirror=${UPCYCLE_DEBOOTSTRAP_MIRROR:-}
    if [[ -z $mirror ]]; then
        mirror=$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null |
            awk 'tolower($1)=="uris:" { for (i = 2; i <= NF; i++) print $i }' |
            grep -E '^https?://.*/debian/?$' | head -n1 || true)
    fi
    if [[ -z $mirror ]]; then
        mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null |
            awk '$1=="deb" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { print $i; break } }' |
            grep -E '/debian/?$' | head -n1 || true)
    fi
    echo "${mirror:-http://deb.debian.org/debian}"
}

# remove_rootfs DIR: removes a debootstrap work folder, unmounting what debootstrap mounted in it
# first (never rm -rf across a live proc/sys mount).
remove_rootfs() {
    local dir=$1 m
    awk -v p="$dir/" 'index($2, p) == 1 { print $2 }' /proc/mounts | sort -r | while read -r m; do
        umount -l "$m" 2>/dev/null || true
    done
    rm -rf --one-file-system "$dir"
}
