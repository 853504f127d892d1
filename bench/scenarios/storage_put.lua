-- wrk script: PUT a 1 KiB JSON string to the request path, rotating through the TEPs in
-- $BENCH_TOKENS (one user each, so writers of different users do not queue on one quota row).
local tokens = {}
local n = 0
local body = '{"value": "' .. string.rep("x", 1024) .. '"}'

function init(args)
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    tokens[#tokens + 1] = line
  end
  n = math.random(#tokens)
end

function request()
  n = n % #tokens + 1
  return wrk.format("PUT", wrk.path, {
    ["Authorization"] = "Bearer " .. tokens[n],
    ["Content-Type"] = "application/json",
  }, body)
end
