#!/bin/bash
# docker-entrypoint.sh: entrypoint of the upcycle-local/postgres images (copied into the image as
# /usr/local/bin/docker-entrypoint.sh by scripts/build-pg-image.sh). Behaves like the official
# `postgres` image for what upcycle needs:
#   POSTGRES_PASSWORD          superuser password (required unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER              superuser name (default postgres)
#   POSTGRES_DB                database created at first start (default = POSTGRES_USER)
#   POSTGRES_HOST_AUTH_METHOD  auth for TCP connections (default scram-sha-256)
#   POSTGRES_INITDB_ARGS       extra initdb arguments (word-split)
#   PGDATA                     data directory (default /var/lib/postgresql/data)
#   /docker-entrypoint-initdb.d/*.sql|*.sql.gz|*.sh  run once after initdb (temporary socket-only server)
# Arguments: `docker run IMG -c fsync=off ...` runs `postgres -c fsync=off ...`; any other command
# (`docker run IMG bash`) is exec'ed as is.
# The server log goes to stderr, and "database system is ready to accept connections" appears there
# exactly once: the initialisation steps run in single-user mode / on a temporary server whose log
# goes to /dev/null.
set -Eeuo pipefail

if [[ $# -eq 0 || ${1:0:1} == '-' ]]; then
    set -- postgres "$@"
fi
if [[ $1 != postgres ]]; then
    exec "$@"
fi
# `postgres --version`, `--help`, `-C name`, `--describe-config`: no initialisation needed
for arg in "${@:2}"; do
    case $arg in
    -'?' | --help | -V | --version | --describe-config | -C) exec "$@" ;;
    esac
done

export PGDATA=${PGDATA:-/var/lib/postgresql/data}
POSTGRES_USER=${POSTGRES_USER:-postgres}
POSTGRES_DB=${POSTGRES_DB:-$POSTGRES_USER}
POSTGRES_HOST_AUTH_METHOD=${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}

msg() { printf 'docker-entrypoint: %s\n' "$*"; }

# As root: prepare the directories, then re-run this script as the unprivileged postgres user.
if [[ $(id -u) == 0 ]]; then
    mkdir -p "$PGDATA" /var/run/postgresql
    # chown only what is not ours yet (a big reused data directory stays fast)
    find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
    chmod 700 "$PGDATA"
    chmod 2775 /var/run/postgresql
    export HOME=/var/lib/postgresql USER=postgres LOGNAME=postgres
    exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
fi

if [[ ! -s $PGDATA/PG_VERSION ]]; then
    if [[ -z ${POSTGRES_PASSWORD:-} && $POSTGRES_HOST_AUTH_METHOD != trust ]]; then
        cat >&2 <<'EOM'
Error: Database is uninitialized and superuser password is not specified.
       You must specify POSTGRES_PASSWORD to a non-empty value for the
       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".
       Or use POSTGRES_HOST_AUTH_METHOD=trust to allow all connections
       without a password (never do this outside tests).
EOM
        exit 1
    fi
    mkdir -p "$PGDATA"
    chmod 700 "$PGDATA"

    msg "initializing database cluster in $PGDATA (superuser $POSTGRES_USER)"
    initdb_args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host="$POSTGRES_HOST_AUTH_METHOD")
    # shellcheck disable=SC2086 # POSTGRES_INITDB_ARGS is word-split on purpose, like the official image
    if [[ -n ${POSTGRES_PASSWORD:-} ]]; then
        # the password goes through a pipe, never on a command line or in the log. The process
        # substitution must sit on the initdb command itself: its fd is closed after the command.
        initdb "${initdb_args[@]}" --pwfile=<(printf '%s\n' "$POSTGRES_PASSWORD") ${POSTGRES_INITDB_ARGS:-} >/dev/null
    else
        initdb "${initdb_args[@]}" ${POSTGRES_INITDB_ARGS:-} >/dev/null
    fi

    printf "\nlisten_addresses = '*'\n" >>"$PGDATA/postgresql.conf"
    printf '\nhost all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD" >>"$PGDATA/pg_hba.conf"

    if [[ $POSTGRES_DB != postgres ]]; then
        msg "creating database $POSTGRES_DB"
        # single-user mode: no listener, no "ready to accept connections" line
        err=$(printf 'CREATE DATABASE "%s";\n' "${POSTGRES_DB//\"/\"\"}" |
            postgres --single -D "$PGDATA" -c listen_addresses='' postgres 2>&1 >/dev/null) || true
        if grep -qE '(ERROR|FATAL|PANIC): ' <<<"$err"; then
            printf '%s\n' "$err" >&2
            exit 1
        fi
    fi

    shopt -s nullglob
    initfiles=(/docker-entrypoint-initdb.d/*)
    shopt -u nullglob
    if ((${#initfiles[@]})); then
        msg "running /docker-entrypoint-initdb.d on a temporary socket-only server"
        pg_ctl -D "$PGDATA" -w -s -l /dev/null -o "-c listen_addresses='' -p 5432" start
        export PGUSER=$POSTGRES_USER PGDATABASE=$POSTGRES_DB PGHOST=/var/run/postgresql PGPORT=5432
        for f in "${initfiles[@]}"; do
            # shellcheck disable=SC1090 # user-supplied init scripts are sourced
            case $f in
            *.sh) msg "running $f"; if [[ -x $f ]]; then "$f"; else . "$f"; fi ;;
            *.sql) msg "running $f"; psql -q -v ON_ERROR_STOP=1 --no-psqlrc -f "$f" ;;
            *.sql.gz) msg "running $f"; gunzip -c "$f" | psql -q -v ON_ERROR_STOP=1 --no-psqlrc ;;
            *) msg "ignoring $f" ;;
            esac
        done
        unset PGUSER PGDATABASE PGHOST PGPORT
        pg_ctl -D "$PGDATA" -w -s -m fast stop
    fi
    msg "initialization done"
fi

exec "$@"
