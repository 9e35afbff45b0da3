#!/bin/bash
# A server whose UCX worker stops receiving moves to a new one, and its
# clients follow without an error (rpc_server.c, check_stuck).
#
# The real cause - a client killed in the middle of writing a message into
# the shared-memory receive queue, which then never completes (UCX 1.13) -
# is a matter of luck (tests/fault_client_kill.sh meets it now and then).
# Here it is made certain: BENCHFS_FAULT_STALL_AFTER=N makes the server stop
# progressing its worker after N requests, which leaves UCX's event fd
# "busy" with nothing delivered, as the stuck queue does. Then:
#  - the server logs the move and publishes its new address in the registry
#    and in REGISTRY.moved.RANK;
#  - a client in the middle of writing and verifying files finishes with
#    no error (its waiting calls are sent again to the new worker);
#  - a client started afterwards with the old registry (as when two servers
#    moving at once undo each other's update) finds the server through the
#    moved file;
#  - the server shuts down cleanly.
. "$(dirname "$0")/lib.sh"
heavy
FC="$top_builddir/tests/fault_client"
t0=$(date +%s)
BENCHFS_FAULT_STALL_AFTER=300 start_servers 2 "$T/dir" || exit 1
cp "$BENCHFS_REGISTRY" "$T/registry.before"
# Files on both servers; the stall comes in the middle of this.
timeout 120 "$FC" mkfiles /a 100 65536 7 -1 >"$T/a.out" 2>&1 || { cat "$T/a.out" "$SERVER_LOG"; fail "writing across the move"; }
timeout 120 "$FC" verify /a 65536 7 100 || { cat "$SERVER_LOG"; fail "reading back across the move"; }
grep -q "moving to a new UCX worker" "$SERVER_LOG" || { cat "$SERVER_LOG"; fail "no server moved (the fault injection did not work?)"; }
ls "$BENCHFS_REGISTRY".moved.* >/dev/null 2>&1 || fail "no moved address published"
cmp -s "$T/registry.before" "$BENCHFS_REGISTRY" && fail "the registry still holds the old addresses"
echo "# $(grep -c 'moving to a new UCX worker' "$SERVER_LOG") move(s) logged"
# A new client that starts from the old addresses.
cp "$T/registry.before" "$BENCHFS_REGISTRY"
timeout 120 "$FC" mkfiles /b 20 65536 9 -1 >/dev/null || { cat "$SERVER_LOG"; fail "a new client after the move"; }
timeout 120 "$FC" verify /b 65536 9 20 || fail "reading the new client's files"
grep -v "UCX  WARN" "$SERVER_LOG" | sed "s/^/# /"
stop_servers || fail "servers did not shut down cleanly after the move"
[ ! -e "$BENCHFS_REGISTRY".moved.0 ] && [ ! -e "$BENCHFS_REGISTRY".moved.1 ] || fail "moved address files left behind"
echo "PASS: a server moved to a new worker, clients followed ($(($(date +%s) - t0)) s)"
