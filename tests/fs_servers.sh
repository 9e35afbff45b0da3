#!/bin/bash
# The client API against N real servers under mpirun (N from the test name:
# fs_1server.sh, fs_3servers.sh), with a small chunk size so that files span
# many chunks and servers.
. "$(dirname "$0")/lib.sh"
case "$(basename "$0")" in
    fs_1server.sh) N=1 ;;
    *) N=3 ;;
esac
start_servers "$N" "$T/dir" --chunk-size 64K || exit 1
# On a failure, what the servers said (a hang shows as fs_shared_write's
# alarm: their log tells whether one moved to a new worker, say).
server_tail() { grep -v "UCX  WARN" "$SERVER_LOG" | tail -30; }
"$top_builddir/tests/fs_api_test" 10000 || { server_tail; fail "fs_api_test with $N servers"; }
"$top_builddir/tests/fs_shared_write" || { server_tail; fail "fs_shared_write with $N servers"; }
"$top_builddir/tests/fs_security_test" || fail "fs_security_test with $N servers"
grep -q "refused a request with an invalid path" "$SERVER_LOG" || fail "refusals are not logged"
stop_servers || fail "servers did not stop cleanly"
[ ! -e "$BENCHFS_REGISTRY" ] || fail "registry not removed at shutdown"
echo "PASS: $N servers"
