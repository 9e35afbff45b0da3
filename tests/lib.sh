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
T=$(mktemp -d /tmp/benchfs-test.XXXXXX)
SERVER_PID=
SERVER_LOG="$T/servers.log"

stop_servers() {
    [ -n "$SERVER_PID" ] || return 0
    kill -TERM "$SERVER_PID" 2>/dev/null
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
    SERVER_PID=
}

cleanup() {
    stop_servers
    rm -rf "$T"
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
start_servers() {
    local n=$1 dir=$2; shift 2
    export BENCHFS_REGISTRY="$T/registry"
    rm -f "$BENCHFS_REGISTRY"
    if [ "$n" = 0 ]; then
        "$BENCHFSD" --dir "$dir" --registry "$BENCHFS_REGISTRY" "$@" >>"$SERVER_LOG" 2>&1 &
    else
        "$MPIRUN" -np "$n" --bind-to none "$BENCHFSD" --dir "$dir" \
            --registry "$BENCHFS_REGISTRY" "$@" >>"$SERVER_LOG" 2>&1 &
    fi
    SERVER_PID=$!
    wait_registry "$BENCHFS_REGISTRY"
}

fail() { echo "FAIL: $*"; exit 1; }
