# Payments rows for bench/run.sh (sourced; see the header of run.sh). PostgreSQL only.
# Completed payments per second (request + authorize below the MFA threshold, two HTTP
# requests each) at 32 connections, (a) 10,000 payers spread over 1,000 merchants and
# (b) the same payers all paying one merchant (one hot merchant account), next to pgbench's
# TPC-B at 32 clients on the same PostgreSQL in the same invocation. Wallets are funded by
# the bench-only example `bench_wallet`, which also mints the payers' TEPs.

PAY_CONNECTIONS=32
PAY_USERS="${BENCH_PAY_USERS:-10000}"

pay_measure() { # $1 base url, $2 tokens file -> "payments/s p50 p99" (latencies per request)
  local saved="$CONNECTIONS"
  CONNECTIONS=$PAY_CONNECTIONS
  local result; result=$(BENCH_PAY_TOKENS="$2" measure "$1/api/v1/payments/request" \
    -s "$(dirname "${BASH_SOURCE[0]}")/payments.lua")
  CONNECTIONS="$saved"
  read -r rps p50 p99 <<<"$result"
  echo "$(awk -v r="$rps" 'BEGIN { printf "%.1f", r / 2 }') $p50 $p99"
}

pgbench_tpcb() { # prints TPC-B tps at 32 clients on a scratch database
  local admin="${TMCP_BENCH_PG_ADMIN:-postgres://postgres@127.0.0.1:5432/test}"
  local db="tmcp_pgbench_$$"
  psql "$admin" -qc "CREATE DATABASE $db" >/dev/null
  local url="${admin%/*}/$db"
  # Scale 32: one branch row per client, as TPC-B intends (fewer would measure lock waits).
  pgbench -i -q -s 32 "$url" >/dev/null 2>&1
  pgbench -n -c "$PAY_CONNECTIONS" -j "$THREADS" -T "$DURATION" "$url" 2>/dev/null \
    | awk '/^tps/ { print $3; exit }'
  psql "$admin" -qc "DROP DATABASE $db WITH (FORCE)" >/dev/null
}

scenario_run() { # $1 base url, $2 raw req/s
  local base="$1"
  [ -n "$BENCH_DATABASE_URL" ] || return 0
  command -v pgbench >/dev/null || { echo "pgbench not found: payments rows skipped" >&2; return 0; }
  local bench_wallet="${CARGO_TARGET_DIR:-target}/release/examples/bench_wallet"
  [ -x "$bench_wallet" ] || cargo build --release --locked -p tmcp-server --example bench_wallet
  local spread="$WORK/pay_spread" hot="$WORK/pay_hot"
  TMCP_LISTEN="127.0.0.1:$PORT" TMCP_DATA_DIR="$BENCH_DATA_DIR" TMCP_DATABASE_URL="$BENCH_DATABASE_URL" TMCP_LOG_LEVEL=warn \
    "$bench_wallet" "$PAY_USERS" 1000 > "$spread"
  TMCP_LISTEN="127.0.0.1:$PORT" TMCP_DATA_DIR="$BENCH_DATA_DIR" TMCP_DATABASE_URL="$BENCH_DATABASE_URL" TMCP_LOG_LEVEL=warn \
    "$bench_wallet" "$PAY_USERS" 1 > "$hot"
  local tpcb; tpcb=$(pgbench_tpcb)
  local a b
  a=$(pay_measure "$base" "$spread")
  b=$(pay_measure "$base" "$hot")
  echo
  echo "Payments at $PAY_CONNECTIONS connections ($PAY_USERS payers; latencies per HTTP request):"
  echo
  echo "| row | per s | p50 ms | p99 ms | ratio |"
  echo "|---|---:|---:|---:|---|"
  printf "| pgbench TPC-B, %d clients (tps) | %.0f | | | baseline |\n" "$PAY_CONNECTIONS" "$tpcb"
  read -r a_ps a50 a99 <<<"$a"
  read -r b_ps b50 b99 <<<"$b"
  printf "| (a) payments, 1,000 merchants | %.0f | %s | %s | %.2f × TPC-B (target ≥ 0.5) |\n" \
    "$a_ps" "$a50" "$a99" "$(awk -v x="$a_ps" -v y="$tpcb" 'BEGIN{print x/y}')"
  printf "| (b) payments, one hot merchant | %.0f | %s | %s | %.2f × (a) (target ≥ 0.5) |\n" \
    "$b_ps" "$b50" "$b99" "$(awk -v x="$b_ps" -v y="$a_ps" 'BEGIN{print x/y}')"
}
