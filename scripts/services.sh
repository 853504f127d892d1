#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis the test suite talks to are up, and waits until both
# answer. They are found through TMCP_TEST_DATABASE_URL / TMCP_TEST_REDIS_URL (defaults:
# postgres://postgres@127.0.0.1:5432/test and redis://127.0.0.1:6379). Only when they point
# at this machine's default ports does the script install (apt, needs root) and start them.
# Also installs headless Chromium and chromedriver for the browser test when missing.
# Safe to run repeatedly and from several clones at once.
set -euo pipefail

db_url="${TMCP_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
redis_url="${TMCP_TEST_REDIS_URL:-redis://127.0.0.1:6379}"

# postgres://user[:password]@host[:port]/database[?…]
re='^postgres(ql)?://([^:@/]+)(:[^@/]*)?@([^:/?]+)(:([0-9]+))?/([^?]+)'
if [[ ! "$db_url" =~ $re ]]; then
  echo "TMCP_TEST_DATABASE_URL must look like postgres://user@host:port/database" >&2
  exit 1
fi
pg_user="${BASH_REMATCH[2]}"
pg_password="${BASH_REMATCH[3]#:}"
pg_host="${BASH_REMATCH[4]}"
pg_port="${BASH_REMATCH[6]:-5432}"
pg_db="${BASH_REMATCH[7]}"
if [ -n "$pg_password" ]; then export PGPASSWORD="$pg_password"; fi
re='^rediss?://([^@/]*@)?([^:/]+)(:([0-9]+))?'
if [[ ! "$redis_url" =~ $re ]]; then
  echo "TMCP_TEST_REDIS_URL must look like redis://host:port" >&2
  exit 1
fi
redis_host="${BASH_REMATCH[2]}"
redis_port="${BASH_REMATCH[4]:-6379}"

local_pg=false
local_redis=false
if [[ "$pg_host" =~ ^(127\.0\.0\.1|localhost)$ && "$pg_port" == 5432 ]]; then local_pg=true; fi
if [[ "$redis_host" =~ ^(127\.0\.0\.1|localhost)$ && "$redis_port" == 6379 ]]; then local_redis=true; fi

pg_up() { pg_isready -q -h "$pg_host" -p "$pg_port" 2>/dev/null; }
redis_up() { redis-cli -h "$redis_host" -p "$redis_port" ping 2>/dev/null | grep -q PONG; }

need_apt=()
command -v pg_isready >/dev/null 2>&1 || need_apt+=(postgresql-client)
command -v pg_dump >/dev/null 2>&1 || need_apt+=(postgresql-client)
command -v redis-cli >/dev/null 2>&1 || need_apt+=(redis-tools)
if $local_pg; then command -v pg_ctlcluster >/dev/null 2>&1 || need_apt+=(postgresql); fi
# redis-server is also needed by the Redis outage tests, which start their own.
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# initdb/pg_ctl for the database outage tests, which start their own cluster.
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need_apt+=(postgresql)
# Headless browser for the OAuth page test (crates/http/tests/api/browser.rs).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
if [ ${#need_apt[@]} -gt 0 ]; then
  mapfile -t need_apt < <(printf '%s\n' "${need_apt[@]}" | sort -u)
  echo "installing with apt: ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

if ! pg_up && $local_pg; then
  echo "starting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -n 1)" main start || true
fi
if ! redis_up && $local_redis; then
  echo "starting Redis"
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

for _ in $(seq 1 60); do
  if pg_up && redis_up; then break; fi
  sleep 1
done
pg_up || { echo "PostgreSQL did not come up on $pg_host:$pg_port" >&2; exit 1; }
redis_up || { echo "Redis did not come up on $redis_host:$redis_port" >&2; exit 1; }

# The suite connects to the database named in the URL; create it when it is missing.
if ! psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$pg_db" -Atqc 'select 1' >/dev/null 2>&1; then
  psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d postgres -qc "CREATE DATABASE \"$pg_db\"" || true
fi
# Throwaway databases left by interrupted test runs: their names carry their creation time
# (tmcp_test_<unix seconds>_<uuid>); only those older than three hours are dropped, so a run
# going on in another clone at the same time keeps its databases.
cutoff=$(( $(date +%s) - 3 * 3600 ))
psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$pg_db" -Atqc \
  "select 'DROP DATABASE IF EXISTS \"' || datname || '\" WITH (FORCE);' from pg_database
   where datname ~ '^tmcp_test_[0-9]+_' and split_part(datname, '_', 3)::bigint < $cutoff" \
  | psql -h "$pg_host" -p "$pg_port" -U "$pg_user" -d "$pg_db" -q >/dev/null 2>&1 || true
echo "PostgreSQL ($pg_host:$pg_port) and Redis ($redis_host:$redis_port) are ready"
