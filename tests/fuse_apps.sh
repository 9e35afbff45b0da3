#!/bin/bash
# Real applications (no LD_PRELOAD) on a BenchFS FUSE mount: programs run
# from the mount (a script, an ELF binary, busybox-static), sqlite3, git,
# make + cc, mmap through python and numpy (shared and private mappings of
# direct-I/O files, and MAP_SHARED on a --page-cache mount).
. "$(dirname "$0")/fuse_lib.sh"
unset LD_PRELOAD
start_servers 0 "$T/srv" || exit 1
M="$T/mnt"
start_fuse "$M" || exit 1
need() { command -v "$1" >/dev/null || fail "$1 is not installed (Debian package $2)"; }
# Debian's python3 (python3-numpy), not one earlier on PATH without numpy.
PY=/usr/bin/python3; [ -x "$PY" ] || PY=python3
"$PY" -c "import numpy" 2>/dev/null || fail "numpy is not installed (Debian package python3-numpy)"
need busybox busybox-static; need sqlite3 sqlite3; need git git; need make make; need cc gcc

# A script and an ELF binary copied into the mount and executed from it
# (exec maps the binary MAP_PRIVATE: works with direct I/O).
printf '#!/bin/sh\necho "script $1"\n' > "$M/s.sh" && chmod +x "$M/s.sh"
[ "$("$M/s.sh" ran)" = "script ran" ] || fail "script from the mount"
cp /bin/echo "$M/echo" || fail "cp ELF"
[ "$("$M/echo" elf ok)" = "elf ok" ] || fail "ELF binary from the mount"
chmod -x "$M/echo"
"$M/echo" x 2>/dev/null && fail "ran a file without the x bit"

# busybox-static: a static binary, no libc wrappers to interpose.
file_bb=$(command -v busybox)
cp "$file_bb" "$M/busybox" || fail "cp busybox"
"$M/busybox" sh -c "echo static > $M/bb1" || fail "busybox sh redirect"
[ "$(busybox cat "$M/bb1")" = static ] || fail "busybox cat"
busybox cp "$M/bb1" "$M/bb2" && cmp "$M/bb1" "$M/bb2" || fail "busybox cp"
busybox ls "$M" | grep -qx bb2 || fail "busybox ls"
busybox mkdir -p "$M/bbd/x" && busybox rm -r "$M/bbd" && [ ! -e "$M/bbd" ] || fail "busybox mkdir/rm"

# sqlite3: a database with a journal (locks are node-local: the kernel's).
sqlite3 "$M/db.sqlite" "create table t(a integer, b text);" || fail "sqlite create"
for i in 1 2 3 4 5; do echo "insert into t values($i, 'row $i');"; done | sqlite3 "$M/db.sqlite" || fail "sqlite insert"
sqlite3 "$M/db.sqlite" "begin; insert into t select a+5, b from t; commit;" || fail "sqlite txn"
[ "$(sqlite3 "$M/db.sqlite" "select count(*), sum(a) from t;")" = "10|55" ] || fail "sqlite query"
sqlite3 "$M/db.sqlite" "pragma integrity_check;" | grep -qx ok || fail "sqlite integrity"

# git: init, add, commit, log, status, a second commit (lock files, renames,
# mmap of packs and the index).
(
    cd "$M" && mkdir repo && cd repo && git init -q . &&
    git config user.email t@example.com && git config user.name T &&
    echo hello > README && mkdir src && seq 1 1000 > src/nums &&
    git add . && git commit -qm first && echo more >> README && git commit -qam second &&
    [ "$(git log --oneline | wc -l)" = 2 ] && [ -z "$(git status --porcelain)" ] &&
    git gc -q && git fsck --no-progress 2>&1 | { ! grep -q .; } && [ "$(git show HEAD~1:README)" = hello ]
) || fail "git"

# make + cc: build a small program in the mount and run it.
mkdir "$M/build"
cat > "$M/build/main.c" <<'C'
#include <stdio.h>
int add(int, int);
int main(void) { printf("sum %d\n", add(2, 3)); return 0; }
C
echo 'int add(int a, int b) { return a + b; }' > "$M/build/add.c"
printf 'prog: main.o add.o\n\t$(CC) -o $@ main.o add.o\n%%.o: %%.c\n\t$(CC) -c -o $@ $<\n' > "$M/build/Makefile"
make -s -C "$M/build" >/dev/null || fail "make"
[ "$("$M/build/prog")" = "sum 5" ] || fail "built program"
touch "$M/build/add.c"; sleep 1; echo 'int add(int a, int b) { return a * b; }' > "$M/build/add.c"
make -s -C "$M/build" >/dev/null && [ "$("$M/build/prog")" = "sum 6" ] || fail "make did not rebuild"

# mmap with direct I/O: MAP_PRIVATE (read and copy-on-write) and, on kernels
# from 6.6 (benchfs-fuse asks for FUSE_DIRECT_IO_ALLOW_MMAP, fuse/init_flags.c),
# MAP_SHARED: mapped writes reach the servers at msync (read back by a
# preloaded cat, which talks to the servers directly), a write(2) through the
# mount is seen by a live mapping, a write that bypasses the kernel (the
# preload) by the next mapping; numpy memmap "r", "r+" and "c". On an older
# kernel MAP_SHARED must fail with ENODEV, as benchfs-fuse(8) says.
head -c 1048576 /dev/urandom > "$M/mm"
KV=$(uname -r | awk -F'[.-]' '{ print $1 * 1000 + $2 }')
SHARED=0; [ "$KV" -ge 6006 ] && SHARED=1
"$PY" - "$M/mm" "$SHARED" "$PRELOAD" "$M" <<'PY' || fail "mmap on direct I/O"
import mmap, os, sys, errno, subprocess
p, shared, preload, mnt = sys.argv[1], sys.argv[2] == "1", sys.argv[3], sys.argv[4]
data = open(p, "rb").read()
fd = os.open(p, os.O_RDWR)
m = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE)
assert m[:] == data, "MAP_PRIVATE read differs"
m[0:4] = b"COWW"  # private: the file must not change
m.close()
assert open(p, "rb").read() == data, "MAP_PRIVATE write reached the file"
if not shared:
    try:
        mmap.mmap(fd, 0, flags=mmap.MAP_SHARED)
        sys.exit("MAP_SHARED succeeded where the kernel lacks FUSE_DIRECT_IO_ALLOW_MMAP")
    except OSError as e:
        assert e.errno == errno.ENODEV, e
    print("direct-I/O mmap: MAP_SHARED ENODEV on this kernel, as documented")
    sys.exit(0)
def servers():  # the file's bytes as the servers hold them (no kernel cache)
    env = dict(os.environ, LD_PRELOAD=preload, BENCHFS_MOUNT="/bfsmm")
    return subprocess.run(["cat", "/bfsmm/mm"], env=env, check=True, stdout=subprocess.PIPE).stdout
m = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED)
assert m[:] == data, "MAP_SHARED read differs"
m[100:105] = b"SHARE"
m.flush()
assert servers()[100:105] == b"SHARE", "msync'ed mapped write not on the servers"
assert open(p, "rb").read()[100:105] == b"SHARE", "mapped write not seen by read(2)"
with open(p, "r+b") as f:  # write(2) through the mount while mapped
    f.seek(200); f.write(b"WRITE")
assert m[200:205] == b"WRITE", "a live mapping missed a write(2) through the mount"
env = dict(os.environ, LD_PRELOAD=preload, BENCHFS_MOUNT="/bfsmm")
subprocess.run(["python3", "-c", "f = open('/bfsmm/mm', 'r+b'); f.seek(300); f.write(b'OUTER')"],
               env=env, check=True)
m.close()
m = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED)
assert m[300:305] == b"OUTER", "a new mapping missed a write made on the servers"
m.close(); os.close(fd)
import numpy as np
a = np.memmap(p, dtype=np.uint8, mode="r")
assert bytes(a[100:105]) == b"SHARE"
del a
a = np.memmap(p, dtype=np.uint8, mode="r+")
a[0:3] = [7, 8, 9]; a.flush(); del a
assert servers()[0:3] == bytes([7, 8, 9]), "numpy r+ write not on the servers"
a = np.memmap(p, dtype=np.uint8, mode="c")
assert bytes(a[0:3]) == bytes([7, 8, 9])
print("direct-I/O mmap: MAP_PRIVATE and MAP_SHARED ok")
PY

# --page-cache: a second mount of the same servers where MAP_SHARED works;
# what is written through the mapping reaches the servers (seen on the
# direct-I/O mount) after msync, and a change made on the servers is seen
# by a mapping made after it.
P="$T/pmnt"
start_fuse "$P" --page-cache || exit 1
"$PY" - "$P/mm" "$M/mm" <<'PY' || fail "MAP_SHARED on --page-cache"
import mmap, os, sys
pc, direct = sys.argv[1], sys.argv[2]
fd = os.open(pc, os.O_RDWR)
m = mmap.mmap(fd, 0)
m[10:15] = b"SHARE"
m.flush()
m.close(); os.close(fd)
assert open(direct, "rb").read()[10:15] == b"SHARE", "msync'ed data not on the servers"
with open(direct, "r+b") as f:
    f.seek(20); f.write(b"OTHER")
fd = os.open(pc, os.O_RDWR)
m = mmap.mmap(fd, 0)
assert m[20:25] == b"OTHER", "stale page cache after an open"
import numpy as np
a = np.memmap(pc, dtype=np.uint8, mode="r+")
a[0:3] = [1, 2, 3]; a.flush(); del a
assert open(direct, "rb").read()[0:3] == bytes([1, 2, 3])
print("page-cache MAP_SHARED ok")
PY

stop_fuse
[ "$FUSE_STATUS" = 0 ] || fail "benchfs-fuse exited with $FUSE_STATUS"
echo "PASS: fuse_apps"
