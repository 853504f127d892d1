-- wrk script: GET the request path, rotating through the TEPs in $BENCH_TOKENS (one user each).
local tokens = {}
local n = 0

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    tokens[#tokens + 1] = line
  end
  n = math.random(#tokens)
end

function request()
  n = n % #tokens + 1
  return wrk.format("GET", wrk.path, { ["Authorization"] = "Bearer " .. tokens[n] })
end

-- The first few refusals go to stderr (run.sh shows them with its non-2xx warning).
local shown = 0
function response(status, headers, body)
  if status ~= 200 and shown < 3 then
    shown = shown + 1
    io.stderr:write("answer " .. status .. " " .. body .. "\n")
  end
end
