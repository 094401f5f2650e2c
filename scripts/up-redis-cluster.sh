#!/usr/bin/env bash
# A Redis Cluster for the Redis store's tests, on loopback only: 3 primaries and 3
# replicas on 127.0.0.1:7000-7005, created with `redis-cli --cluster create`,
# cluster-node-timeout 2000 ms, no persistence of data (nodes.conf only).
# Files: /tmp/session-manager/redis-cluster/<port>{.conf,.log,.pid,/nodes.conf}.
# Idempotent: a healthy cluster exits at once. A dead node is restarted from its
# nodes.conf and rejoins; a cluster that still is not healthy after that (e.g. half
# created) is torn down (only our own PIDs) and created afresh.
# Reset everything: kill the PIDs in the *.pid files, remove the directory.
set -u
. "$(dirname "$0")/lib-redis.sh"
PORTS="7000 7001 7002 7003 7004 7005"
DIR="$REDIS_ROOT/redis-cluster"

healthy() {
  local p
  for p in $PORTS; do
    [ "$(rcli "$p" cluster info | tr -d '\r' | grep -cE '^(cluster_state:ok|cluster_slots_ok:16384|cluster_known_nodes:6)$')" = 3 ] ||
      return 1
  done
  # Every primary has its replica attached again (after a restart too).
  [ "$(rcli 7000 cluster nodes | grep -cE ' (myself,)?slave ')" = 3 ] &&
    ! rcli 7000 cluster nodes | grep -qE 'fail|handshake|noaddr'
}

start() { # port
  printf '%s\n' "cluster-enabled yes" "cluster-config-file nodes.conf" \
    "cluster-node-timeout 2000" "cluster-require-full-coverage yes" |
    start_node "$1" cluster
}

create() {
  local p pid hosts=()
  echo "up-redis-cluster: creating the cluster afresh"
  for p in $PORTS; do
    pid=$(our_pid "$p" cluster)
    [ -n "$pid" ] && kill "$pid"
  done
  for p in $PORTS; do wait_until 10 eval "! rping $p" || die "port $p is still taken"; done
  rm -rf "${DIR:?}"
  mkdir -p "$DIR"
  for p in $PORTS; do start "$p"; hosts+=("127.0.0.1:$p"); done
  for p in $PORTS; do wait_until 10 rping "$p" || die "node $p did not answer"; done
  timeout 60 redis-cli --cluster create "${hosts[@]}" --cluster-replicas 1 --cluster-yes >"$DIR/create.log" 2>&1 ||
    { tail -n 20 "$DIR/create.log" >&2; die "redis-cli --cluster create failed"; }
}

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null && healthy; then
  echo "redis cluster: 3 primaries + 3 replicas on 127.0.0.1:7000-7005 (healthy)"
  exit 0
fi

need redis-server:redis-server redis-cli:redis-tools || die "could not install redis-server and redis-tools"
mkdir -p "$DIR"

# Restart dead nodes that have a cluster config to rejoin with.
restarted=0
for p in $PORTS; do
  if ! rping "$p" && [ -s "$DIR/$p/nodes.conf" ]; then start "$p"; restarted=1; fi
done
# Live nodes may still be converging (a replica re-attaching): give them a moment.
if ! wait_until $((restarted ? 20 : 5)) healthy; then create; fi

if wait_until 30 healthy; then
  echo "redis cluster: 3 primaries + 3 replicas on 127.0.0.1:7000-7005 (healthy)"
  exit 0
fi
show_logs cluster $PORTS
die "the cluster did not become healthy within 30 s"
