#!/bin/bash
# Our MPI program (POSIX and MPI-IO) with 4 ranks on BenchFS through
# LD_PRELOAD, with 2 servers, the preload kept out of mpirun itself (-x).
. "$(dirname "$0")/lib.sh"
start_servers 2 "$T/dir" --chunk-size 64K || exit 1
with_preload mkdir /benchfs/mpi /benchfs/mpi2 || fail "mkdir"
timeout 120 "$MPIRUN" -np 4 --bind-to none -x LD_PRELOAD="$PRELOAD" -x ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" -x BENCHFS_REGISTRY \
    "$top_builddir/tests/mpi_io_test" /benchfs/mpi || fail "mpi_io_test"
# The preload in mpirun itself too (LD_PRELOAD=... mpirun ./app) must be harmless.
with_preload timeout 120 "$MPIRUN" -np 2 --bind-to none \
    "$top_builddir/tests/mpi_io_test" /benchfs/mpi2 2>&1 | tail -3
[ "${PIPESTATUS[0]}" = 0 ] || fail "mpi_io_test with the preload around mpirun"
echo "PASS: MPI"
