#!/bin/bash
# A client SIGKILLed in the middle of a stream of large writes.
#
# Three servers (default chunk size 1 MiB, default transports: shared memory
# without cma, see docs/DESIGN.md). A 32 MiB file is written with pattern A
# and fsync'd; then, several times, a client overwriting it with pattern B,
# then A, then B... in 4 MiB pwrite calls (each a rendezvous transfer of
# four 1 MiB pieces to three servers) is SIGKILLed at a random moment -
# first a client-API process, then dd under the preload library. After each
# kill:
#  - every server still answers (ping) and serves (the file reads back): a
#    kill that left a server's shared-memory receive queue stuck makes the
#    server move to a new UCX worker within seconds, and the reader follows;
#  - every 1 MiB chunk of the file is all-A or all-B (the promise is per
#    chunk piece of one write call: a server writes a piece with one
#    system call once all of it arrived; checked per 4 KiB page and per
#    chunk);
# and at the end the servers shut down cleanly (exit 0).
. "$(dirname "$0")/lib.sh"
heavy
FC="$top_builddir/tests/fault_client"
SIZE=$((32 << 20))
ROUNDS=${ROUNDS:-4}
t_begin=$(date +%s)
mid=0   # kills that left both old and new chunks: in the middle of a pass
start_servers 3 "$T/dir" || exit 1

# dump_stacks [PID...]: where each server (and each PID given) is: CPU
# time twice 1 s apart and every thread's stack, for a hang's post-mortem.
dump_stacks() {
    local r p i
    for p in $(server_pid 0) $(server_pid 1) $(server_pid 2) "$@"; do
        for i in 1 2; do
            echo "# pid $p ($(tr '\0' ' ' </proc/$p/cmdline | cut -c1-60)) utime+stime: $(awk '{print $14+$15}' /proc/$p/stat)"
            sleep 1
        done
        command -v gdb >/dev/null &&
            timeout 30 gdb -p "$p" -batch -ex "thread apply all bt" 2>/dev/null | grep -E "^#|^Thread" | sed "s/^/# $p /"
    done
}

alive() {
    if ! "$FC" pages /big $SIZE "$1" "$2" 4096 >"$T/pages.out" 2>&1 ||
        ! "$FC" pages /big $SIZE "$1" "$2" 1048576 >>"$T/pages.out" 2>&1; then
        cat "$T/pages.out"
        tail -40 "$SERVER_LOG"
        echo "# processes: $(ps -eo pid,ppid,stat,args | grep -E '[d]d if|[f]ault_client')"
        sleep 2
        echo "# read again 2 s later:"
        "$FC" pages /big $SIZE "$1" "$2" 1048576 2>&1 | sed 's/^/# /'
        # Where the servers are stuck, for the post-mortem.
        dump_stacks
        return 1
    fi
    sed 's/^/# /' "$T/pages.out"
    grep -qE "1048576-byte pieces: [1-9][0-9]* old, [1-9][0-9]* new" "$T/pages.out" && mid=$((mid + 1))
    for r in 0 1 2; do
        p=$(server_pid $r) || { echo "server rank $r is gone"; cat "$SERVER_LOG"; return 1; }
    done
}

for round in $(seq "$ROUNDS"); do
    b=$((round + 1))
    "$FC" write /big $SIZE 1 || fail "writing pattern A"
    # A new file each round: the background job's redirection truncates
    # it only once the child runs, and the last round's "writing" must not
    # be read as this one's.
    ow="$T/ow.$round.out"
    "$FC" overwrite /big $SIZE $b $((4 << 20)) 1 >"$ow" 2>&1 &
    pid=$!
    for _ in $(seq 600); do grep -q writing "$ow" 2>/dev/null && break; sleep 0.05; done
    grep -q writing "$ow" 2>/dev/null || { dump_stacks $pid; kill -KILL $pid; cat "$ow"; fail "the writer did not start"; }
    sleep "0.$((RANDOM % 300 + 20))"
    kill -KILL $pid
    wait $pid 2>/dev/null
    echo "# round $round: client-API writer (pattern $b) killed"
    alive 1 $b || fail "after killing a client-API writer"
done

# The same with dd under the preload library, copying host files of the
# two patterns (made by fault_client) over the file in turn.
# The copies out of BenchFS must equal the patterns written on the host.
for x in "patb 9" "pata 1"; do
    set -- $x
    "$FC" write /$1 $SIZE $2 || fail "writing /$1"
    "$FC" hostfile "$T/$1.ref" $SIZE $2 || fail "host file $1"
    LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" BENCHFS_MOUNT=/benchfs cp /benchfs/$1 "$T/$1" ||
        fail "copying /benchfs/$1 out"
    cmp "$T/$1.ref" "$T/$1" || fail "cp under the preload read wrong bytes from /benchfs/$1"
done
"$FC" write /big $SIZE 1 || fail "writing pattern A"
for round in $(seq "${DD_ROUNDS:-2}"); do
    (
        export LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" BENCHFS_MOUNT=/benchfs
        while :; do
            for src in patb pata; do
                dd if="$T/$src" of=/benchfs/big bs=4M conv=notrunc status=none || exit 1
            done
        done
    ) &
    loop=$!
    sleep "0.$((RANDOM % 500 + 100))"
    dd_pid=
    for _ in $(seq 100); do
        dd_pid=$(pgrep -P $loop -x dd) && break
        kill -0 $loop 2>/dev/null || break
        sleep 0.01
    done
    [ -n "$dd_pid" ] && kill -KILL $dd_pid
    kill -KILL $loop 2>/dev/null
    wait $loop 2>/dev/null
    [ -n "$dd_pid" ] || fail "no dd running in round $round (the dd loop failed?)"
    echo "# preload round $round: dd killed"
    alive 1 9 || fail "after killing dd"
done

echo "# $mid of $((ROUNDS + 2)) kills landed in the middle of a pass (old and new chunks)"
# A kill in the middle of writing a message into a server's shared-memory
# receive queue leaves it stuck: the server moves to a new worker and the
# clients follow (rpc_server.c, check_stuck; tests/fault_server_move.sh).
echo "# $(grep -c 'moving to a new UCX worker' "$SERVER_LOG") server move(s) after a stuck receive queue"
stop_servers || fail "servers did not shut down cleanly after their clients were killed"
echo "PASS: clients killed mid-write: servers unaffected, every chunk old or new ($(($(date +%s) - t_begin)) s)"
