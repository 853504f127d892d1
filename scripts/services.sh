#!/usr/bin/env bash
# Starts the PostgreSQL and Redis the test suite talks to, if they are not already running,
# and waits until both answer; installs what is missing (including headless Chromium and
# chromedriver for the browser test). Safe to run repeatedly.
set -euo pipefail

pg_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; }

need_apt=()
command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql)
command -v pg_dump >/dev/null 2>&1 || need_apt+=(postgresql-client)
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# Headless browser for the OAuth page test (crates/http/tests/browser.rs).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "installing ${need_apt[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}"
fi

if ! pg_up; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
fi
if ! redis_up; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

for _ in $(seq 1 60); do
  if pg_up && redis_up; then break; fi
  sleep 1
done
pg_up || { echo "PostgreSQL did not come up on 127.0.0.1:5432" >&2; exit 1; }
redis_up || { echo "Redis did not come up on 127.0.0.1:6379" >&2; exit 1; }

# The suite connects as postgres to database `test` (trust auth on this machine kind).
if ! psql -h 127.0.0.1 -U postgres -d test -Atqc 'select 1' >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE test' || true
fi
# Throwaway databases left by interrupted test runs.
psql -h 127.0.0.1 -U postgres -d test -Atqc \
  "select 'DROP DATABASE IF EXISTS \"' || datname || '\" WITH (FORCE);' from pg_database where datname like 'tmcp_test_%'" \
  | psql -h 127.0.0.1 -U postgres -d test -q >/dev/null 2>&1 || true
echo "PostgreSQL and Redis are ready"
