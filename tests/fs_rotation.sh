#!/bin/bash
# A client that read the servers' addresses long ago and contacts a server
# for the first time after it rotated to a new UCX worker and destroyed the
# old one (rpc_server.c, rotate; docs/DESIGN.md "Client lifecycle"): its
# calls must reach the server at its new address, never fail. Seen: under
# valgrind in CI, fs_security_test's first call after a rotation got EIO
# (tcp) and a raw endpoint could not attach the old worker's segment (shared
# memory); a job's long-lived process that touched a server for the first
# time after that got ECONNREFUSED from a live server ("the servers of
# /benchfs cannot be reached"): this test, before the client took the newest
# address for a new endpoint (rpc_client.c, refresh_addr).
#
# Two servers that rotate after every released client. A Python process
# under the preload starts (reads the registry), stats the root (one server)
# and waits; short clients writing 8 files each come and go until old
# workers were destroyed; then Python creates, writes, reads back and
# removes 40 files (on both servers). Clients with shared memory, and with
# peer error detection (tcp).
. "$(dirname "$0")/lib.sh"
export UCX_MEM_MMAP_HOOK_MODE=none BENCHFS_FUSE=0
export BENCHFS_RPC_ROTATE_AFTER=1 BENCHFS_RPC_ROTATE_MS=600000
M=/benchfs/rot
for mode in shm peer; do
    # peer: the clients detect dead peers (BENCHFS_RPC_PEER_ERRORS=1, which
    # takes tcp); the servers keep their shared memory, which is what they
    # rotate workers for (tcp alone leaves nothing behind).
    pe=0
    [ $mode = peer ] && pe=1
    : >"$SERVER_LOG"
    BENCHFS_LOG=debug start_servers 2 "$T/d$mode" --chunk-size 64K || exit 1
    go="$T/go.$mode"
    mkfifo "$go"
    BENCHFS_RPC_PEER_ERRORS=$pe with_preload timeout 120 python3 - "$M" "$go" >"$T/py.$mode" 2>&1 <<'PY' &
import os, sys
m, go = sys.argv[1], sys.argv[2]
os.stat("/benchfs")                   # connected to the root's server only
open(go).read()
os.makedirs(m, exist_ok=True)
for i in range(40):
    p = "%s/f%02d" % (m, i)
    with open(p, "wb") as f:
        f.write(bytes([i]) * (100000 + i))
for i in range(40):
    p = "%s/f%02d" % (m, i)
    with open(p, "rb") as f:
        assert f.read() == bytes([i]) * (100000 + i), p
    os.unlink(p)
print("ok")
PY
    py=$!
    at_exit "kill $py 2>/dev/null"
    # Each short client is released at its exit; the servers rotate at their
    # next sweep (1 s) and destroy the old worker at the one after, once no
    # connection is left on it.
    for i in $(seq 6); do
        with_preload timeout 30 bash -c 'for j in 1 2 3 4 5 6 7 8; do echo $j >/benchfs/s$j; done' ||
            fail "$mode: short client $i"
        sleep 1
    done
    sleep 2
    rot=$(grep -c "rotating to a new worker" "$SERVER_LOG")
    gone=$(grep -c "an old worker destroyed" "$SERVER_LOG")
    [ "$gone" -ge 2 ] || fail "$mode: the servers destroyed $gone old workers, the test needs 2"
    echo go >"$go"
    wait $py; rc=$?
    [ $rc = 0 ] && grep -qx ok "$T/py.$mode" || { cat "$T/py.$mode"; fail "$mode: the long-lived client's first calls after a rotation failed (rc $rc)"; }
    echo "# ok $mode ($rot rotations, $gone old workers destroyed before): 40 files written, read back and removed after the servers rotated"
    stop_servers || fail "servers did not stop cleanly"
done
echo "PASS: first contact after a rotation"
