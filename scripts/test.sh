#!/usr/bin/env bash
# The whole test suite: every test against SQLite and against PostgreSQL (+ Redis).
# Starts the services if needed. Extra arguments go to `cargo test`.
# Every test binary runs even when an earlier one fails (--no-fail-fast); the closing line
# counts what really ran, and the failing tests are listed.
set -euo pipefail
cd "$(dirname "$0")/.."
export TMCP_TEST_DATABASE_URL="${TMCP_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export TMCP_TEST_REDIS_URL="${TMCP_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
bash scripts/services.sh
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked --no-fail-fast "$@" 2>&1 | tee "$log" || status=$?
awk '
  /^     Running / || /^   Doc-tests / { binaries++ }
  /^test result:/ {
    for (i = 1; i <= NF; i++) {
      if ($i ~ /^passed/) p += $(i-1)
      if ($i ~ /^failed/) f += $(i-1)
      if ($i ~ /^ignored/) g += $(i-1)
    }
    results++
  }
  /^test .* \.\.\. FAILED$/ { failed_names = failed_names "\n  " $2 }
  END {
    if (failed_names != "") printf "failing tests:%s\n", failed_names
    printf "tests: %d passed, %d failed, %d ignored in %d of %d test binaries\n", p, f, g, results, binaries
    if (results < binaries) print "some test binaries did not report a result (crashed or did not build)"
  }' "$log"
exit "$status"
