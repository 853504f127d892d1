#!/usr/bin/env bash
# A multi-node topology on one machine (issue 12), loopback only, every step bounded:
#
#   PostgreSQL primary ──streaming── PostgreSQL replica (lag-tolerant reads)
#        │
#   PgBouncer ≥ 1.21, transaction pooling, max_prepared_statements
#        │
#   api1, api2 (`tmcp-server serve --no-jobs`)   worker (`tmcp-server worker`)   Redis
#
# Usage: bash scripts/cluster.sh up|test|down
#   up    builds what is missing (the release server; PgBouncer 1.24.1 from Debian's source
#         tarball, checked against its pinned SHA-256, cached under
#         ~/.cache/tmcp-services/pgbouncer-1.24.1), then starts everything on free ports
#         under CLUSTER_DIR (default /tmp/tmcp-cluster). Refuses if that directory is in use.
#   test  drives mixed load through both API nodes (scripts/cluster-load.py, ~90 s), kills
#         one node and restarts the replica meanwhile, then checks the ledger. Prints each
#         figure; exits non-zero on any failed check.
#   down  stops everything `up` started (by the pids it recorded) and removes CLUSTER_DIR.
# Knobs: CLUSTER_DIR, CLUSTER_SERVER_BIN (a built tmcp-server; default: cargo build
# --release), CLUSTER_PG_BIN (directory of initdb/pg_ctl/pg_basebackup), CLUSTER_LOAD_SECS.
# The shared PostgreSQL on 5432 and Redis on 6379 are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
dir="${CLUSTER_DIR:-/tmp/tmcp-cluster}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tmcp-target}"
pg_bin="${CLUSTER_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
bouncer_version=1.24.1
bouncer_sha256=da72a3aba13072876d055a3e58dd4aba4a5de4ed6148e73033185245598fd3e0
bouncer_home="$HOME/.cache/tmcp-services/pgbouncer-$bouncer_version"
debian_pool=http://deb.debian.org/debian/pool/main/p/pgbouncer
# The Debian trixie source package that carries this tarball; its .dsc lists the tarball's
# SHA-256, which must equal the pinned one above.
debian_dsc="pgbouncer_${bouncer_version}-1+deb13u2.dsc"

# initdb and PgBouncer refuse to run as root: they run as the postgres account then.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  as_pg=(runuser -u postgres --)
fi
pg() { "${as_pg[@]}" "$pg_bin/$@"; }
log() { printf '[cluster %s] %s\n' "$(date +%T)" "$*"; }
die() { printf '[cluster] error: %s\n' "$*" >&2; exit 1; }
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
# wait_for SECONDS DESCRIPTION COMMAND...: polls every 0.2 s.
wait_for() {
  local limit=$1 what=$2; shift 2
  local deadline=$(( $(date +%s) + limit ))
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || die "$what not ready within ${limit}s (logs in $dir)"
    sleep 0.2
  done
}

build_pgbouncer() {
  if [ -x "$bouncer_home/bin/pgbouncer" ]; then
    log "PgBouncer $bouncer_version: cached at $bouncer_home"
    return
  fi
  for lib in libevent-dev libc-ares-dev libssl-dev pkg-config; do
    dpkg -s "$lib" >/dev/null 2>&1 || die "$lib is missing (apt-get install -y $lib)"
  done
  local src; src=$(mktemp -d /tmp/tmcp-pgbouncer-src-XXXXXX)
  local tarball="pgbouncer_${bouncer_version}.orig.tar.gz"
  log "PgBouncer $bouncer_version: fetching $tarball from Debian"
  timeout 120 curl -fsS -o "$src/$tarball" "$debian_pool/$tarball"
  if timeout 60 curl -fsS -o "$src/$debian_dsc" "$debian_pool/$debian_dsc"; then
    grep -q "^ $bouncer_sha256 [0-9]* $tarball\$" "$src/$debian_dsc" ||
      die "$debian_dsc does not list the pinned SHA-256 of $tarball"
  else
    log "($debian_dsc is gone from the pool; checking the pinned SHA-256 only)"
  fi
  echo "$bouncer_sha256  $src/$tarball" | sha256sum -c --quiet - ||
    die "$tarball: SHA-256 mismatch"
  tar -xzf "$src/$tarball" -C "$src"
  log "PgBouncer $bouncer_version: building (a minute or two)"
  (
    cd "$src/pgbouncer-$bouncer_version"
    timeout 600 ./configure --prefix="$bouncer_home.tmp" >"$src/configure.log" 2>&1 ||
      { tail -n 30 "$src/configure.log"; exit 1; }
    timeout 900 make -j2 >"$src/make.log" 2>&1 || { tail -n 30 "$src/make.log"; exit 1; }
    rm -rf "$bouncer_home.tmp"
    timeout 120 make install >"$src/install.log" 2>&1 || { tail -n 30 "$src/install.log"; exit 1; }
  )
  mkdir -p "$(dirname "$bouncer_home")"
  rm -rf "$bouncer_home"
  mv "$bouncer_home.tmp" "$bouncer_home"
  rm -rf "$src"
  log "PgBouncer $bouncer_version: built into $bouncer_home"
}

server_binary() {
  if [ -n "${CLUSTER_SERVER_BIN:-}" ]; then
    echo "$CLUSTER_SERVER_BIN"
    return
  fi
  timeout 3600 cargo build --release --locked --quiet -p tmcp-server >&2
  echo "$CARGO_TARGET_DIR/release/tmcp-server"
}

load_state() {
  [ -f "$dir/cluster.env" ] || die "no cluster under $dir (run: bash scripts/cluster.sh up)"
  # shellcheck disable=SC1091
  . "$dir/cluster.env"
}

# start_node NAME: api1/api2 serve the API without jobs; worker runs the jobs only.
start_node() {
  local name=$1 port_var="${1}_port"
  local port=${!port_var}
  mkdir -p "$dir/$name"
  if [ "$name" = worker ]; then
    ( set -a; . "$dir/node.env"; set +a
      export TMCP_DATA_DIR="$dir/$name"
      exec setsid "$server_bin" worker --metrics-listen "127.0.0.1:$port" ) >>"$dir/$name.log" 2>&1 &
  else
    ( set -a; . "$dir/node.env"; set +a
      export TMCP_DATA_DIR="$dir/$name" TMCP_LISTEN="127.0.0.1:$port"
      exec setsid "$server_bin" serve --no-jobs ) >>"$dir/$name.log" 2>&1 &
  fi
  echo $! >"$dir/$name.pid"
  local path=/ready
  [ "$name" = worker ] && path=/metrics
  wait_for 60 "$name" curl -fs -m 2 "http://127.0.0.1:$port$path"
}

# stop_pidfile FILE: SIGTERM, up to 15 s, then SIGKILL; only the pid the file names.
stop_pidfile() {
  local file=$1 pid
  [ -f "$file" ] || return 0
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 75); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

pg_stop() { # DATA_DIR
  [ -f "$1/postmaster.pid" ] && pg pg_ctl -D "$1" -m fast -t 30 stop >/dev/null 2>&1 || true
}

cmd_up() {
  [ -x "$pg_bin/initdb" ] || die "no PostgreSQL server binaries (set CLUSTER_PG_BIN)"
  command -v redis-server >/dev/null || die "redis-server is missing"
  if [ -e "$dir" ]; then
    if [ -f "$dir/cluster.env" ]; then
      die "a cluster is already up under $dir (bash scripts/cluster.sh down first)"
    fi
    die "$dir exists and is not a cluster of this script; remove it or set CLUSTER_DIR"
  fi
  build_pgbouncer
  server_bin=$(server_binary)
  [ -x "$server_bin" ] || die "no server binary at $server_bin"

  mkdir -p "$dir"
  chmod 755 "$dir"
  [ ${#as_pg[@]} -gt 0 ] && chown postgres: "$dir"
  local primary_port replica_port bouncer_port redis_port api1_port api2_port worker_port hook_port
  primary_port=$(free_port); replica_port=$(free_port); bouncer_port=$(free_port)
  redis_port=$(free_port); api1_port=$(free_port); api2_port=$(free_port)
  worker_port=$(free_port); hook_port=$(free_port)
  # Written first, so that `down` can clean up after an `up` that failed half-way.
  cat >"$dir/cluster.env" <<EOF
server_bin=$server_bin
primary_port=$primary_port
replica_port=$replica_port
bouncer_port=$bouncer_port
redis_port=$redis_port
api1_port=$api1_port
api2_port=$api2_port
worker_port=$worker_port
hook_port=$hook_port
EOF
  trap 'echo "[cluster] up failed; clean up with: bash scripts/cluster.sh down" >&2' ERR

  # --- PostgreSQL primary
  log "PostgreSQL primary on 127.0.0.1:$primary_port"
  pg initdb -D "$dir/primary" --username=postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
  cat >>"$dir/primary/postgresql.conf" <<EOF
port = $primary_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$dir'
max_connections = 60
wal_level = replica
max_wal_senders = 4
hot_standby = on
EOF
  pg pg_ctl -D "$dir/primary" -l "$dir/primary.log" -w -t 60 start >/dev/null
  local admin_url="postgres://postgres@127.0.0.1:$primary_port"
  psql -qX "$admin_url/postgres" -c "CREATE DATABASE tmcp" >/dev/null

  # Migrations over a session connection (straight to the primary, not through PgBouncer:
  # the migrator's advisory lock is session-level), then the two roles may log in, which
  # the transaction-pooled nodes need (TMCP_DB_LOGIN_AS_ROLES).
  TMCP_DATABASE_URL="$admin_url/tmcp" TMCP_DATA_DIR="$dir" TMCP_LOG_LEVEL=warn \
    timeout 120 "$server_bin" migrate >>"$dir/admin.log" 2>&1 || { cat "$dir/admin.log"; die "migrate failed"; }
  psql -qX "$admin_url/tmcp" -c "ALTER ROLE tmcp_app LOGIN; ALTER ROLE tmcp_system LOGIN" >/dev/null

  # --- streaming replica
  log "PostgreSQL replica on 127.0.0.1:$replica_port (pg_basebackup -R)"
  timeout 300 "${as_pg[@]}" "$pg_bin/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U postgres \
    -D "$dir/replica" -R -X stream -c fast
  echo "port = $replica_port" >>"$dir/replica/postgresql.conf"
  pg pg_ctl -D "$dir/replica" -l "$dir/replica.log" -w -t 60 start >/dev/null
  streaming() {
    [ "$(psql -qAtX "$admin_url/postgres" \
      -c "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'")" = 1 ]
  }
  wait_for 30 "replica streaming" streaming

  # --- Redis (own port, nothing persisted)
  log "Redis on 127.0.0.1:$redis_port"
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --dir "$dir" >/dev/null
  wait_for 20 "Redis" redis-cli -p "$redis_port" ping

  # --- PgBouncer, transaction pooling in front of the primary
  log "PgBouncer $bouncer_version on 127.0.0.1:$bouncer_port (pool_mode = transaction)"
  cat >"$dir/userlist.txt" <<EOF
"postgres" ""
"tmcp_app" ""
"tmcp_system" ""
EOF
  cat >"$dir/pgbouncer.ini" <<EOF
[databases]
tmcp = host=127.0.0.1 port=$primary_port dbname=tmcp

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $bouncer_port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
admin_users = postgres
pool_mode = transaction
max_prepared_statements = 200
default_pool_size = 10
max_client_conn = 400
ignore_startup_parameters = extra_float_digits
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
EOF
  [ ${#as_pg[@]} -gt 0 ] && chown postgres: "$dir/userlist.txt" "$dir/pgbouncer.ini"
  # A copy the postgres account can execute (the cache may sit in a private home).
  cp "$bouncer_home/bin/pgbouncer" "$dir/pgbouncer"
  "${as_pg[@]}" "$dir/pgbouncer" -d "$dir/pgbouncer.ini"
  wait_for 20 "PgBouncer" psql -qAtX "postgres://postgres@127.0.0.1:$bouncer_port/tmcp" -c "SELECT 1"

  # --- the nodes' shared settings
  local key
  key=$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(32)).decode())')
  cat >"$dir/node.env" <<EOF
TMCP_DATABASE_URL=postgres://postgres@127.0.0.1:$bouncer_port/tmcp
TMCP_DB_LOGIN_AS_ROLES=true
TMCP_DATABASE_REPLICA_URL=postgres://postgres@127.0.0.1:$replica_port/tmcp
TMCP_DB_MAX_CONNECTIONS=8
TMCP_DB_SYSTEM_MAX_CONNECTIONS=4
TMCP_REDIS_URL=redis://127.0.0.1:$redis_port
TMCP_REDIS_NAMESPACE=cluster
TMCP_ENCRYPTION_KEY=$key
TMCP_PUBLIC_URL=http://127.0.0.1:$api1_port
TMCP_STORE__PACKAGES_DIR=$dir/packages
TMCP_LOG_LEVEL=warn
TMCP_API_RATE_PER_MINUTE=1000000
TMCP_API_RATE_BURST=1000000
TMCP_STORAGE__RATE_PER_MINUTE=1000000
TMCP_STORAGE__RATE_BURST=1000000
TMCP_OAUTH__TOKEN_RATE_PER_MINUTE=60
TMCP_WEBHOOKS__ALLOW_PRIVATE_TARGETS=true
TMCP_WEBHOOKS__POLL_INTERVAL_SECS=1
EOF

  # --- accounts and apps the test uses (through PgBouncer, as the nodes)
  admin() { ( set -a; . "$dir/node.env"; set +a; export TMCP_DATA_DIR="$dir"
              timeout 60 "$server_bin" admin "$@" ) 2>>"$dir/admin.log"; }
  echo 'a long cluster password' | admin create-user --username dev \
    --email dev@example.com --password-stdin --role developer >/dev/null
  for i in $(seq 1 8); do
    echo 'a long cluster password' | admin create-user --username "user$i" \
      --email "user$i@example.com" --password-stdin >/dev/null
  done
  admin create-client --client-id ma_cluster --name Cluster --developer dev \
    --redirect-uri https://cluster.example/cb --scopes "storage:read storage:write" >/dev/null
  admin create-client --client-id ma_hooks --name Hooks --developer dev \
    --redirect-uri https://hooks.example/cb --scopes "storage:read storage:write" \
    --webhook-url "http://127.0.0.1:$hook_port/hooks" >/dev/null
  admin create-client --client-id ma_ratetest --name "Rate test" \
    --scopes "storage:read" --confidential >/dev/null

  # --- the nodes
  for node in api1 api2 worker; do
    log "$node on 127.0.0.1:$(eval echo "\$${node}_port")"
    start_node "$node"
  done
  log "up: api1 http://127.0.0.1:$api1_port  api2 http://127.0.0.1:$api2_port  worker metrics http://127.0.0.1:$worker_port/metrics"
  log "ready (api1): $(curl -fsS -m 5 "http://127.0.0.1:$api1_port/ready")"
}

cmd_test() {
  load_state
  for node in api1 api2 worker; do
    pid_alive "$dir/$node.pid" || die "$node is not running (down, then up again)"
  done
  local status=0
  CLUSTER_DIR="$dir" CLUSTER_SCRIPT="$repo/scripts/cluster.sh" \
    timeout 600 python3 "$repo/scripts/cluster-load.py" || status=$?

  echo "== ledger check (admin ledger-check through PgBouncer)"
  local report ledger=0
  report=$( set -a; . "$dir/node.env"; set +a; export TMCP_DATA_DIR="$dir"
            timeout 120 "$server_bin" admin ledger-check 2>>"$dir/admin.log" ) || ledger=$?
  echo "$report"
  if [ "$ledger" = 0 ]; then
    echo "PASS ledger check clean"
  else
    echo "FAIL ledger check exit $ledger"
    status=1
  fi
  echo "== PgBouncer $bouncer_version pools (SHOW POOLS)"
  psql -qAX -F ' ' -P footer=off "postgres://postgres@127.0.0.1:$bouncer_port/pgbouncer" \
    -c "SHOW POOLS" | awk '
      NR == 1 { for (i = 1; i <= NF; i++) h[$i] = i
                print "   database user cl_active cl_waiting sv_active sv_idle sv_used pool_mode"; next }
      $1 == "tmcp" { print "  ", $h["database"], $h["user"], $h["cl_active"], $h["cl_waiting"],
                     $h["sv_active"], $h["sv_idle"], $h["sv_used"], $h["pool_mode"] }' || true
  [ "$status" = 0 ] && echo "cluster test: all checks passed" || echo "cluster test: FAILED"
  return "$status"
}

cmd_down() {
  if [ ! -f "$dir/cluster.env" ]; then
    [ -e "$dir" ] && die "$dir is not a cluster of this script; not touching it"
    log "nothing to stop under $dir"
    return 0
  fi
  for node in api1 api2 worker; do stop_pidfile "$dir/$node.pid"; done
  stop_pidfile "$dir/pgbouncer.pid"
  stop_pidfile "$dir/redis.pid"
  pg_stop "$dir/replica"
  pg_stop "$dir/primary"
  rm -rf "$dir"
  log "down: every process stopped, $dir removed"
}

# Internal steps the load driver calls at its scheduled moments.
cmd_kill_node() { load_state; local pid; pid=$(cat "$dir/$1.pid"); kill -9 "$pid"; rm -f "$dir/$1.pid"; }
cmd_start_node() { load_state; start_node "$1"; }
cmd_restart_replica() {
  load_state
  pg pg_ctl -D "$dir/replica" -m immediate -t 30 stop >/dev/null
  sleep "${1:-3}"
  pg pg_ctl -D "$dir/replica" -l "$dir/replica.log" -w -t 60 start >/dev/null
}

case "${1:-}" in
  up) cmd_up ;;
  test) cmd_test ;;
  down) cmd_down ;;
  kill-node) cmd_kill_node "$2" ;;
  start-node) cmd_start_node "$2" ;;
  restart-replica) cmd_restart_replica "${2:-3}" ;;
  build-pgbouncer) build_pgbouncer ;;
  *) echo "usage: bash scripts/cluster.sh up|test|down" >&2; exit 2 ;;
esac
