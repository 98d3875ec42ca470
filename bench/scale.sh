#!/usr/bin/env bash
# bench/scale.sh — SessionGate at a million live sessions, on its own PostgreSQL and Redis.
#
# Builds the app and bench/Scale, starts a private PostgreSQL (initdb under .local/scale, run as the postgres
# user, pg_stat_statements preloaded) and private Redis servers on free loopback ports below 32768, seeds sessions
# through the app's own session code, and measures what a million sessions could break. The table goes to
# .local/scale/results.md and is printed at the end. Everything it started is stopped on exit.
#
#   bench/scale.sh                      # the whole run (about 20-30 minutes on the 2-core machine)
#   SCALE_SESSIONS=200000 bench/scale.sh   # a smaller run
#
# Knobs (environment) and defaults are listed under "Knobs" below; docs/SCALING.md explains the method.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
OUT=${SCALE_OUT:-$ROOT/.local/scale}

# ---- Knobs -----------------------------------------------------------------------------------------------------------
SESSIONS=${SCALE_SESSIONS:-1000000}        # live sessions at the big end, the heavy user's included
SMALL=${SCALE_SMALL:-10000}                # live sessions at the small end
TENANTS=${SCALE_TENANTS:-100}
USERS=${SCALE_USERS:-100000}
HEAVY=${SCALE_HEAVY:-1000}                 # sessions of the one user that kick-all ends
SAMPLE=${SCALE_SAMPLE:-10000}              # sessions the hot-path requests are spread over
SLIDE_SESSIONS=${SCALE_SLIDE_SESSIONS:-100000}
ROUNDS=${SCALE_ROUNDS:-6}                  # interleaved wrk rounds, 10k vs 1M (even: each order equally often)
CONTROL_ROUNDS=${SCALE_CONTROL_ROUNDS:-4}
SIMUL_ROUNDS=${SCALE_SIMUL_ROUNDS:-3}      # rounds with both sides loaded at once (the same machine state for both)  # interleaved wrk rounds while both sides hold 10k (the A/A control)
DURATION=${SCALE_DURATION:-5s}
WARMUP=${SCALE_WARMUP:-3s}
CONNECTIONS=${SCALE_CONNECTIONS:-32}
THREADS=${SCALE_THREADS:-1}
PAGE_ROUNDS=${SCALE_PAGE_ROUNDS:-15}
PAGE_OPS=${SCALE_PAGE_OPS:-10}              # admin pages per statement-count window
KICK_ROUNDS=${SCALE_KICK_ROUNDS:-5}
LOGIN_USERS=${SCALE_LOGIN_USERS:-32}
LOGIN_ROUNDS=${SCALE_LOGIN_ROUNDS:-2}
LOGIN_DURATION=${SCALE_LOGIN_DURATION:-10s}
LOGIN_CONNECTIONS=${SCALE_LOGIN_CONNECTIONS:-8}
OPS=${SCALE_OPS:-40}                       # operations per statement-count window
SLIDE_DURATION=${SCALE_SLIDE_DURATION:-20}  # seconds of requests over SLIDE_SESSIONS sessions
CAPACITY_SECONDS=${SCALE_CAPACITY_SECONDS:-10}
DRAIN=${SCALE_DRAIN:-2000}                  # logouts committed while Redis refuses writes, then drained by the relay
PORT_BASE=${SCALE_PORT_BASE:-24100}
KEEP=${SCALE_KEEP:-0}                      # 1: keep the databases' data dirs after the run
SKIP_BUILD=${SCALE_SKIP_BUILD:-0}

IDLE_TIMEOUT=02:00:00      # seeded sessions must stay live for the whole run (see docs/SCALING.md)
ABSOLUTE_TIMEOUT=12:00:00
ADMIN_PASSWORD=platform-password-123
LOGIN_PASSWORD=scale-login-password-1
BIG_TENANT=scale-000
LOGIN_TENANT=scale-001

BUILD=$OUT/build
DATA=$OUT/data
LOGS=$OUT/logs
WRK_DIR=$OUT/wrk
STMT_DIR=$OUT/statements
RESULTS=$OUT/results.md
CREDS_LUA=$ROOT/bench/creds.lua
LOGIN_LUA=$ROOT/bench/Scale/login.lua

log() { printf '==> [%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

START_TS=$(date +%s)
PHASES=()
PHASE_NAME="" PHASE_T0=0
phase() {
  local now
  now=$(date +%s)
  [[ -n $PHASE_NAME ]] && PHASES+=("$PHASE_NAME|$((now - PHASE_T0))")
  PHASE_NAME=$1 PHASE_T0=$now
  [[ -n $1 ]] && log "$1"
  return 0
}

# ---- Tools -----------------------------------------------------------------------------------------------------------
need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
command -v jq >/dev/null 2>&1 || need_apt+=(jq)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
if ((${#need_apt[@]})); then
  log "Installing ${need_apt[*]} (apt-get)"
  DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need_apt[@]}" >/dev/null
fi
for t in dotnet wrk redis-server redis-cli curl jq runuser; do command -v "$t" >/dev/null 2>&1 || die "$t is required"; done
PG_BIN=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V | tail -1)
[[ -x $PG_BIN/initdb && -x $PG_BIN/pg_ctl && -x $PG_BIN/psql ]] || die "PostgreSQL binaries not found under /usr/lib/postgresql"
id postgres >/dev/null 2>&1 || die "the postgres OS user is missing (apt-get install postgresql)"
CLK_TCK=$(getconf CLK_TCK)

# ---- Processes we start, and stopping them ---------------------------------------------------------------------------
declare -A APP_PID=()
REDIS_PIDS=()
PG_STARTED=0
PG_DATA=$DATA/pg
PG_SOCK=/tmp/sg-scale-pg-$(printf '%s' "$OUT" | cksum | cut -d' ' -f1)

as_postgres() { (cd / && runuser -u postgres -- "$@"); }

stop_app() {
  local name=$1 pid=${APP_PID[$1]:-}
  [[ -z $pid ]] && return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  unset "APP_PID[$name]"
}

cleanup() {
  local rc=$?
  set +e
  for name in "${!APP_PID[@]}"; do stop_app "$name"; done
  for pid in "${REDIS_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  for pid in "${REDIS_PIDS[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null
  done
  if ((PG_STARTED)); then
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1
  fi
  if [[ $KEEP != 1 ]]; then
    rm -rf "$DATA" "$PG_SOCK"
  fi
  if ((rc != 0)); then
    printf '\nERROR: bench/scale.sh failed (exit %s); logs in %s\n' "$rc" "${LOGS#"$ROOT"/}" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- Ports -----------------------------------------------------------------------------------------------------------
TAKEN_PORTS=" "
port_in_use() {
  ss -Hltn "sport = :$1" 2>/dev/null | grep -q . && return 0
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
  return 1
}
free_port() { # sets FREE_PORT: free, >= $1 and < 32768 (the ephemeral range starts there), never handed out before
  local p=$1
  while ((p < 32768)); do
    if [[ $TAKEN_PORTS != *" $p "* ]] && ! port_in_use "$p"; then
      TAKEN_PORTS+="$p "
      FREE_PORT=$p
      return 0
    fi
    p=$((p + 1))
  done
  die "no free port between $1 and 32767"
}

# ---- CPU accounting (clock ticks of utime + stime) ---------------------------------------------------------------------
ticks() {
  local total=0 pid v
  for pid in "$@"; do
    if [[ -r /proc/$pid/stat ]]; then
      v=$(sed -E 's/^.*\) //' "/proc/$pid/stat" 2>/dev/null | awk '{print $12 + $13}') || v=0
      total=$((total + ${v:-0}))
    fi
  done
  printf '%s\n' "$total"
}
pg_pids() {
  local pm
  pm=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 0
  printf '%s\n' "$pm"
  pgrep -P "$pm" 2>/dev/null || true
}
pg_ticks() { mapfile -t _pids < <(pg_pids); ticks "${_pids[@]}"; }
cpu_s() { awk -v t="$1" -v h="$CLK_TCK" 'BEGIN { printf "%.2f", t / h }'; }

# ---- Small arithmetic helpers ------------------------------------------------------------------------------------------
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
kv() { sed -n "s/^$2=//p" "$1" | tail -1; } # kv FILE KEY: a key=value line the tool printed

# ======================================================================================================================
mkdir -p "$OUT"
if [[ -f $PG_DATA/postmaster.pid ]]; then
  log "Stopping the PostgreSQL a previous run left in ${PG_DATA#"$ROOT"/}"
  as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null 2>&1 || true
fi
rm -rf "$DATA" "$LOGS" "$WRK_DIR" "$STMT_DIR"
mkdir -p "$DATA" "$LOGS" "$WRK_DIR" "$STMT_DIR" "$BUILD"
log "Scale bench: $SESSIONS sessions (vs $SMALL), $USERS users in $TENANTS tenants; output in ${OUT#"$ROOT"/}"

# ---- Build ----------------------------------------------------------------------------------------------------------
phase "Building the app (migrations/Migrations.csproj) and bench/Scale in Release"
if [[ $SKIP_BUILD != 1 || ! -f $BUILD/app/App.dll || ! -f $BUILD/scale/Scale.dll ]]; then
  dotnet build "$ROOT/migrations/Migrations.csproj" -c Release -o "$BUILD/app" -nologo -v q >"$LOGS/build-app.log" 2>&1 ||
    { tail -30 "$LOGS/build-app.log" >&2; die "building the app failed"; }
  dotnet build "$ROOT/bench/Scale/Scale.csproj" -c Release -o "$BUILD/scale" -nologo -v q >"$LOGS/build-scale.log" 2>&1 ||
    { tail -30 "$LOGS/build-scale.log" >&2; die "building bench/Scale failed"; }
fi
scale() { dotnet "$BUILD/scale/Scale.dll" "$@"; }

# ---- PostgreSQL -----------------------------------------------------------------------------------------------------
phase "Starting a private PostgreSQL"
free_port "$PORT_BASE"; PG_PORT=$FREE_PORT
# The postgres user must be able to reach the data dir.
p=""
IFS=/ read -r -a comps <<<"$DATA"
for c in "${comps[@]}"; do
  [[ -z $c ]] && continue
  p="$p/$c"
  as_postgres test -x "$p" || chmod o+x "$p"
done
mkdir -p "$PG_DATA" "$PG_SOCK"
chown postgres: "$PG_DATA" "$PG_SOCK"
chmod 700 "$PG_DATA" "$PG_SOCK"
locale_opt=(--no-locale)
locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$' && locale_opt=(--locale=C.UTF-8)
as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 "${locale_opt[@]}" --auth-local=peer --auth-host=scram-sha-256 \
  >"$LOGS/initdb.log" 2>&1 || { tail -20 "$LOGS/initdb.log" >&2; die "initdb failed"; }
cat >>"$PG_DATA/postgresql.conf" <<EOF

# --- bench/scale.sh ---
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$PG_SOCK'
max_connections = 300
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.max = 5000
pg_stat_statements.track_utility = on
shared_buffers = 512MB
maintenance_work_mem = 256MB
max_wal_size = 4GB
checkpoint_timeout = 30min
EOF
touch "$LOGS/postgres.log"
chown postgres: "$LOGS/postgres.log"
as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOGS/postgres.log" -w -t 60 start >/dev/null ||
  { tail -20 "$LOGS/postgres.log" >&2; die "PostgreSQL did not start"; }
PG_STARTED=1
# The app's role has the least privilege it needs (as scripts/run sets it up): no superuser. The bench's own queries
# (statistics, sizes, VACUUM) run as postgres over the socket, and pg_stat_statements is read for the app's role only.
as_postgres "$PG_BIN/psql" -X -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
  -c "CREATE ROLE sessiongate LOGIN NOSUPERUSER NOCREATEROLE CREATEDB PASSWORD 'sessiongate'" \
  -c "CREATE DATABASE sg_small OWNER sessiongate" -c "CREATE DATABASE sg_big OWNER sessiongate" >/dev/null
pg_cs() { printf 'Host=127.0.0.1;Port=%s;Database=%s;Username=sessiongate;Password=sessiongate' "$PG_PORT" "$1"; }
psql_db() { local db=$1; shift; as_postgres "$PG_BIN/psql" -X -h "$PG_SOCK" -p "$PG_PORT" -U postgres -d "$db" -v ON_ERROR_STOP=1 -qtA -F $'\t' "$@"; }
psql_db sg_big -c "CREATE EXTENSION pg_stat_statements" >/dev/null
APP_STATEMENTS="userid = 'sessiongate'::regrole AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
note "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$PG_PORT (data: ${PG_DATA#"$ROOT"/})"

# ---- Redis ----------------------------------------------------------------------------------------------------------
# Password-protected and never evicting, as scripts/run sets Redis up; the password lives only in this run.
REDIS_PASSWORD=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
export REDISCLI_AUTH=$REDIS_PASSWORD
start_redis() { # name -> sets REDIS_PORT and REDIS_PID_<name>
  local name=$1 port
  free_port "$((PORT_BASE + 10))"; port=$FREE_PORT
  mkdir -p "$DATA/redis-$name"
  redis-server --port "$port" --bind 127.0.0.1 --requirepass "$REDIS_PASSWORD" --save '' --appendonly no \
    --maxmemory-policy noeviction --dir "$DATA/redis-$name" </dev/null >"$LOGS/redis-$name.log" 2>&1 &
  REDIS_PIDS+=($!)
  eval "REDIS_PID_$name=$!"
  for _ in $(seq 1 100); do
    [[ $(redis-cli --no-auth-warning -p "$port" PING 2>/dev/null) == PONG ]] && { REDIS_PORT=$port; return 0; }
    sleep 0.1
  done
  die "redis-server ($name) did not start on $port"
}
phase "Starting two private Redis servers (10k side and 1M side)"
start_redis small; REDIS_SMALL=$REDIS_PORT
start_redis big; REDIS_BIG=$REDIS_PORT
note "Redis $(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/'): small on $REDIS_SMALL, big on $REDIS_BIG"
rcli() { local port=$1; shift; redis-cli --no-auth-warning -p "$port" "$@"; }
redis_cfg() { printf '127.0.0.1:%s,password=%s' "$1" "$REDIS_PASSWORD"; }
used_memory() { rcli "$1" INFO memory | tr -d '\r' | sed -n 's/^used_memory://p'; }

# ---- The app --------------------------------------------------------------------------------------------------------
free_port "$((PORT_BASE + 20))"; APP_PORT_SMALL=$FREE_PORT
free_port "$((PORT_BASE + 21))"; APP_PORT_BIG=$FREE_PORT
start_app() { # name port db redis-port mode [VAR=value ...]
  local name=$1 port=$2 db=$3 rport=$4 mode=$5
  shift 5
  env ConnectionStrings__Postgres="$(pg_cs "$db")" \
    Redis__Configuration="$(redis_cfg "$rport")" \
    Database__MigrateOnStart=true \
    Management__Urls= \
    Auth__Mode="$mode" \
    Serilog__MinimumLevel__Default=Warning \
    Bootstrap__AdminPassword="$ADMIN_PASSWORD" \
    ASPNETCORE_URLS="http://127.0.0.1:$port" \
    Session__IdleTimeout="$IDLE_TIMEOUT" \
    Session__AbsoluteTimeout="$ABSOLUTE_TIMEOUT" \
    LoginLimits__RequestsPerMinutePerIp=1000000 \
    RateLimits__PerSessionPerSecond=0 RateLimits__StateChangesPerSessionPerSecond=0 RateLimits__PerAddressPerSecond=0 \
    PasswordHashing__MaxWait=00:00:30 \
    "$@" dotnet "$BUILD/app/App.dll" </dev/null >>"$LOGS/app-$name.log" 2>&1 &
  APP_PID[$name]=$!
  local i
  for ((i = 0; i < 600; i++)); do
    if [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/health/ready" 2>/dev/null) == 200 ]]; then
      note "app '$name' ($mode) ready on :$port (pid ${APP_PID[$name]})"
      return 0
    fi
    kill -0 "${APP_PID[$name]}" 2>/dev/null || { tail -30 "$LOGS/app-$name.log" >&2; die "app '$name' exited during start-up"; }
    sleep 0.2
  done
  tail -30 "$LOGS/app-$name.log" >&2
  die "app '$name' was not ready within 120 s"
}
login_json() { # url tenant user password
  curl -sf --max-time 30 "$1/auth/login" -H 'content-type: application/json' \
    -d "{\"tenant\":\"$2\",\"username\":\"$3\",\"password\":\"$4\",\"device_type\":\"api\"}"
}
admin_session() { login_json "$1" system admin "$ADMIN_PASSWORD" | jq -er .session_id; }
# tcurl LABEL CURL-ARGS...: one timed request; the body goes to $DATA/body, the status is printed, and the client's
# latency (curl's time_total, seconds) is appended to $DATA/lat-LABEL.txt for the statements table.
tcurl() {
  local label=$1 out
  shift
  out=$(curl -s --max-time 30 -o "$DATA/body" -w '%{http_code} %{time_total}' "$@") || out="000 0"
  printf '%s\n' "${out#* }" >>"$DATA/lat-$label.txt"
  printf '%s' "${out%% *}"
}
login_body() { # tenant user password
  printf '{"tenant":"%s","username":"%s","password":"%s","device_type":"api"}' "$1" "$2" "$3"
}

phase "Starting the app twice (10k side on sg_small, 1M side on sg_big; Opaque); each migrates and creates its keys"
start_app small "$APP_PORT_SMALL" sg_small "$REDIS_SMALL" Opaque
start_app big "$APP_PORT_BIG" sg_big "$REDIS_BIG" Opaque
URL_SMALL=http://127.0.0.1:$APP_PORT_SMALL
URL_BIG=http://127.0.0.1:$APP_PORT_BIG

# ---- Seeding ----------------------------------------------------------------------------------------------------------
seed() { # side db redis-port add
  scale seed --postgres "$(pg_cs "$2")" --redis "$(redis_cfg "$3")" --add "$4" --credentials "$DATA/creds-$1.txt" \
    --tenants "$TENANTS" --users "$USERS" --idle-timeout "$IDLE_TIMEOUT" --absolute-timeout "$ABSOLUTE_TIMEOUT"
}
phase "Seeding $USERS users and $SMALL sessions on each side"
MEM_SMALL_0=$(used_memory "$REDIS_SMALL")
MEM_BIG_0=$(used_memory "$REDIS_BIG")
seed small sg_small "$REDIS_SMALL" "$SMALL" >"$LOGS/seed-small.out" 2>"$LOGS/seed-small.log" || { cat "$LOGS/seed-small.log" >&2; die "seeding the 10k side failed"; }
seed big sg_big "$REDIS_BIG" "$SMALL" >"$LOGS/seed-big-1.out" 2>"$LOGS/seed-big-1.log" || { cat "$LOGS/seed-big-1.log" >&2; die "seeding the 1M side failed"; }
MEM_SMALL_1=$(used_memory "$REDIS_SMALL")
MEM_BIG_1=$(used_memory "$REDIS_BIG")
note "users: $(kv "$LOGS/seed-small.out" users) per side; $SMALL sessions each (small side: $(kv "$LOGS/seed-small.out" sessions_seconds) s)"
for db in sg_small sg_big; do psql_db "$db" -c "VACUUM ANALYZE" >/dev/null; done

# Both sides are spread over the same number of sessions: all of the small side's (10k), and at the 1M end a
# random 10k of the million.
SAMPLE_SMALL_N=$((SAMPLE < SMALL ? SAMPLE : SMALL))
scale sample --from "$DATA/creds-small.txt" --out "$DATA/hot-small.txt=$SAMPLE_SMALL_N" >/dev/null
scale sample --from "$DATA/creds-big.txt" --out "$DATA/hot-big-10k.txt=$SAMPLE_SMALL_N" >/dev/null

# ---- wrk ------------------------------------------------------------------------------------------------------------
# run_wrk NAME URL CREDS DURATION APP_PID REDIS_PID -> sets W_RPS W_REQ W_P50 W_APP_TICKS W_REDIS_TICKS W_PG_TICKS
wrk_cmd() { # OUT URL CREDS DURATION
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$4" --latency -s "$CREDS_LUA" "$2" -- "$3" Authorization "Bearer " >"$1" 2>&1
}
lat_ms() { awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 } else { sub(/s$/, "", v); print v * 1000 } }'; }
wrk_parse() { # NAME OUT -> W_RPS W_REQ W_P50 (ms); any failed request fails the run
  local name=$1 out=$2
  W_RPS=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  W_REQ=$(awk '/requests in/ {print $1}' "$out")
  W_P50=$(lat_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  W_P99=$(lat_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  if grep -qE 'Non-2xx|Socket errors' "$out"; then cat "$out" >&2; die "wrk $name saw failed requests"; fi
  [[ -n $W_RPS && -n $W_REQ ]] || { cat "$out" >&2; die "could not read wrk output for $name"; }
}
run_wrk() {
  local name=$1 url=$2 creds=$3 dur=$4 app_pid=$5 redis_pid=$6 out="$WRK_DIR/$1.txt" a0 r0 p0
  a0=$(ticks "$app_pid"); r0=$(ticks "$redis_pid"); p0=$(pg_ticks)
  wrk_cmd "$out" "$url" "$creds" "$dur" || { cat "$out" >&2; die "wrk $name failed"; }
  W_APP_TICKS=$(($(ticks "$app_pid") - a0)); W_REDIS_TICKS=$(($(ticks "$redis_pid") - r0)); W_PG_TICKS=$(($(pg_ticks) - p0))
  wrk_parse "$name" "$out"
}
us_per_req() { calc %.1f "$1 / $CLK_TCK / $2 * 1e6"; } # TICKS REQUESTS

# simultaneous ROUNDS: both sides loaded at the same time (one wrk each), so both see the same machine; sets S_*
simultaneous() {
  local rounds=$1 r ratios=() cpu_ratios=() outs outb ps pb a0s a0b
  for ((r = 1; r <= rounds; r++)); do
    outs="$WRK_DIR/simultaneous-r$r-small.txt" outb="$WRK_DIR/simultaneous-r$r-big.txt"
    a0s=$(ticks "${APP_PID[small]}"); a0b=$(ticks "${APP_PID[big]}")
    wrk_cmd "$outs" "$URL_SMALL/api/profile" "$DATA/hot-small.txt" "$DURATION" & ps=$!
    wrk_cmd "$outb" "$URL_BIG/api/profile" "$HOT_BIG" "$DURATION" & pb=$!
    wait "$ps" || { cat "$outs" >&2; die "wrk (simultaneous, small) failed"; }
    wait "$pb" || { cat "$outb" >&2; die "wrk (simultaneous, big) failed"; }
    local ts=$(($(ticks "${APP_PID[small]}") - a0s)) tb=$(($(ticks "${APP_PID[big]}") - a0b)) rps_s req_s
    wrk_parse simultaneous-small "$outs"; rps_s=$W_RPS req_s=$W_REQ
    wrk_parse simultaneous-big "$outb"
    ratios+=("$(calc %.3f "$W_RPS / $rps_s")")
    cpu_ratios+=("$(calc %.3f "($tb / $W_REQ) / ($ts / $req_s)")")
    note "simultaneous round $r: 10k $rps_s req/s, big $W_RPS req/s, ratio ${ratios[-1]}; CPU per request big/10k ${cpu_ratios[-1]}"
  done
  S_RATIO=$(median "${ratios[@]}"); S_RATIOS="${ratios[*]}"
  S_CPU_RATIO=$(median "${cpu_ratios[@]}")
}

# interleave LABEL ROUNDS: rounds of small vs big, order alternating; sets I_RATIO I_RPS_S I_RPS_B and more
interleave() {
  local label=$1 rounds=$2 r ratios=() cpu_ratios=() rs=() rb=() us=() ub=() rds=() rdb=() p50s=() p50b=() p99s=() p99b=()
  for ((r = 1; r <= rounds; r++)); do
    local order=(small big)
    ((r % 2 == 0)) && order=(big small)
    for side in "${order[@]}"; do
      if [[ $side == small ]]; then
        run_wrk "$label-r$r-small" "$URL_SMALL/api/profile" "$DATA/hot-small.txt" "$DURATION" "${APP_PID[small]}" "$REDIS_PID_small"
        rs+=("$W_RPS"); us+=("$(us_per_req "$W_APP_TICKS" "$W_REQ")"); rds+=("$(us_per_req "$W_REDIS_TICKS" "$W_REQ")"); p50s+=("$W_P50"); p99s+=("$W_P99")
      else
        run_wrk "$label-r$r-big" "$URL_BIG/api/profile" "$HOT_BIG" "$DURATION" "${APP_PID[big]}" "$REDIS_PID_big"
        rb+=("$W_RPS"); ub+=("$(us_per_req "$W_APP_TICKS" "$W_REQ")"); rdb+=("$(us_per_req "$W_REDIS_TICKS" "$W_REQ")"); p50b+=("$W_P50"); p99b+=("$W_P99")
      fi
    done
    ratios+=("$(calc %.3f "${rb[-1]} / ${rs[-1]}")")
    cpu_ratios+=("$(calc %.3f "${ub[-1]} / ${us[-1]}")")
    note "$label round $r: 10k ${rs[-1]} req/s, big ${rb[-1]} req/s, ratio ${ratios[-1]}; app CPU per request ${us[-1]} / ${ub[-1]} µs"
  done
  I_RATIO=$(median "${ratios[@]}"); I_RATIOS="${ratios[*]}"
  I_CPU_RATIO=$(median "${cpu_ratios[@]}"); I_CPU_RATIOS="${cpu_ratios[*]}"
  I_RPS_S=$(median "${rs[@]}"); I_RPS_B=$(median "${rb[@]}")
  I_US_S=$(median "${us[@]}"); I_US_B=$(median "${ub[@]}")
  I_RUS_S=$(median "${rds[@]}"); I_RUS_B=$(median "${rdb[@]}")
  I_P50_S=$(median "${p50s[@]}"); I_P50_B=$(median "${p50b[@]}")
  I_P99_S=$(median "${p99s[@]}"); I_P99_B=$(median "${p99b[@]}")
}

phase "Hot path, A/A control: both sides hold $SMALL sessions ($CONTROL_ROUNDS interleaved rounds)"
HOT_BIG=$DATA/hot-big-10k.txt
run_wrk warm-small "$URL_SMALL/api/profile" "$DATA/hot-small.txt" "$WARMUP" "${APP_PID[small]}" "$REDIS_PID_small"
run_wrk warm-big "$URL_BIG/api/profile" "$HOT_BIG" "$WARMUP" "${APP_PID[big]}" "$REDIS_PID_big"
interleave control "$CONTROL_ROUNDS"
CONTROL_RATIO=$I_RATIO CONTROL_RATIOS=$I_RATIOS CONTROL_CPU_RATIO=$I_CPU_RATIO

# ---- Grow to a million ------------------------------------------------------------------------------------------------
GROW=$((SESSIONS - SMALL - HEAVY))
phase "Growing the big side to $SESSIONS sessions: $GROW more, then $HEAVY for the heavy user"
GROW_T0=$(date +%s)
seed big sg_big "$REDIS_BIG" "$GROW" >"$LOGS/seed-big-2.out" 2>"$LOGS/seed-big-2.log" || { tail -30 "$LOGS/seed-big-2.log" >&2; die "growing the big side failed"; }
scale heavy --postgres "$(pg_cs sg_big)" --redis "$(redis_cfg "$REDIS_BIG")" --count "$HEAVY" >"$LOGS/seed-heavy.out" 2>"$LOGS/seed-heavy.log" ||
  { cat "$LOGS/seed-heavy.log" >&2; die "seeding the heavy user failed"; }
GROW_S=$(($(date +%s) - GROW_T0))
HEAVY_ID=$(kv "$LOGS/seed-heavy.out" heavy_user_id)
MEM_BIG_2=$(used_memory "$REDIS_BIG")
note "grown in $GROW_S s ($(kv "$LOGS/seed-big-2.out" sessions_seconds) s for $GROW sessions)"
phase "VACUUM ANALYZE after the bulk load (what autovacuum would have done by now)"
psql_db sg_big -c "VACUUM ANALYZE" >/dev/null

LIVE_BIG=$(psql_db sg_big -c "SELECT count(*) FROM sessions WHERE \"RevokedAt\" IS NULL")
KEYS_BIG=$(rcli "$REDIS_BIG" DBSIZE)
note "live sessions in PostgreSQL: $LIVE_BIG; Redis keys: $KEYS_BIG"
scale sample --from "$DATA/creds-big.txt" --out "$DATA/hot-big.txt=$SAMPLE" --out "$DATA/slide.txt=$SLIDE_SESSIONS" \
  --out "$DATA/spare.txt=$((OPS * 3))" --out "$DATA/drain.txt=$DRAIN" >"$LOGS/sample-big.out"

phase "Hot path: $SAMPLE of the $LIVE_BIG sessions vs all $SAMPLE_SMALL_N of the 10k side ($ROUNDS interleaved rounds)"
HOT_BIG=$DATA/hot-big.txt
run_wrk warm2-small "$URL_SMALL/api/profile" "$DATA/hot-small.txt" "$WARMUP" "${APP_PID[small]}" "$REDIS_PID_small"
run_wrk warm2-big "$URL_BIG/api/profile" "$HOT_BIG" "$WARMUP" "${APP_PID[big]}" "$REDIS_PID_big"
interleave scale "$ROUNDS"
simultaneous "$SIMUL_ROUNDS"
stop_app small

# ---- Memory per session -----------------------------------------------------------------------------------------------
phase "Bytes per session in Redis and PostgreSQL"
REDIS_BYTES_BIG=$(calc %.0f "($MEM_BIG_2 - $MEM_BIG_1) / ($GROW + $HEAVY)")
REDIS_BYTES_SMALL=$(calc %.0f "($MEM_SMALL_1 - $MEM_SMALL_0) / $SMALL")
mapfile -t sample_keys < <(rcli "$REDIS_BIG" --scan --pattern 'sg:{o:*' | head -200)
usage_sum=0
for k in "${sample_keys[@]}"; do usage_sum=$((usage_sum + $(rcli "$REDIS_BIG" MEMORY USAGE "$k" SAMPLES 0))); done
MEMORY_USAGE=$(calc %.0f "$usage_sum / ${#sample_keys[@]}")
VALUE_BYTES=$(rcli "$REDIS_BIG" STRLEN "${sample_keys[0]}")
KEY_BYTES=${#sample_keys[0]}
IFS=$'\t' read -r PG_ROWS PG_TOTAL PG_HEAP PG_INDEXES < <(psql_db sg_big -c \
  "SELECT count(*), pg_total_relation_size('sessions'), pg_relation_size('sessions'), pg_indexes_size('sessions') FROM sessions")
PG_BYTES=$(calc %.0f "$PG_TOTAL / $PG_ROWS")
PG_HEAP_BYTES=$(calc %.0f "$PG_HEAP / $PG_ROWS")
PG_INDEX_BYTES=$(calc %.0f "$PG_INDEXES / $PG_ROWS")
psql_db sg_big -c "SELECT c.relname, pg_relation_size(i.indexrelid) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
  WHERE i.indrelid = 'sessions'::regclass ORDER BY 2 DESC" >"$OUT/pg-indexes.tsv"
USERS_BYTES=$(psql_db sg_big -c "SELECT pg_total_relation_size('users') + pg_total_relation_size('user_roles')")
note "Redis: $REDIS_BYTES_BIG B/session (used_memory delta), MEMORY USAGE $MEMORY_USAGE B; PostgreSQL: $PG_BYTES B/row"

# ---- Admin pages ------------------------------------------------------------------------------------------------------
phase "Admin pages: first page vs a page deep in the index (cursor), and the OFFSET page at the same depth"
ADMIN_BIG=$(admin_session "$URL_BIG") || die "platform admin login failed"
BIG_TENANT_ID=$(psql_db sg_big -c "SELECT \"Id\" FROM tenants WHERE \"Slug\" = '$BIG_TENANT'")
LIVE_FILTER="\"TenantId\" = '$BIG_TENANT_ID' AND \"RevokedAt\" IS NULL AND \"IdleExpiresAt\" > now() AND \"AbsoluteExpiresAt\" > now()"
TENANT_LIVE=$(psql_db sg_big -c "SELECT count(*) FROM sessions WHERE $LIVE_FILTER")
TENANT_USERS=$(psql_db sg_big -c "SELECT count(DISTINCT \"UserId\") FROM sessions WHERE $LIVE_FILTER")
DEEP_PAGE=$((TENANT_LIVE / 100 - 1))
DEEP_USERS_PAGE=$((TENANT_USERS / 100 - 1))
((DEEP_PAGE >= 2 && DEEP_USERS_PAGE >= 2)) || die "the big tenant is too small for a deep page ($TENANT_LIVE sessions, $TENANT_USERS users)"
# The cursor a client holds after walking DEEP_PAGE-1 pages: the last item of the page before.
DEEP_CURSOR=$(psql_db sg_big -c "SELECT \"Id\" FROM sessions WHERE $LIVE_FILTER ORDER BY \"Id\" DESC OFFSET $(((DEEP_PAGE - 1) * 100 - 1)) LIMIT 1")
DEEP_USER_CURSOR=$(psql_db sg_big -c "SELECT u FROM (SELECT DISTINCT \"UserId\" AS u FROM sessions WHERE $LIVE_FILTER) d ORDER BY u OFFSET $(((DEEP_USERS_PAGE - 1) * 100 - 1)) LIMIT 1")
Q="tenant=$BIG_TENANT&size=100"
scale http-time --bearer "$ADMIN_BIG" --rounds "$PAGE_ROUNDS" --warmup 3 \
  --url "sessions_first=$URL_BIG/admin/sessions?$Q" \
  --url "sessions_deep=$URL_BIG/admin/sessions?$Q&after=$DEEP_CURSOR" \
  --url "users_first=$URL_BIG/admin/online-users?$Q" \
  --url "users_deep=$URL_BIG/admin/online-users?$Q&after=$DEEP_USER_CURSOR" >"$LOGS/pages.out" 2>"$LOGS/pages.log" ||
  { cat "$LOGS/pages.log" >&2; die "timing admin pages failed"; }
scale http-time --bearer "$ADMIN_BIG" --rounds 3 --warmup 1 \
  --url "sessions_offset=$URL_BIG/admin/sessions?$Q&page=$DEEP_PAGE" \
  --url "users_offset=$URL_BIG/admin/online-users?$Q&page=$DEEP_USERS_PAGE" >"$LOGS/pages-offset.out" 2>"$LOGS/pages-offset.log" ||
  { cat "$LOGS/pages-offset.log" >&2; die "timing OFFSET pages failed"; }
for k in sessions_deep users_deep; do
  [[ $(kv "$LOGS/pages.out" "$k.items") == 100 ]] || die "the deep page $k did not hold 100 items"
done
pg_ms() { kv "$LOGS/pages.out" "$1.median_ms"; }
note "sessions: first $(pg_ms sessions_first) ms, page $DEEP_PAGE by cursor $(pg_ms sessions_deep) ms, by OFFSET $(kv "$LOGS/pages-offset.out" sessions_offset.median_ms) ms"
note "online users: first $(pg_ms users_first) ms, page $DEEP_USERS_PAGE by cursor $(pg_ms users_deep) ms, by OFFSET $(kv "$LOGS/pages-offset.out" users_offset.median_ms) ms"

# ---- Kick-all -------------------------------------------------------------------------------------------------------
phase "Kick-all of a user with $HEAVY sessions ($KICK_ROUNDS rounds after a warm-up)"
scale kickall --postgres "$(pg_cs sg_big)" --redis "$(redis_cfg "$REDIS_BIG")" --base "$URL_BIG" --bearer "$ADMIN_BIG" \
  --tenant "$BIG_TENANT" --rounds "$KICK_ROUNDS" --count "$HEAVY" >"$LOGS/kickall.out" 2>"$LOGS/kickall.log" ||
  { cat "$LOGS/kickall.log" >&2; die "kick-all failed"; }
cat "$LOGS/kickall.log" >&2

# ---- Logins ---------------------------------------------------------------------------------------------------------
phase "Login throughput: $LOGIN_USERS users made with POST /admin/users, $LOGIN_CONNECTIONS concurrent clients"
LOGIN_NAMES=$(seq -f 'login-%02g' 0 $((LOGIN_USERS - 1)) | paste -sd, -)
scale create-users --base "$URL_BIG" --bearer "$ADMIN_BIG" --tenant "$LOGIN_TENANT" --names "$LOGIN_NAMES" \
  --password "$LOGIN_PASSWORD" --roles user >"$LOGS/create-users.out" 2>"$LOGS/create-users.log" ||
  { cat "$LOGS/create-users.log" >&2; die "creating login users failed"; }
tr ',' '\n' <<<"$LOGIN_NAMES" >"$DATA/login-users.txt"
HASH_HEADER=$(psql_db sg_big -c "SELECT \"PasswordHash\" FROM users u JOIN tenants t ON t.\"Id\" = u.\"TenantId\" WHERE t.\"Slug\" = '$LOGIN_TENANT' AND u.\"Username\" = 'login-00'" |
  base64 -d 2>/dev/null | head -c 9 | od -An -tx1 | tr -d ' \n')
# PasswordHasher v3: 0x01, PRF (0 SHA1, 1 SHA256, 2 SHA512), iterations, big-endian.
HASH_PRF=$(case ${HASH_HEADER:2:8} in 00000000) echo HMAC-SHA1 ;; 00000001) echo HMAC-SHA256 ;; 00000002) echo HMAC-SHA512 ;; *) echo "?" ;; esac)
HASH_ITER=$((16#${HASH_HEADER:10:8}))
scale pbkdf2 --count 10 >"$LOGS/pbkdf2.out" 2>"$LOGS/pbkdf2.log" || { cat "$LOGS/pbkdf2.log" >&2; die "timing PBKDF2 failed"; }
PBKDF2_MS=$(kv "$LOGS/pbkdf2.out" verify_cpu_ms)
PBKDF2_PER_CORE=$(kv "$LOGS/pbkdf2.out" verifies_per_core_s)
note "one password check: $PBKDF2_MS ms CPU, so at most $PBKDF2_PER_CORE per core"
login_rps=() login_cpu=() login_pg=() login_app_cores=()
for ((r = 1; r <= LOGIN_ROUNDS; r++)); do
  out="$WRK_DIR/login-r$r.txt"
  a0=$(ticks "${APP_PID[big]}"); p0=$(pg_ticks)
  wrk -t1 -c"$LOGIN_CONNECTIONS" -d"$LOGIN_DURATION" --latency -s "$LOGIN_LUA" "$URL_BIG/auth/login" -- \
    "$DATA/login-users.txt" "$LOGIN_TENANT" "$LOGIN_PASSWORD" >"$out" 2>&1 || { cat "$out" >&2; die "wrk login failed"; }
  at=$(($(ticks "${APP_PID[big]}") - a0)); pt=$(($(pg_ticks) - p0))
  req=$(awk '/requests in/ {print $1}' "$out"); secs=$(awk '/requests in/ {gsub(/s,/, "", $4); print $4}' "$out")
  bad=$(awk '/Non-2xx/ {print $5}' "$out"); bad=${bad:-0}
  ((bad * 20 <= req)) || { cat "$out" >&2; die "more than 5% of logins failed"; }
  ok=$((req - bad))
  login_rps+=("$(calc %.1f "$ok / $secs")")
  login_cpu+=("$(calc %.1f "$ok / ($at / $CLK_TCK)")")
  login_pg+=("$(calc %.2f "$pt / $CLK_TCK / $ok * 1000")")
  login_app_cores+=("$(calc %.2f "$at / $CLK_TCK / $secs")")
  note "login round $r: ${login_rps[-1]} logins/s, app ${login_app_cores[-1]} cores busy, ${login_cpu[-1]} logins per app CPU-second ($bad non-2xx)"
done
LOGIN_RPS=$(median "${login_rps[@]}")
LOGIN_PER_CORE=$(median "${login_cpu[@]}")
LOGIN_PG_MS=$(median "${login_pg[@]}")
LOGIN_CORES=$(median "${login_app_cores[@]}")

# ---- Background statements of an idle instance (default settings) ---------------------------------------------------
IDLE_SECS=16 # longer than the online-sessions gauge's 15 s count, so the window holds one
phase "Background PostgreSQL statements of one idle instance (default settings, $IDLE_SECS s)"
sleep 2
psql_db sg_big -c "SELECT pg_stat_statements_reset()" >/dev/null
sleep "$IDLE_SECS"
read -r BG_TOTAL BG_EXEC < <(psql_db sg_big -c "SELECT coalesce(sum(calls), 0), round(coalesce(sum(total_exec_time), 0)::numeric, 1) FROM pg_stat_statements WHERE $APP_STATEMENTS" | tr '\t' ' ')
psql_db sg_big -c "SELECT calls, regexp_replace(query, '\s+', ' ', 'g'), round(total_exec_time::numeric, 1) FROM pg_stat_statements WHERE $APP_STATEMENTS ORDER BY calls DESC" >"$STMT_DIR/idle-default.tsv"
BG_PER_S=$(calc %.1f "$BG_TOTAL / $IDLE_SECS")
BG_EXEC_PER_S=$(calc %.1f "$BG_EXEC / $IDLE_SECS")
stop_app big

# ---- Statements per operation -------------------------------------------------------------------------------------
# A window: reset pg_stat_statements and Redis's command stats, run N operations, read both. The counting instances
# run with the outbox relay's poll and sliding writes moved out of the way (1 h), so a window holds only what its
# requests sent; what an idle default instance sends on its own is measured above.
DISCARD_SEEN=0
STMT_ROWS=()
STMT_DETAILS=()
stats_reset() {
  local d
  d=$(psql_db sg_big -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE $APP_STATEMENTS AND query ILIKE 'discard%'")
  DISCARD_SEEN=$((DISCARD_SEEN + d))
  psql_db sg_big -c "SELECT pg_stat_statements_reset()" >/dev/null
  rcli "$REDIS_BIG" CONFIG RESETSTAT >/dev/null
  WIN_PG0=$(pg_ticks)
  WIN_T0=$(date +%s.%N)
}
# Statements an instance sends on its own (key ring refresh, the online-sessions gauge's count), left out of windows.
BG_RE='signing_keys|DataProtectionKeys|count[(][*][)] FROM sessions AS s WHERE'
stats_read() { # label description ops
  local label=$1 desc=$2 ops=$3 tsv="$STMT_DIR/$1.tsv" rds="$STMT_DIR/$1.redis" dur pgcpu
  dur=$(awk -v a="$WIN_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  pgcpu=$(calc %.2f "($(pg_ticks) - $WIN_PG0) / $CLK_TCK / $ops * 1000")
  psql_db sg_big -c "SELECT calls, rows, coalesce(wal_bytes, 0), round(total_exec_time::numeric, 3), regexp_replace(query, '\s+', ' ', 'g') FROM pg_stat_statements
    WHERE $APP_STATEMENTS
    ORDER BY calls DESC, query" >"$tsv"
  rcli "$REDIS_BIG" INFO commandstats | tr -d '\r' >"$rds"
  local d
  d=$(awk -F'\t' 'tolower($5) ~ /^discard/ { s += $1 } END { print s + 0 }' "$tsv")
  DISCARD_SEEN=$((DISCARD_SEEN + d))
  local per wal exec bg
  read -r per wal exec bg < <(awk -F'\t' -v ops="$ops" -v bg="$BG_RE" '
    $5 ~ bg { b += $1; next } { t += $1; w += $3; e += $4 } END { printf "%.2f %.0f %.2f %d\n", t / ops, w / ops, e / ops, b }' "$tsv")
  local redis_per publish_per breakdown_redis
  read -r redis_per publish_per < <(awk -F'[:,=]' -v ops="$ops" -v dur="$dur" '
    /^cmdstat_/ { name = substr($1, 9); calls = $3
      if (name == "publish") p += calls; else if (name !~ /^(info|config|ping|client|command)/) c += calls }
    END { pp = p - int(dur + 0.5); if (pp < 0) pp = 0; printf "%.2f %.2f\n", c / ops, pp / ops }' "$rds")
  breakdown_redis=$(awk -F'[:,=]' -v ops="$ops" '/^cmdstat_/ { name = substr($1, 9); if (name ~ /^(info|config|ping|client|command)/) next
      printf "%s%s %.2f", sep, name, $3 / ops; sep = ", " }' "$rds")
  local lat="–"
  if [[ -s $DATA/lat-$label.txt ]]; then
    lat=$(sort -g "$DATA/lat-$label.txt" | awk '{ a[NR] = $1 * 1000 } END { i50 = int((NR + 1) / 2); i95 = int(NR * 0.95 + 0.999); if (i95 < 1) i95 = 1
      printf "%.1f / %.1f", a[i50], a[i95] }')
  fi
  STMT_ROWS+=("| $desc | $ops | $lat | $per | $exec | $pgcpu | $wal | $redis_per | $publish_per |")
  local lines
  lines=$(awk -F'\t' -v ops="$ops" -v bg="$BG_RE" '$5 !~ bg {
      q = $5; if (length(q) > 150) q = substr(q, 1, 147) "..."; gsub(/\|/, "\\|", q)
      printf "| %.2f | %.2f | %.3f | `%s` |\n", $1 / ops, $2 / ops, $4 / ops, q }' "$tsv")
  STMT_DETAILS+=("#### $desc ($ops operations; PostgreSQL $per statements, $exec ms and $wal WAL bytes per operation)"$'\n\n'"| calls/op | rows/op | exec ms/op | statement |"$'\n'"|---:|---:|---:|---|"$'\n'"${lines:-| 0 | 0 | 0 | (none) |}"$'\n\n'"Redis calls per operation (commands inside Lua scripts count too): ${breakdown_redis:-none}"$'\n')
  ((bg > 0)) && note "$label: $bg background statement(s) (key ring, online-sessions gauge) left out"
  note "$label: $per PostgreSQL statements/op, $redis_per Redis calls/op over $ops operations"
}

COUNT_ENV=(Revocation__RelayInterval=01:00:00 Session__SlidingWriteInterval=01:00:00)
free_port "$((PORT_BASE + 22))"; APP_PORT_COUNT=$FREE_PORT
URL_COUNT=http://127.0.0.1:$APP_PORT_COUNT

phase "Statements per operation, Opaque (a fresh instance on the 1M data)"
start_app count "$APP_PORT_COUNT" sg_big "$REDIS_BIG" Opaque "${COUNT_ENV[@]}"
ADMIN_COUNT=$(admin_session "$URL_COUNT")
sleep 2
stats_reset; sleep 5; stats_read idle "idle instance, 5 s (relay and sliding moved out of the way)" 1

run_wrk count-warm "$URL_COUNT/api/profile" "$HOT_BIG" "$WARMUP" "${APP_PID[count]}" "$REDIS_PID_big"
stats_reset
run_wrk count-profile "$URL_COUNT/api/profile" "$HOT_BIG" "$DURATION" "${APP_PID[count]}" "$REDIS_PID_big"
stats_read profile "authenticated GET /api/profile (L1 or Redis hit)" "$W_REQ"
PROFILE_REQ=$W_REQ

stats_reset
for ((i = 0; i < OPS; i++)); do
  code=$(tcurl login "$URL_COUNT/auth/login" -H 'content-type: application/json' \
    -d "$(login_body "$LOGIN_TENANT" "login-$(printf %02d $((i % LOGIN_USERS)))" "$LOGIN_PASSWORD")")
  [[ $code == 200 ]] || die "login answered $code"
done
stats_read login "POST /auth/login (Opaque)" "$OPS"

sed -n "1,${OPS}p" "$DATA/spare.txt" >"$DATA/logout.txt"
stats_reset
while read -r cred; do
  code=$(tcurl logout -X POST "$URL_COUNT/auth/logout" -H "Authorization: Bearer $cred")
  [[ $code == 204 ]] || die "logout answered $code"
done <"$DATA/logout.txt"
stats_read logout "POST /auth/logout (Opaque)" "$OPS"

sed -n "$((OPS + 1)),$((2 * OPS))p" "$DATA/spare.txt" >"$DATA/kick.txt"
: >"$DATA/kick-targets.txt"
while read -r cred; do
  curl -sf "$URL_COUNT/auth/me" -H "Authorization: Bearer $cred" | jq -r '"\(.session.id) \(.tenant)"' >>"$DATA/kick-targets.txt"
done <"$DATA/kick.txt"
stats_reset
while read -r sid tenant; do
  code=$(tcurl kick -X DELETE "$URL_COUNT/admin/sessions/$sid?tenant=$tenant" -H "Authorization: Bearer $ADMIN_COUNT")
  [[ $code == 204 ]] || die "kick answered $code"
done <"$DATA/kick-targets.txt"
stats_read kick "DELETE /admin/sessions/{id} (kick one session, platform admin)" "$OPS"

scale heavy --postgres "$(pg_cs sg_big)" --redis "$(redis_cfg "$REDIS_BIG")" --count "$HEAVY" >/dev/null 2>"$LOGS/seed-heavy-count.log"
stats_reset
code=$(tcurl kickall -X POST "$URL_COUNT/admin/users/$HEAVY_ID/logout-all?tenant=$BIG_TENANT" -H "Authorization: Bearer $ADMIN_COUNT")
[[ $code == 204 ]] || die "kick-all answered $code"
stats_read kickall "POST /admin/users/{id}/logout-all ($HEAVY sessions)" 1

page_window() { # label description url
  stats_reset
  for ((i = 0; i < PAGE_OPS; i++)); do
    [[ $(tcurl "$1" "$3" -H "Authorization: Bearer $ADMIN_COUNT") == 200 ]] || die "$3 failed"
  done
  stats_read "$1" "$2" "$PAGE_OPS"
}
page_window page-sessions-first "GET /admin/sessions, first page" "$URL_COUNT/admin/sessions?$Q"
page_window page-sessions-deep "GET /admin/sessions, page $DEEP_PAGE by cursor" "$URL_COUNT/admin/sessions?$Q&after=$DEEP_CURSOR"
page_window page-users-first "GET /admin/online-users, first page" "$URL_COUNT/admin/online-users?$Q"
page_window page-users-deep "GET /admin/online-users, page $DEEP_USERS_PAGE by cursor" "$URL_COUNT/admin/online-users?$Q&after=$DEEP_USER_CURSOR"
stop_app count

phase "Statements per operation, Blacklist (login, refresh, logout)"
start_app blacklist "$APP_PORT_COUNT" sg_big "$REDIS_BIG" Blacklist "${COUNT_ENV[@]}"
sleep 2
: >"$DATA/bl-tokens.txt"
stats_reset
for ((i = 0; i < OPS; i++)); do
  [[ $(tcurl bl-login "$URL_COUNT/auth/login" -H 'content-type: application/json' \
    -d "$(login_body "$LOGIN_TENANT" "login-$(printf %02d $((i % LOGIN_USERS)))" "$LOGIN_PASSWORD")") == 200 ]] &&
    jq -er '.refresh_token' "$DATA/body" >>"$DATA/bl-tokens.txt" ||
    die "Blacklist login failed"
done
stats_read bl-login "POST /auth/login (Blacklist)" "$OPS"
: >"$DATA/bl-access.txt"
stats_reset
while read -r rt; do
  [[ $(tcurl bl-refresh "$URL_COUNT/auth/refresh" -H 'content-type: application/json' -d "{\"refresh_token\":\"$rt\"}") == 200 ]] &&
    jq -er .access_token "$DATA/body" >>"$DATA/bl-access.txt" ||
    die "refresh failed"
done <"$DATA/bl-tokens.txt"
stats_read bl-refresh "POST /auth/refresh (Blacklist)" "$OPS"
stats_reset
while read -r at; do
  code=$(tcurl bl-logout -X POST "$URL_COUNT/auth/logout" -H "Authorization: Bearer $at")
  [[ $code == 204 ]] || die "Blacklist logout answered $code"
done <"$DATA/bl-access.txt"
stats_read bl-logout "POST /auth/logout (Blacklist)" "$OPS"
stop_app blacklist


# ---- Outbox drain -----------------------------------------------------------------------------------------------------
# Logouts commit in PostgreSQL while Redis refuses every write (NOREPLICAS, reads still served), so each leaves an
# outbox row the request could not confirm. Then Redis takes writes again, and the relay of one default instance
# drains the backlog: time until no row is pending, and every logged-out session is refused afterwards.
phase "Outbox drain: $DRAIN logouts while Redis refuses writes, then the relay of one instance drains them"
start_app drain "$APP_PORT_COUNT" sg_big "$REDIS_BIG" Opaque
sleep 2
pending() { psql_db sg_big -c "SELECT count(*) FROM outbox WHERE \"AppliedAt\" IS NULL"; }
DRAIN_PENDING0=$(pending)
rcli "$REDIS_BIG" CONFIG SET min-replicas-to-write 1 >/dev/null
DRAIN_T0=$(date +%s.%N)
# 4 clients at once; a logout that PostgreSQL committed answers 204 whatever Redis does.
xargs -P 4 -I{} curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 -X POST "$URL_COUNT/auth/logout" -H "Authorization: Bearer {}" \
  <"$DATA/drain.txt" >"$DATA/drain-codes.txt"
DRAIN_COMMIT_S=$(awk -v a="$DRAIN_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
DRAIN_OK=$(grep -c '^204$' "$DATA/drain-codes.txt" || true)
DRAIN_CODES=$(sort "$DATA/drain-codes.txt" | uniq -c | awk '{ printf "%s%s x %s", sep, $1, $2; sep = ", " }')
sleep 3 # the relay tries (and fails) meanwhile
DRAIN_BACKLOG=$(($(pending) - DRAIN_PENDING0))
rcli "$REDIS_BIG" CONFIG SET min-replicas-to-write 0 >/dev/null
DRAIN_T1=$(date +%s.%N)
for ((i = 0; i < 1200; i++)); do
  (($(pending) <= DRAIN_PENDING0)) && break
  sleep 0.1
done
DRAIN_S=$(awk -v a="$DRAIN_T1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
(($(pending) <= DRAIN_PENDING0)) || die "the outbox was not drained within 120 s ($(pending) rows pending)"
DRAIN_RATE=$(calc %.0f "$DRAIN_BACKLOG / $DRAIN_S")
# Every logged-out session is refused now, through this instance and from Redis alone.
DRAIN_ACCEPTED=0
for _ in 1 2 3; do sleep 1; done # past the L1 bound
while read -r cred; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "$URL_COUNT/api/profile" -H "Authorization: Bearer $cred")
  [[ $code == 200 ]] && DRAIN_ACCEPTED=$((DRAIN_ACCEPTED + 1))
done < <(head -200 "$DATA/drain.txt")
note "$DRAIN logouts in $DRAIN_COMMIT_S s ($DRAIN_CODES); $DRAIN_BACKLOG rows pending; drained in $DRAIN_S s ($DRAIN_RATE rows/s); $DRAIN_ACCEPTED of 200 logged-out sessions accepted afterwards"
stop_app drain

# ---- Sliding writes ---------------------------------------------------------------------------------------------------
phase "Sliding writes: requests over $SLIDE_SESSIONS sessions with Session__SlidingWriteInterval=00:00:05 ($SLIDE_DURATION s)"
start_app slide "$APP_PORT_COUNT" sg_big "$REDIS_BIG" Opaque Session__SlidingWriteInterval=00:00:05
sleep 2
upd0=$(psql_db sg_big -c "SELECT n_tup_upd || ' ' || n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'sessions'")
lsn0=$(psql_db sg_big -c "SELECT pg_current_wal_lsn()")
stats_reset
run_wrk slide "$URL_COUNT/api/profile" "$DATA/slide.txt" "${SLIDE_DURATION}s" "${APP_PID[slide]}" "$REDIS_PID_big"
SLIDE_RPS=$W_RPS SLIDE_PG_TICKS=$W_PG_TICKS
sleep 1 # the last flush
SLIDE_T=$(awk -v a="$WIN_T0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
read -r SLIDE_CALLS SLIDE_ROWS < <(psql_db sg_big -c "SELECT coalesce(sum(calls), 0), coalesce(sum(rows), 0) FROM pg_stat_statements
  WHERE $APP_STATEMENTS AND query ILIKE '%FROM unnest%' AND query ILIKE 'UPDATE sessions%'" | tr '\t' ' ')
SLIDE_ALL=$(psql_db sg_big -c "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE $APP_STATEMENTS")
psql_db sg_big -c "SELECT calls, rows, regexp_replace(query, '\s+', ' ', 'g') FROM pg_stat_statements WHERE $APP_STATEMENTS ORDER BY calls DESC" >"$STMT_DIR/slide.tsv"
SLIDE_WAL=$(psql_db sg_big -c "SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), '$lsn0')::bigint")
upd1=$(psql_db sg_big -c "SELECT n_tup_upd || ' ' || n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'sessions'")
read -r u0 h0 <<<"$upd0"; read -r u1 h1 <<<"$upd1"
SLIDE_HOT=$(calc %.0f "($h1 - $h0) * 100 / (($u1 - $u0) > 0 ? ($u1 - $u0) : 1)")
SLIDE_STMT_S=$(calc %.1f "$SLIDE_CALLS / $SLIDE_T")
SLIDE_ROWS_S=$(calc %.0f "$SLIDE_ROWS / $SLIDE_T")
SLIDE_ROWS_PER_STMT=$(calc %.0f "$SLIDE_ROWS / ($SLIDE_CALLS > 0 ? $SLIDE_CALLS : 1)")
SLIDE_WAL_ROW=$(calc %.0f "$SLIDE_WAL / ($SLIDE_ROWS > 0 ? $SLIDE_ROWS : 1)")
SLIDE_PG_MS=$(calc %.0f "$SLIDE_PG_TICKS / $CLK_TCK / ($SLIDE_ROWS > 0 ? $SLIDE_ROWS : 1) * 1e6")
note "$SLIDE_RPS req/s; sliding: $SLIDE_STMT_S UPDATE statements/s carrying $SLIDE_ROWS_S rows/s ($SLIDE_ROWS_PER_STMT rows each), $SLIDE_HOT% HOT"
stop_app slide

phase "Sliding-write capacity of this PostgreSQL: batched (the app's statement) vs one UPDATE per session"
capacity() { # mode connections batch
  scale sliding-capacity --postgres "$(pg_cs sg_big)" --mode "$1" --connections "$2" --batch "$3" --seconds "$CAPACITY_SECONDS" \
    --ids "$SLIDE_SESSIONS" >"$LOGS/capacity-$1.out" 2>"$LOGS/capacity-$1.log" || { cat "$LOGS/capacity-$1.log" >&2; die "sliding-capacity $1 failed"; }
}
capacity batched 1 2500
capacity single 8 1
cap() { kv "$LOGS/capacity-$1.out" "$2"; }
note "batched: $(cap batched rows_per_s) rows/s in $(cap batched statements_per_s) statements/s; single: $(cap single rows_per_s) rows/s"
phase ""

# ======================================================================================================================
# Report
# ======================================================================================================================
ELAPSED=$(($(date +%s) - START_TS))
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
[[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -1) ]] && commit+=" (dirty tree)"
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
load=$(cut -d' ' -f1-3 /proc/loadavg)
pass() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { ok = (op == "<=") ? (v <= t) : (v >= t); print ok ? "yes" : "**no**" }'; }
kick_ms=$(kv "$LOGS/kickall.out" kickall.median_ms)
sf=$(pg_ms sessions_first) sd=$(pg_ms sessions_deep) uf=$(pg_ms users_first) ud=$(pg_ms users_deep)
so=$(kv "$LOGS/pages-offset.out" sessions_offset.median_ms) uo=$(kv "$LOGS/pages-offset.out" users_offset.median_ms)
hot_target=$(pass "$I_RATIO" 0.909 ">=")
{
  printf '## SessionGate at %s sessions, %s\n\n' "$LIVE_BIG" "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'Commit %s; %s CPU(s)%s; load average at the end %s; .NET %s; PostgreSQL %s; Redis %s. Run took %s s (%s min).\n\n' \
    "$commit" "$(nproc)" "${cpu:+ ($cpu)}" "$load" "$(dotnet --version)" "$("$PG_BIN/postgres" --version | awk '{print $3}')" \
    "$(redis-server --version | sed -E 's/.*v=([^ ]+).*/\1/')" "$ELAPSED" "$((ELAPSED / 60))"
  printf 'Data: %s tenants, %s users (half in `%s`), %s live sessions on the big side (%s in PostgreSQL, %s keys in Redis), %s on the small side. ' \
    "$TENANTS" "$USERS" "$BIG_TENANT" "$SESSIONS" "$LIVE_BIG" "$KEYS_BIG" "$SMALL"
  printf 'Two app instances (Opaque) on two databases and two Redis servers, identical but for the number of sessions. '
  printf 'wrk -t%s -c%s -d%s; ratios are medians of per-round ratios measured seconds apart, order alternating. CPU figures come from /proc (utime+stime) of the process over the run.\n\n' \
    "$THREADS" "$CONNECTIONS" "$DURATION"
  printf '| measurement | result | target | met |\n|---|---|---|---|\n'
  printf '| hot path `GET /api/profile`, requests over %s sessions: 1M side vs 10k side, interleaved | **%sx** req/s (rounds: %s); medians %s vs %s req/s, p50 %s vs %s ms, p99 %s vs %s ms | 1M side ≥ 1/1.1 = 0.91x of the 10k side | %s |\n' \
    "$SAMPLE" "$I_RATIO" "$I_RATIOS" "$I_RPS_B" "$I_RPS_S" "$I_P50_B" "$I_P50_S" "$I_P99_B" "$I_P99_S" "$hot_target"
  printf '| the same, both loaded at once (same machine state for both) | **%sx** req/s (rounds: %s) | ≥ 0.91x | %s |\n' "$S_RATIO" "$S_RATIOS" "$(pass "$S_RATIO" 0.909 ">=")"
  printf '| the same in app CPU per request (independent of how much CPU the app got) | **%sx** 1M/10k interleaved (rounds: %s); %sx simultaneous | ≤ 1.1x | %s |\n' \
    "$I_CPU_RATIO" "$I_CPU_RATIOS" "$S_CPU_RATIO" "$(pass "$I_CPU_RATIO" 1.1 "<=")"
  printf '| A/A control: both sides at 10k (how much the machine alone moves the ratio) | %sx req/s (rounds: %s); %sx app CPU per request | ~1.0 | – |\n' "$CONTROL_RATIO" "$CONTROL_RATIOS" "$CONTROL_CPU_RATIO"
  printf '| app CPU per authenticated request | %s µs (1M) / %s µs (10k): %s req per app CPU-second | – | – |\n' \
    "$I_US_B" "$I_US_S" "$(calc %.0f "1e6 / $I_US_B")"
  printf '| Redis CPU per authenticated request | %s µs (1M) / %s µs (10k) | – | – |\n' "$I_RUS_B" "$I_RUS_S"
  printf '| Redis bytes per session | %s B (used_memory delta over %s sessions); %s B at 10k; MEMORY USAGE %s B (mean of %s keys; key %s B, value %s B) | – | – |\n' \
    "$REDIS_BYTES_BIG" "$((GROW + HEAVY))" "$REDIS_BYTES_SMALL" "$MEMORY_USAGE" "${#sample_keys[@]}" "$KEY_BYTES" "$VALUE_BYTES"
  printf '| PostgreSQL bytes per session | %s B (`sessions` with its indexes: %s MB / %s rows; heap %s B, indexes %s B) | – | – |\n' \
    "$PG_BYTES" "$((PG_TOTAL / 1048576))" "$PG_ROWS" "$PG_HEAP_BYTES" "$PG_INDEX_BYTES"
  printf '| admin online sessions: first page vs page %s (cursor) | %s ms vs %s ms (**%sx**); OFFSET page %s: %s ms | same cost (deep/first ≤ 1.5) | %s |\n' \
    "$DEEP_PAGE" "$sf" "$sd" "$(calc %.2f "$sd / $sf")" "$DEEP_PAGE" "$so" "$(pass "$(calc %.2f "$sd / $sf")" 1.5 "<=")"
  printf '| admin online users: first page vs page %s (cursor) | %s ms vs %s ms (**%sx**); OFFSET page %s: %s ms | same cost (deep/first ≤ 1.5) | %s |\n' \
    "$DEEP_USERS_PAGE" "$uf" "$ud" "$(calc %.2f "$ud / $uf")" "$DEEP_USERS_PAGE" "$uo" "$(pass "$(calc %.2f "$ud / $uf")" 1.5 "<=")"
  printf '| kick-all of a user with %s sessions | **%s ms** median (%s rounds: %s) | ≤ 50 ms | %s |\n' \
    "$HEAVY" "$kick_ms" "$(kv "$LOGS/kickall.out" kickall.rounds)" "$(kv "$LOGS/kickall.out" kickall.all_ms)" "$(pass "$kick_ms" 50 "<=")"
  printf '| login throughput (`POST /auth/login`, %s clients, PBKDF2 %s, %s iterations) | %s logins/s on the shared 2 cores (app busy %s cores); **%s logins per app CPU-second**; one password check alone %s ms CPU (%s per core); PostgreSQL %s ms CPU per login | Keycloak: 15 per vCPU | %s |\n' \
    "$LOGIN_CONNECTIONS" "$HASH_PRF" "$HASH_ITER" "$LOGIN_RPS" "$LOGIN_CORES" "$LOGIN_PER_CORE" "$PBKDF2_MS" "$PBKDF2_PER_CORE" "$LOGIN_PG_MS" "$(pass "$LOGIN_PER_CORE" 15 ">=")"
  printf '| PostgreSQL statements per authenticated request (L1/Redis hit) | %s over %s requests | 0 | %s |\n' \
    "$(awk -F'|' '/authenticated GET/ {gsub(/ /, "", $5); print $5}' <<<"$(printf '%s\n' "${STMT_ROWS[@]}")")" "$PROFILE_REQ" \
    "$(awk -F'|' '/authenticated GET/ {gsub(/ /, "", $5); print ($5 + 0 == 0) ? "yes" : "**no**"}' <<<"$(printf '%s\n' "${STMT_ROWS[@]}")")"
  printf '| `DISCARD ALL` seen in pg_stat_statements | %s (all windows the app alone talked to PostgreSQL) | 0 | %s |\n' "$DISCARD_SEEN" "$( ((DISCARD_SEEN == 0)) && echo yes || echo '**no**')"
  printf '| sliding writes at %s active sessions (interval 5 s) | **%s UPDATE statements/s carrying %s rows/s** (%s rows each; %s req/s); unbatched that is %s statements/s; %s%% HOT; %s WAL B/row; PostgreSQL (all processes) %s ms CPU per 1000 rows | batched | – |\n' \
    "$SLIDE_SESSIONS" "$SLIDE_STMT_S" "$SLIDE_ROWS_S" "$SLIDE_ROWS_PER_STMT" "$SLIDE_RPS" "$SLIDE_ROWS_S" "$SLIDE_HOT" "$SLIDE_WAL_ROW" "$SLIDE_PG_MS"
  printf '| sliding-write capacity of this PostgreSQL | batched (1 connection, 2,500 rows/statement): %s rows/s, %s ms backend CPU per 1000 rows, %s WAL B/row; one UPDATE per session (8 connections, autocommit): %s rows/s, %s ms backend CPU per 1000 rows, %s WAL B/row | – | – |\n' \
    "$(cap batched rows_per_s)" "$(cap batched backend_cpu_ms_per_1000_rows)" "$(cap batched wal_bytes_per_row)" \
    "$(cap single rows_per_s)" "$(cap single backend_cpu_ms_per_1000_rows)" "$(cap single wal_bytes_per_row)"
  printf '| background PostgreSQL statements of one idle instance (default settings) | %s per second, %s ms execution per second | – | – |\n' "$BG_PER_S" "$BG_EXEC_PER_S"
  printf '| outbox drain: %s logouts committed while Redis refused writes (%s) | **%s rows pending drained in %s s by the relay of one instance: %s rows/s**; %s of 200 logged-out sessions accepted afterwards | 0 accepted | %s |\n' \
    "$DRAIN" "$DRAIN_CODES" "$DRAIN_BACKLOG" "$DRAIN_S" "$DRAIN_RATE" "$DRAIN_ACCEPTED" "$( ((DRAIN_ACCEPTED == 0)) && echo yes || echo '**no**')"
  printf '| seeding | %s sessions in %s s (users: %s s on the first call) | – | – |\n\n' \
    "$((GROW + HEAVY))" "$GROW_S" "$(kv "$LOGS/seed-big-1.out" users_seconds)"

  printf '### Statements per operation\n\n'
  printf 'pg_stat_statements and Redis `INFO commandstats`, reset before each window; the counting instances ran with `Revocation__RelayInterval=01:00:00` and `Session__SlidingWriteInterval=01:00:00` so a window holds only its requests'"'"' own statements (the background of a default instance is in the table above). PostgreSQL exec ms is pg_stat_statements'"'"' execution time; PostgreSQL CPU ms is the CPU all PostgreSQL processes used during the window (parsing, planning, the protocol and background writers included). Redis calls include the commands Lua scripts run; PUBLISH excludes the invalidation probe (one per instance per second).\n\n'
  printf '| operation | ops | client latency ms p50 / p95 (one client, serial) | PostgreSQL statements/op | PostgreSQL exec ms/op | PostgreSQL CPU ms/op | WAL bytes/op | Redis calls/op | PUBLISH/op |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
  printf '%s\n' "${STMT_ROWS[@]}"
  printf '\n### Phases\n\n| phase | seconds |\n|---|---:|\n'
  for p in "${PHASES[@]}"; do printf '| %s | %s |\n' "${p%|*}" "${p##*|}"; done
  printf '\n### Statements in detail\n\n'
  printf '%s\n' "${STMT_DETAILS[@]}"
  printf '#### Idle instance with default settings (%s s)\n\n| calls | exec ms (total) | statement |\n|---:|---:|---|\n' "$IDLE_SECS"
  awk -F'\t' '{ q = $2; if (length(q) > 150) q = substr(q, 1, 147) "..."; gsub(/\|/, "\\|", q); printf "| %s | %s | `%s` |\n", $1, $3, q }' "$STMT_DIR/idle-default.tsv"
  printf '\n#### Sessions indexes at %s rows\n\n| index | bytes |\n|---|---:|\n' "$PG_ROWS"
  awk -F'\t' '{ printf "| %s | %s |\n", $1, $2 }' "$OUT/pg-indexes.tsv"
  printf '\nUsers and roles (%s users): %s bytes in `users` and `user_roles` with indexes.\n' "$USERS" "$USERS_BYTES"
} >"$RESULTS"

printf '\n'
cat "$RESULTS"
printf '\n(written to %s; wrk output in %s/, statements in %s/, logs in %s/)\n' \
  "${RESULTS#"$ROOT"/}" "${WRK_DIR#"$ROOT"/}" "${STMT_DIR#"$ROOT"/}" "${LOGS#"$ROOT"/}"
