#!/usr/bin/env bash
# SessionGate micro-benchmark: gateway and auth hot-path overhead, as RATIOS against
# a baseline measured in the same run (the machine is shared and noisy).
#
#   bench/run.sh
#
# For each Auth__Mode (Opaque, Blacklist, SessionCache) it measures, with wrk:
#   gateway   GET /demo/ping through SessionGate (auth + internal JWT + YARP proxy)
#             vs GET /ping directly on the downstream
#   hot-path  GET /api/profile (authenticated) vs GET /health/live (anonymous) on the app
# Baseline and subject runs are interleaved (base, subject, base, subject, ...)
# after a warm-up of each endpoint. The table is printed and written to
# .local/bench/results.md.
#
# Environment (all optional):
#   BENCH_DURATION=5s      length of each measured wrk run
#   BENCH_CONNECTIONS=8    wrk connections (-c)
#   BENCH_THREADS=1        wrk threads (-t)
#   BENCH_WARMUP=2s        warm-up per endpoint (before the measured runs)
#   BENCH_ROUNDS=2         measured runs per endpoint (interleaved)
#   BENCH_MODES="Opaque Blacklist SessionCache"
#   BENCH_APP_PORT=18180   BENCH_DOWNSTREAM_PORT=18181  (next free port is used if taken)
#   BENCH_DB=sg_bench      PostgreSQL database (created if missing)
#   BENCH_SKIP_BUILD=1     reuse the binaries in .local/bench/build
#   ConnectionStrings__Postgres / Redis__Configuration: servers to use; otherwise
#   `scripts/run services` is asked (it starts them when needed), else the defaults
#   127.0.0.1:15432 (sessiongate/sessiongate) and 127.0.0.1:16379.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1

DURATION="${BENCH_DURATION:-5s}"
CONNECTIONS="${BENCH_CONNECTIONS:-8}"
THREADS="${BENCH_THREADS:-1}"
WARMUP="${BENCH_WARMUP:-2s}"
ROUNDS="${BENCH_ROUNDS:-2}"
MODES="${BENCH_MODES:-Opaque Blacklist SessionCache}"
BENCH_DB="${BENCH_DB:-sg_bench}"
DEMO_PASSWORD="demo-password-123"

OUT="$ROOT/.local/bench"
BUILD="$OUT/build"
APP_LOG="$OUT/app.log"
DOWNSTREAM_LOG="$OUT/downstream.log"
WRK_DIR="$OUT/wrk"
RESULTS="$OUT/results.md"

log() { printf '==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}

# ---------------------------------------------------------------------------
# Processes we start (and only those) are stopped on exit.
# ---------------------------------------------------------------------------
APP_PID=""
DOWNSTREAM_PID=""

stop_pid() {
  local pid=$1 i
  [[ -n $pid ]] || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  wait "$pid" 2>/dev/null || true
}

stop_app() {
  stop_pid "$APP_PID"
  APP_PID=""
}

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  stop_app
  stop_pid "$DOWNSTREAM_PID"
  DOWNSTREAM_PID=""
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------
port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1 && ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
    return 0
  fi
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null
}

# First free TCP port >= $1 (below 32768) that is not $2.
free_port_from() {
  local p=$1 avoid=${2:-}
  while [[ $p == "$avoid" ]] || port_in_use "$p"; do
    p=$((p + 1))
    ((p < 32768)) || die "no free TCP port found below 32768"
  done
  printf '%s\n' "$p"
}

# Value of key $2 (case-insensitive) in an ADO.NET-style connection string $1.
conn_get() {
  local IFS=';' part key
  for part in $1; do
    key=${part%%=*}
    key=$(printf '%s' "$key" | tr -d ' ' | tr '[:upper:]' '[:lower:]')
    if [[ $key == "$2" ]]; then
      printf '%s\n' "${part#*=}"
      return 0
    fi
  done
  return 1
}

# Connection string $1 with its Database set to $2.
conn_with_db() {
  local IFS=';' part key out=""
  for part in $1; do
    [[ -n $part ]] || continue
    key=$(printf '%s' "${part%%=*}" | tr -d ' ' | tr '[:upper:]' '[:lower:]')
    case $key in database | db | initialcatalog) continue ;; esac
    out+="$part;"
  done
  printf '%sDatabase=%s\n' "$out" "$2"
}

# wrk latency value ("812.00us", "1.20ms", "2.01s", "1.00m") -> milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v; sub(/[a-z]+$/, "", n); u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") f = 0.001; else if (u == "ms") f = 1; else if (u == "s") f = 1000;
    else if (u == "m") f = 60000; else if (u == "h") f = 3600000; else { print "nan"; exit 1 }
    printf "%.3f\n", n * f
  }'
}

# Show the tail of a log and fail.
fail_with_log() {
  local msg=$1 file=$2
  printf 'ERROR: %s\n' "$msg" >&2
  if [[ -f $file ]]; then
    printf -- '----- last 40 lines of %s -----\n' "${file#"$ROOT"/}" >&2
    tail -n 40 "$file" >&2
    printf -- '-----\n' >&2
  fi
  exit 1
}

# wait_http URL PID LOG NAME: wait up to 90 s for URL to answer 200 while PID lives.
wait_http() {
  local url=$1 pid=$2 logf=$3 name=$4 i code
  for ((i = 0; i < 360; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      fail_with_log "$name exited before $url answered 200" "$logf"
    fi
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.25
  done
  fail_with_log "$name did not answer 200 on $url within 90 s (last status: ${code:-none})" "$logf"
}

# ---------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------
ensure_wrk() {
  command -v wrk >/dev/null 2>&1 && return 0
  log "Installing wrk"
  local -a sudo=()
  [[ $EUID -eq 0 ]] || sudo=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -q wrk >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -q >/dev/null
    "${sudo[@]}" apt-get install -y -q wrk >/dev/null
  fi
  command -v wrk >/dev/null 2>&1 || die "wrk is not installed and could not be installed with apt-get"
}

# run_wrk FILE URL [TOKEN] [DURATION]: one wrk run, output kept in FILE.
run_wrk() {
  local file=$1 url=$2 token=${3:-} dur=${4:-$DURATION}
  local -a args=(-t"$THREADS" -c"$CONNECTIONS" -d"$dur" --latency --timeout 10s)
  [[ -n $token ]] && args+=(-H "Authorization: Bearer $token")
  if ! wrk "${args[@]}" "$url" >"$file" 2>&1; then
    cat "$file" >&2
    die "wrk failed against $url"
  fi
  if grep -q 'Non-2xx or 3xx responses' "$file"; then
    cat "$file" >&2
    die "wrk saw non-2xx responses from $url (see above; app log: ${APP_LOG#"$ROOT"/})"
  fi
  if grep -qE 'Socket errors:.*(connect [1-9]|timeout [1-9])' "$file"; then
    cat "$file" >&2
    die "wrk saw connect errors or timeouts against $url"
  fi
  if grep -q 'Socket errors' "$file"; then
    note "warning: $(grep 'Socket errors' "$file" | sed 's/^ *//') ($url)"
  fi
}

# parse_wrk FILE -> "rps p50_ms p99_ms"
parse_wrk() {
  local file=$1 rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$file")
  p50=$(awk '$1 == "50%" {print $2}' "$file")
  p99=$(awk '$1 == "99%" {print $2}' "$file")
  [[ -n $rps && -n $p50 && -n $p99 ]] || {
    cat "$file" >&2
    die "could not parse wrk output in $file"
  }
  printf '%s %s %s\n' "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")"
}

TABLE_ROWS=()

# measure MODE NAME BASE_LABEL BASE_URL SUBJECT_LABEL SUBJECT_URL TOKEN [WARM_BASE=1]
# The token is sent to the subject only: UseAuthentication would otherwise
# authenticate it on the app's anonymous /health/live too.
measure() {
  local mode=$1 name=$2 blabel=$3 burl=$4 slabel=$5 surl=$6 token=$7 warm_base=${8:-1}
  local r file tag
  tag="$(printf '%s' "$mode-$name" | tr '[:upper:]' '[:lower:]')"
  log "$mode / $name: $slabel vs $blabel (warm-up $WARMUP, $ROUNDS x $DURATION each, -c$CONNECTIONS)"
  if [[ $warm_base == 1 ]]; then run_wrk "$WRK_DIR/$tag-warmup-base.txt" "$burl" "" "$WARMUP"; fi
  run_wrk "$WRK_DIR/$tag-warmup-subject.txt" "$surl" "$token" "$WARMUP"

  local -a base=() subj=()
  for ((r = 1; r <= ROUNDS; r++)); do
    file="$WRK_DIR/$tag-base-$r.txt"
    run_wrk "$file" "$burl" ""
    base+=("$(parse_wrk "$file")")
    note "round $r baseline: $(fmt_run "${base[-1]}")"
    file="$WRK_DIR/$tag-subject-$r.txt"
    run_wrk "$file" "$surl" "$token"
    subj+=("$(parse_wrk "$file")")
    note "round $r subject:  $(fmt_run "${subj[-1]}")"
  done

  # Means over the rounds; ratios of the means.
  local row
  row=$(printf '%s\n' "${base[@]}" | awk '{r += $1; a += $2; b += $3} END {printf "%.1f %.3f %.3f", r/NR, a/NR, b/NR}')
  local brps bp50 bp99
  read -r brps bp50 bp99 <<<"$row"
  row=$(printf '%s\n' "${subj[@]}" | awk '{r += $1; a += $2; b += $3} END {printf "%.1f %.3f %.3f", r/NR, a/NR, b/NR}')
  local srps sp50 sp99
  read -r srps sp50 sp99 <<<"$row"
  local tput lat lat99
  tput=$(awk -v s="$srps" -v b="$brps" 'BEGIN {printf "%.2f", (b > 0 ? s / b : 0)}')
  lat=$(awk -v s="$sp50" -v b="$bp50" 'BEGIN {printf "%.2f", (b > 0 ? s / b : 0)}')
  lat99=$(awk -v s="$sp99" -v b="$bp99" 'BEGIN {printf "%.2f", (b > 0 ? s / b : 0)}')
  TABLE_ROWS+=("| $mode | $name: \`$slabel\` vs \`$blabel\` | $(printf '%.0f' "$brps") | $(printf '%.0f' "$srps") | ${tput}x | $bp50 / $sp50 | $bp99 / $sp99 | ${lat}x | ${lat99}x |")
  note "=> throughput ratio ${tput}x, p50 latency ratio ${lat}x, p99 latency ratio ${lat99}x"
}

fmt_run() {
  local rps p50 p99
  read -r rps p50 p99 <<<"$1"
  printf '%8.0f req/s  p50 %7.3f ms  p99 %7.3f ms' "$rps" "$p50" "$p99"
}

# ---------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------
mkdir -p "$OUT" "$WRK_DIR"
rm -f "$WRK_DIR"/*.txt
ensure_wrk
command -v curl >/dev/null 2>&1 || die "curl is required"
command -v psql >/dev/null 2>&1 || die "psql is required (apt-get install postgresql-client)"
command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (dotnet) is required"

# PostgreSQL / Redis: explicit settings win; else ask scripts/run services; else defaults.
if [[ -z ${ConnectionStrings__Postgres:-} || -z ${Redis__Configuration:-} ]] && [[ -x $ROOT/scripts/run ]]; then
  log "Asking scripts/run services for PostgreSQL and Redis"
  if exports=$("$ROOT/scripts/run" services 2>"$OUT/services.log"); then
    eval "$exports"
  else
    note "scripts/run services failed (see ${OUT#"$ROOT"/}/services.log); trying the default ports"
  fi
fi
PG_CONN="${ConnectionStrings__Postgres:-Host=127.0.0.1;Port=15432;Database=sessiongate;Username=sessiongate;Password=sessiongate}"
REDIS_CONF="${Redis__Configuration:-127.0.0.1:16379}"
BENCH_CONN=$(conn_with_db "$PG_CONN" "$BENCH_DB")

PGHOST_=$(conn_get "$PG_CONN" host || conn_get "$PG_CONN" server || echo 127.0.0.1)
PGPORT_=$(conn_get "$PG_CONN" port || echo 5432)
PGUSER_=$(conn_get "$PG_CONN" username || conn_get "$PG_CONN" userid || conn_get "$PG_CONN" user || echo sessiongate)
PGPASS_=$(conn_get "$PG_CONN" password || echo "")
[[ $BENCH_DB =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "BENCH_DB must be a plain identifier"

log "PostgreSQL $PGHOST_:$PGPORT_ (database $BENCH_DB), Redis $REDIS_CONF (key prefix bench:)"
psql_admin() {
  PGPASSWORD="$PGPASS_" PGCONNECT_TIMEOUT=5 psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST_" -p "$PGPORT_" -U "$PGUSER_" -d postgres "$@"
}
if ! exists=$(psql_admin -tA -c "SELECT 1 FROM pg_database WHERE datname = '$BENCH_DB'" 2>"$OUT/psql.log"); then
  cat "$OUT/psql.log" >&2
  die "cannot reach PostgreSQL at $PGHOST_:$PGPORT_ as $PGUSER_ (start it with: eval \"\$(scripts/run services)\")"
fi
if [[ $exists != 1 ]]; then
  note "creating database $BENCH_DB"
  psql_admin -c "CREATE DATABASE $BENCH_DB" || die "could not create database $BENCH_DB"
fi
redis_host=${REDIS_CONF%%,*}
if ! (exec 3<>"/dev/tcp/${redis_host%:*}/${redis_host##*:}") 2>/dev/null; then
  die "Redis does not answer on $redis_host (start it with: eval \"\$(scripts/run services)\")"
fi

if [[ ${BENCH_SKIP_BUILD:-0} == 1 && -f $BUILD/app/App.dll && -f $BUILD/downstream/Downstream.dll ]]; then
  log "Reusing binaries in ${BUILD#"$ROOT"/}"
else
  log "Building app (Release) -> ${BUILD#"$ROOT"/}/app"
  dotnet build "$ROOT/migrations/Migrations.csproj" -c Release -o "$BUILD/app" --nologo -v quiet >"$OUT/build.log" 2>&1 ||
    fail_with_log "building migrations/Migrations.csproj failed" "$OUT/build.log"
  log "Building downstream (Release) -> ${BUILD#"$ROOT"/}/downstream"
  dotnet build "$ROOT/samples/Downstream/Downstream.csproj" -c Release -o "$BUILD/downstream" --nologo -v quiet >>"$OUT/build.log" 2>&1 ||
    fail_with_log "building samples/Downstream/Downstream.csproj failed" "$OUT/build.log"
fi

APP_PORT=$(free_port_from "${BENCH_APP_PORT:-18180}")
DOWNSTREAM_PORT=$(free_port_from "${BENCH_DOWNSTREAM_PORT:-18181}" "$APP_PORT")
APP_URL="http://127.0.0.1:$APP_PORT"
DOWNSTREAM_URL="http://127.0.0.1:$DOWNSTREAM_PORT"

# ---------------------------------------------------------------------------
# Downstream (kept running for all modes)
# ---------------------------------------------------------------------------
log "Starting downstream on $DOWNSTREAM_URL (log: ${DOWNSTREAM_LOG#"$ROOT"/})"
env ASPNETCORE_URLS="$DOWNSTREAM_URL" Downstream__Authority="$APP_URL" \
  Logging__LogLevel__Default=Warning \
  dotnet "$BUILD/downstream/Downstream.dll" </dev/null >"$DOWNSTREAM_LOG" 2>&1 &
DOWNSTREAM_PID=$!
wait_http "$DOWNSTREAM_URL/ping" "$DOWNSTREAM_PID" "$DOWNSTREAM_LOG" "downstream"

start_app() {
  local mode=$1
  log "Starting SessionGate (Auth__Mode=$mode) on $APP_URL (log: ${APP_LOG#"$ROOT"/})"
  {
    printf '\n===== %s Auth__Mode=%s =====\n' "$(date -u +%FT%TZ)" "$mode"
  } >>"$APP_LOG"
  env ASPNETCORE_URLS="$APP_URL" \
    ConnectionStrings__Postgres="$BENCH_CONN" \
    Redis__Configuration="$REDIS_CONF" \
    Redis__KeyPrefix="bench:" \
    Database__MigrateOnStart=true \
    Demo__Seed=true \
    Demo__Password="$DEMO_PASSWORD" \
    Auth__Mode="$mode" \
    LoginLimits__RequestsPerMinutePerIp=1000000 \
    Serilog__MinimumLevel__Default=Warning \
    ReverseProxy__Clusters__demo__Destinations__downstream__Address="$DOWNSTREAM_URL/" \
    dotnet "$BUILD/app/App.dll" </dev/null >>"$APP_LOG" 2>&1 &
  APP_PID=$!
  wait_http "$APP_URL/health/ready" "$APP_PID" "$APP_LOG" "SessionGate ($mode)"
}

# login MODE -> bearer credential
login() {
  local mode=$1 body code field value
  body=$(mktemp /tmp/sg-bench-login.XXXXXX)
  code=$(curl -s -o "$body" -w '%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
    -d "{\"tenant\":\"acme\",\"username\":\"alice\",\"password\":\"$DEMO_PASSWORD\"}" \
    "$APP_URL/auth/login" || true)
  if [[ $mode == Opaque ]]; then field=session_id; else field=access_token; fi
  value=$(tr -d '\n' <"$body" | sed -nE "s/.*\"$field\"[[:space:]]*:[[:space:]]*\"([^\"]+)\".*/\\1/p")
  if [[ $code != 200 || -z $value ]]; then
    printf 'login response (HTTP %s): %s\n' "$code" "$(head -c 500 "$body")" >&2
    rm -f "$body"
    fail_with_log "login as acme/alice failed in mode $mode (no \"$field\" in the response)" "$APP_LOG"
  fi
  rm -f "$body"
  printf '%s\n' "$value"
}

# check URL TOKEN NAME: one request must answer 200.
check_200() {
  local url=$1 token=$2 name=$3 code body
  body=$(mktemp /tmp/sg-bench-check.XXXXXX)
  code=$(curl -s -o "$body" -w '%{http_code}' --max-time 10 -H "Authorization: Bearer $token" "$url" || true)
  if [[ $code != 200 ]]; then
    printf 'response (HTTP %s): %s\n' "$code" "$(head -c 500 "$body")" >&2
    rm -f "$body"
    fail_with_log "$name: GET $url answered $code, expected 200" "$APP_LOG"
  fi
  rm -f "$body"
}

# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------
: >"$APP_LOG"
START_TS=$(date +%s)
first=1
for mode in $MODES; do
  case $mode in Opaque | Blacklist | SessionCache) ;; *) die "unknown mode '$mode'" ;; esac
  start_app "$mode"
  token=$(login "$mode")
  check_200 "$APP_URL/api/profile" "$token" "$mode"
  check_200 "$APP_URL/demo/ping" "$token" "$mode"
  # End-to-end check of the internal JWT (the downstream's /ping is anonymous,
  # so a broken internal JWT would not show up in the measured requests).
  check_200 "$APP_URL/demo/claims" "$token" "$mode (internal JWT accepted by the downstream)"

  measure "$mode" gateway "GET /ping (direct)" "$DOWNSTREAM_URL/ping" \
    "GET /demo/ping (gateway)" "$APP_URL/demo/ping" "$token" "$first"
  measure "$mode" hot-path "GET /health/live" "$APP_URL/health/live" \
    "GET /api/profile" "$APP_URL/api/profile" "$token"
  first=0
  stop_app
done
ELAPSED=$(($(date +%s) - START_TS))

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -1) ]]; then commit+=" (dirty tree)"; fi
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
{
  printf '## SessionGate benchmark, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'Commit %s; %s CPU(s)%s; .NET %s; wrk -t%s -c%s -d%s, %s interleaved rounds per endpoint after a %s warm-up; measured in %ss.\n' \
    "$commit" "$(nproc)" "${cpu:+ ($cpu)}" "$(dotnet --version 2>/dev/null || echo '?')" \
    "$THREADS" "$CONNECTIONS" "$DURATION" "$ROUNDS" "$WARMUP" "$ELAPSED"
  printf 'Means over the rounds. Ratios are subject / baseline: throughput < 1 and latency > 1 mean the subject is slower.\n\n'
  printf '| mode | measurement (subject vs baseline) | baseline req/s | subject req/s | throughput ratio | p50 ms (base / subject) | p99 ms (base / subject) | latency ratio (p50) | latency ratio (p99) |\n'
  printf '|---|---|---:|---:|---:|---:|---:|---:|---:|\n'
  printf '%s\n' "${TABLE_ROWS[@]}"
} >"$RESULTS"

printf '\n'
cat "$RESULTS"
printf '\n(written to %s; raw wrk output in %s/)\n' "${RESULTS#"$ROOT"/}" "${WRK_DIR#"$ROOT"/}"
