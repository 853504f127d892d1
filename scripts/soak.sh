#!/usr/bin/env bash
# Soak (docs/reliability.md, "Soak"): the release server on PostgreSQL + Redis under a mixed
# load (storage PUT/GET, store search, payments; scripts/soak.lua) for SOAK_SECONDS (default
# 600) at SOAK_FRACTION (default 0.70) of the maximum the same mix reaches on this machine,
# measured first in the same run. Samples the server's RSS every SOAK_SAMPLE_SECS (default 10).
# Passes when every answer was 200/201, no socket error or timeout happened, the ledger check
# is clean and RSS is flat: the mean of the last minute exceeds the mean of the second minute
# by at most max(16 MB, 10 %). Prints the figures; exits non-zero on a failure.
#
# Loopback only and bounded. Uses a scratch database on SOAK_PG_ADMIN's server (default the
# local test cluster) and a throwaway Redis namespace on TMCP_TEST_REDIS_URL (default
# redis://127.0.0.1:6379); drops the database at the end.
# Knobs: SOAK_SECONDS, SOAK_FRACTION, SOAK_CONNECTIONS (16), SOAK_MAX_SECONDS (20, the
# measurement of the maximum), SOAK_USERS (1000), SOAK_APPS (2000), SOAK_SERVER_BIN.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tmcp-target}"
seconds="${SOAK_SECONDS:-600}"
fraction="${SOAK_FRACTION:-0.70}"
connections="${SOAK_CONNECTIONS:-16}"
max_seconds="${SOAK_MAX_SECONDS:-20}"
users="${SOAK_USERS:-1000}"
apps="${SOAK_APPS:-2000}"
sample_secs="${SOAK_SAMPLE_SECS:-10}"
pg_admin="${SOAK_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
redis_url="${TMCP_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
command -v wrk >/dev/null || { echo "wrk is required (apt-get install wrk)" >&2; exit 1; }

release="$CARGO_TARGET_DIR/release"
server_bin="${SOAK_SERVER_BIN:-}"
if [ -z "$server_bin" ]; then
  cargo build --release --locked --quiet -p tmcp-server --bin tmcp-server \
    --example bench_tep --example bench_wallet --example bench_catalogue
  server_bin="$release/tmcp-server"
fi
examples="$(dirname "$server_bin")/examples"

work=$(mktemp -d)
db="tmcp_soak_$$"
server_pid=
sampler_pid=
cleanup() {
  [ -n "$sampler_pid" ] && kill "$sampler_pid" 2>/dev/null
  [ -n "$server_pid" ] && { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
  psql "$pg_admin" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
psql "$pg_admin" -qc "CREATE DATABASE $db" >/dev/null
db_url="${pg_admin%/*}/$db"
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# The server's own settings, shared by the seeding helpers (same database and key ring).
export TMCP_LISTEN="127.0.0.1:$port" TMCP_DATA_DIR="$work/data" TMCP_DATABASE_URL="$db_url" \
  TMCP_REDIS_URL="$redis_url" TMCP_REDIS_NAMESPACE="soak$$" TMCP_LOG_LEVEL=warn
# Limits raised so the load generator is never refused (the limiters still run, on Redis).
limits=(TMCP_API_RATE_PER_MINUTE=1000000000 TMCP_API_RATE_BURST=1000000000
  TMCP_STORAGE__RATE_PER_MINUTE=1000000000 TMCP_STORAGE__RATE_BURST=1000000000
  TMCP_PAYMENTS__REQUEST_RATE_PER_MINUTE=1000000 TMCP_PAYMENTS__REQUEST_RATE_BURST=1000000
  TMCP_PAYMENTS__AUTHORIZE_RATE_PER_MINUTE=1000000 TMCP_PAYMENTS__AUTHORIZE_RATE_BURST=1000000)

echo "soak: seeding $users storage users, $users payers over 10 merchants, $apps apps"
BENCH_SEED_KEY="soak/get" "$examples/bench_tep" "$users" > "$work/storage_tokens"
"$examples/bench_wallet" "$users" 10 > "$work/pay_tokens"
"$examples/bench_catalogue" "$apps" | tail -n 1 > "$work/search_token"

env "${limits[@]}" "$server_bin" serve > "$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 300); do
  curl -fs "http://127.0.0.1:$port/ready" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
  sleep 0.1
done

export SOAK_STORAGE_TOKENS="$work/storage_tokens" SOAK_PAY_TOKENS="$work/pay_tokens"
SOAK_SEARCH_TOKEN=$(cat "$work/search_token")
export SOAK_SEARCH_TOKEN

run_wrk() { # $1 seconds, $2 target req/s (0: as fast as it goes), $3 output file
  SOAK_TARGET_RATE="$2" SOAK_CONNECTIONS="$connections" SOAK_THREADS=2 \
    wrk -t2 -c"$connections" -d"$1s" --timeout 10s --latency \
    -s scripts/soak.lua "http://127.0.0.1:$port" > "$3" 2>&1
}
rate_of() { awk '/^totals / { printf "%.1f", $2 / $3 }' "$1"; }

rss_mb() { awk '/^VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$server_pid/status"; }

echo "soak: measuring the maximum of the mix (${max_seconds} s, $connections connections)"
run_wrk "$max_seconds" 0 "$work/max.out"
max_rate=$(rate_of "$work/max.out")
target=$(awk -v m="$max_rate" -v f="$fraction" 'BEGIN { printf "%.1f", m * f }')
echo "soak: maximum $max_rate req/s; offering $target req/s ($fraction)"

rss_start=$(rss_mb)
(
  elapsed=0
  while sleep "$sample_secs"; do
    elapsed=$((elapsed + sample_secs))
    echo "$elapsed $(rss_mb)"
  done
) > "$work/rss" &
sampler_pid=$!
echo "soak: running $seconds s"
run_wrk "$seconds" "$target" "$work/soak.out"
kill "$sampler_pid" 2>/dev/null; sampler_pid=

kill -0 "$server_pid" 2>/dev/null || { echo "soak: the server died"; tail -20 "$work/server.log"; exit 1; }
ledger=0
"$server_bin" admin ledger-check > "$work/ledger.json" 2>> "$work/admin.log" || ledger=$?

echo
echo "soak figures:"
grep -E "^(sample|kind)" "$work/soak.out" | sed 's/^/  /'
read -r _ requests duration connect_errors read_errors write_errors status_errors timeouts \
  < <(grep '^totals ' "$work/soak.out")
read -r _ p50 p95 p99 < <(grep '^latency_us ' "$work/soak.out")
read -r _ answered _ unexpected _ created < <(grep '^answers ' "$work/soak.out")
rate=$(rate_of "$work/soak.out")
rss_verdict=$(awk -v start="$rss_start" -v window=60 '
  { t[NR] = $1; r[NR] = $2; if ($2 > peak) peak = $2; last = $1 }
  END {
    for (i = 1; i <= NR; i++) {
      if (t[i] > window && t[i] <= 2 * window) { a += r[i]; na++ }
      if (t[i] > last - window) { b += r[i]; nb++ }
    }
    if (na == 0 || nb == 0) { printf "too short to judge (start %.1f MB, peak %.1f MB)", start, peak; exit }
    a /= na; b /= nb; allowed = (a * 0.10 > 16 ? a * 0.10 : 16)
    printf "%s: start %.1f MB, second-minute mean %.1f MB, last-minute mean %.1f MB, peak %.1f MB (growth %.1f MB, allowed %.1f)",
      (b - a <= allowed ? "flat" : "GROWING"), start, a, b, peak, b - a, allowed }' "$work/rss")
errors=$((connect_errors + read_errors + write_errors + timeouts + unexpected))
echo "  offered ${fraction} × maximum $max_rate req/s = $target; achieved $rate req/s ($(awk -v a="$rate" -v m="$max_rate" 'BEGIN { printf "%.2f", a / m }') × maximum) over $duration s ($requests requests, $connections connections)"
echo "  latency p50/p95/p99: $((p50 / 1000)).$(((p50 % 1000) / 100)) / $((p95 / 1000)).$(((p95 % 1000) / 100)) / $((p99 / 1000)).$(((p99 % 1000) / 100)) ms"
echo "  answers $answered, not 200/201: $unexpected; socket errors connect/read/write/timeout: $connect_errors/$read_errors/$write_errors/$timeouts"
echo "  payments created $created; ledger-check exit $ledger"
echo "  RSS $rss_verdict"
echo "  error rate: $(awk -v e="$errors" -v n="$requests" 'BEGIN { printf "%.6f", (n ? e / n : 0) }')"
status=0
[ "$errors" -eq 0 ] || { echo "soak: FAILED — errors"; status=1; }
[ "$ledger" -eq 0 ] || { echo "soak: FAILED — ledger check"; cat "$work/ledger.json"; status=1; }
case "$rss_verdict" in GROWING*) echo "soak: FAILED — RSS grows"; status=1 ;; esac
[ "$status" -eq 0 ] && echo "soak: passed"
exit "$status"
