#!/bin/bash
# Symbolic links and POSIX path resolution (issue 11, parts 7, 8 and 9's
# ENOTDIR) on 1 and 3 servers: the client API (tests/fs_symlinks.c: rules,
# ELOOP, O_NOFOLLOW, "..", a link replaced by one process while others
# resolve through it), then real programs through the preload: ln -s,
# readlink, ls -l, stat -L, find -L, a target outside the mount, errno of
# the path rules by python3's os calls, tar -x of a real tree with symlinks
# (shared libraries and /etc/alternatives), cp -a of it, diff -r against the
# source, and python3 -m venv inside the mount running its own python.
. "$(dirname "$0")/lib.sh"
[ -f "$PL" ] || fail "no $PL"
export BENCHFS_MOUNT=/benchfs
M=/benchfs
B() { with_preload "$@"; }

# The real tree: libraries whose .so names are relative symlinks to their
# versions, and /etc/alternatives (absolute targets out of the mount).
LIB=/usr/lib/x86_64-linux-gnu
names=$(cd $LIB && ls -d libz*.so* libb*.so* libe*.so* libf*.so* 2>/dev/null)
[ -n "$names" ] || fail "no libraries to tar in $LIB"
mkdir -p "$T/src"
tar -C $LIB -cf - $names | tar -C "$T/src" -xf - || fail "local copy of the library tree"
cp -a /etc/alternatives "$T/src/alternatives" || fail "local copy of /etc/alternatives"
tar -C "$T/src" -cf "$T/tree.tar" . || fail "tar of the tree"
nlinks=$(find "$T/src" -type l | wc -l)
[ "$nlinks" -gt 50 ] || fail "only $nlinks symlinks in the tree"

for n in 1 3; do
    start_servers "$n" "$T/d$n" --chunk-size 64K || exit 1
    timeout 120 "$top_builddir/tests/fs_symlinks" api || fail "fs_symlinks api, $n servers"
    timeout 120 "$top_builddir/tests/fs_symlinks" race 3 || fail "fs_symlinks race, $n servers"

    # ln -s, readlink, ls -l, stat -L, find -L; relative, absolute, outside.
    B mkdir -p $M/p/a/b || fail "mkdir"
    echo hello | B tee $M/p/a/b/f > /dev/null || fail "write"
    B ln -s a/b $M/p/rel || fail "ln -s relative"
    B ln -s $M/p/a/b/f $M/p/abs || fail "ln -s absolute"
    B ln -s /etc/hostname $M/p/out || fail "ln -s outside"
    [ "$(B readlink $M/p/rel)" = a/b ] || fail "readlink"
    B ls -l $M/p | grep -q 'rel -> a/b' || fail "ls -l shows the link: $(B ls -l $M/p)"
    [ "$(B stat -c %F $M/p/rel)" = "symbolic link" ] || fail "stat of a link"
    [ "$(B stat -L -c %F $M/p/rel)" = directory ] || fail "stat -L"
    [ "$(B cat $M/p/rel/f)" = hello ] || fail "cat through a relative link"
    [ "$(B cat $M/p/abs)" = hello ] || fail "cat through an absolute link"
    [ "$(B cat $M/p/out)" = "$(cat /etc/hostname)" ] || fail "cat of a target outside the mount"
    [ "$(B find -L $M/p -name f | sort | tr '\n' ' ')" = "$M/p/a/b/f $M/p/rel/f " ] ||
        fail "find -L: $(B find -L $M/p -name f)"
    [ "$(B readlink -f $M/p/rel/../b/f)" = $M/p/a/b/f ] || fail "readlink -f with .. after a link"
    # (cd -P: a shell's plain "cd .." is by its text, on any file system.)
    (cd / && B sh -c "cd $M/p/rel && cd -P .. && pwd -P && ls") | tr '\n' ' ' | grep -q "^$M/p/a b " ||
        fail "cd through a link, then cd -P ..: $(cd / && B sh -c "cd $M/p/rel && cd -P .. && pwd -P && ls")"

    # errno of the path rules, as a program sees them.
    B python3 - "$M" <<'EOF' || fail "errno rules through the preload, $n servers"
import errno, os, sys
M = sys.argv[1] + "/p"
bad = 0
def want(err, f, *a):
    global bad
    try:
        f(*a)
        got = "success"
    except OSError as e:
        got = errno.errorcode[e.errno]
    if got != err:
        print(f"{f.__name__}{a}: {got}, want {err}")
        bad += 1
want("ENOTDIR", os.open, M + "/a/b/f/.", os.O_RDONLY)
want("ENOTDIR", os.unlink, M + "/a/b/f/")
want("ENOTDIR", os.stat, M + "/a/b/f/")
want("ENOTDIR", os.stat, M + "/a/b/f/../f")
want("ENOTDIR", os.stat, M + "/a/b/f/x")
want("ENOTDIR", os.mkdir, M + "/a/b/f/x")
os.makedirs(M + "/z/w")
want("EINVAL", os.rmdir, M + "/z/w/.")
want("EINVAL", os.rename, M + "/z/w/..", M + "/zz")
want("success", os.stat, M + "/z/w")
want("ENOENT", os.stat, M + "/zz")
os.symlink("loop2", M + "/loop1")
os.symlink("loop1", M + "/loop2")
want("ELOOP", os.stat, M + "/loop1")
want("ELOOP", os.open, M + "/abs", os.O_RDONLY | os.O_NOFOLLOW)
want("EEXIST", os.symlink, "x", M + "/abs")
want("EEXIST", os.open, M + "/loop1", os.O_CREAT | os.O_EXCL | os.O_WRONLY)
os.symlink("a/created", M + "/dang")
os.close(os.open(M + "/dang", os.O_CREAT | os.O_WRONLY, 0o644))
want("success", os.stat, M + "/a/created")
st = os.stat(M + "/rel", follow_symlinks=False)
if not (st.st_mode & 0o170000 == 0o120000 and st.st_size == 3):
    print("lstat of a link", oct(st.st_mode), st.st_size); bad += 1
os.utime(M + "/rel", ns=(10**18, 10**18), follow_symlinks=False)
if os.stat(M + "/a/b").st_mtime_ns == 10**18:
    print("utime(follow_symlinks=False) changed the target"); bad += 1
os.link(M + "/abs", M + "/hl", follow_symlinks=False)
if os.readlink(M + "/hl") != os.readlink(M + "/abs") or os.lstat(M + "/hl").st_nlink != 2:
    print("link to a symlink is not the symlink"); bad += 1
# linkat(AT_SYMLINK_FOLLOW) (os.link calls link(2), which on Linux does not follow)
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
if libc.linkat(-100, (M + "/abs").encode(), -100, (M + "/hf").encode(), 0x400) != 0:
    print("linkat AT_SYMLINK_FOLLOW:", errno.errorcode[ctypes.get_errno()]); bad += 1
if not os.path.isfile(M + "/hf") or os.path.islink(M + "/hf") or os.stat(M + "/hf").st_nlink != 2:
    print("linkat(AT_SYMLINK_FOLLOW) did not link the target"); bad += 1
if os.path.realpath(M + "/rel/../b/f") != M + "/a/b/f":
    print("realpath", os.path.realpath(M + "/rel/../b/f")); bad += 1
kinds = {e.name: e.is_symlink() for e in os.scandir(M)}
if not (kinds.get("rel") and not kinds.get("a")):
    print("scandir d_type", kinds); bad += 1
sys.exit(1 if bad else 0)
EOF

    # tar -x of a real tree with symlinks, cp -a of it, diff -r with the source.
    B mkdir $M/t || fail "mkdir t"
    B tar -C $M/t -xf "$T/tree.tar" || fail "tar -x into BenchFS, $n servers"
    B diff -r --no-dereference "$T/src" $M/t > "$T/diff" 2>&1 || { head "$T/diff"; fail "tar tree differs"; }
    [ "$(B find $M/t -type l | wc -l)" = "$nlinks" ] || fail "symlink count after tar -x"
    B cp -a $M/t $M/t2 || fail "cp -a within BenchFS"
    B diff -r --no-dereference "$T/src" $M/t2 > "$T/diff" 2>&1 || { head "$T/diff"; fail "cp -a tree differs"; }
    rm -rf "$T/back"
    B cp -a $M/t2 "$T/back" || fail "cp -a out of BenchFS"
    diff -r --no-dereference "$T/src" "$T/back" > "$T/diff" 2>&1 || { head "$T/diff"; fail "copied-out tree differs"; }
    B rm -rf $M/t $M/t2 || fail "rm -rf of the trees"

    # A Python virtual environment inside the mount, and its python.
    B python3 -m venv --without-pip $M/venv || fail "python3 -m venv, $n servers"
    [ "$(B readlink $M/venv/bin/python)" = python3 ] || fail "venv bin/python link: $(B readlink $M/venv/bin/python)"
    # Run by a shell under the preload (env itself, in B, is not).
    out=$(B sh -c "$M/venv/bin/python -c 'import sys; print(sys.prefix)'" 2>&1)
    [ "$out" = $M/venv ] || fail "the venv's python: $out"
    B rm -rf $M/venv $M/p || fail "rm -rf"
    [ -z "$(B ls -A $M)" ] || fail "left behind: $(B ls -A $M)"
    stop_servers || fail "servers did not stop cleanly"
done
echo "PASS: fs_symlinks"
