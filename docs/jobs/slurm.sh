#!/bin/bash
# Example Slurm job: an MPI application on a private BenchFS built from the
# nodes' local disks. Submit with: sbatch docs/jobs/slurm.sh
#SBATCH --job-name=benchfs-app
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=32
#SBATCH --time=01:00:00
#SBATCH --output=%x-%j.out
set -eu

# The servers' mpirun and the application's mpirun are two job steps at the
# same time: since Slurm 20.11 a step only shares the allocation with
# another one when asked (srun --overlap, which Open MPI's mpirun uses to
# start its daemons).
export SLURM_OVERLAP=1

# Node-local storage: many sites give each job a private local directory
# (e.g. $TMPDIR or /local/$SLURM_JOB_ID); it must exist on every node.
LOCAL=${LOCAL_SCRATCH:-/tmp}/benchfs-$SLURM_JOB_ID

# One benchfsd per node (benchfs-run reads nothing from Slurm itself: Open
# MPI's mpirun does). Input goes in before the application starts, results
# come out after it ends; the servers and their data are gone afterwards.
benchfs-run -v \
    --dir "$LOCAL" \
    --registry "$SLURM_SUBMIT_DIR/.benchfs-registry-$SLURM_JOB_ID" \
    --chunk-size 4M \
    --stage-in "$SLURM_SUBMIT_DIR/input:/benchfs/in" \
    --stage-out "/benchfs/out:$SLURM_SUBMIT_DIR/results-$SLURM_JOB_ID" \
    -- sh -c 'mkdir -p /benchfs/out && mpirun ./app /benchfs/in /benchfs/out'
# The application's mpirun (found in PATH: benchfs-run's wrapper) gets
# LD_PRELOAD, BENCHFS_REGISTRY, BENCHFS_MOUNT and BENCHFS_FUSE for every rank
# with -x; your own -x VAR=val, --mca and --map-by work as usual.
