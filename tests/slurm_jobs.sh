#!/bin/bash
# benchfs-run inside a real Slurm (tests/slurm_lib.sh: munged, slurmctld,
# slurmd of this machine, Debian's slurm-wlm with its PMIx plugin), as a
# cluster user runs it:
#   1. sbatch --wait of a job script running
#      benchfs-run -- srun --mpi=pmix -n 4 tests/mpi_io_test (POSIX and MPI-IO,
#      written and verified through the library); the servers are a
#      `srun --mpi=pmix --overlap` step (launcher picked from SLURM_JOB_ID);
#   2. the same job with mpirun inside the allocation (benchfs-run's wrapper);
#   3. --launcher mpirun inside the allocation, the application with srun;
#   4. salloc -n 4 benchfs-run -- srun ... interactively;
#   5. docs/jobs/slurm.sh itself (stage-in, srun of an application on every
#      task, stage-out), submitted with sbatch --wait.
# After each: the queue is empty, no benchfsd of ours runs, the node-local
# directory is gone, nothing is mounted.
. "$(dirname "$0")/slurm_lib.sh"
APP="$top_builddir/tests/mpi_io_test"
[ -x "$APP" ] || fail "$APP is not built"
slurm_start || fail "cannot start the Slurm cluster"
echo "# Slurm $(sinfo -V | awk '{ print $2 }'), node $(hostname -s), $(sinfo -h -o '%c CPUs, partition %P')"
export PATH="$top_builddir/mpi-launch:$PATH"
M="$T/mnt"

# after NAME LOCALDIR: what must hold once a job is over.
after() {
    slurm_quiet || fail "$1: jobs left in the queue"
    [ -z "$(procs_with "$2")" ] || fail "$1: processes of the job still run: $(procs_with "$2")"
    [ -z "$(compgen -G "$2*")" ] || fail "$1: the node-local directory is left: $(compgen -G "$2*")"
    awk -v m="$M" '$5 == m { f = 1 } END { exit !f }' /proc/self/mountinfo && fail "$1: $M still mounted"
    echo "# $1: queue empty, no process, no node-local directory, no mount"
}

# job NAME OUT SCRIPT-LINES: sbatch --wait of a script; fails unless the job
# succeeded.
job() {
    local name=$1 out=$2; shift 2
    { echo '#!/bin/bash'; echo 'set -u'; printf '%s\n' "$@"; } >"$T/$name.sh"
    timeout 300 sbatch --wait -J "$name" -N 1 -n 4 -o "$out" "$T/$name.sh" >/dev/null
    local rc=$?
    [ $rc = 0 ] || { cat "$out"; fail "$name: sbatch --wait exited with $rc"; }
}

# Every task must have the library (the FUSE mount alone would also serve
# the files): each says so from its own /proc/PID/maps.
cat >"$T/preloaded.sh" <<'EOS'
#!/bin/sh
grep -q libbenchfs.so /proc/$$/maps && echo "preloaded task ${SLURM_PROCID:-$OMPI_COMM_WORLD_RANK}"
EOS
chmod +x "$T/preloaded.sh"
preloaded() {  # NAME OUT: 4 tasks said so
    [ "$(grep -c '^preloaded task [0-3]$' "$2")" = 4 ] || { cat "$2"; fail "$1: not every task had the library"; }
}

# 1. srun --mpi=pmix inside a batch job.
job srun "$T/srun.out" \
    "benchfs-run -v --dir $T/nl1 --mount $M --registry $T/reg1 -- sh -c 'mkdir $M/a && srun --mpi=pmix -n 4 $APP $M/a && srun -n 4 sh -c \"echo task \\\$SLURM_PROCID > $M/a/t\\\$SLURM_PROCID\" && cat $M/a/t0 $M/a/t1 $M/a/t2 $M/a/t3 && srun -n 4 $T/preloaded.sh'"
preloaded srun "$T/srun.out"
grep -q "starting the servers: .*srun --mpi=pmix --overlap" "$T/srun.out" || { cat "$T/srun.out"; fail "srun: the servers were not a srun --mpi=pmix step"; }
grep -q "FUSE mount at $M" "$T/srun.out" || { cat "$T/srun.out"; fail "srun: no FUSE mount on the node"; }
[ "$(grep -c '^task [0-3]$' "$T/srun.out")" = 4 ] || { cat "$T/srun.out"; fail "srun: tasks' files"; }
after "sbatch + benchfs-run + srun --mpi=pmix" "$T/nl1"

# 2. mpirun inside the allocation (the wrapper benchfs-run puts in PATH).
job mpirun "$T/mpirun.out" \
    "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" \
    "benchfs-run -v --dir $T/nl2 --mount $M --registry $T/reg2 -- sh -c 'mkdir $M/b && mpirun -np 4 --bind-to none -x MYVAR=set $APP $M/b && mpirun -np 4 --bind-to none $T/preloaded.sh'"
preloaded mpirun "$T/mpirun.out"
after "sbatch + benchfs-run + mpirun" "$T/nl2"

# 3. --launcher mpirun overrides the choice inside the allocation.
job override "$T/override.out" \
    "export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1" \
    "benchfs-run -v --launcher mpirun --dir $T/nl3 --mount $M --registry $T/reg3 -- sh -c 'mkdir $M/c && srun --mpi=pmix -n 4 $APP $M/c && srun -n 4 $T/preloaded.sh'"
preloaded override "$T/override.out"
grep -q "starting the servers: .*mpirun" "$T/override.out" || { cat "$T/override.out"; fail "--launcher mpirun did not start the servers with mpirun"; }
after "sbatch + benchfs-run --launcher mpirun" "$T/nl3"

# 4. salloc, interactively.
timeout 300 salloc -N 1 -n 4 -J salloc benchfs-run --dir "$T/nl4" --mount "$M" --registry "$T/reg4" -- \
    sh -c "mkdir $M/d && srun --mpi=pmix -n 4 $APP $M/d && srun -n 4 $T/preloaded.sh" >"$T/salloc.out" 2>&1 ||
    { cat "$T/salloc.out"; fail "salloc + benchfs-run"; }
preloaded salloc "$T/salloc.out"
after "salloc + benchfs-run" "$T/nl4"

# 5. The documented job script, with stage-in and stage-out.
mkdir -p "$T/submit/input"
head -c 3000000 /dev/urandom >"$T/submit/input/data"
cat >"$T/app.sh" <<'EOF'
#!/bin/sh
# APP IN OUT: each task copies the input and says who it is.
set -e
cp "$1/data" "$2/copy.$SLURM_PROCID"
echo "task $SLURM_PROCID of $SLURM_NTASKS" >"$2/task.$SLURM_PROCID"
EOF
chmod +x "$T/app.sh"
(cd "$T/submit" && APP="$T/app.sh" LOCAL_SCRATCH="$T/nl5" BENCHFS_MOUNT_AT="$M" OMPI_ALLOW_RUN_AS_ROOT=1 \
    OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 timeout 300 sbatch --wait -N 1 -n 4 --ntasks-per-node=4 -o "$T/example.out" \
    "$top_srcdir/docs/jobs/slurm.sh" >/dev/null) || { cat "$T/example.out"; fail "docs/jobs/slurm.sh"; }
res=$(ls -d "$T/submit"/results-* 2>/dev/null | head -1)
[ -n "$res" ] || { cat "$T/example.out"; fail "docs/jobs/slurm.sh: no results staged out"; }
for i in 0 1 2 3; do
    cmp -s "$T/submit/input/data" "$res/copy.$i" || fail "docs/jobs/slurm.sh: task $i's copy differs"
    [ "$(cat "$res/task.$i")" = "task $i of 4" ] || fail "docs/jobs/slurm.sh: task $i's file"
done
ls -A "$T/submit" | grep -q '^.benchfs-registry' && fail "docs/jobs/slurm.sh: the registry is left"
after "docs/jobs/slurm.sh (stage-in, srun, stage-out)" "$T/nl5/benchfs-"
echo "PASS: slurm_jobs"
