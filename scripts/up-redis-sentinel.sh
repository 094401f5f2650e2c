#!/usr/bin/env bash
# A Redis Sentinel group for the Redis store's failover tests, on loopback only:
#   data nodes 127.0.0.1:6380 and :6381 (one primary, one replica; no persistence)
#   sentinels  127.0.0.1:26380-26382, master name "sessions", quorum 2,
#              down-after 1000 ms, failover-timeout 5000 ms
# Files: /tmp/session-manager/redis-sentinel/<port>{.conf,.log,.pid,/}.
# Another group (the failover soak's, bench/soak/sentinel.ts) from the environment, the
# defaults being the test suite's group above:
#   REDIS_SENTINEL_NODES="6380 6381"  data node ports, the first one the initial primary
#   REDIS_SENTINEL_PORTS="26380 26381 26382"  sentinel ports (quorum 2)
#   REDIS_SENTINEL_NAME=sessions  master name;  REDIS_SENTINEL_GROUP=sentinel  files
#   under /tmp/session-manager/redis-<group>/
# Idempotent: a healthy group exits at once, whichever node is primary (a failover test
# leaves the roles swapped, and that is healthy). A dead node (e.g. SIGKILLed by a
# test) is restarted as a replica of the primary the sentinels name; a dead sentinel
# is restarted from its own rewritten config. The machine's Redis on 6379 is never
# touched; a default sentinel that installing redis-sentinel may start is stopped.
# Reset everything: kill the PIDs in the *.pid files, remove the directory.
set -u
. "$(dirname "$0")/lib-redis.sh"
NODES=${REDIS_SENTINEL_NODES:-6380 6381}
SENTINELS=${REDIS_SENTINEL_PORTS:-26380 26381 26382}
NAME=${REDIS_SENTINEL_NAME:-sessions}
GROUP=${REDIS_SENTINEL_GROUP:-sentinel}
DIR="$REDIS_ROOT/redis-$GROUP"
FIRST=${NODES%% *}
OTHER_SENTINELS=$(($(echo $SENTINELS | wc -w) - 1))
LABEL="sentinels $(echo $SENTINELS | tr ' ' ,), master name $NAME"

# The primary the sentinel on PORT names, as a port.
named_by() { rcli "$1" sentinel get-master-addr-by-name "$NAME" | sed -n 2p; }
# One field of SENTINEL MASTER as seen by the sentinel on PORT.
master_field() { rcli "$1" sentinel master "$NAME" | paste - - | tr -d '\r' | awk -v k="$2" '$1 == k { print $2 }'; }
is_node() { case " $NODES " in *" $1 "*) [ -n "$1" ] ;; *) false ;; esac; }
# The data nodes other than PORT (the replicas, when PORT is the primary).
others_of() { local n; for n in $NODES; do [ "$n" = "$1" ] || echo "$n"; done; }

healthy() {
  local s primary="" m replica
  for s in $SENTINELS; do
    m=$(named_by "$s")
    [ -n "$m" ] && { [ -z "$primary" ] || [ "$primary" = "$m" ]; } || return 1
    primary=$m
    [ "$(master_field "$s" flags)" = master ] || return 1
    [ "$(master_field "$s" num-other-sentinels)" = "$OTHER_SENTINELS" ] || return 1
  done
  # Every sentinel must also see each replica up ("slave", not "s_down,slave"): a node
  # restarted moments ago is not yet a candidate, and a failover right then finds none
  # and leaves the killed, restarted and empty primary in place (every session lost).
  local expected flags
  expected=$(others_of "$primary" | wc -w)
  for s in $SENTINELS; do
    flags=$(rcli "$s" sentinel replicas "$NAME" | paste - - | tr -d '\r' | awk '$1 == "flags" { print $2 }')
    [ "$(printf '%s\n' "$flags" | grep -c '^slave$')" = "$expected" ] || return 1
  done
  is_node "$primary" || return 1
  [ "$(info_field "$primary" replication role)" = master ] || return 1
  for replica in $(others_of "$primary"); do
    [ "$(info_field "$replica" replication role)" = slave ] &&
      [ "$(info_field "$replica" replication master_port)" = "$primary" ] &&
      [ "$(info_field "$replica" replication master_link_status)" = up ] || return 1
  done
}

# The current primary: what a sentinel says, else a live node in the master role,
# else the last one a sentinel wrote into its config, else the first node.
current_primary() {
  local s n m
  for s in $SENTINELS; do
    m=$(named_by "$s")
    is_node "$m" && { echo "$m"; return; }
  done
  for n in $NODES; do
    [ "$(info_field "$n" replication role)" = master ] && { echo "$n"; return; }
  done
  for s in $SENTINELS; do
    m=$(sed -n "s/^sentinel monitor $NAME 127.0.0.1 \([0-9]*\) .*/\1/p" "$DIR/$s.conf" 2>/dev/null)
    is_node "$m" && { echo "$m"; return; }
  done
  echo "$FIRST"
}

primary_moved_from() { [ "$(current_primary)" != "$1" ]; }

start_sentinel() { # port primary
  local port=$1 primary=$2 conf="$DIR/$1.conf"
  # A sentinel's own config (rewritten by it) keeps its id and what it learnt; reuse
  # it while it monitors the current primary, else write a fresh one.
  if ! grep -q "^sentinel monitor $NAME 127.0.0.1 $primary " "$conf" 2>/dev/null; then
    mkdir -p "$DIR/$port"
    cat >"$conf" <<EOF
port $port
bind 127.0.0.1
daemonize yes
pidfile $DIR/$port.pid
logfile $DIR/$port.log
dir $DIR/$port
sentinel monitor $NAME 127.0.0.1 $primary 2
sentinel down-after-milliseconds $NAME 1000
sentinel failover-timeout $NAME 5000
sentinel parallel-syncs $NAME 1
EOF
  fi
  run_sentinel "$conf" >/dev/null || die "sentinel on $port did not start ($DIR/$port.log)"
}

if command -v redis-server >/dev/null && command -v redis-cli >/dev/null && healthy; then
  echo "redis sentinel: primary 127.0.0.1:$(current_primary), replicas, $LABEL (healthy)"
  exit 0
fi

need redis-server:redis-server redis-cli:redis-tools || die "could not install redis-server and redis-tools"
if command -v redis-sentinel >/dev/null || need redis-sentinel:redis-sentinel; then
  stop_default_sentinel
  run_sentinel() { redis-sentinel "$1"; }
else
  # The same binary runs as a sentinel with --sentinel; the package only adds a unit.
  echo "up-redis-sentinel: redis-sentinel not installable; using redis-server --sentinel" >&2
  run_sentinel() { redis-server "$1" --sentinel; }
fi
mkdir -p "$DIR"

primary=$(current_primary)
# The named primary is dead but a replica lives: let the sentinels promote a
# replica rather than restart the primary empty (it would wipe the replicas' copy).
replica_alive() { local n; for n in $(others_of "$1"); do rping "$n" && return 0; done; return 1; }
if ! rping "$primary" && replica_alive "$primary"; then
  echo "up-redis-sentinel: primary $primary is down; waiting for the sentinels to fail over"
  wait_until 20 primary_moved_from "$primary"
  primary=$(current_primary)
fi
for n in $NODES; do
  rping "$n" && continue
  if [ "$n" = "$primary" ]; then
    start_node "$n" "$GROUP" </dev/null
  else
    echo "replicaof 127.0.0.1 $primary" | start_node "$n" "$GROUP"
  fi
done
for s in $SENTINELS; do
  rping "$s" || start_sentinel "$s" "$primary"
done

if wait_until 30 healthy; then
  echo "redis sentinel: primary 127.0.0.1:$(current_primary), replicas, $LABEL (healthy)"
  exit 0
fi
show_logs "$GROUP" $NODES $SENTINELS
die "the sentinel group did not become healthy within 30 s"
