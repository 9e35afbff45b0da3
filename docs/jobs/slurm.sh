#!/bin/bash
# Example Slurm job: an MPI application on a private BenchFS built from the
# nodes' local disks. Submit with: sbatch docs/jobs/slurm.sh
# (tests/slurm_jobs.sh submits this very file to a real Slurm.)
#SBATCH --job-name=benchfs-app
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=32
#SBATCH --time=01:00:00
#SBATCH --output=%x-%j.out
set -eu

# The application, run as: APP INPUT_DIR OUTPUT_DIR (one rank per task).
APP=${APP:-./app}
# Node-local storage: many sites give each job a private local directory
# (e.g. $TMPDIR or /local/$SLURM_JOB_ID); it must exist on every node.
LOCAL=${LOCAL_SCRATCH:-/tmp}/benchfs-$SLURM_JOB_ID
# Where the application sees BenchFS.
MOUNT=${BENCHFS_MOUNT_AT:-/benchfs}

# Inside the allocation benchfs-run starts one benchfsd per node with
# `srun --mpi=pmix --overlap` (the servers' PMIx is slurmstepd's) and mounts
# BenchFS with FUSE on every node. The input goes in before the application
# starts, the results come out after it ends; servers, mounts and their data
# are gone afterwards. The application's srun (or mpirun) needs no extra
# flags: srun passes the environment (LD_PRELOAD, BENCHFS_*) to every task,
# a nested mpirun is benchfs-run's wrapper that adds -x for them.
benchfs-run -v \
    --dir "$LOCAL" \
    --mount "$MOUNT" \
    --registry "$SLURM_SUBMIT_DIR/.benchfs-registry-$SLURM_JOB_ID" \
    --chunk-size 4M \
    --stage-in "$SLURM_SUBMIT_DIR/input:$MOUNT/in" \
    --stage-out "$MOUNT/out:$SLURM_SUBMIT_DIR/results-$SLURM_JOB_ID" \
    -- sh -c 'mkdir -p "$1/out" && srun --mpi=pmix "$2" "$1/in" "$1/out"' sh "$MOUNT" "$APP"
