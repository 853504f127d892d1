#!/usr/bin/env bash
# Point-in-time recovery drill with PostgreSQL's own tools (docs/operations.md, "Backups and
# point-in-time recovery"). Loopback only; touches no shared server.
#
#  1. a private PostgreSQL cluster on a free port, WAL archived to a directory;
#  2. the server on it: a user, a mini-app, and KEYS storage writes through the API;
#  3. `pg_basebackup` while the server runs, then KEYS more writes (these exist only in the
#     archived WAL), then a named restore point;
#  4. "the accident": every key deleted through the API, and more WAL after it;
#  5. the cluster is thrown away; the base backup is restored into a new directory and
#     replayed from the archive up to the restore point;
#  6. the server on the restored cluster: every key written before the restore point reads
#     back with its value, none of the accident is there, and `admin ledger-check` is clean.
#
# Prints the figures (writes, base backup and recovery seconds, keys verified) and exits
# non-zero if anything written before the restore point is missing.
# Knobs: DRILL_KEYS (writes per phase, default 100), DRILL_SERVER_BIN (default: build the
# debug binary), DRILL_PG_BIN (directory of initdb/pg_ctl/pg_basebackup; default the newest
# /usr/lib/postgresql/<version>/bin).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tmcp-target}"
keys="${DRILL_KEYS:-100}"

server_bin="${DRILL_SERVER_BIN:-}"
if [ -z "$server_bin" ]; then
  cargo build --locked --quiet -p tmcp-server
  server_bin="$CARGO_TARGET_DIR/debug/tmcp-server"
fi
pg_bin="${DRILL_PG_BIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
[ -x "$pg_bin/initdb" ] || { echo "no PostgreSQL server binaries (set DRILL_PG_BIN)" >&2; exit 2; }

work=$(mktemp -d /tmp/tmcp-pitr-XXXXXX)
chmod 755 "$work"
# initdb refuses to run as root: the cluster belongs to the postgres account then.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  as_pg=(runuser -u postgres --)
fi
pg() { "${as_pg[@]}" "$pg_bin/$@"; }
server_pid=
primary="$work/primary"
restored="$work/restored"
archive="$work/wal-archive"
cleanup() {
  [ -n "$server_pid" ] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  for dir in "$primary" "$restored"; do
    [ -f "$dir/postmaster.pid" ] && pg pg_ctl -D "$dir" -m immediate stop >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f}')" "$1" "$(date +%s.%N)"; }

mkdir -p "$archive" "$work/data"
[ ${#as_pg[@]} -gt 0 ] && chown postgres: "$work" "$archive"

# --- 1. the cluster, archiving every WAL segment
pg_port=$(free_port)
pg initdb -D "$primary" --username=postgres --auth=trust --encoding=UTF8 --locale=C >/dev/null
cat >>"$primary/postgresql.conf" <<EOF
port = $pg_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
wal_level = replica
archive_mode = on
archive_command = 'test ! -f $archive/%f && cp %p $archive/%f'
max_connections = 20
fsync = on
EOF
pg pg_ctl -D "$primary" -l "$work/primary.log" -w start >/dev/null
database="postgres://postgres@127.0.0.1:$pg_port/tmcp"
psql -q "postgres://postgres@127.0.0.1:$pg_port/postgres" -c "CREATE DATABASE tmcp"

# --- 2. the server on it
export TMCP_DATABASE_URL="$database" TMCP_DATA_DIR="$work/data" TMCP_REDIS_URL=
export TMCP_DB_MAX_CONNECTIONS=4 TMCP_DB_SYSTEM_MAX_CONNECTIONS=2 TMCP_LOG_LEVEL=warn
export TMCP_STORAGE__RATE_PER_MINUTE=1000000 TMCP_STORAGE__RATE_BURST=1000000
export TMCP_API_RATE_PER_MINUTE=1000000 TMCP_API_RATE_BURST=1000000
"$server_bin" migrate >/dev/null 2>>"$work/admin.log" || { cat "$work/admin.log"; exit 1; }
echo 'a long drill password' | "$server_bin" admin create-user --username drill \
  --email drill@example.com --password-stdin >/dev/null 2>>"$work/admin.log"
"$server_bin" admin create-client --client-id ma_drill --name Drill \
  --redirect-uri https://drill.example/cb --scopes "storage:read storage:write" \
  >/dev/null 2>>"$work/admin.log"

start_server() {
  local port; port=$(free_port)
  base="http://127.0.0.1:$port"
  TMCP_LISTEN="127.0.0.1:$port" "$server_bin" serve >>"$work/server.log" 2>&1 &
  server_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "$base/health" >/dev/null 2>&1 && return
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
    sleep 0.1
  done
  echo "server did not start" >&2; exit 1
}
stop_server() { kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=; }
tep() {
  local session
  session=$(curl -fsS "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d '{"login":"drill","password":"a long drill password"}' |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["session_token"])')
  curl -fsS "$base/oauth2/token" \
    -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange -d client_id=ma_drill \
    -d subject_token="$session" \
    -d subject_token_type=urn:ietf:params:oauth:token-type:access_token \
    --data-urlencode "scope=storage:read storage:write" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])'
}
write_keys() { # $1 phase name: keys "$1/k<i>" with value "$1-<i>"
  for i in $(seq 1 "$keys"); do
    curl -fsS -o /dev/null -X PUT "$base/api/v1/storage/$1%2Fk$i" -H "Authorization: Bearer $token" \
      -H 'content-type: application/json' -d "{\"value\": \"$1-$i\"}"
  done
}

start_server
token=$(tep)
write_keys before-backup

# --- 3. base backup while the server runs, then writes that live only in the WAL archive
t=$(date +%s.%N)
pg pg_basebackup -h 127.0.0.1 -p "$pg_port" -U postgres -D "$work/base" -X stream -c fast
backup_secs=$(elapsed "$t")
write_keys after-backup
psql -qAt "$database" -c "SELECT pg_create_restore_point('drill')" >/dev/null

# --- 4. the accident: every key deleted, then more WAL
for phase in before-backup after-backup; do
  for i in $(seq 1 "$keys"); do
    curl -fsS -o /dev/null -X DELETE "$base/api/v1/storage/$phase%2Fk$i" -H "Authorization: Bearer $token"
  done
done
write_keys after-accident
psql -qAt "$database" -c "SELECT pg_switch_wal()" >/dev/null
# The archiver copies the finished segment shortly after the switch.
for _ in $(seq 1 100); do
  ready=$(find "$primary/pg_wal/archive_status" -name '*.ready' | wc -l)
  [ "$ready" = 0 ] && break
  sleep 0.1
done
stop_server

# --- 5. the primary is lost; restore the base backup and replay to the restore point
pg pg_ctl -D "$primary" -m immediate stop >/dev/null
rm -rf "$primary"
t=$(date +%s.%N)
"${as_pg[@]}" cp -a "$work/base" "$restored"
pg_port=$(free_port)
cat >>"$restored/postgresql.conf" <<EOF
port = $pg_port
archive_mode = off
restore_command = 'cp $archive/%f %p'
recovery_target_name = 'drill'
recovery_target_action = 'promote'
EOF
"${as_pg[@]}" touch "$restored/recovery.signal"
pg pg_ctl -D "$restored" -l "$work/restored.log" -w -t 120 start >/dev/null
database="postgres://postgres@127.0.0.1:$pg_port/tmcp"
for _ in $(seq 1 600); do
  [ "$(psql -qAt "$database" -c 'SELECT pg_is_in_recovery()' 2>/dev/null)" = f ] && break
  sleep 0.1
done
recovery_secs=$(elapsed "$t")

# --- 6. check it through the server
export TMCP_DATABASE_URL="$database"
start_server
token=$(tep)
verified=0
missing=0
for phase in before-backup after-backup; do
  for i in $(seq 1 "$keys"); do
    value=$(curl -fsS "$base/api/v1/storage/$phase%2Fk$i" -H "Authorization: Bearer $token" |
      python3 -c 'import json, sys; print(json.load(sys.stdin)["value"])' 2>/dev/null || true)
    if [ "$value" = "$phase-$i" ]; then verified=$((verified + 1)); else missing=$((missing + 1)); fi
  done
done
leaked=$(curl -s -o /dev/null -w '%{http_code}' "$base/api/v1/storage/after-accident%2Fk1" \
  -H "Authorization: Bearer $token")
stop_server
ledger=0
"$server_bin" admin ledger-check >/dev/null 2>>"$work/admin.log" || ledger=$?

echo "pitr drill: $((2 * keys)) keys written before the restore point ($keys of them after the base backup)"
echo "pitr drill: base backup ${backup_secs}s, restore + WAL replay to the restore point ${recovery_secs}s"
echo "pitr drill: keys verified $verified, missing $missing; a write after the point: HTTP $leaked (404 expected); ledger-check exit $ledger"
[ "$missing" = 0 ] && [ "$leaked" = 404 ] && [ "$ledger" = 0 ]
