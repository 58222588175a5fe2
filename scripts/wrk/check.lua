-- GET /v1/users/u<N>/consents/check for random seeded users.
-- USERS (env) is how many users heedload created; KEY the API key.
local users = tonumber(os.getenv("USERS") or "10000")
local idfmt = os.getenv("IDFMT") or "u%d" -- user ids: u0, u1, ... as heedload seed names them
local key = os.getenv("KEY")
local channels = {"push", "email", "sms", "inapp"}
local touchpoints = {"app", "web", "store"}

request = function()
  local u = math.random(0, users - 1)
  local path = string.format("/v1/users/" .. idfmt .. "/consents/check?purpose=marketing&channel=%s&touchpoint=%s",
    u, channels[math.random(#channels)], touchpoints[math.random(#touchpoints)])
  return wrk.format("GET", path, {["Authorization"] = "Bearer " .. key})
end

done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
