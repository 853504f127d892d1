-- wrk script of scripts/soak.sh: a mix of what mini-apps do all day, in ten slots per cycle:
-- 3 storage PUTs (1 KiB, 20 keys per user), 3 storage GETs (of the seeded key), 2 store
-- searches and 2 payment steps (a request with a fresh idempotency key, then the
-- authorization of a payment whose request came back 201; below the MFA threshold, so it
-- settles at once). Storage TEPs come from $SOAK_STORAGE_TOKENS, payer TEPs from
-- $SOAK_PAY_TOKENS, the search TEP from $SOAK_SEARCH_TOKEN. With $SOAK_TARGET_RATE set
-- (requests per second in all) each connection waits before each request, and once a
-- second every thread adjusts that wait to what its connections achieved, so the offered
-- load holds the target whatever the answers' latency (wrk itself has no rate setting).
-- wrk calls request() and response() per thread, not per connection, so answers cannot be
-- paired with their requests: the script counts requests by kind, answers by class, and
-- prints the first few answers that were neither 200 nor 201.

local thread_count = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
  threads[#threads + 1] = thread
end

local function lines(path)
  local out = {}
  for line in io.lines(path) do
    if #line > 0 then out[#out + 1] = line end
  end
  return out
end

local searches = { "photo", "weather pro", "quick notes app", "chess", "wallet", "edit",
                   "music player", "lite", "zen yoga", "calcu" }
local body_1k = '{"value": "' .. string.rep("s", 1024) .. '"}'

function init(args)
  storage_tokens = lines(os.getenv("SOAK_STORAGE_TOKENS"))
  pay_tokens = lines(os.getenv("SOAK_PAY_TOKENS"))
  search_token = os.getenv("SOAK_SEARCH_TOKEN")
  local thread_total = tonumber(os.getenv("SOAK_THREADS") or "2")
  target_rate = tonumber(os.getenv("SOAK_TARGET_RATE") or "0") / thread_total
  connections_per_thread = tonumber(os.getenv("SOAK_CONNECTIONS") or "16") / thread_total
  delay_ms = target_rate > 0 and connections_per_thread * 1000 / target_rate or 0
  window_start, window_sent = os.time(), 0
  slot = 0
  counter = 0
  pending = {}
  requests_by_kind = { put = 0, get = 0, search = 0, pay_request = 0, pay_authorize = 0 }
  answered, unexpected, payments_created = 0, 0, 0
  samples = {}
  math.randomseed(thread_id * 7919 + 17)
end

local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local function storage_headers(i)
  return { ["Authorization"] = "Bearer " .. storage_tokens[i],
           ["Content-Type"] = "application/json" }
end

local function pay_headers(i)
  return { ["Authorization"] = "Bearer " .. pay_tokens[i + 1],
           ["Content-Type"] = "application/json" }
end

local function sent(kind)
  requests_by_kind[kind] = requests_by_kind[kind] + 1
end

local function payment_request()
  counter = counter + 1
  local payer = math.random(#pay_tokens) - 1
  local body = string.format(
    '{"amount":"0.01","currency":"USD","description":"soak","merchant_order_id":"%d",' ..
    '"idempotency_key":"soak-%d-%d-%d"}', payer, thread_id, counter, math.random(1000000))
  sent("pay_request")
  return wrk.format("POST", "/api/v1/payments/request", pay_headers(payer), body)
end

-- cycle = wait + latency per connection: from what the last second achieved, estimate the
-- latency and set the wait that makes the cycle hit the target (half-way, to stay smooth).
local function adjust_delay()
  local now = os.time()
  if target_rate <= 0 or now == window_start then return end
  local achieved = window_sent / (now - window_start)
  if achieved > 0 then
    local latency = math.max(0, connections_per_thread * 1000 / achieved - delay_ms)
    local wanted = math.max(0, connections_per_thread * 1000 / target_rate - latency)
    delay_ms = (delay_ms + wanted) / 2
  end
  window_start, window_sent = now, 0
end

function request()
  window_sent = window_sent + 1
  adjust_delay()
  slot = slot % 10 + 1
  if slot <= 3 then
    local user = math.random(#storage_tokens)
    sent("put")
    return wrk.format("PUT", "/api/v1/storage/soak%2Fk" .. math.random(20),
                      storage_headers(user), body_1k)
  elseif slot <= 6 then
    sent("get")
    return wrk.format("GET", "/api/v1/storage/soak%2Fget",
                      storage_headers(math.random(#storage_tokens)))
  elseif slot <= 8 then
    sent("search")
    return wrk.format("GET", "/api/v1/store/apps?limit=20&q=" ..
                      encode(searches[math.random(#searches)]),
                      { ["Authorization"] = "Bearer " .. search_token })
  elseif slot == 9 then
    return payment_request()
  else
    local ready = table.remove(pending, 1)
    if not ready then return payment_request() end
    sent("pay_authorize")
    return wrk.format("POST", "/api/v1/payments/" .. ready.id .. "/authorize",
                      pay_headers(ready.payer), "{}")
  end
end

function response(status, headers, body)
  answered = answered + 1
  if status ~= 200 and status ~= 201 then
    unexpected = unexpected + 1
    if #samples < 3 then samples[#samples + 1] = status .. " " .. string.sub(body or "", 1, 200) end
  elseif status == 201 then
    -- Only a payment request answers 201 with a payment id.
    local id = string.match(body, '"payment_id":"([%w%-]+)"')
    local payer = string.match(body, '"merchant_order_id":"(%d+)"')
    if id and payer then
      payments_created = payments_created + 1
      pending[#pending + 1] = { id = id, payer = tonumber(payer) }
    end
  end
end

if tonumber(os.getenv("SOAK_TARGET_RATE") or "0") > 0 then
  function delay()
    return math.floor(delay_ms)
  end
end

function done(summary, latency, requests)
  local kinds = { "put", "get", "search", "pay_request", "pay_authorize" }
  local by_kind = {}
  local total_answered, total_unexpected, total_created = 0, 0, 0
  for _, k in ipairs(kinds) do by_kind[k] = 0 end
  for _, t in ipairs(threads) do
    local sent_by_kind = t:get("requests_by_kind")
    for _, k in ipairs(kinds) do by_kind[k] = by_kind[k] + sent_by_kind[k] end
    total_answered = total_answered + t:get("answered")
    total_unexpected = total_unexpected + t:get("unexpected")
    total_created = total_created + t:get("payments_created")
    for _, s in ipairs(t:get("samples")) do io.write("sample " .. s .. "\n") end
  end
  for _, k in ipairs(kinds) do io.write(string.format("kind %s %d\n", k, by_kind[k])) end
  io.write(string.format("answers %d unexpected %d payments_created %d\n", total_answered,
    total_unexpected, total_created))
  io.write(string.format("totals %d %.3f %d %d %d %d %d\n", summary.requests,
    summary.duration / 1e6, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
  io.write(string.format("latency_us %d %d %d\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99)))
end
