#!/usr/bin/env bash
# etcd for the etcd store's tests, on loopback only, from Debian's packages (3.4).
#   single member  "solo"    client 127.0.0.1:23790  peer 23800  (contract suite)
#   3-member cluster c1..c3  clients 23791-23793     peers 23801-23803 (failure tests)
# Data dirs and logs: /tmp/session-manager/etcd-<name>{,.log,.pid}.
# Idempotent: healthy members exit at once; a dead member (e.g. SIGKILLed by a test)
# is restarted from its data dir and rejoins. The package's default instance
# (2379/2380) is never used: if installing started it, it is stopped and disabled.
# Reset everything: stop the PIDs in /tmp/session-manager/etcd-*.pid, remove the dirs.
set -u
ROOT=${ETCD_TEST_ROOT:-/tmp/session-manager}
SOLO="solo:23790:23800"
CLUSTER="c1:23791:23801 c2:23792:23802 c3:23793:23803"

die() { echo "!! up-etcd: $*" >&2; exit 1; }

# Run with no ETCD_*/ETCDCTL_* variables of the caller: etcd reads every ETCD_* as a
# flag (the tests' ETCD_URL, ETCD_CLUSTER would be "unrecognized"; a stray
# ETCD_UNSUPPORTED_ARCH or ETCD_DATA_DIR would change behaviour).
CLEAN_ENV=()
for v in $(compgen -e); do
  case $v in ETCD_* | ETCDCTL_*) CLEAN_ENV+=(-u "$v") ;; esac
done
# etcd 3.4 refuses to start on architectures other than amd64/arm64 without this.
case $(uname -m) in
  x86_64 | aarch64) ;;
  *) CLEAN_ENV+=(ETCD_UNSUPPORTED_ARCH="$(dpkg --print-architecture)") ;;
esac
clean_env() { env "${CLEAN_ENV[@]}" "$@"; }

ctl() { clean_env ETCDCTL_API=3 etcdctl --dial-timeout=2s --command-timeout=3s "$@"; }

healthy() { # endpoints (comma-separated)
  ctl --endpoints="$1" endpoint health >/dev/null 2>&1
}

member_pid() { # name -> pid of our running etcd for that member, or nothing
  local file="$ROOT/etcd-$1.pid" pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "--name $1 "; then
    echo "$pid"
  fi
}

start_member() { # name client peer initial-cluster token
  local name=$1 client=$2 peer=$3 initial=$4 token=$5 dir="$ROOT/etcd-$1"
  [ -n "$(member_pid "$name")" ] && return 0
  mkdir -p "$dir" && chmod 700 "$dir"
  # A data dir without a member/ subdir is an aborted first start: begin afresh.
  [ -d "$dir/member" ] || rm -rf "${dir:?}"/*
  # exec all the way down (env, setsid, nohup), so $! is etcd's own PID: the tests
  # SIGKILL exactly that process.
  (exec env "${CLEAN_ENV[@]}" setsid nohup etcd \
    --name "$name" --data-dir "$dir" \
    --listen-client-urls "http://127.0.0.1:$client" \
    --advertise-client-urls "http://127.0.0.1:$client" \
    --listen-peer-urls "http://127.0.0.1:$peer" \
    --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
    --initial-cluster "$initial" --initial-cluster-token "$token" \
    --initial-cluster-state new \
    --heartbeat-interval 100 --election-timeout 1000 \
    </dev/null >>"$dir.log" 2>&1) &
  echo $! >"$dir.pid"
}

# group: "name:client:peer ..." -> starts the missing members, waits for health
up_group() {
  local group=$1 token=$2 initial="" endpoints="" m name client peer i
  for m in $group; do
    IFS=: read -r name client peer <<<"$m"
    initial+="${initial:+,}$name=http://127.0.0.1:$peer"
    endpoints+="${endpoints:+,}http://127.0.0.1:$client"
  done
  local all_ok=1
  for m in $group; do
    IFS=: read -r name client peer <<<"$m"
    # No process: no need to wait for etcdctl's dial timeout to know.
    [ -n "$(member_pid "$name")" ] && healthy "http://127.0.0.1:$client" || { all_ok=0; break; }
  done
  if [ $all_ok = 1 ]; then echo "etcd $token: healthy on $endpoints"; return 0; fi
  for m in $group; do
    IFS=: read -r name client peer <<<"$m"
    start_member "$name" "$client" "$peer" "$initial" "$token"
  done
  for i in $(seq 1 60); do
    all_ok=1
    for m in $group; do
      IFS=: read -r name client peer <<<"$m"
      healthy "http://127.0.0.1:$client" || { all_ok=0; break; }
    done
    if [ $all_ok = 1 ]; then echo "etcd $token: healthy on $endpoints"; return 0; fi
    sleep 0.5
  done
  for m in $group; do
    IFS=: read -r name _ <<<"$m"
    echo "--- $ROOT/etcd-$name.log (tail)" >&2
    tail -n 5 "$ROOT/etcd-$name.log" >&2 2>/dev/null
  done
  die "etcd $token did not become healthy on $endpoints within 30 s"
}

stop_default_instance() {
  # The package's own instance (if its postinst could start one) listens on 2379.
  local pid
  pid=$(ss -Hltnp 'sport = :2379' 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)
  [ -n "$pid" ] || return 0
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$ROOT" && return 0
  [ "$(basename "$(readlink "/proc/$pid/exe")")" = etcd ] || return 0
  echo "up-etcd: stopping the package's default etcd instance (pid $pid on 2379)"
  if [ -d /run/systemd/system ]; then
    systemctl disable --now etcd >/dev/null 2>&1
  else
    update-rc.d etcd disable >/dev/null 2>&1
    service etcd stop >/dev/null 2>&1 || kill "$pid"
  fi
}

# Fast path: everything already answers.
if command -v etcd >/dev/null && command -v etcdctl >/dev/null &&
  [ -n "$(member_pid solo)" ] && [ -n "$(member_pid c1)" ] &&
  [ -n "$(member_pid c2)" ] && [ -n "$(member_pid c3)" ] &&
  healthy http://127.0.0.1:23790 &&
  healthy http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793 &&
  [ "$(ctl --endpoints=http://127.0.0.1:23791,http://127.0.0.1:23792,http://127.0.0.1:23793 \
    endpoint health 2>&1 | grep -c 'is healthy')" = 3 ]; then
  echo "etcd: single member on 127.0.0.1:23790, cluster on 127.0.0.1:23791-23793 (healthy)"
  exit 0
fi

if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null; then
  [ "$(id -u)" = 0 ] || die "etcd is not installed and installing it needs root"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq etcd-server etcd-client >/dev/null 2>&1; then
    { apt-get update -qq && apt-get install -y -qq etcd-server etcd-client >/dev/null; } ||
      die "could not install etcd-server and etcd-client"
  fi
  stop_default_instance
fi
command -v etcd >/dev/null || die "no etcd binary after installing etcd-server"

mkdir -p "$ROOT"
up_group "$SOLO" sm-etcd-solo
up_group "$CLUSTER" sm-etcd-cluster
