-- POST one consent record to a random seeded user: each 201 is a record on disk.
local users = tonumber(os.getenv("USERS") or "10000")
local key = os.getenv("KEY")
local statuses = {"granted", "withdrawn"}
local channels = {"push", "email", "sms", "inapp"}

request = function()
  local u = math.random(0, users - 1)
  local body = string.format('{"records":[{"purpose":"marketing","channel":"%s","status":"%s","source":"load"}]}',
    channels[math.random(#channels)], statuses[math.random(#statuses)])
  return wrk.format("POST", string.format("/v1/users/u%d/consents", u),
    {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}, body)
end

done = function(summary, latency, requests)
  io.write(string.format("non-2xx or errors: %d\n", summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
