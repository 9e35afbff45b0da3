#!/bin/bash
# fork is safe in every order (docs/PROMISES.md): the first BenchFS use only
# in the child, fork while another thread initialises clients, fork while
# threads do I/O (the child reconnects and reads through the inherited
# handle), parent and child writing through one inherited descriptor; no
# child hangs (each is bounded by alarm), and no connection is left on the
# servers per child. Client API and preload library, 2 servers.
. "$(dirname "$0")/lib.sh"
# No worker rotation during the test: after one, a client's connection on
# the old worker is counted until that worker drains ("Client lifecycle"),
# which would hide or fake a connection left by a child.
export BENCHFS_RPC_ROTATE_MS=600000 BENCHFS_RPC_ROTATE_AFTER=1000000
start_servers 2 "$T/dir" --chunk-size 64K || exit 1
timeout 160 "$top_builddir/tests/fork_safety" api || fail "fork through the client API"
UCX_MEM_MMAP_HOOK_MODE=none LD_PRELOAD="$PRELOAD" timeout 160 \
    "$top_builddir/tests/fork_preload" preload /benchfs || fail "fork through the preload library"
echo "PASS: fork in every order"
