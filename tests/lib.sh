# Shared by the test scripts: start BenchFS servers, wait for them, and always
# stop them (kill by the PIDs we started, never by name).
set -u
: "${top_builddir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_srcdir:=$top_builddir}"
. "$top_builddir/tests/env.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
export BENCHFS_RPC_TIMEOUT_MS=${BENCHFS_RPC_TIMEOUT_MS:-10000}
BENCHFSD="$top_builddir/server/benchfsd"
T=$(mktemp -d "${TMPDIR:-/tmp}/benchfs-test.XXXXXX")
SERVER_PID=
SERVER_LOG="$T/servers.log"

# Stop the servers; fails (and shows their log) unless they shut down
# cleanly: a server that crashed or reported a sanitizer error is caught here.
stop_servers() {
    [ -n "$SERVER_PID" ] || return 0
    # The shutdown RPC lets every server exit 0, and then mpirun does too;
    # SIGTERM is the fallback (mpirun reports killed jobs as failed).
    local how=rpc
    timeout 20 "$top_builddir/tests/fs_tool" shutdown >>"$SERVER_LOG" 2>&1 || how=signal
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        how=signal
        kill -TERM "$SERVER_PID" 2>/dev/null
        for _ in $(seq 100); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null
    fi
    wait "$SERVER_PID" 2>/dev/null
    local rc=$?
    [ $how = rpc ] || rc=0
    SERVER_PID=
    if [ $rc -ne 0 ] || grep -qE "AddressSanitizer|runtime error:|LeakSanitizer" "$SERVER_LOG"; then
        echo "servers did not shut down cleanly (exit $rc):"
        cat "$SERVER_LOG"
        return 1
    fi
}

# at_exit CMD: run CMD when the test ends, after the servers are stopped
# and before $T is removed (unmount what the test mounted there, say).
AT_EXIT=
at_exit() { AT_EXIT="$AT_EXIT $1;"; }

cleanup() {
    local rc=$?
    stop_servers || rc=1
    [ -z "$AT_EXIT" ] || eval "$AT_EXIT"
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_registry FILE: bounded wait for servers to publish.
wait_registry() {
    for _ in $(seq 300); do
        [ -s "$1" ] && return 0
        if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "servers exited before publishing $1:"; cat "$SERVER_LOG"; return 1
        fi
        sleep 0.1
    done
    echo "servers did not publish $1 within 30 s:"; cat "$SERVER_LOG"; return 1
}

# start_servers N DIR [args]: N servers under mpirun (N=0: standalone, no mpirun).
# $MPIRUN_ARGS: more mpirun options, e.g. --enable-recovery (the other servers
# keep running when one dies; without it mpirun aborts the whole job).
start_servers() {
    local n=$1 dir=$2; shift 2
    export BENCHFS_REGISTRY="$T/registry"
    rm -f "$BENCHFS_REGISTRY"
    if [ "$n" = 0 ]; then
        "$BENCHFSD" --dir "$dir" --registry "$BENCHFS_REGISTRY" "$@" >>"$SERVER_LOG" 2>&1 &
    else
        # shellcheck disable=SC2086
        "$MPIRUN" ${MPIRUN_ARGS:-} -np "$n" --bind-to none "$BENCHFSD" --dir "$dir" \
            --registry "$BENCHFS_REGISTRY" "$@" >>"$SERVER_LOG" 2>&1 &
    fi
    SERVER_PID=$!
    wait_registry "$BENCHFS_REGISTRY"
}

# server_pid RANK: the pid of server RANK of the running job (from its
# PMIX_RANK), found among the descendants of mpirun.
server_pid() {
    local want=$1 p kids todo="$SERVER_PID"
    while [ -n "$todo" ]; do
        kids=""
        for p in $todo; do kids="$kids $(pgrep -P "$p" | tr '\n' ' ')"; done
        for p in $kids; do
            if grep -q benchfsd "/proc/$p/comm" 2>/dev/null &&
                tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "PMIX_RANK=$want"; then
                echo "$p"
                return 0
            fi
        done
        todo=$kids
    done
    return 1
}

# heavy: run alone among the tests that call it, even under make -j: the
# load test's 64 clients would otherwise stretch the timing checks of the
# failure tests running next to it on two cores.
heavy() {
    exec 9>"$top_builddir/tests/heavy.lock"
    flock 9
}

fail() { echo "FAIL: $*"; exit 1; }
