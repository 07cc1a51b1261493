#!/usr/bin/env bash
# scripts/build-action-image.sh: build the Action's image on this machine, from local bases only.
#   build-action-image.sh [--bin PATH] [--tag NAME:TAG] [--base-only] [--force-base] [--mirror URL]
# 1. The OS base (default upcycle-local/action-base:bookworm): debootstrap --variant=minbase
#    bookworm with postgresql-client-15, git and ca-certificates; docs, man pages, locales and apt
#    caches trimmed; `docker import`ed. Skipped when the image exists with the label
#    dev.upcycle.action-base.hash of this recipe (a hash of build_base below, the suite and the
#    packages), so a cached base costs one `docker image inspect`.
# 2. The Dockerfile's runtime-base stage on it, tagged upcycle-local/action-runtime:bookworm and kept,
#    so its layers stay in the build cache (the classic builder commits a full copy per instruction
#    on vfs, ~5 s each; cached, the stage takes ~1 s).
# 3. The image (default tag upcycle-local/upcycle:dev): `docker build --target runtime-prebuilt
#    --build-arg RUNTIME_IMAGE=<base>` with a build context holding only a stripped copy of the
#    binary (default: target/debug/upcycle). Nothing is compiled in Docker.
# --base-only stops after step 2 (scripts/ci-setup.sh). Prints the image id on stdout and the time
# of each step on stderr. Starts dockerd (scripts/start-dockerd.sh) and installs debootstrap when
# missing. Env: UPCYCLE_DEBOOTSTRAP_MIRROR overrides the mirror; UPCYCLE_ACTION_BASE the base tag.
set -euo pipefail
UPCYCLE_LOG_TAG=build-action-image
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
source "$here/lib.sh"

bin=$repo/target/debug/upcycle tag=upcycle-local/upcycle:dev
base=${UPCYCLE_ACTION_BASE:-upcycle-local/action-base:bookworm} stage=upcycle-local/action-runtime:bookworm
base_only=0 force_base=0 mirror=''
usage() { sed -n '2,3p' "${BASH_SOURCE[0]}" | sed 's/^# //' >&2; exit "${1:-2}"; }
while (($#)); do
    case $1 in
    --bin) bin=${2:?--bin needs a path}; shift 2 ;;
    --bin=*) bin=${1#*=}; shift ;;
    --tag) tag=${2:?--tag needs a value}; shift 2 ;;
    --tag=*) tag=${1#*=}; shift ;;
    --base-only) base_only=1; shift ;;
    --force-base) force_base=1; shift ;;
    --mirror) mirror=${2:?--mirror needs a value}; shift 2 ;;
    --mirror=*) mirror=${1#*=}; shift ;;
    -h | --help) usage 0 ;;
    *) log "unknown argument: $1"; usage ;;
    esac
done

suite=bookworm
packages=postgresql-client-15,git,ca-certificates

# build_base ROOTFS: debootstrap and trim the base's root file system. Its text is part of the
# cache hash: change it and the base is rebuilt.
build_base() {
    local rootfs=$1 log_file=$1.log
    if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$log_file" 2>&1; then
        tail -n 30 "$log_file" >&2
        [[ -f $rootfs/debootstrap/debootstrap.log ]] && tail -n 30 "$rootfs/debootstrap/debootstrap.log" >&2
        die "debootstrap failed"
    fi
    rm -rf "$rootfs"/var/cache/apt/* "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
        "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
        "$rootfs"/usr/share/lintian "$rootfs"/var/cache/debconf/*-old "$rootfs"/var/lib/dpkg/*-old \
        "$rootfs"/debootstrap
    find "$rootfs/var/log" -type f -delete
    chroot "$rootfs" /usr/lib/postgresql/15/bin/pg_dump --version >/dev/null || die "pg_dump does not run in the base"
    chroot "$rootfs" /usr/lib/postgresql/15/bin/pg_restore --version >/dev/null || die "pg_restore does not run in the base"
    chroot "$rootfs" git --version >/dev/null || die "git does not run in the base"
    [[ -s $rootfs/etc/ssl/certs/ca-certificates.crt ]] || die "no CA bundle in the base"
}

hash=$(printf '%s\n' "$(declare -f build_base)" "$suite" "$packages" | sha256sum | cut -c1-16)

if ! timeout 10 docker info >/dev/null 2>&1; then
    "$here/start-dockerd.sh"
fi

# Step 1: the OS base.
t0=$(now_s)
have=''
if docker image inspect "$base" >/dev/null 2>&1; then
    have=$(docker image inspect --format '{{index .Config.Labels "dev.upcycle.action-base.hash"}}' "$base" 2>/dev/null || true)
fi
if [[ $have == "$hash" ]] && ((!force_base)); then
    log "step base: $base is up to date (hash $hash)"
else
    if ((force_base)); then
        log "step base: rebuilding $base (--force-base)"
    elif [[ -n $have ]]; then
        log "step base: rebuilding $base (built by another recipe: hash '$have' != $hash)"
    fi
    [[ $(id -u) == 0 ]] || die "building the base $base needs root (debootstrap)"
    command -v debootstrap >/dev/null 2>&1 || apt_install debootstrap
    mirror=${mirror:-$(debian_mirror)}
    old_id=$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null || true)
    work=$(mktemp -d /var/tmp/upcycle-action-base.XXXXXX)
    trap 'remove_rootfs "$work"' EXIT
    log "step base: debootstrap $suite ($packages) from $mirror"
    build_base "$work/rootfs"
    log "step base: rootfs $(du -sh --one-file-system "$work/rootfs" | cut -f1) after $(elapsed "$t0") s; docker import -> $base"
    tar -C "$work/rootfs" --numeric-owner -cf - . | docker import \
        -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        -c 'ENV LANG=C.UTF-8' \
        -c 'CMD ["bash"]' \
        -c "LABEL dev.upcycle.action-base.hash=$hash" \
        -c "LABEL dev.upcycle.action-base.suite=$suite" \
        -m "upcycle build-action-image.sh $suite $packages" \
        - "$base" >/dev/null
    remove_rootfs "$work"
    trap - EXIT
    if [[ -n $old_id && $old_id != "$(docker image inspect --format '{{.Id}}' "$base")" ]]; then
        # the stage image of step 2 sits on the old base; step 2 rebuilds it
        docker rmi "$stage" >/dev/null 2>&1 || true
        docker rmi "$old_id" >/dev/null 2>&1 || log "kept the previous base ${old_id#sha256:} (still in use)"
    fi
    size=$(docker image inspect --format '{{.Size}}' "$base")
    log "step base: $base built in $(elapsed "$t0") s, $((size / 1000000)) MB (hash $hash)"
fi
# Labels: the same values in steps 2 and 3, so step 3 finds step 2's layers in the cache.
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$repo/Cargo.toml" | head -n1)
revision=$(git -C "$repo" rev-parse HEAD 2>/dev/null || echo unknown)
build_args=(--build-arg "RUNTIME_IMAGE=$base" --build-arg "VERSION=${version:-dev}" --build-arg "REVISION=$revision")
# The classic builder when buildx is missing (Debian's docker.io has no buildx); BuildKit otherwise.
if [[ -z ${DOCKER_BUILDKIT:-} ]] && ! docker buildx version >/dev/null 2>&1; then
    export DOCKER_BUILDKIT=0
fi
ctx=$(mktemp -d /var/tmp/upcycle-action-ctx.XXXXXX)
trap 'rm -rf "$ctx" "$ctx.log"' EXIT

# docker_build TAG TARGET: builds the Dockerfile's TARGET from the context $ctx; replaces TAG.
docker_build() {
    local tag=$1 target=$2 old_id new_id
    old_id=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
    if ! docker build --force-rm -q -f "$repo/Dockerfile" --target "$target" "${build_args[@]}" \
        -t "$tag" "$ctx" >"$ctx.log" 2>&1; then
        cat "$ctx.log" >&2
        die "docker build --target $target failed"
    fi
    new_id=$(docker image inspect --format '{{.Id}}' "$tag")
    if [[ -n $old_id && $old_id != "$new_id" ]]; then
        # the previous build of this tag is now untagged; drop it unless a container uses it
        docker rmi "$old_id" >/dev/null 2>&1 || log "kept the previous image ${old_id#sha256:} (still in use)"
    fi
}

# Step 2: the runtime-base stage, kept for the cache.
t0=$(now_s)
docker_build "$stage" runtime-base
log "step runtime-base: $stage in $(elapsed "$t0") s"
if ((base_only)); then exit 0; fi

# Step 3: the image, from the cached stage and the binary.
t0=$(now_s)
[[ -x $bin ]] || die "no upcycle binary at $bin (cargo build, or pass --bin PATH)"
cp "$bin" "$ctx/upcycle"
# A debug build is ~230 MB of which ~190 MB are debug info and symbols; every container start
# copies the image on the vfs storage driver, so the copy is stripped.
if command -v strip >/dev/null 2>&1; then
    strip "$ctx/upcycle" 2>/dev/null || log "strip failed; using the binary as it is"
fi
chmod 0755 "$ctx/upcycle"
docker_build "$tag" runtime-prebuilt
id=$(docker image inspect --format '{{.Id}}' "$tag")
size=$(docker image inspect --format '{{.Size}}' "$tag")
log "step image: $tag built in $(elapsed "$t0") s, $((size / 1000000)) MB ($("$ctx/upcycle" --version 2>/dev/null || echo '?'))"
echo "$id"
