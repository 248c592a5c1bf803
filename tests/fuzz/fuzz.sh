#!/usr/bin/env bash
# Runs the libFuzzer targets (clang, ASan + UBSan) for a while each, from
# their corpora in tests/fuzz/corpus/<name>; new inputs that add coverage are
# merged back into the corpus (commit them). A finding stops the script with
# the crashing input saved in the current directory.
#
#   tests/fuzz/fuzz.sh [seconds per target, default 600] [target ...]
#   targets: cron_parser model_json http_request (default: all three)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${1:-600}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(cron_parser model_json http_request)
"$here/.ci/deps" --test
build="$here/build/fuzz-all"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_COMPILER=clang++ -DEPOCH_FUZZ=ON -DEPOCH_BUILD_TESTS=OFF \
    -DEPOCH_BUILD_BENCH=OFF -DEPOCH_BUILD_EXAMPLES=OFF -DEPOCH_BUILD_DAEMON=ON >/dev/null
fi
cmake --build "$build" --target "${targets[@]/%/_fuzz}"
for t in "${targets[@]}"; do
  corpus="$here/tests/fuzz/corpus/$t"
  work=$(mktemp -d)
  log="$work.log"
  echo "=== $t: ${seconds} s" >&2
  if ! "$build/tests/fuzz/${t}_fuzz" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$work" "$corpus" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    echo "=== $t: FINDING (input saved in $(pwd))" >&2
    exit 1
  fi
  grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units)' "$log" || true
  "$build/tests/fuzz/${t}_fuzz" -merge=1 "$corpus" "$work" 2>&1 |
    grep -E 'MERGE-OUTER: [0-9]+ new files' || true
  rm -rf "$work" "$log"
done
