#!/usr/bin/env bash
# Property-based API fuzzing with schemathesis against the server's own OpenAPI document:
# every documented operation with every kind of credential its `security` accepts, checking
# that no answer is a 5xx and that status, content type and body match the document.
#
# Credentials (taken by scripts/fuzz-seed.py through the API, as clients take them): a
# user's TEP with every scope the server knows (approved on the consent page, then token
# exchange) and the app backend's client-credentials token, on every operation that takes a
# TEP; sessions of a plain user, of the app's developer and of an administrator, on every
# operation that takes a session; no credentials, and the confidential client's id and
# secret (HTTP Basic, at /oauth2/token, /revoke, /introspect), on the operations without
# security. The mini-app is registered with `admin create-client --developer`, then given a
# published version, an install, a review, a category, a funded wallet and a pending and a
# completed payment, whose ids the fuzzer uses for half of the values it generates for the
# parameters naming them (schemathesis dictionaries), so it reaches the handlers behind them.
#
# Starts its own server on a free loopback port with a throwaway SQLite data directory, or
# with FUZZ_ENGINE=postgres in a throwaway database on the PostgreSQL server of
# FUZZ_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432), dropped at the end.
#
# Arguments are passed on to every `st run` (e.g. `--report ndjson --report-dir /abs/dir`).
# Knobs: FUZZ_SERVER_BIN (see below); FUZZ_MAX_EXAMPLES (per operation and phase, default
# 25); FUZZ_TIMEOUT (seconds for all schemathesis runs together, default 420; about 200 are
# used on 2 cores); FUZZ_SEED (default 1, so a CI run is repeatable; `random` for a new one
# each time).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tmcp-target}"

schemathesis_version=4.32.5
max_examples="${FUZZ_MAX_EXAMPLES:-25}"
budget="${FUZZ_TIMEOUT:-420}"
seed="${FUZZ_SEED:-1}"
[ "$seed" = random ] && seed=$RANDOM

# schemathesis lives in a venv next to the build cache, installed once per pinned version
# and interpreter. The newest Python 3 at hand: with two workers, Python 3.11's parser fails
# now and then in one of them ("SystemError: AST constructor recursion depth mismatch", a
# CPython bug, gh-106905, fixed in 3.13) and the run reports a tool error.
python=python3
for candidate in python3.14 python3.13 "${PYENV_ROOT:-$HOME/.pyenv}"/versions/3.1[3-9]*/bin/python3; do
  if "$candidate" -c 'import venv' >/dev/null 2>&1; then python=$candidate; break; fi
done
venv="$(dirname "$CARGO_TARGET_DIR")/tmcp-fuzz/schemathesis-$schemathesis_version-$("$python" -c 'import sys; print("py%d.%d" % sys.version_info[:2])')"
# A venv whose interpreter moved or vanished still has an executable `st` whose shebang no
# longer resolves, so the check runs it rather than testing for the file.
if ! "$venv/bin/st" --version >/dev/null 2>&1; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
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
export TMCP_PAYMENTS__REQUEST_RATE_PER_MINUTE=1000000 TMCP_PAYMENTS__REQUEST_RATE_BURST=1000000
export TMCP_PAYMENTS__AUTHORIZE_RATE_PER_MINUTE=1000000 TMCP_PAYMENTS__AUTHORIZE_RATE_BURST=1000000
mkdir -p "$TMCP_DATA_DIR"

password='fuzzing password 1234'
admin() {
  "$server_bin" admin "$@" >"$work/admin.out" 2>>"$work/admin.log" || { cat "$work/admin.log"; exit 1; }
}
for account in fuzzer:admin fuzzdev:developer fuzzuser:user; do
  echo "$password" | admin create-user --username "${account%%:*}" \
    --email "${account%%:*}@example.com" --password-stdin --role "${account#*:}"
done
# The mini-app every credential is for: a confidential, official client with every scope the
# server knows, registered as an app of the developer (so analytics ingestion, payments into
# the developer's wallet and the developer's routes find it).
app_id=ma_fuzz
admin create-client --client-id "$app_id" --name "Fuzz" --redirect-uri http://127.0.0.1/cb \
  --confidential --official --developer fuzzdev --scopes "user:read user:read:extended \
storage:read storage:write wallet:balance wallet:history wallet:pay webhook:send \
analytics:detailed system:notifications"
client_secret=$(python3 -c 'import json, sys; print(json.load(sys.stdin)["client_secret"])' \
  <"$work/admin.out")

"$server_bin" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
  curl -fs "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done

# Sessions of each role, the user's TEP with every scope (approved on the consent page
# first), the client-credentials token, and a pending and a completed payment.
python3 scripts/fuzz-seed.py "$base" "$password" "$app_id" "$client_secret" >"$work/seed.json" ||
  { tail -n 50 "$work/server.log"; exit 1; }
seeded() {
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' \
    "$work/seed.json" "$1"
}

curl -fsS "$base/openapi.json" -o "$work/openapi.json"
# One document per credential kind with the operations whose `security` accepts it (`none`:
# the operations without security), so each kind is tried on exactly the operations that
# accept it, and a new operation is fuzzed with its credentials without editing this script.
subset() {
  python3 - "$work/openapi.json" "$work/$1.json" "$1" <<'PY'
import json, sys
source, target, kind = sys.argv[1:4]
document = json.load(open(source))
methods = ("get", "put", "post", "delete", "patch")
for path, item in list(document["paths"].items()):
    for method in [m for m in methods if m in item]:
        schemes = {name for req in item[method].get("security") or [] for name in req}
        if kind not in (schemes or {"none"}):
            del item[method]
    if not any(m in item for m in methods):
        del document["paths"][path]
json.dump(document, open(target, "w"))
PY
}
subset tep
subset session
subset none
# Ids the fuzzer cannot guess, used for about half of the generated values of the parameters
# that name them so the handlers behind them run; the other half stay generated.
cat >"$work/schemathesis.toml" <<TOML
[dictionaries.apps]
values = ["$app_id"]
[dictionaries.payments]
values = ["$(seeded pending_payment)", "$(seeded completed_payment)"]
[dictionaries.reviews]
values = ["$(seeded review)"]
[dictionaries.categories]
values = ["$(seeded category)"]
[dictionaries.methods]
values = ["$(seeded payment_method)"]
[dictionaries.spare_methods]
values = ["$(seeded spare_payment_method)"]
[parameters]
"path.app_id" = { dictionary = "apps", probability = 0.5 }
"path.miniapp_id" = { dictionary = "apps", probability = 0.5 }
"path.review_id" = { dictionary = "reviews", probability = 0.5 }
"path.category_id" = { dictionary = "categories", probability = 0.5 }
[[operations]]
include-path-regex = "^/api/v1/payments/"
parameters = { "path.id" = { dictionary = "payments", probability = 0.5 } }
[[operations]]
include-path-regex = "^/wallet/v1/payment-methods/"
parameters = { "path.id" = { dictionary = "spare_methods", probability = 0.5 } }
[[operations]]
include-path = "/wallet/v1/top-up"
parameters = { "body.payment_method_id" = { dictionary = "methods", probability = 0.5 } }
TOML

checks=not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance
extra=("$@")
status=0
started=$(date +%s)

# One schemathesis run: a name, the bearer token (or ""), the document of a credential kind
# (above), then filters. Its output goes to a log shown in full only when the run fails;
# what is left of the time budget bounds it.
run() {
  local name=$1 token=$2 document=$3
  shift 3
  local log="$work/$name.log" left auth=() began took code=0
  left=$((budget - ($(date +%s) - started)))
  if [ "$left" -le 0 ]; then
    echo "fuzz $name: not run, the ${budget}s budget is used up"
    status=1
    return
  fi
  [ -n "$token" ] && auth=(--header "Authorization: Bearer $token")
  began=$(date +%s)
  # From the scratch directory: schemathesis keeps a cache in its working directory.
  (cd "$work" && timeout --signal=INT --kill-after=10 "$left" \
    "$venv/bin/st" --config-file schemathesis.toml run "$document.json" --url "$base" \
    "${auth[@]}" "$@" --checks "$checks" \
    --max-examples "$max_examples" --seed "$seed" --workers 2 --generation-database none \
    --no-color --warnings off --request-timeout 30 "${extra[@]}") >"$log" 2>&1 || code=$?
  took=$(($(date +%s) - began))
  case "$code" in
    0) echo "fuzz $name: no failures ($(sed -n 's/^ *Operations: *\([0-9]*\) selected.*/\1/p' "$log" | head -n 1) operations, $(sed -n '/^Test cases:/{n;s/^ *//;p;}' "$log" | head -n 1); ${took}s)" ;;
    124) status=1; cat "$log"; echo "fuzz $name: FAILED, stopped at the ${budget}s budget" ;;
    *) status=1; cat "$log"; echo "fuzz $name: FAILED (${took}s)" ;;
  esac
}

echo "fuzz: schemathesis $schemathesis_version on ${FUZZ_ENGINE:-sqlite}, seed $seed, $max_examples examples per operation and phase"
# The user's TEP with every scope, then the app backend's client-credentials token, on every
# operation that takes a TEP.
run tep-storage "$(seeded tep)" tep --include-path-regex '^/api/v1/storage'
run tep "$(seeded tep)" tep --exclude-path-regex '^/api/v1/storage'
run client-credentials "$(seeded client_token)" tep
# The operations without security anonymously, and the OAuth endpoints that authenticate
# clients once more with the confidential client's id and secret (HTTP Basic).
run anonymous "" none
run client-secret "" none --include-path-regex '^/oauth2/(token|revoke|introspect)$' \
  --auth "$app_id:$client_secret"
# Sessions of a plain user, of the app's developer and of an administrator, on every
# operation that takes a session. The two operations that can end the caller's session
# (deleting a session, whose id the fuzzer finds in the session list, and logout) come last,
# each with a session of its own. The administrator goes last of the three: it may reject,
# deprecate or remove the app the others use.
ending=(--exclude-path '/api/v1/auth/sessions/{id}' --exclude-path '/api/v1/auth/logout')
run user "$(seeded user)" session "${ending[@]}"
run developer "$(seeded developer)" session "${ending[@]}"
run admin "$(seeded admin)" session "${ending[@]}"
run end-session "$(seeded end_session)" session --include-path '/api/v1/auth/sessions/{id}'
run logout "$(seeded logout)" session --include-path '/api/v1/auth/logout'

if [ "$status" -ne 0 ]; then
  echo "--- server log (last 50 lines)"
  tail -n 50 "$work/server.log"
fi
exit "$status"
