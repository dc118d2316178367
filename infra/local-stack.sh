#!/usr/bin/env bash
# cleanwire's deployment stack on one machine, without Docker: PostgreSQL, a Prefect server on it
# (scheduler included), the cleanwire-process work pool, prefect.yaml's deployments, a process
# worker and, with --s3, a local S3 server (moto) with the `landing` and `lake` buckets.
#
#   infra/local-stack.sh up DIR [--s3] [--env-file FILE]   start everything, state and logs under DIR
#   infra/local-stack.sh status DIR                        what runs, and where (exit 3 if something is down)
#   infra/local-stack.sh down DIR                          stop everything (DIR and its database stay)
#   infra/local-stack.sh destroy DIR                       stop everything and delete DIR
#
# Run it from the project's virtualenv (`prefect`, `python` and, for --s3, `moto_server` on PATH)
# with PostgreSQL's initdb/pg_ctl on PATH. Everything listens on 127.0.0.1 only; ports are free
# ones unless LOCAL_STACK_PG_PORT / _PREFECT_PORT / _S3_PORT name them (not CLEANWIRE_*: that prefix is the pipeline's settings, which refuse unknown names). After `up`,
# `set -a; . DIR/stack.env; set +a` points `prefect`, `cleanwire` and boto3 at the stack.
# --env-file FILE (the names of infra/env.example: AWS_*, CLEANWIRE_*) is exported to the worker,
# e.g. credentials for real S3 or MinIO. The compose stack (infra/docker-compose.yml) is the same
# thing in containers. tests/deploy/ runs this script; docs/operations.md quotes it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
POOL=cleanwire-process  # prefect.yaml's work pool

usage() { sed -n '6,9p' "${BASH_SOURCE[0]}" | sed 's/^# *//' >&2; exit 2; }
log() { printf 'local-stack: %s\n' "$*" >&2; }
die() { log "$*"; exit 1; }

free_port() { python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# PostgreSQL refuses to run as root: as root its commands run as the `postgres` user, and its data
# directory is one that user owns.
as_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

wait_for_url() {  # URL SECONDS SERVICE: until the URL answers, the service exits or time runs out
    python - "$1" "$2" "$(cat "$DIR/run/$3.pid")" <<'EOF' || { log "$3 did not come up; last lines of $DIR/logs/$3.log:"; tail -n 30 "$DIR/logs/$3.log" >&2; return 1; }
import os, sys, time, urllib.request
url, deadline, pid = sys.argv[1], time.monotonic() + float(sys.argv[2]), int(sys.argv[3])
while True:
    try:
        urllib.request.urlopen(url, timeout=2)
        break
    except Exception:
        os.kill(pid, 0)  # raises once the service has exited
        if time.monotonic() > deadline:
            sys.exit(1)
        time.sleep(0.3)
EOF
}

# A long-running service in its own process group (so `down` stops its children too).
start_service() {  # NAME COMMAND...
    local name=$1; shift
    setsid "$@" >"$DIR/logs/$name.log" 2>&1 </dev/null &
    echo $! >"$DIR/run/$name.pid"
}

running() { [ -f "$DIR/run/$1.pid" ] && kill -0 "$(cat "$DIR/run/$1.pid")" 2>/dev/null; }

# Ctrl-C (SIGINT) to each service's process group, then SIGKILL to what still runs after 10 s: the
# Prefect server and moto stop on SIGINT within seconds; a worker started this way does not, and is
# killed with any flow run it is executing (Prefect then marks that run as crashed).
stop_services() {  # NAME...
    local name pid alive pids=()
    for name in "$@"; do
        [ -f "$DIR/run/$name.pid" ] || continue
        pid=$(cat "$DIR/run/$name.pid")
        rm -f "$DIR/run/$name.pid"
        kill -0 "$pid" 2>/dev/null || continue
        kill -INT -- "-$pid" 2>/dev/null || true
        pids+=("$pid")
        log "stopping $name"
    done
    for _ in $(seq 50); do
        alive=""
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
        [ -n "$alive" ] || break
        sleep 0.2
    done
    for pid in "${pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
}

pg_data() { readlink -f "$DIR/postgres"; }

up() {
    command -v prefect >/dev/null || die "prefect is not on PATH: activate the project's virtualenv"
    command -v initdb >/dev/null && command -v pg_ctl >/dev/null \
        || die "PostgreSQL's initdb and pg_ctl are not on PATH (Debian: apt-get install postgresql-15, then add /usr/lib/postgresql/15/bin)"
    mkdir -p "$DIR/logs" "$DIR/run"
    local env_file="" with_s3=""
    while [ $# -gt 0 ]; do
        case $1 in
            --s3) with_s3=1 ;;
            --env-file) env_file=$(readlink -f "$2"); shift ;;
            *) usage ;;
        esac
        shift
    done
    if [ -f "$DIR/stack.env" ]; then  # restarting a stack: same ports, same URLs
        set -a; . "$DIR/stack.env"; set +a
    fi
    local pg_port=${LOCAL_STACK_PG_PORT:-${STACK_PG_PORT:-$(free_port)}}
    local prefect_port=${LOCAL_STACK_PREFECT_PORT:-${STACK_PREFECT_PORT:-$(free_port)}}
    local s3_port=${LOCAL_STACK_S3_PORT:-${STACK_S3_PORT:-$(free_port)}}

    # 1. PostgreSQL: a cluster of its own, password-protected, on loopback only.
    if [ ! -e "$DIR/postgres" ]; then
        local data="$DIR/postgres"
        if ! as_pg test -w "$DIR"; then  # e.g. root running in a folder the postgres user cannot enter
            data=$(mktemp -d /tmp/cleanwire-postgres.XXXXXX)
            ln -s "$data" "$DIR/postgres"
        else
            mkdir "$data"
        fi
        [ "$(id -u)" = 0 ] && chown postgres "$data"
        python -c 'import secrets; print(secrets.token_hex(16))' >"$DIR/postgres.password"
        chmod 600 "$DIR/postgres.password"
        local pwfile="$data/.pwfile"
        as_pg sh -c "umask 077; cat > '$pwfile'" <"$DIR/postgres.password"
        as_pg initdb --pgdata="$data/data" --username=prefect --pwfile="$pwfile" --auth=scram-sha-256 \
            --encoding=UTF8 --locale=C.UTF-8 >"$DIR/logs/initdb.log" 2>&1 \
            || { tail -n 20 "$DIR/logs/initdb.log" >&2; die "initdb failed"; }
        as_pg rm -f "$pwfile"
    fi
    as_pg pg_ctl --pgdata="$(pg_data)/data" --log="$(pg_data)/postgres.log" --wait --timeout=60 \
        -o "-c listen_addresses=127.0.0.1 -p $pg_port -c unix_socket_directories=''" start >/dev/null \
        || { tail -n 20 "$(pg_data)/postgres.log" >&2; die "PostgreSQL did not start"; }
    local password; password=$(cat "$DIR/postgres.password")
    PGPASSWORD=$password psql -h 127.0.0.1 -p "$pg_port" -U prefect -d postgres -tAc \
        "SELECT 1 FROM pg_database WHERE datname = 'prefect'" | grep -q 1 \
        || PGPASSWORD=$password createdb -h 127.0.0.1 -p "$pg_port" -U prefect prefect
    log "PostgreSQL on 127.0.0.1:$pg_port"

    # 2. The Prefect server on that database, with its scheduler and other services.
    local api="http://127.0.0.1:$prefect_port/api"
    cat >"$DIR/stack.env" <<EOF
STACK_PG_PORT=$pg_port
STACK_PREFECT_PORT=$prefect_port
STACK_S3_PORT=$s3_port
PREFECT_API_URL=$api
EOF
    if [ -n "$with_s3" ]; then
        cat >>"$DIR/stack.env" <<EOF
AWS_ENDPOINT_URL=http://127.0.0.1:$s3_port
AWS_ACCESS_KEY_ID=local-stack
AWS_SECRET_ACCESS_KEY=local-stack-secret
AWS_DEFAULT_REGION=us-east-1
EOF
    fi
    if ! running server; then
        PREFECT_HOME="$DIR/prefect-home" PREFECT_SERVER_ANALYTICS_ENABLED=false \
        PREFECT_API_DATABASE_CONNECTION_URL="postgresql+asyncpg://prefect:$password@127.0.0.1:$pg_port/prefect" \
            start_service server prefect server start --host 127.0.0.1 --port "$prefect_port"
    fi
    wait_for_url "$api/health" 120 server
    log "Prefect server on $api"
    set -a; . "$DIR/stack.env"; set +a
    [ -z "$env_file" ] || { set -a; . "$env_file"; set +a; }

    # 3. Optionally the S3 side: moto's server with the two buckets of the compose stack.
    if [ -n "$with_s3" ]; then
        running s3 || start_service s3 moto_server -H 127.0.0.1 -p "$s3_port"
        wait_for_url "$AWS_ENDPOINT_URL/moto-api/" 60 s3
        python -c 'import boto3
s3 = boto3.client("s3")
for name in ("landing", "lake"):
    s3.create_bucket(Bucket=name)'
        log "S3 (moto) on $AWS_ENDPOINT_URL, buckets landing and lake"
    fi

    # 4. The work pool, prefect.yaml's deployments (from the project root: flow runs start there) and
    # a worker; docs/operations.md prints these commands.
    cd "$ROOT"
    prefect work-pool create cleanwire-process --type process --overwrite >>"$DIR/logs/up.log"
    prefect --no-prompt deploy --all >>"$DIR/logs/up.log"
    running worker || start_service worker prefect worker start --pool cleanwire-process
    log "worker on pool $POOL (log: $DIR/logs/worker.log)"
    log "ready: set -a; . $DIR/stack.env; set +a"
}

status() {
    [ -d "$DIR/run" ] || { log "no stack under $DIR"; exit 3; }
    local down=0 name
    if [ -e "$DIR/postgres" ] && as_pg pg_ctl --pgdata="$(pg_data)/data" status >/dev/null 2>&1; then
        echo "postgres  running"
    else
        echo "postgres  stopped"; down=1
    fi
    for name in server worker s3; do
        if running "$name"; then
            echo "$name  running (pid $(cat "$DIR/run/$name.pid"), log $DIR/logs/$name.log)"
        elif [ "$name" != s3 ] || grep -q AWS_ENDPOINT_URL "$DIR/stack.env" 2>/dev/null; then
            echo "$name  stopped"; down=1
        fi
    done
    [ ! -f "$DIR/stack.env" ] || sed 's/^/  /' "$DIR/stack.env"
    return $((down * 3))
}

down() {
    [ -d "$DIR" ] || return 0
    stop_services worker server s3
    if [ -e "$DIR/postgres" ] && as_pg pg_ctl --pgdata="$(pg_data)/data" status >/dev/null 2>&1; then
        as_pg pg_ctl --pgdata="$(pg_data)/data" --mode=fast --wait stop >/dev/null
        log "stopped postgres"
    fi
}

destroy() {
    down
    [ -d "$DIR" ] || return 0
    if [ -L "$DIR/postgres" ]; then rm -rf "$(pg_data)"; fi
    rm -rf "$DIR"
    log "deleted $DIR"
}

[ $# -ge 2 ] || usage
command=$1
DIR=$(mkdir -p "$2" && cd "$2" && pwd)
shift 2
case $command in
    up) up "$@" ;;
    status) status ;;
    down) down ;;
    destroy) destroy ;;
    *) usage ;;
esac
