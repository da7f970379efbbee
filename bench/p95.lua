-- wrk reporter: median, p95 and p99 latency in ms and requests/s, one line each, for bench/serve.sh.
done = function(summary, latency, requests)
  io.write(string.format("p50_ms %.2f\np95_ms %.2f\np99_ms %.2f\nrequests %d\nerrors %d\nrps %.0f\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000,
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read +
    summary.errors.write + summary.errors.timeout, summary.requests / (summary.duration / 1e6)))
end
