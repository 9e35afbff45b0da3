#!/bin/bash
# Plain programs (no LD_PRELOAD) on a BenchFS FUSE mount: coreutils, find,
# du, dd, tar, shell redirections and descriptor sharing, python, sort, tee.
# Each result is checked against the same work on a local directory.
. "$(dirname "$0")/fuse_lib.sh"
unset LD_PRELOAD
start_servers 0 "$T/srv" || exit 1
M="$T/mnt"
start_fuse "$M" || exit 1
L="$T/local"; mkdir -p "$L"

# A small tree: a few dozen files across directories, some over a chunk.
SRC="$T/src"
for d in 1 2 3; do
    mkdir -p "$SRC/d$d/sub"
    for f in 1 2 3 4 5 6 7 8; do head -c $(( (d * 7919 + f * 104729) % 300000 )) /dev/urandom > "$SRC/d$d/f$f"; done
    head -c 1500000 /dev/urandom > "$SRC/d$d/sub/big"
done

# mkdir -p, cp -r, ls -l, stat, find, du, sha256sum
mkdir -p "$M/a/b/c" || fail "mkdir -p"
[ -d "$M/a/b/c" ] || fail "test -d after mkdir -p"
cp -r "$SRC" "$M/tree" || fail "cp -r in"
diff -r "$SRC" "$M/tree" || fail "diff -r after cp -r"
[ "$(cd "$SRC" && find . | sort)" = "$(cd "$M/tree" && find . | sort)" ] || fail "find lists differ"
[ "$(cd "$SRC" && find . -type f -size +1000k | sort)" = "$(cd "$M/tree" && find . -type f -size +1000k | sort)" ] ||
    fail "find -size"
[ "$(cd "$SRC" && sha256sum $(find . -type f | sort))" = "$(cd "$M/tree" && sha256sum $(find . -type f | sort))" ] ||
    fail "sha256sum differ"
ls -l "$M/tree/d1" | grep -q ' f3$' || fail "ls -l"
[ "$(ls "$M/tree/d2" | tr '\n' ' ')" = "$(ls "$SRC/d2" | tr '\n' ' ')" ] || fail "ls order/names"
[ "$(stat -c %s "$M/tree/d3/sub/big")" = 1500000 ] || fail "stat size"
[ "$(stat -c %F "$M/tree/d3/sub")" = directory ] || fail "stat type"
du_k=$(du -sk "$M/tree" | cut -f1)
[ "$du_k" -gt 4000 ] || fail "du -sk says $du_k KiB for about 5 MiB"
cp -r "$M/tree" "$T/back" && diff -r "$SRC" "$T/back" || fail "cp -r out"

# mv (files, directories, across directories), rm -r
mv "$M/tree/d1/f1" "$M/a/moved" || fail "mv file"
cmp "$SRC/d1/f1" "$M/a/moved" || fail "content after mv"
[ ! -e "$M/tree/d1/f1" ] || fail "source still there after mv"
mv "$M/tree/d2" "$M/a/b/d2" || fail "mv dir"
diff -r "$SRC/d2" "$M/a/b/d2" || fail "dir content after mv"
rm -r "$M/tree" || fail "rm -r"
[ ! -e "$M/tree" ] || fail "tree still there after rm -r"
rmdir "$M/a/b/c" || fail "rmdir"
rmdir "$M/a/b" 2>/dev/null && fail "rmdir of a non-empty directory succeeded"

# dd with direct and plain I/O, odd sizes
dd if=/dev/urandom of="$L/dd" bs=1M count=5 status=none
dd if="$L/dd" of="$M/dd" bs=256k status=none || fail "dd in"
dd if="$M/dd" of="$L/dd2" bs=1M iflag=direct status=none || fail "dd out (iflag=direct)"
cmp "$L/dd" "$L/dd2" || fail "dd round trip"
dd if=/dev/zero of="$M/dd" bs=4096 count=3 seek=100 conv=notrunc status=none || fail "dd seek notrunc"
dd if=/dev/zero of="$L/dd" bs=4096 count=3 seek=100 conv=notrunc status=none
cmp "$L/dd" "$M/dd" || fail "dd seek notrunc differs"

# tar -x of a small tree (ownership cannot change: --no-same-owner)
mkdir -p "$L/tsrc/x/y"; echo one > "$L/tsrc/one"; head -c 100000 /dev/urandom > "$L/tsrc/x/y/rand"
chmod 600 "$L/tsrc/one"; touch -d '2020-01-02 03:04:05' "$L/tsrc/x/y/rand"
tar -C "$L" -cf "$L/t.tar" tsrc
mkdir "$M/tx" && tar -C "$M/tx" --no-same-owner -xf "$L/t.tar" || fail "tar -x"
diff -r "$L/tsrc" "$M/tx/tsrc" || fail "tar tree differs"
[ "$(stat -c %a "$M/tx/tsrc/one")" = 600 ] || fail "tar: mode not kept ($(stat -c %a "$M/tx/tsrc/one"))"
[ "$(stat -c %Y "$M/tx/tsrc/x/y/rand")" = "$(stat -c %Y "$L/tsrc/x/y/rand")" ] || fail "tar: mtime not kept"
tar -C "$M/tx" -cf "$L/t2.tar" tsrc && [ "$(tar -tvf "$L/t2.tar" | wc -l)" = 5 ] || fail "tar -c from the mount"

# Shell redirections, byte for byte against a local file.
for d in "$L" "$M"; do
    ( cd "$d" && {
        echo first > r1; echo second >> r1; ls /nonexistent-dir > r2 2>&1
        { echo a; /bin/echo b; echo c; } > r3
        exec 3> r4; echo x >&3; /bin/echo y >&3; printf 'z\n' >&3; exec 3>&-
        printf '3\n1\n2\n' > s; sort -o s s
        echo teed | tee r5 > /dev/null; echo more | tee -a r5 > /dev/null
        : > r6; echo ok >> r6
      } )
done
for f in r1 r2 r3 r4 s r5 r6; do cmp "$L/$f" "$M/$f" || fail "shell: $f differs: $(od -c "$M/$f" | head -3)"; done
[ "$(cat "$M/r3")" = "$(printf 'a\nb\nc')" ] || fail "shared offset across exec"

# python3 open/write/read/seek/append
python3 - "$M" <<'PY' || fail "python3 I/O"
import os, sys
p = os.path.join(sys.argv[1], "py.bin")
data = os.urandom(300000)
with open(p, "wb") as f:
    f.write(data)
with open(p, "r+b") as f:
    f.seek(1000); f.write(b"HELLO")
    f.seek(0); got = f.read()
exp = data[:1000] + b"HELLO" + data[1005:]
assert got == exp, "read back differs"
with open(p, "ab") as f:
    f.write(b"tail")
assert os.path.getsize(p) == len(exp) + 4
os.truncate(p, 10)
assert open(p, "rb").read() == exp[:10]
os.rename(p, p + ".2")
assert not os.path.exists(p) and os.path.exists(p + ".2")
st = os.statvfs(sys.argv[1]); assert st.f_blocks > 0
print("python ok")
PY

# Several processes at once (the daemon's threads): 4 writers of their own
# files, 2 writers of disjoint halves of one shared file, then readers.
head -c 3000000 /dev/urandom > "$L/par"
pids=
for i in 1 2 3 4; do cp "$L/par" "$M/par$i" & pids="$pids $!"; done
: > "$M/shared"
dd if="$L/par" of="$M/shared" bs=1500000 count=1 conv=notrunc status=none &
pids="$pids $!"
dd if="$L/par" of="$M/shared" bs=1500000 skip=1 seek=1 count=1 conv=notrunc status=none &
pids="$pids $!"
for p in $pids; do wait "$p" || fail "a parallel writer failed"; done
pids=
for i in 1 2 3 4; do cmp "$L/par" "$M/par$i" >/dev/null 2>&1 & pids="$pids $!"; done
st=0; for p in $pids; do wait "$p" || st=1; done
[ $st = 0 ] || fail "parallel readers saw other data"
for i in 1 2 3 4; do cmp "$L/par" "$M/par$i" || fail "parallel copy $i differs"; done
cmp "$L/par" "$M/shared" || fail "the shared file written in two halves at once differs"

# Hard links: two names of one file; data shared, removing one keeps the other.
echo linked > "$M/hl1"
ln "$M/hl1" "$M/hl2" || fail "link"
[ "$(stat -c %h "$M/hl2")" = 2 ] || fail "nlink after link: $(stat -c %h "$M/hl2")"
echo more >> "$M/hl2"
[ "$(cat "$M/hl1")" = "$(printf 'linked\nmore')" ] || fail "data not shared between hard links"
rm "$M/hl1"
[ "$(cat "$M/hl2")" = "$(printf 'linked\nmore')" ] && [ "$(stat -c %h "$M/hl2")" = 1 ] ||
    fail "the other name after removing one"
ln "$M/hl2" "$M/hl2" 2>/dev/null && fail "link over an existing name succeeded"
rm "$M/hl2"


# Symlinks and hard links: the kernel follows links (also out of the mount).
ln -s r1 "$M/sym" || fail "symlink"
[ "$(readlink "$M/sym")" = r1 ] || fail "readlink through FUSE"
[ "$(stat -c %F "$M/sym")" = "symbolic link" ] || fail "lstat of a link through FUSE"
cmp "$M/r1" "$M/sym" || fail "read through a link"
ln -s /etc/hostname "$M/out" && cmp /etc/hostname "$M/out" || fail "a link out of the mount"
ls -l "$M" | grep -q "sym -> r1" || fail "ls -l of a link"
ln "$M/r1" "$M/hard" && [ "$(stat -c %h "$M/r1")" = 2 ] || fail "hard link through FUSE"
rm "$M/sym" "$M/out" "$M/hard" || fail "rm of links"
# FIFOs are stored (tests/fs_special_nodes.sh uses them); devices are not:
# a clear errno, not silence.
mkfifo "$M/fifo" && [ -p "$M/fifo" ] && rm "$M/fifo" || fail "mkfifo through FUSE"
mknod "$M/dev" c 1 3 2>/dev/null && fail "mknod of a device succeeded"
[ ! -e "$M/dev" ] || fail "a failed mknod left a name"

# Stopping: the unmount ends the daemon with status 0.
stop_fuse
[ "$FUSE_STATUS" = 0 ] || fail "benchfs-fuse exited with $FUSE_STATUS after the unmount"
mounted "$M" && fail "still mounted"
grep -E "error|AddressSanitizer" "$FUSE_LOG" && fail "errors in the daemon's log"
echo "PASS: fuse_tools"
