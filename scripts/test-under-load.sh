#!/usr/bin/env bash
# npm test, RUNS times in a row, while every CPU is kept busy and FDS socket descriptors are held open by
# another process (what a loaded host looks like to the suite: a /proc/*/fd walk then takes seconds).
#
#   RUNS=3 FDS=160000 bash scripts/test-under-load.sh
#
# The holders keep their descriptors until this script ends: killed by pid, or on their own within a second
# of its exit (they watch their parent pid).
#
# Prints each run's result and wall time. Everything it starts it stops (by pid) when it ends.
set -uo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-3}
FDS=${FDS:-160000}
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; }
trap cleanup EXIT

# the descriptors: unix socketpairs held by python processes, each as many as its descriptor limit allows
hard=$(ulimit -Hn)
per=$(( (hard - 256) / 2 * 2 ))
held=0
while [ "$held" -lt "$FDS" ]; do
  n=$(( FDS - held < per ? FDS - held : per ))
  python3 -c '
import os, resource, socket, sys, time
n = int(sys.argv[1])
hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
pairs = [socket.socketpair() for _ in range(n // 2)]
parent = os.getppid()
while os.getppid() == parent:
    time.sleep(1)
' "$n" &
  pids+=($!)
  held=$(( held + n ))
done
echo "holding $held socket descriptors in ${#pids[@]} processes" >&2
# the CPUs: one busy loop each
for _ in $(seq "$(nproc)"); do (while :; do :; done) & pids+=($!); done
sleep 5

npm run build >/dev/null
for run in $(seq "$RUNS"); do
  start=$(date +%s)
  node scripts/test.mjs > "/tmp/sockscope-under-load-$run.log" 2>&1
  status=$?
  summary=$(grep -E '^# (pass|fail|cancelled)' "/tmp/sockscope-under-load-$run.log" | tr '\n' ' ')
  echo "run $run: exit $status, $(( $(date +%s) - start )) s, load $(cut -d' ' -f1-3 /proc/loadavg): $summary"
done
