#!/bin/bash
# benchfs-run --stage-in / --stage-out: a local tree (nested directories,
# empty files, a name with blanks, a file larger than one copy range so that
# several threads share it) goes in, the job reads and extends it, and both
# the tree and the job's output come out identical, by checksum. A failed
# stage-in keeps COMMAND from running; a failed stage-out turns success into
# status 125.
. "$(dirname "$0")/run_lib.sh"
SRC="$T/src"
mkdir -p "$SRC/a/b/c" "$SRC/empty-dir" "$SRC/with space"
for i in $(seq 1 20); do head -c $((i * 3001)) /dev/urandom >"$SRC/a/f$i"; done
head -c 100000 /dev/urandom >"$SRC/a/b/c/deep"
: >"$SRC/a/empty"
echo "blank" >"$SRC/with space/file name"
head -c $((65 * 1048576 + 12345)) /dev/urandom >"$SRC/big"
echo single >"$T/single.txt"
sums() { (cd "$1" && find . -type f -exec sha256sum {} + | sort -k2); }
tree_shape() { (cd "$1" && find . | sort); }

# The job checks what came in (through the tool and through LD_PRELOAD)
# and writes output of its own.
cat >"$T/job.sh" <<JOB
set -e
"$BFSTOOL" cp -r /benchfs/in "$T/seen"
cmp "$SRC/big" /benchfs/in/big
[ "\$(cat /benchfs/deep/x/single.txt)" = single ]
mkdir /benchfs/out
cp "$SRC/a/f7" /benchfs/out/copy
echo result >/benchfs/out/result.txt
JOB
timeout 300 "$BFSRUN" -v --servers 2 --chunk-size 256K --dir "$T/dir" --registry "$T/reg" \
    --stage-in "$SRC:/benchfs/in" --stage-in "$T/single.txt:/benchfs/deep/x/single.txt" \
    --stage-out "/benchfs/out:$T/res/out" --stage-out "/benchfs/in:$T/res/in" \
    -- sh "$T/job.sh" >"$T/out" 2>"$T/err" &
RUN_PIDS+=($!)
wait $!; rc=$?
[ $rc = 0 ] || { cat "$T/out" "$T/err"; fail "staged job: exit $rc"; }
grep -q "stage-in done" "$T/err" && grep -q "stage-out done" "$T/err" || { cat "$T/err"; fail "no staging progress"; }
[ "$(sums "$SRC")" = "$(sums "$T/seen")" ] || fail "the job saw other data than was staged in"
[ "$(sums "$SRC")" = "$(sums "$T/res/in")" ] || fail "round trip in and out changed the tree"
[ "$(tree_shape "$SRC")" = "$(tree_shape "$T/res/in")" ] || fail "round trip changed the tree's shape (empty directories?)"
cmp "$SRC/a/f7" "$T/res/out/copy" || fail "job output: copy"
[ "$(cat "$T/res/out/result.txt")" = result ] || fail "job output: result.txt"
[ ! -e "$T/dir" ] && [ ! -e "$T/reg" ] || fail "left behind after staging"

# Stage-in of something unreadable: COMMAND does not run, status 125.
mkdir -p "$T/locked/sub" && echo x >"$T/locked/sub/f" && chmod 000 "$T/locked/sub/f"
if [ "$(id -u)" = 0 ]; then rm -f "$T/locked/sub/f"; ln -s /nonexistent "$T/locked/sub/f"; fi
timeout 120 "$BFSRUN" --servers 1 --dir "$T/dir" --registry "$T/reg" \
    --stage-in "$T/locked:/benchfs/in" -- touch "$T/ran" >"$T/out" 2>"$T/err" &
RUN_PIDS+=($!)
wait $!; rc=$?
[ $rc = 125 ] || { cat "$T/err"; fail "failed stage-in: exit $rc, expected 125"; }
[ ! -e "$T/ran" ] || fail "COMMAND ran after a failed stage-in"
grep -q "stage-in failed" "$T/err" || { cat "$T/err"; fail "no clear stage-in error"; }

# Stage-out of something that does not exist: 125 although COMMAND succeeded.
timeout 120 "$BFSRUN" --servers 1 --dir "$T/dir" --registry "$T/reg" \
    --stage-out "/benchfs/nothing:$T/res2" -- true >"$T/out" 2>"$T/err" &
RUN_PIDS+=($!)
wait $!; rc=$?
[ $rc = 125 ] || { cat "$T/err"; fail "failed stage-out: exit $rc, expected 125"; }
grep -q "stage-out failed" "$T/err" || { cat "$T/err"; fail "no clear stage-out error"; }
[ -z "$(procs_with "$T/")" ] || fail "processes left behind"
echo "PASS: stage-in and stage-out"
