# (mpi-launch: built by later issues)
