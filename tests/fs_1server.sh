#!/bin/bash
# One server under mpirun: see fs_servers.sh.
. "$(dirname "$0")/fs_servers.sh"
