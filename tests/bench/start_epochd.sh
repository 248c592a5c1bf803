# Sourced by the benchmark scripts.
#
# bench_build <targets...>: builds the targets in the benchmarks' own Release
# tree, build/figures (tests and benchmarks on, so every bench target and the
# fake Drove exist), configured once; sets $bench_build to its path. One tree
# for every script: none reconfigures another's (or `.ci/epoch run`'s
# build/release) back and forth.
bench_build() {
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  bench_build="$root/build/figures"
  if [ ! -f "$bench_build/build.ninja" ]; then
    cmake -S "$root" -B "$bench_build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEPOCH_BUILD_TESTS=ON \
      -DEPOCH_BUILD_BENCH=ON -DEPOCH_BUILD_EXAMPLES=OFF >/dev/null
  fi
  cmake --build "$bench_build" --target "$@" >/dev/null
}

# start_epochd <binary> [args...] starts epochd on a free port in the current
# directory (stderr in epochd.err) and sets $pid and $port, or exits when it
# does not start.
start_epochd() {
  local binary=$1
  shift
  "$binary" --port 0 "$@" 2>epochd.err &
  pid=$!
  port=
  for _ in $(seq 400); do
    port=$(sed -n 's/.*epochd listening.* port=\([0-9]*\).*/\1/p' epochd.err 2>/dev/null | head -1)
    [ -n "$port" ] && return 0
    sleep 0.05
  done
  echo "epochd did not start: $(cat epochd.err)" >&2
  exit 1
}

# bench_workdir <name> makes a scratch directory /tmp/epoch-<name>-XXXXXX,
# enters it, and on exit stops the epochd started there ($pid), kills the
# process in $fpid if any (a fake Drove), and removes the directory.
bench_workdir() {
  work=$(mktemp -d "/tmp/epoch-$1-XXXXXX")
  trap bench_cleanup EXIT
  cd "$work"
}
bench_cleanup() {
  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
  [ -n "${fpid:-}" ] && kill -KILL "$fpid" 2>/dev/null || true
  rm -rf "$work"
}
