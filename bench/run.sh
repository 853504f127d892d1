#!/usr/bin/env bash
# Load benchmarks against the release server on loopback, on SQLite and PostgreSQL.
# Every row is measured in the same invocation as its baselines, so the ratios compare like
# with like on whatever machine runs this:
#   `/bench/raw`      a bare axum handler outside every layer (the floor of the HTTP stack);
#   `/bench/ceiling`  a bare handler outside every layer doing one `SELECT 1` on a plain pool
#                     of the server's size: the physical ceiling of a one-round-trip request;
#   `/bench/select1`  the same `SELECT 1` through the full middleware and the repositories.
# Each row is reported as × raw and × ceiling.
#
#   bash bench/run.sh [seconds] [connections]      (defaults: 10 s, 64 connections)
#   BENCH_PORT=18080                           (loopback port of the server)
#   BENCH_ENGINES="SQLite PostgreSQL"          (which engines to run)
#   BENCH_SCENARIOS="storage auth payments store_search"  (which bench/scenarios/*.sh to source)
#   BENCH_CATALOGUE_APPS=100000                (apps the store_search scenario generates)
#   BENCH_ANALYTICS_EVENTS=10000000            (size of the analytics scenario; see analytics.sh)
#
# Needs wrk (apt-get install wrk). Bounded: each run lasts `seconds`, loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-10}"
CONNECTIONS="${2:-64}"
THREADS=2
PORT="${BENCH_PORT:-18080}"
BIN="${CARGO_TARGET_DIR:-target}/release/tmcp-server"
# Bench-only helper that mints TEPs against the server's database (storage scenario).
BENCH_TEP_BIN="${CARGO_TARGET_DIR:-target}/release/examples/bench_tep"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }
[ -x "$BIN" ] || cargo build --release --locked
[ -x "$BENCH_TEP_BIN" ] || cargo build --release --locked -p tmcp-server --example bench_tep
WORK=$(mktemp -d)
SERVER_PID=""
# Databases made on the shared PostgreSQL, dropped however the run ends: the engine's and
# the scenarios' scratch ones (made inside command substitutions, so named here; `$$` is
# this shell's pid there too).
DROP_DBS=("tmcp_pgbench_$$" "tmcp_pgbench_n_$$" "tmcp_pgbench_a_$$")
cleanup() {
  # Nothing here may fail under `set -e` (a server already gone made `kill` fail and skip
  # the drops below, leaving a 4 GB database behind).
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  local db
  for db in "${DROP_DBS[@]}"; do
    psql "${TMCP_BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}" -qc \
      "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$WORK"
}
trap cleanup EXIT

# Extra scenarios can be sourced from bench/scenarios/*.sh: each defines functions
# `scenario_<name>` called with the base URL after the built-in rows.
# Rate limits are raised so the load generator is never refused; the limiter still runs.
start_server() { # $1 = engine label, $2 = database url ('' for SQLite)
  local data="$WORK/$1"
  # Another server on the port would answer /ready and be measured instead of ours.
  if curl -s -o /dev/null "http://127.0.0.1:$PORT/health"; then
    echo "port $PORT is taken; set BENCH_PORT" >&2; exit 1
  fi
  mkdir -p "$data"
  # Scenarios use these to run admin commands against the same database.
  BENCH_DATA_DIR="$data"
  BENCH_DATABASE_URL="$2"
  # The token endpoint's 30/min per (client, address) would cap a loopback load generator.
  TMCP_LISTEN="127.0.0.1:$PORT" TMCP_DATA_DIR="$data" TMCP_DATABASE_URL="$2" \
    TMCP_BENCH_ROUTES=true TMCP_LOG_LEVEL=warn TMCP_OAUTH__TOKEN_RATE_PER_MINUTE=1000000 \
    TMCP_API_RATE_PER_MINUTE=1000000000 TMCP_API_RATE_BURST=1000000000 \
    TMCP_STORAGE__RATE_PER_MINUTE=1000000000 TMCP_STORAGE__RATE_BURST=1000000000 \
    TMCP_PAYMENTS__REQUEST_RATE_PER_MINUTE=1000000 TMCP_PAYMENTS__REQUEST_RATE_BURST=1000000 \
    TMCP_PAYMENTS__AUTHORIZE_RATE_PER_MINUTE=1000000 TMCP_PAYMENTS__AUTHORIZE_RATE_BURST=1000000 \
    "$BIN" serve >"$data/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do
    curl -sf "http://127.0.0.1:$PORT/ready" >/dev/null && return 0
    sleep 0.1
  done
  echo "server did not become ready" >&2; cat "$data/server.log" >&2; exit 1
}

# Reports the server's peak resident memory (VmHWM) over the whole engine run, then stops it.
stop_server() {
  local peak; peak=$(awk '/^VmHWM/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status" 2>/dev/null || true)
  # RSS counts the pages of a memory-mapped database file (SQLite's search readers) once per
  # connection mapping them; they are the kernel's shared page cache. RssAnon is the
  # server's own memory.
  local own; own=$(awk '/^RssAnon/ { printf "%.0f", $2 / 1024 }' "/proc/$SERVER_PID/status" 2>/dev/null || true)
  [ -n "$peak" ] && { echo; echo "Server peak RSS over this engine's rows: $peak MB (target < 150 MB); own memory (RssAnon) at the end: ${own:-?} MB"; }
  kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
}

# Prints "req/s p50_ms p99_ms" for one wrk run. Extra wrk args (e.g. -s script) follow the URL.
measure() {
  local url="$1"; shift
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$@" "$url" > "$WORK/wrk.out" 2>&1
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' "$WORK/wrk.out")
  p50=$(awk '$1=="50%" {print $2}' "$WORK/wrk.out")
  p99=$(awk '$1=="99%" {print $2}' "$WORK/wrk.out")
  if grep -q "Non-2xx" "$WORK/wrk.out"; then
    echo "warning: non-2xx answers for $url: $(grep Non-2xx "$WORK/wrk.out")" >&2
    grep "^answer " "$WORK/wrk.out" | head -3 >&2 || true
  fi
  echo "$rps $(to_ms "$p50") $(to_ms "$p99")"
}

to_ms() { # wrk prints 1.23ms / 450.00us / 1.10s
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

row() { # label, raw rps, result; the × ceiling column once the ceiling is measured
  local label="$1" base="$2"; shift 2
  read -r rps p50 p99 <<<"$*"
  local ceiling="-"
  [ -n "${CEILING_RPS:-}" ] && ceiling=$(awk -v a="$rps" -v b="$CEILING_RPS" 'BEGIN{printf "%.2f", a/b}')
  printf "| %-34s | %10.0f | %7s | %7s | %6.2f | %6s |\n" "$label" "$rps" "$p50" "$p99" \
    "$(awk -v a="$rps" -v b="$base" 'BEGIN{print a/b}')" "$ceiling"
}

run_engine() { # $1 label, $2 url
  start_server "$1" "$2"
  local base="http://127.0.0.1:$PORT"
  echo
  echo "### $1 — $CONNECTIONS connections, ${DURATION}s per row, $(nproc) cores"
  echo
  echo "| route | req/s | p50 ms | p99 ms | × raw | × ceiling |"
  echo "|---|---:|---:|---:|---:|---:|"
  CEILING_RPS=""
  local raw; raw=$(measure "$base/bench/raw")
  local raw_rps; raw_rps=$(echo "$raw" | cut -d' ' -f1)
  local ceiling; ceiling=$(measure "$base/bench/ceiling")
  CEILING_RPS=$(echo "$ceiling" | cut -d' ' -f1)
  CEILING_P99=$(echo "$ceiling" | cut -d' ' -f3)
  row "GET /bench/raw (bare axum)" "$raw_rps" "$raw"
  row "GET /bench/ceiling (bare SELECT 1)" "$raw_rps" "$ceiling"
  row "GET /bench/noop (full middleware)" "$raw_rps" "$(measure "$base/bench/noop")"
  row "GET /health" "$raw_rps" "$(measure "$base/health")"
  local select1; select1=$(measure "$base/bench/select1")
  SELECT1_RPS=$(echo "$select1" | cut -d' ' -f1)
  row "GET /bench/select1 (SELECT 1)" "$raw_rps" "$select1"
  for scenario in bench/scenarios/*.sh; do
    [ -f "$scenario" ] || continue
    case " ${BENCH_SCENARIOS:-$(basename -s .sh bench/scenarios/*.sh | tr '\n' ' ')} " in
      *" $(basename "$scenario" .sh) "*) ;;
      *) continue ;;
    esac
    # shellcheck disable=SC1090
    source "$scenario"
    scenario_run "$base" "$raw_rps"
  done
  stop_server
  # Baselines that need the database's connections the server holds (pgbench at 64
  # clients would not fit next to the server's pools under max_connections = 100).
  if declare -F storage_baselines >/dev/null; then storage_baselines; fi
}

echo "## Run of $(date -u +%Y-%m-%dT%H:%MZ) ($(git rev-parse --short HEAD 2>/dev/null || echo unknown))"
ENGINES="${BENCH_ENGINES:-SQLite PostgreSQL}"
case " $ENGINES " in *" SQLite "*) run_engine "SQLite" "" ;; esac
case " $ENGINES " in *" PostgreSQL "*) ;; *) exit 0 ;; esac
PG_ADMIN="${TMCP_BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
DB="tmcp_bench_$$"
DROP_DBS+=("$DB")
psql "$PG_ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
run_engine "PostgreSQL" "${PG_ADMIN%/*}/$DB"
psql "$PG_ADMIN" -qc "DROP DATABASE $DB WITH (FORCE)" >/dev/null
