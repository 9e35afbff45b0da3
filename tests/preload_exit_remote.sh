#!/bin/bash
# A process the servers see as on another node (a pid namespace of its own,
# tcp, as between nodes: no pidfd can watch it) that exits normally leaves
# nothing behind at once (issue 13 part 1): the library says GOODBYE from
# its destructor. With the servers' idle limit at 60 s and the remote hold at
# its default 10 min, both checks below could only pass by the GOODBYE:
#  - 12 short preloaded programs (coreutils, python) come and go: every
#    connection they made is released by their GOODBYE within 3 s;
#  - a python process writes a scratch file, unlinks it and exits with it
#    still open: its space comes back within 10 s;
#  - a stdio stream left unflushed at exit still lands.
# A remote process that _exits (no GOODBYE) must not leave its connection
# record to the next client that UCX gives its freed endpoint to.
# A tcp-only program prints no UCX warning about shared-memory settings.
# And what must not happen: a forked child that exits normally (with or
# without using the inherited file first) speaks only for itself, never for
# its parent, which keeps reading its unlinked file afterwards.
. "$(dirname "$0")/lib.sh"
command -v unshare >/dev/null || fail "unshare (util-linux) is needed"
unshare -p -f true 2>/dev/null || fail "unshare -p does not work here (root needed)"
export UCX_MEM_MMAP_HOOK_MODE=none BENCHFS_FUSE=0
M=/benchfs/ex
LATE_SO="$top_builddir/tests/.libs/libexitlate.so"
[ -f "$LATE_SO" ] || fail "$LATE_SO not built"
remote() { UCX_TLS=tcp,self with_preload timeout 60 unshare -p -f "$@"; }
for n in 1 2; do
    d="$T/d$n"
    : >"$SERVER_LOG"
    BENCHFS_LOG=debug BENCHFS_RPC_SERVER_IDLE_MS=60000 start_servers "$n" "$d" --chunk-size 64K || exit 1
    with_preload mkdir -p $M || fail "mkdir"
    echo data | with_preload tee $M/f >/dev/null || fail "write $M/f"
    # Each remote program is pid 1 in its namespace: its connections are
    # the HELLOs naming pid 1 (the servers' connections to each other and
    # the local helpers have other pids), each released by its GOODBYE.
    at=$(wc -l <"$SERVER_LOG")
    for i in 1 2 3 4; do
        remote stat $M/f >/dev/null 2>"$T/stat.err" || fail "$n servers: stat $i"
        # tcp only: no shared-memory settings that UCX would call invalid.
        ! grep -q 'invalid configuration' "$T/stat.err" ||
            fail "$n servers: a tcp-only program printed: $(cat "$T/stat.err")"
        remote cat $M/f >/dev/null || fail "$n servers: cat $i"
        remote python3 -c "import sys; open(sys.argv[1], 'a').write('x')" $M/f || fail "$n servers: python $i"
    done
    hellos=0 byes=0
    for _ in $(seq 30); do
        hellos=$(tail -n +$((at + 1)) "$SERVER_LOG" | grep -c 'hello from a client (.*, pid 1)$')
        byes=$(tail -n +$((at + 1)) "$SERVER_LOG" | grep -c 'connection released (goodbye, pid 1)')
        [ "$hellos" -ge 12 ] && [ "$byes" = "$hellos" ] && break
        sleep 0.1
    done
    [ "$hellos" -ge 12 ] || fail "$n servers: 12 remote programs made $hellos connections"
    [ "$byes" = "$hellos" ] || fail "$n servers: 12 remote programs exited, $byes of their $hellos connections released by a GOODBYE after 3 s"
    echo "# ok $n servers: 12 remote programs exited, all $hellos of their connections released by their GOODBYE"

    # The unlinked scratch file of a process that exits with it open.
    remote python3 - $M <<'PY' || fail "$n servers: scratch writer"
import os, sys
f = open(sys.argv[1] + "/scratch", "wb")
f.write(os.urandom(1 << 20))
f.flush()
os.unlink(sys.argv[1] + "/scratch")
# exits with f open: no close, only the exit
PY
    # A stdio stream left unflushed at exit: glibc's own flush comes after
    # every destructor (UCX's too); the library writes it out before its
    # GOODBYE.
    remote "$top_builddir/tests/preload_posix_test" exitflush $M/flushed ||
        fail "$n servers: exitflush"
    [ "$(with_preload cat $M/flushed)" = "flushed at exit" ] ||
        fail "$n servers: a stream left unflushed at exit lost its data"
    echo "# ok $n servers: a stream left unflushed at exit landed"
    # A write from a destructor that runs after the library's (a second
    # preloaded object): an error, no crash, no silent success.
    EXIT_LATE_FD=7 UCX_TLS=tcp,self timeout 60 unshare -p -f env LD_PRELOAD="$PRELOAD $LATE_SO" \
        ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" bash -c "exec 7>$M/late; echo early >&7" 2>"$T/late.err" ||
        { cat "$T/late.err"; fail "$n servers: the late writer exited $?"; }
    grep -q 'late write: -1 Cannot send after transport endpoint shutdown' "$T/late.err" ||
        { cat "$T/late.err"; fail "$n servers: a write after the library's exit did not fail with ESHUTDOWN"; }
    [ "$(with_preload cat $M/late)" = "early" ] || fail "$n servers: the early write is not there"
    echo "# ok $n servers: a write after the library's exit fails with ESHUTDOWN"
    with_preload rm -rf $M || fail "rm"
    timeout 30 "$top_builddir/tests/fs_semantics" reclaimed 10 ||
        fail "$n servers: the unlinked file of a remote process that exited was not reclaimed in 10 s"
    echo "# ok $n servers: a remote process's unlinked file reclaimed after its exit"

    # Forked children exit normally; the parent keeps its unlinked file.
    with_preload mkdir -p $M || fail "mkdir"
    remote python3 - $M <<'PY' >"$T/fork$n.out" 2>&1 || { cat "$T/fork$n.out"; fail "$n servers: a forked child's exit took its parent's file"; }
import os, sys, time
block = os.urandom(1 << 16)
f = open(sys.argv[1] + "/held", "w+b")
f.write(block * 4)
f.flush()
os.unlink(sys.argv[1] + "/held")
for use in (False, True):
    pid = os.fork()
    if pid == 0:
        if use:
            f.seek(0)
            assert f.read(len(block)) == block, "child read"
        sys.exit(0)              # a normal exit: destructors run
    _, st = os.waitpid(pid, 0)
    assert st == 0, "child %s exited %d" % (use, st)
    time.sleep(1.5)              # a release would be reaped by now
    f.seek(0)
    assert f.read() == block * 4, "parent lost its unlinked file after a child (use=%s)" % use
print("ok")
PY
    grep -qx ok "$T/fork$n.out" || { cat "$T/fork$n.out"; fail "$n servers: fork check"; }
    echo "# ok $n servers: forked children's exits left the parent's unlinked file alone"
    with_preload rm -rf $M || fail "rm"
    timeout 30 "$top_builddir/tests/fs_semantics" reclaimed 10 || fail "$n servers: not reclaimed after the forking holder"

    # A remote process that leaves without a GOODBYE (_exit): UCX frees the
    # server's endpoint of its tcp connection and gives the memory to the
    # next client. That client - here one on this node, killed holding an
    # unlinked file - must get a connection of its own (its pid watched),
    # not the gone one's: its file comes back at once.
    with_preload mkdir -p $M || fail "mkdir"
    remote python3 -c "import os, sys; os.stat(sys.argv[1]); os._exit(0)" $M || fail "$n servers: _exit"
    with_preload python3 - $M <<'PY' && fail "$n servers: the killed holder was not killed"
import os, signal, sys
f = open(sys.argv[1] + "/killed", "wb")
f.write(os.urandom(1 << 20))
f.flush()
os.unlink(sys.argv[1] + "/killed")
os.kill(os.getpid(), signal.SIGKILL)
PY
    with_preload rm -rf $M || fail "rm"
    timeout 30 "$top_builddir/tests/fs_semantics" reclaimed 10 ||
        fail "$n servers: a local holder killed after a remote _exit was not reclaimed in 10 s"
    echo "# ok $n servers: after a remote _exit, the next client got a connection of its own"
    stop_servers || fail "servers did not stop cleanly ($n servers)"
    left=$(find "$d" -path '*/data/*' -type f | wc -l)
    [ "$left" = 0 ] || fail "$n servers: $left chunk files left"
done
echo "PASS: preload_exit_remote"
