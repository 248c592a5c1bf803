# Sourced by the benchmark scripts: start_epochd <binary> [args...] starts
# epochd on a free port in the current directory (stderr in epochd.err) and
# sets $pid and $port, or exits when it does not start.
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
