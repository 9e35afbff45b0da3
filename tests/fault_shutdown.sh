#!/bin/bash
# Shutdown keeps what was acknowledged (docs/PROMISES.md): 8 writer
# processes write records and log every write that returned success; the
# servers get SIGTERM in the middle of it; restarted on the same --dir,
# every logged record reads back byte for byte. With 1 standalone server
# and with 2 under mpirun (sizes and chunking: tests/shut_writer.c).
. "$(dirname "$0")/lib.sh"
W="$top_builddir/tests/shut_writer"
export BENCHFS_RPC_TIMEOUT_MS=5000
WRITERS=8

# round N: servers (0: one standalone), writers, SIGTERM, restart, check.
round() {
    local n=$1 dir="$T/dir$1" pids=() i p
    start_servers "$n" "$dir" --chunk-size 64K || exit 1
    for i in $(seq 0 $((WRITERS - 1))); do
        timeout 90 "$W" write "$i" "$T/log$n.$i" >"$T/out$n.$i" 2>>"$T/writers$n.log" &
        pids+=($!)
    done
    for _ in $(seq 200); do
        local ready=0
        for i in $(seq 0 $((WRITERS - 1))); do
            grep -q ready "$T/out$n.$i" 2>/dev/null && ready=$((ready + 1))
        done
        [ $ready -eq $WRITERS ] && break
        sleep 0.05
    done
    [ "${ready:-0}" -eq $WRITERS ] || { cat "$T/writers$n.log"; fail "writers did not start ($ready of $WRITERS)"; }
    sleep 1
    # SIGTERM to the servers themselves (not to mpirun), all at once.
    local spids=()
    if [ "$n" = 0 ]; then
        spids=("$SERVER_PID")
    else
        for r in $(seq 0 $((n - 1))); do
            p=$(server_pid "$r") || fail "no pid for server $r"
            spids+=("$p")
        done
    fi
    kill -TERM "${spids[@]}"
    for _ in $(seq 200); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$SERVER_PID" 2>/dev/null && fail "servers did not exit within 20 s of SIGTERM"
    wait "$SERVER_PID" 2>/dev/null
    local src=$?
    SERVER_PID=
    for p in "${pids[@]}"; do wait "$p"; done
    # A clean shutdown: exit 0, every request received answered (none left
    # "in flight"), no handler run on a closed store (a crash).
    if [ $src -ne 0 ] || grep -E "AddressSanitizer|runtime error:|in flight|unfinished|cancel|signal 11|Segmentation" "$SERVER_LOG"; then
        tail -20 "$SERVER_LOG"
        fail "servers $n: unclean shutdown on SIGTERM (exit $src)"
    fi
    local acked=0
    for i in $(seq 0 $((WRITERS - 1))); do acked=$((acked + $(wc -l <"$T/log$n.$i"))); done
    echo "servers $n: $acked writes acknowledged before SIGTERM"
    [ $acked -gt 0 ] || fail "no write acknowledged"
    rm -f "$BENCHFS_REGISTRY"
    start_servers "$n" "$dir" --chunk-size 64K || exit 1
    local bad=0
    for i in $(seq 0 $((WRITERS - 1))); do
        timeout 60 "$W" check "$i" "$T/log$n.$i" || bad=1
    done
    stop_servers || fail "restarted servers did not stop cleanly"
    [ $bad -eq 0 ] || fail "servers $n: acknowledged writes lost over SIGTERM and restart"
}

round 0
round 2
echo "PASS: shutdown keeps what was acknowledged"
