#!/usr/bin/env bash
# SessionGate against the stacks users would pick instead, measured in the SAME run,
# interleaved, and reported as RATIOS (the machine is shared and noisy).
#
#   bench/run.sh                    everything (37 min on the shared 2-core machine under load; see README)
#   BENCH_ROUNDS=1 BENCH_PROP_COUNT=20 BENCH_PROP_CUT_COUNT=10 bench/run.sh    a quick pass
#
# Per Auth__Mode (SessionGate restarted for each), with wrk at -t1 -c32 (req/s, and the CPU per request of the
# process that served it, from /proc/PID/stat):
#   profile      GET /api/profile, one credential, vs each peer (bench/Peers):
#                jwt-hs, jwt-es, jwt-hs-redis (JWT + Redis jti blacklist), cookie (AddCookie + Redis ticket store)
#   profile256   the same with 256 credentials round robin (256 logins of alice; 256 peer credentials)
#   health       GET /health/live vs the peers' bare GET /ping
#   gateway      GET /demo/secure-ping through SessionGate vs bare YARP /yarp-jwt/secure-ping carrying a
#                real internal JWT (both reach the same downstream, which checks the token)
#   chain        GET /demo/secure-ping through SessionGate vs bare YARP /yarp/ping (anonymous, no check)
#   pertoken     GET /demo-strict/secure-ping (a fresh internal JWT per request) vs /demo/secure-ping (cached token)
#   redis-bytes  Opaque only: Redis MEMORY USAGE per session key vs the cookie peer's ticket
#   propagation  two SessionGate instances on one PostgreSQL and a dedicated Redis; bench/Propagation
#                revokes on A and times how soon B refuses (plus a pass that cuts pub/sub first)
#   flood        GET /api/profile from BENCH_AUTH_SESSIONS sessions (each from its own address) undisturbed and
#                during each load of BENCH_FLOOD_LOADS, interleaved: a wrong-password login flood over random
#                accounts from random addresses (logins), the same against alice's account only (targeted), and
#                one session flooding /api/profile at full speed (profile). Meanwhile alice logs in with the right
#                password, from her known device (device token) and as a new device from a fresh address: success
#                rate and latency of each, and what the load itself got
#   login-cost   logins per app CPU-second: one instance hashing with argon2id (shipped) and one with PBKDF2
#                (PasswordHashing__Algorithm=Pbkdf2, what SessionGate shipped before), side by side, interleaved
#   forged       BENCH_FORGED_COUNT well-formed forged credentials (random session ids; in the JWT modes
#                access tokens with a forged signature, and with unknown kids): PostgreSQL transactions they cost
# flood and forged run on an instance started with ForwardedHeaders__Enabled=true and the shipped login limits.
# Each measured group runs its endpoints in turn (subject, peer 1, peer 2, ...; reversed on even rounds),
# for BENCH_ROUNDS rounds after a warm-up of each. The tables are printed and written to
# .local/bench/results.md.
#
# Environment (all optional):
#   BENCH_MODES="Opaque Blacklist SessionCache"
#   BENCH_SCENARIOS="profile profile256 health gateway chain pertoken redis-bytes flood forged propagation login-cost"
#   BENCH_PEERS="jwt-hs jwt-es jwt-hs-redis cookie"   peers for the profile scenarios
#   BENCH_DURATION=3s  BENCH_ROUNDS=3  BENCH_WARMUP=1s  BENCH_CONNECTIONS=32  BENCH_THREADS=1
#   BENCH_APP_WARMUP=5s            after each start of SessionGate, wrk on each endpoint the wrk scenarios use
#                                  (and the peers'), so that no scenario measures code the JIT has not yet optimized
#   BENCH_CREDENTIALS=256          credentials for profile256
#   BENCH_PROP_COUNT=200           revocations of each kind (first pass)
#   BENCH_PROP_CUT_COUNT=50        revocations of each kind in the pub/sub-cut pass (0 skips it); every
#                                  revocation costs at least one PBKDF2 login, so this pass is kept short
#   BENCH_PROP_GIVE_UP=5           stop a kind after this many revocations in a row B never refused
#   BENCH_PROP_KINDS="logout,kick,kick-all,ban,roles,password"
#   BENCH_PROP_BOUND_MS=2000       accepted-after-bound threshold   BENCH_PROP_TIMEOUT_MS=5000
#   BENCH_FLOOD_CONNECTIONS=32     connections of the login flood   BENCH_FLOOD_USERS=1000000  usernames it draws from
#   BENCH_FLOOD_LEAD=1             seconds the flood runs before the measured run starts
#   BENCH_FLOOD_LOADS="logins targeted profile"   loads of the flood scenario
#   BENCH_AUTH_SESSIONS=512        sessions of the measured authenticated traffic in the flood scenario
#   BENCH_LOGIN_COUNT=100          logins per instance and round in login-cost (4 at a time)
#   BENCH_SG_ENV="VAR=value ..."   extra settings for every SessionGate instance (experiments)
#   BENCH_FORGED_COUNT=10000       forged credentials per kind      BENCH_PG_FLUSH=11  seconds to let PostgreSQL
#                                  publish its statistics (idle backends report them within 10 s)
#   BENCH_SESSION_KEY_PATTERN='bench:{o:*'      Redis keys of Opaque sessions (the layout may change)
#   BENCH_PEER_SESSION_KEY_PATTERN='peer:ck:*'  Redis keys of the cookie peer's tickets
#   BENCH_APP_PORT=18180 BENCH_DOWNSTREAM_PORT=18181 BENCH_PEERS_PORT=18182 BENCH_APP_B_PORT=18183
#   BENCH_PROP_REDIS_PORT=18184    (the next free port is used when one is taken)
#   BENCH_DB=sg_bench              PostgreSQL database (created if missing)
#   BENCH_SKIP_BUILD=1             reuse the binaries in .local/bench/build
#   ConnectionStrings__Postgres / Redis__Configuration: servers to use; otherwise
#   `scripts/run services` is asked (it starts them when needed), else the defaults
#   127.0.0.1:15432 (sessiongate/sessiongate) and 127.0.0.1:16379.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

export DOTNET_CLI_TELEMETRY_OPTOUT=1
export DOTNET_NOLOGO=1

DURATION="${BENCH_DURATION:-3s}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
THREADS="${BENCH_THREADS:-1}"
WARMUP="${BENCH_WARMUP:-1s}"
APP_WARMUP="${BENCH_APP_WARMUP:-5s}"
ROUNDS="${BENCH_ROUNDS:-3}"
MODES="${BENCH_MODES:-Opaque Blacklist SessionCache}"
SCENARIOS="${BENCH_SCENARIOS:-profile profile256 health gateway chain pertoken redis-bytes flood forged propagation login-cost}"
PEERS="${BENCH_PEERS:-jwt-hs jwt-es jwt-hs-redis cookie}"
CREDENTIALS="${BENCH_CREDENTIALS:-256}"
PROP_COUNT="${BENCH_PROP_COUNT:-200}"
PROP_CUT_COUNT="${BENCH_PROP_CUT_COUNT:-50}"
PROP_GIVE_UP="${BENCH_PROP_GIVE_UP:-5}"
PROP_KINDS="${BENCH_PROP_KINDS:-logout,kick,kick-all,ban,roles,password}"
PROP_BOUND_MS="${BENCH_PROP_BOUND_MS:-2000}"
PROP_TIMEOUT_MS="${BENCH_PROP_TIMEOUT_MS:-5000}"
FLOOD_CONNECTIONS="${BENCH_FLOOD_CONNECTIONS:-32}"
FLOOD_USERS="${BENCH_FLOOD_USERS:-1000000}"
FLOOD_LEAD="${BENCH_FLOOD_LEAD:-1}"
FLOOD_LOADS="${BENCH_FLOOD_LOADS:-logins targeted profile}"
AUTH_SESSIONS="${BENCH_AUTH_SESSIONS:-512}"
LOGIN_COUNT="${BENCH_LOGIN_COUNT:-100}"
FORGED_COUNT="${BENCH_FORGED_COUNT:-10000}"
PG_FLUSH="${BENCH_PG_FLUSH:-11}"
default_session_pattern='bench:{o:*'
SESSION_KEY_PATTERN="${BENCH_SESSION_KEY_PATTERN:-$default_session_pattern}"
PEER_SESSION_KEY_PATTERN="${BENCH_PEER_SESSION_KEY_PATTERN:-peer:ck:*}"
BENCH_DB="${BENCH_DB:-sg_bench}"
DEMO_PASSWORD="demo-password-123"
LOGIN_PARALLEL=4

OUT="$ROOT/.local/bench"
BUILD="$OUT/build"
WRK_DIR="$OUT/wrk"
CRED_DIR="$OUT/credentials"
RESULTS="$OUT/results.md"
LUA="$ROOT/bench/creds.lua"
FLOOD_LUA="$ROOT/bench/flood.lua"
FORGED_LUA="$ROOT/bench/forged.lua"

log() { printf '==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}

has_scenario() { [[ " $SCENARIOS " == *" $1 "* ]]; }

for s in $SCENARIOS; do
  case $s in profile | profile256 | health | gateway | chain | pertoken | redis-bytes | flood | forged | propagation | login-cost) ;; *) die "unknown scenario '$s' (BENCH_SCENARIOS)" ;; esac
done
for p in $PEERS; do
  case $p in jwt-hs | jwt-es | jwt-hs-redis | cookie) ;; *) die "unknown peer '$p' (BENCH_PEERS)" ;; esac
done
for m in $MODES; do
  case $m in Opaque | Blacklist | SessionCache) ;; *) die "unknown mode '$m' (BENCH_MODES)" ;; esac
done
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
[[ $CREDENTIALS =~ ^[1-9][0-9]*$ ]] || die "BENCH_CREDENTIALS must be a positive integer"
for l in $FLOOD_LOADS; do
  case $l in logins | targeted | profile) ;; *) die "unknown load '$l' (BENCH_FLOOD_LOADS)" ;; esac
done
for v in FLOOD_CONNECTIONS FLOOD_USERS FORGED_COUNT AUTH_SESSIONS LOGIN_COUNT; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "BENCH_$v must be a positive integer"
done
[[ $FLOOD_LEAD =~ ^[0-9]+$ && $PG_FLUSH =~ ^[0-9]+$ ]] || die "BENCH_FLOOD_LEAD and BENCH_PG_FLUSH must be whole seconds"
if has_scenario flood; then
  [[ $DURATION =~ ^[1-9][0-9]*s$ ]] || die "BENCH_DURATION must be whole seconds, like 3s, for the flood scenario"
fi

WRK_SCENARIOS=0
for s in profile profile256 health gateway chain pertoken; do has_scenario "$s" && WRK_SCENARIOS=1; done
NEED_APP=$WRK_SCENARIOS
has_scenario redis-bytes && NEED_APP=1
# flood and forged run on their own instance (trusted X-Forwarded-For, shipped login limits).
FLOOD_SCENARIOS=0
has_scenario flood && FLOOD_SCENARIOS=1
has_scenario forged && FLOOD_SCENARIOS=1

# ---------------------------------------------------------------------------
# Processes we start (and only those) are stopped on exit.
# ---------------------------------------------------------------------------
APP_PID=""
APP_B_PID=""
DOWNSTREAM_PID=""
PEERS_PID=""
PROP_REDIS_PID=""

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

stop_apps() {
  stop_pid "$APP_PID"
  stop_pid "$APP_B_PID"
  APP_PID=""
  APP_B_PID=""
}

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  stop_pid "$PROBE_PID"
  stop_pid "$PROBE_B_PID"
  stop_pid "$FLOOD_PID"
  stop_apps
  stop_pid "$PEERS_PID"
  stop_pid "$DOWNSTREAM_PID"
  stop_pid "$PROP_REDIS_PID"
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

TAKEN_PORTS=" "
# First free TCP port >= $1 (below 32768) that this script has not handed out yet.
free_port_from() {
  local p=$1
  while [[ $TAKEN_PORTS == *" $p "* ]] || port_in_use "$p"; do
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

# Median of the numbers on stdin.
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "nan"; exit }
    if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2
  }'
}

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

# check_200 NAME URL LOG [HEADER]: one GET must answer 200.
check_200() {
  local name=$1 url=$2 logf=$3 header=${4:-} code body
  body=$(mktemp /tmp/sg-bench-check.XXXXXX)
  local -a args=(-s -o "$body" -w '%{http_code}' --max-time 10)
  [[ -n $header ]] && args+=(-H "$header")
  code=$(curl "${args[@]}" "$url" || true)
  if [[ $code != 200 ]]; then
    printf 'response (HTTP %s): %s\n' "$code" "$(head -c 500 "$body")" >&2
    rm -f "$body"
    fail_with_log "$name: GET $url answered $code, expected 200" "$logf"
  fi
  rm -f "$body"
}

apt_install() {
  local -a sudo=()
  [[ $EUID -eq 0 ]] || sudo=(sudo -n)
  export DEBIAN_FRONTEND=noninteractive
  if ! "${sudo[@]}" apt-get install -y -q "$@" >/dev/null 2>&1; then
    "${sudo[@]}" apt-get update -q >/dev/null
    "${sudo[@]}" apt-get install -y -q "$@" >/dev/null
  fi
}

# ---------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------
# run_wrk FILE DURATION SPEC: one wrk run against an endpoint spec, output kept in FILE.
# SPEC is "label|url|credential file|header|prefix"; no credential file = anonymous.
run_wrk() {
  local file=$1 dur=$2 spec=$3 label url cfile header prefix
  IFS='|' read -r label url cfile header prefix <<<"$spec"
  local -a args=(-t"$THREADS" -c"$CONNECTIONS" -d"$dur" --latency --timeout 10s)
  if [[ -n $cfile ]]; then
    args+=(-s "$LUA" "$url" -- "$cfile" "$header" "$prefix")
  else
    args+=("$url")
  fi
  if ! wrk "${args[@]}" >"$file" 2>&1; then
    cat "$file" >&2
    die "wrk failed against $label ($url)"
  fi
  if grep -q 'Non-2xx or 3xx responses' "$file"; then
    cat "$file" >&2
    die "wrk saw non-2xx responses from $label ($url); logs in ${OUT#"$ROOT"/}/"
  fi
  if grep -qE 'Socket errors:.*(connect [1-9]|timeout [1-9])' "$file"; then
    cat "$file" >&2
    die "wrk saw connect errors or timeouts against $label ($url)"
  fi
  if grep -q 'Socket errors' "$file"; then
    note "warning: $(grep 'Socket errors' "$file" | sed 's/^ *//') ($label)"
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

fmt_run() {
  local rps p50 p99
  read -r rps p50 p99 <<<"$1"
  printf '%8.0f req/s  p50 %7.3f ms  p99 %7.3f ms' "$rps" "$p50" "$p99"
}

TABLE_ROWS=()
CPU_ROWS=()
ROUND_HOOK=""

# pid_of URL -> the process that serves it (SessionGate or the peers), for its CPU per request; empty for others.
pid_of() {
  case $1 in
    "$APP_URL"/*) printf '%s' "$APP_PID" ;;
    "$PEERS_URL"/*) printf '%s' "$PEERS_PID" ;;
  esac
}

# measure_group MODE GROUP SUBJECT_SPEC "SCENARIO#PEER_SPEC"...
# Runs subject and peers in turn (reversed on even rounds) for ROUNDS rounds after a warm-up of each, then
# adds one row per peer: medians over the rounds, and the median of the per-round ratios subject/peer
# (each ratio compares runs seconds apart, which cancels most of the machine's drift).
measure_group() {
  local mode=$1 group=$2 subject=$3
  shift 3
  local -a specs=("$subject") scen=("")
  local item
  for item in "$@"; do
    scen+=("${item%%#*}")
    specs+=("${item#*#}")
  done
  local n=${#specs[@]} r i k tag file label
  tag=$(printf '%s' "$mode-$group" | tr '[:upper:]' '[:lower:]')
  log "$mode / $group: ${ROUNDS} round(s) of $n endpoints, ${DURATION} each, -t$THREADS -c$CONNECTIONS (warm-up $WARMUP each)"
  [[ -n $ROUND_HOOK ]] && "$ROUND_HOOK"
  for ((i = 0; i < n; i++)); do
    run_wrk "$WRK_DIR/$tag-warmup-$i.txt" "$WARMUP" "${specs[$i]}"
  done

  declare -A res=() cpu=()
  local -a order
  local pid t0 url
  for ((r = 1; r <= ROUNDS; r++)); do
    [[ -n $ROUND_HOOK && $r -gt 1 ]] && "$ROUND_HOOK"
    order=()
    for ((i = 0; i < n; i++)); do
      if ((r % 2)); then order+=("$i"); else order=("$i" "${order[@]}"); fi
    done
    for i in "${order[@]}"; do
      file="$WRK_DIR/$tag-$i-round$r.txt"
      IFS='|' read -r label url _ <<<"${specs[$i]}"
      pid=$(pid_of "$url")
      [[ -n $pid ]] && t0=$(cpu_ticks "$pid")
      run_wrk "$file" "$DURATION" "${specs[$i]}"
      res[$i,$r]=$(parse_wrk "$file")
      # CPU per request of the process that served the run (user + system, /proc/PID/stat), in microseconds: what
      # the request cost that process, whatever share of the shared cores it got meanwhile.
      cpu[$i,$r]=0
      if [[ -n $pid ]]; then
        cpu[$i,$r]=$(awk -v t="$(($(cpu_ticks "$pid") - t0))" -v k="$CLK_TCK" -v n="$(awk '/requests in/ {print $1; exit}' "$file")" \
          'BEGIN { printf "%.1f", (n > 0 ? t / k * 1e6 / n : 0) }')
      fi
      note "round $r $(printf '%-34s' "$label") $(fmt_run "${res[$i,$r]}")  $(printf '%6.1f' "${cpu[$i,$r]}") us CPU/req"
    done
  done

  local s_rps s_p50 s_p99 p_rps p_p50 p_p99 ratio s_label p_label
  s_rps=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $1}' <<<"${res[0,$r]}"; done | median)
  s_p50=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $2}' <<<"${res[0,$r]}"; done | median)
  s_p99=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $3}' <<<"${res[0,$r]}"; done | median)
  IFS='|' read -r s_label _ <<<"$subject"
  for ((k = 1; k < n; k++)); do
    p_rps=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $1}' <<<"${res[$k,$r]}"; done | median)
    p_p50=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $2}' <<<"${res[$k,$r]}"; done | median)
    p_p99=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $3}' <<<"${res[$k,$r]}"; done | median)
    ratio=$(for ((r = 1; r <= ROUNDS; r++)); do
      awk -v s="${res[0,$r]%% *}" -v p="${res[$k,$r]%% *}" 'BEGIN { printf "%.4f\n", (p > 0 ? s / p : 0) }'
    done | median)
    IFS='|' read -r p_label _ <<<"${specs[$k]}"
    TABLE_ROWS+=("$(printf '| %s | %s: %s vs %s | %.0f | %.0f | %.2fx | %.2f / %.2f | %.2f / %.2f |' \
      "$mode" "${scen[$k]}" "$s_label" "$p_label" "$s_rps" "$p_rps" "$ratio" "$s_p50" "$p_p50" "$s_p99" "$p_p99")")
    note "=> ${scen[$k]}: $s_label / $p_label = $(printf '%.2f' "$ratio")x req/s"
    if [[ ${cpu[0,1]} != 0 && ${cpu[$k,1]} != 0 ]]; then
      local s_cpu p_cpu cratio
      s_cpu=$(for ((r = 1; r <= ROUNDS; r++)); do echo "${cpu[0,$r]}"; done | median)
      p_cpu=$(for ((r = 1; r <= ROUNDS; r++)); do echo "${cpu[$k,$r]}"; done | median)
      cratio=$(for ((r = 1; r <= ROUNDS; r++)); do
        awk -v s="${cpu[0,$r]}" -v p="${cpu[$k,$r]}" 'BEGIN { printf "%.4f\n", (s > 0 ? p / s : 0) }'
      done | median)
      CPU_ROWS+=("$(printf '| %s | %s: %s vs %s | %.1f | %.1f | %.2fx |' "$mode" "${scen[$k]}" "$s_label" "$p_label" "$s_cpu" "$p_cpu" "$cratio")")
      note "=> ${scen[$k]}: CPU per request $s_cpu us vs $p_cpu us = $(printf '%.2f' "$cratio")x (peer / subject)"
    fi
  done
}

# ---------------------------------------------------------------------------
# Setup
# ---------------------------------------------------------------------------
mkdir -p "$OUT" "$WRK_DIR" "$CRED_DIR"
rm -f "$WRK_DIR"/*.txt "$CRED_DIR"/*.txt "$OUT"/propagation-*.md
command -v curl >/dev/null 2>&1 || die "curl is required"
command -v psql >/dev/null 2>&1 || die "psql is required (apt-get install postgresql-client)"
command -v dotnet >/dev/null 2>&1 || die "the .NET SDK (dotnet) is required"
if ((WRK_SCENARIOS || FLOOD_SCENARIOS)) && ! command -v wrk >/dev/null 2>&1; then
  log "Installing wrk"
  apt_install wrk || true
  command -v wrk >/dev/null 2>&1 || die "wrk is not installed and could not be installed with apt-get"
fi
if ! command -v redis-cli >/dev/null 2>&1 || { has_scenario propagation && ! command -v redis-server >/dev/null 2>&1; }; then
  log "Installing redis-server (redis-cli, and a private Redis for the propagation scenario)"
  apt_install redis-server || true
  command -v redis-cli >/dev/null 2>&1 || die "redis-cli is not installed and could not be installed with apt-get"
fi

# PostgreSQL / Redis: explicit settings win; else ask scripts/run services; else defaults.
if [[ -z ${ConnectionStrings__Postgres:-} || -z ${Redis__Configuration:-} ]] && [[ -x $ROOT/scripts/run ]]; then
  log "Asking scripts/run services for PostgreSQL and Redis"
  if exports=$("$ROOT/scripts/run" services 2>"$OUT/services.log"); then
    eval "$exports"
    # The bench databases are its own: the owner of scripts/run's database must not migrate that one instead.
    unset ConnectionStrings__PostgresOwner
  else
    note "scripts/run services failed (see ${OUT#"$ROOT"/}/services.log); trying the default ports"
  fi
fi
# The bench database is made, owned and migrated by a role that may create databases (SG_POSTGRES_ADMIN from
# scripts/run services; the app's own role may not).
PG_CONN="${SG_POSTGRES_ADMIN:-${ConnectionStrings__Postgres:-Host=127.0.0.1;Port=15432;Database=sessiongate;Username=sessiongate;Password=sessiongate}}"
REDIS_CONF="${Redis__Configuration:-127.0.0.1:16379}"
BENCH_CONN=$(conn_with_db "$PG_CONN" "$BENCH_DB")

PGHOST_=$(conn_get "$PG_CONN" host || conn_get "$PG_CONN" server || echo 127.0.0.1)
PGPORT_=$(conn_get "$PG_CONN" port || echo 5432)
PGUSER_=$(conn_get "$PG_CONN" username || conn_get "$PG_CONN" userid || conn_get "$PG_CONN" user || echo sessiongate)
PGPASS_=$(conn_get "$PG_CONN" password || echo "")
[[ $BENCH_DB =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "BENCH_DB must be a plain identifier"

redis_main=${REDIS_CONF%%,*}
REDIS_HOST=${redis_main%:*}
REDIS_PORT=${redis_main##*:}
REDIS_PASSWORD=$(printf '%s' "$REDIS_CONF" | tr ',' '\n' | sed -n 's/^password=//p' | head -n 1)
rcli() { REDISCLI_AUTH="$REDIS_PASSWORD" redis-cli --no-auth-warning -h "$REDIS_HOST" -p "$REDIS_PORT" "$@"; }

log "PostgreSQL $PGHOST_:$PGPORT_ (database $BENCH_DB), Redis $REDIS_HOST:$REDIS_PORT (key prefixes bench: and peer:)"
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
[[ $(rcli PING 2>/dev/null) == PONG ]] || die "Redis does not answer on $REDIS_HOST:$REDIS_PORT (start it with: eval \"\$(scripts/run services)\")"

build() {
  local name=$1 project=$2 dir=$3
  log "Building $name (Release) -> ${BUILD#"$ROOT"/}/$dir"
  dotnet build "$ROOT/$project" -c Release -o "$BUILD/$dir" --nologo -v quiet >>"$OUT/build.log" 2>&1 ||
    fail_with_log "building $project failed" "$OUT/build.log"
}
if [[ ${BENCH_SKIP_BUILD:-0} == 1 && -f $BUILD/app/App.dll && -f $BUILD/downstream/Downstream.dll &&
  -f $BUILD/peers/Peers.dll && -f $BUILD/propagation/Propagation.dll ]]; then
  log "Reusing binaries in ${BUILD#"$ROOT"/}"
else
  : >"$OUT/build.log"
  build app migrations/Migrations.csproj app
  build downstream samples/Downstream/Downstream.csproj downstream
  build peers bench/Peers/Peers.csproj peers
  build propagation bench/Propagation/Propagation.csproj propagation
fi

APP_PORT=$(free_port_from "${BENCH_APP_PORT:-18180}")
TAKEN_PORTS+="$APP_PORT "
DOWNSTREAM_PORT=$(free_port_from "${BENCH_DOWNSTREAM_PORT:-18181}")
TAKEN_PORTS+="$DOWNSTREAM_PORT "
PEERS_PORT=$(free_port_from "${BENCH_PEERS_PORT:-18182}")
TAKEN_PORTS+="$PEERS_PORT "
APP_B_PORT=$(free_port_from "${BENCH_APP_B_PORT:-18183}")
TAKEN_PORTS+="$APP_B_PORT "
PROP_REDIS_PORT=$(free_port_from "${BENCH_PROP_REDIS_PORT:-18184}")
TAKEN_PORTS+="$PROP_REDIS_PORT "
APP_URL="http://127.0.0.1:$APP_PORT"
APP_B_URL="http://127.0.0.1:$APP_B_PORT"
DOWNSTREAM_URL="http://127.0.0.1:$DOWNSTREAM_PORT"
PEERS_URL="http://127.0.0.1:$PEERS_PORT"

# ---------------------------------------------------------------------------
# Downstream and peers (kept running for all modes)
# ---------------------------------------------------------------------------
if ((WRK_SCENARIOS)); then
  log "Starting downstream on $DOWNSTREAM_URL (log: ${OUT#"$ROOT"/}/downstream.log)"
  env ASPNETCORE_URLS="$DOWNSTREAM_URL" Downstream__Authority="$APP_URL" Downstream__ExposeTokenForBench=true \
    Logging__LogLevel__Default=Warning \
    dotnet "$BUILD/downstream/Downstream.dll" </dev/null >"$OUT/downstream.log" 2>&1 &
  DOWNSTREAM_PID=$!
  log "Starting peers on $PEERS_URL (log: ${OUT#"$ROOT"/}/peers.log)"
  env ASPNETCORE_URLS="$PEERS_URL" Redis__Configuration="$REDIS_CONF" Peers__DownstreamAddress="$DOWNSTREAM_URL/" \
    Logging__LogLevel__Default=Warning \
    dotnet "$BUILD/peers/Peers.dll" </dev/null >"$OUT/peers.log" 2>&1 &
  PEERS_PID=$!
  wait_http "$DOWNSTREAM_URL/ping" "$DOWNSTREAM_PID" "$OUT/downstream.log" "downstream"
  wait_http "$PEERS_URL/ping" "$PEERS_PID" "$OUT/peers.log" "peers"
fi

# Redis MEMORY USAGE of keys matching $1 that are not in file $2; prints "mean count".
new_key_bytes() {
  local pattern=$1 before=$2 after
  after=$(mktemp /tmp/sg-bench-keys.XXXXXX)
  rcli --scan --pattern "$pattern" | sort >"$after"
  comm -13 "$before" "$after" | head -n 64 | while read -r key; do rcli MEMORY USAGE "$key"; done |
    awk '$1 ~ /^[0-9]+$/ { s += $1; n++ } END { if (n) printf "%.0f %d\n", s / n, n; else print "0 0" }'
  rm -f "$after"
}

# mint KIND N FILE: N peer credentials, one a line.
mint() {
  local kind=$1 n=$2 file=$3
  curl -sf --max-time 60 -X POST "$PEERS_URL/__bench/tokens?kind=$kind&n=$n" -o "$file" ||
    fail_with_log "minting $n $kind credentials from the peers failed" "$OUT/peers.log"
  [[ $(grep -c . "$file") == "$n" ]] || die "the peers returned $(grep -c . "$file") $kind credentials, expected $n"
}

PEER_BYTES="0 0"
if has_scenario profile || has_scenario profile256 || has_scenario redis-bytes; then
  log "Minting peer credentials (1 and $CREDENTIALS of each kind)"
  before=$(mktemp /tmp/sg-bench-keys.XXXXXX)
  rcli --scan --pattern "$PEER_SESSION_KEY_PATTERN" | sort >"$before"
  for kind in hs es cookie; do
    mint "$kind" "$CREDENTIALS" "$CRED_DIR/peer-$kind-many.txt"
    head -n 1 "$CRED_DIR/peer-$kind-many.txt" >"$CRED_DIR/peer-$kind-1.txt"
  done
  PEER_BYTES=$(new_key_bytes "$PEER_SESSION_KEY_PATTERN" "$before")
  rm -f "$before"
  tok=$(cat "$CRED_DIR/peer-hs-1.txt")
  check_200 "peer jwt-hs" "$PEERS_URL/jwt-hs/profile" "$OUT/peers.log" "Authorization: Bearer $tok"
  check_200 "peer jwt-hs-redis" "$PEERS_URL/jwt-hs-redis/profile" "$OUT/peers.log" "Authorization: Bearer $tok"
  check_200 "peer jwt-es" "$PEERS_URL/jwt-es/profile" "$OUT/peers.log" "Authorization: Bearer $(cat "$CRED_DIR/peer-es-1.txt")"
  check_200 "peer cookie" "$PEERS_URL/cookie/profile" "$OUT/peers.log" "Cookie: peer.sid=$(cat "$CRED_DIR/peer-cookie-1.txt")"
fi

# ---------------------------------------------------------------------------
# SessionGate
# ---------------------------------------------------------------------------
# Login limits are lifted (the wrk scenarios log alice in hundreds of times from one address), except when
# SG_SHIPPED_LIMITS=1: then the instance keeps the limits appsettings.json ships and believes X-Forwarded-For
# from loopback, so the login flood can come from many addresses.
SG_SHIPPED_LIMITS=0
# Extra settings for the next start_sg (VAR=value ...), e.g. the PBKDF2 instance of login-cost.
SG_EXTRA_ENV=()
# start_sg PIDVAR URL REDIS MODE LOG: the pid goes into PIDVAR at once, so cleanup stops it whatever happens.
start_sg() {
  local pidvar=$1 url=$2 redis=$3 mode=$4 logf=$5
  local -a limits=(
    LoginLimits__RequestsPerMinutePerIp=1000000
    LoginLimits__MaxFailuresPerAccount=1000000
    LoginLimits__MaxFailuresPerAccountAndAddress=1000000
    LoginLimits__MaxFailuresPerIp=1000000
    RateLimits__PerSessionPerSecond=0
    RateLimits__StateChangesPerSessionPerSecond=0
    RateLimits__PerAddressPerSecond=0
  )
  local what=""
  if ((SG_SHIPPED_LIMITS)); then
    limits=(ForwardedHeaders__Enabled=true)
    what=", shipped login and request limits, X-Forwarded-For trusted"
  fi
  # shellcheck disable=SC2206  # BENCH_SG_ENV is a list of VAR=value words
  limits+=("${SG_EXTRA_ENV[@]}" ${BENCH_SG_ENV:-})
  if ((${#SG_EXTRA_ENV[@]})) || [[ -n ${BENCH_SG_ENV:-} ]]; then what+=", ${SG_EXTRA_ENV[*]} ${BENCH_SG_ENV:-}"; fi
  log "Starting SessionGate (Auth__Mode=$mode$what) on $url, Redis ${redis%%,*} (log: ${logf#"$ROOT"/})"
  printf '\n===== %s Auth__Mode=%s %s =====\n' "$(date -u +%FT%TZ)" "$mode" "$url" >>"$logf"
  env ASPNETCORE_URLS="$url" \
    ConnectionStrings__Postgres="$BENCH_CONN" \
    Redis__Configuration="$redis" \
    Redis__KeyPrefix="bench:" \
    Database__MigrateOnStart=true \
    Management__Urls= \
    Demo__Seed=true \
    Demo__Password="$DEMO_PASSWORD" \
    Auth__Mode="$mode" \
    "${limits[@]}" \
    Serilog__MinimumLevel__Default=Warning \
    ReverseProxy__Routes__demo__ClusterId=demo \
    ReverseProxy__Routes__demo__Match__Path='/demo/{**catch-all}' \
    ReverseProxy__Routes__demo__Metadata__InternalJwtAudience=demo-api \
    ReverseProxy__Routes__demo__Transforms__0__PathRemovePrefix=/demo \
    ReverseProxy__Routes__demo_strict__ClusterId=demo \
    ReverseProxy__Routes__demo_strict__Match__Path='/demo-strict/{**catch-all}' \
    ReverseProxy__Routes__demo_strict__Metadata__InternalJwtAudience=demo-api \
    ReverseProxy__Routes__demo_strict__Metadata__InternalJwtPerRequest=true \
    ReverseProxy__Routes__demo_strict__Transforms__0__PathRemovePrefix=/demo-strict \
    ReverseProxy__Clusters__demo__Destinations__downstream__Address="$DOWNSTREAM_URL/" \
    dotnet "$BUILD/app/App.dll" </dev/null >>"$logf" 2>&1 &
  printf -v "$pidvar" '%s' "$!"
  wait_http "$url/health/ready" "${!pidvar}" "$logf" "SessionGate ($mode, $url)"
}

cred_field() { if [[ $1 == Opaque ]]; then echo session_id; else echo access_token; fi; }

# login_many MODE N FILE: N logins of acme/alice, LOGIN_PARALLEL at a time; one credential a line.
login_many() {
  local mode=$1 n=$2 file=$3 field raw
  field=$(cred_field "$mode")
  raw=$(mktemp /tmp/sg-bench-login.XXXXXX)
  seq "$n" | xargs -P "$LOGIN_PARALLEL" -I{} curl -s --retry 5 --retry-delay 1 --max-time 60 -H 'Content-Type: application/json' \
    -d "{\"tenant\":\"acme\",\"username\":\"alice\",\"password\":\"$DEMO_PASSWORD\"}" -w '\n' "$APP_URL/auth/login" >"$raw" || true
  grep -o "\"$field\":\"[^\"]*\"" "$raw" | sed -E 's/.*:"([^"]*)"/\1/' >"$file" || true
  if [[ $(grep -c . "$file") != "$n" ]]; then
    printf 'login responses: %s\n' "$(head -c 500 "$raw")" >&2
    rm -f "$raw"
    fail_with_log "$n logins as acme/alice in mode $mode gave $(grep -c . "$file") \"$field\" values" "$OUT/app.log"
  fi
  rm -f "$raw"
}

INTERNAL_JWT_TOKEN=""
# A real internal JWT, minted by SessionGate for alice's session and echoed by the downstream, handed to
# the bare-YARP peer. It lives 5 minutes, so it is fetched again before every round.
refresh_internal_jwt() {
  local jwt
  jwt=$(curl -sf --max-time 10 -H "Authorization: Bearer $INTERNAL_JWT_TOKEN" "$APP_URL/demo/__bench/internal-jwt") ||
    fail_with_log "could not fetch an internal JWT through $APP_URL/demo/__bench/internal-jwt" "$OUT/downstream.log"
  [[ $jwt == ey* ]] || die "the downstream echoed no internal JWT (got: ${jwt:0:80})"
  curl -sf --max-time 10 -X POST --data-binary "$jwt" "$PEERS_URL/__bench/internal-jwt" >/dev/null ||
    fail_with_log "could not hand the internal JWT to the peers" "$OUT/peers.log"
  check_200 "bare YARP with the internal JWT" "$PEERS_URL/yarp-jwt/secure-ping" "$OUT/peers.log"
}

PROP_REDIS_CONF=""
start_prop_redis() {
  [[ -n $PROP_REDIS_PID ]] && return 0
  command -v redis-server >/dev/null 2>&1 || die "redis-server is required for the propagation scenario"
  mkdir -p "$OUT/redis-propagation"
  log "Starting a private Redis for the propagation scenario on 127.0.0.1:$PROP_REDIS_PORT (CLIENT KILL there touches nobody else)"
  redis-server --port "$PROP_REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$OUT/redis-propagation" \
    </dev/null >"$OUT/redis-propagation.log" 2>&1 &
  PROP_REDIS_PID=$!
  local i
  for ((i = 0; i < 100; i++)); do
    [[ $(redis-cli -h 127.0.0.1 -p "$PROP_REDIS_PORT" PING 2>/dev/null) == PONG ]] && break
    kill -0 "$PROP_REDIS_PID" 2>/dev/null || fail_with_log "redis-server exited" "$OUT/redis-propagation.log"
    sleep 0.1
  done
  PROP_REDIS_CONF="127.0.0.1:$PROP_REDIS_PORT"
}

# ---------------------------------------------------------------------------
# flood and forged
# ---------------------------------------------------------------------------
FLOOD_ROWS=()
FORGED_ROWS=()
FLOOD_PID=""
PROBE_PID=""
PROBE_B_PID=""
FLOODER_FILE=""

lower() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]'; }

# Tables a credential check can read: the session row (server-side modes), a user's revocation state, the
# revoked-token list and the signing keys (a kid this instance does not know).
AUTH_TABLES="'sessions','users','revoked_tokens','signing_keys'"
# "transactions rows scans" in BENCH_DB so far: commits + rollbacks and rows returned + fetched (pg_stat_database),
# and sequential + index scans of AUTH_TABLES (pg_stat_user_tables). This query's own transaction is counted only
# by the next snapshot, so a window from one snapshot to the next holds exactly one of ours: subtract it.
pg_bench_stats() {
  psql_admin -d "$BENCH_DB" -tA -F' ' -c "SELECT d.xact_commit + d.xact_rollback, d.tup_returned + d.tup_fetched,
      (SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0) FROM pg_stat_user_tables WHERE relname IN ($AUTH_TABLES))
    FROM pg_stat_database d WHERE d.datname = current_database()"
}
# pg_delta BEFORE AFTER -> "transactions rows scans" in between (minus the snapshot's own transaction)
pg_delta() {
  local x0 r0 s0 x1 r1 s1
  read -r x0 r0 s0 <<<"$1"
  read -r x1 r1 s1 <<<"$2"
  printf '%s %s %s\n' "$((x1 - x0 - 1))" "$((r1 - r0))" "$((s1 - s0))"
}

# metric_sum FILE NAME [REGEX]: sum of the Prometheus samples NAME{...} in FILE whose labels match REGEX.
metric_sum() {
  awk -v name="$2" -v re="${3:-}" '
    /^#/ { next }
    { n = $1; sub(/\{.*/, "", n); if (n != name) next
      labels = $0; sub(/^[^{ ]*/, "", labels); sub(/\}.*/, "}", labels)
      if (re != "" && labels !~ re) next
      v = $0; sub(/^.*\} */, "", v); if (v == $0) v = $2; split(v, parts, " "); s += parts[1] }
    END { printf "%.0f\n", s }' "$1"
}

scrape() { curl -sf --max-time 10 "$APP_URL/metrics" >"$1" || fail_with_log "could not read $APP_URL/metrics" "$OUT/app.log"; }

# forged_creds MODE KIND FILE: FORGED_COUNT forged credentials, one a line.
#   opaque   48 random bytes in base64url (64 characters): the shape of a session id, with a MAC that cannot match
#   jwt-sig  alice's real access token (header and claims) with a random signature
#   jwt-kid  the same with a random kid in the header as well
forged_creds() {
  local mode=$1 kind=$2 file=$3
  case $kind in
    opaque)
      head -c $((48 * FORGED_COUNT)) /dev/urandom | base64 -w0 | tr '+/' '-_' | fold -w 64 >"$file"
      printf '\n' >>"$file"
      ;;
    jwt-sig | jwt-kid)
      command -v python3 >/dev/null 2>&1 || die "python3 is needed to forge access tokens (forged scenario)"
      python3 - "$kind" "$FORGED_COUNT" "$(cat "$CRED_DIR/sg-$mode-flood.txt")" >"$file" <<'PY'
import base64, json, os, sys
kind, n, token = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def enc(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
def dec(s): return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))
head, claims, sig = token.split(".")
header, sig_len = json.loads(dec(head)), len(dec(sig))
for _ in range(n):
    h = head if kind == "jwt-sig" else enc(json.dumps(dict(header, kid=os.urandom(8).hex()), separators=(",", ":")).encode())
    print(f"{h}.{claims}.{enc(os.urandom(sig_len))}")
PY
      ;;
  esac
  [[ $(grep -c . "$file") == "$FORGED_COUNT" ]] || die "forging $kind credentials gave $(grep -c . "$file") lines, expected $FORGED_COUNT"
}

# forged_run MODE KIND LABEL: each forged credential is sent once (bench/forged.lua) to /api/profile. Counted:
# the app's own judgements and hot-path PostgreSQL calls (/metrics, exact), and the transactions and rows
# PostgreSQL saw in BENCH_DB from just before the run until its statistics are published (PG_FLUSH after it).
# Prints the window's length in seconds.
forged_run() {
  local mode=$1 kind=$2 label=$3 tag file out pg0 pg1 t0 t1 secs n judged pgcalls xacts rows scans s401 sother
  tag=$(lower "$mode-forged-$kind")
  file="$CRED_DIR/$tag.txt"
  out="$WRK_DIR/$tag.txt"
  forged_creds "$mode" "$kind" "$file"
  n=$FORGED_COUNT
  sleep "$PG_FLUSH" # what ran before (the login) publishes its statistics
  scrape "$OUT/$tag-metrics-0.txt"
  pg0=$(pg_bench_stats)
  t0=$(date +%s%N)
  if ! wrk -t1 -c"$CONNECTIONS" -d120s --timeout 10s -s "$FORGED_LUA" "$APP_URL/api/profile" -- "$file" >"$out" 2>&1; then
    cat "$out" >&2
    die "wrk failed sending forged credentials ($kind)"
  fi
  scrape "$OUT/$tag-metrics-1.txt"
  sleep "$PG_FLUSH"
  pg1=$(pg_bench_stats)
  t1=$(date +%s%N)
  secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
  s401=$(awk '$1 == "status" && $2 == 401 { print $3 }' "$out")
  sother=$(awk '$1 == "status" && $2 != 401 && $2 != 200 { s += $3 } END { print s + 0 }' "$out")
  judged=$(($(metric_sum "$OUT/$tag-metrics-1.txt" sessiongate_authentications_total 'result="unauthenticated"') -
    $(metric_sum "$OUT/$tag-metrics-0.txt" sessiongate_authentications_total 'result="unauthenticated"')))
  pgcalls=$(($(metric_sum "$OUT/$tag-metrics-1.txt" sessiongate_store_duration_seconds_count 'store="postgres"') -
    $(metric_sum "$OUT/$tag-metrics-0.txt" sessiongate_store_duration_seconds_count 'store="postgres"')))
  read -r xacts rows scans <<<"$(pg_delta "$pg0" "$pg1")"
  ((judged == n)) || note "warning: the app judged $judged unauthenticated credentials, expected $n ($kind)"
  note "$label: $n sent, ${s401:-0} answered 401 (${sother} other non-200); app: $judged judged unauthenticated, $pgcalls PostgreSQL calls; PostgreSQL: $xacts transactions, $rows rows, $scans scans of the auth tables in ${secs}s"
  FORGED_ROWS+=("| $mode | $label | $n | ${s401:-0} | $judged | $pgcalls | $xacts | $rows | $scans | ${secs} |")
  FORGED_SECS=$secs
}

# forged_idle MODE SECONDS: the same counters over an idle window as long, for the background (outbox relay,
# key-set reload, online-session count).
forged_idle() {
  local mode=$1 secs=$2 pg0 pg1 xacts rows scans
  pg0=$(pg_bench_stats)
  sleep "$secs"
  pg1=$(pg_bench_stats)
  read -r xacts rows scans <<<"$(pg_delta "$pg0" "$pg1")"
  note "idle: PostgreSQL $xacts transactions, $rows rows, $scans scans of the auth tables in ${secs}s"
  FORGED_ROWS+=("| $mode | (nothing sent: an idle window as long, the background) | 0 | – | – | – | $xacts | $rows | $scans | $secs |")
}

KNOWN_ADDRESS=198.51.100.7
FLOODER_ADDRESS=203.0.113.66
PROBE_INTERVAL=0.2

# login_probe DEADLINE_NS FILE KIND [DEVICE_TOKEN]: alice's real logins, one at a time, PROBE_INTERVAL apart, until
# DEADLINE_NS (date +%s%N); one "status seconds" line each. known: with her device token, from her usual address;
# new: no device token, each from a fresh random address in 198.18.0.0/15 (a clean address).
login_probe() {
  local deadline=$1 file=$2 kind=$3 token=${4:-} body xff
  while (($(date +%s%N) < deadline)); do
    if [[ $kind == known ]]; then
      body="{\"tenant\":\"acme\",\"username\":\"alice\",\"password\":\"$DEMO_PASSWORD\",\"device_token\":\"$token\"}"
      xff=$KNOWN_ADDRESS
    else
      body="{\"tenant\":\"acme\",\"username\":\"alice\",\"password\":\"$DEMO_PASSWORD\"}"
      xff="198.$((18 + RANDOM % 2)).$((RANDOM % 256)).$((RANDOM % 254 + 1))"
    fi
    curl -s -o /dev/null --max-time 30 -w '%{http_code} %{time_total}\n' -H 'Content-Type: application/json' \
      -H "X-Forwarded-For: $xff" -d "$body" "$APP_URL/auth/login" >>"$file" || true
    sleep "$PROBE_INTERVAL"
  done
}

# probe_stats FILE -> "n ok busy other p50_ms p99_ms max_ms" (ok: 200, busy: 503) (nearest-rank percentiles over every login, whatever its status)
probe_stats() {
  sort -k2 -g "$1" | awk '
    { code[NR] = $1; t[NR] = $2 * 1000; if ($1 == 200) ok++; else if ($1 == 503) busy++; else other++ }
    function rank(p,  i) { i = int(p * NR); if (i < p * NR) i++; if (i < 1) i = 1; return t[i] }
    END { if (NR == 0) { print "0 0 0 0 nan nan nan"; exit }
      printf "%d %d %d %d %.0f %.0f %.0f\n", NR, ok, busy, other, rank(0.5), rank(0.99), t[NR] }'
}

# probe_cell FILE -> "n | ok % | p50 | p99 | max" for a table row
probe_cell() {
  local n ok busy other p50 p99 max
  read -r n ok busy other p50 p99 max <<<"$(probe_stats "$1")"
  awk -v n="$n" -v ok="$ok" -v b="$busy" -v o="$other" -v p50="$p50" -v p99="$p99" -v max="$max" 'BEGIN {
    printf "%d (%d / %d / %d) | %.1f %% | %s | %s | %s", n, ok, b, o, (n ? 100 * ok / n : 0), p50, p99, max }'
}

# load_start KIND FILE DURATION: one of the loads of the flood scenario, in the background.
load_start() {
  case $1 in
    logins) wrk -t1 -c"$FLOOD_CONNECTIONS" -d"$3" --timeout 10s -s "$FLOOD_LUA" "$APP_URL/auth/login" -- acme "$FLOOD_USERS" ;;
    targeted) wrk -t1 -c"$FLOOD_CONNECTIONS" -d"$3" --timeout 10s -s "$FLOOD_LUA" "$APP_URL/auth/login" -- acme "$FLOOD_USERS" alice ;;
    profile) wrk -t1 -c"$FLOOD_CONNECTIONS" -d"$3" --timeout 10s -s "$LUA" "$APP_URL/api/profile" -- "$FLOODER_FILE" Authorization "Bearer " ;;
  esac >"$2" 2>&1 &
  FLOOD_PID=$!
}

# load_wait FILE [warm-up]: the load must have had answers, except in the warm-up (a login may take longer).
load_wait() {
  if ! wait "$FLOOD_PID"; then
    FLOOD_PID=""
    cat "$1" >&2
    die "a load of the flood scenario (wrk) failed"
  fi
  FLOOD_PID=""
  if [[ -z ${2:-} ]] && ! grep -qE '^(status |Requests/sec)' "$1"; then
    cat "$1" >&2
    die "a load of the flood scenario got no answer"
  fi
}

# load_answers KIND FILES... -> "req/s | answers" over the rounds (statuses for the login floods, 200 / 429 for the profile flood)
load_answers() {
  local kind=$1 rps
  shift
  rps=$(for f in "$@"; do awk '/^Requests\/sec:/ {print $2}' "$f"; done | median)
  if [[ $kind == profile ]]; then
    cat "$@" | awk -v rps="$rps" '
      /requests in/ { total += $1 } /Non-2xx or 3xx responses:/ { non += $5 }
      END { printf "%.0f | %d × 200, %d refused (429)", rps, total - non, non }'
  else
    cat "$@" | awk -v rps="$rps" '$1 == "status" { n[$2] += $3 }
      END { s = ""; for (c in n) s = s (s == "" ? "" : ", ") n[c] " × " c; printf "%.0f | %s", rps, s }'
  fi
}

# auth_sessions MODE N FILE: N sessions of alice, each logged in from its own address in 172.16.0.0/12; one
# "credential address" line each (bench/creds.lua then sends each session's requests from its own address).
auth_sessions() {
  local mode=$1 n=$2 file=$3 field raw
  field=$(cred_field "$mode")
  raw=$(mktemp /tmp/sg-bench-login.XXXXXX)
  awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++) printf "172.%d.%d.%d\n", 16 + int(i / 62500) % 16, int(i / 250) % 250, i % 250 + 1 }' |
    xargs -P "$LOGIN_PARALLEL" -I{} bash -c 'r=$(curl -s --retry 5 --retry-delay 1 --max-time 60 -H "Content-Type: application/json" -H "X-Forwarded-For: $1" -d "$2" "$3/auth/login"); printf "%s %s\n" "$1" "$r"' \
      _ {} "{\"tenant\":\"acme\",\"username\":\"alice\",\"password\":\"$DEMO_PASSWORD\"}" "$APP_URL" >"$raw" || true
  sed -nE "s/^([0-9.]+) .*\"$field\":\"([^\"]*)\".*/\2 \1/p" "$raw" >"$file"
  if [[ $(grep -c . "$file") != "$n" ]]; then
    printf 'login responses: %s\n' "$(head -c 500 "$raw")" >&2
    rm -f "$raw"
    fail_with_log "$n logins as acme/alice from their own addresses in mode $mode gave $(grep -c . "$file") \"$field\" values" "$OUT/app.log"
  fi
  rm -f "$raw"
}

# login_field ADDRESS FIELD: one login of alice from ADDRESS; prints the response's FIELD.
login_field() {
  curl -s --retry 5 --retry-delay 1 --max-time 60 -H 'Content-Type: application/json' -H "X-Forwarded-For: $1" \
    -d "{\"tenant\":\"acme\",\"username\":\"alice\",\"password\":\"$DEMO_PASSWORD\"}" "$APP_URL/auth/login" |
    sed -nE "s/.*\"$2\":\"([^\"]*)\".*/\1/p"
}

# unlock_alice CREDENTIAL: after a flood on her account, lift its counts, so the next load starts clean.
unlock_alice() {
  local id
  id=$(curl -s --max-time 10 -H "Authorization: Bearer $1" -H "X-Forwarded-For: $KNOWN_ADDRESS" "$APP_URL/auth/me" | sed -nE 's/.*"user_id":"([^"]*)".*/\1/p')
  [[ -n $id ]] || die "could not read alice's user id from /auth/me"
  curl -sf -o /dev/null --max-time 10 -X POST -H "Authorization: Bearer $1" -H "X-Forwarded-For: $KNOWN_ADDRESS" "$APP_URL/admin/users/$id/unlock" ||
    die "could not unlock alice after the targeted flood"
}

# measure_flood MODE: undisturbed and during each load of FLOOD_LOADS, in turn (the order rotates every round),
# ROUNDS rounds after a warm-up: first alice logs in for DURATION, twice over, one login at a time each (from her
# known device, and as a new device), then GET /api/profile from AUTH_SESSIONS sessions (each from its own address)
# runs for DURATION. A load starts FLOOD_LEAD s before and outlasts both.
measure_flood() {
  local mode=$1 tag spec dur r i w file lfile token admin
  local -a loads order
  dur=${DURATION%s}
  tag=$(lower "$mode-flood")
  read -r -a loads <<<"quiet $FLOOD_LOADS"
  log "$mode / flood: $AUTH_SESSIONS sessions from their own addresses; ${ROUNDS} round(s) of /api/profile undisturbed and during: $FLOOD_LOADS (-c$FLOOD_CONNECTIONS), ${DURATION} each, -t$THREADS -c$CONNECTIONS"
  auth_sessions "$mode" "$AUTH_SESSIONS" "$CRED_DIR/sg-$mode-sessions.txt"
  token=$(login_field "$KNOWN_ADDRESS" device_token)
  [[ -n $token ]] || die "the login returned no device_token"
  FLOODER_FILE="$CRED_DIR/sg-$mode-flooder.txt"
  printf '%s %s\n' "$(login_field "$FLOODER_ADDRESS" "$(cred_field "$mode")")" "$FLOODER_ADDRESS" >"$FLOODER_FILE"
  admin=$(head -n 1 "$CRED_DIR/sg-$mode-sessions.txt" | cut -d' ' -f1)
  spec="SessionGate /api/profile ($AUTH_SESSIONS sessions)|$APP_URL/api/profile|$CRED_DIR/sg-$mode-sessions.txt|Authorization|Bearer "

  run_wrk "$WRK_DIR/$tag-warmup-quiet.txt" "$WARMUP" "$spec"
  for w in $FLOOD_LOADS; do
    load_start "$w" "$WRK_DIR/$tag-warmup-$w.txt" "$WARMUP"
    load_wait "$WRK_DIR/$tag-warmup-$w.txt" warm-up
  done
  unlock_alice "$admin"
  sleep 3 # waits on the hasher end within PasswordHashing:MaxWait (2 s)

  declare -A res=()
  for ((r = 1; r <= ROUNDS; r++)); do
    order=()
    for ((i = 0; i < ${#loads[@]}; i++)); do order+=("${loads[$(((i + r - 1) % ${#loads[@]}))]}"); done
    for w in "${order[@]}"; do
      file="$WRK_DIR/$tag-$w-round$r.txt"
      lfile="$WRK_DIR/$tag-$w-round$r-load.txt"
      if [[ $w != quiet ]]; then
        load_start "$w" "$lfile" "$((FLOOD_LEAD + 2 * dur + 2))s"
        sleep "$FLOOD_LEAD"
      fi
      # First alice's logins alone under the load, then the authenticated traffic alone under it: each measure
      # sees the load, not the other measure (the authenticated run saturates the cores by itself).
      login_probe $(($(date +%s%N) + dur * 1000000000)) "$WRK_DIR/$tag-$w-known.txt" known "$token" &
      PROBE_PID=$!
      login_probe $(($(date +%s%N) + dur * 1000000000)) "$WRK_DIR/$tag-$w-new.txt" new &
      PROBE_B_PID=$!
      wait "$PROBE_PID" || true
      wait "$PROBE_B_PID" || true
      PROBE_PID=""
      PROBE_B_PID=""
      run_wrk "$file" "$DURATION" "$spec"
      if [[ $w != quiet ]]; then
        load_wait "$lfile"
        [[ $w == targeted ]] && unlock_alice "$admin"
        sleep 3
      fi
      res[$w,$r]=$(parse_wrk "$file")
      note "round $r $(printf '%-22s' "/api/profile, $w") $(fmt_run "${res[$w,$r]}")$([[ $w != quiet ]] && printf '  load: %s' "$(load_answers "$w" "$lfile")")"
    done
  done

  local q_rps q_p50 q_p99 f_rps f_p50 f_p99 ratio what
  q_rps=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $1}' <<<"${res[quiet,$r]}"; done | median)
  q_p50=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $2}' <<<"${res[quiet,$r]}"; done | median)
  q_p99=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $3}' <<<"${res[quiet,$r]}"; done | median)
  FLOOD_ROWS+=("| $mode | none (undisturbed) | – | – | $(probe_cell "$WRK_DIR/$tag-quiet-known.txt") | $(probe_cell "$WRK_DIR/$tag-quiet-new.txt") |")
  for w in $FLOOD_LOADS; do
    f_rps=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $1}' <<<"${res[$w,$r]}"; done | median)
    f_p50=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $2}' <<<"${res[$w,$r]}"; done | median)
    f_p99=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $3}' <<<"${res[$w,$r]}"; done | median)
    ratio=$(for ((r = 1; r <= ROUNDS; r++)); do
      awk -v s="${res[$w,$r]%% *}" -v p="${res[quiet,$r]%% *}" 'BEGIN { printf "%.4f\n", (p > 0 ? s / p : 0) }'
    done | median)
    case $w in
      logins) what="a wrong-password login flood, random accounts and addresses (-c$FLOOD_CONNECTIONS)" ;;
      targeted) what="a wrong-password login flood on alice's account from random addresses (-c$FLOOD_CONNECTIONS)" ;;
      profile) what="one session flooding /api/profile (-c$FLOOD_CONNECTIONS)" ;;
    esac
    TABLE_ROWS+=("$(printf '| %s | flood: /api/profile (%s sessions) during %s vs undisturbed | %.0f | %.0f | %.2fx | %.2f / %.2f | %.2f / %.2f |' \
      "$mode" "$AUTH_SESSIONS" "$what" "$f_rps" "$q_rps" "$ratio" "$f_p50" "$q_p50" "$f_p99" "$q_p99")")
    note "=> $w: /api/profile during the load / undisturbed = $(printf '%.2f' "$ratio")x req/s"
    FLOOD_ROWS+=("| $mode | $w | $(load_answers "$w" "$WRK_DIR/$tag-$w"-round*-load.txt) | $(probe_cell "$WRK_DIR/$tag-$w-known.txt") | $(probe_cell "$WRK_DIR/$tag-$w-new.txt") |")
    note "$w: known device $(probe_cell "$WRK_DIR/$tag-$w-known.txt"); new device $(probe_cell "$WRK_DIR/$tag-$w-new.txt")"
  done
}

# ---------------------------------------------------------------------------
# login-cost
# ---------------------------------------------------------------------------
LOGIN_COST_ROWS=()
CLK_TCK=$(getconf CLK_TCK 2>/dev/null || echo 100)

# cpu_ticks PID -> user + system CPU of the process, in clock ticks
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# hash_ticks PID -> the same for the hashing threads only (named password-hashing-N; the kernel keeps 15 characters)
hash_ticks() {
  local t s=0 comm
  for t in /proc/"$1"/task/*; do
    comm=$(cat "$t/comm" 2>/dev/null || true)
    [[ $comm == password-hash* ]] && s=$((s + $(awk '{ print $14 + $15 }' "$t/stat" 2>/dev/null || echo 0)))
  done
  echo "$s"
}

# logins_timed URL USER N FILE: N right-password logins, 4 at a time; one "status seconds" line each.
logins_timed() {
  seq "$3" | xargs -P 4 -I{} curl -s --retry 5 --retry-delay 1 -o /dev/null --max-time 60 -w '%{http_code} %{time_total}\n' -H 'Content-Type: application/json' \
    -d "{\"tenant\":\"acme\",\"username\":\"$2\",\"password\":\"$DEMO_PASSWORD\"}" "$1/auth/login" >"$4" || true
  [[ $(grep -c '^200 ' "$4") == "$3" ]] || { head -n 5 "$4" >&2; fail_with_log "$3 logins of $2 at $1 did not all answer 200" "$OUT/app.log"; }
}

# measure_login_cost MODE: two instances, argon2id (A, alice) and PBKDF2 (B, bob), the same logins in turn.
measure_login_cost() {
  local mode=$1 tag r w pid url user c0 c1 h0 h1 file
  tag=$(lower "$mode-login-cost")
  # CPU is what is measured, not latency: a login may wait long for a hashing worker on this shared machine.
  SG_EXTRA_ENV=(PasswordHashing__MaxWait=00:01:00)
  start_sg APP_PID "$APP_URL" "$REDIS_CONF" "$mode" "$OUT/app.log"
  SG_EXTRA_ENV=(PasswordHashing__MaxWait=00:01:00 PasswordHashing__Algorithm=Pbkdf2)
  start_sg APP_B_PID "$APP_B_URL" "$REDIS_CONF" "$mode" "$OUT/app-b.log"
  SG_EXTRA_ENV=()
  log "$mode / login-cost: ${ROUNDS} round(s) of $LOGIN_COUNT logins (4 at a time) on each instance: argon2id (alice, $APP_URL) and PBKDF2 (bob, $APP_B_URL)"
  # Warm-up, long enough for tiered compilation to settle; each instance's first login also rehashes its user's
  # password into its own algorithm.
  logins_timed "$APP_URL" alice 60 "$WRK_DIR/$tag-warmup-argon2id.txt"
  logins_timed "$APP_B_URL" bob 60 "$WRK_DIR/$tag-warmup-pbkdf2.txt"
  sleep 3
  c0=$(cpu_ticks "$APP_PID")
  sleep 5
  note "idle: the argon2id instance used $(awk -v t="$(($(cpu_ticks "$APP_PID") - c0))" -v k="$CLK_TCK" 'BEGIN { printf "%.0f", 1000 * t / k / 5 }') ms of CPU per second doing nothing (background services)"
  declare -A cpu=() hash=()
  local -a order
  for ((r = 1; r <= ROUNDS; r++)); do
    if ((r % 2)); then order=(argon2id pbkdf2); else order=(pbkdf2 argon2id); fi
    for w in "${order[@]}"; do
      if [[ $w == argon2id ]]; then pid=$APP_PID url=$APP_URL user=alice; else pid=$APP_B_PID url=$APP_B_URL user=bob; fi
      file="$WRK_DIR/$tag-$w-round$r.txt"
      c0=$(cpu_ticks "$pid")
      h0=$(hash_ticks "$pid")
      logins_timed "$url" "$user" "$LOGIN_COUNT" "$file"
      c1=$(cpu_ticks "$pid")
      h1=$(hash_ticks "$pid")
      cpu[$w,$r]=$((c1 - c0))
      hash[$w,$r]=$((h1 - h0))
      note "round $r $(printf '%-9s' "$w") $LOGIN_COUNT logins: app CPU $(awk -v t="${cpu[$w,$r]}" -v k="$CLK_TCK" 'BEGIN { printf "%.2f", t / k }') s ($(awk -v t="${hash[$w,$r]}" -v k="$CLK_TCK" 'BEGIN { printf "%.2f", t / k }') s hashing), $(awk -v n="$LOGIN_COUNT" -v t="${cpu[$w,$r]}" -v k="$CLK_TCK" 'BEGIN { printf "%.1f", n / (t / k) }') logins per CPU-second, p50 $(probe_stats "$file" | awk '{print $5}') ms"
    done
  done
  local a_rate p_rate ratio a_hash p_hash a_p50 p_p50
  a_rate=$(for ((r = 1; r <= ROUNDS; r++)); do awk -v n="$LOGIN_COUNT" -v t="${cpu[argon2id,$r]}" -v k="$CLK_TCK" 'BEGIN { printf "%.3f\n", n / (t / k) }'; done | median)
  p_rate=$(for ((r = 1; r <= ROUNDS; r++)); do awk -v n="$LOGIN_COUNT" -v t="${cpu[pbkdf2,$r]}" -v k="$CLK_TCK" 'BEGIN { printf "%.3f\n", n / (t / k) }'; done | median)
  ratio=$(for ((r = 1; r <= ROUNDS; r++)); do awk -v a="${cpu[argon2id,$r]}" -v p="${cpu[pbkdf2,$r]}" 'BEGIN { printf "%.4f\n", p / a }'; done | median)
  a_hash=$(for ((r = 1; r <= ROUNDS; r++)); do awk -v n="$LOGIN_COUNT" -v t="${hash[argon2id,$r]}" -v k="$CLK_TCK" 'BEGIN { printf "%.3f\n", 1000 * t / k / n }'; done | median)
  p_hash=$(for ((r = 1; r <= ROUNDS; r++)); do awk -v n="$LOGIN_COUNT" -v t="${hash[pbkdf2,$r]}" -v k="$CLK_TCK" 'BEGIN { printf "%.3f\n", 1000 * t / k / n }'; done | median)
  a_p50=$(cat "$WRK_DIR/$tag"-argon2id-round*.txt | probe_stats /dev/stdin | awk '{print $5}')
  p_p50=$(cat "$WRK_DIR/$tag"-pbkdf2-round*.txt | probe_stats /dev/stdin | awk '{print $5}')
  LOGIN_COST_ROWS+=("$(printf '| %s | %.1f | %.1f | %.2fx | %.1f / %.1f | %s / %s |' "$mode" "$a_rate" "$p_rate" "$ratio" "$a_hash" "$p_hash" "$a_p50" "$p_p50")")
  note "=> login-cost: argon2id $(printf '%.1f' "$a_rate") vs PBKDF2 $(printf '%.1f' "$p_rate") logins per app CPU-second ($(printf '%.2f' "$ratio")x)"
  stop_apps
}

# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------
: >"$OUT/app.log"
: >"$OUT/app-b.log"
START_TS=$(date +%s)
SG_BYTES=()
PROP_TABLES=()
for mode in $MODES; do
  if ((NEED_APP)); then
    start_sg APP_PID "$APP_URL" "$REDIS_CONF" "$mode" "$OUT/app.log"
    field=$(cred_field "$mode")

    before=$(mktemp /tmp/sg-bench-keys.XXXXXX)
    rcli --scan --pattern "$SESSION_KEY_PATTERN" | sort >"$before"
    log "Logging in as acme/alice (1 + ${CREDENTIALS} sessions; PBKDF2, $LOGIN_PARALLEL at a time)"
    login_many "$mode" 1 "$CRED_DIR/sg-$mode-1.txt"
    if has_scenario profile256; then
      login_many "$mode" "$CREDENTIALS" "$CRED_DIR/sg-$mode-many.txt"
    elif [[ $mode == Opaque ]] && has_scenario redis-bytes; then
      login_many "$mode" 16 "$CRED_DIR/sg-$mode-many.txt"
    fi
    if [[ $mode == Opaque ]] && has_scenario redis-bytes; then
      read -r bytes nkeys <<<"$(new_key_bytes "$SESSION_KEY_PATTERN" "$before")"
      ((nkeys > 0)) || die "no new Redis key matched '$SESSION_KEY_PATTERN' after Opaque logins (set BENCH_SESSION_KEY_PATTERN)"
      read -r pbytes pkeys <<<"$PEER_BYTES"
      note "Redis bytes per session: SessionGate $bytes (mean of $nkeys keys), cookie peer ticket $pbytes (mean of $pkeys keys)"
      if ((pkeys > 0)); then
        ratio=$(awk -v s="$bytes" -v p="$pbytes" 'BEGIN { printf "%.2f", s / p }')
      else
        ratio="–"
        pbytes="–"
      fi
      TABLE_ROWS+=("| $mode | redis-bytes: MEMORY USAGE per session key vs the cookie peer's ticket | $bytes B | $pbytes B | ${ratio}x | – | – |")
    fi
    rm -f "$before"

    INTERNAL_JWT_TOKEN=$(cat "$CRED_DIR/sg-$mode-1.txt")
    auth="Authorization: Bearer $INTERNAL_JWT_TOKEN"
    check_200 "$mode /api/profile" "$APP_URL/api/profile" "$OUT/app.log" "$auth"
    if has_scenario gateway || has_scenario chain; then
      check_200 "$mode /demo/secure-ping" "$APP_URL/demo/secure-ping" "$OUT/app.log" "$auth"
      # The downstream really checks the internal JWT (its /secure-ping would 401 otherwise).
      check_200 "$mode /demo/claims (internal JWT accepted by the downstream)" "$APP_URL/demo/claims" "$OUT/app.log" "$auth"
    fi

    # Steady state, not start-up: a fresh process runs unoptimized (tier-0) code until the JIT has recompiled its hot
    # methods in the background, which takes seconds on a loaded machine. With only BENCH_WARMUP before it, the first
    # scenario after a start measured SessionGate half-compiled (its rounds rose 2,600 -> 5,500 req/s while the warm
    # peer's did not).
    if ((WRK_SCENARIOS)); then
      log "Warming up SessionGate and the peers (${APP_WARMUP} per endpoint)"
      warm=("SessionGate /api/profile|$APP_URL/api/profile|$CRED_DIR/sg-$mode-1.txt|Authorization|Bearer " "SessionGate /health/live|$APP_URL/health/live|||"
        "peers /ping|$PEERS_URL/ping|||")
      [[ -f $CRED_DIR/peer-hs-1.txt ]] && warm+=("peer jwt-hs|$PEERS_URL/jwt-hs/profile|$CRED_DIR/peer-hs-1.txt|Authorization|Bearer ")
      if has_scenario gateway || has_scenario chain || has_scenario pertoken; then
        warm+=("SessionGate /demo/secure-ping|$APP_URL/demo/secure-ping|$CRED_DIR/sg-$mode-1.txt|Authorization|Bearer " "peers /yarp/ping|$PEERS_URL/yarp/ping|||")
      fi
      for spec in "${warm[@]}"; do run_wrk "$WRK_DIR/$mode-app-warmup.txt" "$APP_WARMUP" "$spec"; done
    fi

    sg1="SessionGate /api/profile|$APP_URL/api/profile|$CRED_DIR/sg-$mode-1.txt|Authorization|Bearer "
    sgN="SessionGate /api/profile ($CREDENTIALS creds)|$APP_URL/api/profile|$CRED_DIR/sg-$mode-many.txt|Authorization|Bearer "
    for variant in profile profile256; do
      has_scenario "$variant" || continue
      if [[ $variant == profile ]]; then suffix=1 subject=$sg1 desc="1 credential"; else suffix=many subject=$sgN desc="$CREDENTIALS credentials"; fi
      peers=()
      for p in $PEERS; do
        case $p in
          jwt-hs) peers+=("$variant#JwtBearer HS256 ($desc)|$PEERS_URL/jwt-hs/profile|$CRED_DIR/peer-hs-$suffix.txt|Authorization|Bearer ") ;;
          jwt-es) peers+=("$variant#JwtBearer ES256 ($desc)|$PEERS_URL/jwt-es/profile|$CRED_DIR/peer-es-$suffix.txt|Authorization|Bearer ") ;;
          jwt-hs-redis) peers+=("$variant#JwtBearer HS256 + Redis jti EXISTS ($desc)|$PEERS_URL/jwt-hs-redis/profile|$CRED_DIR/peer-hs-$suffix.txt|Authorization|Bearer ") ;;
          cookie) peers+=("$variant#AddCookie + Redis ticket store ($desc)|$PEERS_URL/cookie/profile|$CRED_DIR/peer-cookie-$suffix.txt|Cookie|peer.sid=") ;;
        esac
      done
      ROUND_HOOK=""
      measure_group "$mode" "$variant" "$subject" "${peers[@]}"
    done
    if has_scenario health; then
      ROUND_HOOK=""
      measure_group "$mode" health "SessionGate /health/live|$APP_URL/health/live|||" "health#bare ASP.NET Core /ping|$PEERS_URL/ping|||"
    fi
    if has_scenario gateway || has_scenario chain; then
      peers=()
      has_scenario gateway && peers+=("gateway#bare YARP + downstream JWT check /yarp-jwt/secure-ping|$PEERS_URL/yarp-jwt/secure-ping|||")
      has_scenario chain && peers+=("chain#bare YARP, anonymous /yarp/ping|$PEERS_URL/yarp/ping|||")
      ROUND_HOOK=""
      has_scenario gateway && ROUND_HOOK=refresh_internal_jwt
      measure_group "$mode" gateway "SessionGate /demo/secure-ping|$APP_URL/demo/secure-ping|$CRED_DIR/sg-$mode-1.txt|Authorization|Bearer " "${peers[@]}"
      ROUND_HOOK=""
    fi
    if has_scenario pertoken; then
      # What a fresh internal JWT per forwarded request costs (InternalJwtPerRequest routes): SessionGate signs one
      # per request and the downstream verifies each (it cannot serve it from its cache), against the cached
      # per-session token. Both sides are SessionGate, same downstream, same credential.
      check_200 "$mode /demo-strict/secure-ping" "$APP_URL/demo-strict/secure-ping" "$OUT/app.log" "$auth"
      ROUND_HOOK=""
      measure_group "$mode" pertoken "SessionGate /demo-strict/secure-ping (a token per request)|$APP_URL/demo-strict/secure-ping|$CRED_DIR/sg-$mode-1.txt|Authorization|Bearer " \
        "pertoken#SessionGate /demo/secure-ping (the cached per-session token)|$APP_URL/demo/secure-ping|$CRED_DIR/sg-$mode-1.txt|Authorization|Bearer "
    fi
    stop_apps
  fi

  if ((FLOOD_SCENARIOS)); then
    SG_SHIPPED_LIMITS=1
    start_sg APP_PID "$APP_URL" "$REDIS_CONF" "$mode" "$OUT/app.log"
    SG_SHIPPED_LIMITS=0
    login_many "$mode" 1 "$CRED_DIR/sg-$mode-flood.txt"
    check_200 "$mode /api/profile" "$APP_URL/api/profile" "$OUT/app.log" "Authorization: Bearer $(cat "$CRED_DIR/sg-$mode-flood.txt")"
    if has_scenario forged; then
      log "$mode / forged: $FORGED_COUNT forged credentials of each kind, each sent once to /api/profile"
      FORGED_SECS=0
      longest=0
      forged_run "$mode" opaque "random session ids (64 characters, well-formed, MAC cannot match)"
      longest=$FORGED_SECS
      if [[ $mode != Opaque ]]; then
        forged_run "$mode" jwt-sig "alice's access token with a forged signature"
        longest=$(printf '%s\n%s\n' "$longest" "$FORGED_SECS" | sort -g | tail -n 1)
        forged_run "$mode" jwt-kid "access tokens with a random unknown kid"
        longest=$(printf '%s\n%s\n' "$longest" "$FORGED_SECS" | sort -g | tail -n 1)
      fi
      forged_idle "$mode" "$(awk -v s="$longest" 'BEGIN { printf "%d", s + 0.999 }')"
    fi
    has_scenario flood && measure_flood "$mode"
    stop_apps
  fi

  has_scenario login-cost && measure_login_cost "$mode"

  if has_scenario propagation; then
    start_prop_redis
    redis-cli -h 127.0.0.1 -p "$PROP_REDIS_PORT" FLUSHALL >/dev/null
    start_sg APP_PID "$APP_URL" "$PROP_REDIS_CONF" "$mode" "$OUT/app.log"
    start_sg APP_B_PID "$APP_B_URL" "$PROP_REDIS_CONF" "$mode" "$OUT/app-b.log"
    log "$mode / propagation: revoke on $APP_URL, watch $APP_B_URL ($PROP_COUNT of each kind, then $PROP_CUT_COUNT with pub/sub cut)"
    prop_out="$OUT/propagation-$mode.md"
    if ! dotnet "$BUILD/propagation/Propagation.dll" --a "$APP_URL" --b "$APP_B_URL" --label "$mode" \
      --admin-password "$DEMO_PASSWORD" --count "$PROP_COUNT" --cut-count "$PROP_CUT_COUNT" --kinds "$PROP_KINDS" \
      --redis "$PROP_REDIS_CONF" --bound "$PROP_BOUND_MS" --timeout "$PROP_TIMEOUT_MS" --give-up "$PROP_GIVE_UP" >"$prop_out"; then
      fail_with_log "bench/Propagation failed in mode $mode" "$OUT/app.log"
    fi
    PROP_TABLES+=("$prop_out")
    stop_apps
  fi
done
ELAPSED=$(($(date +%s) - START_TS))

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------
commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain 2>/dev/null | head -1) ]]; then commit+=" (dirty tree)"; fi
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo 2>/dev/null || true)
{
  printf '## SessionGate vs peers, %s\n\n' "$(date -u '+%Y-%m-%d %H:%M UTC')"
  printf 'Commit %s; %s CPU(s)%s; .NET %s; modes: %s; measured in %ss.\n' \
    "$commit" "$(nproc)" "${cpu:+ ($cpu)}" "$(dotnet --version 2>/dev/null || echo '?')" "$MODES" "$ELAPSED"
  if ((${#TABLE_ROWS[@]})); then
    printf '\nwrk -t%s -c%s -d%s, %s interleaved round(s) after a %s warm-up of each endpoint. req/s and latencies are medians over the rounds; the ratio is the median of the per-round ratios subject / peer (below 1: SessionGate serves fewer requests per second). For redis-bytes the columns are bytes, and below 1 means SessionGate stores less.\n\n' \
      "$THREADS" "$CONNECTIONS" "$DURATION" "$ROUNDS" "$WARMUP"
    printf '| mode | scenario: subject vs peer | subject req/s | peer req/s | ratio | p50 ms subject / peer | p99 ms subject / peer |\n'
    printf '|---|---|---:|---:|---:|---:|---:|\n'
    printf '%s\n' "${TABLE_ROWS[@]}"
  fi
  if ((${#CPU_ROWS[@]})); then
    printf '\n### CPU per request\n\nUser + system CPU of the process that served each run (/proc/PID/stat: SessionGate, or the peers'"'"' process), divided by the requests wrk completed, in microseconds; medians over the rounds. The ratio is the median of the per-round ratios peer / subject, so above 1 means SessionGate spent less CPU per request. Steadier than req/s on a shared machine: it does not depend on how much of the cores the process got. The downstream'"'"'s CPU (gateway) is in neither column.\n\n'
    printf '| mode | scenario: subject vs peer | subject us/req | peer us/req | ratio (peer / subject) |\n'
    printf '|---|---|---:|---:|---:|\n'
    printf '%s\n' "${CPU_ROWS[@]}"
  fi
  if ((${#FLOOD_ROWS[@]})); then
    printf '\n### Logins under load\n\n'
    printf 'Each load runs from %ss before the round'"'"'s two measures until after them; the instance keeps the shipped login and request limits and trusts X-Forwarded-For. logins: wrk -t1 -c%s posts wrong-password logins (bench/flood.lua) for random usernames, each from a random address in 10.0.0.0/8; targeted: the same for alice'"'"'s account only; profile: one session (one address) sends GET /api/profile as fast as wrk -c%s can. First, for %s, alice logs in with the right password, one login at a time, %s s apart, twice over: from her known device (device_token, her usual address) and as a new device (no token, a fresh random address of 198.18.0.0/15 each time); then /api/profile runs from %s sessions of alice, each from its own X-Forwarded-For address (the table above). Logins: total (200 / 503 / other); percentiles are nearest-rank over all of them, whatever the answer, in ms. Load answers are summed over the %s rounds.\n\n' \
      "$FLOOD_LEAD" "$FLOOD_CONNECTIONS" "$FLOOD_CONNECTIONS" "$DURATION" "$PROBE_INTERVAL" "$AUTH_SESSIONS" "$ROUNDS"
    printf '| mode | load | load req/s | load answers | known device: logins | success | p50 | p99 | max | new device: logins | success | p50 | p99 | max |\n'
    printf '|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    printf '%s\n' "${FLOOD_ROWS[@]}"
  fi
  if ((${#LOGIN_COST_ROWS[@]})); then
    printf '\n### Login cost\n\n'
    printf 'Two instances side by side, one hashing with argon2id (shipped: m = 19 MiB, t = 2, p = 1) and one with PBKDF2-HMAC-SHA512 at 210,000 iterations (PasswordHashing__Algorithm=Pbkdf2, what SessionGate shipped before), the same right-password logins in turn (%s per instance and round, 4 at a time, after 60 of each to warm up, %s rounds, the order reversed every round). Logins per app CPU-second: logins / (user + system CPU of the app process over them, /proc/PID/stat); the whole login (request, limits in Redis, session in PostgreSQL and Redis), not only the hash. Hash CPU: the hashing threads'"'"' own CPU per login (/proc/PID/task/*/stat). Medians over the rounds; the ratio is the median of the per-round ratios.\n\n' \
      "$LOGIN_COUNT" "$ROUNDS"
    printf '| mode | argon2id logins per app CPU-s | PBKDF2 logins per app CPU-s | ratio | hash CPU ms per login, argon2id / PBKDF2 | login p50 ms, argon2id / PBKDF2 |\n'
    printf '|---|---:|---:|---:|---:|---:|\n'
    printf '%s\n' "${LOGIN_COST_ROWS[@]}"
  fi
  if ((${#FORGED_ROWS[@]})); then
    printf '\n### Forged credentials\n\n'
    printf 'Each forged credential is sent once as a bearer token to /api/profile (bench/forged.lua). Judged and PostgreSQL calls come from the app'"'"'s /metrics (sessiongate_authentications_total{result="unauthenticated"}, sessiongate_store_duration_seconds_count{store="postgres"}), taken just before and after. Transactions and rows are deltas of pg_stat_database (xact_commit + xact_rollback, less the snapshot'"'"'s own; tup_returned + tup_fetched) for %s, scans are deltas of pg_stat_user_tables (seq_scan + idx_scan) of the tables a credential check can read, all from just before the run until %s s after it, so that idle backends have published their statistics. The idle row is the same measure over a window as long with nothing sent: what the background (outbox relay, key-set reload, online-session count) costs anyway.\n\n' \
      "$BENCH_DB" "$PG_FLUSH"
    printf '| mode | credentials | sent | answered 401 | judged (app) | PostgreSQL calls (app) | PostgreSQL transactions | rows read | scans of %s | window s |\n' "${AUTH_TABLES//\'/}"
    printf '|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n'
    printf '%s\n' "${FORGED_ROWS[@]}"
  fi
  if ((${#PROP_TABLES[@]})); then
    printf '\n### Revocation propagation (instance A revokes, instance B refuses)\n\n'
    printf 'Latency: from A'"'"'s answer to the sending of the first request B refused for good; 0 when B accepted no request sent after A answered. It errs late by at most one poll round trip. %s revocations of each kind, then %s with every pub/sub subscriber of the Redis killed (CLIENT KILL TYPE pubsub) just before each revocation. Never refused: B still accepted %s ms after A answered. Flaps: B accepted again after refusing. Skipped: not measurable (the warm-up or the revocation failed).\n\n' \
      "$PROP_COUNT" "$PROP_CUT_COUNT" "$PROP_TIMEOUT_MS"
    first=1
    for f in "${PROP_TABLES[@]}"; do
      if ((first)); then cat "$f"; else tail -n +3 "$f"; fi
      first=0
    done
  fi
} >"$RESULTS"

printf '\n'
cat "$RESULTS"
printf '\n(written to %s; raw wrk output in %s/, logs in %s/)\n' "${RESULTS#"$ROOT"/}" "${WRK_DIR#"$ROOT"/}" "${OUT#"$ROOT"/}"
