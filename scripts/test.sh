#!/usr/bin/env bash
# The whole test suite: every test against SQLite and against PostgreSQL (+ Redis), and the
# package-storage tests against S3 (moto). Starts the services if needed. Extra arguments go
# to `cargo test`.
# Every test binary runs even when an earlier one fails (--no-fail-fast); the closing line
# counts what really ran, and the failing tests are listed.
set -euo pipefail
cd "$(dirname "$0")/.."
export TMCP_TEST_DATABASE_URL="${TMCP_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export TMCP_TEST_REDIS_URL="${TMCP_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
bash scripts/services.sh
log=$(mktemp)
s3_pid=
cleanup() {
  rm -f "$log"
  if [ -n "$s3_pid" ]; then kill "$s3_pid" 2>/dev/null || true; fi
}
trap cleanup EXIT

# The S3 package-storage tests need an S3-compatible server: unless TMCP_TEST_S3_URL names
# one, moto runs on a free loopback port for this run (scripts/s3-test-server.py). moto
# lives in a venv next to the build cache, installed once per pinned version.
if [ -z "${TMCP_TEST_S3_URL:-}" ]; then
  moto_version=5.2.6
  venv="$(dirname "${CARGO_TARGET_DIR:-$HOME/.cache/tmcp-target}")/tmcp-services/moto-$moto_version"
  # A venv whose interpreter moved or vanished fails this import, and is rebuilt.
  if ! "$venv/bin/python" -c 'import moto.server, boto3' >/dev/null 2>&1; then
    echo "installing moto $moto_version into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$moto_version"
  fi
  s3_out=$(mktemp)
  s3_err=$(mktemp)
  "$venv/bin/python" scripts/s3-test-server.py tmcp-test >"$s3_out" 2>"$s3_err" &
  s3_pid=$!
  for _ in $(seq 1 120); do
    if [ -s "$s3_out" ] || ! kill -0 "$s3_pid" 2>/dev/null; then break; fi
    sleep 0.25
  done
  TMCP_TEST_S3_URL=$(head -n 1 "$s3_out")
  if [ -z "$TMCP_TEST_S3_URL" ]; then
    echo "the S3 test server (moto) did not start:" >&2
    cat "$s3_err" >&2
    exit 1
  fi
  rm -f "$s3_out" "$s3_err"
  export TMCP_TEST_S3_URL
  echo "S3 test server (moto $moto_version) at $TMCP_TEST_S3_URL"
fi
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
