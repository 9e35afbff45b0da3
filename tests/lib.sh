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
# LeakSanitizer suppressions (UCX/PMIx internals) also when run by hand.
case "${LSAN_OPTIONS:-}" in
    *lsan.supp*) ;;
    *) export LSAN_OPTIONS="suppressions=$top_srcdir/tests/lsan.supp:print_suppressions=0 ${LSAN_OPTIONS:-}" ;;
esac

# The LD_PRELOAD library, and what LD_PRELOAD must hold to load it. A library
# built with --enable-sanitizers links the ASan runtime, which must be the
# first library of the process: it goes in front. PRELOAD_SANITIZED=1 then.
PL="$top_builddir/preload/.libs/libbenchfs.so"
PRELOAD="$PL"
PRELOAD_SANITIZED=0
if [ -f "$PL" ]; then
    asan_rt=$(ldd "$PL" 2>/dev/null | awk '$1 ~ /^libasan\.so/ { print $3; exit }')
    if [ -n "$asan_rt" ]; then
        [ -f "$asan_rt" ] || asan_rt=$(${CC:-gcc} -print-file-name=libasan.so)
        PRELOAD="$asan_rt $PL"
        PRELOAD_SANITIZED=1
    fi
fi
# Run a program that is not ours (coreutils, python, fio, MPI programs,
# mpirun) with the preload library. In a sanitized build its own leaks (many
# by design: exit without freeing) are not our business, so leak checking is
# off for it; invalid accesses and undefined behaviour are still reported.
# Our own programs under the preload (preload_posix_test) keep leak checking:
# run them with LD_PRELOAD="$PRELOAD".
FOREIGN_ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
with_preload() { env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" "$@"; }
T=$(mktemp -d "${TMPDIR:-/tmp}/benchfs-test.XXXXXX")
SERVER_PID=
SERVER_LOG="$T/servers.log"
# A standalone server (start_servers 0) runs under this command when set
# (words, e.g. "valgrind --error-exitcode=99"): tests/server_valgrind.sh.
SERVER_WRAPPER=${SERVER_WRAPPER:-}
# Bounds, in seconds, for servers to publish the registry and to exit after
# the shutdown RPC (slow servers, e.g. under valgrind, need more).
REGISTRY_WAIT_S=${REGISTRY_WAIT_S:-30}
STOP_WAIT_S=${STOP_WAIT_S:-10}
STOPPED_BY= # how stop_servers stopped the servers last: rpc or signal

# Stop the servers; fails (and shows their log) unless they shut down
# cleanly: a server that crashed or reported a sanitizer error is caught here.
stop_servers() {
    [ -n "$SERVER_PID" ] || return 0
    # The shutdown RPC lets every server exit 0, and then mpirun does too;
    # SIGTERM is the fallback (mpirun reports killed jobs as failed).
    local how=rpc
    timeout 20 "$top_builddir/tests/fs_tool" shutdown >>"$SERVER_LOG" 2>&1 || how=signal
    for _ in $(seq $((STOP_WAIT_S * 10))); do
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
    STOPPED_BY=$how
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

# cleanup [STATUS]: the exit trap; STATUS defaults to the script's.
cleanup() {
    local rc=${1:-$?}
    stop_servers || rc=1
    [ -z "$AT_EXIT" ] || eval "$AT_EXIT"
    rm -rf "$T"
    exit $rc
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# wait_registry FILE: bounded wait for servers to publish.
wait_registry() {
    for _ in $(seq $((REGISTRY_WAIT_S * 10))); do
        [ -s "$1" ] && return 0
        if [ -n "$SERVER_PID" ] && ! kill -0 "$SERVER_PID" 2>/dev/null; then
            echo "servers exited before publishing $1:"; cat "$SERVER_LOG"; return 1
        fi
        sleep 0.1
    done
    echo "servers did not publish $1 within $REGISTRY_WAIT_S s:"; cat "$SERVER_LOG"; return 1
}

# start_servers N DIR [args]: N servers under mpirun (N=0: standalone, no mpirun).
# Chunks of 1 MiB unless args say otherwise (the geometry the tests were
# written for; the servers' own default is 4 MiB).
# $MPIRUN_ARGS: more mpirun options, e.g. --enable-recovery (the other servers
# keep running when one dies; without it mpirun aborts the whole job).
start_servers() {
    local n=$1 dir=$2; shift 2
    export BENCHFS_REGISTRY="$T/registry"
    rm -f "$BENCHFS_REGISTRY"
    if [ "$n" = 0 ]; then
        # shellcheck disable=SC2086
        $SERVER_WRAPPER "$BENCHFSD" --dir "$dir" --registry "$BENCHFS_REGISTRY" --chunk-size 1M "$@" \
            >>"$SERVER_LOG" 2>&1 &
    else
        # shellcheck disable=SC2086
        "$MPIRUN" ${MPIRUN_ARGS:-} -np "$n" --bind-to none "$BENCHFSD" --dir "$dir" \
            --registry "$BENCHFS_REGISTRY" --chunk-size 1M "$@" >>"$SERVER_LOG" 2>&1 &
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

# wait_until SECONDS CMD...: run CMD every 0.1 s until it succeeds (0), at
# most SECONDS long (then its last result).
wait_until() {
    local n=$(($1 * 10))
    shift
    for _ in $(seq "$n"); do "$@" && return 0; sleep 0.1; done
    "$@"
}
