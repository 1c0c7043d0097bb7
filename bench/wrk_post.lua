-- wrk script: POST pre-signed webhook bodies, each at most once, to the path given on the
-- command line. The bodies file holds one "<signature>\t<body>" per line; thread n of N sends
-- lines n, n+N, n+2N... so no two requests carry the same body (the inbox would dedupe them).
-- Usage: wrk -s wrk_post.lua <url> -- <bodies file> <path> <threads> [<POSTs a second>]
-- With a rate, each thread sends on a fixed schedule (its share of the rate), whatever the
-- answers' latency, as long as it has a free connection; without one, as fast as it can.
local ffi = require("ffi")
ffi.cdef[[
  typedef struct { long tv_sec; long tv_usec; } bench_timeval;
  int gettimeofday(bench_timeval *tv, void *tz);
]]
local clock = ffi.new("bench_timeval")
local counter = 0
local threads = {}

local function now_ms()
  ffi.C.gettimeofday(clock, nil)
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_usec) / 1000
end

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, path, total = args[1], args[2], tonumber(args[3])
  local rate = tonumber(args[4] or "0")
  interval = rate > 0 and (1000 * total / rate) or 0
  next_at = nil
  requests = {}
  local n = 0
  for line in io.lines(file) do
    if n % total == id then
      local tab = string.find(line, "\t", 1, true)
      local headers = {}
      headers["Content-Type"] = "application/json"
      headers["X-Hub-Signature-256"] = string.sub(line, 1, tab - 1)
      table.insert(requests, wrk.format("POST", path, headers, string.sub(line, tab + 1)))
    end
    n = n + 1
  end
  index = 0
  sent = 0
end

function delay()
  if interval == 0 then
    return 0
  end
  local now = now_ms()
  next_at = (next_at or now) + interval
  return math.max(0, next_at - now)
end

function request()
  index = index % #requests + 1
  sent = sent + 1
  return requests[index]
end

function done(summary, latency, requests)
  local sent_total = 0
  for _, thread in ipairs(threads) do
    sent_total = sent_total + thread:get("sent")
  end
  io.write(string.format(
    'RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, "max_us": %d, ' ..
    '"errors_status": %d, "errors_connect": %d, "errors_read": %d, "errors_write": %d, ' ..
    '"errors_timeout": %d, "sent": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
    summary.errors.status, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, sent_total))
end
