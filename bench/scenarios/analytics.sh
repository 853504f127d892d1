# Lifecycle analytics rows for bench/run.sh (sourced; see the header of run.sh).
# The bench-only example `bench_analytics` creates $BENCH_ANALYTICS_APPS apps of one
# developer and $BENCH_ANALYTICS_USERS users, loads $BENCH_ANALYTICS_EVENTS raw events over
# the last $BENCH_ANALYTICS_DAYS days straight through the repository's ingest (the HTTP
# routes refuse events older than 7 days) and drains the rollups (defaults: 1,000 apps,
# 100,000 users, 10,000,000 events, 30 days). Then, at 16 connections:
#   stats   GET /api/v1/developer/apps/{app}/stats over the 30 days by day, p50/p95/p99,
#           next to /bench/ceiling at the same concurrency;
#   ingest  POST /api/v1/lifecycle/analytics with batches of 100 usage events (rotating
#           TEPs of all apps), rows/s, against a baseline in the same run: a 100-row
#           multi-row INSERT into a plain table of the same columns (pgbench at 16 clients on
#           PostgreSQL; on SQLite the example `bench_sqlite_insert`, one prepared statement
#           through sqlx, one transaction per INSERT).
# Targets (issue 11): stats p95 < 100 ms (PostgreSQL) / < 300 ms (SQLite); ingest ≥ 0.5 ×
# the baseline's rows/s.

ANALYTICS_CONNECTIONS=16
# The ingest row lasts a whole rollup interval (60 s by default), so it always contains the
# one rollup pass a sustained stream pays for; a 5 s row measured whether a pass happened to
# fall inside it (0.21 x with one, 0.45 x without, in two runs of the same code).
ANALYTICS_INGEST_SECONDS="${BENCH_ANALYTICS_INGEST_SECONDS:-60}"
ANALYTICS_APPS="${BENCH_ANALYTICS_APPS:-1000}"
ANALYTICS_USERS="${BENCH_ANALYTICS_USERS:-100000}"
ANALYTICS_EVENTS="${BENCH_ANALYTICS_EVENTS:-10000000}"
ANALYTICS_DAYS="${BENCH_ANALYTICS_DAYS:-30}"

analytics_measure() { # like measure, at $ANALYTICS_CONNECTIONS connections
  local saved="$CONNECTIONS"
  CONNECTIONS=$ANALYTICS_CONNECTIONS
  measure "$@"
  CONNECTIONS="$saved"
}

# The 100-row statement of both baselines: the columns of app_usage_analytics.
analytics_values() { # $1 = uuid expression
  local i rows=()
  for i in $(seq 1 100); do
    rows+=("($1, 'ma_bench_a$((i % 10))', $1, NULL, 'base-$i', 'feature_used', NULL, '{}', '2026-01-01T00:00:00.000000Z')")
  done
  local IFS=,
  echo "INSERT INTO bench_usage (id, app_id, user_id, device_id, session_id, event_type, duration_seconds, event_data, \"timestamp\") VALUES ${rows[*]};"
}

analytics_baseline_pg() { # prints rows/s of pgbench's 100-row INSERT at 16 clients
  local admin="${TMCP_BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
  local db="tmcp_pgbench_a_$$"
  psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
  local url="${admin%/*}/$db"
  psql "$url" -qc "CREATE TABLE bench_usage (id uuid NOT NULL, app_id varchar(255) NOT NULL,
    user_id uuid, device_id varchar(255), session_id varchar(255), event_type varchar(50) NOT NULL,
    duration_seconds integer, event_data jsonb NOT NULL DEFAULT '{}',
    \"timestamp\" timestamptz NOT NULL, PRIMARY KEY (id, \"timestamp\"))" >/dev/null
  analytics_values "gen_random_uuid()" > "$WORK/analytics_insert.sql"
  pgbench -n -f "$WORK/analytics_insert.sql" -c "$ANALYTICS_CONNECTIONS" -j "$THREADS" \
    -T "$DURATION" "$url" 2>/dev/null | awk '/^tps/ { printf "%.0f", $3 * 100; exit }'
  psql "$admin" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
}

analytics_baseline_sqlite() { # prints rows/s of prepared 100-row INSERTs, one transaction each
  # Through the server's driver (sqlx: one prepared statement, bound values, WAL,
  # synchronous=NORMAL), so the ratio compares like with like; the sqlite3 shell, which
  # parses a literal statement each time, was 6-8 x slower and flattered the server.
  local bin="${CARGO_TARGET_DIR:-target}/release/examples/bench_sqlite_insert"
  [ -x "$bin" ] || cargo build --release --locked -p tmcp-server --example bench_sqlite_insert >&2
  local file="$WORK/analytics_baseline.db"
  rm -f "$file"*
  "$bin" "$file" 2000
  rm -f "$file"*
}

analytics_seeded() { # $1 = a name the seeder printed on stderr -> its value
  awk -v k="$1" '$1 == k { print $2 }' "$WORK/analytics/seed.log"
}

scenario_run() { # $1 base url, $2 raw req/s
  local base="$1"
  local seeder="${CARGO_TARGET_DIR:-target}/release/examples/bench_analytics"
  [ -x "$seeder" ] || cargo build --release --locked -p tmcp-server --example bench_analytics
  local out="$WORK/analytics"
  mkdir -p "$out"
  # The seeder's pools stay small (8 load tasks, the rollup workers): the PostgreSQL is shared.
  TMCP_LISTEN="127.0.0.1:$PORT" TMCP_DATA_DIR="$BENCH_DATA_DIR" TMCP_DATABASE_URL="$BENCH_DATABASE_URL" \
    TMCP_DB_MAX_CONNECTIONS=8 TMCP_DB_SYSTEM_MAX_CONNECTIONS=3 \
    TMCP_LOG_LEVEL=warn BENCH_ANALYTICS_OUT="$out" \
    "$seeder" "$ANALYTICS_APPS" "$ANALYTICS_USERS" "$ANALYTICS_EVENTS" "$ANALYTICS_DAYS" 2> "$out/seed.log" \
    || { echo "bench_analytics failed:" >&2; tail -5 "$out/seed.log" >&2; return 1; }
  local app; app=$(cat "$out/app")
  local to from
  to=$(date -u +%F)
  from=$(date -u -d "$((ANALYTICS_DAYS - 1)) days ago" +%F)
  local dir; dir="$(dirname "${BASH_SOURCE[0]}")"

  local ceiling stats p50 p95 p99
  ceiling=$(analytics_measure "$base/bench/ceiling")
  stats=$(BENCH_SESSION_FILE="$out/session" analytics_measure \
    "$base/api/v1/developer/apps/$app/stats?from=$from&to=$to&granularity=day" -s "$dir/analytics_stats.lua")
  read -r p50 p95 p99 < <(awk '$1 == "percentiles_us" { printf "%.2f %.2f %.2f\n", $2/1000, $3/1000, $4/1000 }' "$WORK/wrk.out")
  # The same days in India (+05:30): each day boundary splits a UTC hour, read from the raw
  # events as two spans.
  local india k50 k95 k99 k_rps
  india=$(BENCH_SESSION_FILE="$out/session" analytics_measure \
    "$base/api/v1/developer/apps/$app/stats?from=$from&to=$to&granularity=day&tz=Asia%2FKolkata" -s "$dir/analytics_stats.lua")
  read -r k50 k95 k99 < <(awk '$1 == "percentiles_us" { printf "%.2f %.2f %.2f\n", $2/1000, $3/1000, $4/1000 }' "$WORK/wrk.out")
  local ingest saved_duration="$DURATION"
  DURATION="$ANALYTICS_INGEST_SECONDS"
  ingest=$(BENCH_TOKENS="$out/teps" analytics_measure "$base/api/v1/lifecycle/analytics" \
    -s "$dir/analytics_ingest.lua")
  DURATION="$saved_duration"
  local baseline
  if [ -n "$BENCH_DATABASE_URL" ]; then
    baseline=$(analytics_baseline_pg)
  else
    baseline=$(analytics_baseline_sqlite)
  fi
  local target=100; [ -n "$BENCH_DATABASE_URL" ] || target=300
  read -r c_rps c50 c99 <<<"$ceiling"
  read -r s_rps _ _ <<<"$stats"
  read -r i_rps i50 i99 <<<"$ingest"
  echo
  echo "Lifecycle analytics (ingest row: ${ANALYTICS_INGEST_SECONDS}s): $(analytics_seeded loaded_events) events loaded ($ANALYTICS_APPS apps, $ANALYTICS_USERS users, $ANALYTICS_DAYS days) in $(analytics_seeded load_seconds) s ($(analytics_seeded load_rows_per_second) rows/s through the repository, 8 tasks); rollups: $(analytics_seeded rollup_buckets) buckets from $(analytics_seeded rollup_marks) marks in $(analytics_seeded rollup_seconds) s ($(analytics_seeded rollup_buckets_per_second) buckets/s, $(analytics_seeded rollup_workers) workers); users and apps set up in $(analytics_seeded setup_seconds) s. $ANALYTICS_CONNECTIONS connections, ${DURATION}s per row:"
  echo
  echo "| row | per s | p50 ms | p95 ms | p99 ms | ratio |"
  echo "|---|---:|---:|---:|---:|---|"
  printf "| GET /bench/ceiling (bare SELECT 1) | %.0f req | %s | | %s | |\n" "$c_rps" "$c50" "$c99"
  printf "| GET stats, one app, %d days by day | %.0f req | %s | %s | %s | p95 target < %d ms: %s |\n" \
    "$ANALYTICS_DAYS" "$s_rps" "$p50" "$p95" "$p99" "$target" \
    "$(awk -v p="$p95" -v t="$target" 'BEGIN { print (p < t ? "met" : "missed") }')"
  read -r k_rps _ _ <<<"$india"
  printf "| GET stats, the same days in Asia/Kolkata (+05:30) | %.0f req | %s | %s | %s | p95 target < %d ms: %s |\n" \
    "$k_rps" "$k50" "$k95" "$k99" "$target" \
    "$(awk -v p="$k95" -v t="$target" 'BEGIN { print (p < t ? "met" : "missed") }')"
  printf "| baseline: 100-row INSERT into a plain table | %.0f rows | | | | baseline |\n" "$baseline"
  printf "| POST /api/v1/lifecycle/analytics, 100 events | %.0f rows | %s | | %s | %.2f × baseline (target ≥ 0.5) |\n" \
    "$(awk -v r="$i_rps" 'BEGIN { print r * 100 }')" "$i50" "$i99" \
    "$(awk -v r="$i_rps" -v b="$baseline" 'BEGIN { print r * 100 / b }')"
}
