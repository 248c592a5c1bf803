#!/usr/bin/env bash
# Bad credentials against the health check and the schedule: a release
# epochd with --auth basic (a 210,000-iteration PBKDF2 hash) and
# $EPOCH_BENCH_TOPOLOGIES (default 20) PROCESS topologies firing together
# every second. While wrk sends 50 clients' requests with
# wrong Basic credentials, each phase measures GET /healthcheck twice, one
# window each:
#   probe      100 requests per second, latency from when each was due
#              (tests/bench/probe.py): what a load balancer's health check
#              or a monitor sees
#   saturated  wrk with 4 connections as fast as epochd answers (on a
#              2-core machine this also measures the CPU the two wrk
#              processes take from epochd)
# The fire lateness p99 of the phase comes from the
# epoch_fire_lateness_seconds histogram.
#   quiet        no bad credentials (the baseline)
#   throttled    bad credentials, default --auth-failures-per-minute (10):
#                beyond it, each 429 is held 1 s
#   unthrottled  bad credentials, --auth-failures-per-minute 0 (every one is
#                a PBKDF2 on the auth worker)
# Prints one line per phase. Not a pass/fail test.
#
#   tests/bench/auth_bench.sh [seconds per phase, default 20] [epochd binary]
# (another binary, e.g. an older build, is measured the same way; one that
# has no --auth-failures-per-minute runs the bad-credential phase once.)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=start_epochd.sh
. "$here/tests/bench/start_epochd.sh"
duration=${1:-20}
topologies=${EPOCH_BENCH_TOPOLOGIES:-20}
"$here/.ci/deps" --test
if [ -n "${2:-}" ]; then
  epochd=$(realpath "$2")
else
  bench_build epochd
  epochd="$bench_build/epochd/epochd"
fi

bench_workdir auth-bench
hash=$(echo 'bench-password' | "$epochd" hash-password)
good="Authorization: Basic $(printf 'admin:bench-password' | base64)"
cat >bad.lua <<'LUA'
wrk.headers["Authorization"] = "Basic " .. "YWRtaW46d3Jvbmc="  -- admin:wrong
LUA

# p99 of the fire-lateness histogram between two /metrics snapshots.
lateness_p99() {  # before-file after-file
  python3 - "$1" "$2" <<'PY'
import re, sys
def buckets(path):
    out = {}
    for line in open(path):
        m = re.match(r'epoch_fire_lateness_seconds_bucket\{le="([^"]+)"\} (\d+)', line)
        if m: out[m.group(1)] = int(m.group(2))
    return out
a, b = buckets(sys.argv[1]), buckets(sys.argv[2])
total = b.get("+Inf", 0) - a.get("+Inf", 0)
if total == 0: print("no fires"); sys.exit()
for le in sorted(b, key=lambda k: float("inf") if k == "+Inf" else float(k)):
    if b[le] - a.get(le, 0) >= 0.99 * total:
        print(f"<= {float(le) * 1000:g} ms ({total} fires)" if le != "+Inf" else f"> 60 s ({total} fires)")
        break
PY
}

phase() {  # label bad(yes|no) [epochd args...]
  local label=$1 bad=$2
  shift 2
  start_epochd "$epochd" --store memory --auth basic --auth-users "admin:$hash:ADMIN" "$@"
  local base="http://127.0.0.1:$port"
  for i in $(seq -w 1 "$topologies"); do
    curl -s -o /dev/null -H "$good" -H 'Content-Type: application/json' -X POST \
      "$base/apis/v1/topologies" -d "{\"name\":\"t$i\",\"task\":{\"type\":\"PROCESS\",\
\"taskName\":\"main\",\"command\":\"/bin/true\"},\"trigger\":{\"type\":\"CRON\",\"timeSpec\":\"* * * ? * *\"}}"
  done
  sleep 3
  curl -s "$base/metrics" >before.txt
  local attack=
  if [ "$bad" = yes ]; then
    wrk -t1 -c50 -d"$((2 * duration))s" -s bad.lua "$base/apis/v1/topologies" >attack.txt 2>&1 &
    attack=$!
    sleep 1
  fi
  local probe health
  probe=$(python3 "$here/tests/bench/probe.py" "$base/healthcheck" "$duration")
  health=$(wrk -t1 -c4 -d"$((duration - 1))s" --latency "$base/healthcheck")
  [ -n "$attack" ] && wait "$attack"
  curl -s "$base/metrics" >after.txt
  local p99 rps bad_rps
  p99=$(awk '$1 == "99%" {print $2}' <<<"$health")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$health")
  bad_rps=$([ "$bad" = yes ] && awk '/Requests\/sec/ {print $2 " bad req/s"}' attack.txt || echo "-")
  printf '%-12s /healthcheck probe %s; saturated p99 %s (%s req/s); fire lateness p99 %s; attack: %s\n' \
    "$label" "$probe" "$p99" "$rps" "$(lateness_p99 before.txt after.txt)" "$bad_rps"
  kill -TERM "$pid" && wait "$pid" 2>/dev/null || true
  pid=
}

echo "epochd: $epochd; ${duration} s per phase; $topologies topologies fire every second" >&2
phase quiet no
# (--help read whole first: `grep -q` in a pipe could end it early, and
# pipefail would take epochd's SIGPIPE for "no such option".)
if grep -q auth-failures-per-minute <<<"$("$epochd" --help)"; then
  phase throttled yes
  phase unthrottled yes --auth-failures-per-minute 0
else
  phase attacked yes
fi
