#!/bin/bash
# Multi-process file and namespace semantics (tests/fs_semantics.c) on 1 and
# 3 servers, with 64 KiB and 4 MiB chunks: sizes decided by the servers, and
# O_APPEND atomic across processes (issue 11 step 1); an open descriptor
# names its file (rename of it or its parent, unlink + re-create by another
# process: ESTALE, never the new file), mkdir over a file / O_CREAT over a
# directory keep every d_type right, O_EXCL from 8 processes has one winner,
# a storm of namespace calls from 8 processes ends consistent, late pieces
# of a write to a file that died make no chunk (ESTALE), a rename across
# servers killed at random moments never leaves a name of a dead file, and every
# inode, name and chunk comes back once everything is deleted; on 3 servers
# with 4 MiB chunks through the servers' copies of fresh data (--cache).
#   FS_APPEND_RECORDS  appends per process (default 1000)
#   FS_STORM_SECONDS   length of each storm (default 10; 30 for the full one)
#   FS_TYPES_ROUNDS    mkdir-over-file rounds (default 200)
#   FS_RENAMEKILL_ROUNDS  killed cross-server renames (default 30)
. "$(dirname "$0")/lib.sh"
count() {
    "$top_builddir/tests/meta_count" "$1"/server-*/meta
}
chunk_files() {
    find "$1" -path '*/data/*' -type f | wc -l
}
for n in 1 3; do
    for cs in 64K 4M; do
        d="$T/d$n-$cs"
        # The empty file system's counts: start, stop, count, start again.
        start_servers "$n" "$d" --chunk-size "$cs" || exit 1
        stop_servers || fail "servers did not stop cleanly"
        before=$(count "$d") || fail "meta_count"
        # 3 servers with 4 MiB chunks also keep copies of the data just written
        # (--cache): every check below then reads through them, from several
        # processes writing, truncating and appending to one file.
        cache=(); [ "$n$cs" = 34M ] && cache=(--cache 64M)
        log_at=0; [ -f "$SERVER_LOG" ] && log_at=$(wc -l <"$SERVER_LOG")
        BENCHFS_LOG=info start_servers "$n" "$d" --chunk-size "$cs" "${cache[@]}" || exit 1
        for t in size "append ${FS_APPEND_RECORDS:-1000}" fd unlinked late link "types ${FS_TYPES_ROUNDS:-200}" \
            "excl 20" "storm ${FS_STORM_SECONDS:-10}"; do
            # shellcheck disable=SC2086
            "$top_builddir/tests/fs_semantics" $t || fail "fs_semantics $t, $n servers, $cs chunks"
        done
        # Directories only (mkdir, rmdir, rename): an rmdir racing a rename
        # of a directory to its name left the renamed directory's record
        # with no name (1 of 12 such storms on 3 servers, counted below).
        if [ "$n" = 3 ]; then
            FS_STORM_OPS=0x1c "$top_builddir/tests/fs_semantics" storm "${FS_STORM_SECONDS:-10}" ||
                fail "fs_semantics storm of directories, $n servers, $cs chunks"
        fi
        # Dead files are freed by the servers, after the unlink's reply.
        "$top_builddir/tests/fs_semantics" reclaimed || fail "servers still reaping"
        stop_servers || fail "servers did not stop cleanly ($n servers, $cs chunks)"
        if [ ${#cache[@]} -gt 0 ]; then
            hits=$(tail -n +$((log_at + 1)) "$SERVER_LOG" | awk '/chunk cache:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "reads" && $(i + 3) == "memory,") h += $i } END { print h + 0 }')
            echo "# $n servers, $cs chunks, --cache 64M: $hits reads served from memory"
            [ "$hits" -gt 0 ] || fail "the chunk cache served no read ($n servers, $cs chunks)"
        fi
        after=$(count "$d") || fail "meta_count"
        echo "# $n servers, $cs chunks: empty: $before; after deleting everything: $after"
        [ "$before" = "$after" ] || fail "space did not come back: $before -> $after"
        [ "$(chunk_files "$d")" = 0 ] || fail "chunk files left: $(find "$d" -path '*/data/*' -type f | head)"
    done
done
# A cross-server file rename killed at random moments: never a name of a
# dead inode; what the kills leaked (one name, one link too many) is exactly
# what the tables hold beyond an empty file system's.
d="$T/rk"
start_servers 3 "$d" --chunk-size 64K || exit 1
stop_servers || fail "servers did not stop cleanly"
before=$(count "$d") || fail "meta_count"
start_servers 3 "$d" --chunk-size 64K || exit 1
out=$("$top_builddir/tests/fs_semantics" renamekill "${FS_RENAMEKILL_ROUNDS:-30}") ||
    fail "fs_semantics renamekill: $out"
echo "$out"
leaked=$(echo "$out" | sed -n 's/.*leaked \([0-9]*\).*/\1/p')
"$top_builddir/tests/fs_semantics" reclaimed || fail "servers still reaping"
stop_servers || fail "servers did not stop cleanly (renamekill)"
after=$(count "$d") || fail "meta_count"
echo "# renamekill: empty: $before; after: $after; leaked $leaked"
# Each leaked file keeps its inode and its one small chunk (4 KiB).
want=$(echo "$before" | awk -v l="$leaked" '{ $2 += l; $8 += l; print }')
[ "$after" = "$want" ] || fail "renamekill left more than its $leaked leaked files: $before -> $after"
echo "PASS: fs_semantics"
