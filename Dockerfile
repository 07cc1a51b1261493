# Dockerfile: the image of the upcycle GitHub Action (and of the CLI), which action.yml runs.
#
# Targets:
#   runtime (default, last)  builds the binary with `cargo build --release --locked` in
#                            ${RUST_IMAGE}, and copies it onto the runtime base. The published image.
#   runtime-prebuilt         copies an already built binary, the file `upcycle` at the root of the
#                            build context, onto the same runtime base: nothing is compiled in
#                            Docker. scripts/build-action-image.sh uses it with a context holding
#                            only the binary.
#   build                    the compile stage alone.
#
# The runtime base (stage runtime-base) is ${RUNTIME_IMAGE} (Debian bookworm-slim) plus
# pg_dump/pg_restore of every PostgreSQL major in ${PG_MAJORS} from the PGDG apt repository
# (src/backup.rs runs /usr/lib/postgresql/<server major>/bin/pg_dump), git (PR mode reads the base
# commit) and ca-certificates. When ${RUNTIME_IMAGE} already has git, the CA bundle and a pg_dump
# (scripts/build-action-image.sh makes such a base with debootstrap, as no registry and no PGDG are
# reachable there), the apt step is skipped and the base's own clients are used.
#
# User: the image runs as root, on purpose. GitHub runs container actions as the image's user and
# documents that they must run as root: the workspace and /github/file_commands are bind mounts
# owned by the runner's user (uid 1001), and the Docker socket (the sandbox) is root:docker on the
# host. A non-root USER could not write the outputs, the job summary or the JSON report. The
# unprivileged user `upcycle` (uid 10001) exists for running the CLI elsewhere:
# `docker run --user upcycle …`.
#
# Entrypoint: ENTRYPOINT ["upcycle"] with CMD ["action"]. action.yml passes `args: [action]`, which
# replaces CMD, so the runner runs `upcycle action`; a bare `docker run IMAGE` does the same, and
# `docker run IMAGE check --dir migrations` runs the CLI. (ENTRYPOINT ["upcycle", "action"] plus
# action.yml's args would run `upcycle action action`, which exits 2.)
#
# Stage order matters for the classic builder (no BuildKit), which builds every stage up to the
# target: runtime-prebuilt comes before the build stage, so it never needs ${RUST_IMAGE}. That
# builder also commits a full copy of the file system per instruction on the vfs storage driver
# (~5 s each here), hence few instructions.

ARG RUST_IMAGE=rust:1-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${RUNTIME_IMAGE} AS runtime-base
ARG PG_MAJORS="15 16 17 18"
# One RUN, one layer: the apt step (skipped on a prepared base), git's safe.directory (GitHub
# mounts the workspace owned by another uid; without it git refuses the repository as "dubious
# ownership"), and the unprivileged user.
RUN set -eu; \
    if command -v git >/dev/null 2>&1 && [ -s /etc/ssl/certs/ca-certificates.crt ] \
        && ls /usr/lib/postgresql/*/bin/pg_dump >/dev/null 2>&1; then \
        echo "runtime base already has git, CA certificates and pg_dump ($(ls -d /usr/lib/postgresql/*/ | tr '\n' ' ')): no apt"; \
    else \
        export DEBIAN_FRONTEND=noninteractive; \
        apt-get update; \
        apt-get install -y --no-install-recommends ca-certificates git postgresql-common; \
        /usr/share/postgresql-common/pgdg/apt.postgresql.org.sh -y; \
        apt-get update; \
        clients=''; for v in ${PG_MAJORS}; do clients="$clients postgresql-client-$v"; done; \
        apt-get install -y --no-install-recommends $clients; \
        for v in ${PG_MAJORS}; do /usr/lib/postgresql/$v/bin/pg_dump --version; done; \
        rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/*; \
    fi; \
    git config --system --add safe.directory '*'; \
    groupadd --system --gid 10001 upcycle; \
    useradd --system --uid 10001 --gid upcycle --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin upcycle
ENTRYPOINT ["upcycle"]
CMD ["action"]
# Last in this stage: the steps above stay cached from one commit to the next.
ARG VERSION=dev REVISION=unknown
LABEL org.opencontainers.image.title="upcycle" \
      org.opencontainers.image.description="Prove every PostgreSQL migration up, down and up again in a throwaway database, and report on the pull request." \
      org.opencontainers.image.source="https://github.com/upcycle-dev/upcycle" \
      org.opencontainers.image.url="https://github.com/upcycle-dev/upcycle" \
      org.opencontainers.image.documentation="https://github.com/upcycle-dev/upcycle/blob/main/docs/action.md" \
      org.opencontainers.image.vendor="upcycle-dev" \
      org.opencontainers.image.licenses="MIT OR Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"

FROM runtime-base AS runtime-prebuilt
# The file keeps its mode: it must be executable in the context (--chmod needs BuildKit).
COPY upcycle /usr/local/bin/upcycle

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Only what `cargo build` reads (.dockerignore keeps the rest out of the context).
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
RUN cargo build --release --locked && cp target/release/upcycle /upcycle

FROM runtime-base AS runtime
COPY --from=build /upcycle /usr/local/bin/upcycle
