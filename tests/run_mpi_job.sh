#!/bin/bash
# benchfs-run end to end: a 4-rank MPI job (tests/mpi_io_test, POSIX and
# MPI-IO through LD_PRELOAD) on 2 servers started by benchfs-run; the nested
# mpirun (found in PATH: benchfs-run's wrapper) forwards the library's
# variables with -x to every app context, beside the user's own -x, --mca
# and --map-by, also from inside a script. Afterwards nothing is left behind.
. "$(dirname "$0")/run_lib.sh"
APP="$top_builddir/tests/mpi_io_test"
[ -x "$APP" ] || fail "no $APP (make tests/mpi_io_test)"
MPI="mpirun -np 4 --oversubscribe --bind-to none"

timeout 180 "$BFSRUN" -v --servers 2 --chunk-size 64K --dir "$T/dir" --registry "$T/reg" -- \
    sh -c "mkdir /benchfs/j && $MPI $APP /benchfs/j && ls -l /benchfs/j && \
           echo \"forwarded: \$BENCHFS_MPIRUN_FWD\"" >"$T/out" 2>"$T/err" &
RUN_PIDS+=($!)
wait $!; rc=$?
cat "$T/out"
[ $rc = 0 ] || { cat "$T/err"; fail "MPI job through benchfs-run: exit $rc"; }
grep -q "mpi_io_test: 4 ranks, 0 failures" "$T/out" || fail "mpi_io_test did not report success"
grep -q "forwarded: LD_PRELOAD;BENCHFS_REGISTRY;BENCHFS_MOUNT" "$T/out" || fail "the mpirun wrapper forwards nothing"
grep -q "2 server(s) up" "$T/err" || { cat "$T/err"; fail "no progress report with -v"; }
[ "$(grep -c '^-' "$T/out")" -ge 4 ] || fail "ls -l in the job shows too few files"
[ ! -e "$T/reg" ] || fail "registry left behind"
[ ! -e "$T/dir" ] || fail "server directory left behind: $(find "$T/dir" -maxdepth 2)"
[ -z "$(procs_with "$T/")" ] || fail "processes left behind: $(procs_with "$T/")"

# mpirun habits inside a script COMMAND runs: -x VAR=val, -x VAR, --mca,
# --map-by and an MPMD ":" context; every rank gets the user's variables and
# ours (BENCHFS_MPIRUN_WRAPPED: the wrapper's -x reached it), and BenchFS.
cat > "$T/nested.sh" <<'SH'
set -u
export MYVAR=from-script
mpirun --oversubscribe --bind-to none --map-by slot --mca btl self,vader -np 2 -x OMP_NUM_THREADS=4 -x MYVAR \
    sh -c 'echo "$OMP_NUM_THREADS $MYVAR ${BENCHFS_MPIRUN_WRAPPED:-no}" > /benchfs/k/r.$OMPI_COMM_WORLD_RANK' : \
    -np 1 sh -c 'echo "ctx2 ${BENCHFS_MPIRUN_WRAPPED:-no}" > /benchfs/k/r.$OMPI_COMM_WORLD_RANK'
cat /benchfs/k/r.0 /benchfs/k/r.1 /benchfs/k/r.2
SH
timeout 180 "$BFSRUN" --servers 2 --dir "$T/dir" --registry "$T/reg" -- \
    sh -c "mkdir /benchfs/k && $MPI -x OMP_NUM_THREADS=2 $APP /benchfs/k && sh $T/nested.sh" \
    >"$T/out2" 2>"$T/err2" &
RUN_PIDS+=($!)
wait $!; rc=$?
[ $rc = 0 ] || { cat "$T/out2" "$T/err2"; fail "MPI job with -x: exit $rc"; }
grep -q "0 failures" "$T/out2" || fail "mpi_io_test with -x did not report success"
[ "$(grep -c '^4 from-script 1$' "$T/out2")" = 2 ] || { cat "$T/out2"; fail "nested mpirun -x: ranks miss the user's or BenchFS's variables"; }
grep -qx "ctx2 1" "$T/out2" || { cat "$T/out2"; fail "the second MPMD context did not get BenchFS's variables"; }
[ -z "$(procs_with "$T/")" ] || fail "processes left behind after the -x job"
echo "PASS: MPI job through benchfs-run"
