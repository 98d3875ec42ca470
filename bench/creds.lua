-- wrk script: send each request with the next credential from a file, round robin.
--
--   wrk -t1 -c32 -d5s -s bench/creds.lua URL -- FILE HEADER [PREFIX]
--
-- FILE holds one credential a line; each request carries "HEADER: PREFIX<credential>",
-- e.g. `-- creds.txt Authorization "Bearer "` or `-- cookies.txt Cookie "peer.sid="`.
-- A line may hold a client address after the credential ("<credential> <address>"): that credential's requests
-- then carry "X-Forwarded-For: <address>", so each session comes from its own address, as real users do.
-- The requests are formatted once in init(), so a request costs a table lookup.
local requests = {}
local count = 0
local next_index = 0

function init(args)
  local file, header, prefix = args[1], args[2], args[3] or ""
  if not file or not header then
    error("usage: -s creds.lua URL -- FILE HEADER [PREFIX]")
  end
  for line in io.lines(file) do
    local credential, address = line:match("^(%S+)%s*(%S*)$")
    if credential then
      local headers = {}
      for k, v in pairs(wrk.headers) do headers[k] = v end
      headers[header] = prefix .. credential
      if address ~= "" then headers["X-Forwarded-For"] = address end
      count = count + 1
      requests[count] = wrk.format(nil, nil, headers)
    end
  end
  if count == 0 then
    error("no credentials in " .. file)
  end
  -- Threads start at different offsets, so with -t2 and more they do not send the same sequence.
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
