#!/bin/bash
# The benchfs tool against 2 servers: ping, df, mkdir -p, ls -l, stat, cp -r
# in / out / within (checked by checksum), rm -r, errors for the common
# mistakes, ping of a server that does not answer, shutdown.
. "$(dirname "$0")/run_lib.sh"
start_servers 2 "$T/dir" --chunk-size 64K || exit 1
B() { timeout 60 "$BFSTOOL" "$@"; }
sums() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }

B ping >"$T/ping" || { cat "$T/ping"; fail "ping"; }
grep -q "^server 0: up" "$T/ping" && grep -q "^server 1: up" "$T/ping" && grep -q "2 of 2" "$T/ping" ||
    { cat "$T/ping"; fail "ping output"; }
B df >"$T/df" || fail "df"
cat "$T/df"
awk 'NR == 2 && $1 == 2 { ok = 1 } END { exit !ok }' "$T/df" || fail "df: server count"
# Both servers' directories are on one file system: its size counts once
# (statfs through the library against the directory's own, in bytes).
sizes=$(with_preload python3 -c 'import os, sys
a = os.statvfs("/benchfs"); b = os.statvfs(sys.argv[1])
print(a.f_blocks * a.f_frsize, b.f_blocks * b.f_frsize)' "$T/dir") || fail "statvfs"
set -- $sizes
[ "$1" = "$2" ] || fail "statfs counts the servers' shared disk more than once: $1 bytes, the disk has $2"
grep -q "each counted once" "$T/df" || fail "df does not say how it sums"

# mkdir
B mkdir -p /benchfs/a/b/c || fail "mkdir -p"
B mkdir -p /benchfs/a/b/c || fail "mkdir -p of an existing tree"
B mkdir /benchfs/a 2>"$T/e" && fail "mkdir of an existing directory succeeded"
grep -q "File exists" "$T/e" || fail "mkdir: no EEXIST message"
B mkdir /benchfs/x/y 2>/dev/null && fail "mkdir without parent succeeded"
B mkdir -m 700 /benchfs/private || fail "mkdir -m"
B stat /benchfs/private | grep -q "Mode: 0700" || fail "mkdir -m 700: mode"
B mkdir "$T/local" 2>"$T/e" && fail "mkdir of a local path succeeded"
grep -q "not a BenchFS path" "$T/e" || fail "no message for a local path"

# ls
[ "$(B ls /benchfs | tr '\n' ' ')" = "a private " ] || fail "ls /benchfs: $(B ls /benchfs)"
[ "$(B ls)" = "$(B ls /benchfs)" ] || fail "ls without a path lists the root"
B ls -l /benchfs/a | grep -q "^d.* b$" || fail "ls -l: $(B ls -l /benchfs/a)"
B ls /benchfs/nothing 2>/dev/null && fail "ls of a missing path succeeded"

# cp in: a tree and a multi-chunk file
SRC="$T/src"; mkdir -p "$SRC/d1/d2" "$SRC/emptydir"
for i in $(seq 1 30); do head -c $((i * 4099)) /dev/urandom >"$SRC/d1/f$i"; done
head -c 3000000 /dev/urandom >"$SRC/d1/d2/big"
: >"$SRC/zero"
B cp -r "$SRC" /benchfs/a/tree 2>"$T/cp.err" || fail "cp -r in"
[ -s "$T/cp.err" ] && fail "cp printed on a stderr that is not a terminal: $(cat "$T/cp.err")"
[ "$(B ls /benchfs/a/tree | tr '\n' ' ')" = "d1 emptydir zero " ] || fail "ls after cp -r: $(B ls /benchfs/a/tree)"
B stat /benchfs/a/tree/d1/d2/big >"$T/stat" || fail "stat"
grep -q "Type: regular file" "$T/stat" && grep -q "Size: 3000000" "$T/stat" &&
    grep -q "Chunks: 46 of 65536" "$T/stat" || { cat "$T/stat"; fail "stat output"; }
B stat /benchfs/a/tree/d1 | grep -q "Type: directory" || fail "stat of a directory"
B cp "$SRC/d1/f3" /benchfs/a || fail "cp of a file into a directory"
B cp "$SRC/d1/f4" /benchfs/a/renamed || fail "cp of a file to a new name"
B cp "$SRC/d1/f5" "$SRC/d1/f6" /benchfs/a/b || fail "cp of several files"
B cp "$SRC" /benchfs/a/t2 2>"$T/e" && fail "cp of a directory without -r succeeded"
grep -q "omitting directory" "$T/e" || fail "cp without -r: no message"
B cp -r /benchfs/a /benchfs/a/b/c 2>"$T/e" && fail "cp of a directory into itself succeeded"
grep -q "into itself" "$T/e" || fail "cp into itself: no message"
B cp "$SRC/d1/f1" "$SRC/d1/f2" /benchfs/a/renamed 2>/dev/null && fail "cp of several files onto a file"
B cp /benchfs/a/renamed /benchfs/a/renamed 2>"$T/e" && fail "cp of a file onto itself succeeded"
grep -q "same file" "$T/e" || fail "cp onto itself: no message"
B cp /benchfs/a/renamed "$T/r" && cmp "$T/r" "$SRC/d1/f4" || fail "cp onto itself damaged the file"

# cp out and within
B cp -r /benchfs/a/tree "$T/out" || fail "cp -r out"
[ "$(sums "$SRC")" = "$(sums "$T/out")" ] || fail "tree copied in and out differs"
[ -d "$T/out/emptydir" ] || fail "empty directory lost"
B cp -r /benchfs/a/tree /benchfs/a/tree2 || fail "cp -r within"
B cp -r /benchfs/a/tree2 "$T/out2" || fail "cp -r out of the copy"
[ "$(sums "$SRC")" = "$(sums "$T/out2")" ] || fail "tree copied within BenchFS differs"
mkdir "$T/into"
B cp /benchfs/a/f3 /benchfs/a/renamed /benchfs/a/b/f5 "$T/into" || fail "cp of several files out"
cmp "$SRC/d1/f3" "$T/into/f3" && cmp "$SRC/d1/f4" "$T/into/renamed" && cmp "$SRC/d1/f5" "$T/into/f5" ||
    fail "files copied out differ"
# A custom mount prefix (-m and $BENCHFS_MOUNT).
B -m /mnt/bfs cp /mnt/bfs/a/f3 "$T/f3.m" && cmp "$SRC/d1/f3" "$T/f3.m" || fail "cp with -m"
BENCHFS_MOUNT=/mnt/bfs B ls /mnt/bfs | grep -q private || fail "ls with BENCHFS_MOUNT"

# rm
B rm /benchfs/a/f3 || fail "rm of a file"
B ls /benchfs/a/f3 2>/dev/null && fail "rm left the file"
B rm /benchfs/a/tree 2>"$T/e" && fail "rm of a directory without -r succeeded"
grep -q "use -r" "$T/e" || fail "rm of a directory: no hint"
B rm /benchfs/a/nothing 2>/dev/null && fail "rm of a missing file succeeded"
B rm -f /benchfs/a/nothing || fail "rm -f of a missing file"
B rm -r /benchfs/a/tree /benchfs/a/tree2 || fail "rm -r"
[ "$(B ls /benchfs/a | tr '\n' ' ')" = "b renamed " ] || fail "after rm -r: $(B ls /benchfs/a)"
B rm -r /benchfs || fail "rm -r of the root (empties it)"
[ -z "$(B ls /benchfs)" ] || fail "root not empty after rm -r /benchfs"

# A server that does not answer (stopped): ping says which, exits 1, quickly.
srv1=$(ps -o pid= --ppid "$SERVER_PID" | sed -n 2p)
[ -n "$srv1" ] || fail "no second server under mpirun"
kill -STOP "$srv1"
trap 'rc=$?; kill -CONT '"$srv1"' 2>/dev/null; run_cleanup $rc' EXIT
t0=$(date +%s)
BENCHFS_RPC_TIMEOUT_MS=1000 B ping >"$T/ping" 2>&1 && { kill -CONT "$srv1"; fail "ping with a stopped server exited 0"; }
kill -CONT "$srv1"
[ $(( $(date +%s) - t0 )) -le 10 ] || fail "ping of a stopped server too slow"
grep -q "DOWN" "$T/ping" && grep -q "1 of 2 servers answered" "$T/ping" || { cat "$T/ping"; fail "ping output with a server down"; }
B ping -q || fail "ping after the server continued"

# shutdown: servers exit, registry gone; afterwards commands fail clearly.
# On a terminal, a copy that lasts more than a second shows bytes, files,
# rate and ETA, and ends with the total time (script(1) gives it a pty).
head -c $((400 << 20)) /dev/urandom >"$T/big"
t0=$SECONDS
script -qec "timeout 120 $BFSTOOL cp -j 1 $T/big /benchfs/big" /dev/null >"$T/tty.out" 2>&1 || { cat "$T/tty.out"; fail "cp on a terminal"; }
if [ $((SECONDS - t0)) -ge 3 ]; then
    grep -aq "MiB of 400.0 MiB, [01] of 1 files, .*/s, ETA [0-9]*:[0-9][0-9]" "$T/tty.out" || { cat -v "$T/tty.out"; fail "no progress line with ETA"; }
    grep -aq "1 of 1 files, .*/s in [0-9.]* s" "$T/tty.out" || { cat -v "$T/tty.out"; fail "no final progress line"; }
else
    echo "# cp of 400 MiB took under 3 s: progress line not checked"
fi
B rm /benchfs/big || fail "rm big"
rm -f "$T/big"
B shutdown || fail "shutdown"
for _ in $(seq 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVER_PID" 2>/dev/null && fail "servers still run after shutdown"
wait "$SERVER_PID"; SERVER_PID=
[ ! -e "$BENCHFS_REGISTRY" ] || fail "registry left after shutdown"
B ping 2>"$T/e" && fail "ping without servers succeeded"
grep -q "cannot connect" "$T/e" || fail "ping without servers: no message"
B bogus 2>/dev/null; [ $? = 2 ] || fail "unknown command: exit status"
B --help | grep -q "cp \[-r\]" || fail "--help"
echo "PASS: benchfs tool"
