#!/bin/bash
# benchfs-run end to end: a 4-rank MPI job (tests/mpi_io_test, POSIX and
# MPI-IO through LD_PRELOAD) on 2 servers started by benchfs-run; the nested
# mpirun gets the environment through OMPI_MCA_mca_base_env_list, or through
# the job's own -x when it uses -x. Afterwards nothing is left behind.
. "$(dirname "$0")/run_lib.sh"
APP="$top_builddir/tests/mpi_io_test"
[ -x "$APP" ] || fail "no $APP (make tests/mpi_io_test)"
MPI="$MPIRUN -np 4 --oversubscribe --bind-to none"

timeout 180 "$BFSRUN" -v --servers 2 --chunk-size 64K --dir "$T/dir" --registry "$T/reg" -- \
    sh -c "mkdir /benchfs/j && $MPI $APP /benchfs/j && ls -l /benchfs/j && \
           echo \"env list: \$OMPI_MCA_mca_base_env_list\"" >"$T/out" 2>"$T/err" &
RUN_PIDS+=($!)
wait $!; rc=$?
cat "$T/out"
[ $rc = 0 ] || { cat "$T/err"; fail "MPI job through benchfs-run: exit $rc"; }
grep -q "mpi_io_test: 4 ranks, 0 failures" "$T/out" || fail "mpi_io_test did not report success"
grep -q "env list: LD_PRELOAD;BENCHFS_REGISTRY;BENCHFS_MOUNT" "$T/out" || fail "OMPI_MCA_mca_base_env_list not set"
grep -q "2 server(s) up" "$T/err" || { cat "$T/err"; fail "no progress report with -v"; }
[ "$(grep -c '^-' "$T/out")" -ge 4 ] || fail "ls -l in the job shows too few files"
[ ! -e "$T/reg" ] || fail "registry left behind"
[ ! -e "$T/dir" ] || fail "server directory left behind: $(find "$T/dir" -maxdepth 2)"
[ -z "$(procs_with "$T/")" ] || fail "processes left behind: $(procs_with "$T/")"

# A job that forwards variables with -x itself: benchfs-run must not set
# the env list (Open MPI refuses both), and says so.
timeout 180 "$BFSRUN" --servers 2 --dir "$T/dir" --registry "$T/reg" -- \
    sh -c "mkdir /benchfs/k && $MPI -x LD_PRELOAD -x BENCHFS_REGISTRY -x BENCHFS_MOUNT $APP /benchfs/k" \
    >"$T/out2" 2>"$T/err2" &
RUN_PIDS+=($!)
wait $!; rc=$?
[ $rc = 0 ] || { cat "$T/out2" "$T/err2"; fail "MPI job with -x: exit $rc"; }
grep -q "0 failures" "$T/out2" || fail "mpi_io_test with -x did not report success"
grep -q "note: COMMAND seems to use mpirun -x" "$T/err2" || fail "no note about -x"
[ -z "$(procs_with "$T/")" ] || fail "processes left behind after the -x job"
echo "PASS: MPI job through benchfs-run"
