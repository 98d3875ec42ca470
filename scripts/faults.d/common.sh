# shellcheck shell=bash
# Shared by scripts/faults and scripts/faults.d/hook. Source it; do not execute it.
#
# Everything the rig starts lives under one run directory, FAULT_RUN (a mktemp dir under /tmp):
#   pg/ pgsock/ pg.log         the private PostgreSQL (owned by the postgres user)
#   redis/redis.conf ...       the standalone Redis
#   cluster/<port>/redis.conf  the six Redis Cluster nodes
#   apps/<name>.pid            app instances (their logs go to FAULT_LOG_DIR)
# The servers are found again by their pid files, so the hook (a separate process) and the EXIT trap of
# scripts/faults stop exactly what the rig started, and nothing else.

fr_log() { printf '==> %s\n' "$*" >&2; }
fr_note() { printf '    %s\n' "$*" >&2; }
fr_die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 2
}

fr_as_postgres() { (cd / && runuser -u postgres -- "$@"); }

fr_rcli() { # port, args... (the password comes from REDISCLI_AUTH)
  local port=$1
  shift
  timeout 5 redis-cli -h 127.0.0.1 -p "$port" "$@" </dev/null 2>/dev/null
}

# pid from a pid file, if that process is alive and its command starts with $2.
fr_pid_of() {
  local pidfile=$1 want=$2 pid
  [[ -f $pidfile ]] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [[ -n $pid && -r /proc/$pid/comm ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == "$want"* ]] || return 1
  printf '%s\n' "$pid"
}

# Sends SIGTERM (after SIGCONT, for a frozen node), waits up to 10 s, then SIGKILL.
fr_stop_pid() {
  local pid=$1 i
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    [[ -d /proc/$pid ]] || return 0
    # A zombie child of ours is gone for our purposes.
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
}

fr_wait_gone() {
  local pid=$1 i
  for ((i = 0; i < 100; i++)); do
    [[ -d /proc/$pid ]] || return 0
    [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == Z ]] && return 0
    sleep 0.05
  done
  return 1
}

fr_wait_ping() {
  local port=$1 i
  # 30 s: a restart from a snapshot answers LOADING until the dump is read.
  for ((i = 0; i < 300; i++)); do
    [[ $(fr_rcli "$port" PING) == PONG ]] && return 0
    sleep 0.1
  done
  return 1
}

# ---- PostgreSQL ----------------------------------------------------------------------------------------------

fr_pg_ctl() { fr_as_postgres "$FAULT_PG_BIN/pg_ctl" -D "$FAULT_RUN/pg" "$@" </dev/null >/dev/null 2>&1; }

fr_pg_running() { fr_as_postgres "$FAULT_PG_BIN/pg_ctl" -D "$FAULT_RUN/pg" status </dev/null >/dev/null 2>&1; }

fr_pg_start() { fr_pg_ctl -l "$FAULT_RUN/pg.log" -w -t 60 start; }

fr_pg_stop() { fr_pg_ctl -m "${1:-fast}" -w -t 60 stop; }

# ---- Redis ---------------------------------------------------------------------------------------------------

fr_redis_dir() { # "standalone" or a cluster port
  if [[ $1 == standalone ]]; then printf '%s\n' "$FAULT_RUN/redis"; else printf '%s\n' "$FAULT_RUN/cluster/$1"; fi
}

fr_redis_port() { if [[ $1 == standalone ]]; then printf '%s\n' "$FAULT_REDIS_PORT"; else printf '%s\n' "$1"; fi; }

# fr_redis_start NODE [snapshot]: starts a stopped server on its config. It starts empty (a dump.rdb left by a SAVE is
# removed first) unless "snapshot" is given: then it loads the dump.rdb in its dir, as a crashed Redis with RDB
# persistence does, and waits until the load is done (PING answers LOADING until then).
fr_redis_start() {
  local dir port
  dir=$(fr_redis_dir "$1")
  port=$(fr_redis_port "$1")
  if fr_pid_of "$dir/redis.pid" redis-server >/dev/null; then return 0; fi
  rm -f "$dir/redis.pid"
  [[ ${2:-} == snapshot ]] || rm -f "$dir/dump.rdb"
  redis-server "$dir/redis.conf" </dev/null >/dev/null 2>&1 || return 1
  fr_wait_ping "$port"
}

# SIGKILL (kill) or a clean SHUTDOWN NOSAVE (stop); both wait until the process is gone.
fr_redis_kill() {
  local dir pid
  dir=$(fr_redis_dir "$1")
  pid=$(fr_pid_of "$dir/redis.pid" redis-server) || return 0
  kill -KILL "$pid" 2>/dev/null || true
  fr_wait_gone "$pid"
}

fr_redis_shutdown() {
  local dir port pid
  dir=$(fr_redis_dir "$1")
  port=$(fr_redis_port "$1")
  pid=$(fr_pid_of "$dir/redis.pid" redis-server) || return 0
  fr_rcli "$port" SHUTDOWN NOSAVE >/dev/null || true
  fr_wait_gone "$pid" || { kill -KILL "$pid" 2>/dev/null || true; fr_wait_gone "$pid"; }
}

fr_redis_signal() { # node, signal
  local dir pid
  dir=$(fr_redis_dir "$1")
  pid=$(fr_pid_of "$dir/redis.pid" redis-server) || return 1
  kill "-$2" "$pid"
}

# ---- App instances -------------------------------------------------------------------------------------------

# fr_app_start NAME PORT MODE REDIS PREFIX DATABASE LOGFILE [NAME=VALUE...]: start one instance, wait for /health/ready.
fr_app_start() {
  local name=$1 port=$2 mode=$3 redis=$4 prefix=$5 db=$6 logf=$7
  shift 7
  local url="http://127.0.0.1:$port" pidfile="$FAULT_RUN/apps/$name.pid" pid i code=""
  mkdir -p "$FAULT_RUN/apps"
  printf '\n===== %s %s Auth__Mode=%s Redis=%s prefix=%s %s =====\n' "$(date -u +%FT%TZ)" "$name" "$mode" "${redis%%,password=*}" "$prefix" "$*" >>"$logf"
  (
    cd "$(dirname "$FAULT_APP_DLL")" || exit 1
    exec env ASPNETCORE_URLS="$url" \
      ConnectionStrings__Postgres="Host=127.0.0.1;Port=$FAULT_PG_PORT;Database=$db;Username=sessiongate;Password=sessiongate" \
      Redis__Configuration="$redis" \
      Redis__KeyPrefix="$prefix" \
      Auth__Mode="$mode" \
      Management__Urls= \
      Database__MigrateOnStart=true \
      Demo__Seed=true \
      Demo__Password=demo-password-123 \
      Bootstrap__AdminPassword=platform-password-123 \
      Session__SlidingWriteInterval=00:00:05 \
      PasswordHashing__MaxWait=00:00:20 \
      "$@" \
      dotnet "$FAULT_APP_DLL"
  ) </dev/null >>"$logf" 2>&1 &
  pid=$!
  printf '%s\n' "$pid" >"$pidfile"
  for ((i = 0; i < 480; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      printf 'app %s exited before it was ready; last lines of %s:\n' "$name" "$logf" >&2
      tail -n 30 "$logf" >&2
      return 1
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url/health/ready" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.25
  done
  printf 'app %s not ready on %s within 120 s (last status %s)\n' "$name" "$url" "${code:-none}" >&2
  return 1
}

fr_app_stop() {
  local pidfile="$FAULT_RUN/apps/$1.pid" pid
  [[ -f $pidfile ]] || return 0
  pid=$(tr -dc '0-9' <"$pidfile")
  rm -f "$pidfile"
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  fr_stop_pid "$pid"
}

fr_apps_stop_all() {
  local f
  for f in "$FAULT_RUN"/apps/*.pid; do
    [[ -f $f ]] || continue
    fr_app_stop "$(basename "$f" .pid)"
  done
}
