#!/bin/bash
# Real applications (no LD_PRELOAD) on a BenchFS FUSE mount: programs run
# from the mount (a script, an ELF binary, busybox-static), sqlite3, git,
# make + cc, mmap through python and numpy (the documented direct-I/O
# limits, and MAP_SHARED on a --page-cache mount).
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

# mmap with direct I/O: MAP_PRIVATE works (read and copy-on-write), MAP_SHARED
# fails with ENODEV (documented in benchfs-fuse(8)); numpy memmap "c" works,
# "r" and "r+" (MAP_SHARED) raise ENODEV.
head -c 1048576 /dev/urandom > "$M/mm"
"$PY" - "$M/mm" <<'PY' || fail "mmap on direct I/O"
import mmap, os, sys, errno
p = sys.argv[1]
data = open(p, "rb").read()
fd = os.open(p, os.O_RDWR)
m = mmap.mmap(fd, 0, flags=mmap.MAP_PRIVATE)
assert m[:] == data, "MAP_PRIVATE read differs"
m[0:4] = b"COWW"  # private: the file must not change
m.close()
assert open(p, "rb").read() == data, "MAP_PRIVATE write reached the file"
try:
    mmap.mmap(fd, 0, flags=mmap.MAP_SHARED)
    sys.exit("MAP_SHARED succeeded on a direct-I/O file: update the docs")
except OSError as e:
    assert e.errno == errno.ENODEV, e
import numpy as np
a = np.memmap(p, dtype=np.uint8, mode="c")
assert bytes(a[:100]) == data[:100]
for mode in ("r", "r+"):
    try:
        np.memmap(p, dtype=np.uint8, mode=mode)
        sys.exit("numpy memmap %s succeeded: update the docs" % mode)
    except OSError as e:
        assert e.errno == errno.ENODEV, e
print("direct-I/O mmap as documented")
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
