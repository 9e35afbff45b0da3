#!/bin/bash
# benchfs-run's FUSE mount: up at MOUNT on the node while COMMAND runs
# (BENCHFS_FUSE=1, a program without the preload library sees BenchFS
# there), gone with its daemon afterwards: after a normal end, after SIGTERM,
# and after SIGKILL of benchfs-run (its watchdog). Falls back (BENCHFS_FUSE=0,
# says why) when MOUNT is already a mount point or with --no-fuse; --fuse
# makes that an error.
. "$(dirname "$0")/run_lib.sh"
need_fuse "benchfs-run cannot mount"
unset LD_PRELOAD
M="$T/mnt"
mounted_fuse() {
    awk -v d="$1" '$5 == d { for (i = 6; i <= NF; i++) if ($i == "-") { if ($(i + 1) == "fuse.benchfs") f = 1; break } }
                   END { exit !f }' /proc/self/mountinfo
}
gone() {  # NAME: no mount under $T, no process of ours, no registry
    local name=$1
    for _ in $(seq 100); do [ -z "$(our_mounts)$(procs_with "$T/")" ] && break; sleep 0.1; done
    [ -z "$(our_mounts)" ] || fail "$name: still mounted: $(our_mounts)"
    [ -z "$(procs_with "$T/")" ] || fail "$name: processes left: $(ps -o pid,cmd -p "$(procs_with "$T/" | tr '\n' ',' | sed 's/,$//')")"
    [ ! -e "$T/reg" ] || fail "$name: registry left behind"
}

# 1. A normal job. Inside COMMAND: the mount, BENCHFS_FUSE=1, plain programs
# on it, and what they write read through the preload library.
cat > "$T/job.sh" <<'SH'
set -u
echo "fuse=$BENCHFS_FUSE"
awk -v d="$BENCHFS_MOUNT" '$5 == d { for (i = 6; i <= NF; i++) if ($i == "-") { print "type=" $(i + 1); break } }' /proc/self/mountinfo
echo x > "$BENCHFS_MOUNT/f"; echo "preloaded-cat=$(cat "$BENCHFS_MOUNT/f")"
env -u LD_PRELOAD sh -c 'echo plain > "$BENCHFS_MOUNT/g"; mkdir "$BENCHFS_MOUNT/d"'
echo "plain-ls=$(env -u LD_PRELOAD ls "$BENCHFS_MOUNT" | tr '\n' ' ')"
echo "preloaded-read=$(cat "$BENCHFS_MOUNT/g")"
SH
timeout 120 "$BFSRUN" --dir "$T/dir" --registry "$T/reg" --mount "$M" -- sh "$T/job.sh" >"$T/1.out" 2>"$T/1.err" ||
    { cat "$T/1.err"; fail "job failed"; }
cat "$T/1.out"
grep -q "^benchfs-run: FUSE mount at $M: " "$T/1.err" || { cat "$T/1.err"; fail "no 'FUSE mount at' line"; }
grep -qx "fuse=1" "$T/1.out" || fail "BENCHFS_FUSE is not 1 inside COMMAND"
grep -qx "type=fuse.benchfs" "$T/1.out" || fail "no FUSE mount at $M during COMMAND"
grep -qx "plain-ls=d f g " "$T/1.out" || fail "env -u LD_PRELOAD ls does not show BenchFS"
grep -qx "preloaded-read=plain" "$T/1.out" || fail "the preload library does not read what a plain program wrote"
# `echo x > f` in a preloaded shell writes through an escaped descriptor:
# right once the preload library hands out descriptors of the mount.
grep -qx "preloaded-cat=x" "$T/1.out" ||
    echo "NOTE: preloaded 'echo x > f; cat f' gave '$(sed -n 's/^preloaded-cat=//p' "$T/1.out")' (the preload half of issue 12 is not there yet)"
gone "normal end"

# 2. SIGTERM to benchfs-run while COMMAND runs.
timeout 120 "$BFSRUN" --dir "$T/dir" --registry "$T/reg" --mount "$M" -- \
    sh -c "env -u LD_PRELOAD ls \$BENCHFS_MOUNT > /dev/null && touch $T/up; sleep 300" >"$T/2.out" 2>"$T/2.err" &
JOB=$!; RUN_PIDS+=("$JOB")
wait_for_file() { for _ in $(seq 300); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_for_file "$T/up" || { cat "$T/2.err"; fail "SIGTERM job did not start"; }
mounted_fuse "$M" || fail "SIGTERM job: not mounted"
kill -TERM "$JOB"; wait "$JOB"; rc=$?
[ $rc = 143 ] || { cat "$T/2.err"; fail "SIGTERM: exit $rc, expected 143"; }
gone "SIGTERM"

# 3. SIGKILL of benchfs-run itself: its watchdog unmounts and stops the
# daemon and the servers.
rm -f "$T/up"
timeout 120 "$BFSRUN" --dir "$T/dir" --registry "$T/reg" --mount "$M" -- \
    sh -c "env -u LD_PRELOAD ls \$BENCHFS_MOUNT > /dev/null && echo \$\$ > $T/up; exec sleep 300" >"$T/3.out" 2>"$T/3.err" &
JOB=$!; RUN_PIDS+=("$JOB")
wait_for_file "$T/up" && [ -s "$T/up" ] || { sleep 1; [ -s "$T/up" ] || { cat "$T/3.err"; fail "SIGKILL job did not start"; }; }
RUN=$(ps -o pid= --ppid "$JOB")
mounted_fuse "$M" || fail "SIGKILL job: not mounted"
kill -KILL $RUN
kill -KILL "$(cat "$T/up")" 2>/dev/null  # COMMAND: the resource manager's business
wait "$JOB" 2>/dev/null
gone "SIGKILL"

# 4. Fall-backs: --no-fuse; MOUNT already a mount point (a bind mount, as
# root); --fuse with an impossible mount fails.
timeout 120 "$BFSRUN" --no-fuse --dir "$T/dir" --registry "$T/reg" --mount "$M" -- sh -c 'echo "fuse=$BENCHFS_FUSE"' \
    >"$T/4.out" 2>"$T/4.err" || { cat "$T/4.err"; fail "--no-fuse job failed"; }
grep -qx "fuse=0" "$T/4.out" || fail "--no-fuse: BENCHFS_FUSE is not 0"
grep -q "no FUSE (--no-fuse): escapes will fail with EBADF" "$T/4.err" || { cat "$T/4.err"; fail "--no-fuse: no line"; }
if [ "$(id -u)" = 0 ]; then
    mkdir -p "$T/busy" && mount --bind "$T/busy" "$T/busy" || fail "cannot bind-mount $T/busy"
    timeout 120 "$BFSRUN" --dir "$T/dir" --registry "$T/reg" --mount "$T/busy" -- sh -c 'echo "fuse=$BENCHFS_FUSE"' \
        >"$T/5.out" 2>"$T/5.err" || { cat "$T/5.err"; fail "job on a busy mount point failed"; }
    grep -qx "fuse=0" "$T/5.out" || fail "busy mount point: BENCHFS_FUSE is not 0"
    grep -q "no FUSE ($T/busy is already a mount point" "$T/5.err" || { cat "$T/5.err"; fail "busy: no reason given"; }
    timeout 120 "$BFSRUN" --fuse --dir "$T/dir" --registry "$T/reg" --mount "$T/busy" -- true >"$T/6.out" 2>"$T/6.err"
    rc=$?
    [ $rc = 125 ] || fail "--fuse on a busy mount point: exit $rc, expected 125"
    umount "$T/busy" || fail "cannot unmount the bind mount"
else
    echo "not root: the busy-mount-point case is not tested"
fi
gone "fall-backs"
echo "PASS: run_fuse"
