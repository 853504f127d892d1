-- wrk script for the analytics stats row: GET the request path with the developer's
-- session token from $BENCH_SESSION_FILE.

local token = ""

function init(args)
  for line in io.lines(os.getenv("BENCH_SESSION_FILE")) do
    token = line
  end
end

function request()
  return wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. token })
end

local shown = 0
function response(status, headers, body)
  if status ~= 200 and shown < 3 then
    shown = shown + 1
    io.stderr:write("answer " .. status .. " " .. body .. "\n")
  end
end

-- wrk's --latency table has no 95th percentile: print p50/p95/p99 in microseconds.
function done(summary, latency, requests)
  io.write(string.format("percentiles_us %d %d %d\n", latency:percentile(50.0),
                         latency:percentile(95.0), latency:percentile(99.0)))
end
