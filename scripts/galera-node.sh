#!/usr/bin/env bash
# Helpers for scripts/up-galera.sh: one MariaDB Galera node on loopback.
# Node N (1..3): SQL port 3306+N, gmcast 145N0, IST 145N1, SST 145N2,
# everything under /tmp/session-manager/galera-N (owned by mysql).
# Sourced, not run.

GALERA_ROOT=/tmp/session-manager
GALERA_NODES="1 2 3"
GALERA_PROVIDER=/usr/lib/galera/libgalera_smm.so

node_dir() { echo "$GALERA_ROOT/galera-$1"; }
node_port() { echo $((3306 + $1)); }
gcomm_port() { echo "145${1}0"; }

# Run SQL on node N over TCP as root; prints tab-separated rows without headers.
node_sql() {
  local n=$1; shift
  mariadb --protocol=tcp -h127.0.0.1 -P"$(node_port "$n")" -uroot \
    --connect-timeout=2 -N -B -e "$*" 2>/dev/null
}

# Run SQL on node N through its socket (root via unix_socket: works before the
# TCP account exists).
node_sql_socket() {
  local n=$1; shift
  mariadb --socket="$(node_dir "$n")/mysqld.sock" -uroot -N -B -e "$*"
}

# One wsrep status value of node N (empty when the node does not answer).
node_status() {
  node_sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" | cut -f2
}

# PID of node N's mariadbd when it is running, else nothing.
node_pid() {
  local pidfile pid
  pidfile="$(node_dir "$1")/mysqld.pid"
  [ -s "$pidfile" ] || return 0
  pid=$(cat "$pidfile")
  if kill -0 "$pid" 2>/dev/null && grep -q mariadbd "/proc/$pid/cmdline" 2>/dev/null; then
    echo "$pid"
  fi
}

# Write node N's option file (read with --defaults-file: /etc/mysql is never read,
# so the main server's settings and port 3306 stay out of it).
node_config() {
  local n=$1 dir gport addrs="" m
  dir=$(node_dir "$n")
  gport=$(gcomm_port "$n")
  for m in $GALERA_NODES; do addrs="$addrs${addrs:+,}127.0.0.1:$(gcomm_port "$m")"; done
  cat >"$dir/my.cnf" <<EOF
[mysqld]
user=mysql
datadir=$dir/data
socket=$dir/mysqld.sock
pid-file=$dir/mysqld.pid
log-error=$dir/error.log
port=$(node_port "$n")
bind-address=127.0.0.1
skip-name-resolve
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
binlog_format=ROW
default_storage_engine=InnoDB
innodb_autoinc_lock_mode=2
innodb_buffer_pool_size=64M
innodb_flush_log_at_trx_commit=2
wsrep_on=ON
wsrep_provider=$GALERA_PROVIDER
wsrep_cluster_name=session-manager-test
wsrep_cluster_address=gcomm://$addrs
wsrep_node_name=galera-$n
wsrep_node_address=127.0.0.1:$gport
wsrep_node_incoming_address=127.0.0.1:$(node_port "$n")
wsrep_sst_method=rsync
wsrep_sst_receive_address=127.0.0.1:$((gport + 2))
wsrep_provider_options="gmcast.listen_addr=tcp://127.0.0.1:$gport;ist.recv_addr=127.0.0.1:$((gport + 1));evs.keepalive_period=PT0.3S;evs.inactive_check_period=PT0.5S;evs.suspect_timeout=PT1.5S;evs.inactive_timeout=PT2S;evs.install_timeout=PT2S;pc.wait_prim_timeout=PT10S;gcache.size=64M"
[client]
socket=$dir/mysqld.sock
EOF
}

# Start node N in the background (detached). $2 = "new" bootstraps a new cluster.
node_start() {
  local n=$1 dir
  dir=$(node_dir "$n")
  mkdir -p "$dir/data"
  chown -R mysql:mysql "$dir"
  node_config "$n"
  rm -f "$dir/mysqld.pid"
  local extra=()
  [ "${2:-}" = new ] && extra=(--wsrep-new-cluster)
  setsid /usr/sbin/mariadbd --defaults-file="$dir/my.cnf" --user=mysql "${extra[@]}" \
    </dev/null >>"$dir/stdout.log" 2>&1 &
  # mariadbd writes its pid file only after SST; record the pid now (same process:
  # setsid execs mariadbd) so a joiner in SST is already known to be running.
  echo $! >"$dir/mysqld.pid"
  chown mysql:mysql "$dir/mysqld.pid"
}

# Wait (up to $2 s) until node N answers and is Synced in a Primary component.
node_wait_synced() {
  local n=$1 limit=$2 i
  for ((i = 0; i < limit * 4; i++)); do
    if [ "$(node_status "$n" wsrep_local_state_comment)" = Synced ] &&
      [ "$(node_status "$n" wsrep_cluster_status)" = Primary ]; then
      return 0
    fi
    if [ -z "$(node_pid "$n")" ] && [ "$i" -gt 20 ]; then break; fi
    sleep 0.25
  done
  echo "!! galera-$n did not reach Synced; last lines of $(node_dir "$n")/error.log:" >&2
  tail -n 20 "$(node_dir "$n")/error.log" >&2 2>/dev/null
  return 1
}
