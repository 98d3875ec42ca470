# shellcheck shell=bash
# Shared helpers for scripts/run and scripts/test: local PostgreSQL, Redis and
# Redis Cluster servers under <repo>/.local. Source it; do not execute it.
#
# Public entry points:
#   sg_ensure_services [--cluster]   start/reuse servers, export connection settings
#   sg_print_exports                 print `export ...` lines for the settings
#   sg_stop_services                 stop the servers THIS checkout started
#
# Tunables (environment): SG_PG_PORT (15432), SG_REDIS_PORT (16379),
# SG_CLUSTER_PORT (17100). External servers: ConnectionStrings__Postgres,
# Redis__Configuration, SG_TEST_REDIS_CLUSTER (when set, nothing is started).
#
# Only servers this checkout started (found by their pid files under .local/) are ever reused; a port held by
# anything else is skipped. Every password is per checkout, random, and kept in a mode-600 file under .local/:
# pg-app-password, pg-owner-password, pg-dev-password (the three PostgreSQL roles, see sg_pg_setup_role) and
# redis-password. Exported: ConnectionStrings__Postgres (the app's role), ConnectionStrings__PostgresOwner (the
# schema owner: migrations, audit retention), SG_POSTGRES_ADMIN (may create databases: tests, benchmarks).

SG_ROOT="${SG_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)}"
SG_LOCAL="$SG_ROOT/.local"
SG_PG_DATA="$SG_LOCAL/pg"
SG_PG_LOG="$SG_LOCAL/postgres.log"
SG_REDIS_DIR="$SG_LOCAL/redis"
SG_CLUSTER_DIR="$SG_LOCAL/redis-cluster"
SG_PORT_MAX=32767
SG_LOCK_FILE="${SG_LOCK_FILE:-/tmp/sessiongate-services.lock}"

sg_log() { printf '==> %s\n' "$*" >&2; }
sg_note() { printf '    %s\n' "$*" >&2; }
sg_warn() { printf 'WARNING: %s\n' "$*" >&2; }
sg_err() { printf 'ERROR: %s\n' "$*" >&2; }

# Run a command as root (sudo when we are not root).
sg_root() {
  if [[ $EUID -eq 0 ]]; then "$@"; else sudo -n "$@"; fi
}

# Run a command as the postgres OS user, from a directory it can read.
sg_as_postgres() {
  (cd / && runuser -u postgres -- "$@")
}

# ---------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------

# True when something listens on TCP port $1 (any address).
sg_port_in_use() {
  local port=$1
  if command -v ss >/dev/null 2>&1; then
    if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
      return 0
    fi
  fi
  # Fallback / extra check: try to connect on loopback.
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    return 0
  fi
  return 1
}

# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------

# Prints the PostgreSQL bin dir (highest installed version, or the one that
# matches an existing data dir's PG_VERSION). Fails when none is installed.
sg_find_pg_bin() {
  local want="" dir cand
  if [[ -f "$SG_PG_DATA/PG_VERSION" ]]; then
    want=$(cat "$SG_PG_DATA/PG_VERSION")
    if [[ -x "/usr/lib/postgresql/$want/bin/pg_ctl" && -x "/usr/lib/postgresql/$want/bin/initdb" ]]; then
      printf '%s\n' "/usr/lib/postgresql/$want/bin"
      return 0
    fi
  fi
  local -a dirs=()
  mapfile -t dirs < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r)
  for dir in "${dirs[@]}"; do
    if [[ -x "$dir/pg_ctl" && -x "$dir/initdb" && -x "$dir/psql" ]]; then
      printf '%s\n' "$dir"
      return 0
    fi
  done
  if cand=$(command -v pg_ctl 2>/dev/null) && command -v initdb >/dev/null 2>&1; then
    cand=$(readlink -f "$cand")
    dir=$(dirname "$cand")
    if [[ -x "$dir/initdb" && -x "$dir/psql" && -x "$dir/pg_isready" ]]; then
      printf '%s\n' "$dir"
      return 0
    fi
  fi
  return 1
}

# sg_ensure_packages NEED_PG NEED_REDIS (each 0/1)
sg_ensure_packages() {
  local need_pg=$1 need_redis=$2
  local -a missing=()
  if [[ $need_pg == 1 ]] && { ! sg_find_pg_bin >/dev/null || ! id postgres >/dev/null 2>&1; }; then
    missing+=(postgresql)
  fi
  if [[ $need_redis == 1 ]] && { ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; }; then
    missing+=(redis-server)
  fi
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  mkdir -p "$SG_LOCAL"
  local log="$SG_LOCAL/apt.log"
  sg_log "Installing missing packages: ${missing[*]} (apt-get, log: .local/apt.log)"
  if ! { sg_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
         sg_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
       </dev/null >"$log" 2>&1; then
    tail -n 20 "$log" >&2 || true
    sg_err "apt-get install ${missing[*]} failed"
    return 1
  fi
  hash -r
}

# sg_ensure_chromium: Debian's chromium for the browser tests (Playwright drives it; it never downloads its own).
# A failed install is a warning, not an error: the browser tests then skip and say why.
sg_ensure_chromium() {
  if [[ -x ${SG_CHROMIUM:-/usr/bin/chromium} ]]; then
    return 0
  fi
  mkdir -p "$SG_LOCAL"
  local log="$SG_LOCAL/apt-chromium.log"
  sg_log "Installing chromium for the browser tests (apt-get, log: .local/apt-chromium.log)"
  if ! { sg_root env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
         sg_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; } \
       </dev/null >"$log" 2>&1; then
    tail -n 5 "$log" >&2 || true
    sg_warn "apt-get install chromium failed: the browser tests will be skipped"
    return 0
  fi
  hash -r
}

# ---------------------------------------------------------------------------
# Locking (serialises port selection between checkouts on this machine)
# ---------------------------------------------------------------------------

sg_lock() {
  if command -v flock >/dev/null 2>&1 && { exec 9>>"$SG_LOCK_FILE"; } 2>/dev/null; then
    if ! flock -w 180 9; then
      sg_warn "could not get $SG_LOCK_FILE within 180 s; continuing without it"
    fi
  fi
  return 0
}

sg_unlock() {
  if { true >&9; } 2>/dev/null; then
    flock -u 9 2>/dev/null || true
    exec 9>&-
  fi
  return 0
}

# ---------------------------------------------------------------------------
# PostgreSQL
# ---------------------------------------------------------------------------

SG_PG_BIN=""

# Make sure the postgres user can traverse every directory down to .local.
sg_pg_fix_traverse() {
  local target=$1 p="" comp
  local -a fixed=() comps=()
  if sg_as_postgres test -x "$target"; then
    return 0
  fi
  IFS=/ read -r -a comps <<<"$target"
  for comp in "${comps[@]}"; do
    [[ -z $comp ]] && continue
    p="$p/$comp"
    if ! sg_as_postgres test -x "$p"; then
      chmod o+x "$p"
      fixed+=("$p")
    fi
  done
  if [[ ${#fixed[@]} -gt 0 ]]; then
    sg_note "note: added o+x (traverse only) on ${fixed[*]} so the postgres user can reach .local"
  fi
}

# Unix socket dir: inside .local, unless the socket path would be too long.
sg_pg_sock_dir() {
  local d="$SG_LOCAL/pg-sock"
  if (( ${#d} + 16 > 100 )); then
    d="/tmp/sg-pg-sock-$(printf '%s' "$SG_ROOT" | cksum | cut -d' ' -f1)"
  fi
  printf '%s\n' "$d"
}

# This checkout's secret $1 (a file under .local/, mode 600), made once from /dev/urandom: hex, so it needs no quoting.
sg_secret() {
  local file="$SG_LOCAL/$1"
  if [[ ! -s $file ]]; then
    mkdir -p "$SG_LOCAL"
    (umask 077 && head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$file")
  fi
  cat "$file"
}

# The database roles, each with its own per-checkout password (.local/pg-*-password):
#   sessiongate        the app at run time: reads and writes rows, may only INSERT and SELECT the audit log
#                      (`dotnet App.dll migrate` grants exactly that); no CREATEDB, owns nothing
#   sessiongate_owner  owns the database and its schema: migrations and the audit retention job run as it
#   sessiongate_dev    may create databases: the test fixtures and the benchmarks make scratch databases with it
SG_PG_APP_ROLE=sessiongate
SG_PG_OWNER_ROLE=sessiongate_owner
SG_PG_DEV_ROLE=sessiongate_dev

# Prints the port of our own running server, or fails. Ours means: the pid in .local/pg/postmaster.pid is a live
# postgres whose working directory is .local/pg (a postmaster runs in its data directory), so neither a stale pid
# file nor a foreign server that happens to hold that pid or port is ever taken for ours.
sg_pg_own_port() {
  local pidfile="$SG_PG_DATA/postmaster.pid" pid port cwd
  [[ -f $pidfile ]] || return 1
  pid=$(sed -n 1p "$pidfile" 2>/dev/null)
  port=$(sed -n 4p "$pidfile" 2>/dev/null)
  [[ $pid =~ ^[0-9]+$ && $port =~ ^[0-9]+$ ]] || return 1
  [[ -r /proc/$pid/comm ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == postgres* ]] || return 1
  cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null) || return 1
  [[ $cwd == "$(readlink -f "$SG_PG_DATA")" ]] || return 1
  printf '%s\n' "$port"
}

sg_pg_wait_ready() {
  local port=$1 sock=$2 i
  for ((i = 0; i < 60; i++)); do
    if sg_as_postgres "$SG_PG_BIN/pg_isready" -q -h "$sock" -p "$port" -U postgres -d postgres -t 2 </dev/null; then
      return 0
    fi
    sleep 1
  done
  return 1
}

# Creates or converges the roles and the database (idempotent; run at every start, as the postgres superuser over the
# checkout's own socket). The SQL goes in on stdin, so no password is ever on a command line (/proc/*/cmdline is
# world-readable). A data directory from before the role split (the app's role owned everything and had CREATEDB)
# is converged too: its objects are handed to the owner role.
sg_pg_setup_role() {
  local port=$1 sock=$2 app owner dev exists
  app=$(sg_secret pg-app-password) && owner=$(sg_secret pg-owner-password) && dev=$(sg_secret pg-dev-password) || return 1
  local -a psql=("$SG_PG_BIN/psql" -X -h "$sock" -p "$port" -U postgres -v ON_ERROR_STOP=1 -qtA)
  sg_as_postgres "${psql[@]}" -d postgres >/dev/null <<SQL || return 1
SET client_min_messages = warning;
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$SG_PG_APP_ROLE') THEN CREATE ROLE $SG_PG_APP_ROLE; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$SG_PG_OWNER_ROLE') THEN CREATE ROLE $SG_PG_OWNER_ROLE; END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$SG_PG_DEV_ROLE') THEN CREATE ROLE $SG_PG_DEV_ROLE; END IF;
END \$\$;
ALTER ROLE $SG_PG_APP_ROLE LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS PASSWORD '$app';
ALTER ROLE $SG_PG_OWNER_ROLE LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION NOBYPASSRLS PASSWORD '$owner';
ALTER ROLE $SG_PG_DEV_ROLE LOGIN NOSUPERUSER NOCREATEROLE CREATEDB NOREPLICATION NOBYPASSRLS PASSWORD '$dev';
-- The tests drop their databases WITH (FORCE), which ends the app role's connections left in them.
GRANT pg_signal_backend TO $SG_PG_DEV_ROLE;
SQL
  exists=$(sg_as_postgres "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname = 'sessiongate'" </dev/null) || return 1
  if [[ $exists != 1 ]]; then
    sg_as_postgres "${psql[@]}" -d postgres -c "CREATE DATABASE sessiongate OWNER $SG_PG_OWNER_ROLE" </dev/null >/dev/null || return 1
  fi
  sg_as_postgres "${psql[@]}" -d sessiongate >/dev/null <<SQL || return 1
ALTER DATABASE sessiongate OWNER TO $SG_PG_OWNER_ROLE;
REASSIGN OWNED BY $SG_PG_APP_ROLE TO $SG_PG_OWNER_ROLE;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
SQL
  # Durable commits: a commit the app answered for survives a crash of the server (an older data directory had them
  # off). ALTER SYSTEM outranks postgresql.conf, and a reload applies it to a server that is already running.
  sg_as_postgres "${psql[@]}" -d postgres -c "ALTER SYSTEM SET synchronous_commit = on" -c "SELECT pg_reload_conf()" </dev/null >/dev/null || return 1
}

sg_pg_init() {
  local locale_opt=(--no-locale)
  if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
    locale_opt=(--locale=C.UTF-8)
  fi
  rm -rf "$SG_PG_DATA"
  mkdir -p "$SG_PG_DATA"
  chown postgres: "$SG_PG_DATA"
  chmod 700 "$SG_PG_DATA"
  sg_log "Initialising PostgreSQL data dir .local/pg"
  if ! sg_as_postgres "$SG_PG_BIN/initdb" -D "$SG_PG_DATA" -U postgres -E UTF8 "${locale_opt[@]}" \
      --auth-local=peer --auth-host=scram-sha-256 </dev/null >"$SG_LOCAL/initdb.log" 2>&1; then
    tail -n 20 "$SG_LOCAL/initdb.log" >&2 || true
    sg_err "initdb failed (see .local/initdb.log)"
    return 1
  fi
  cat >>"$SG_PG_DATA/postgresql.conf" <<'EOF'

# --- sessiongate local dev/test settings ---
listen_addresses = '127.0.0.1'
max_connections = 200
synchronous_commit = on
include_if_exists = 'sessiongate.conf'
EOF
}

sg_ensure_postgres() {
  if [[ -n ${ConnectionStrings__Postgres:-} ]]; then
    sg_log "PostgreSQL: using external server from ConnectionStrings__Postgres"
    return 0
  fi
  SG_PG_BIN=$(sg_find_pg_bin) || { sg_err "PostgreSQL binaries not found"; return 1; }
  local port sock
  sock=$(sg_pg_sock_dir)

  if port=$(sg_pg_own_port); then
    if sg_pg_wait_ready "$port" "$sock" && sg_pg_setup_role "$port" "$sock"; then
      sg_log "PostgreSQL: reusing this checkout's server on 127.0.0.1:$port"
      sg_pg_export "$port"
      return 0
    fi
    sg_err "PostgreSQL from .local/pg is running on port $port but not usable (see .local/postgres.log)"
    return 1
  fi

  # Nothing of ours runs: start ours on the first free port. A server of anyone else on a port is never used, however
  # willing it is: it could be anyone's, and the app would keep its signing keys and sessions there.
  port=${SG_PG_PORT:-15432}
  while :; do
    if (( port > SG_PORT_MAX )); then
      sg_err "no free port for PostgreSQL below $((SG_PORT_MAX + 1))"
      return 1
    fi
    if ! sg_port_in_use "$port"; then
      break
    fi
    sg_note "port $port is held by a server this checkout did not start (not used); trying $((port + 1))"
    port=$((port + 1))
  done

  mkdir -p "$SG_LOCAL"
  sg_pg_fix_traverse "$SG_LOCAL"
  if [[ ! -f "$SG_PG_DATA/PG_VERSION" ]]; then
    sg_pg_init || return 1
  else
    chown -R postgres: "$SG_PG_DATA"
    chmod 700 "$SG_PG_DATA"
    # Our server is not running (checked above): drop a stale lock file.
    rm -f "$SG_PG_DATA/postmaster.pid"
  fi
  mkdir -p "$sock"
  chown postgres: "$sock"
  chmod 700 "$sock"
  touch "$SG_PG_LOG"
  chown postgres: "$SG_PG_LOG"
  printf "port = %s\nunix_socket_directories = '%s'\n" "$port" "${sock//\'/\'\'}" >"$SG_PG_DATA/sessiongate.conf"
  chown postgres: "$SG_PG_DATA/sessiongate.conf"

  sg_log "PostgreSQL: starting on 127.0.0.1:$port (log: .local/postgres.log)"
  if ! sg_detached sg_as_postgres "$SG_PG_BIN/pg_ctl" -D "$SG_PG_DATA" -l "$SG_PG_LOG" -w -t 60 start \
       </dev/null >/dev/null 2>&1 9>&-; then
    tail -n 20 "$SG_PG_LOG" >&2 || true
    sg_err "PostgreSQL failed to start (see .local/postgres.log)"
    return 1
  fi
  if ! sg_pg_wait_ready "$port" "$sock"; then
    sg_err "PostgreSQL did not become ready on port $port"
    return 1
  fi
  if ! sg_pg_setup_role "$port" "$sock"; then
    sg_err "could not create role/database sessiongate"
    return 1
  fi
  sg_pg_export "$port"
}

# The connection settings for our server on port $1: the app's role, the owner (migrations and the retention job) and
# the role that may create scratch databases (tests, benchmarks).
sg_pg_export() {
  local base="Host=127.0.0.1;Port=$1"
  export ConnectionStrings__Postgres="$base;Database=sessiongate;Username=$SG_PG_APP_ROLE;Password=$(sg_secret pg-app-password)"
  export ConnectionStrings__PostgresOwner="$base;Database=sessiongate;Username=$SG_PG_OWNER_ROLE;Password=$(sg_secret pg-owner-password)"
  export SG_POSTGRES_ADMIN="$base;Database=postgres;Username=$SG_PG_DEV_ROLE;Password=$(sg_secret pg-dev-password)"
}

sg_stop_postgres() {
  local port bin
  if port=$(sg_pg_own_port); then
    bin=$(sg_find_pg_bin) || { sg_err "PostgreSQL binaries not found"; return 1; }
    sg_log "PostgreSQL: stopping this checkout's server (port $port)"
    sg_as_postgres "$bin/pg_ctl" -D "$SG_PG_DATA" -m fast -w -t 60 stop </dev/null >/dev/null 2>&1 9>&- || {
      sg_err "pg_ctl stop failed"
      return 1
    }
  else
    sg_note "PostgreSQL: no server of this checkout is running"
  fi
}

# ---------------------------------------------------------------------------
# Redis (single node + cluster)
# ---------------------------------------------------------------------------

# This checkout's Redis password (standalone and cluster), made once and kept under .local/.
sg_redis_password() { sg_secret redis-password; }

sg_rcli() { # port, args...
  local port=$1; shift
  REDISCLI_AUTH="$(sg_redis_password)" timeout 5 redis-cli --no-auth-warning -h 127.0.0.1 -p "$port" "$@" </dev/null 2>/dev/null
}

# A Redis is ours to use only if it demands a password and takes this checkout's: one that answers anyone would
# let any local process plant a session.
sg_redis_ping() {
  [[ $(timeout 5 redis-cli -h 127.0.0.1 -p "$1" ping </dev/null 2>/dev/null) != PONG && $(sg_rcli "$1" ping) == PONG ]]
}

# The StackExchange.Redis configuration string for a seed list.
sg_redis_config() {
  printf '%s,password=%s\n' "$1" "$(sg_redis_password)"
}

sg_redis_wait_ping() {
  local port=$1 i
  for ((i = 0; i < 40; i++)); do
    sg_redis_ping "$port" && return 0
    sleep 0.5
  done
  return 1
}

sg_redis_cluster_enabled() {
  sg_rcli "$1" info cluster | tr -d '\r' | grep -qx 'cluster_enabled:1'
}

sg_redis_cluster_ok() {
  sg_rcli "$1" cluster info | tr -d '\r' | grep -qx 'cluster_state:ok'
}

# Runs "$@" with every file descriptor above 2 closed, so a server it daemonizes holds none of the caller's
# (a lock that a caller such as `flock FILE scripts/test` holds would otherwise live as long as the server).
sg_detached() {
  (
    local fd
    for fd in /proc/$BASHPID/fd/*; do
      fd=${fd##*/}
      if [[ $fd =~ ^[0-9]+$ ]] && (( fd > 2 )); then eval "exec $fd>&-" 2>/dev/null || true; fi
    done
    "$@"
  )
}

# Pid from pidfile $1 if that process is a live redis-server.
sg_redis_pid_alive() {
  local pidfile=$1 pid
  [[ -f $pidfile ]] || return 1
  pid=$(tr -dc '0-9' <"$pidfile")
  [[ -n $pid && -r /proc/$pid/comm ]] || return 1
  [[ $(cat "/proc/$pid/comm" 2>/dev/null) == redis-server* ]] || return 1
  printf '%s\n' "$pid"
}

# sg_redis_start PORT DIR [extra args...]. The password goes into DIR/auth.conf (mode 600), which the server reads
# as its config file: on the command line it would be readable by every local user in /proc/<pid>/cmdline.
sg_redis_start() {
  local port=$1 dir=$2; shift 2
  mkdir -p "$dir"
  rm -f "$dir/redis.pid"
  local pw
  pw=$(sg_redis_password)
  (umask 077 && printf 'requirepass %s\nmasterauth %s\n' "$pw" "$pw" >"$dir/auth.conf")
  sg_detached redis-server "$dir/auth.conf" --port "$port" --bind 127.0.0.1 --daemonize yes \
    --dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
    --save "" --appendonly no --maxmemory-policy noeviction "$@" \
    </dev/null >/dev/null 2>&1 9>&-
}

# True when the Redis on port $1 was started without a config file, i.e. by an older version of this script that
# passed the password on its command line: such a server of ours is restarted.
sg_redis_started_with_password_argument() {
  sg_rcli "$1" info server | tr -d '\r' | grep -qx 'config_file:'
}

sg_redis_stop_pidfile() {
  local pidfile=$1 pid i
  pid=$(sg_redis_pid_alive "$pidfile") || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    [[ -d /proc/$pid ]] || { rm -f "$pidfile"; return 0; }
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

sg_ensure_redis() {
  if [[ -n ${Redis__Configuration:-} ]]; then
    sg_log "Redis: using external server from Redis__Configuration"
    return 0
  fi
  local port
  if sg_redis_pid_alive "$SG_REDIS_DIR/redis.pid" >/dev/null && [[ -f "$SG_REDIS_DIR/port" ]] &&
     sg_redis_started_with_password_argument "$(cat "$SG_REDIS_DIR/port")"; then
    sg_warn "Redis from .local/redis was started with its password on its command line (an older scripts/lib.sh); restarting it"
    sg_redis_stop_pidfile "$SG_REDIS_DIR/redis.pid"
  fi
  if sg_redis_pid_alive "$SG_REDIS_DIR/redis.pid" >/dev/null && [[ -f "$SG_REDIS_DIR/port" ]]; then
    port=$(cat "$SG_REDIS_DIR/port")
    if sg_redis_wait_ping "$port"; then
      sg_log "Redis: reusing this checkout's server on 127.0.0.1:$port"
      export Redis__Configuration="$(sg_redis_config "127.0.0.1:$port")"
      return 0
    fi
    sg_warn "Redis from .local/redis does not answer on $port; restarting it"
    sg_redis_stop_pidfile "$SG_REDIS_DIR/redis.pid"
  fi

  port=${SG_REDIS_PORT:-16379}
  while :; do
    if (( port > SG_PORT_MAX )); then
      sg_err "no free port for Redis below $((SG_PORT_MAX + 1))"
      return 1
    fi
    if ! sg_port_in_use "$port"; then
      break
    fi
    if sg_redis_ping "$port" && ! sg_redis_cluster_enabled "$port"; then
      sg_log "Redis: reusing compatible standalone server already on 127.0.0.1:$port"
      export Redis__Configuration="$(sg_redis_config "127.0.0.1:$port")"
      return 0
    fi
    sg_note "port $port is taken by something else; trying $((port + 1))"
    port=$((port + 1))
  done

  sg_log "Redis: starting on 127.0.0.1:$port (dir: .local/redis)"
  if ! sg_redis_start "$port" "$SG_REDIS_DIR" || ! sg_redis_wait_ping "$port"; then
    tail -n 20 "$SG_REDIS_DIR/redis.log" >&2 2>/dev/null || true
    sg_err "Redis failed to start on port $port (see .local/redis/redis.log)"
    return 1
  fi
  printf '%s\n' "$port" >"$SG_REDIS_DIR/port"
  export Redis__Configuration="$(sg_redis_config "127.0.0.1:$port")"
}

sg_stop_redis() {
  local pid
  if pid=$(sg_redis_pid_alive "$SG_REDIS_DIR/redis.pid"); then
    sg_log "Redis: stopping this checkout's server (pid $pid)"
    sg_redis_stop_pidfile "$SG_REDIS_DIR/redis.pid"
  else
    sg_note "Redis: no server of this checkout is running"
  fi
}

# Seed list "127.0.0.1:p1,..." of all nodes known to the cluster node on $1.
sg_cluster_seeds_from() {
  local seeds
  seeds=$(sg_rcli "$1" cluster nodes | tr -d '\r' |
    awk '{ split($2, a, "@"); if (a[1] != "" && a[1] !~ /^:/) print a[1] }' | sort -t: -k2n | paste -sd, -)
  [[ -n $seeds ]] || return 1
  printf '%s\n' "$seeds"
}

sg_cluster_wait_ok() { # ports...
  local i p all
  for ((i = 0; i < 60; i++)); do
    all=1
    for p in "$@"; do
      sg_redis_cluster_ok "$p" || { all=0; break; }
    done
    [[ $all == 1 ]] && return 0
    sleep 0.5
  done
  return 1
}

sg_stop_cluster_nodes() {
  local d any=0
  [[ -d $SG_CLUSTER_DIR ]] || return 1
  for d in "$SG_CLUSTER_DIR"/*/; do
    [[ -f "$d/redis.pid" ]] || continue
    if sg_redis_pid_alive "$d/redis.pid" >/dev/null; then
      any=1
      sg_redis_stop_pidfile "$d/redis.pid"
    fi
  done
  [[ $any == 1 ]]
}

# Start (or reuse) a 6-node cluster. Returns non-zero on failure; the caller
# treats that as "no cluster" (best effort).
sg_ensure_cluster() {
  if [[ -n ${SG_TEST_REDIS_CLUSTER:-} ]]; then
    sg_log "Redis Cluster: using external cluster from SG_TEST_REDIS_CLUSTER"
    return 0
  fi
  local -a ports=()
  local p base i alive=0 free seeds

  # Our own cluster from a previous run?
  if [[ -f "$SG_CLUSTER_DIR/ports" ]]; then
    read -r -a ports <"$SG_CLUSTER_DIR/ports" || true
    if [[ ${#ports[@]} -eq 6 ]]; then
      for p in "${ports[@]}"; do
        if sg_redis_pid_alive "$SG_CLUSTER_DIR/$p/redis.pid" >/dev/null; then
          alive=$((alive + 1))
          # Started by an older version of this script, with the password on its command line: recreate the cluster.
          if sg_redis_started_with_password_argument "$p"; then alive=-100; fi
        fi
      done
    fi
    if [[ $alive -eq 6 ]] && sg_redis_ping "${ports[0]}" && sg_cluster_wait_ok "${ports[@]}"; then
      seeds=$(printf '127.0.0.1:%s,' "${ports[@]}")
      export SG_TEST_REDIS_CLUSTER="$(sg_redis_config "${seeds%,}")"
      sg_log "Redis Cluster: reusing this checkout's cluster on ports ${ports[0]}-${ports[5]}"
      return 0
    fi
    if [[ $alive -ne 0 ]]; then
      sg_warn "Redis Cluster of this checkout is incomplete or unhealthy; recreating it"
    fi
  fi
  sg_stop_cluster_nodes || true
  rm -rf "$SG_CLUSTER_DIR"

  # Find a block of 6 ports (and their bus ports) or a compatible cluster.
  base=${SG_CLUSTER_PORT:-17100}
  while :; do
    if (( base + 5 + 10000 > SG_PORT_MAX )); then
      sg_err "no free port block for Redis Cluster below $((SG_PORT_MAX + 1))"
      return 1
    fi
    if sg_port_in_use "$base" && sg_redis_ping "$base" && sg_redis_cluster_ok "$base"; then
      if seeds=$(sg_cluster_seeds_from "$base"); then
        sg_log "Redis Cluster: reusing compatible cluster already on 127.0.0.1:$base"
        export SG_TEST_REDIS_CLUSTER="$(sg_redis_config "$seeds")"
        return 0
      fi
    fi
    free=1
    for ((i = 0; i < 6; i++)); do
      if sg_port_in_use $((base + i)) || sg_port_in_use $((base + i + 10000)); then
        free=0
        break
      fi
    done
    [[ $free == 1 ]] && break
    sg_note "cluster port block $base-$((base + 5)) is not free; trying $((base + 1))"
    base=$((base + 1))
  done

  ports=()
  for ((i = 0; i < 6; i++)); do ports+=($((base + i))); done
  mkdir -p "$SG_CLUSTER_DIR"
  printf '%s\n' "${ports[*]}" >"$SG_CLUSTER_DIR/ports"
  sg_log "Redis Cluster: starting 6 nodes on 127.0.0.1:${ports[0]}-${ports[5]} (dir: .local/redis-cluster)"
  for p in "${ports[@]}"; do
    if ! sg_redis_start "$p" "$SG_CLUSTER_DIR/$p" --cluster-enabled yes \
        --cluster-config-file nodes.conf --cluster-node-timeout 5000; then
      sg_err "Redis Cluster node $p failed to start"
      return 1
    fi
  done
  for p in "${ports[@]}"; do
    if ! sg_redis_wait_ping "$p"; then
      tail -n 10 "$SG_CLUSTER_DIR/$p/redis.log" >&2 2>/dev/null || true
      sg_err "Redis Cluster node $p did not answer"
      return 1
    fi
  done
  local -a addrs=()
  for p in "${ports[@]}"; do addrs+=("127.0.0.1:$p"); done
  if ! REDISCLI_AUTH="$(sg_redis_password)" timeout 60 redis-cli --no-auth-warning --cluster create "${addrs[@]}" --cluster-replicas 1 --cluster-yes \
      </dev/null >"$SG_CLUSTER_DIR/create.log" 2>&1; then
    tail -n 10 "$SG_CLUSTER_DIR/create.log" >&2 || true
    sg_err "redis-cli --cluster create failed (see .local/redis-cluster/create.log)"
    return 1
  fi
  sg_note "waiting for cluster_state:ok on all nodes"
  if ! sg_cluster_wait_ok "${ports[@]}"; then
    sg_err "Redis Cluster did not reach cluster_state:ok within 30 s"
    return 1
  fi
  seeds=$(printf '127.0.0.1:%s,' "${ports[@]}")
  export SG_TEST_REDIS_CLUSTER="$(sg_redis_config "${seeds%,}")"
  sg_log "Redis Cluster: ready (3 masters, 3 replicas)"
}

sg_stop_cluster() {
  if sg_stop_cluster_nodes; then
    sg_log "Redis Cluster: stopped this checkout's nodes"
  else
    sg_note "Redis Cluster: no node of this checkout is running"
  fi
}

# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------

sg_ensure_services() {
  local want_cluster=0 need_pg=1 need_redis=1
  if [[ ${1:-} == --cluster ]]; then want_cluster=1; fi
  if [[ -n ${ConnectionStrings__Postgres:-} ]]; then need_pg=0; fi
  if [[ -n ${Redis__Configuration:-} ]] && { [[ $want_cluster == 0 ]] || [[ -n ${SG_TEST_REDIS_CLUSTER:-} ]]; }; then
    need_redis=0
  fi
  mkdir -p "$SG_LOCAL"
  sg_ensure_packages "$need_pg" "$need_redis" || return 1
  sg_lock
  local rc=0
  sg_ensure_postgres || rc=1
  if [[ $rc == 0 ]]; then
    sg_ensure_redis || rc=1
  fi
  if [[ $rc == 0 && $want_cluster == 1 ]]; then
    if ! sg_ensure_cluster; then
      sg_warn "Redis Cluster unavailable; the tests that need it will fail"
      unset SG_TEST_REDIS_CLUSTER
    fi
  fi
  sg_unlock
  return "$rc"
}

# The demo gateway routes (scripts/run, bench/run.sh): /demo/** with the internal JWT cached per session, and
# /demo-strict/** with a fresh one per request, both to the sample downstream at $1. Settings already in the
# environment win.
sg_export_demo_routes() {
  local downstream=${1%/}
  local r=ReverseProxy__Routes
  export ${r}__demo__ClusterId="${ReverseProxy__Routes__demo__ClusterId:-demo}"
  export ${r}__demo__Match__Path="${ReverseProxy__Routes__demo__Match__Path:-/demo/{**catch-all}}"
  export ${r}__demo__Metadata__InternalJwtAudience="${ReverseProxy__Routes__demo__Metadata__InternalJwtAudience:-demo-api}"
  export ${r}__demo__Transforms__0__PathRemovePrefix="${ReverseProxy__Routes__demo__Transforms__0__PathRemovePrefix:-/demo}"
  export ${r}__demo_strict__ClusterId="${ReverseProxy__Routes__demo_strict__ClusterId:-demo}"
  export ${r}__demo_strict__Match__Path="/demo-strict/{**catch-all}"
  export ${r}__demo_strict__Metadata__InternalJwtAudience="demo-api"
  export ${r}__demo_strict__Metadata__InternalJwtPerRequest="true"
  export ${r}__demo_strict__Transforms__0__PathRemovePrefix="/demo-strict"
  export ReverseProxy__Clusters__demo__HttpRequest__ActivityTimeout="${ReverseProxy__Clusters__demo__HttpRequest__ActivityTimeout:-00:00:30}"
  export ReverseProxy__Clusters__demo__Destinations__downstream__Address="${ReverseProxy__Clusters__demo__Destinations__downstream__Address:-$downstream/}"
}

sg_shell_quote() {
  local v=$1
  printf "'%s'" "${v//\'/\'\\\'\'}"
}

sg_print_exports() {
  local name
  for name in ConnectionStrings__Postgres ConnectionStrings__PostgresOwner SG_POSTGRES_ADMIN Redis__Configuration SG_TEST_REDIS_CLUSTER; do
    if [[ -n ${!name:-} ]]; then
      printf 'export %s=%s\n' "$name" "$(sg_shell_quote "${!name}")"
    fi
  done
}

sg_stop_services() {
  sg_stop_postgres || true
  sg_stop_redis || true
  sg_stop_cluster || true
}
