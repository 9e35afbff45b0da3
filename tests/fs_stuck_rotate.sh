#!/bin/bash
# A call that waits on a worker whose receive queue got stuck is sent again
# also when the server rotated to yet another worker before the client
# asked where it is (registry.h: a moved file lists every stuck worker of
# its server, not only whether the latest move was one; rpc_client.c,
# ask_where). Before, the rotation's moved file said "not stuck": the
# client waited on the stuck worker until its deadline (ETIMEDOUT), an
# acknowledged-looking append lost.
#
# One server that stalls its first worker after 150 requests
# (BENCHFS_FAULT_STALL_AFTER, as in fault_server_move.sh) and rotates after
# every released client. A Python appender under the preload writes
# numbered records; one of them waits on the stalled worker. The appender is
# SIGSTOPped (so that it cannot ask where before the rotation), the server
# moves (stuck), a short client comes and goes, the server rotates, then
# SIGCONT. The file must hold every record once, in order.
. "$(dirname "$0")/lib.sh"
heavy
export UCX_MEM_MMAP_HOOK_MODE=none BENCHFS_FUSE=0
export BENCHFS_RPC_ROTATE_AFTER=1 BENCHFS_RPC_ROTATE_MS=600000
export BENCHFS_RPC_TIMEOUT_MS=20000
: >"$SERVER_LOG"
BENCHFS_FAULT_STALL_AFTER=150 BENCHFS_LOG=debug start_servers 0 "$T/d" || exit 1
go="$T/go"; ready="$T/ready"; prog="$T/progress"
mkfifo "$go"
# Not through with_preload (a function: $! would be a subshell, and SIGSTOP
# has to reach Python itself). Bounded: 400 appends, each by its deadline.
env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" python3 - /benchfs/ap "$go" "$ready" "$prog" \
    >"$T/py" 2>&1 <<'PY' &
import os, sys
path, go, ready, prog = sys.argv[1:5]
f = open(path, "ab", buffering=0)
f.write(b"%06d\n" % 0)
open(ready, "w").close()
open(go).read()
for i in range(1, 400):
    with open(prog, "w") as p:
        p.write("%d\n" % i)
    f.write(b"%06d\n" % i)             # one of these waits on the stalled worker
f.close()
print("ok")
PY
py=$!
at_exit "kill -CONT $py 2>/dev/null; kill $py 2>/dev/null"
wait_until 20 test -e "$ready" || { cat "$T/py"; fail "the appender did not start"; }
echo go >"$go"
# Stopped as soon as its appends stop (the stall), long before the 3 s after
# which the server moves: asking where before the move changes nothing.
last=-1
for _ in $(seq 100); do
    sleep 0.2
    cur=$(cat "$prog" 2>/dev/null || echo 0)
    [ "$cur" = "$last" ] && break
    last=$cur
done
kill -STOP "$py"
[ "$cur" = "$last" ] && [ "$cur" -lt 399 ] || fail "the appender did not stall (at record $cur)"
echo "# the appender waits at record $cur"
wait_until 20 grep -q "moving to a new UCX worker" "$SERVER_LOG" ||
    { cat "$SERVER_LOG"; fail "the server did not move (did the appender reach the stall?)"; }
with_preload stat /benchfs >/dev/null || fail "short client after the move"
published_twice() { [ "$(grep -c "new address published" "$SERVER_LOG")" -ge 2 ]; }
wait_until 10 published_twice || { cat "$SERVER_LOG"; fail "the server did not rotate after the move"; }
wait_until 5 grep -q "^stuck " "$BENCHFS_REGISTRY.moved.0" || fail "the moved file after the rotation no longer names the stuck worker"
kill -CONT "$py"
wait $py; rc=$?
[ $rc = 0 ] && grep -qx ok "$T/py" || { cat "$T/py"; fail "the appender failed after stuck move + rotation (rc $rc)"; }
want=$(seq -f '%06g' 0 399)
got=$(with_preload cat /benchfs/ap | tr '\0' 'Z')
[ "$got" = "$want" ] || fail "the file does not hold records 0-399 once each: $(printf '%s\n' "$got" | sort | uniq -c | awk '$1 != 1' | head -3) $(printf '%s\n' "$got" | wc -l) lines"
echo "# ok: a call waiting on a stuck worker was sent again after a later rotation (400 records once each)"
stop_servers || fail "the server did not stop cleanly"
echo "PASS: fs_stuck_rotate"
