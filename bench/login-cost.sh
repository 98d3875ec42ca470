#!/usr/bin/env bash
# What a second factor costs at login: a password login, a password + TOTP login and a passwordless passkey login,
# interleaved against one SessionGate per mode, with logins/s and the app's CPU per login (bench/LoginCost); and
# GET /api/profile with an aal2 session against an aal1 one (the hot path must not care). Ratios only: the machine
# is shared and 2 cores serve the driver, the app, PostgreSQL and Redis alike.
#
#   bench/login-cost.sh                               every mode, 3 rounds of 8 s per kind of login
#   BENCH_MODES=Opaque BENCH_ROUNDS=2 bench/login-cost.sh
#
# Environment: BENCH_MODES ("Opaque Blacklist SessionCache"), BENCH_ROUNDS (3), BENCH_SECONDS (8),
# BENCH_CONCURRENCY (8), BENCH_USERS (40 of each kind), BENCH_LOGIN_PORT (18190; the next free one is taken),
# BENCH_LOGIN_DB (sg_logincost, dropped and created afresh). Results: .local/bench/login-cost.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

MODES="${BENCH_MODES:-Opaque Blacklist SessionCache}"
ROUNDS="${BENCH_ROUNDS:-3}"
SECONDS_PER_RUN="${BENCH_SECONDS:-8}"
CONCURRENCY="${BENCH_CONCURRENCY:-8}"
USERS="${BENCH_USERS:-40}"
DB="${BENCH_LOGIN_DB:-sg_logincost}"
OUT="$ROOT/.local/bench"
BUILD="$OUT/login-cost"
RESULTS="$OUT/login-cost.md"
mkdir -p "$OUT" "$BUILD"
[[ $DB =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || { echo "BENCH_LOGIN_DB must be a plain identifier" >&2; exit 1; }

APP_PID=""
cleanup() {
  if [[ -n $APP_PID ]] && kill -0 "$APP_PID" 2>/dev/null; then
    kill -TERM "$APP_PID" 2>/dev/null || true
    wait "$APP_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if [[ -z ${ConnectionStrings__Postgres:-} || -z ${Redis__Configuration:-} ]]; then
  eval "$("$ROOT/scripts/run" services 2>"$OUT/login-cost-services.log")"
  # The bench databases are its own: the owner of scripts/run's database must not migrate that one instead.
  unset ConnectionStrings__PostgresOwner
fi
PG_CONN="${ConnectionStrings__Postgres:-Host=127.0.0.1;Port=15432;Database=sessiongate;Username=sessiongate;Password=sessiongate}"
REDIS_CONF="${Redis__Configuration:-127.0.0.1:16379}"
field() { printf '%s' "$PG_CONN" | tr ';' '\n' | sed -n "s/^$1=//Ip" | head -n 1; }
psql_admin() { PGPASSWORD="$(field password)" psql -X -q -v ON_ERROR_STOP=1 -h "$(field host)" -p "$(field port)" -U "$(field username)" -d postgres "$@"; }
psql_admin -c "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB" >/dev/null
CONN=$(printf '%s' "$PG_CONN" | sed -E "s/(^|;)Database=[^;]*/\1Database=$DB/I")

port="${BENCH_LOGIN_PORT:-18190}"
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
URL="http://localhost:$port"

echo "==> Building the app and bench/LoginCost (Release)" >&2
dotnet build migrations/Migrations.csproj -c Release -o "$BUILD/app" --nologo -v quiet >"$BUILD/build.log" 2>&1 || { tail -n 30 "$BUILD/build.log"; exit 1; }
dotnet build bench/LoginCost/LoginCost.csproj -c Release -o "$BUILD/driver" --nologo -v quiet >>"$BUILD/build.log" 2>&1 || { tail -n 30 "$BUILD/build.log"; exit 1; }

{
  echo "# Login cost ($(date -u +%FT%TZ), commit $(git rev-parse --short HEAD))"
  echo
  echo "$ROUNDS rounds of ${SECONDS_PER_RUN} s per kind of login, $CONCURRENCY concurrent clients, $USERS users of each kind."
} >"$RESULTS"
for mode in $MODES; do
  echo "==> $mode: starting SessionGate on $URL" >&2
  env ASPNETCORE_URLS="http://127.0.0.1:$port" ConnectionStrings__Postgres="$CONN" Redis__Configuration="$REDIS_CONF" \
    Redis__KeyPrefix="lc$mode:" Database__MigrateOnStart=true Demo__Seed=true Demo__Password=demo-password-123 Auth__Mode="$mode" \
    LoginLimits__RequestsPerMinutePerIp=1000000 LoginLimits__MaxFailuresPerAccount=1000000 \
    LoginLimits__MaxFailuresPerAccountAndAddress=1000000 LoginLimits__MaxFailuresPerIp=1000000 \
    PasswordHashing__MaxWait=00:01:00 WebAuthn__RpId=localhost WebAuthn__Origins__0="$URL" Serilog__MinimumLevel__Default=Warning \
    dotnet "$BUILD/app/App.dll" </dev/null >"$BUILD/app-$mode.log" 2>&1 &
  APP_PID=$!
  for _ in $(seq 120); do curl -sf "$URL/health/ready" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -sf "$URL/health/ready" >/dev/null || { tail -n 30 "$BUILD/app-$mode.log"; exit 1; }
  { echo; echo "## $mode"; echo; } >>"$RESULTS"
  dotnet "$BUILD/driver/LoginCost.dll" --url "$URL" --pid "$APP_PID" --seconds "$SECONDS_PER_RUN" --rounds "$ROUNDS" \
    --concurrency "$CONCURRENCY" --users "$USERS" | tee -a "$RESULTS"
  cleanup
  APP_PID=""
done
echo "==> Results: ${RESULTS#"$ROOT"/}" >&2
