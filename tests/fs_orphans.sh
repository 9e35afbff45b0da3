#!/bin/bash
# No orphans: servers exit by themselves when their mpirun is killed.
. "$(dirname "$0")/lib.sh"
start_servers 2 "$T/dir" || exit 1
kids=$(pgrep -P "$SERVER_PID" | tr '\n' ' ')
# mpirun's children are the servers here (Open MPI runs its local daemon
# inside mpirun); look one level deeper too in case a daemon sits between.
for k in $kids; do kids="$kids $(pgrep -P "$k" | tr '\n' ' ')"; done
servers=""
for p in $kids; do
    grep -q benchfsd "/proc/$p/comm" 2>/dev/null && servers="$servers $p"
done
[ -n "$servers" ] || fail "no benchfsd processes found under mpirun $SERVER_PID"
kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
for _ in $(seq 100); do
    alive=""
    for p in $servers; do kill -0 "$p" 2>/dev/null && alive="$alive $p"; done
    [ -z "$alive" ] && break
    sleep 0.1
done
if [ -n "$alive" ]; then
    for p in $alive; do kill -KILL "$p" 2>/dev/null; done
    fail "servers$alive outlived their mpirun"
fi
echo "PASS: servers$servers exited after mpirun was killed"
