# Storage rows for bench/run.sh (sourced; see the header of run.sh).
# 64 users of one mini-app each get a TEP (minted by the bench-only example `bench_tep`
# against the server's own database and key ring) and a 1 KiB value under "bench/get".
# Rows: storage GET and PUT, with their ratio to the same run's `SELECT 1` baseline. (The
# cost of TEP validation alone is the auth scenario's `/bench/tep` row, measured once.) The server runs with its rate limits raised (the limiter still runs
# on every request, it just never refuses), see start_server in run.sh.

scenario_run() { # $1 base url, $2 raw req/s
  local base="$1" raw_rps="$2"
  local tokens="$WORK/tokens"
  TMCP_LISTEN="127.0.0.1:$PORT" TMCP_DATA_DIR="$BENCH_DATA_DIR" TMCP_DATABASE_URL="$BENCH_DATABASE_URL" \
    TMCP_LOG_LEVEL=warn "$BENCH_TEP_BIN" 64 > "$tokens"
  local value; value=$(printf '{"value": "%s"}' "$(head -c 1024 /dev/zero | tr '\0' 'v')")
  while read -r tep; do
    curl -sf -o /dev/null -X PUT "$base/api/v1/storage/bench%2Fget" \
      -H "Authorization: Bearer $tep" -H 'Content-Type: application/json' -d "$value"
  done < "$tokens"
  export BENCH_TOKENS="$tokens"
  local dir; dir="$(dirname "${BASH_SOURCE[0]}")"
  local get; get=$(measure "$base/api/v1/storage/bench%2Fget" -s "$dir/storage_get.lua")
  row "GET /api/v1/storage/{key} (1 KiB)" "$raw_rps" "$get"
  local put; put=$(measure "$base/api/v1/storage/bench%2Fput" -s "$dir/storage_put.lua")
  row "PUT /api/v1/storage/{key} (1 KiB)" "$raw_rps" "$put"
  local get_rps get_p99
  get_rps=$(echo "$get" | cut -d' ' -f1)
  get_p99=$(echo "$get" | cut -d' ' -f3)
  echo
  awk -v g="$get_rps" -v s="$SELECT1_RPS" -v p="$get_p99" 'BEGIN {
    r = g / s
    printf "Storage GET = %.2f × SELECT 1 req/s (target ≥ 0.60: %s); GET p99 %.2f ms (target < 5 ms: %s)\n",
      r, (r >= 0.60 ? "met" : "not met"), p, (p < 5 ? "met" : "not met") }'
}
