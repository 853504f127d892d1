-- wrk script for the analytics ingest row: each request POSTs a batch of 100 usage events
-- (20 sessions of start, 3 features, end; fresh session ids) to the request path, rotating
-- through the TEPs in $BENCH_TOKENS (each of one app and one user). Timestamps are left to
-- the server's clock. Rows per second = requests per second × 100.

local tokens = {}
local n = 0
local counter = 0
local thread_count = 0

function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    tokens[#tokens + 1] = line
  end
  n = math.random(#tokens)
end

local kinds = { "session_start", "feature_used", "feature_used", "feature_used", "session_end" }

function request()
  n = n % #tokens + 1
  counter = counter + 1
  local items = {}
  for s = 1, 20 do
    local sid = string.format("w%d-%d-%d", thread_id, counter, s)
    for _, kind in ipairs(kinds) do
      items[#items + 1] = '{"session_id":"' .. sid .. '","event_type":"' .. kind .. '"}'
    end
  end
  local body = '{"events":[' .. table.concat(items, ",") .. ']}'
  return wrk.format("POST", wrk.path, { ["Authorization"] = "Bearer " .. tokens[n],
                                        ["Content-Type"] = "application/json" }, body)
end

local shown = 0
function response(status, headers, body)
  if status ~= 202 and shown < 3 then
    shown = shown + 1
    io.stderr:write("answer " .. status .. " " .. body .. "\n")
  end
end
