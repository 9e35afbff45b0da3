#!/bin/bash
# A standalone server (no mpirun) killed with SIGKILL and restarted on the
# same directory keeps every fsync'd and closed file byte for byte. Also: an
# idle server uses (almost) no CPU.
. "$(dirname "$0")/lib.sh"
TOOL="$top_builddir/tests/fs_tool"
start_servers 0 "$T/dir" --chunk-size 64K || exit 1
pid=$SERVER_PID

# Idle CPU: clock ticks used over 3 s of idleness.
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
t0=$(ticks "$pid"); sleep 3; t1=$(ticks "$pid")
hz=$(getconf CLK_TCK)
echo "idle server used $((t1 - t0)) ticks of $((3 * hz)) in 3 s"
[ $((t1 - t0)) -le $((3 * hz / 50)) ] || fail "idle server burns CPU: $((t1 - t0)) ticks in 3 s"

"$TOOL" put /a 1000000 1 || fail "put /a"
"$TOOL" put /b 65536 2 || fail "put /b"
"$TOOL" put /c 7 3 || fail "put /c"
kill -KILL "$pid"; wait "$pid" 2>/dev/null; SERVER_PID=
rm -f "$BENCHFS_REGISTRY"   # a killed server cannot remove it
start_servers 0 "$T/dir" --chunk-size 64K || exit 1
"$TOOL" check /a 1000000 1 || fail "/a after restart"
"$TOOL" check /b 65536 2 || fail "/b after restart"
"$TOOL" check /c 7 3 || fail "/c after restart"
# A file unlinked while open (an orphan) when the server is killed: after the
# restart nothing is open, so it dies and its chunks are freed (its reap
# entry is written and worked off by the restarted server).
chunks() { find "$T/dir" -path '*/data/*' -type f | wc -l; }
c0=$(chunks)
mkfifo "$T/held"
UCX_MEM_MMAP_HOOK_MODE=none BENCHFS_FUSE=0 with_preload timeout 60 python3 -c '
import os, sys, time
f = open("/benchfs/orphan", "wb")
f.write(os.urandom(1 << 20) * 3); f.flush()
os.unlink("/benchfs/orphan")
open(sys.argv[1], "w").write("held\n")
time.sleep(60)' "$T/held" &
holder=$!
read -r _ < "$T/held" || fail "holder did not start"
[ "$(chunks)" -gt "$c0" ] || fail "the orphan has no chunks"
pid=$SERVER_PID
kill -KILL "$pid"; wait "$pid" 2>/dev/null; SERVER_PID=
kill -KILL "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
rm -f "$BENCHFS_REGISTRY"
BENCHFS_LOG=info start_servers 0 "$T/dir" --chunk-size 64K || exit 1
timeout 60 "$top_builddir/tests/fs_semantics" reclaimed 20 || fail "orphan not reaped after restart"
[ "$(chunks)" = "$c0" ] || fail "orphan's chunks left after restart: $(chunks) files, $c0 before"
grep -q "reaper: 1 orphans from before the restart died" "$SERVER_LOG" || fail "the restarted server did not report the orphan"
"$TOOL" check /a 1000000 1 || fail "/a after the orphan's reaping"
echo "# ok an orphan of a killed server is reaped after its restart"
# The layout is part of the data: another chunk size is refused clearly.
stop_servers || fail "servers did not stop cleanly"
"$BENCHFSD" --dir "$T/dir" --registry "$T/reg2" --chunk-size 128K >"$T/bad.log" 2>&1 &
bad=$!
for _ in $(seq 100); do kill -0 $bad 2>/dev/null || break; sleep 0.1; done
if kill -0 $bad 2>/dev/null; then kill -KILL $bad; fail "server accepted another chunk size"; fi
wait $bad; [ $? -ne 0 ] || fail "server with the wrong layout exited 0"
grep -q "chunk size" "$T/bad.log" || fail "no clear message for the wrong layout"
echo "PASS: restart"
