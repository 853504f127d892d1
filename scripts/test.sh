#!/usr/bin/env bash
# The whole test suite: every test against SQLite and against PostgreSQL (+ Redis).
# Starts the services if needed. Extra arguments go to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/services.sh
export TMCP_TEST_DATABASE_URL="${TMCP_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
export TMCP_TEST_REDIS_URL="${TMCP_TEST_REDIS_URL:-redis://127.0.0.1:6379}"
cargo test --workspace --locked "$@"
