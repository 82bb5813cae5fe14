-- wrk script: rotate through the request paths listed (one per line) in the
-- file named by the PATHS environment variable, send the cookie in COOKIE,
-- count answers other than 200, and print one JSON summary line (req/s,
-- latency percentiles, errors) at the end for benches/web.sh to read.

local paths = {}
local cookie = os.getenv("COOKIE") or ""

do
  local file = os.getenv("PATHS")
  if file then
    for line in io.lines(file) do
      if line ~= "" then
        paths[#paths + 1] = line
      end
    end
  end
  if #paths == 0 then
    paths[1] = "/"
  end
end

local counter = 0
local threads = {}

function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
  threads[#threads + 1] = thread
end

function init(args)
  i = offset or 0
  non200 = 0
end

-- Anything but 200 (a redirect to the login page, say) is counted: numbers
-- from a run with non-200 answers are not page timings.
function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
  end
end

function request()
  i = i + 1
  local path = paths[(i % #paths) + 1]
  local headers = {}
  if cookie ~= "" then
    headers["Cookie"] = cookie
  end
  return wrk.format("GET", path, headers)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local e = summary.errors
  local bad = 0
  for _, t in ipairs(threads) do
    bad = bad + (t:get("non200") or 0)
  end
  io.write(string.format(
    '{"requests":%d,"seconds":%.3f,"rps":%.1f,"bytes":%d,"p50_ms":%.2f,"p90_ms":%.2f,' ..
    '"p95_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f,"err_connect":%d,"err_read":%d,' ..
    '"err_write":%d,"err_status":%d,"err_timeout":%d,"non200":%d}\n',
    summary.requests, secs, summary.requests / secs, summary.bytes,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(95) / 1000, latency:percentile(99) / 1000, latency.max / 1000,
    e.connect, e.read, e.write, e.status, e.timeout, bad))
end
