#!/usr/bin/env bash
# Load on `lake serve` over loopback: a small /v1/sql query with wrk,
# bounded in time (10 s) and connections (64). Prints requests per second,
# latency percentiles and errors. Installs wrk from Debian if missing.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/.."

seconds="${1:-10}"
connections="${2:-64}"
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; }
source scripts/build.sh

export LAKE_HOME="$(mktemp -d)/lake"
"$lake" -q ingest examples/people.csv >/dev/null
log=$(mktemp)
"$lake" serve --addr 127.0.0.1:0 --max-concurrency 256 2>"$log" &
pid=$!
trap 'kill $pid 2>/dev/null' EXIT
for _ in $(seq 100); do grep -q listening "$log" && break; sleep 0.1; done
base=$(sed -n 's/^listening on //p' "$log")

script=$(mktemp --suffix=.lua)
cat >"$script" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"sql":"select name, age from people where age > 30 order by id"}'
done = function(summary, latency, requests)
  io.write(string.format("requests/s %.0f  p50 %.1f ms  p99 %.1f ms  errors %d (non-2xx %d)\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
LUA
echo "POST $base/v1/sql for ${seconds}s with $connections connections"
wrk -t2 -c"$connections" -d"${seconds}s" --timeout 5s -s "$script" "$base/v1/sql" | tail -1
echo "goal: 3000 requests/s, p99 under 20 ms, no errors"
