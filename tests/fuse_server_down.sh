#!/bin/bash
# A dead server gives FUSE callers an error within the RPC deadline, never a
# hang; the daemon keeps running (still mounted) and unmounts cleanly.
. "$(dirname "$0")/fuse_lib.sh"
unset LD_PRELOAD
DEADLINE_MS=2000
start_servers 0 "$T/srv" || exit 1
M="$T/mnt"
BENCHFS_RPC_TIMEOUT_MS=$DEADLINE_MS start_fuse "$M" || exit 1
echo data > "$M/f" && [ "$(cat "$M/f")" = data ] || fail "mount does not work before the kill"
exec 4<"$M/f" # an open file, to read after the kill

kill -KILL "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; SERVER_PID=
# Each call: an error (not success, not a hang) within deadline + slack.
# A command of CALLS system calls that each wait for the dead server may take
# CALLS deadlines (df: a stat and a statfs).
check_err() {  # WHAT CALLS CMD...
    local what=$1 calls=$2 t0 t1 out; shift 2
    t0=$(date +%s%N)
    out=$(timeout 30 "$@" 2>&1) && fail "$what succeeded with the server dead: $out"
    local st=$?
    t1=$(date +%s%N)
    [ $st = 124 ] && fail "$what hung (killed by timeout after 30 s)"
    local ms=$(( (t1 - t0) / 1000000 ))
    [ $ms -lt $((DEADLINE_MS * calls + 1500)) ] || fail "$what took $ms ms (deadline $DEADLINE_MS ms, $calls calls)"
    echo "$what: error after $ms ms: $out"
}
check_err "stat" 1 stat "$M/f"
check_err "cat" 1 cat "$M/f"
check_err "ls" 1 ls "$M"
check_err "create" 1 sh -c "echo x > '$M/new'"
check_err "read of an open file" 1 sh -c "cat <&4"
check_err "df" 2 df "$M"
exec 4<&-
# The daemon is still there and the mount too; unmount ends it cleanly.
kill -0 "${FUSE_PIDS# }" 2>/dev/null || fail "benchfs-fuse exited when its server died"
mounted "$M" || fail "mount gone"
stop_fuse
[ "$FUSE_STATUS" = 0 ] || fail "benchfs-fuse exited with $FUSE_STATUS after the unmount"
echo "PASS: fuse_server_down"
