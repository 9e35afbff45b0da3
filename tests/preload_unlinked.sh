#!/bin/bash
# Unlinked while open, through the preload with real programs, on 1 and 3
# servers (issue 11 part 2): bash's `exec 3<>f; rm f; echo x >&3` scratch
# file read back by a child (cat, through a descriptor carried across
# exec), Python's tempfile.TemporaryFile with 24 MiB written and read back,
# a Python holder whose subprocess reads the unlinked file; afterwards the
# servers free everything (no entry, inode or chunk file left).
. "$(dirname "$0")/lib.sh"
export UCX_MEM_MMAP_HOOK_MODE=none BENCHFS_FUSE=0
M=/benchfs/ul
sh_pl() { with_preload timeout 60 bash -c "$1"; }
for n in 1 3; do
    d="$T/d$n"
    start_servers "$n" "$d" --chunk-size 64K || exit 1
    stop_servers || fail "servers did not stop cleanly"
    before=$("$top_builddir/tests/meta_count" "$d"/server-*/meta) || fail "meta_count"
    BENCHFS_RPC_SERVER_IDLE_MS=1000 start_servers "$n" "$d" --chunk-size 64K || exit 1
    sh_pl "mkdir -p $M" || fail "mkdir"

    out=$(sh_pl "exec 3<>$M/s; exec 4<$M/s; rm $M/s; echo hello >&3; /bin/echo child >&3
                 [ -e $M/s ] && echo 'name still there'; cat <&4; exec 3>&- 4<&-") || fail "bash scratch file"
    [ "$out" = "$(printf 'hello\nchild')" ] || fail "$n servers: bash scratch file read back '$out'"
    echo "# ok $n servers: exec 3<>f; rm f; echo >&3; cat <&4"

    with_preload timeout 120 python3 - "$M" <<'PY' || fail "$n servers: python tempfile"
import hashlib, os, subprocess, sys, tempfile
m = sys.argv[1]
block = bytes(range(256)) * 4096          # 1 MiB
with tempfile.TemporaryFile(dir=m) as f:
    for i in range(24):
        f.write(block[i:] + block[:i])
    f.flush()
    assert os.listdir(m) == [], "TemporaryFile left a name: %r" % os.listdir(m)
    assert os.fstat(f.fileno()).st_nlink == 0
    assert os.fstat(f.fileno()).st_size == 24 << 20
    f.seek(0)
    for i in range(24):
        got = f.read(1 << 20)
        assert got == block[i:] + block[:i], "block %d differs" % i
# A holder unlinks its file and hands it to a child.
with open(m + "/h", "w+b") as f:
    f.write(b"kept\n" * 1000); f.flush()
    os.unlink(m + "/h")
    f.write(b"after\n"); f.flush(); f.seek(0)
    r = subprocess.run(["cat"], stdin=f, stdout=subprocess.PIPE, check=True)
    assert r.stdout == b"kept\n" * 1000 + b"after\n", "child read %d bytes" % len(r.stdout)
    assert not os.path.exists(m + "/h")
print("# ok python TemporaryFile 24 MiB and an unlinked file read by a child")
PY
    sh_pl "rmdir $M" || fail "rmdir"
    # A CLOSE nobody waited for does not keep the endpoint from its idle
    # close (the server, idle limit 1 s here, releases it after that).
    BENCHFS_RPC_IDLE_MS=400 timeout 60 "$top_builddir/tests/fs_semantics" idle 1500 ||
        fail "$n servers: a call after an idle endpoint with a CLOSE in flight"
    timeout 60 "$top_builddir/tests/fs_semantics" reclaimed 30 || fail "$n servers: not reclaimed"
    stop_servers || fail "servers did not stop cleanly ($n servers)"
    after=$("$top_builddir/tests/meta_count" "$d"/server-*/meta) || fail "meta_count"
    [ "$before" = "$after" ] || fail "$n servers: space did not come back: $before -> $after"
    left=$(find "$d" -path '*/data/*' -type f | wc -l)
    [ "$left" = 0 ] || fail "$n servers: $left chunk files left"
    echo "# ok $n servers: everything reclaimed ($after)"
done
echo "PASS: preload_unlinked"
