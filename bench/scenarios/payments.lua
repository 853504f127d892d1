-- wrk script for the payments rows: each payment is two requests, a request with a fresh
-- idempotency key (TEP `wallet:pay` of payer i, `merchant_order_id` = i) and then, once its
-- 201 arrives, the authorization of that payment by the same payer (below the MFA threshold,
-- so it settles at once). Tokens come from the file in BENCH_PAY_TOKENS, one per line.
-- Completed payments per second = authorize answers per second = req/s ÷ 2.

local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  tokens = {}
  for line in io.lines(os.getenv("BENCH_PAY_TOKENS")) do
    tokens[#tokens + 1] = line
  end
  counter = 0
  next_payer = 0
  pending = {}
end

local function bearer(index)
  return { ["Authorization"] = "Bearer " .. tokens[index + 1],
           ["Content-Type"] = "application/json" }
end

function request()
  local ready = table.remove(pending)
  if ready then
    return wrk.format("POST", "/api/v1/payments/" .. ready.id .. "/authorize",
                      bearer(ready.payer), "{}")
  end
  counter = counter + 1
  local payer = next_payer
  next_payer = (next_payer + 1) % #tokens
  local body = string.format(
    '{"amount":"1.00","currency":"USD","description":"bench","merchant_order_id":"%d",' ..
    '"idempotency_key":"bench-%d-%d"}', payer, thread_id, counter)
  return wrk.format("POST", "/api/v1/payments/request", bearer(payer), body)
end

function response(status, headers, body)
  if status == 201 then
    local id = string.match(body, '"payment_id":"([%w%-]+)"')
    local payer = string.match(body, '"merchant_order_id":"(%d+)"')
    if id and payer then
      pending[#pending + 1] = { id = id, payer = tonumber(payer) }
    end
  end
end
