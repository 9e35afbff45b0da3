#!/bin/bash
# Storage full: a server whose --dir is a small tmpfs.
#
# One server on a 40 MiB tmpfs (mounted in the test's own directory,
# unmounted at the end whatever happens; skipped where mounting is not
# allowed). Files written and fsync'd first; then
#  - the client API writes until a write fails: the error is ENOSPC and
#    every acknowledged byte reads back;
#  - dd under the preload library reports "No space left on device";
#  - creating empty files (metadata only: LMDB pages) fails with ENOSPC;
#  - the server keeps running and serving: the earlier files read back,
#    stat and readdir work;
#  - freeing space (unlink) makes writes succeed again;
#  - the server shuts down cleanly, and restarted on the same directory it
#    still holds every earlier file;
#  - restarted with --small-max 256K, small files of 200 KiB (chunks in its
#    LMDB store) fill the disk: ENOSPC, the server keeps running.
. "$(dirname "$0")/lib.sh"
heavy
FC="$top_builddir/tests/fault_client"
t_begin=$(date +%s)

mkdir -p "$T/full"
if ! mount -t tmpfs -o size=40m,mode=0700 benchfs-test "$T/full" 2>"$T/mount.err"; then
    echo "SKIP: cannot mount a tmpfs here ($(cat "$T/mount.err")): needs root or CAP_SYS_ADMIN" >&2
    exit 77
fi
at_exit "umount '$T/full' 2>/dev/null || umount -l '$T/full'"

start_servers 0 "$T/full/dir" || exit 1
"$FC" mkfiles /keep 4 $((1 << 20)) 21 -1 >/dev/null || fail "files before the disk is full"
"$FC" write /small 5000 22 || fail "a small file before the disk is full"
df -k "$T/full" | tail -1 | awk '{print "# tmpfs: " $3 " KiB used of " $2 " before filling"}'

# The client API: ENOSPC, and what was acknowledged is there.
"$FC" fill /big $((1 << 20)) $((200 << 20)) 23 || fail "filling through the API"

# The preload library: dd says so.
LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" BENCHFS_MOUNT=/benchfs \
    dd if=/dev/zero of=/benchfs/dd bs=1M count=64 2>"$T/dd.err"
ddrc=$?
sed 's/^/# dd: /' "$T/dd.err" | head -3
[ $ddrc -ne 0 ] || fail "dd succeeded on a full file system"
grep -q "No space left on device" "$T/dd.err" || fail "dd did not report ENOSPC"

# Metadata: LMDB needs pages too.
"$FC" touch /many 20000 || fail "creating files on a full file system"
df -k "$T/full" | tail -1 | awk '{print "# tmpfs: " $3 " KiB used of " $2 " when full"}'

# Still serving, nothing lost.
kill -0 "$SERVER_PID" || fail "the server died"
"$FC" verify /keep $((1 << 20)) 21 4 || fail "earlier files on a full file system"
"$FC" pages /small 5000 22 22 5000 >/dev/null || fail "the small file on a full file system"
LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" BENCHFS_MOUNT=/benchfs ls -l /benchfs/keep >/dev/null || fail "ls on a full file system"

# Space freed: writes work again.
LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" BENCHFS_MOUNT=/benchfs rm -f /benchfs/big /benchfs/dd || fail "rm on a full file system"
"$FC" write /after $((4 << 20)) 24 || fail "writing after space was freed"
"$FC" touch /many2 100 || fail "creating files after space was freed"

# Clean exit, and the data is still there after a restart.
stop_servers || fail "the server did not shut down cleanly"
start_servers 0 "$T/full/dir" || fail "restart"
"$FC" verify /keep $((1 << 20)) 21 4 || fail "earlier files after the restart"
"$FC" pages /small 5000 22 22 5000 >/dev/null || fail "the small file after the restart"
"$FC" pages /after $((4 << 20)) 24 24 $((4 << 20)) >/dev/null || fail "the file written after freeing space"
# Small chunks of the largest size the server allows live in its LMDB
# store (overflow pages): filling the disk with them gives ENOSPC, never a
# server killed by SIGBUS through the store's memory map.
stop_servers || fail "the server did not shut down cleanly (2)"
start_servers 0 "$T/full/dir" --small-max 256K || fail "restart with --small-max 256K"
"$FC" mkfiles /bigsmall 400 $((200 << 10)) 25 -1 >/dev/null 2>"$T/bigsmall.err"
sed 's/^/# /' "$T/bigsmall.err" | head -2
grep -q "No space left on device" "$T/bigsmall.err" || fail "no ENOSPC from 400 small files of 200 KiB on a full disk"
kill -0 "$SERVER_PID" || fail "the server died filling its store with small chunks"
"$FC" verify /keep $((1 << 20)) 21 4 || fail "earlier files after filling the store"
stop_servers || fail "the server did not shut down cleanly (3)"
echo "PASS: storage full: ENOSPC through the API and the preload library, server kept serving ($(($(date +%s) - t_begin)) s)"
