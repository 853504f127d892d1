#!/usr/bin/env bash
# The whole test suite: every test against SQLite and against PostgreSQL (+ Redis).
# Starts the services if needed. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
export TMCP_TEST_DATABASE_URL="${TMCP_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export TMCP_TEST_REDIS_URL="${TMCP_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?
# One closing line with the totals of every test binary (cargo prints one line per binary).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
