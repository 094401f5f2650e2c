#!/usr/bin/env bash
# PostgreSQL for the Postgres store's tests, on loopback, trust auth, database `test`:
#  (a) the machine's own server on 127.0.0.1:5432 (shared by everyone: started when it
#      is down, never restarted when it answers);
#  (b) a private instance of the project on 127.0.0.1:${PG_PRIVATE_PORT:-5440}, data in
#      /tmp/session-manager/postgres, which test/stores/postgres-restart.test.ts may stop
#      and start (it never touches 5432). Its settings live in $DATA/session-manager.conf
#      (port, loopback only, pg_stat_statements for the round-trip test), so a plain
#      `pg_ctl -D $DATA start` brings it back as it was.
# Idempotent: a server that answers is left alone. Test files that use the private
# instance take turns (test/helpers/exclusive.ts, lock "postgres-private").
set -u

die() { echo "!! up-postgres: $*" >&2; exit 1; }

PORT=${PG_PRIVATE_PORT:-5440}
ROOT=/tmp/session-manager/postgres
DATA=$ROOT/data
LOG=$ROOT/server.log

answers() { pg_isready -q -h 127.0.0.1 -p "$1" -t 2; }
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
has_test_db() {
  psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'test'" 2>/dev/null | grep -q 1
}
ensure_test_db() {
  has_test_db "$1" || psql -h 127.0.0.1 -p "$1" -U postgres -d postgres -qc 'CREATE DATABASE test' >/dev/null 2>&1 ||
    has_test_db "$1" # a concurrent run may have created it meanwhile
}

command -v pg_isready >/dev/null || die "PostgreSQL client tools are not installed (apt-get install postgresql)"
version=$(ls /etc/postgresql 2>/dev/null | sort -n | tail -1)
[ -n "$version" ] || die "no PostgreSQL server installed (/etc/postgresql is empty)"
bin=/usr/lib/postgresql/$version/bin

# (a) The machine's server.
if ! answers 5432; then
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || die "could not start the cluster $version/main"
  for _ in $(seq 1 30); do answers 5432 && break; sleep 0.5; done
  answers 5432 || die "5432 does not answer after starting it"
fi
ensure_test_db 5432 || die "no database test on 5432"
echo "postgres: 127.0.0.1:5432 (machine server, database test)"

# (b) The private instance.
if ! answers "$PORT"; then
  mkdir -p "$ROOT"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$ROOT"; fi
  if [ ! -s "$DATA/PG_VERSION" ]; then
    rm -rf "$DATA"
    as_postgres "$bin/initdb" -D "$DATA" -U postgres --auth=trust -E UTF8 >"$ROOT/initdb.log" 2>&1 ||
      die "initdb failed (see $ROOT/initdb.log)"
  fi
  printf '%s\n' "port = $PORT" "listen_addresses = '127.0.0.1'" "unix_socket_directories = '$ROOT'" \
    'max_connections = 200' "shared_preload_libraries = 'pg_stat_statements'" 'pg_stat_statements.track = all' \
    >"$DATA/session-manager.conf"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$DATA/session-manager.conf"; fi
  grep -q "^include_if_exists = 'session-manager.conf'" "$DATA/postgresql.conf" ||
    echo "include_if_exists = 'session-manager.conf'" >>"$DATA/postgresql.conf"
  # A server killed hard leaves its pid file behind; pg_ctl copes with a stale one.
  as_postgres "$bin/pg_ctl" -D "$DATA" -l "$LOG" -w -t 30 start >/dev/null ||
    die "the private instance did not start (see $LOG)"
fi
ensure_test_db "$PORT" || die "no database test on $PORT"
psql -h 127.0.0.1 -p "$PORT" -U postgres -d test -qc 'CREATE EXTENSION IF NOT EXISTS pg_stat_statements' >/dev/null 2>&1 ||
  die "pg_stat_statements is not available on $PORT"
echo "postgres: 127.0.0.1:$PORT (private instance, data $DATA)"
