#!/bin/bash
# A server SIGKILLed while clients write and read, then the job restarted.
#
# Three servers under mpirun --enable-recovery (without it mpirun aborts the
# whole job when one process dies), chunk size 64 KiB, RPC deadline 2 s.
# Before the kill: files whose metadata and chunks all avoid the victim
# (rank 1; common/placement.h), files spread over every server (fsync'd),
# and files only closed. During the kill: four client-API processes and one
# shell loop of dd/cat under the preload library write and read files
# spread over every server. Checked:
#  - every client call returns, successfully or with EIO / ETIMEDOUT /
#    ECONNRESET / ECONNREFUSED, within the deadline plus 1 s; no client
#    hangs (each is waited for with a bound);
#  - the two other servers keep serving the files that avoid the victim:
#    read, stat, readdir, create, write, fsync, unlink;
#  - a survivor's log names the dead server (rank, host, pid): the peer
#    watchdog; mpirun itself says nothing with --enable-recovery;
#  - the survivors shut down cleanly;
#  - the whole job restarted on the same --dir (one rank of an mpirun job
#    cannot be restarted alone) serves every file fsync'd or closed before
#    the kill, byte for byte.
. "$(dirname "$0")/lib.sh"
heavy
FC="$top_builddir/tests/fault_client"
export BENCHFS_RPC_TIMEOUT_MS=2000
LIMIT_MS=3000           # deadline + 1 s for one call
VICTIM=1
SIZE=300000             # 5 chunks of 64 KiB: on every server
SSIZE=100000            # 2 chunks: chunks go round robin, so only files of
                        # at most N-1 chunks can avoid a server
STRESS_S=12
t_begin=$(date +%s)

MPIRUN_ARGS=--enable-recovery start_servers 3 "$T/dir" --chunk-size 64K || exit 1
vpid=$(server_pid $VICTIM) || fail "no pid for server rank $VICTIM"

safe=$("$FC" pickdir /safe $VICTIM) || fail "pickdir"
"$FC" mkfiles "$safe" 6 $SSIZE 11 $VICTIM >"$T/safe.list" || fail "files avoiding rank $VICTIM"
"$FC" mkfiles /all 6 $SIZE 12 -1 >"$T/all.list" || fail "files on every server"
"$FC" mkfiles /closed 6 $SIZE 13 -1 --no-fsync >"$T/closed.list" || fail "closed files"
echo "# files avoiding rank $VICTIM in $safe:" $(cat "$T/safe.list")

# Clients at work: the client API...
spids=""
for i in 1 2 3 4; do
    "$FC" stress /stress$i $STRESS_S $LIMIT_MS >"$T/stress$i.out" 2>&1 &
    spids="$spids $!"
done
# ...and the preload library (dd and cat, each call timed).
head -c 524288 /dev/urandom >"$T/src"
(
    export LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" BENCHFS_MOUNT=/benchfs
    end=$(($(date +%s) + STRESS_S))
    n=0
    while [ "$(date +%s)" -lt $end ]; do
        n=$((n + 1))
        for cmd in "dd if=$T/src of=/benchfs/pl bs=64K conv=fsync status=none" \
                   "cat /benchfs/pl"; do
            t0=$(date +%s%N)
            timeout 20 $cmd >/dev/null 2>"$T/pl.err"
            rc=$?
            ms=$((($(date +%s%N) - t0) / 1000000))
            echo "$rc $ms $(head -c 300 "$T/pl.err" | tr '\n' ' ') :: $cmd"
        done
    done
) >"$T/preload.out" 2>&1 &
ppid_=$!

sleep 4
echo "# killing server rank $VICTIM (pid $vpid) with SIGKILL"
kill -KILL "$vpid"
t_kill=$(date +%s%N)

# Every client finishes on its own, none hangs.
for p in $spids $ppid_; do
    for _ in $(seq $(((STRESS_S + 20) * 10))); do kill -0 $p 2>/dev/null || break; sleep 0.1; done
    if kill -0 $p 2>/dev/null; then
        kill -KILL $p
        fail "a client (pid $p) hangs"
    fi
done
rc=0
for i in 1 2 3 4; do
    cat "$T/stress$i.out"
    grep -q "0 over the limit, 0 with an unexpected error" "$T/stress$i.out" || rc=1
done
[ $rc = 0 ] || fail "a client-API call took longer than ${LIMIT_MS} ms or failed wrongly"
grep -q " errors (last: " "$T/stress1.out" || fail "stress1 printed no summary"
grep -qE "ok, [1-9][0-9]* errors" "$T/stress"*.out || fail "no client saw the dead server"

# Preload: exit status 0, or a failure with one of the expected messages, in bounded time.
awk -v lim=$((2 * LIMIT_MS)) '
    { n++ }
    $1 == 124 { print "hang: " $0; bad++ }
    $1 != 0 && $1 != 124 && !/(Input\/output error|Connection timed out|Connection reset|Connection refused)/ {
        print "unexpected failure: " $0; bad++ }
    $2 > lim { print "slow: " $0; bad++ }
    $1 != 0 { errs++ }
    END { printf "# preload: %d commands, %d failed, longest within the limits: %s\n", n, errs, bad ? "no" : "yes"; exit bad ? 1 : 0 }
' "$T/preload.out" || { cat "$T/preload.out"; fail "preload clients"; }
grep -v "^0 " "$T/preload.out" | head -3 | sed 's/^/# preload failure: /'

# The survivors serve what avoids the victim.
t0=$(date +%s%N)
"$FC" verify "$safe" $SSIZE 11 6 || fail "files avoiding the dead server"
sub=$("$FC" pickdir "$safe/new" $VICTIM) || fail "pickdir"
"$FC" mkfiles "$sub" 3 $SSIZE 14 $VICTIM >/dev/null || fail "new files avoiding the dead server"
"$FC" verify "$sub" $SSIZE 14 3 || fail "new files avoiding the dead server"
echo "# survivors served reads, creates, writes, fsyncs in $((($(date +%s%N) - t0) / 1000000)) ms"

# The launcher's output names the dead server.
for _ in $(seq 100); do
    grep -q "server rank $VICTIM of 3 (host .* pid $vpid) does not answer" "$SERVER_LOG" && break
    sleep 0.1
done
grep "does not answer" "$SERVER_LOG" | head -2 | sed 's/^/# log: /'
grep -q "server rank $VICTIM of 3 (host .* pid $vpid) does not answer" "$SERVER_LOG" ||
    fail "no survivor reported the dead server"
echo "# reported $((($(date +%s%N) - t_kill) / 1000000)) ms or less after the kill"

# Survivors shut down cleanly (the shutdown of the dead one fails).
timeout 20 "$top_builddir/tests/fs_tool" shutdown >>"$SERVER_LOG" 2>&1
for _ in $(seq 200); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVER_PID" 2>/dev/null && fail "survivors did not shut down"
wait "$SERVER_PID"
mrc=$?
SERVER_PID=
[ $mrc = 0 ] || fail "mpirun exited $mrc"
grep -qE "exiting after an error|AddressSanitizer|runtime error:" "$SERVER_LOG" &&
    fail "a survivor did not exit cleanly: $(cat "$SERVER_LOG")"

# Restart the whole job on the same directory: all fsync'd and closed data is there.
echo "# restarting the three servers on $T/dir"
start_servers 3 "$T/dir" --chunk-size 64K || fail "restart"
"$FC" verify "$safe" $SSIZE 11 6 || fail "files avoiding the victim after the restart"
"$FC" verify /all $SIZE 12 6 || fail "fsync'd files after the restart"
"$FC" verify /closed $SIZE 13 6 || fail "closed files after the restart"
"$FC" verify "$sub" $SSIZE 14 3 || fail "files made while rank $VICTIM was dead"
stop_servers || fail "servers did not stop cleanly after the restart"
echo "PASS: server killed: bounded errors, survivors serve, dead rank reported, data back after restart ($(($(date +%s) - t_begin)) s)"
