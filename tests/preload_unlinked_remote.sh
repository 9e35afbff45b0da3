#!/bin/bash
# Unlinked while open, held by a process the servers see as on another node
# (issue 11 part 2): a holder in a pid namespace of its own (unshare -p;
# tcp, as between nodes) creates a scratch file, unlinks it and keeps using
# it while the servers rotate to new UCX workers (after every released
# client here) and the holder follows them (GOODBYE, new endpoint) and
# closes idle endpoints (BENCHFS_RPC_IDLE_MS 500 ms): its reads and writes
# must go on, never ESTALE. Once it exited (its connection released as idle)
# the servers reclaim the file.
. "$(dirname "$0")/lib.sh"
command -v unshare >/dev/null || fail "unshare (util-linux) is needed"
unshare -p -f true 2>/dev/null || fail "unshare -p does not work here (root needed)"
export UCX_MEM_MMAP_HOOK_MODE=none BENCHFS_FUSE=0
M=/benchfs/rh
for n in 1 2; do
    d="$T/d$n"
    : >"$SERVER_LOG"
    # The servers release an idle connection after 3 s here (120 s by
    # default) and keep a remote process's references 15 s more (10 min):
    # how a process elsewhere that exited is noticed without peer error
    # detection, and then its references go. The holder's wait (about 6 s)
    # is longer than the idle limit, shorter than both.
    BENCHFS_LOG=debug BENCHFS_RPC_ROTATE_AFTER=1 BENCHFS_RPC_SERVER_IDLE_MS=3000 BENCHFS_REMOTE_HOLD_MS=15000 \
        start_servers "$n" "$d" --chunk-size 64K || exit 1
    with_preload mkdir -p $M || fail "mkdir"
    go="$T/go$n"; ready="$T/ready$n"
    mkfifo "$go"
    UCX_TLS=tcp,self BENCHFS_RPC_IDLE_MS=500 with_preload timeout 120 unshare -p -f \
        python3 - "$M" "$go" "$ready" >"$T/holder$n.out" 2>&1 <<'PY' &
import os, sys
m, go, ready = sys.argv[1:4]
assert os.getpid() <= 2, "not in a pid namespace of its own: %d" % os.getpid()
block = bytes(range(256)) * 256              # 64 KiB: one chunk
f = open(m + "/scratch", "w+b")
for i in range(32):
    f.write(block[i:] + block[:i])
f.flush()
os.unlink(m + "/scratch")
assert not os.path.exists(m + "/scratch")
open(ready, "w").close()
open(go).read()                               # the servers rotated meanwhile
f.seek(0)
for i in range(32):
    got = f.read(len(block))
    assert got == block[i:] + block[:i], "chunk %d after the rotations: %d bytes" % (i, len(got))
f.write(b"tail")
f.flush()
assert os.fstat(f.fileno()).st_size == 32 * len(block) + 4
f.close()
print("ok")
PY
    holder=$!
    at_exit "kill $holder 2>/dev/null"
    wait_until 10 test -e "$ready" || { cat "$T/holder$n.out"; fail "$n servers: the holder did not start"; }
    # Short clients come and go: each release makes the servers rotate at
    # their next sweep (1 s); the holder's next calls follow the rotation.
    for i in 1 2 3 4; do
        with_preload timeout 30 bash -c "for j in 1 2 3 4; do echo \$j > $M/s\$j; done" ||
            fail "$n servers: short client $i"
        sleep 1.2
    done
    rot=$(grep -c "rotating to a new worker" "$SERVER_LOG")
    [ "$rot" -ge 2 ] || fail "$n servers: the servers rotated $rot times, the test needs 2"
    echo go >"$go"
    wait $holder; rc=$?
    [ $rc = 0 ] && grep -qx ok "$T/holder$n.out" ||
        { cat "$T/holder$n.out"; fail "$n servers: the remote holder lost its unlinked file (rc $rc)"; }
    echo "# ok $n servers: a holder in another pid namespace kept its unlinked file over $rot rotations"
    with_preload rm -rf $M || fail "rm"
    timeout 90 "$top_builddir/tests/fs_semantics" reclaimed 60 || { grep -E "pid [12]\b|open files|elsewhere" "$SERVER_LOG" | tail -20; fail "$n servers: not reclaimed"; }
    stop_servers || fail "servers did not stop cleanly ($n servers)"
    left=$(find "$d" -path '*/data/*' -type f | wc -l)
    [ "$left" = 0 ] || fail "$n servers: $left chunk files left"
    echo "# ok $n servers: reclaimed after the holder exited"
done
echo "PASS: preload_unlinked_remote"
