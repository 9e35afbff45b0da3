#!/bin/bash
# Load: many client processes at once, and one huge directory.
#
# Three servers under mpirun (on this 2-core machine: oversubscribed), then
#  1. 64 client processes at once, each creating FILES files in a directory
#     of its own and writing 16 MiB in all into them, then reading every
#     file back and verifying it;
#  2. one directory with ENTRIES entries (made by 8 processes at once),
#     listed completely (client API and `ls -f` under the preload library:
#     every name exactly once), then removed (8 processes) and found empty.
# FILES=1000 (64,000 files) and ENTRIES=100000: the full size runs in make
# check (about 45 s here); LOAD_FILES=N makes it smaller, and says so.
# Times are printed; each phase must finish within BUDGET seconds.
. "$(dirname "$0")/lib.sh"
heavy
FC="$top_builddir/tests/fault_client"
CLIENTS=64
BYTES=$((16 << 20))
ENTRIES=100000 BUDGET=600
FILES=${LOAD_FILES:-1000}
if [ "$FILES" != 1000 ]; then
    echo "#"
    echo "# NOTE: REDUCED SIZE (LOAD_FILES=$FILES): $CLIENTS clients x $FILES files, not x 1000."
    echo "#"
fi
t_begin=$(date +%s)
start_servers 3 "$T/dir" || exit 1

# Wait for every pid in $1 with the time budget; fail on a hang or an error.
wait_all() {
    local what=$1 end=$(($(date +%s) + BUDGET)) p rc=0
    shift
    for p in "$@"; do
        while kill -0 "$p" 2>/dev/null; do
            if [ "$(date +%s)" -ge $end ]; then
                kill -KILL "$@" 2>/dev/null
                fail "$what: not finished within ${BUDGET} s"
            fi
            sleep 0.2
        done
        wait "$p" || rc=1
    done
    [ $rc = 0 ] || fail "$what: a client failed"
}

# 1. 64 clients.
t0=$(date +%s.%N)
pids=()
for i in $(seq $CLIENTS); do
    "$FC" load /c$i $FILES $BYTES $((i % 250 + 1)) >"$T/load$i.out" 2>&1 &
    pids+=($!)
done
wait_all "$CLIENTS load clients" "${pids[@]}" || exit 1
t1=$(date +%s.%N)
cat "$T"/load*.out | awk '{ w += $(NF-5); v += $(NF-1); n++ } END {
    printf "# per client: writing %.1f s, verifying %.1f s on average (%d clients)\n", w/n, v/n, n }'
awk -v a="$t0" -v b="$t1" -v n=$((CLIENTS * FILES)) -v mb=$((CLIENTS * BYTES >> 20)) 'BEGIN {
    s = b - a; printf "# %d clients: %d files, %d MiB written and verified in %.1f s (%.0f files/s, %.0f MiB/s each way)\n",
    '"$CLIENTS"', n, mb, s, 2 * n / s, 2 * mb / s }'

# 2. A directory of ENTRIES entries.
LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" BENCHFS_MOUNT=/benchfs mkdir /benchfs/big || fail "mkdir /big"
per=$((ENTRIES / 8))
t0=$(date +%s.%N)
pids=()
for i in $(seq 0 7); do
    "$FC" mkmany /big $((i * per)) $per >"$T/mk$i.out" 2>&1 &
    pids+=($!)
done
wait_all "creating $ENTRIES entries" "${pids[@]}" || { cat "$T"/mk*.out; exit 1; }
t1=$(date +%s.%N)
"$FC" count /big $ENTRIES || fail "listing $ENTRIES entries (client API)"
t2=$(date +%s.%N)
n=$(LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" BENCHFS_MOUNT=/benchfs ls -f /benchfs/big | grep -c '^e')
t3=$(date +%s.%N)
[ "$n" = "$ENTRIES" ] || fail "ls -f listed $n entries, not $ENTRIES"
pids=()
for i in $(seq 0 7); do
    "$FC" rmmany /big $((i * per)) $per >"$T/rm$i.out" 2>&1 &
    pids+=($!)
done
wait_all "removing $ENTRIES entries" "${pids[@]}" || { cat "$T"/rm*.out; exit 1; }
t4=$(date +%s.%N)
"$FC" count /big 0 >/dev/null || fail "the directory is not empty after removing everything"
LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" BENCHFS_MOUNT=/benchfs rmdir /benchfs/big || fail "rmdir /big"
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" -v n=$ENTRIES 'BEGIN {
    printf "# directory of %d entries: created in %.1f s (8 processes, %.0f/s), listed in %.2f s (API) and %.2f s (ls -f, preload), removed in %.1f s (%.0f/s)\n",
    n, b - a, n / (b - a), c - b, d - c, e - d, n / (e - d) }'

stop_servers || fail "servers did not stop cleanly"
echo "PASS: load ($(($(date +%s) - t_begin)) s)"
