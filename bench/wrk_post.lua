-- wrk script: POST pre-signed webhook bodies, each at most once, to the path given on the
-- command line. The bodies file holds one "<signature>\t<body>" per line; thread n of N sends
-- lines n, n+N, n+2N... so no two requests carry the same body (the inbox would dedupe them).
-- Usage: wrk -s wrk_post.lua <url> -- <bodies file> <path> <threads> [<pause ms per request>]
local counter = 0
local threads = {}

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  local file, path, total = args[1], args[2], tonumber(args[3])
  pause = tonumber(args[4] or "0")
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
  return pause
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
