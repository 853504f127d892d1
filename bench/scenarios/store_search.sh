# Store search rows for bench/run.sh (sourced; see the header of run.sh). Both engines.
# Fills the engine's database with a generated catalogue (BENCH_CATALOGUE_APPS, 100,000)
# through the bench-only example `bench_catalogue` (real registrations: full-text document,
# FTS tables and typo vocabulary as the server writes them), then measures searches of one,
# two and three words (very common words included) at 16 connections, next to
# /bench/ceiling (a bare SELECT 1) at 16 connections in the same run. p50/p95/p99 from wrk.
# The rows run twice: with the server's listing answer cache as configured by default (the
# rotated queries repeat, as popular searches do), then with the server restarted with the
# cache off (TMCP_STORE__SEARCH_CACHE_MS=0: every query computed, the worst case).

SEARCH_CONNECTIONS=16
SEARCH_APPS="${BENCH_CATALOGUE_APPS:-100000}"

search_measure() { # $1 url, $2 class ('' for the ceiling) -> "req/s p50 p95 p99" (ms)
  local out="$WORK/search.out"
  BENCH_SEARCH_CLASS="${2:-ceiling}" BENCH_SEARCH_TOKEN="$SEARCH_TOKEN" \
    wrk -t"$THREADS" -c"$SEARCH_CONNECTIONS" -d"${DURATION}s" \
    -s "$(dirname "${BASH_SOURCE[0]}")/store_search.lua" "$1" > "$out" 2>&1
  local errors; errors=$(awk '$1=="errors" {print $2}' "$out")
  [ "${errors:-0}" = "0" ] || echo "warning: $errors non-2xx answers for $1 ($2)" >&2
  awk '/Requests\/sec/ {rps=$2} $1=="percentiles" {p50=$2; p95=$3; p99=$4}
       END { printf "%s %.2f %.2f %.2f\n", rps, p50/1000, p95/1000, p99/1000 }' "$out"
}

scenario_run() { # $1 base url, $2 raw req/s
  local base="$1"
  local generator="${CARGO_TARGET_DIR:-target}/release/examples/bench_catalogue"
  [ -x "$generator" ] || cargo build --release --locked -p tmcp-server --example bench_catalogue
  local started=$SECONDS
  SEARCH_TOKEN=$(TMCP_LISTEN="127.0.0.1:$PORT" TMCP_DATA_DIR="$BENCH_DATA_DIR" \
    TMCP_DATABASE_URL="$BENCH_DATABASE_URL" TMCP_LOG_LEVEL=warn "$generator" "$SEARCH_APPS")
  local seeded=$((SECONDS - started))
  # PostgreSQL: the statistics autovacuum would gather on its own a little later (without
  # them the planner takes the 100,000 fresh rows for a handful). SQLite runs as the server
  # leaves it (no ANALYZE): its queries name their join order.
  if [ -n "$BENCH_DATABASE_URL" ]; then psql -q "$BENCH_DATABASE_URL" -c "VACUUM ANALYZE" >/dev/null; fi
  local ceiling; ceiling=$(search_measure "$base/bench/ceiling" "")
  local ceiling_p95; ceiling_p95=$(echo "$ceiling" | cut -d' ' -f3)
  echo
  echo "Store search over $SEARCH_APPS apps at $SEARCH_CONNECTIONS connections (seeded in ${seeded}s):"
  echo
  echo "| row | req/s | p50 ms | p95 ms | p99 ms | p95 × ceiling |"
  echo "|---|---:|---:|---:|---:|---:|"
  search_rows "$base" "$ceiling" "$ceiling_p95" "cache on"
  # The same rows with every query computed: the server again, with its answer cache off.
  local cached_rss; cached_rss=$(stop_server | sed -n 's/.*RSS[^:]*: \([0-9]* MB\).*/\1/p')
  export TMCP_STORE__SEARCH_CACHE_MS=0
  start_server "$(basename "$BENCH_DATA_DIR")" "$BENCH_DATABASE_URL"
  unset TMCP_STORE__SEARCH_CACHE_MS
  # A starting server runs the ranking refresh at once (then every 10 minutes); over 100,000
  # apps it takes seconds of CPU, which would be measured as search time otherwise.
  search_wait_for_rankings "$base"
  search_rows "$base" "$ceiling" "$ceiling_p95" "cache off"
  echo
  echo "Server peak RSS with the cache on (seeding included): ${cached_rss:-unknown}"
}

search_wait_for_rankings() { # $1 base url: until the server's first store_rankings run is done
  local metric='tmcp_job_last_success_timestamp_seconds{job="store_rankings"}'
  for _ in $(seq 1 600); do
    curl -s "$1/metrics" | awk -v m="$metric" '$1 == m && $2 > 0 { found = 1 } END { exit !found }' \
      && return 0
    sleep 0.5
  done
  echo "warning: the ranking refresh did not finish within 300 s" >&2
}

search_rows() { # $1 base url, $2 ceiling result, $3 ceiling p95, $4 label suffix
  local base="$1" ceiling="$2" ceiling_p95="$3" label result
  for class in ceiling one two three; do
    case $class in
      ceiling) [ "$4" = "cache on" ] || continue
               label="GET /bench/ceiling (SELECT 1)"; result="$ceiling" ;;
      *) label="search, $class-word queries, $4"; result=$(search_measure "$base/" "$class") ;;
    esac
    read -r rps p50 p95 p99 <<<"$result"
    printf "| %s | %.0f | %s | %s | %s | %.1f |\n" "$label" "$rps" "$p50" "$p95" "$p99" \
      "$(awk -v a="$p95" -v b="$ceiling_p95" 'BEGIN { print (b > 0 ? a / b : 0) }')"
  done
}
