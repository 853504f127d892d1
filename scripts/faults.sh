#!/usr/bin/env bash
# The fault tests on demand (docs/reliability.md, "Fault tests in the suite"), with their
# figures: the server killed with SIGKILL during payments mixed with storage writes; the
# database taken away (and PostgreSQL restarted under a steady write load); Redis killed and
# brought back; clients hanging up mid-request. Each runs against real PostgreSQL clusters
# and Redis processes the tests start and stop themselves on their own ports (loopback only,
# never the shared servers), so it is bounded and safe to repeat: `bash scripts/faults.sh
# [rounds]` runs the set `rounds` times (default 1), each with a new random kill schedule.
# The same tests run in `.ci/run`; this script prints what they saw.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tmcp-target}"
export TMCP_TEST_DATABASE_URL="${TMCP_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export TMCP_TEST_REDIS_URL="${TMCP_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
rounds="${1:-1}"
bash scripts/services.sh >/dev/null
cargo build --locked --quiet --tests -p tmcp-server -p tmcp-http

# name | cargo test arguments
faults=(
  "kill -9 during payments and storage writes|-p tmcp-server --test server -- payment_crash"
  "PostgreSQL stopped, and restarted under load|-p tmcp-server --test server -- db_outage"
  "database unavailable, both engines (API)|-p tmcp-http --test api -- outage::"
  "Redis killed and brought back|-p tmcp-server --test server -- redis_outage"
  "Redis killed and brought back (API)|-p tmcp-http --test api -- redis_outage"
  "clients hanging up mid-request|-p tmcp-http --test api -- cancellation"
)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
failed=0
for round in $(seq 1 "$rounds"); do
  for entry in "${faults[@]}"; do
    name=${entry%%|*}
    read -r -a args <<<"${entry#*|}"
    started=$(date +%s)
    if cargo test --locked --quiet "${args[@]}" --nocapture --test-threads=1 >"$log" 2>&1; then
      verdict=passed
    else
      verdict=FAILED
      failed=$((failed + 1))
    fi
    passed=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($i ~ /^passed/) p += $(i-1) } END { print p + 0 }' "$log")
    echo "round $round: $name: $verdict ($passed tests, $(( $(date +%s) - started )) s)"
    # What the tests report of themselves: kill schedules, payments done at each kill,
    # writes acknowledged and refused during the restart.
    grep -oE "kill schedule seed.*|payments finished at each kill.*|writer [0-9]+: .*" "$log" | sed 's/^/    /' || true
    if [ "$verdict" = FAILED ]; then
      grep -E "panicked|FAILED|assertion" "$log" | head -n 20 | sed 's/^/    /'
    fi
  done
done
echo "faults: $((rounds * ${#faults[@]} - failed)) of $((rounds * ${#faults[@]})) scenario runs passed"
[ "$failed" = 0 ]
