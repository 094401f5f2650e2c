# Helpers shared by scripts/up-redis-sentinel.sh and scripts/up-redis-cluster.sh
# (sourced, never run). Everything listens on 127.0.0.1 only, keeps no data on disk
# (save "", appendonly no) and lives under $REDIS_ROOT.
REDIS_ROOT=${REDIS_TEST_ROOT:-/tmp/session-manager}

die() { echo "!! $(basename "$0"): $*" >&2; exit 1; }

# redis-cli bounded in time, quiet on errors: rcli PORT ARGS...
rcli() { local port=$1; shift; timeout 3 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null; }

rping() { [ "$(rcli "$1" ping)" = PONG ]; }

# One field of INFO: info_field PORT SECTION FIELD
info_field() { rcli "$1" info "$2" | tr -d '\r' | sed -n "s/^$3://p"; }

# Installs the given Debian packages when their command is missing: need CMD:PKG...
# `apt-get update` runs at most once, and only when a plain install fails. Returns
# non-zero when a package could not be installed.
need() {
  local pair cmd pkgs=()
  for pair in "$@"; do
    cmd=${pair%%:*}
    command -v "$cmd" >/dev/null || pkgs+=("${pair#*:}")
  done
  [ ${#pkgs[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || { echo "missing ${pkgs[*]} and installing needs root" >&2; return 1; }
  export DEBIAN_FRONTEND=noninteractive
  echo "$(basename "$0"): installing ${pkgs[*]}"
  if ! apt-get install -y -qq "${pkgs[@]}" >/dev/null 2>&1; then
    { apt-get update -qq && apt-get install -y -qq "${pkgs[@]}" >/dev/null; } || return 1
  fi
}

# A package's postinst may start its default instance (redis-server on 6379,
# redis-sentinel on 26379). 6379 belongs to the machine's own Redis and is never
# touched; a default sentinel on 26379 that is not ours is stopped and disabled.
stop_default_sentinel() {
  local pid
  pid=$(ss -Hltnp 'sport = :26379' 2>/dev/null | grep -o 'pid=[0-9]*' | head -n1 | cut -d= -f2)
  [ -n "$pid" ] || return 0
  echo "$(basename "$0"): stopping the package's default sentinel (pid $pid on 26379)"
  if [ -d /run/systemd/system ]; then
    systemctl disable --now redis-sentinel >/dev/null 2>&1
  else
    update-rc.d redis-sentinel disable >/dev/null 2>&1
    service redis-sentinel stop >/dev/null 2>&1 || kill "$pid"
  fi
}

# PID of our redis process on PORT (from its pidfile, checked against /proc), or nothing.
our_pid() {
  local file="$REDIS_ROOT/redis-$2/$1.pid" pid
  [ -s "$file" ] || return 0
  pid=$(cat "$file")
  if [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "127.0.0.1:$1"; then
    echo "$pid"
  fi
}

# Starts a daemonized redis-server on PORT of GROUP (a dir under $REDIS_ROOT) with
# the common settings plus the extra config lines given on stdin (always redirect it).
start_node() { # port group [extra redis-server args...]
  local port=$1 group=$2 dir="$REDIS_ROOT/redis-$2"
  shift 2
  mkdir -p "$dir/$port"
  {
    echo "port $port"
    echo "bind 127.0.0.1"
    echo "daemonize yes"
    echo "pidfile $dir/$port.pid"
    echo "logfile $dir/$port.log"
    echo "dir $dir/$port"
    echo 'save ""'
    echo "appendonly no"
    cat
  } >"$dir/$port.conf"
  redis-server "$dir/$port.conf" "$@" >/dev/null || die "redis-server on $port did not start ($dir/$port.log)"
}

# Polls CMD (a function name + args) every 0.2 s for up to SECONDS: wait_until SECONDS CMD...
wait_until() {
  local limit=$1 i
  shift
  for i in $(seq 1 $((limit * 5))); do
    "$@" && return 0
    sleep 0.2
  done
  return 1
}

show_logs() { # group ports...
  local group=$1 port
  shift
  for port in "$@"; do
    echo "--- $REDIS_ROOT/redis-$group/$port.log (tail)" >&2
    tail -n 5 "$REDIS_ROOT/redis-$group/$port.log" >&2 2>/dev/null
  done
}
