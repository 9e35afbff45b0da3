#!/bin/bash
# A request runs once, also when its server rotated to a new UCX worker
# while the call waited (rpc_client.c, ask_where; docs/DESIGN.md "Client
# lifecycle"). A client asks where a server is after a call waited a second;
# before, a rotation's moved file made it send every waiting call again to
# the new worker, while the old one - which still serves its clients - ran
# the first copy: two APPENDs for one write (a hole of zeros, the file a
# record too long), a second CREATE after the directory went, a second UNREF.
#
# One server that rotates after every released client. A Python process
# under the preload appends a record (connected to the first worker); a
# short client comes and goes, the server rotates; the server is stopped
# (SIGSTOP), Python appends a second record, whose call waits 2.5 s and asks
# where; SIGCONT. The file must hold the two records, nothing else.
. "$(dirname "$0")/lib.sh"
export UCX_MEM_MMAP_HOOK_MODE=none BENCHFS_FUSE=0
export BENCHFS_RPC_ROTATE_AFTER=1 BENCHFS_RPC_ROTATE_MS=600000
: >"$SERVER_LOG"
BENCHFS_LOG=debug start_servers 0 "$T/d" --chunk-size 64K || exit 1
go="$T/go"; ready="$T/ready"
mkfifo "$go"
with_preload timeout 60 python3 - /benchfs/ap "$go" "$ready" >"$T/py" 2>&1 <<'PY' &
import os, sys
path, go, ready = sys.argv[1:4]
f = open(path, "ab", buffering=0)
f.write(b"a" * 100)
open(ready, "w").close()
open(go).read()
f.write(b"b" * 100)                   # waits while the server is stopped
f.close()
print("ok")
PY
py=$!
at_exit "kill $py 2>/dev/null; kill -CONT $SERVER_PID 2>/dev/null"
wait_until 10 test -e "$ready" || { cat "$T/py"; fail "the appender did not start"; }
with_preload stat /benchfs >/dev/null || fail "short client"
wait_until 5 grep -q "rotating to a new worker" "$SERVER_LOG" || fail "the server did not rotate"
kill -STOP "$SERVER_PID"
echo go >"$go"
sleep 2.5
kill -CONT "$SERVER_PID"
wait $py; rc=$?
[ $rc = 0 ] && grep -qx ok "$T/py" || { cat "$T/py"; fail "the appender failed (rc $rc)"; }
size=$(with_preload stat -c %s /benchfs/ap)
want=$(printf 'a%.0s' $(seq 100); printf 'b%.0s' $(seq 100))
got=$(with_preload cat /benchfs/ap | tr '\0' 'Z')
[ "$size" = 200 ] && [ "$got" = "$want" ] ||
    fail "after a rotation and a 2.5 s wait the file has $size bytes: $(echo "$got" | tr -s 'abZ' | head -c 40) (a request ran twice)"
echo "# ok: a call that waited across a rotation ran once (the file holds its two records)"
stop_servers || fail "the server did not stop cleanly"
echo "PASS: fs_rotation_once"
