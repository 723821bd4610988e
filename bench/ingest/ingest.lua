-- wrk script for bench/ingest/run.py: POST batches with ids unique per request.
--
--   wrk ... -s ingest.lua URL -- TEMPLATES TAG RUN_S PATH ITEMS_PER_REQUEST
--
-- TEMPLATES is a file of request bodies separated by NUL bytes, made by run.py. In each body
-- byte \1 stands for the request's id prefix (so item ids are PREFIX-INDEX), \2 for the leading
-- digits of a timestamp (items carry ts = \2 .. 4 digits, i.e. 10-20 s before now) and \3 for
-- sent_at in ms. Templates are split at the markers once; a request fills the slots and joins
-- the pieces, so a 1000-item body costs the client little CPU.
--
-- Each connection stops sending RUN_S seconds after start (delay() then parks it), so when wrk
-- is given a few seconds more (-d RUN_S + tail) every request sent gets its answer before wrk
-- exits: the server's stored count can then be checked against the acknowledged count exactly.
-- done() prints one line "WWRESULT {json}" with per-run totals.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } ww_timespec;
int clock_gettime(int clk_id, ww_timespec *tp);
]]
local tsbuf = ffi.new("ww_timespec")

local function mono()
  ffi.C.clock_gettime(1, tsbuf) -- CLOCK_MONOTONIC
  return tonumber(tsbuf.tv_sec) + tonumber(tsbuf.tv_nsec) * 1e-9
end

local function wall_ms()
  ffi.C.clock_gettime(0, tsbuf) -- CLOCK_REALTIME
  return tonumber(tsbuf.tv_sec) * 1000 + math.floor(tonumber(tsbuf.tv_nsec) / 1e6)
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local templates, tag, path, per_request
local counter = 0
local headers = {
  ["Content-Type"] = "application/json",
  ["User-Agent"] = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    .. "(KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
}

-- A template as pieces: static text, with an empty slot where each marker was; slots[c] lists
-- the slots of marker c. A request fills the slots and concatenates: ~20 us for 1000 items
-- (a gsub over the 160 KB body costs ~1.7 ms and would make the client the bottleneck).
local function split(text)
  local parts, slots = {}, { {}, {}, {} }
  local pos = 1
  while true do
    local at = string.find(text, "[\1\2\3]", pos)
    if not at then
      parts[#parts + 1] = string.sub(text, pos)
      return { parts = parts, slots = slots }
    end
    parts[#parts + 1] = string.sub(text, pos, at - 1)
    parts[#parts + 1] = ""
    table.insert(slots[string.byte(text, at)], #parts)
    pos = at + 1
  end
end

function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  templates = {}
  for piece in string.gmatch(data, "[^%z]+") do
    templates[#templates + 1] = split(piece)
  end
  tag = args[2]
  local run_s = tonumber(args[3])
  path = args[4]
  per_request = tonumber(args[5])
  t0 = mono()
  deadline = t0 + run_s
  -- totals, read by done() through thread:get
  sent = 0
  ok_requests = 0
  ok_in_window = 0
  accepted = 0
  duplicates = 0
  rejected = 0
  bad = 0
  bad_statuses = ""
  first_send = 0
  last_ack = 0
end

-- wrk calls delay() before each request it sends (and calls request() once more, unsent, to
-- check the script): a request without a delay() before it is not counted.
local armed = 0

function delay()
  if mono() >= deadline then
    return 3600000 -- park the connection: no new request after the deadline
  end
  armed = armed + 1
  return 0
end

function request()
  counter = counter + 1
  if armed > 0 then
    armed = armed - 1
    sent = sent + 1
    if first_send == 0 then
      first_send = mono()
    end
  end
  local ms = wall_ms()
  local values = {
    string.format("%s%02d.%08d", tag, tid, counter),
    tostring(math.floor(ms / 10000) - 1),
    tostring(ms),
  }
  local t = templates[counter % #templates + 1]
  local parts = t.parts
  for code = 1, 3 do
    local v = values[code]
    for _, k in ipairs(t.slots[code]) do
      parts[k] = v
    end
  end
  return wrk.format("POST", path, headers, table.concat(parts))
end

function response(status, hdrs, body)
  local t = mono()
  if status == 200 then
    ok_requests = ok_requests + 1
    if t <= deadline then
      ok_in_window = ok_in_window + 1
    end
    last_ack = t
    local a = body:match('"accepted":%s*(%d+)') or body:match('"success":%s*(%d+)')
    if a then
      accepted = accepted + tonumber(a)
      duplicates = duplicates + tonumber(body:match('"duplicates":%s*(%d+)') or "0")
      if not body:find('"rejected":%s*%[%]') and body:find('"rejected"') then
        rejected = rejected + 1
      end
    end
  else
    bad = bad + 1
    if #bad_statuses < 200 then
      bad_statuses = bad_statuses .. tostring(status) .. " "
    end
  end
end

function done(summary, latency, requests)
  local keys = { "sent", "ok_requests", "ok_in_window", "accepted", "duplicates", "rejected", "bad" }
  local total = {}
  for _, k in ipairs(keys) do
    total[k] = 0
  end
  local first, last, stop = math.huge, 0, 0
  local statuses = ""
  for _, thread in ipairs(threads) do
    for _, k in ipairs(keys) do
      total[k] = total[k] + (thread:get(k) or 0)
    end
    local f = thread:get("first_send")
    if f and f > 0 and f < first then
      first = f
    end
    local l = thread:get("last_ack") or 0
    if l > last then
      last = l
    end
    local d = thread:get("deadline") or 0
    if d > stop then
      stop = d
    end
    statuses = statuses .. (thread:get("bad_statuses") or "")
  end
  local e = summary.errors
  local parts = {}
  for _, k in ipairs(keys) do
    parts[#parts + 1] = string.format('"%s": %d', k, total[k])
  end
  parts[#parts + 1] = string.format('"per_request": %d', per_request or 0)
  parts[#parts + 1] = string.format('"window_s": %.6f', stop - first)
  parts[#parts + 1] = string.format('"first_send": %.6f, "last_ack": %.6f', first, last)
  parts[#parts + 1] = string.format(
    '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}',
    e.connect, e.read, e.write, e.status, e.timeout)
  parts[#parts + 1] = string.format(
    '"latency_us": {"p50": %d, "p90": %d, "p99": %d, "max": %d, "mean": %.1f}',
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    latency.mean)
  parts[#parts + 1] = string.format('"wrk_requests": %d, "wrk_duration_us": %d',
    summary.requests, summary.duration)
  parts[#parts + 1] = string.format('"bad_statuses": "%s"', statuses)
  io.write("WWRESULT {" .. table.concat(parts, ", ") .. "}\n")
end
