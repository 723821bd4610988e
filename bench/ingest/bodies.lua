-- wrk script for bench/ingest/targets.py: POST pre-built bodies (e.g. gzip), each once, in order.
--
--   wrk ... -s bodies.lua URL -- BODIES RUN_S PATH ITEMS_PER_REQUEST ENCODING
--
-- BODIES is a file of request bodies, each preceded by its length as 8 decimal digits (gzip
-- bodies can hold any byte). Run it with one wrk thread (-t 1): it sends the bodies in order and
-- wraps around when they run out (a wrapped body is a replay: the server answers duplicates). ENCODING is the
-- Content-Encoding header ("identity" for none). done() prints "WWRESULT {json}" in the shape of
-- ingest.lua's, with "accepted" the sum of the answers' accepted counts.
local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } ww_timespec;
int clock_gettime(int clk_id, ww_timespec *tp);
]]
local tsbuf = ffi.new("ww_timespec")
local function mono()
  ffi.C.clock_gettime(1, tsbuf)
  return tonumber(tsbuf.tv_sec) + tonumber(tsbuf.tv_nsec) * 1e-9
end

local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local bodies, path, headers
local counter = 0
function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  bodies = {}
  local pos = 1
  while pos <= #data do
    local n = tonumber(string.sub(data, pos, pos + 7))
    bodies[#bodies + 1] = string.sub(data, pos + 8, pos + 7 + n)
    pos = pos + 8 + n
  end
  deadline = mono() + tonumber(args[2])
  path = args[3]
  per_request = tonumber(args[4])
  headers = { ["Content-Type"] = "application/json",
              ["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) Chrome/124.0 Safari/537.36" }
  if args[5] ~= "identity" then headers["Content-Encoding"] = args[5] end
  sent, ok_requests, ok_in_window, accepted, duplicates, rejected, bad = 0, 0, 0, 0, 0, 0, 0
  bad_statuses, first_send, last_ack = "", 0, 0
end

local armed = 0
function delay()
  if mono() >= deadline then return 3600000 end
  armed = armed + 1
  return 0
end

function request()
  if armed > 0 then
    armed = armed - 1
    sent = sent + 1
    if first_send == 0 then first_send = mono() end
  end
  counter = counter + 1
  local index = (counter - 1) % #bodies + 1
  return wrk.format("POST", path, headers, bodies[index])
end

function response(status, hdrs, body)
  local t = mono()
  if status == 200 then
    ok_requests = ok_requests + 1
    if t <= deadline then ok_in_window = ok_in_window + 1 end
    last_ack = t
    local a = body:match('"accepted":%s*(%d+)') or body:match('"success":%s*(%d+)')
    if a then accepted = accepted + tonumber(a) end
    duplicates = duplicates + tonumber(body:match('"duplicates":%s*(%d+)') or "0")
  else
    bad = bad + 1
    if #bad_statuses < 200 then bad_statuses = bad_statuses .. tostring(status) .. " " end
  end
end

function done(summary, latency, requests)
  local keys = { "sent", "ok_requests", "ok_in_window", "accepted", "duplicates", "rejected", "bad" }
  local total, first, last, stop, statuses = {}, math.huge, 0, 0, ""
  for _, k in ipairs(keys) do total[k] = 0 end
  for _, thread in ipairs(threads) do
    for _, k in ipairs(keys) do total[k] = total[k] + (thread:get(k) or 0) end
    local f = thread:get("first_send")
    if f and f > 0 and f < first then first = f end
    local l = thread:get("last_ack") or 0
    if l > last then last = l end
    local d = thread:get("deadline") or 0
    if d > stop then stop = d end
    statuses = statuses .. (thread:get("bad_statuses") or "")
  end
  local e = summary.errors
  local parts = {}
  for _, k in ipairs(keys) do parts[#parts + 1] = string.format('"%s": %d', k, total[k]) end
  parts[#parts + 1] = string.format('"window_s": %.6f', stop - first)
  parts[#parts + 1] = string.format('"first_send": %.6f, "last_ack": %.6f', first, last)
  parts[#parts + 1] = string.format(
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}',
    e.connect, e.read, e.write, e.status, e.timeout)
  parts[#parts + 1] = string.format(
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}',
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean)
  parts[#parts + 1] = string.format('"bad_statuses": "%s"', statuses)
  io.write("WWRESULT {" .. table.concat(parts, ", ") .. "}\n")
end
