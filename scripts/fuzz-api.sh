#!/usr/bin/env bash
# Property-based API fuzzing with schemathesis against the server's own OpenAPI document:
# every documented operation, authenticated (session token for the account routes, a TEP for
# storage), checking that no answer is a 5xx and that status, content type and body match
# the document. Starts its own server on a free loopback port with a throwaway SQLite data
# directory, or with FUZZ_ENGINE=postgres in a throwaway database on the PostgreSQL server
# of FUZZ_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432), dropped at the end.
#
# Arguments are passed on to every `st run` (e.g. `--report ndjson --report-dir /abs/dir`).
# Knobs: FUZZ_SERVER_BIN (see below); FUZZ_MAX_EXAMPLES (per operation and phase, default
# 25); FUZZ_TIMEOUT (seconds for all schemathesis runs together, default 300); FUZZ_SEED
# (default 1, so a CI run is repeatable; `random` for a new one each time).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tmcp-target}"

schemathesis_version=4.32.5
max_examples="${FUZZ_MAX_EXAMPLES:-25}"
budget="${FUZZ_TIMEOUT:-300}"
seed="${FUZZ_SEED:-1}"
[ "$seed" = random ] && seed=$RANDOM

# schemathesis lives in a venv next to the build cache, installed once per pinned version.
venv="$(dirname "$CARGO_TARGET_DIR")/tmcp-fuzz/schemathesis-$schemathesis_version"
# A venv whose interpreter moved or vanished still has an executable `st` whose shebang no
# longer resolves, so the check runs it rather than testing for the file.
if ! "$venv/bin/st" --version >/dev/null 2>&1; then
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$schemathesis_version"
fi

# FUZZ_SERVER_BIN: a binary just built from this tree (CI passes the one its test step
# built, which a plain `cargo build` would partly rebuild with other dependency features).
server_bin="${FUZZ_SERVER_BIN:-}"
if [ -z "$server_bin" ]; then
  cargo build --locked --quiet -p tmcp-server
  server_bin="$CARGO_TARGET_DIR/debug/tmcp-server"
fi

work=$(mktemp -d)
server_pid=
pg_server="${FUZZ_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
pg_database=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ -n "$pg_database" ]; then
    psql "$pg_server/postgres" -qc "DROP DATABASE IF EXISTS $pg_database WITH (FORCE)" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

database_url=
case "${FUZZ_ENGINE:-sqlite}" in
  sqlite) ;;
  postgres)
    pg_database="tmcp_fuzz_$$_$RANDOM"
    psql "$pg_server/postgres" -qc "CREATE DATABASE $pg_database"
    database_url="$pg_server/$pg_database"
    ;;
  *) echo "FUZZ_ENGINE must be sqlite or postgres" >&2; exit 2 ;;
esac

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
export TMCP_LISTEN="127.0.0.1:$port"
export TMCP_DATA_DIR="$work/data"
export TMCP_DATABASE_URL="$database_url"
export TMCP_REDIS_URL=
export TMCP_LOG_LEVEL="${FUZZ_LOG_LEVEL:-warn,sqlx=error}"
# Limits high enough that the fuzzer reaches the handlers; 429 is still documented and
# accepted wherever it can happen (login and registration keep their fixed budgets).
export TMCP_API_RATE_PER_MINUTE=1000000 TMCP_API_RATE_BURST=1000000
export TMCP_OAUTH__TOKEN_RATE_PER_MINUTE=1000000
export TMCP_STORAGE__RATE_PER_MINUTE=1000000 TMCP_STORAGE__RATE_BURST=1000000
export TMCP_STORAGE__BATCH_RATE_PER_MINUTE=1000000 TMCP_STORAGE__BATCH_RATE_BURST=1000000
mkdir -p "$TMCP_DATA_DIR"

password='fuzzing password 1234'
admin() {
  "$server_bin" admin "$@" >/dev/null 2>>"$work/admin.log" || { cat "$work/admin.log"; exit 1; }
}
echo "$password" | admin create-user --username fuzzer --email fuzzer@example.com \
  --password-stdin --role admin
admin create-client --client-id ma_fuzz --name "Fuzz" --redirect-uri http://127.0.0.1/cb \
  --scopes "storage:read storage:write"

"$server_bin" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done

login() {
  curl -fsS "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"login\":\"fuzzer\",\"password\":\"$password\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["session_token"])'
}
session=$(login)
# Sessions for the two operations that end sessions, taken now: by the end the fuzzer has
# used up this address's login budget.
session_for_delete=$(login)
session_for_logout=$(login)
tep=$(curl -fsS "$base/oauth2/token" \
  -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange -d client_id=ma_fuzz \
  -d subject_token="$session" \
  -d subject_token_type=urn:ietf:params:oauth:token-type:access_token \
  --data-urlencode "scope=storage:read storage:write" |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')

curl -fsS "$base/openapi.json" -o "$work/openapi.json"

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
extra=("$@")
status=0
started=$(date +%s)

# One schemathesis run: a name, the bearer token (or ""), then filters. Its output goes to a
# log shown in full only when the run fails; what is left of the time budget bounds it.
run() {
  local name=$1 token=$2
  shift 2
  local log="$work/$name.log" left auth=()
  left=$((budget - ($(date +%s) - started)))
  if [ "$left" -le 0 ]; then
    echo "fuzz $name: not run, the ${budget}s budget is used up"
    status=1
    return
  fi
  [ -n "$token" ] && auth=(--header "Authorization: Bearer $token")
  # From the scratch directory: schemathesis keeps a cache in its working directory.
  local code=0
  (cd "$work" && timeout --signal=INT --kill-after=10 "$left" \
    "$venv/bin/st" run openapi.json --url "$base" "${auth[@]}" "$@" --checks "$checks" \
    --max-examples "$max_examples" --seed "$seed" --workers 2 --generation-database none \
    --no-color --warnings off --request-timeout 30 "${extra[@]}") >"$log" 2>&1 || code=$?
  case "$code" in
    0) echo "fuzz $name: no failures ($(sed -n '/^Test cases:/{n;s/^ *//;p;}' "$log" | head -n 1))" ;;
    124) status=1; cat "$log"; echo "fuzz $name: FAILED, stopped at the ${budget}s budget" ;;
    *) status=1; cat "$log"; echo "fuzz $name: FAILED" ;;
  esac
}

echo "fuzz: schemathesis $schemathesis_version on ${FUZZ_ENGINE:-sqlite}, seed $seed, $max_examples examples per operation and phase"
run storage "$tep" --include-path-regex '^/api/v1/storage'
# Everything else with the session. The two operations that can end the caller's session
# (deleting a session, whose id the fuzzer finds in the session list, and logout) come
# last, each with a session of its own.
run accounts-and-oauth "$session" --exclude-path-regex '^/api/v1/storage' \
  --exclude-path '/api/v1/auth/sessions/{id}' --exclude-path '/api/v1/auth/logout'
run end-session "$session_for_delete" --include-path '/api/v1/auth/sessions/{id}'
run logout "$session_for_logout" --include-path '/api/v1/auth/logout'

if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines)"
  tail -n 50 "$work/server.log"
fi
exit "$status"
