#!/bin/bash
# No stale data between the FUSE mount and the client API (what a preloaded
# process or another node uses): each side sees the other's writes, an
# overwrite of the same bytes (same size, same second), truncates, creates
# and removes, at once, also through a descriptor kept open on the mount.
. "$(dirname "$0")/fuse_lib.sh"
unset LD_PRELOAD
start_servers 0 "$T/srv" || exit 1
M="$T/mnt"
start_fuse "$M" || exit 1
peer() { "$FUSE_PEER" "$@"; }

# API -> FUSE, FUSE -> API
peer write /a 0 "from the api" || fail "peer write"
[ "$(cat "$M/a")" = "from the api" ] || fail "FUSE does not see the API's write"
echo "from fuse" > "$M/b"
[ "$(peer cat /b)" = "from fuse" ] || fail "the API does not see the FUSE write"

# A name looked up while missing, then created on the other side (no
# negative entry cache); removed on the other side (no entry cache).
[ -e "$M/later" ] && fail "later exists"
peer write /later 0 x || fail "peer write later"
[ -e "$M/later" ] || fail "negative entry cached: created file not seen"
ls "$M" | grep -qx later || fail "readdir misses the API's file"
rm "$M/later"
peer size /later 2>/dev/null && fail "the API still sees a file removed through FUSE"
mkdir "$M/d"; peer ls /d >/dev/null || fail "the API does not see a FUSE mkdir"

# Overwrite of the same bytes, same size, same second, while the mount holds
# the file open: the next read through the open descriptor sees it.
peer write /same 0 "AAAAAAAAAA" || fail "peer write same"
python3 - "$M/same" "$FUSE_PEER" <<'PY' || fail "stale data through an open descriptor"
import os, subprocess, sys
p, peer = sys.argv[1], sys.argv[2]
fd = os.open(p, os.O_RDWR)
assert os.pread(fd, 10, 0) == b"AAAAAAAAAA"
subprocess.run([peer, "write", "/same", "0", "BBBBBBBBBB"], check=True)
assert os.pread(fd, 10, 0) == b"BBBBBBBBBB", "overwrite of the same bytes not seen"
subprocess.run([peer, "write", "/same", "3", "CC"], check=True)
assert os.pread(fd, 10, 0) == b"BBBCCBBBBB", "partial overwrite not seen"
# Truncate by the other side: size and data through the open descriptor.
subprocess.run([peer, "truncate", "/same", "4"], check=True)
assert os.fstat(fd).st_size == 4, os.fstat(fd).st_size
assert os.pread(fd, 10, 0) == b"BBBC", "read past an API truncate"
subprocess.run([peer, "truncate", "/same", "8"], check=True)
assert os.pread(fd, 10, 0) == b"BBBC\0\0\0\0", "grown file not zero-filled"
# And the other way: a FUSE write is at once on the servers.
os.pwrite(fd, b"ZZ", 0)
out = subprocess.run([peer, "cat", "/same"], check=True, capture_output=True).stdout
assert out == b"ZZBC\0\0\0\0", out
# A write below the old size after the other side shrank the file grows it.
subprocess.run([peer, "truncate", "/same", "2"], check=True)
os.pwrite(fd, b"Q", 5)
out = subprocess.run([peer, "cat", "/same"], check=True, capture_output=True).stdout
assert out == b"ZZ\0\0\0Q", out
os.close(fd)
print("open-descriptor coherence ok")
PY
# Truncate through FUSE, seen by the API; stat on the mount after an API
# truncate.
head -c 100000 /dev/urandom > "$M/t"
truncate -s 1000 "$M/t"
[ "$(peer size /t)" = 1000 ] || fail "the API sees size $(peer size /t) after a FUSE truncate"
peer truncate /t 10 || fail "peer truncate"
[ "$(stat -c %s "$M/t")" = 10 ] || fail "FUSE sees size $(stat -c %s "$M/t") after an API truncate"
[ "$(wc -c < "$M/t")" = 10 ] || fail "FUSE reads past an API truncate"

# A big file across chunks (1 MiB), overwritten in place by the API.
head -c 3000000 /dev/urandom > "$T/big"
cp "$T/big" "$M/big"
peer write /big 1048570 "XXXXXXXXXXXXXXXXXXXX" || fail "peer write big"
printf 'XXXXXXXXXXXXXXXXXXXX' | dd of="$T/big" bs=1 seek=1048570 conv=notrunc status=none
cmp "$T/big" "$M/big" || fail "big file: API overwrite across a chunk boundary not seen"

# Renames on one side, seen on the other.
peer write /r1 0 rename-me
mv "$M/r1" "$M/r2"
[ "$(peer cat /r2)" = rename-me ] || fail "the API does not see a FUSE rename"
# A file renamed (also with its directory) or unlinked while open through the
# mount stays usable through the open descriptor; the unlinked one goes at
# the last close.
python3 - "$M" <<'PY' || fail "open file renamed or unlinked"
import os, sys
m = sys.argv[1]
os.mkdir(m + "/od")
fd = os.open(m + "/od/a", os.O_CREAT | os.O_RDWR)
os.write(fd, b"hello")
os.rename(m + "/od/a", m + "/od/b")
os.pwrite(fd, b"J", 0)
assert open(m + "/od/b", "rb").read() == b"Jello", "write after rename"
os.rename(m + "/od", m + "/od2")
os.pwrite(fd, b"Y", 4)
assert open(m + "/od2/b", "rb").read() == b"JellY", "write after a rename of the directory"
assert os.fstat(fd).st_size == 5
os.close(fd)
fd = os.open(m + "/tmpfile", os.O_CREAT | os.O_RDWR)
os.write(fd, b"scratch")
os.unlink(m + "/tmpfile")
assert not os.path.exists(m + "/tmpfile")
assert os.pread(fd, 7, 0) == b"scratch", "read after unlink"
os.pwrite(fd, b"S", 0)
assert os.pread(fd, 7, 0) == b"Scratch"
os.close(fd)
# A rename over a file that is open: the open replaced file keeps its own
# data, the new one is not touched by writes to it.
fo = os.open(m + "/old", os.O_CREAT | os.O_RDWR); os.write(fo, b"old-data")
fn = os.open(m + "/new", os.O_CREAT | os.O_RDWR); os.write(fn, b"new-data")
os.rename(m + "/new", m + "/old")
os.pwrite(fo, b"OLD", 0)
assert os.pread(fo, 8, 0) == b"OLD-data", os.pread(fo, 8, 0)
assert open(m + "/old", "rb").read() == b"new-data", "write to the replaced file hit its successor"
os.pwrite(fn, b"NEW", 0)
assert open(m + "/old", "rb").read() == b"NEW-data"
os.close(fo); os.close(fn)
left = [n for n in os.listdir(m) if n.startswith(".fuse_hidden")]
assert not left, left
print("rename/unlink of open files ok")
PY
peer ls / | grep -q fuse_hidden && fail "the API sees a hidden file after the last close"
# An open descriptor on the mount names its file, not its path: renamed by
# the API (a preloaded process, another node) and replaced by a new file of
# the old name, its writes still go to the renamed file.
exec 5<>"$M/moved"
echo one >&5
peer mv /moved /moved2 || fail "peer mv"
peer write /moved 0 "newcomer" || fail "peer write newcomer"
echo two >&5
exec 5>&-
[ "$(cat "$M/moved2")" = "$(printf 'one\ntwo')" ] || fail "a write through an open descriptor missed its renamed file"
[ "$(cat "$M/moved")" = newcomer ] || fail "a write through an open descriptor hit the new file of the old name"

# Files by id (what the preload library uses to hand over a descriptor whose
# path changed): MOUNT/.benchfs-id/<16 hex digits> is the file, whatever its
# names; gone with its last name; not listed.
ino=$(peer ino /moved2) || fail "peer ino"
byid="$M/.benchfs-id/$(printf %016x "$ino")"
[ "$(cat "$byid")" = "$(printf 'one\ntwo')" ] || fail "the file by id"
echo three >> "$byid" || fail "append by id"
[ "$(peer cat /moved2 | tail -1)" = three ] || fail "a write by id missed the file"
ls -a "$M" | grep -q benchfs-id && fail "the by-id directory is listed"
peer mv /moved2 /moved3 && [ "$(head -1 "$byid")" = one ] || fail "the file by id after a rename"
rm "$M/moved3"
[ -e "$byid" ] && fail "a removed file is still there by id"
[ -e "$M/.benchfs-id/0000000000000000" ] && fail "id 0 exists"
cat "$M/.benchfs-id/zz" 2>/dev/null && fail "a malformed id opened something"

# O_APPEND through the mount and through the API at once: atomic on both
# sides (the mount appends with benchfs_append), every line once and whole.
pids=
for t in m1 m2; do
    (for i in $(seq 0 299); do echo "$t $i"; done >> "$M/app") & pids="$pids $!"
done
for t in a1 a2; do peer append /app "$t" 300 & pids="$pids $!"; done
for p in $pids; do wait "$p" || fail "an appender failed"; done
[ "$(wc -l < "$M/app")" = 1200 ] || fail "appends lost: $(wc -l < "$M/app") lines of 1200"
for t in m1 m2 a1 a2; do
    [ "$(grep -c "^$t [0-9]*$" "$M/app")" = 300 ] || fail "appender $t: lines lost or torn"
done
stop_fuse
[ "$FUSE_STATUS" = 0 ] || fail "benchfs-fuse exited with $FUSE_STATUS"
echo "PASS: fuse_coherence"
