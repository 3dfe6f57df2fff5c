-- Shared done() for the bench scripts: print one JSON line, prefixed "WRK_JSON ", with
-- request and error counts and latency percentiles in microseconds. Loaded with dofile()
-- from the directory of the script that wrk was given.

function done(summary, latency, requests)
  local e = summary.errors
  local parts = {
    string.format('"requests":%d', summary.requests),
    string.format('"duration_us":%d', summary.duration),
    string.format('"bytes":%d', summary.bytes),
    string.format('"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d}',
                  e.connect, e.read, e.write, e.status, e.timeout),
    string.format('"latency_us":{"mean":%.1f,"max":%d,"p50":%d,"p90":%d,"p99":%d,"p999":%d}',
                  latency.mean, latency.max, latency:percentile(50), latency:percentile(90),
                  latency:percentile(99), latency:percentile(99.9)),
  }
  io.write("WRK_JSON {" .. table.concat(parts, ",") .. "}\n")
end
