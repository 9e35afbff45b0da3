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
"$top_builddir/tests/fs_api_test" 10000 || fail "fs_api_test with $N servers"
"$top_builddir/tests/fs_shared_write" || fail "fs_shared_write with $N servers"
"$top_builddir/tests/fs_security_test" || fail "fs_security_test with $N servers"
grep -q "refused a request with an invalid path" "$SERVER_LOG" || fail "refusals are not logged"
stop_servers || fail "servers did not stop cleanly"
[ ! -e "$BENCHFS_REGISTRY" ] || fail "registry not removed at shutdown"
echo "PASS: $N servers"
