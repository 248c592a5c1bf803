#!/usr/bin/env bash
# Drove executor figures: a release epochd (SQLite store) against the fake
# Drove controller on loopback.
#   1. launches per second: N topologies (default 5,000) fire in the same
#      second; time from that second until the fake has accepted every CREATE;
#   2. poll cost with those N tasks live (they run for 10 minutes): status
#      requests per second to Drove and epochd's CPU, over 30 s, at the
#      default 3 s poll interval.
# Prints the figures. Not a pass/fail test.
#
#   tests/bench/drove_bench.sh [topologies]
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=start_epochd.sh
. "$here/tests/bench/start_epochd.sh"
n=${1:-5000}
"$here/.ci/deps" --test
bench_build epochd fake_drove
epochd="$bench_build/epochd/epochd"
fake="$bench_build/tests/fakes/fake_drove"

bench_workdir drove-bench
"$fake" --cores 100000 --memory-mb 100000000 --default-script "appear=0,run=600000" 2>fake.err &
fpid=$!
disown "$fpid"  # no "Killed" report when the cleanup kills it
for _ in $(seq 100); do grep -q ports= fake.err 2>/dev/null && break; sleep 0.05; done
fport=$(sed -n 's/.*ports=\([0-9]*\).*/\1/p' fake.err)
start_epochd "$epochd" --executor drove --drove-endpoints "http://127.0.0.1:$fport" \
  --drove-app-name epoch --retention-runs 5
python3 - "$port" "$fport" "$pid" "$n" <<'PY'
import http.client, json, sys, time, os
port, fport, pid, n = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
c = http.client.HTTPConnection("127.0.0.1", port)
def call(method, path, body=None):
    c.request(method, path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse(); data = json.loads(r.read())
    assert r.status == 200 and data["status"] == "SUCCESS", (path, r.status, data)
    return data["data"]
def fake():
    f = http.client.HTTPConnection("127.0.0.1", fport)
    f.request("GET", "/fake/launches"); return json.loads(f.getresponse().read())
def cpu_seconds():
    with open(f"/proc/{pid}/stat") as s:
        fields = s.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
task = {"type": "CONTAINER_EXECUTION", "taskName": "main",
        "executable": {"type": "DOCKER", "url": "busybox", "dockerPullTimeout": "120 seconds"},
        "resources": [{"type": "CPU", "count": 1}, {"type": "MEMORY", "sizeInMB": 64}]}
# All fire at second 0 of the next minute that leaves time to create them.
now = time.time()
minute = (int(now) // 60 + 1) * 60
if minute - now < 25: minute += 60
second = minute % 60
for i in range(n):
    call("POST", "/apis/v1/topologies", {"name": "d%05d" % i, "task": task,
         "trigger": {"type": "CRON", "timeSpec": "0 %d %d * * ?" % (time.gmtime(minute).tm_min, time.gmtime(minute).tm_hour)}})
print(f"{n} topologies created; they fire at {time.strftime('%H:%M:%S', time.gmtime(minute))} UTC", file=sys.stderr)
while time.time() < minute: time.sleep(0.01)
while True:
    a = len(fake()["accepted"])
    if a >= n: break
    time.sleep(0.01)
took = time.time() - minute
print(f"launches: {n} tasks created on Drove {took:.2f} s after their fire second -> {n / took:.0f} launches/s")
time.sleep(5)
f0, c0, t0 = fake()["statusCalls"], cpu_seconds(), time.time()
time.sleep(30)
f1, c1, t1 = fake()["statusCalls"], cpu_seconds(), time.time()
print(f"polling {n} live tasks every 3 s: {(f1 - f0) / (t1 - t0):.0f} status requests/s to Drove, "
      f"epochd CPU {100 * (c1 - c0) / (t1 - t0):.1f}% of one core")
PY
