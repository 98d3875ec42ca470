-- wrk script: a flood of wrong-password logins from many accounts and many addresses.
--
--   wrk -t1 -c32 -d5s -s bench/flood.lua URL/auth/login -- TENANT [USERS] [TARGET]
--
-- Each request is POST /auth/login for a random username out of USERS (default 1,000,000) in TENANT (or always
-- for the username TARGET when given: a flood against one account), with a random password and a random
-- X-Forwarded-For address in 10.0.0.0/8. SessionGate believes that header only
-- when ForwardedHeaders:Enabled (loopback is then a trusted proxy), as a real deployment behind a proxy does. So
-- no account and no address collects enough failures to be refused cheaply (429): nearly every request reaches
-- the password hasher, which is what a botnet guessing passwords costs the service.
-- done() prints one "status CODE COUNT" line per HTTP status seen.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  tenant = args[1] or "acme"
  users = tonumber(args[2] or "1000000")
  target = args[3]
  statuses = {}
  -- os.time() is in seconds: mix in the clock and the thread so runs and threads draw different sequences.
  math.randomseed(os.time() + math.floor(os.clock() * 1000000) + (id or 0) * 7919)
end

function request()
  local username = target or string.format("flood-%d", math.random(users))
  local body = string.format('{"tenant":"%s","username":"%s","password":"wrong-%d"}',
    tenant, username, math.random(1000000000))
  local headers = {
    ["Content-Type"] = "application/json",
    ["X-Forwarded-For"] = string.format("10.%d.%d.%d", math.random(0, 255), math.random(0, 255), math.random(1, 254)),
  }
  return wrk.format("POST", nil, headers, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + n end
  end
  for code, n in pairs(total) do io.write(string.format("status %d %d\n", code, n)) end
end
