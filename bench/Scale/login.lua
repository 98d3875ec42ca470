-- wrk script: POST /auth/login with the right password, round robin over users.
--
--   wrk -t1 -c8 -d10s -s bench/Scale/login.lua URL/auth/login -- USERS_FILE TENANT PASSWORD
--
-- USERS_FILE holds one username a line (users made with POST /admin/users, so their hashes are real
-- PBKDF2). Bodies are formatted once in init(); a request costs a table lookup.
local requests = {}
local count = 0
local next_index = 0

function init(args)
  local file, tenant, password = args[1], args[2], args[3]
  if not file or not tenant or not password then
    error("usage: -s login.lua URL -- USERS_FILE TENANT PASSWORD")
  end
  local headers = { ["Content-Type"] = "application/json" }
  for line in io.lines(file) do
    if line ~= "" then
      local body = string.format('{"tenant":"%s","username":"%s","password":"%s","device_type":"api"}', tenant, line, password)
      count = count + 1
      requests[count] = wrk.format("POST", nil, headers, body)
    end
  end
  if count == 0 then
    error("no users in " .. file)
  end
  next_index = (id or 0) % count
end

function setup(thread)
  thread:set("id", (thread_counter or 0))
  thread_counter = (thread_counter or 0) + 1
end

function request()
  next_index = next_index % count + 1
  return requests[next_index]
end
