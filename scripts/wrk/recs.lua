-- GET /v1/users/{id}/recommendations for random users whose ids are the
-- lines of the file IDS (env); KEY is the API key, STRATEGY the strategy
-- (default for_you).
local key = os.getenv("KEY")
local strategy = os.getenv("STRATEGY") or "for_you"
local ids = {}
for line in io.lines(os.getenv("IDS")) do ids[#ids + 1] = line end

request = function()
  local path = "/v1/users/" .. ids[math.random(#ids)] .. "/recommendations?strategy=" .. strategy .. "&limit=10"
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. key})
end

done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
