# Storage rows for bench/run.sh (sourced; see the header of run.sh).
# Users of one mini-app each get a TEP (minted by the bench-only example `bench_tep` against
# the server's own database and key ring) and a 1 KiB value under "bench/get". Rows: GET and
# PUT of a 1 KiB value for one hot user, 64 users and $BENCH_MANY_USERS (default 10,000)
# users, each as × raw and × the bare `SELECT 1` ceiling of the same run. On PostgreSQL,
# pgbench's simple-update transaction (`-N`) at the same concurrency is the PUT baseline.
# (The cost of TEP validation alone is the auth scenario's `/bench/tep` row.) The server
# runs with its rate limits raised (the limiter still runs on every request, it just never
# refuses), see start_server in run.sh.

MANY_USERS="${BENCH_MANY_USERS:-10000}"

pgbench_simple_update() { # prints pgbench -N tps at $CONNECTIONS clients on a scratch database
  local admin="${TMCP_BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
  local db="tmcp_pgbench_n_$$"
  psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
  local url="${admin%/*}/$db"
  pgbench -i -q -s 10 "$url" >/dev/null 2>&1
  pgbench -n -N -c "$CONNECTIONS" -j "$THREADS" -T "$DURATION" "$url" 2>/dev/null \
    | awk '/^tps/ { print $3; exit }'
  psql "$admin" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
}

scenario_run() { # $1 base url, $2 raw req/s
  local base="$1" raw_rps="$2"
  local all="$WORK/tokens_all"
  TMCP_LISTEN="127.0.0.1:$PORT" TMCP_DATA_DIR="$BENCH_DATA_DIR" TMCP_DATABASE_URL="$BENCH_DATABASE_URL" \
    TMCP_LOG_LEVEL=warn BENCH_SEED_KEY="bench/get" "$BENCH_TEP_BIN" "$MANY_USERS" > "$all"
  head -n 1 "$all" > "$WORK/tokens_1"
  head -n 64 "$all" > "$WORK/tokens_64"
  cp "$all" "$WORK/tokens_$MANY_USERS"
  local dir; dir="$(dirname "${BASH_SOURCE[0]}")"
  local users get put
  declare -A GET_RPS GET_P99 PUT_RPS
  for users in 1 64 "$MANY_USERS"; do
    export BENCH_TOKENS="$WORK/tokens_$users"
    get=$(measure "$base/api/v1/storage/bench%2Fget" -s "$dir/storage_get.lua")
    row "GET storage 1 KiB, $users user(s)" "$raw_rps" "$get"
    GET_RPS[$users]=$(echo "$get" | cut -d' ' -f1)
    GET_P99[$users]=$(echo "$get" | cut -d' ' -f3)
    put=$(measure "$base/api/v1/storage/bench%2Fput" -s "$dir/storage_put.lua")
    row "PUT storage 1 KiB, $users user(s)" "$raw_rps" "$put"
    PUT_RPS[$users]=$(echo "$put" | cut -d' ' -f1)
  done
  echo
  for users in 1 64; do
    awk -v g="${GET_RPS[$users]}" -v c="$CEILING_RPS" -v p="${GET_P99[$users]}" -v cp="$CEILING_P99" -v u="$users" 'BEGIN {
      r = g / c; q = p / cp
      printf "Storage GET, %s user(s) = %.2f × ceiling (target ≥ 0.60: %s); p99 %.2f ms = %.2f × the ceiling p99 (target ≤ 1.3: %s)\n",
        u, r, (r >= 0.60 ? "met" : "missed"), p, q, (q <= 1.3 ? "met" : "missed") }'
  done
  STORAGE_PUT_1="${PUT_RPS[1]}"
  STORAGE_PUT_64="${PUT_RPS[64]}"
}

# Called by run.sh once the server has stopped: the PUT rows against pgbench -N.
storage_baselines() {
  [ -n "$BENCH_DATABASE_URL" ] && [ -n "${STORAGE_PUT_64:-}" ] || return 0
  command -v pgbench >/dev/null || { echo "pgbench not found: PUT baseline skipped" >&2; return 0; }
  local simple; simple=$(pgbench_simple_update)
  [ -n "$simple" ] || { echo "pgbench -N gave no result" >&2; return 0; }
  awk -v p="$STORAGE_PUT_64" -v b="$simple" -v h="$STORAGE_PUT_1" -v c="$CONNECTIONS" 'BEGIN {
    r = p / b
    printf "pgbench simple-update (-N), %d clients: %.0f tps. Storage PUT, 64 users = %.2f × (target ≥ 0.50: %s); one hot user %.0f req/s = %.2f ×\n",
      c, b, r, (r >= 0.50 ? "met" : "missed"), h, h / b }'
}
