#!/usr/bin/env bash
# Session events (webhooks), measured against a real SessionGate:
#   - GET /api/profile and POST /auth/login throughput with 3 webhook endpoints registered vs none, interleaved
#     rounds, as ratios (the target: within 5 %);
#   - a logout's commit to the receiver, p50 and p99, while GET /api/profile is under load.
# The receiver is bench/Events itself, on loopback (so SessionGate runs with Webhooks__AllowPrivateNetworks=true).
#
#   bench/events.sh                                   Opaque, 3 rounds of 5 s
#   BENCH_MODES="Opaque Blacklist SessionCache" BENCH_ROUNDS=5 bench/events.sh
#
# Environment: BENCH_MODES, BENCH_ROUNDS (3), BENCH_DURATION (5, seconds), BENCH_CONCURRENCY (32),
# BENCH_LOGIN_CONCURRENCY (4), BENCH_LATENCY_COUNT (200), BENCH_APP_PORT (18190), BENCH_DB (sg_bench_events),
# ConnectionStrings__Postgres / Redis__Configuration (else `scripts/run services` starts or finds them).
# Results: .local/bench/events-<mode>.md
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

MODES="${BENCH_MODES:-Opaque}"
ROUNDS="${BENCH_ROUNDS:-3}"
DURATION="${BENCH_DURATION:-5}"
CONCURRENCY="${BENCH_CONCURRENCY:-32}"
LOGIN_CONCURRENCY="${BENCH_LOGIN_CONCURRENCY:-4}"
LATENCY_COUNT="${BENCH_LATENCY_COUNT:-200}"
PORT="${BENCH_APP_PORT:-18190}"
DB="${BENCH_DB:-sg_bench_events}"
PASSWORD="demo-password-123"
OUT="$ROOT/.local/bench"
BUILD="$OUT/build-events"
mkdir -p "$OUT"
log() { printf '[events] %s\n' "$*" >&2; }

if [[ -z ${ConnectionStrings__Postgres:-} || -z ${Redis__Configuration:-} ]]; then
  log "Asking scripts/run services for PostgreSQL and Redis"
  eval "$("$ROOT/scripts/run" services 2>"$OUT/events-services.log")"
  # The bench databases are its own: the owner of scripts/run's database must not migrate that one instead.
  unset ConnectionStrings__PostgresOwner
fi
PG="${ConnectionStrings__Postgres:-Host=127.0.0.1;Port=15432;Database=sessiongate;Username=sessiongate;Password=sessiongate}"
BENCH_CONN=$(printf '%s' "$PG" | sed -E 's/(^|;)Database=[^;]*/\1Database='"$DB"'/I')
[[ $BENCH_CONN == *"Database=$DB"* ]] || BENCH_CONN="$BENCH_CONN;Database=$DB"
REDIS="${Redis__Configuration:-127.0.0.1:16379}"

while (echo >/dev/tcp/127.0.0.1/"$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
log "Building App (with its migrations) and bench/Events (Release) -> ${BUILD#"$ROOT"/}"
dotnet build migrations/Migrations.csproj -c Release -o "$BUILD/app" --nologo -v quiet >"$OUT/events-build.log" 2>&1
dotnet build bench/Events/Events.csproj -c Release -o "$BUILD/tool" --nologo -v quiet >>"$OUT/events-build.log" 2>&1

APP_PID=""
stop_app() { [[ -n $APP_PID ]] && kill "$APP_PID" 2>/dev/null && wait "$APP_PID" 2>/dev/null || true; APP_PID=""; }
trap stop_app EXIT

status=0
for mode in $MODES; do
  log "SessionGate (Auth__Mode=$mode) on http://127.0.0.1:$PORT, database $DB"
  env ASPNETCORE_URLS="http://127.0.0.1:$PORT" ConnectionStrings__Postgres="$BENCH_CONN" Redis__Configuration="$REDIS" \
    Redis__KeyPrefix="bench-ev:" Database__MigrateOnStart=true Demo__Seed=true Demo__Password="$PASSWORD" Auth__Mode="$mode" \
    Webhooks__AllowPrivateNetworks=true PasswordHashing__MaxWait=00:00:30 LoginLimits__RequestsPerMinutePerIp=1000000 LoginLimits__MaxFailuresPerAccount=1000000 \
    LoginLimits__MaxFailuresPerAccountAndAddress=1000000 LoginLimits__MaxFailuresPerIp=1000000 Serilog__MinimumLevel__Default=Warning \
    dotnet "$BUILD/app/App.dll" </dev/null >"$OUT/events-app-$mode.log" 2>&1 &
  APP_PID=$!
  for _ in $(seq 1 120); do
    curl -fs "http://127.0.0.1:$PORT/health/live" >/dev/null 2>&1 && break
    kill -0 "$APP_PID" 2>/dev/null || { cat "$OUT/events-app-$mode.log" >&2; exit 1; }
    sleep 0.5
  done
  # The database is created by the first migration run when missing.
  dotnet "$BUILD/tool/Events.dll" --app "http://127.0.0.1:$PORT" --password "$PASSWORD" --rounds "$ROUNDS" --duration "$DURATION" \
    --concurrency "$CONCURRENCY" --login-concurrency "$LOGIN_CONCURRENCY" --latency-count "$LATENCY_COUNT" --out "$OUT/events-$mode.md" || status=1
  stop_app
done
exit $status
