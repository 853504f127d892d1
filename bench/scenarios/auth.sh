# Auth scenario for bench/run.sh (sourced; uses its measure/row helpers, $BIN, $WORK,
# $BENCH_DATA_DIR and $BENCH_DATABASE_URL):
#   - GET /bench/tep: the no-op route behind TEP validation (signature by kid, claims,
#     liveness with its short cache), against /bench/noop in the same run;
#   - POST /oauth2/token with token exchange: session lookup, consent check, RS256 signing
#     and the issued-token row, per request;
#   - password login latency (argon2id, OWASP parameters), measured sequentially because
#     logins are limited to 10 per minute per address.

# Prints one member of a JSON answer; shows the whole answer on stderr when it is missing.
json_field() {
  local body; body=$(cat)
  python3 -c "import json,sys; print(json.loads(sys.argv[2])[sys.argv[1]])" "$1" "$body" 2>/dev/null \
    || { echo "bench/auth: no $1 in: $body" >&2; return 1; }
}

scenario_run() {
  local base="$1" raw_rps="$2"
  local user="bench_$RANDOM" password="bench password 1234"
  curl -sS -X POST "$base/api/v1/auth/register" -H 'content-type: application/json' \
    -d "{\"username\":\"$user\",\"email\":\"$user@example.com\",\"password\":\"$password\"}" \
    | json_field id >/dev/null
  TMCP_DATA_DIR="$BENCH_DATA_DIR" TMCP_DATABASE_URL="$BENCH_DATABASE_URL" TMCP_LOG_LEVEL=error \
    "$BIN" admin create-client --client-id ma_bench_app --name "Bench app" \
    --redirect-uri https://bench.example/cb --scopes "storage:read storage:write" >/dev/null

  # Password login latency: 8 sequential logins (the address may log in 10 times a minute).
  local times=() answer
  for _ in $(seq 1 8); do
    answer=$(curl -s -o /dev/null -w '%{http_code} %{time_total}' -X POST "$base/api/v1/auth/login" \
      -H 'content-type: application/json' -d "{\"login\":\"$user\",\"password\":\"$password\"}")
    [ "${answer%% *}" = 200 ] || { echo "bench/auth: login answered ${answer%% *}" >&2; return 1; }
    times+=("${answer#* }")
  done
  local session
  session=$(curl -sS -X POST "$base/api/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"login\":\"$user\",\"password\":\"$password\"}" | json_field session_token)
  local form="grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange&client_id=ma_bench_app&subject_token=$session&subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token&scope=storage%3Aread"
  local tep
  tep=$(curl -sS -X POST "$base/oauth2/token" -H 'content-type: application/x-www-form-urlencoded' \
    -d "$form" | json_field access_token)

  row "GET /bench/noop (no auth)" "$raw_rps" "$(measure "$base/bench/noop")"
  row "GET /bench/tep (TEP validated)" "$raw_rps" \
    "$(measure "$base/bench/tep" -H "Authorization: Bearer $tep")"
  cat > "$WORK/exchange.lua" <<LUA
wrk.method = "POST"
wrk.body = "$form"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
LUA
  row "POST /oauth2/token (token exchange)" "$raw_rps" \
    "$(measure "$base/oauth2/token" -s "$WORK/exchange.lua")"
  printf '%s\n' "${times[@]}" | sort -n | awk '
    { t[NR] = $1 * 1000; sum += $1 * 1000 }
    END { printf "| %-34s | %10.1f | %7.2f | %7.2f |        |        |\n",
          "POST /api/v1/auth/login (argon2id)", 1000 * NR / sum, t[int((NR + 1) / 2)], t[NR] }'
}
