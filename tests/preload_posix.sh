#!/bin/bash
# POSIX behaviour of the preload library (preload_posix_test), and what an
# application sees when the servers cannot be reached.
. "$(dirname "$0")/lib.sh"
start_servers 1 "$T/dir" --chunk-size 64K || exit 1
# As benchfs-run does: without UCX's mmap hook the library sees mmap calls.
UCX_MEM_MMAP_HOOK_MODE=none LD_PRELOAD="$PRELOAD" "$top_builddir/tests/preload_posix_test" || fail "preload_posix_test"
cp "$BENCHFS_REGISTRY" "$T/dead-registry"
stop_servers || fail "servers did not stop cleanly"
# Dead servers: a clear error within the deadline, one line on stderr, no hang.
start=$(date +%s)
BENCHFS_REGISTRY="$T/dead-registry" BENCHFS_RPC_TIMEOUT_MS=1000 \
    with_preload timeout 30 cat /benchfs/x 2>"$T/err"; rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "cat on dead servers: exit $rc"
[ $(( $(date +%s) - start )) -le 10 ] || fail "too slow to fail on dead servers"
grep -q "benchfs: the servers of /benchfs cannot be reached" "$T/err" || { cat "$T/err"; fail "no clear error"; }
# No registry at all: one clear line.
BENCHFS_REGISTRY="$T/missing" with_preload timeout 30 ls /benchfs 2>"$T/err2"
[ $? -ne 0 ] || fail "ls without servers succeeded"
grep -q "cannot use /benchfs" "$T/err2" || { cat "$T/err2"; fail "no explanation without servers"; }
# Local files are untouched by the library.
echo local > "$T/local.txt"
[ "$(with_preload cat "$T/local.txt")" = local ] || fail "local file through the library"
echo "PASS: POSIX behaviour"
