-- wrk script for the store search rows: GET /api/v1/store/apps?q=… rotating through one
-- query class (BENCH_SEARCH_CLASS = one | two | three) with the TEP in BENCH_SEARCH_TOKEN.
-- BENCH_SEARCH_CLASS = ceiling keeps the URL given to wrk (the SELECT 1 baseline). Prints
-- "p50 p95 p99" (microseconds) and the non-2xx count at the end.
local classes = {
  one = { "app", "pro", "photo", "editor", "weather", "quick", "lite", "zen", "calculator",
          "mini", "фото", "天気予報", "chess", "wallet", "go" },
  two = { "photo editor", "weather pro", "music player", "quick notes", "smart camera",
          "app pro", "free app", "daily planner", "карта погода", "pocket wallet",
          "mini app", "zen yoga" },
  three = { "photo editor pro", "smart music player", "quick notes app", "pocket weather lite",
            "family budget planner", "super app pro", "free photo app", "magic camera studio",
            "daily news radio", "golden chess master" },
}
local class = os.getenv("BENCH_SEARCH_CLASS") or "one"
local queries = classes[class] or {}
local token = os.getenv("BENCH_SEARCH_TOKEN") or ""
local counter = 0
local failed = 0

local function encode(s)
  return (s:gsub("[^%w%-_%.~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

local paths = {}
for i, q in ipairs(queries) do
  paths[i] = "/api/v1/store/apps?limit=20&q=" .. encode(q)
end

init = function(args)
  wrk.headers["Authorization"] = "Bearer " .. token
end

if #paths > 0 then
  request = function()
    counter = counter + 1
    return wrk.format("GET", paths[(counter % #paths) + 1])
  end
end

response = function(status, headers, body)
  if status ~= 200 then failed = failed + 1 end
end

done = function(summary, latency, requests)
  io.write(string.format("percentiles %d %d %d\n", latency:percentile(50),
    latency:percentile(95), latency:percentile(99)))
  io.write(string.format("errors %d\n", summary.errors.status))
end
