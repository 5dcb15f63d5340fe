# Shared shell helpers of the ops scripts: install and start PostgreSQL and
# NATS from Debian packages when they are missing or down, and install nginx
# (the cluster's load balancer).
# shellcheck shell=bash

PG_HOST=127.0.0.1
PG_PORT=5432
NATS_PORT=4222

log() { printf '[pinchwork] %s\n' "$*" >&2; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    log "need root to apt-get install $*"; return 1
  fi
  if [ -z "${_APT_UPDATED:-}" ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    _APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >&2
}

pg_ok() { psql -h "$PG_HOST" -p "$PG_PORT" -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; }

# True when process $1 runs and is not a zombie.
pid_alive() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "${state#Z}" = "$state" ]
}

clear_stale_pg_locks() {
  local lock pid
  for lock in /var/run/postgresql/.s.PGSQL.*.lock; do
    [ -f "$lock" ] || continue
    pid=$(head -n 1 "$lock")
    if ! pid_alive "$pid"; then
      log "removing stale $lock (process $pid is gone)"
      rm -f "$lock" "${lock%.lock}"
    fi
  done
}

ensure_postgres() {
  if pg_ok; then return 0; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    log "installing PostgreSQL"
    apt_install postgresql postgresql-client
  fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  if ! port_open "$PG_PORT"; then
    log "starting PostgreSQL $version"
    if ! pg_ctlcluster --skip-systemctl-redirect "$version" main start; then
      # A server that was killed (kill -9, a stopped session) can leave a
      # socket lock file naming a process that is gone or a zombie: clear
      # stale ones and try once more.
      clear_stale_pg_locks
      pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
    fi
  fi
  # Crash recovery after an unclean stop can take a while on a busy disk.
  for _ in $(seq 1 180); do pg_ok && break; sleep 1; done
  if ! pg_ok; then
    # A fresh Debian cluster asks TCP clients for a password: trust local ones.
    local hba="/etc/postgresql/$version/main/pg_hba.conf"
    log "allowing trusted local connections in $hba"
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    sed -i -E 's/^(local\s+all\s+(postgres|all)\s+)\S+/\1trust/' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" main reload || true
    sleep 1
  fi
  pg_ok || { log "PostgreSQL is not reachable on $PG_HOST:$PG_PORT"; return 1; }
}

# Tests and the cluster open many connections at once: make sure the server
# allows 300 (a restart, only when the limit is lower).
ensure_pg_capacity() {
  local version max
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  max=$(psql -h "$PG_HOST" -U postgres -Atqc 'show max_connections')
  if [ "$max" -lt 300 ]; then
    log "raising max_connections to 300 (was $max)"
    psql -h "$PG_HOST" -U postgres -qc 'ALTER SYSTEM SET max_connections = 300' >/dev/null
    pg_ctlcluster --skip-systemctl-redirect "$version" main restart
    for _ in $(seq 1 180); do pg_ok && break; sleep 1; done
  fi
}

nats_binary() {
  if [ -x /usr/sbin/nats-server ]; then echo /usr/sbin/nats-server; return; fi
  command -v nats-server
}

ensure_nats() {
  if port_open "$NATS_PORT"; then return 0; fi
  if ! nats_binary >/dev/null 2>&1; then
    log "installing nats-server"
    apt_install nats-server
  fi
  local bin
  bin=$(nats_binary)
  mkdir -p /var/lib/nats-server /var/log
  log "starting NATS with JetStream"
  start-stop-daemon --start --oknodo --background --exec "$bin" -- \
    -a 127.0.0.1 -p "$NATS_PORT" -js -sd /var/lib/nats-server -l /var/log/nats-server.log
  for _ in $(seq 1 30); do port_open "$NATS_PORT" && return 0; sleep 1; done
  log "NATS did not come up on port $NATS_PORT"; return 1
}

# Some tests start PostgreSQL and NATS servers of their own (ops/standalone,
# the cluster fault tests): their binaries must be here even when the shared
# servers run elsewhere.
ensure_server_binaries() {
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    log "installing the PostgreSQL server"
    apt_install postgresql
  fi
  if ! nats_binary >/dev/null 2>&1; then
    log "installing nats-server"
    apt_install nats-server
  fi
}

nginx_binary() { command -v nginx || echo /usr/sbin/nginx; }

ensure_nginx() {
  [ -x "$(nginx_binary)" ] && return 0
  log "installing nginx (the load balancer)"
  apt_install nginx-light 2>/dev/null || apt_install nginx
}

# The browser tests drive Debian's Chromium with Playwright (npm
# playwright-core, pinned in tests/cluster/browser/package-lock.json); no
# browser is ever downloaded by npm.
ensure_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  log "installing chromium (browser tests)"
  apt_install chromium
}

ensure_node() {
  command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 && return 0
  log "installing nodejs and npm (browser tests)"
  apt_install nodejs npm
}

# Installs the browser tests' npm packages into their local node_modules,
# exactly as locked, when missing or older than the lock file.
ensure_playwright() {
  local dir=tests/cluster/browser
  ensure_node
  if [ ! -d "$dir/node_modules/playwright-core" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    log "installing the browser tests' npm packages (npm ci)"
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund >&2)
  fi
}
