#!/bin/bash
# Descriptors that escape the library onto benchfs-run's FUSE mount (issue
# 12): what a job script does with the preload library loaded - shell
# redirections into static binaries, children's stdio, mmap (Python, numpy),
# git, sqlite, programs stored in the mount and executed from it, make - lands
# in BenchFS, byte for byte, and reads back the same through the library,
# through FUSE, and through the benchfs tool.
. "$(dirname "$0")/run_lib.sh"
need_fuse "no FUSE mount to escape to"
M="$T/mnt"
echo "$FUSE_JOB_PRELUDE" > "$T/job.sh"
cat >> "$T/job.sh" <<'SH'
same() { [ "$(cat "$1")" = "$2" ] || { echo "got: $(cat "$1" | head -c 300)"; fail "$3"; }; ok "$3"; }
mkdir -p $M/w && cd $M/w || fail "cd"
{ echo a; /bin/echo b; echo c; } > group; same group "$(printf 'a\nb\nc')" "{ builtin; external; builtin; } > f"
echo x >> log; /bin/echo y >> log; same log "$(printf 'x\ny')" ">> from the shell and a child"
if [ -x /bin/busybox ]; then
    /bin/busybox echo static > st || fail "static binary into a redirect"
    same st static "a static binary (busybox) writes through the inherited descriptor"
    /bin/busybox cat group > st2 && same st2 "$(printf 'a\nb\nc')" "busybox cat reads the mount"
fi
exec 3> fd3; echo one >&3; /bin/echo two >&3; exec 3>&-; same fd3 "$(printf 'one\ntwo')" "exec 3> f"
# A descriptor whose file was renamed and replaced since the open (with no
# fork in between, which would have handed it over already) goes to the
# kernel as that file (by its id), not as the new file of the old name.
timeout 60 python3 - <<'PY' || fail "hand-over of a renamed file"
import os, subprocess
fd = os.open("rn", os.O_RDWR | os.O_CREAT, 0o644)
os.write(fd, b"old"); os.lseek(fd, 0, 0)
os.rename("rn", "rn2")
with open("rn", "w") as f: f.write("new")
out = subprocess.run(["/bin/cat"], stdin=fd, stdout=subprocess.PIPE, check=True).stdout
assert out == b"old", out
subprocess.run(["/bin/sh", "-c", "echo second >&0"], stdin=fd, check=True)
os.close(fd)
assert open("rn2").read() == "oldsecond\n", open("rn2").read()
assert open("rn").read() == "new", "the new file of the old name was touched"
# One offset for parent and child (the file is O_CLOEXEC in Python; the child
# gets it as stdout): header, the child's output, trailer, in order.
with open("hdr", "w") as f:
    f.write("header\n"); f.flush()
    subprocess.run(["/bin/echo", "child"], stdout=f, check=True)
    f.write("trailer\n")
assert open("hdr").read() == "header\nchild\ntrailer\n", repr(open("hdr").read())
PY
ok "a child gets the renamed file (by id) through an inherited descriptor, not the new file of the old name; parent and child share one offset"
seq 1 5000 > seq; [ "$(sha256sum < seq)" = "$(seq 1 5000 | sha256sum)" ] || fail "seq > f"; ok "seq > f"
sort -rn seq -o sorted; [ "$(head -1 sorted)" = 5000 ] || fail "sort -o"; ok "sort -o"
timeout 60 python3 - <<'PY' || fail "python mmap"
import errno, mmap
with open("mm", "w+b") as f:
    f.write(b"hello" + b"\0" * 4091 + b"world"); f.flush()
    # Private mappings work through the FUSE mount (direct I/O files).
    r = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
    assert r[0:5] == b"hello" and r[4096:4101] == b"world", r[:8]
    r[0:5] = b"HELLO"; r.close()
    # Shared mappings: the kernel maps the mount's file (from Linux 6.6,
    # FUSE_DIRECT_IO_ALLOW_MMAP); msync'ed writes reach the servers, where
    # this process's library reads them. Before 6.6: ENODEV, never a
    # mapping whose writes vanish.
    import os
    k = [int(x) for x in os.uname().release.split("-")[0].split(".")[:2]]
    if k >= [6, 6]:
        s = mmap.mmap(f.fileno(), 0)
        s[4096:4101] = b"WORLD"; s.flush(); s.close()
        assert open("mm", "rb").read()[4096:4101] == b"WORLD", "msync'ed write lost"
    else:
        try:
            mmap.mmap(f.fileno(), 0)
            raise SystemExit("MAP_SHARED of a direct-I/O FUSE file was accepted")
        except OSError as e:
            assert e.errno == errno.ENODEV, e
assert open("mm", "rb").read(5) == b"hello"
PY
ok "python mmap: MAP_PRIVATE read and copy-on-write; MAP_SHARED writes reach the servers (ENODEV before Linux 6.6)"
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    timeout 60 /usr/bin/python3 -c '
import numpy as np
np.arange(1000, dtype="float64").tofile("np.dat")
b = np.memmap("np.dat", dtype="float64", mode="c", shape=(1000,)); assert b[999] == 999.0 and b.sum() == 499500.0
' || fail "numpy memmap"; ok "numpy memmap (mode c) reads a file written through the library"
fi
printf '#!/bin/sh\necho script-ran "$@"\n' > run.sh && chmod +x run.sh
[ "$(./run.sh 1)" = "script-ran 1" ] || fail "script in the mount"; ok "a script stored in the mount runs"
cp /bin/true ./mytrue && ./mytrue || fail "ELF in the mount"; ok "an ELF binary stored in the mount runs"
if command -v git >/dev/null; then
    git init -q repo && cd repo && echo content > file && git add file &&
        git -c user.email=t@t -c user.name=t commit -qm first && [ "$(git log --format=%s)" = first ] ||
        fail "git init/add/commit/log"
    git status --porcelain | grep -q . && fail "git status not clean"
    cd ..; ok "git init, add, commit, log, status in the mount"
fi
if command -v sqlite3 >/dev/null; then
    sqlite3 db.sqlite 'create table t(x); insert into t values (1),(2),(3);' &&
        [ "$(sqlite3 db.sqlite 'select sum(x) from t')" = 6 ] || fail "sqlite3"
    ok "sqlite3 create, insert, select"
fi
if command -v cc >/dev/null; then
    mkdir -p prog && printf 'int main(void){return 42;}\n' > prog/m.c &&
        printf 'm: m.c\n\tcc -o m m.c\n' > prog/Makefile && make -s -C prog >/dev/null
    ./prog/m; [ $? -eq 42 ] || fail "make in the mount"; ok "make builds a program in the mount, it runs"
fi
env -u LD_PRELOAD cat group > plain.out; same plain.out "$(printf 'a\nb\nc')" "a plain (not preloaded) cat"
echo "JOBOK"
SH
timeout 400 "$BFSRUN" --fuse --dir "$T/dir" --registry "$T/reg" --mount "$M" -- bash "$T/job.sh" \
    >"$T/job.out" 2>"$T/job.err"; rc=$?
cat "$T/job.out"
[ $rc -eq 0 ] && grep -qx JOBOK "$T/job.out" || { tail -30 "$T/job.err"; fail "job failed (exit $rc)"; }
[ -z "$(our_mounts)" ] || fail "still mounted after the job: $(our_mounts)"
echo "PASS: escapes onto the FUSE mount"
