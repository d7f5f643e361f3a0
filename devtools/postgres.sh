#!/usr/bin/env bash
# A throwaway PostgreSQL cluster on 127.0.0.1 for the service tests (Debian's postgresql package).
#   eval "$(bash devtools/postgres.sh start)"   -> exports SEAWALL_TEST_POSTGRES_URL (and _DIR)
#   bash devtools/postgres.sh stop|start|status  (the fault tests stop and start it)
# As root the cluster runs as the `postgres` user; otherwise as the current user.
set -euo pipefail
cmd=${1:-start}
DIR=${SEAWALL_PG_DIR:-/tmp/seawall-pg}
PORT=${SEAWALL_PG_PORT:-55432}
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/pg_ctl" ]; then
  echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2
  exit 1
fi
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$cmd" in
  start)
    if [ ! -s "$DIR/PG_VERSION" ]; then
      mkdir -p "$DIR"
      [ "$(id -u)" -eq 0 ] && chown postgres:postgres "$DIR"
      chmod 700 "$DIR"
      as_owner "$PGBIN/initdb" -D "$DIR" -A trust -U seawall -E UTF8 >/dev/null
    fi
    if ! as_owner "$PGBIN/pg_ctl" -D "$DIR" status >/dev/null 2>&1; then
      as_owner "$PGBIN/pg_ctl" -D "$DIR" -w -t 60 -l "$DIR/server.log" \
        -o "-h 127.0.0.1 -p $PORT -k $DIR -c fsync=on -c max_connections=200" start >/dev/null
    fi
    echo "export SEAWALL_TEST_POSTGRES_URL=postgresql://seawall@127.0.0.1:$PORT/postgres"
    echo "export SEAWALL_TEST_POSTGRES_DIR=$DIR"
    ;;
  stop)
    as_owner "$PGBIN/pg_ctl" -D "$DIR" -w -t 60 -m fast stop >/dev/null
    ;;
  status)
    as_owner "$PGBIN/pg_ctl" -D "$DIR" status
    ;;
  *)
    echo "usage: postgres.sh start|stop|status" >&2
    exit 2
    ;;
esac
