# Shared by the benchfs-run tests (on top of lib.sh): start benchfs-run in
# the background, find what it started, and always stop everything we
# started, by PID.
. "$(dirname "$0")/lib.sh"
BFSRUN="$top_builddir/mpi-launch/benchfs-run"
BFSTOOL="$top_builddir/mpi-launch/benchfs"
[ -x "$BFSRUN" ] || fail "no $BFSRUN (make first)"
RUN_PIDS=()
# benchfs-run's temporary directory (the servers' log) lands here, where the
# tests can see whether it is removed.
export TMPDIR="$T"

# PIDs of the given processes and all their descendants.
tree_of() {
    [ $# -gt 0 ] || return 0
    ps -e -o pid=,ppid= | awk -v roots="$*" '
        BEGIN { n = split(roots, r, " "); for (i = 1; i <= n; i++) keep[r[i]] = 1 }
        { parent[$1] = $2 }
        END { do { more = 0; for (p in parent) if (!(p in keep) && (parent[p] in keep)) { keep[p] = 1; more = 1 } } while (more)
              for (p in keep) print p }'
}

# A process that has exited but not been reaped (a zombie) is not alive.
alive() {
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$st" ] && [ "$st" != Z ] && [ "$st" != X ]
}

# PIDs of live processes whose command line contains the string (our
# unique temporary paths): finds servers even after they were reparented.
procs_with() {
    local f pid cmd
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}; pid=${pid%/cmdline}
        [ "$pid" = $$ ] && continue
        cmd=$(tr '\0' ' ' 2>/dev/null <"$f")
        [[ $cmd == *"$1"* ]] && alive "$pid" && echo "$pid"
    done
    return 0
}

run_cleanup() {
    local rc=${1:-$?} pids
    if [ ${#RUN_PIDS[@]} -gt 0 ]; then
        pids=$(tree_of "${RUN_PIDS[@]}")
        [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
        for p in "${RUN_PIDS[@]}"; do
            for _ in $(seq 100); do alive "$p" || break; sleep 0.1; done
        done
        pids=$(tree_of "${RUN_PIDS[@]}")
        [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
        wait 2>/dev/null
    fi
    # Anything still holding our temporary directory (servers of a killed run).
    pids=$(procs_with "$T/")
    [ -n "$pids" ] && kill -KILL $pids 2>/dev/null
    cleanup "$rc"
}
trap run_cleanup EXIT

# wait_for FILE: bounded wait (30 s) for a file to be non-empty.
wait_for() {
    for _ in $(seq 300); do [ -s "$1" ] && return 0; sleep 0.1; done
    return 1
}

# wait_dead PID [TENTHS]: bounded wait for a process to be gone.
wait_dead() {
    local n=${2:-100}
    while [ "$n" -gt 0 ] && alive "$1"; do sleep 0.1; n=$((n - 1)); done
    ! alive "$1"
}

# need_fuse WHY: the tests of benchfs-run's FUSE mount. Skips loudly without
# /dev/fuse (WHY says what is then not tested), fails without benchfs-fuse;
# our_mounts lists the mounts under our temporary directory, and whatever
# is still mounted there at exit is unmounted lazily.
need_fuse() {
    if [ ! -e /dev/fuse ]; then
        echo "SKIP: /dev/fuse is absent on this machine: $1" >&2
        exit 77
    fi
    [ -x "$top_builddir/fuse/benchfs-fuse" ] || fail "fuse/benchfs-fuse was not built (libfuse3-dev missing?)"
    at_exit lazy_unmount_all
}
our_mounts() { awk -v t="$T/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo; }
lazy_unmount_all() { local m; for m in $(our_mounts); do umount -l "$m" 2>/dev/null || fusermount3 -uz "$m"; done; }
# The first lines of a job script run inside benchfs-run with its FUSE mount:
# fail (JOBFAIL: the test looks for it), ok, and the mount must be there.
FUSE_JOB_PRELUDE='set -u
M=$BENCHFS_MOUNT
fail() { echo "JOBFAIL: $*"; exit 1; }
ok() { echo "# ok $*"; }
[ "$BENCHFS_FUSE" = 1 ] || fail "no FUSE mount"'
