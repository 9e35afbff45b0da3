#!/bin/bash
# FIFOs and unix sockets in the mount (issue 12: mkfifo, mknod and bind of
# a job script landed on the local disk or failed). BenchFS stores the node;
# the kernel of the node that opens it on the FUSE mount makes the pipe or
# the connection (node-local, as on NFS).
#
# 1. Inside benchfs-run with its FUSE mount, 2 servers, through the preload:
#    mkfifo (coreutils, Python os.mkfifo, mknod(S_IFIFO)), a shell writer
#    and reader through the FIFO, a Python child writing into a FIFO its
#    parent reads, a plain (not preloaded) process seeing and using the same
#    FIFO, an AF_UNIX socket bound in the mount with a client in another
#    process; type everywhere (stat, ls -l, find -type p/s, readdir's
#    d_type), rename, EEXIST, devices EPERM, mknod(S_IFREG) an empty file,
#    rm.
# 2. Without FUSE, 3 servers: the client API (tests/fs_symlinks special:
#    types in stat and readdir on every server, ENXIO on open, rename, hard
#    link, unlink, EPERM/EINVAL/EEXIST/ENOENT) and the preload (stored and
#    typed; opening one fails with ENXIO: no bytes in chunks).
. "$(dirname "$0")/run_lib.sh"
need_fuse "FIFOs and sockets on the FUSE mount are NOT tested"
M="$T/mnt"
echo "$FUSE_JOB_PRELUDE" > "$T/job.sh"
cat >> "$T/job.sh" <<'SH'
mkdir -p $M/sp && cd $M/sp || fail "cd"
mkfifo p || fail "mkfifo"
[ -p p ] || fail "[ -p p ]"
[ "$(stat -c %F p)" = fifo ] || fail "stat says $(stat -c %F p)"
[ "$(ls -l p | cut -c1)" = p ] || fail "ls -l: $(ls -l p)"
mkfifo p 2>/dev/null && fail "mkfifo over an existing FIFO succeeded"
ok "mkfifo: stat, ls -l, EEXIST"
( echo hello through the pipe > p ) &
w=$!
got=$(timeout 20 cat p) || fail "cat p"
wait $w || fail "writer"
[ "$got" = "hello through the pipe" ] || fail "read '$got' from the FIFO"
ok "a shell writer and a reader through the FIFO"
got=$( (timeout 20 env -u LD_PRELOAD sh -c 'echo plain > p' &) ; timeout 20 env -u LD_PRELOAD cat p) ||
    fail "plain processes through the FIFO"
[ "$got" = plain ] || fail "plain processes read '$got'"
ok "processes without the preload see and use the same FIFO"
timeout 60 python3 - <<'PY' || fail "python FIFO and socket"
import os, socket, stat, errno
os.mkfifo("q", 0o600)
assert stat.S_ISFIFO(os.stat("q").st_mode)
pid = os.fork()
if pid == 0:
    with open("q", "wb") as f:
        f.write(b"x" * 100000)
    os._exit(0)
with open("q", "rb") as f:
    data = f.read()
assert os.waitpid(pid, 0)[1] == 0
assert data == b"x" * 100000, len(data)
os.mknod("n", 0o644 | stat.S_IFIFO)
assert stat.S_ISFIFO(os.lstat("n").st_mode)
os.mknod("r", 0o644 | stat.S_IFREG)
st = os.stat("r"); assert stat.S_ISREG(st.st_mode) and st.st_size == 0
try:
    os.mknod("c", 0o600 | stat.S_IFCHR, os.makedev(1, 3)); raise SystemExit("a device node was made")
except PermissionError:
    pass
assert not os.path.lexists("c")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind("sock"); s.listen(1)
assert stat.S_ISSOCK(os.stat("sock").st_mode)
pid = os.fork()
if pid == 0:
    c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    c.connect(os.path.abspath("sock")); c.sendall(b"ping"); c.close()
    os._exit(0)
conn, _ = s.accept()
assert conn.recv(16) == b"ping"
assert os.waitpid(pid, 0)[1] == 0
types = {e.name: (e.is_file(), e.is_dir(), e.is_symlink()) for e in os.scandir(".")}
for n in ("p", "q", "n", "sock"):
    assert types[n] == (False, False, False), (n, types[n])
assert types["r"] == (True, False, False)
print("ok")
PY
ok "python: os.mkfifo with a forked writer, mknod FIFO and regular, device EPERM, AF_UNIX bind/connect, scandir types"
[ "$(find . -type p | sort | tr '\n' ' ')" = "./n ./p ./q " ] || fail "find -type p: $(find . -type p)"
[ "$(find . -type s)" = ./sock ] || fail "find -type s: $(find . -type s)"
ok "find -type p / -type s"
mv p p2 && [ -p p2 ] && [ ! -e p ] || fail "mv of a FIFO"
rm p2 q n sock r || fail "rm"
[ -z "$(ls -A)" ] || fail "left: $(ls -A)"
ok "mv and rm of FIFOs and a socket"
echo "JOBOK"
SH
timeout 300 "$BFSRUN" --fuse --servers 2 --dir "$T/dir" --registry "$T/reg" --mount "$M" -- bash "$T/job.sh" \
    >"$T/job.out" 2>"$T/job.err"; rc=$?
cat "$T/job.out"
[ $rc -eq 0 ] && grep -qx JOBOK "$T/job.out" || { tail -30 "$T/job.err"; fail "job failed (exit $rc)"; }
[ -z "$(our_mounts)" ] || fail "still mounted after the job: $(our_mounts)"

# Without FUSE: stored and typed, not opened.
export UCX_MEM_MMAP_HOOK_MODE=none BENCHFS_FUSE=0
start_servers 3 "$T/d3" --chunk-size 64K || exit 1
timeout 120 "$top_builddir/tests/fs_symlinks" special || fail "fs_symlinks special (the client API)"
with_preload timeout 60 python3 - <<'PY' || fail "without FUSE"
import os, stat, errno
d = "/benchfs/nofuse"
os.makedirs(d)
for i in range(6):
    os.mkfifo("%s/f%d" % (d, i))
for i in range(6):
    p = "%s/f%d" % (d, i)
    assert stat.S_ISFIFO(os.lstat(p).st_mode), p
    for flags in (os.O_RDONLY | os.O_NONBLOCK, os.O_WRONLY | os.O_NONBLOCK):
        try:
            os.close(os.open(p, flags)); raise SystemExit("opened %s without FUSE" % p)
        except OSError as e:
            assert e.errno == errno.ENXIO, e
    assert os.stat(p).st_size == 0
assert sorted(e.name for e in os.scandir(d) if not e.is_file() and not e.is_dir()) == ["f%d" % i for i in range(6)]
for i in range(6):
    os.unlink("%s/f%d" % (d, i))
os.rmdir(d)
print("ok")
PY
stop_servers || fail "servers did not stop cleanly"
echo "# ok without FUSE (3 servers): FIFOs stored, typed, ENXIO on open, removed"
echo "PASS: FIFOs and sockets in the mount"
