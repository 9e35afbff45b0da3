#!/bin/bash
# Example PBS Pro / Torque job: an MPI application on a private BenchFS
# built from the nodes' local disks. Submit with: qsub docs/jobs/pbs.sh
#PBS -N benchfs-app
#PBS -l select=4:ncpus=32:mpiprocs=32
#PBS -l walltime=01:00:00
#PBS -j oe
set -eu
cd "$PBS_O_WORKDIR"

# Open MPI built with PBS (tm) support reads the allocation itself; one
# without it needs the node file: --mpirun-args "--hostfile $PBS_NODEFILE"
# here, and --hostfile "$PBS_NODEFILE" for the application's mpirun.
# The registry must be on a file system all nodes see: the work directory.
JOB=${PBS_JOBID%%.*}
benchfs-run -v \
    --dir "${TMPDIR:-/tmp}/benchfs-$JOB" \
    --registry "$PBS_O_WORKDIR/.benchfs-registry-$JOB" \
    --stage-in "$PBS_O_WORKDIR/input:/benchfs/in" \
    --stage-out "/benchfs/out:$PBS_O_WORKDIR/results-$JOB" \
    -- sh -c 'mkdir -p /benchfs/out && mpirun ./app /benchfs/in /benchfs/out'
