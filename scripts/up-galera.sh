#!/usr/bin/env bash
# A 3-node MariaDB Galera cluster on loopback for the MySQL store's cluster tests.
# Nodes answer SQL on 127.0.0.1:3307-3309 (root, empty password, database `test`).
# Idempotent: a healthy cluster exits at once; a dead node is restarted and rejoins;
# a wholly dead cluster is bootstrapped again from its data dirs. The main MariaDB on
# 3306 is never touched. Layout and ports: scripts/galera-node.sh.
set -u
cd "$(dirname "$0")"
# shellcheck source=galera-node.sh
. ./galera-node.sh

die() { echo "!! up-galera: $*" >&2; exit 1; }

healthy() {
  local n
  for n in $GALERA_NODES; do
    [ "$(node_status "$n" wsrep_cluster_size)" = 3 ] || return 1
    [ "$(node_status "$n" wsrep_local_state_comment)" = Synced ] || return 1
  done
}

# A test that made nodes refuse queries (wsrep_reject_queries, test/stores/mysql-galera.test.ts)
# and died before undoing it must not leave them so; a restarted node starts at NONE anyway.
for n in $GALERA_NODES; do node_sql "$n" "SET GLOBAL wsrep_reject_queries = NONE" || true; done
if healthy; then echo "galera: 3 nodes synced on 127.0.0.1:3307-3309"; exit 0; fi
[ "$(id -u)" = 0 ] || die "must run as root (starts mariadbd --user=mysql)"

# Packages: Debian's galera-4 provider and rsync (the SST method).
if [ ! -e "$GALERA_PROVIDER" ] || ! command -v rsync >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  { apt-get update -qq && apt-get install -y -qq galera-4 rsync >/dev/null; } ||
    die "could not install galera-4 and rsync"
fi
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || die "mariadbd is not installed"

mkdir -p "$GALERA_ROOT"
chmod 755 "$GALERA_ROOT"

# A node still starting (or in SST) gets a moment before it is judged.
for n in $GALERA_NODES; do
  [ -n "$(node_pid "$n")" ] && [ -z "$(node_status "$n" wsrep_cluster_status)" ] &&
    node_wait_synced "$n" 30 >/dev/null 2>&1
done

primary=""
for n in $GALERA_NODES; do
  if [ "$(node_status "$n" wsrep_cluster_status)" = Primary ]; then primary=$n; break; fi
done

if [ -z "$primary" ]; then
  # A survivor left non-primary (its peers died at once) is promoted in place.
  for n in $GALERA_NODES; do
    if [ -n "$(node_status "$n" wsrep_cluster_status)" ]; then
      node_sql "$n" "SET GLOBAL wsrep_provider_options='pc.bootstrap=YES'"
      node_wait_synced "$n" 20 && primary=$n && break
    fi
  done
fi

if [ -z "$primary" ]; then
  # Nothing answers: stop whatever hangs, then bootstrap from the most advanced node.
  for n in $GALERA_NODES; do
    pid=$(node_pid "$n")
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
  done
  sleep 0.5
  boot=1
  if [ ! -d "$(node_dir 1)/data/mysql" ]; then
    echo "galera: initialising a new cluster"
    for n in $GALERA_NODES; do rm -rf "$(node_dir "$n")"; done
    mkdir -p "$(node_dir 1)/data" && chown -R mysql:mysql "$(node_dir 1)"
    mariadb-install-db --no-defaults --user=mysql --datadir="$(node_dir 1)/data" \
      --auth-root-authentication-method=normal --skip-test-db >/dev/null 2>&1 ||
      die "mariadb-install-db failed"
  else
    # Prefer the node Galera marked safe; else the highest seqno; else node 1.
    best=-2
    for n in $GALERA_NODES; do
      state="$(node_dir "$n")/data/grastate.dat"
      [ -f "$state" ] || continue
      if grep -q '^safe_to_bootstrap: 1' "$state"; then boot=$n; break; fi
      seqno=$(sed -n 's/^seqno: *//p' "$state")
      if [ "${seqno:--1}" -gt "$best" ]; then best=$seqno; boot=$n; fi
    done
    state="$(node_dir "$boot")/data/grastate.dat"
    [ -f "$state" ] && sed -i 's/^safe_to_bootstrap: 0/safe_to_bootstrap: 1/' "$state"
    echo "galera: re-bootstrapping from galera-$boot"
  fi
  node_start "$boot" new
  node_wait_synced "$boot" 60 || die "galera-$boot did not bootstrap"
  primary=$boot
fi

# The TCP root account and the test database (replicated to every node).
node_sql_socket "$primary" "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1' IDENTIFIED BY '';
  GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
  CREATE DATABASE IF NOT EXISTS test;" || die "could not create root@127.0.0.1 on galera-$primary"

# Joiners one at a time: concurrent SSTs from one donor are slow and fragile.
for n in $GALERA_NODES; do
  if [ -z "$(node_pid "$n")" ]; then
    echo "galera: starting galera-$n"
    node_start "$n"
  fi
  node_wait_synced "$n" 90 || die "galera-$n did not join"
done

for ((i = 0; i < 40; i++)); do
  healthy && { echo "galera: 3 nodes synced on 127.0.0.1:3307-3309"; exit 0; }
  sleep 0.25
done
die "cluster did not reach wsrep_cluster_size=3 with every node Synced"
