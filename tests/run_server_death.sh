#!/bin/bash
# A server that dies while COMMAND runs under benchfs-run: the others go on
# serving (benchfs-run starts them with mpirun --enable-recovery), COMMAND
# keeps using every file that avoids the dead server, and benchfs-run tells
# the user which server died, on its stderr, while COMMAND still runs.
# Afterwards nothing is left behind.
. "$(dirname "$0")/run_lib.sh"
heavy
export FC="$top_builddir/tests/fault_client" ERR="$T/err" BENCHFS_RPC_TIMEOUT_MS=3000
cat >"$T/cmd.sh" <<'CMD'
set -eu
safe=$("$FC" pickdir /safe 1)
"$FC" mkfiles "$safe" 4 65536 5 1 >/dev/null
# Server rank 1 of this run: a benchfsd on our --dir with PMIX_RANK=1.
victim=
for f in /proc/[0-9]*; do
    p=${f#/proc/}
    grep -q benchfsd "/proc/$p/comm" 2>/dev/null || continue
    tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx PMIX_RANK=1 || continue
    tr '\0' '\n' <"/proc/$p/cmdline" | grep -qx "$DIR" || continue
    victim=$p
done
[ -n "$victim" ] || { echo "no server rank 1 found"; exit 2; }
kill -KILL "$victim"
for _ in $(seq 300); do grep -q "servers: .*server rank 1 of 3 .*does not answer" "$ERR" && break; sleep 0.1; done
grep -q "servers: .*server rank 1 of 3 .*does not answer" "$ERR" || { echo "no report of the dead server"; exit 3; }
"$FC" verify "$safe" 65536 5 4
"$FC" mkfiles "$("$FC" pickdir "$safe/new" 1)" 2 65536 6 1 >/dev/null
echo COMMAND-OK
CMD
export DIR="$T/dir"
t0=$(date +%s)
timeout 180 "$BFSRUN" --servers 3 --dir "$T/dir" --registry "$T/reg" -- bash "$T/cmd.sh" >"$T/out" 2>"$ERR" &
RUN_PIDS+=($!)
wait $!; rc=$?
sed 's/^/# /' "$ERR" | grep -v "UCX  WARN" | head -20
[ $rc = 0 ] && grep -q COMMAND-OK "$T/out" || { cat "$T/out"; fail "COMMAND failed (exit $rc) after a server died"; }
[ ! -e "$T/reg" ] || fail "registry left behind"
[ ! -e "$T/dir" ] || fail "directory left behind"
[ -z "$(procs_with "$T/")" ] || fail "processes left behind: $(procs_with "$T/")"
echo "PASS: a server died under benchfs-run: reported, the others served on ($(($(date +%s) - t0)) s)"
