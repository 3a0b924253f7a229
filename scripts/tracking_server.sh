#!/usr/bin/env bash
# A team's MLflow tracking server: PostgreSQL for runs and the registry, artifacts served by the
# server itself. Everything lives under $SERVER_DIR (git-ignored), so a restart keeps the runs.
#   scripts/tracking_server.sh start   (make server)      scripts/tracking_server.sh stop   (make server-stop)
# Settings (environment): SERVER_DIR (.server), SERVER_HOST (127.0.0.1), SERVER_PORT (5000),
# SERVER_PG_PORT (5433, beside a system PostgreSQL's 5432).
set -euo pipefail

DIR=$(realpath -m "${SERVER_DIR:-.server}")
HOST=${SERVER_HOST:-127.0.0.1}
PORT=${SERVER_PORT:-5000}
PG_PORT=${SERVER_PG_PORT:-5433}
PGDATA=$DIR/postgres
DB_URI="postgresql://mlflow@127.0.0.1:$PG_PORT/mlflow"

fail() { echo "error: $*" >&2; exit 1; }

pg_bin() {  # Debian keeps the server binaries off PATH, one folder per major version
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}

install_postgres() {
    [ -n "$(pg_bin)" ] && return
    echo "PostgreSQL is not installed: installing Debian's postgresql"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo=sudo
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null \
        || { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq postgresql >/dev/null; } \
        || fail "could not install postgresql (apt-get install postgresql)"
}

# PostgreSQL refuses to run as root: from a root shell, its programs run as the `postgres` user,
# which then owns the database folder.
as_db_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

healthy() {  # the venv's python, not curl, which a bare machine may lack
    python -c "import urllib.request as u; u.urlopen('http://$HOST:$PORT/health', timeout=2)" 2>/dev/null
}

mlflow_pid() {
    [ -f "$DIR/mlflow.pid" ] && kill -0 "$(cat "$DIR/mlflow.pid")" 2>/dev/null && cat "$DIR/mlflow.pid"
}

start() {
    install_postgres
    local bin
    bin=$(pg_bin)
    mkdir -p "$PGDATA" "$DIR/artifacts"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PGDATA"
        runuser -u postgres -- test -w "$PGDATA" \
            || fail "the postgres user cannot reach $PGDATA (a parent folder is closed to it): set SERVER_DIR to a folder it can reach, or run as a normal user"
    fi
    chmod 700 "$PGDATA"
    if [ ! -f "$PGDATA/PG_VERSION" ]; then
        as_db_owner "$bin/initdb" -D "$PGDATA" -U mlflow --auth=trust --encoding=UTF8 >"$DIR/initdb.log" \
            || fail "initdb failed, see $DIR/initdb.log"
    fi
    if ! as_db_owner "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        # Only local TCP connections; the socket goes in the data folder, not /var/run/postgresql.
        as_db_owner "$bin/pg_ctl" -D "$PGDATA" -l "$PGDATA/server.log" -w start \
            -o "-p $PG_PORT -c listen_addresses=127.0.0.1 -k $PGDATA" >/dev/null \
            || fail "PostgreSQL did not start, see $PGDATA/server.log"
    fi
    # MLflow's database, and Optuna's (apart: both keep an alembic_version table).
    local db
    for db in mlflow optuna; do
        "$bin/psql" -h 127.0.0.1 -p "$PG_PORT" -U mlflow -d postgres -tAc \
            "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
            || "$bin/createdb" -h 127.0.0.1 -p "$PG_PORT" -U mlflow "$db"
    done
    if [ -z "$(mlflow_pid)" ]; then
        # Its own session, so that stop ends the server and all its workers.
        setsid mlflow server --backend-store-uri "$DB_URI" --serve-artifacts \
            --artifacts-destination "$DIR/artifacts" --host "$HOST" --port "$PORT" \
            >"$DIR/mlflow.log" 2>&1 < /dev/null &
        echo $! >"$DIR/mlflow.pid"
        for _ in $(seq 240); do
            healthy && break
            [ -n "$(mlflow_pid)" ] || fail "mlflow server stopped, see $DIR/mlflow.log"
            sleep 0.5
        done
        healthy || fail "mlflow server did not answer, see $DIR/mlflow.log"
    fi
    echo "MLflow tracking server at http://$HOST:$PORT (runs in PostgreSQL, artifacts in $DIR/artifacts). Use it with:"
    echo "export MLFLOW_TRACKING_URI=http://$HOST:$PORT"
    echo "Optuna studies shared through the same PostgreSQL: hydra.sweeper.storage=postgresql://mlflow@127.0.0.1:$PG_PORT/optuna"
}

stop() {
    local pid
    pid=$(mlflow_pid || true)
    if [ -n "$pid" ]; then
        kill -TERM -- "-$pid" 2>/dev/null || true
        for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    fi
    rm -f "$DIR/mlflow.pid"
    local bin
    bin=$(pg_bin)
    if [ -n "$bin" ] && [ -f "$PGDATA/PG_VERSION" ] && as_db_owner "$bin/pg_ctl" -D "$PGDATA" status >/dev/null 2>&1; then
        as_db_owner "$bin/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null
    fi
    echo "stopped (the runs stay in $DIR)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    *) fail "usage: $0 start|stop" ;;
esac
