#!/usr/bin/env bash
# REST API throughput of a release epochd on loopback, measured with wrk:
#   GET one topology, and list the runs of a topology with 1,000 runs,
#   64 connections, while 1,000 other topologies fire every minute
#   (all at second 0, each running a PROCESS task).
# Prints requests/s and latency percentiles. Not a pass/fail test.
#
#   tests/bench/api_bench.sh [seconds per wrk run, default 20] [epochd binary]
# (another binary, e.g. an older build, is measured the same way.)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=start_epochd.sh
. "$here/tests/bench/start_epochd.sh"
duration=${1:-20}
"$here/.ci/deps" --test
if [ -n "${2:-}" ]; then
  epochd=$(realpath "$2")
else
  bench_build epochd
  epochd="$bench_build/epochd/epochd"
fi

bench_workdir api-bench
start_epochd "$epochd" --retention-runs 1100
base="http://127.0.0.1:$port"
topology() { # name cron
  printf '{"name":"%s","task":{"type":"PROCESS","taskName":"main","command":"/bin/true"},"trigger":{"type":"CRON","timeSpec":"%s"}}' "$1" "$2"
}
echo "setup: 1000 topologies firing every minute, 1 with 1000 runs ..." >&2
python3 - "$base" <<'PY'
import http.client, json, sys, time, urllib.parse
u = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(u.hostname, u.port)
def call(method, path, body=None):
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse(); data = json.loads(r.read())
    assert r.status == 200 and data["status"] == "SUCCESS", (path, r.status, data)
    return data["data"]
task = {"type": "PROCESS", "taskName": "main", "command": "/bin/true"}
for i in range(1000):
    call("POST", "/apis/v1/topologies", {"name": "t%04d" % i, "task": task,
         "trigger": {"type": "CRON", "timeSpec": "0 * * ? * *"}})
call("POST", "/apis/v1/topologies", {"name": "history", "task": task,
     "trigger": {"type": "CRON", "timeSpec": "0 0 0 1 1 ? 2099"},
     "policies": {"overlap": {"mode": "ALLOW", "maxConcurrent": 1000}}})
for i in range(1000):
    call("PUT", "/apis/v1/topologies/history/run")
    if i % 100 == 99:
        time.sleep(0.2)
while True:
    runs = call("GET", "/apis/v1/topologies/history/runs?state=RUNNING")
    if not runs: break
    time.sleep(0.2)
n = len(call("GET", "/apis/v1/topologies/history/runs"))
print(f"setup done: history has {n} runs", file=sys.stderr)
PY

run_wrk() { # label path
  local out
  out=$(wrk -t2 -c64 -d"${duration}s" --latency "$base$2")
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  local errors
  errors=$(awk '/Non-2xx|Socket errors/' <<<"$out")
  printf '%-44s %10s req/s   p50 %8s   p99 %8s %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
}
echo "wrk: 2 threads, 64 connections, ${duration} s each; 1000 topologies fire every minute" >&2
run_wrk "GET /apis/v1/topologies/t0500" /apis/v1/topologies/t0500
run_wrk "GET /apis/v1/topologies/history/runs (1000)" /apis/v1/topologies/history/runs
run_wrk "GET .../history/runs?limit=20" "/apis/v1/topologies/history/runs?limit=20"
fires=$(curl -s "$base/metrics" | awk '/^epoch_fire_lateness_seconds_count/ {print $2}')
late99=$(curl -s "$base/metrics" | awk -F'[{}" ]+' '/^epoch_fire_lateness_seconds_bucket/ {print}' | tail -1)
echo "scheduled fires launched during the run: $fires"
curl -s "$base/metrics" | grep '^epoch_fire_lateness_seconds_bucket' | awk '{printf "  lateness %s\n", $0}' | head -8
