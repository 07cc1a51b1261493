#!/usr/bin/env bash
# scripts/build-pg-image.sh: build a local PostgreSQL Docker image without any image registry.
#   build-pg-image.sh [--suite bookworm|trixie] [--tag NAME:TAG] [--mirror URL] [--force]
# bookworm -> PostgreSQL 15, default tag upcycle-local/postgres:15
# trixie   -> PostgreSQL 17, default tag upcycle-local/postgres:17
# Steps: debootstrap --variant=minbase --include=postgresql-NN into a temp dir; trim it (apt lists and
# caches, docs, man pages, translations, the cluster the Debian package creates, and the packages the
# server never loads: LLVM for JIT, perl, locales; JIT is then silently unavailable); add
# scripts/pg-image/docker-entrypoint.sh as /usr/local/bin/docker-entrypoint.sh; `docker import` it.
# The image is skipped when it exists and carries the label dev.upcycle.pg-image.hash of this build
# (a hash of this script, the entrypoint and the suite), unless --force. An image with an older hash
# is rebuilt. Starts dockerd (scripts/start-dockerd.sh) and installs debootstrap when missing.
# Env: UPCYCLE_DEBOOTSTRAP_MIRROR overrides the mirror (default: the first Debian URI in the apt config).
set -euo pipefail
UPCYCLE_LOG_TAG=build-pg-image
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/lib.sh"

suite=bookworm tag='' force=0 mirror=${UPCYCLE_DEBOOTSTRAP_MIRROR:-}
usage() { sed -n '2,3p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2; exit "${1:-2}"; }
while (($#)); do
    case $1 in
    --suite) suite=${2:?--suite needs a value}; shift 2 ;;
    --suite=*) suite=${1#*=}; shift ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --mirror) mirror=${2:?--mirror needs a value}; shift 2 ;;
    --mirror=*) mirror=${1#*=}; shift ;;
    --force) force=1; shift ;;
    -h | --help) usage 0 ;;
    *) log "unknown argument: $1"; usage ;;
    esac
done
case $suite in
bookworm) pgver=15 ;;
trixie) pgver=17 ;;
*) die "unsupported suite '$suite' (bookworm or trixie)" ;;
esac
tag=${tag:-upcycle-local/postgres:$pgver}
entrypoint=$here/pg-image/docker-entrypoint.sh
[[ -f $entrypoint ]] || die "missing $entrypoint"

hash=$(cat "${BASH_SOURCE[0]}" "$entrypoint" <(echo "$suite $pgver") | sha256sum | cut -c1-16)

if ! timeout 10 docker info >/dev/null 2>&1; then
    "$here/start-dockerd.sh"
fi

old_id=''
if docker image inspect "$tag" >/dev/null 2>&1; then
    old_id=$(docker image inspect --format '{{.Id}}' "$tag")
    have=$(docker image inspect --format '{{index .Config.Labels "dev.upcycle.pg-image.hash"}}' "$tag" 2>/dev/null || true)
    if ((force)); then
        log "$tag exists; rebuilding (--force)"
    elif [[ $have == "$hash" ]]; then
        log "$tag is up to date (hash $hash); nothing to do"
        exit 0
    else
        log "$tag exists but was built by another version of this script (hash '${have}' != $hash); rebuilding"
    fi
fi

[[ $(id -u) == 0 ]] || die "debootstrap needs root"
command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap

# Mirror: --mirror, else UPCYCLE_DEBOOTSTRAP_MIRROR or the apt config (lib.sh).
mirror=${mirror:-$(debian_mirror)}

work=$(mktemp -d /var/tmp/upcycle-pg-rootfs.XXXXXX)
rootfs=$work/rootfs
cleanup() { remove_rootfs "$work"; }
trap cleanup EXIT

log "debootstrap $suite (postgresql-$pgver) from $mirror into $rootfs"
t0=$(now_s)
if ! debootstrap --variant=minbase --include="postgresql-$pgver" "$suite" "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
    tail -n 30 "$work/debootstrap.log" >&2
    [[ -f $rootfs/debootstrap/debootstrap.log ]] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
    die "debootstrap failed"
fi
log "debootstrap took $(elapsed "$t0") s ($(du -sh --one-file-system "$rootfs" | cut -f1))"

pgbin=/usr/lib/postgresql/$pgver/bin
pglib=/usr/lib/postgresql/$pgver/lib
for ext in pgcrypto pg_trgm ltree btree_gist; do
    [[ -f $rootfs/usr/share/postgresql/$pgver/extension/$ext.control ]] || die "extension $ext missing from postgresql-$pgver"
done

log "trimming the rootfs"
t0=$(now_s)
# shellcheck disable=SC2016 # ${Package} is a dpkg-query format, not a shell variable
mapfile -t purge < <(chroot "$rootfs" dpkg-query -W -f '${Package}\n' |
    grep -E '^(libllvm[0-9]+|libz3-[0-9]+|perl|libperl5\.[0-9]+|perl-modules-5\.[0-9]+|locales|libc-l10n)$' || true)
if ((${#purge[@]})); then
    # --force-depends: postgresql-NN declares these, the server binaries do not load them
    chroot "$rootfs" dpkg --purge --force-depends "${purge[@]}" >"$work/purge.log" 2>&1 ||
        { tail -n 20 "$work/purge.log" >&2; die "dpkg --purge failed"; }
fi
rm -rf "$rootfs$pglib/bitcode" "$rootfs$pglib"/llvmjit*
# the cluster "main" that postgresql-common created at install time; ours is made by initdb at run
rm -rf "$rootfs/var/lib/postgresql/$pgver" "$rootfs/etc/postgresql/$pgver"
rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
    "$rootfs"/usr/share/lintian "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old \
    "$rootfs"/debootstrap
find "$rootfs/var/log" -type f -delete

# every ELF file of the server still finds its libraries
missing=$(cd "$rootfs" && find ".$pgbin" ".$pglib" -type f \( -perm -u+x -o -name '*.so' \) -print |
    while read -r f; do
        chroot "$rootfs" /lib64/ld-linux-x86-64.so.2 --list "${f#.}" 2>/dev/null | grep 'not found' | sed "s|^|${f#.}: |" || true
    done)
[[ -z $missing ]] || die "libraries missing after trimming:"$'\n'"$missing"

install -m 0755 "$entrypoint" "$rootfs/usr/local/bin/docker-entrypoint.sh"
pguid=$(chroot "$rootfs" id -u postgres)
pggid=$(chroot "$rootfs" id -g postgres)
install -d -m 0700 -o "$pguid" -g "$pggid" "$rootfs/var/lib/postgresql/data"
install -d -m 2775 -o "$pguid" -g "$pggid" "$rootfs/run/postgresql"
chroot "$rootfs" "$pgbin/postgres" --version >/dev/null || die "postgres does not run in the rootfs"
log "rootfs trimmed to $(du -sh --one-file-system "$rootfs" | cut -f1) in $(elapsed "$t0") s"

log "docker import -> $tag"
t0=$(now_s)
tar -C "$rootfs" --numeric-owner -cf - . | docker import \
    -c 'ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]' \
    -c 'CMD ["postgres"]' \
    -c "ENV PATH=$pgbin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    -c 'ENV PGDATA=/var/lib/postgresql/data' \
    -c 'ENV LANG=C.UTF-8' \
    -c 'EXPOSE 5432' \
    -c "LABEL dev.upcycle.pg-image.hash=$hash" \
    -c "LABEL dev.upcycle.pg-image.suite=$suite" \
    -m "upcycle build-pg-image.sh $suite postgresql-$pgver" \
    - "$tag" >/dev/null
size=$(docker image inspect --format '{{.Size}}' "$tag")
log "import took $(elapsed "$t0") s; $tag is $((size / 1000000)) MB (hash $hash)"
if [[ -n $old_id && $old_id != "$(docker image inspect --format '{{.Id}}' "$tag")" ]]; then
    # the previous build is now untagged; drop it unless a container still uses it
    if docker rmi "$old_id" >/dev/null 2>&1; then
        log "removed the previous image ${old_id#sha256:}"
    else
        log "kept the previous image ${old_id#sha256:} (still in use)"
    fi
fi
