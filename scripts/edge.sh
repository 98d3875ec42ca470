# shellcheck shell=bash
# The edge proxies the suite runs in front of the sample service (App.Tests/Edge): Debian's nginx (auth_request) and
# caddy (forward_auth). Sourced by scripts/test after scripts/lib.sh; the tests start and stop the proxies themselves,
# as ordinary processes on loopback ports of their own, with the configurations in docs/edge/.
#
#   sg_ensure_edges    install nginx and caddy with apt-get when missing (a failure is a warning: the edge tests
#                      then skip and say why)

sg_ensure_edges() {
  local -a missing=()
  [[ -x /usr/sbin/nginx ]] || missing+=(nginx)
  [[ -x /usr/bin/caddy ]] || missing+=(caddy)
  if [[ ${#missing[@]} -eq 0 ]]; then
    return 0
  fi
  mkdir -p "$SG_LOCAL"
  local log="$SG_LOCAL/apt-edges.log"
  sg_log "Installing ${missing[*]} for the edge tests (apt-get, log: .local/apt-edges.log)"
  # A package's own service (nginx on :80) is not wanted here: RUNLEVEL=1 keeps invoke-rc.d from starting it.
  if ! { sg_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get update -q &&
         sg_root env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
       </dev/null >"$log" 2>&1; then
    tail -n 5 "$log" >&2 || true
    sg_warn "apt-get install ${missing[*]} failed: the edge tests will be skipped"
    return 0
  fi
  hash -r
}
