# Shared by the FUSE tests: lib.sh (servers) plus one benchfs-fuse daemon on
# a private mount directory, always unmounted and stopped by its PID.
. "$(dirname "$0")/lib.sh"
FUSE_BIN="$top_builddir/fuse/benchfs-fuse"
FUSE_PEER="$top_builddir/tests/fuse_peer"
if [ ! -e /dev/fuse ]; then
    echo "SKIP: /dev/fuse is absent on this machine: the FUSE tests cannot run" >&2
    exit 77
fi
[ -x "$FUSE_BIN" ] || fail "$FUSE_BIN was not built: install libfuse3-dev (and fuse3), re-run configure"
FUSE_PIDS=
FUSE_MNTS=
FUSE_LOG="$T/fuse.log"
FUSE_STATUS= # exit status of the daemon stop_fuse stopped last

# mounted DIR: DIR is a mount point of type fuse.benchfs (mountinfo field 5
# is the mount point, the field after " - " the type).
mounted() {
    awk -v d="$1" '$5 == d { for (i = 6; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "fuse.benchfs") f = 1; break } }
                   END { exit !f }' /proc/self/mountinfo
}

# start_fuse DIR [daemon args]: mount, and wait (10 s at most) for the mount.
start_fuse() {
    local mnt=$1; shift
    "$FUSE_BIN" -f --registry "$BENCHFS_REGISTRY" --mount "$mnt" "$@" >>"$FUSE_LOG" 2>&1 &
    local pid=$!
    FUSE_PIDS="$FUSE_PIDS $pid"
    FUSE_MNTS="$FUSE_MNTS $mnt"
    for _ in $(seq 100); do
        mounted "$mnt" && return 0
        kill -0 "$pid" 2>/dev/null || { echo "benchfs-fuse exited:"; cat "$FUSE_LOG"; return 1; }
        sleep 0.1
    done
    echo "benchfs-fuse did not mount $mnt within 10 s:"; cat "$FUSE_LOG"; return 1
}

# unmount DIR: as the user would (fusermount3), or as root (umount); lazily
# when busy or when the daemon is gone.
unmount() {
    mounted "$1" || return 0
    fusermount3 -u "$1" 2>/dev/null || umount "$1" 2>/dev/null || {
        fusermount3 -uz "$1" 2>/dev/null || umount -l "$1"; }
}

# stop_fuse: unmount every mount of this test, then wait for each daemon
# (10 s), then SIGTERM, then SIGKILL. FUSE_STATUS: the last daemon's status.
stop_fuse() {
    local m p
    for m in $FUSE_MNTS; do unmount "$m"; done
    for p in $FUSE_PIDS; do
        for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$p" 2>/dev/null; then
            echo "benchfs-fuse $p still running 10 s after the unmount: SIGTERM"
            kill -TERM "$p"; sleep 1; kill -KILL "$p" 2>/dev/null
        fi
        wait "$p" 2>/dev/null
        FUSE_STATUS=$?
    done
    for m in $FUSE_MNTS; do unmount "$m"; done
    FUSE_PIDS=
    FUSE_MNTS=
}
# At exit: leave the mount (cwd, descriptors 3-8 a test kept open on it)
# so that the unmount is not busy, then unmount, then the servers.
trap 'rc=$?; cd /; for fd in 3 4 5 6 7 8; do eval "exec $fd>&-"; done; stop_fuse; cleanup $rc' EXIT
