#!/usr/bin/env bash
# Every performance figure the project states, measured on this machine in
# one go, then printed as one table (the README's "Figures" table):
#   cron next-fire ns/call vs Quartz's 1,978; parse cost       (cron_bench)
#   fire lateness at 100,000 topologies, memory per topology,
#   a burst of 10,000 runs due in one second                     (scheduler_bench)
#   ZooKeeper run-record writes/s, recovery of 10,000 topologies
#   + 100,000 runs, failover                                     (zk_bench)
#   REST API requests/s and latency while topologies fire        (api_bench.sh)
#   Drove launches/s and status polling cost                     (drove_bench.sh)
# Takes about 10 minutes; nothing here is pass/fail.
#
#   tests/bench/figures.sh [--quick]   (--quick: smaller runs, about 3 minutes)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
quick=false
[ "${1:-}" = "--quick" ] && quick=true
"$here/.ci/deps" --test
# shellcheck source=start_epochd.sh
. "$here/tests/bench/start_epochd.sh"
bench_build cron_bench scheduler_bench zk_bench epochd fake_drove
build=$bench_build
out=$(mktemp -d /tmp/epoch-figures-XXXXXX)
trap 'rm -rf "$out"' EXIT

run() {  # run <name> <command...>: output to the terminal and to $out/<name>
  local name=$1
  shift
  printf '\n=== %s\n' "$name"
  "$@" 2>&1 | tee "$out/$name"
}

if $quick; then
  run cron "$build/tests/bench/cron_bench" --quick
  run engine "$build/tests/bench/scheduler_bench" --topologies 20000 --minutes 1 --burst 10000
  run zk "$build/tests/bench/zk_bench" --topologies 2000 --runs-per-topology 5 \
    --epochd "$build/epochd/epochd"
  run api "$here/tests/bench/api_bench.sh" 10
  run drove "$here/tests/bench/drove_bench.sh" 1000
else
  run cron "$build/tests/bench/cron_bench"
  run engine "$build/tests/bench/scheduler_bench" --topologies 100000 --minutes 3 --burst 10000
  run zk "$build/tests/bench/zk_bench" --epochd "$build/epochd/epochd"
  run api "$here/tests/bench/api_bench.sh" 61
  run drove "$here/tests/bench/drove_bench.sh" 5000
fi

pick() {  # pick <file> <pattern>: the first matching line, trimmed
  grep -m1 -E "$2" "$out/$1" | sed -e 's/^ *//' || echo "(not printed)"
}
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
printf '\n=== figures (%s; %s vCPU, %s)\n' "$(date -u +%Y-%m-%d)" "$(nproc)" "$cpu"
printf '| area | figure |\n|---|---|\n'
printf '| cron | %s |\n' "$(pick cron '^overall')"
printf '| cron | %s |\n' "$(pick cron '^parse')"
printf '| cron | %s |\n' "$(pick cron '^heap allocations')"
printf '| engine | %s |\n' "$(pick engine '^fire lateness')"
printf '| engine | %s |\n' "$(pick engine '^resident memory')"
printf '| engine | %s |\n' "$(pick engine '^burst')"
printf '| engine | %s |\n' "$(pick engine '^steady load')"
printf '| ZooKeeper | %s |\n' "$(pick zk '^ZkStore run writes')"
printf '| ZooKeeper | %s |\n' "$(pick zk '^new leader recovered')"
printf '| ZooKeeper | %s |\n' "$(pick zk '^failover')"
grep -E 'req/s' "$out/api" | sed -e 's/^ */| API | /' -e 's/$/ |/' || true
grep -E '^(all|polling|launch|status)' "$out/drove" | sed -e 's/^/| Drove | /' -e 's/$/ |/' || true
