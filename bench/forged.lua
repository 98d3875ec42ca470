-- wrk script: send each credential of a file exactly once, then only anonymous requests, and stop once every
-- credential has been answered 401 (then the script ends wrk, printing only the status counts).
--
--   wrk -t1 -c32 -d120s -s bench/forged.lua URL -- FILE [ANONYMOUS_PATH]
--
-- FILE holds one credential a line, sent as "Authorization: Bearer <credential>" to URL's path. Once all are
-- sent, requests go to ANONYMOUS_PATH (default /health/live) without a credential, so the server judges exactly
-- as many credentials as the file holds, whatever wrk has in flight when it stops. Use one thread (-t1).
-- done() prints one "status CODE COUNT" line per HTTP status seen.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  creds = {}
  for line in io.lines(args[1]) do
    if line ~= "" then creds[#creds + 1] = line end
  end
  if #creds == 0 then error("no credentials in " .. args[1]) end
  anonymous = wrk.format("GET", args[2] or "/health/live", { ["Host"] = wrk.headers["Host"] })
  sent = 0
  answered = 0
  statuses = {}
end

function request()
  -- wrk calls request() once before the run to check the script (script_verify_request); that request is never
  -- sent, so the first call must not spend a credential.
  if not verified then
    verified = true
    return anonymous
  end
  if sent < #creds then
    sent = sent + 1
    return wrk.format(nil, nil, { ["Host"] = wrk.headers["Host"], ["Authorization"] = "Bearer " .. creds[sent] })
  end
  return anonymous
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  answered = answered + 1
  -- Every forged credential gets 401; the anonymous requests get 200. Stop when all credentials are answered
  -- (or, should some not be answered 401, a good while after all were sent).
  if not stopping and ((statuses[401] or 0) >= #creds or answered >= #creds + 5000) then
    stopping = true
    finish()
  end
end

-- thread:stop() only stops this thread's loop and a signal may not reach the thread that sleeps out -d, so the
-- script ends wrk itself once every credential is answered, after printing what done() would (one thread: this
-- state's counts are all there are).
function finish()
  for code, n in pairs(statuses) do io.write(string.format("status %d %d\n", code, n)) end
  io.write(string.format("answered %d\n", answered))
  io.flush()
  os.exit(0)
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do total[code] = (total[code] or 0) + n end
  end
  for code, n in pairs(total) do io.write(string.format("status %d %d\n", code, n)) end
end
