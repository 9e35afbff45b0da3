#!/bin/bash
# Threads sharing one benchfs_t under ThreadSanitizer (tests/tsan_client_test,
# built with -fsanitize=thread by tests/sanitizers.mk) against 2 real
# servers (mpirun), over shared memory (peer_errors=0) and over tcp with UCX
# peer error handling (peer_errors=1): fails on any data race ThreadSanitizer
# reports, and on any wrong result. tests/tsan.supp may list UCX internals
# only (it lists none today).
. "$(dirname "$0")/lib.sh"
BIN="$top_builddir/tests/tsan_client_test"
[ -x "$BIN" ] || fail "$BIN not built (make check builds it)"
start_servers 2 "$T/dir" --chunk-size 64K || exit 1
export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 \
suppressions=$top_srcdir/tests/tsan.supp ${TSAN_OPTIONS:-}"
# UCX's memory hooks (libucm) intercept madvise(); glibc calls it while a
# thread exits, after TSan has torn down that thread's state, and TSan's
# rwlock interceptor then crashes (SIGSEGV in __tsan::MutexPreReadLock from
# ucm_madvise). No hooks: nothing here registers memory with UCX anyway.
export UCX_MEM_MMAP_HOOK_MODE=none
for pe in 0 1; do
    BENCHFS_RPC_PEER_ERRORS=$pe timeout 300 "$BIN" 6 12 "/tsan$pe" >"$T/tsan$pe.out" 2>&1
    rc=$?
    echo "# peer_errors=$pe: exit $rc"
    cat "$T/tsan$pe.out"
    [ $rc -ne 66 ] && ! grep -q "ThreadSanitizer" "$T/tsan$pe.out" ||
        fail "ThreadSanitizer reported a problem (peer_errors=$pe)"
    [ $rc -eq 0 ] || fail "tsan_client_test exit $rc (peer_errors=$pe)"
done
stop_servers || fail "server did not stop cleanly"
echo "PASS: 6 threads on one benchfs_t, no data race, both transports"
