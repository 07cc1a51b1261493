#!/usr/bin/env bash
# scripts/start-dockerd.sh: make sure a Docker engine answers on this machine.
# - installs docker.io (brings dockerd, containerd, runc, iptables) when dockerd is missing;
# - exits 0 at once when `docker info` already answers;
# - otherwise starts `dockerd --storage-driver=vfs` detached (setsid+nohup), log in
#   /tmp/dockerd.log, and waits up to 60 s for `docker info` to answer.
# Env: UPCYCLE_DOCKER_STORAGE_DRIVER (default vfs), UPCYCLE_DOCKERD_LOG (default /tmp/dockerd.log),
#      UPCYCLE_DOCKERD_WAIT (seconds, default 60).
# Idempotent: safe to run any number of times.
set -euo pipefail
UPCYCLE_LOG_TAG=start-dockerd
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

driver=${UPCYCLE_DOCKER_STORAGE_DRIVER:-vfs}
logfile=${UPCYCLE_DOCKERD_LOG:-/tmp/dockerd.log}
wait_s=${UPCYCLE_DOCKERD_WAIT:-60}

docker_ok() { timeout 10 docker info >/dev/null 2>&1; }

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v iptables >/dev/null 2>&1 || missing+=(iptables)
command -v docker >/dev/null 2>&1 || missing+=(docker.io)
if ((${#missing[@]})); then
    # sort -u: docker.io may be listed twice
    mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
    apt_install "${missing[@]}"
fi

if docker_ok; then
    log "docker already answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'))"
    exit 0
fi

# A dockerd that is running but not answering yet (e.g. started by a previous run a moment ago):
# wait for it instead of starting a second one (which would fail on the pid file anyway).
if pid=$(pgrep -x dockerd 2>/dev/null | head -n1) && [[ -n $pid ]]; then
    log "dockerd already running (pid $pid) but not answering yet; waiting"
else
    [[ $(id -u) == 0 ]] || die "dockerd is not running and starting it needs root"
    log "starting dockerd --storage-driver=$driver (log: $logfile)"
    : >"$logfile"
    setsid nohup dockerd --storage-driver="$driver" >>"$logfile" 2>&1 </dev/null &
    pid=$!
    disown "$pid" 2>/dev/null || true
fi

t0=$(now_s)
for ((i = 0; i < wait_s * 2; i++)); do
    if docker_ok; then
        log "docker answers after $(elapsed "$t0") s (server $(docker version --format '{{.Server.Version}}' 2>/dev/null || echo '?'), driver $(docker info --format '{{.Driver}}' 2>/dev/null || echo '?'))"
        exit 0
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
        log "dockerd (pid $pid) exited; last lines of $logfile:"
        tail -n 30 "$logfile" >&2 || true
        die "dockerd failed to start"
    fi
    sleep 0.5
done
log "last lines of $logfile:"
tail -n 30 "$logfile" >&2 || true
die "docker did not answer within ${wait_s} s (dockerd pid $pid still running)"
