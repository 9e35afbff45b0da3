#!/bin/bash
# fsx (xfstests ltp/fsx.c, built here from the tarball in
# $BENCHFS_CONFORMANCE, default /work/shared/conformance) against the FUSE
# mount: 100000 random operations (reads, writes, truncates, fallocate,
# copy_file_range, close/open) checked against a shadow copy.
#   direct I/O mount:   with mapped reads and writes (MAP_SHARED) on kernels
#                       from 6.6 (FUSE_DIRECT_IO_ALLOW_MMAP, fuse/init_flags.c);
#                       -R -W before 6.6 (the kernel refuses: ENODEV)
#   --page-cache mount: with mapped reads and writes.
# FSX_OPS and FSX_SEED change the run (defaults 100000 and 1).
. "$(dirname "$0")/fuse_lib.sh"
unset LD_PRELOAD
. "$(dirname "$0")/conformance_lib.sh"
CONF=$(conformance_dir) || fail "no conformance sources (set BENCHFS_CONFORMANCE to shared/conformance)"
TARBALL=$(ls "$CONF"/xfstests-fsx-*.tar.gz 2>/dev/null | head -1)
[ -n "$TARBALL" ] || fail "no xfstests-fsx-*.tar.gz in $CONF (set BENCHFS_CONFORMANCE)"
OPS=${FSX_OPS:-100000}
SEED=${FSX_SEED:-1}
mkdir "$T/fsx" && tar -C "$T/fsx" -xzf "$TARBALL" || fail "cannot unpack $TARBALL"
(cd "$T/fsx"/xfstests-fsx && gcc -O2 -D_GNU_SOURCE -include src/config.h -Isrc -Iinclude ltp/fsx.c -o "$T/fsxbin") ||
    fail "cannot build fsx"
start_servers 0 "$T/srv" --chunk-size 64K || exit 1
M="$T/mnt"; P="$T/pmnt"
start_fuse "$M" || exit 1
start_fuse "$P" --page-cache || exit 1
mkdir "$T/logs"

run_fsx() {  # NAME FILE ARGS...
    local name=$1 file=$2; shift 2
    local t0=$SECONDS
    if ! timeout 900 "$T/fsxbin" -q -N "$OPS" -S "$SEED" -P "$T/logs" --record-ops "$@" "$file" >"$T/logs/$name.out" 2>&1; then
        tail -40 "$T/logs/$name.out"
        tail -40 "$T/logs/$(basename "$file").fsxlog" 2>/dev/null
        fail "fsx $name ($*) failed"
    fi
    echo "fsx $name: $OPS ops, seed $SEED, flags '$*': passed in $((SECONDS - t0)) s"
    # What fsx turned off because the file system refused it.
    # Which operations ran (fsx drops those the file system refuses).
    echo "  $name: operations in fsx's record (its last 10000): $(awk '{ print $1 }' "$T/logs/$(basename "$file").fsxops" | sort | uniq -c |
        awk '{ printf "%s %s, ", $2, $1 }')"
}
KV=$(uname -r | awk -F'[.-]' '{ print $1 * 1000 + $2 }')
if [ "$KV" -ge 6006 ]; then
    run_fsx direct "$M/fsx-direct"
else
    echo "kernel $(uname -r) < 6.6: no shared mappings of direct-I/O files, fsx -R -W there"
    run_fsx direct "$M/fsx-direct" -R -W
fi
run_fsx pagecache "$P/fsx-cached"
stop_fuse
[ "$FUSE_STATUS" = 0 ] || fail "benchfs-fuse exited with $FUSE_STATUS"
echo "PASS: fuse_fsx"
