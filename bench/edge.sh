#!/usr/bin/env bash
# SessionGate behind the edge you already run, and service A calling service B through token exchange:
# measured side by side in ONE run, interleaved, and reported as RATIOS to a baseline of the same run.
#
#   bench/edge.sh                                  Opaque, 3 rounds of 3 s per endpoint (about 4 minutes)
#   BENCH_MODES="Opaque Blacklist SessionCache" bench/edge.sh
#
# Group "edge" (baseline: nginx alone), wrk -t1 -c32, one credential of the demo user alice:
#   nginx alone        GET /ping through nginx straight to the sample service A (no auth at all)
#   nginx + forward    GET /secure-ping through nginx running docs/edge/nginx.conf: auth_request to SessionGate's
#     auth             /auth/verify, then A verifies the internal JWT (stock JwtBearer, cached validation)
#   built-in gateway   GET /demo/secure-ping through SessionGate's YARP gateway to A (same check at A)
# Group "exchange" (baseline: direct A -> B), straight to A with a real internal JWT for A:
#   direct A -> B      A's GET /call-b-direct: A calls B's anonymous /ping
#   exchange per call  A's GET /call-b/ping: A exchanges its token at POST /oauth/token (client_secret_basic; the
#                      session checked in PostgreSQL, the exchange audited), then calls B's /secure-ping with it
#                      (B verifies a token it has never seen: one ES256 check per call)
# Results: printed, and written to .local/bench/edge.md.
#
# Environment (all optional): BENCH_MODES=Opaque BENCH_DURATION=3s BENCH_ROUNDS=3 BENCH_WARMUP=5s (per endpoint, first round)
#   BENCH_CONNECTIONS=32 BENCH_THREADS=1 BENCH_DB=sg_bench_edge BENCH_EDGE_PORT=18190 (first of six ports)
#   ConnectionStrings__Postgres / Redis__Configuration (else `scripts/run services` is asked).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

DURATION="${BENCH_DURATION:-3s}"
ROUNDS="${BENCH_ROUNDS:-3}"
WARMUP="${BENCH_WARMUP:-5s}"
CONNECTIONS="${BENCH_CONNECTIONS:-32}"
THREADS="${BENCH_THREADS:-1}"
MODES="${BENCH_MODES:-Opaque}"
BENCH_DB="${BENCH_DB:-sg_bench_edge}"
ADMIN_PASSWORD="bench-platform-pass-123"
DEMO_PASSWORD="demo-password-123"
OUT="$ROOT/.local/bench"
BUILD="$OUT/build-edge"
WRK_DIR="$OUT/wrk-edge"
RESULTS="$OUT/edge.md"
LUA="$ROOT/bench/creds.lua"

log() { printf '==> %s\n' "$*" >&2; }
note() { printf '    %s\n' "$*" >&2; }
die() {
  printf 'ERROR: %s\n' "$*" >&2
  exit 1
}
[[ $ROUNDS =~ ^[1-9][0-9]*$ ]] || die "BENCH_ROUNDS must be a positive integer"
for m in $MODES; do case $m in Opaque | Blacklist | SessionCache) ;; *) die "unknown mode '$m'" ;; esac; done

# Processes we start (and only those) are stopped on exit.
PIDS=()
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
  local rc=$? pid
  trap - EXIT INT TERM HUP
  for pid in "${PIDS[@]}"; do stop_pid "$pid"; done
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
TAKEN=" "
free_port_from() {
  local p=$1
  while [[ $TAKEN == *" $p "* ]] || port_in_use "$p"; do
    p=$((p + 1))
    ((p < 32768)) || die "no free TCP port below 32768"
  done
  TAKEN+="$p "
  printf '%s\n' "$p"
}
conn_get() {
  local IFS=';' part key
  for part in $1; do
    key=$(printf '%s' "${part%%=*}" | tr -d ' ' | tr '[:upper:]' '[:lower:]')
    [[ $key == "$2" ]] && { printf '%s\n' "${part#*=}"; return 0; }
  done
  return 1
}
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
wait_http() {
  local url=$1 pid=$2 logf=$3 i code=""
  for ((i = 0; i < 360; i++)); do
    kill -0 "$pid" 2>/dev/null || { tail -n 40 "$logf" >&2; die "process for $url exited"; }
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.25
  done
  tail -n 40 "$logf" >&2
  die "$url did not answer 200 within 90 s (last: ${code:-none})"
}
to_ms() {
  awk -v v="$1" 'BEGIN { n = v; sub(/[a-z]+$/, "", n); u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
    if (f < 0) { print "nan"; exit 1 } printf "%.3f\n", n * f }'
}
median() {
  sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
    if (NR % 2) printf "%.3f\n", v[(NR + 1) / 2]; else printf "%.3f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# run_wrk FILE DURATION "label|url|credential file|header|prefix": fails on any non-2xx.
run_wrk() {
  local file=$1 dur=$2 label url cfile header prefix
  IFS='|' read -r label url cfile header prefix <<<"$3"
  local -a args=(-t"$THREADS" -c"$CONNECTIONS" -d"$dur" --latency --timeout 10s)
  if [[ -n $cfile ]]; then args+=(-s "$LUA" "$url" -- "$cfile" "$header" "$prefix"); else args+=("$url"); fi
  wrk "${args[@]}" >"$file" 2>&1 || { cat "$file" >&2; die "wrk failed against $label"; }
  if grep -qE 'Non-2xx|Socket errors:.*(connect [1-9]|timeout [1-9])' "$file"; then
    cat "$file" >&2
    die "wrk saw errors from $label ($url); logs in ${OUT#"$ROOT"/}/"
  fi
}
parse_wrk() {
  local rps p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$1")
  p50=$(awk '$1 == "50%" {print $2}' "$1")
  p99=$(awk '$1 == "99%" {print $2}' "$1")
  [[ -n $rps && -n $p50 && -n $p99 ]] || { cat "$1" >&2; die "could not parse $1"; }
  printf '%s %s %s\n' "$rps" "$(to_ms "$p50")" "$(to_ms "$p99")"
}

ROWS=()
ROUND_HOOK=""
# measure MODE GROUP SPEC...: every spec in turn (reversed on even rounds) for ROUNDS rounds after a warm-up; one
# row per spec with median req/s, p50 and p99, and the median of its per-round ratio to the first spec (baseline).
measure() {
  local mode=$1 group=$2
  shift 2
  local -a specs=("$@")
  local n=${#specs[@]} r i k label
  declare -A res=()
  log "$mode / $group: $ROUNDS round(s) of $n endpoints, $DURATION each, -t$THREADS -c$CONNECTIONS"
  [[ -n $ROUND_HOOK ]] && "$ROUND_HOOK"
  for ((i = 0; i < n; i++)); do run_wrk "$WRK_DIR/$mode-$group-warmup-$i.txt" "$WARMUP" "${specs[$i]}"; done
  for ((r = 1; r <= ROUNDS; r++)); do
    [[ -n $ROUND_HOOK && $r -gt 1 ]] && "$ROUND_HOOK"
    local -a order=()
    for ((i = 0; i < n; i++)); do if ((r % 2)); then order+=("$i"); else order=("$i" "${order[@]}"); fi; done
    for i in "${order[@]}"; do
      run_wrk "$WRK_DIR/$mode-$group-$i-$r.txt" "$DURATION" "${specs[$i]}"
      res[$i,$r]=$(parse_wrk "$WRK_DIR/$mode-$group-$i-$r.txt")
      IFS='|' read -r label _ <<<"${specs[$i]}"
      note "round $r $(printf '%-22s' "$label") $(awk '{ printf "%8.0f req/s  p50 %7.3f ms  p99 %7.3f ms", $1, $2, $3 }' <<<"${res[$i,$r]}")"
    done
  done
  for ((k = 0; k < n; k++)); do
    local rps p50 p99 ratio
    rps=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $1}' <<<"${res[$k,$r]}"; done | median)
    p50=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $2}' <<<"${res[$k,$r]}"; done | median)
    p99=$(for ((r = 1; r <= ROUNDS; r++)); do awk '{print $3}' <<<"${res[$k,$r]}"; done | median)
    ratio=$(for ((r = 1; r <= ROUNDS; r++)); do
      awk -v s="${res[$k,$r]%% *}" -v b="${res[0,$r]%% *}" 'BEGIN { printf "%.4f\n", (b > 0 ? s / b : 0) }'
    done | median)
    IFS='|' read -r label _ <<<"${specs[$k]}"
    ROWS+=("$(printf '| %s | %s | %s | %.0f | %.2fx | %.2f | %.2f |' "$mode" "$group" "$label" "$rps" "$ratio" "$p50" "$p99")")
  done
}

# ---------------------------------------------------------------------------
# Setup: tools, PostgreSQL and Redis, binaries, ports
# ---------------------------------------------------------------------------
mkdir -p "$OUT" "$WRK_DIR"
rm -f "$WRK_DIR"/*.txt
for tool in curl wrk nginx psql dotnet; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is required (apt-get install -y wrk nginx postgresql-client)"
done
if [[ -z ${ConnectionStrings__Postgres:-} || -z ${Redis__Configuration:-} ]] && [[ -x $ROOT/scripts/run ]]; then
  log "Asking scripts/run services for PostgreSQL and Redis"
  exports=$("$ROOT/scripts/run" services 2>"$OUT/services-edge.log") && eval "$exports" || note "scripts/run services failed; trying the defaults"
  # The bench databases are its own: the owner of scripts/run's database must not migrate that one instead.
  unset ConnectionStrings__PostgresOwner
fi
PG_CONN="${ConnectionStrings__Postgres:-Host=127.0.0.1;Port=15432;Database=sessiongate;Username=sessiongate;Password=sessiongate}"
REDIS_CONF="${Redis__Configuration:-127.0.0.1:16379}"
[[ $BENCH_DB =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die "BENCH_DB must be a plain identifier"
psql_admin() {
  PGPASSWORD="$(conn_get "$PG_CONN" password || true)" psql -X -q -v ON_ERROR_STOP=1 -h "$(conn_get "$PG_CONN" host || echo 127.0.0.1)" \
    -p "$(conn_get "$PG_CONN" port || echo 5432)" -U "$(conn_get "$PG_CONN" username || echo sessiongate)" -d postgres "$@"
}
# A fresh database per run: the service client and the bootstrap admin are created at start.
psql_admin -c "DROP DATABASE IF EXISTS $BENCH_DB" -c "CREATE DATABASE $BENCH_DB" >/dev/null || die "cannot (re)create database $BENCH_DB"
BENCH_CONN=$(conn_with_db "$PG_CONN" "$BENCH_DB")

: >"$OUT/build-edge.log"
for spec in "app migrations/Migrations.csproj" "a samples/Downstream/Downstream.csproj" "b samples/ServiceB/ServiceB.csproj"; do
  read -r dir project <<<"$spec"
  log "Building $project (Release)"
  dotnet build "$project" -c Release -o "$BUILD/$dir" --nologo -v quiet >>"$OUT/build-edge.log" 2>&1 || { tail -n 40 "$OUT/build-edge.log" >&2; die "build failed"; }
done

base=${BENCH_EDGE_PORT:-18190}
APP_PORT=$(free_port_from "$base")
A_PORT=$(free_port_from $((base + 1)))
B_PORT=$(free_port_from $((base + 2)))
NGX_AUTH_PORT=$(free_port_from $((base + 3)))
NGX_PLAIN_PORT=$(free_port_from $((base + 4)))
APP="http://127.0.0.1:$APP_PORT"
A="http://127.0.0.1:$A_PORT"
B="http://127.0.0.1:$B_PORT"

log "Starting service B on $B"
env ASPNETCORE_URLS="$B" Downstream__Authority="$APP" Logging__LogLevel__Default=Warning \
  dotnet "$BUILD/b/ServiceB.dll" </dev/null >"$OUT/edge-b.log" 2>&1 &
PIDS+=($!)
wait_http "$B/ping" "$!" "$OUT/edge-b.log"

# nginx: docs/edge/nginx.conf as tested (auth_request), plus the same proxy without auth as the baseline.
NGX="$OUT/nginx-edge"
rm -rf "$NGX" && mkdir -p "$NGX" && chmod 755 "$NGX"
sed -e "s/127.0.0.1:8080/127.0.0.1:$APP_PORT/; s/127.0.0.1:8081/127.0.0.1:$A_PORT/; s/127.0.0.1:8000/127.0.0.1:$NGX_AUTH_PORT/" \
  docs/edge/nginx.conf >"$NGX/sessiongate.conf"
cat >"$NGX/nginx.conf" <<EOF
worker_processes 1;
pid $NGX/nginx.pid;
error_log $NGX/error.log warn;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $NGX/body; proxy_temp_path $NGX/proxy; fastcgi_temp_path $NGX/fastcgi;
    uwsgi_temp_path $NGX/uwsgi; scgi_temp_path $NGX/scgi;
    include $NGX/sessiongate.conf;
    server {
        listen 127.0.0.1:$NGX_PLAIN_PORT;
        location / {
            proxy_set_header Host \$host;
            proxy_set_header Connection "";
            proxy_http_version 1.1;
            proxy_pass http://service;
        }
    }
}
EOF

cred_field() { if [[ $1 == Opaque ]]; then echo session_id; else echo access_token; fi; }
json_field() { sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p"; }
# login MODE TENANT USER PASSWORD: the credential; retried while start-up hashing is saturated (503).
login() {
  local i out
  for ((i = 0; i < 60; i++)); do
    out=$(curl -s -H 'Content-Type: application/json' -d "{\"tenant\":\"$2\",\"username\":\"$3\",\"password\":\"$4\"}" "$APP/auth/login" |
      json_field "$(cred_field "$1")")
    [[ -n $out ]] && { printf '%s\n' "$out"; return 0; }
    sleep 1
  done
  die "$2/$3 could not log in (see ${OUT#"$ROOT"/}/edge-app.log)"
}

{
  printf '# Edge and token-exchange bench (%s)\n\n' "$(date -u +%FT%TZ)"
  printf 'wrk -t%s -c%s, %s per run, %s rounds (median; ratio = median of per-round ratios to the group baseline)\n\n' \
    "$THREADS" "$CONNECTIONS" "$DURATION" "$ROUNDS"
} >"$RESULTS"

for mode in $MODES; do
  log "Starting SessionGate (Auth__Mode=$mode) on $APP"
  env ASPNETCORE_URLS="$APP" ConnectionStrings__Postgres="$BENCH_CONN" Redis__Configuration="$REDIS_CONF" Redis__KeyPrefix="bench-edge:" \
    Database__MigrateOnStart=true Demo__Seed=true Demo__Password="$DEMO_PASSWORD" Bootstrap__AdminPassword="$ADMIN_PASSWORD" Auth__Mode="$mode" \
    LoginLimits__RequestsPerMinutePerIp=1000000 Serilog__MinimumLevel__Default=Warning \
    ForwardAuth__Rules__service__PathPrefix=/ ForwardAuth__Rules__service__Metadata__InternalJwtAudience=demo-api \
    ReverseProxy__Routes__demo__ClusterId=demo ReverseProxy__Routes__demo__Match__Path='/demo/{**catch-all}' \
    ReverseProxy__Routes__demo__Metadata__InternalJwtAudience=demo-api ReverseProxy__Routes__demo__Transforms__0__PathRemovePrefix=/demo \
    ReverseProxy__Clusters__demo__Destinations__a__Address="$A/" \
    dotnet "$BUILD/app/App.dll" </dev/null >>"$OUT/edge-app.log" 2>&1 &
  APP_PID=$!
  PIDS+=("$APP_PID")
  wait_http "$APP/health/live" "$APP_PID" "$OUT/edge-app.log"

  admin=$(login "$mode" system admin "$ADMIN_PASSWORD")
  curl -sf -X DELETE -H "Authorization: Bearer $admin" "$APP/admin/service-clients/bench-a" >/dev/null || true
  secret=$(curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"client_id":"bench-a","audience":"demo-api","may_call":["service-b"]}' "$APP/admin/service-clients" | json_field client_secret)
  [[ -n $secret ]] || die "could not register the bench service client"

  log "Starting service A on $A"
  env ASPNETCORE_URLS="$A" Downstream__Authority="$APP" Downstream__ServiceB__Url="$B" Downstream__ClientId=bench-a \
    Downstream__ClientSecret="$secret" Downstream__ExposeTokenForBench=true Logging__LogLevel__Default=Warning \
    dotnet "$BUILD/a/Downstream.dll" </dev/null >"$OUT/edge-a-$mode.log" 2>&1 &
  A_PID=$!
  PIDS+=("$A_PID")
  wait_http "$A/ping" "$A_PID" "$OUT/edge-a-$mode.log"
  nginx -p "$NGX" -e "$NGX/error.log" -c "$NGX/nginx.conf" </dev/null >"$NGX/out.log" 2>&1 &
  NGX_PID=$!
  PIDS+=("$NGX_PID")
  wait_http "http://127.0.0.1:$NGX_PLAIN_PORT/ping" "$NGX_PID" "$NGX/error.log"

  cred=$(login "$mode" acme alice "$DEMO_PASSWORD")
  printf '%s\n' "$cred" >"$OUT/edge-cred.txt"
  # A real internal JWT for A (5 minutes of life): fetched again before every round.
  refresh_jwt() {
    curl -sf -H "Authorization: Bearer $cred" "$APP/demo/__bench/internal-jwt" >"$OUT/edge-jwt.txt" || die "no internal JWT from $APP/demo"
    printf '\n' >>"$OUT/edge-jwt.txt"
  }
  for url in "http://127.0.0.1:$NGX_AUTH_PORT/secure-ping" "$APP/demo/secure-ping"; do
    [[ $(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $cred" "$url") == 200 ]] || die "$url does not answer 200"
  done

  ROUND_HOOK=""
  measure "$mode" edge \
    "nginx alone|http://127.0.0.1:$NGX_PLAIN_PORT/ping||" \
    "nginx + forward auth|http://127.0.0.1:$NGX_AUTH_PORT/secure-ping|$OUT/edge-cred.txt|Authorization|Bearer " \
    "built-in gateway|$APP/demo/secure-ping|$OUT/edge-cred.txt|Authorization|Bearer "
  ROUND_HOOK=refresh_jwt
  measure "$mode" exchange \
    "direct A -> B|$A/call-b-direct|$OUT/edge-jwt.txt|X-Internal-JWT|" \
    "exchange per call|$A/call-b/ping|$OUT/edge-jwt.txt|X-Internal-JWT|"

  stop_pid "$NGX_PID"
  stop_pid "$A_PID"
  stop_pid "$APP_PID"
done

{
  printf '| mode | group | endpoint | req/s | vs baseline | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|\n'
  printf '%s\n' "${ROWS[@]}"
  printf '\nCommand: `%s`\n' "BENCH_MODES=\"$MODES\" BENCH_DURATION=$DURATION BENCH_ROUNDS=$ROUNDS bench/edge.sh"
} | tee -a "$RESULTS"
log "Written to ${RESULTS#"$ROOT"/}"
