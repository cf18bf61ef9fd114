-- wrk script of bench/load.py. Arguments: path, mode ("mixed": GET the form, then POST
-- an answer, alternately; "post": only POSTs), the POST body. A POST is accepted when
-- it redirects (302); a GET must answer 200. Prints one line: RESULT {json}.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  path, mode, body = args[1], args[2], args[3]
  sent, accepted, bad = 0, 0, 0
end

function request()
  sent = sent + 1
  if mode == "post" or sent % 2 == 0 then
    return wrk.format("POST", path, {["Content-Type"] = "application/x-www-form-urlencoded"}, body)
  end
  return wrk.format("GET", path)
end

function response(status, headers, body)
  if status == 302 then
    accepted = accepted + 1
  elseif status ~= 200 or mode == "post" then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local total_accepted, total_bad = 0, 0
  for _, thread in ipairs(threads) do
    total_accepted = total_accepted + thread:get("accepted")
    total_bad = total_bad + thread:get("bad")
  end
  local errors = summary.errors
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "p50_ms": %.2f, "p99_ms": %.2f, ' ..
    '"socket_errors": %d, "bad_status": %d, "accepted": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors.connect + errors.read + errors.write + errors.timeout,
    total_bad, total_accepted))
end
