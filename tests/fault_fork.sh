#!/bin/bash
# fork is safe in every order (docs/PROMISES.md): the first BenchFS use only
# in the child, fork while another thread initialises clients, fork right
# after a call with the child's first call at once (2,000 times on a loaded
# machine: FORK_AFTER_N), fork while threads do I/O (the child reconnects and
# reads through the inherited handle), parent and child writing through one
# inherited descriptor; no child hangs (each is bounded by alarm), and no
# connection is left on the servers per child. Client API and preload
# library, 3 servers (with 2 the fork-after-a-call hang did not show in 1,500
# forks, with 3 in 4 of 1,500).
. "$(dirname "$0")/lib.sh"
# Two busy loops for the length of the test: the fork-after-a-call case hung
# only on a loaded machine (UCX's async thread caught at the fork).
LOAD=""
for _ in 1 2; do timeout 300 sh -c 'while :; do :; done' & LOAD="$LOAD $!"; done
at_exit "kill $LOAD 2>/dev/null"
# With the servers' default worker rotation: 2,000 children's shared memory
# is released as they go (the node has 4,096 SysV segments).
start_servers 3 "$T/after" --chunk-size 64K || exit 1
# (a sanitized fork copies ASan's shadow mappings: fewer forks there)
[ "$PRELOAD_SANITIZED" = 1 ] && : "${FORK_AFTER_N:=500}"
timeout 250 "$top_builddir/tests/fork_safety" after "${FORK_AFTER_N:-2000}" ||
    fail "fork right after a call"
stop_servers || fail "servers did not stop cleanly"
# No worker rotation for the rest: after one, a client's connection on the
# old worker is counted until that worker drains ("Client lifecycle"),
# which would hide or fake a connection left by a child.
export BENCHFS_RPC_ROTATE_MS=600000 BENCHFS_RPC_ROTATE_AFTER=1000000
start_servers 3 "$T/dir" --chunk-size 64K || exit 1
timeout 160 "$top_builddir/tests/fork_safety" api || fail "fork through the client API"
UCX_MEM_MMAP_HOOK_MODE=none LD_PRELOAD="$PRELOAD" timeout 160 \
    "$top_builddir/tests/fork_preload" preload /benchfs || fail "fork through the preload library"
echo "PASS: fork in every order"
