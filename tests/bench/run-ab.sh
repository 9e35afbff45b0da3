#!/bin/bash
# Before/after in one run: the IO500-style phases (bfs_io500) through
# benchfs-run of two build trees, alternating A and B in every repetition so
# that both see the same machine. Prints per phase and configuration the
# medians of A and B and the ratio B/A (a change must keep every phase at
# >= 0.9x). Usage: run-ab.sh BUILD_A BUILD_B
#   REPS=3, CONFIGS="1:2 2:2" (servers:ranks), EASY_MIB=256 HARD=4000 MD=8000
set -u
A=$1; B=$2
REPS=${REPS:-3}; CONFIGS=${CONFIGS:-"1:2 2:2"}
ARGS="--easy-mib ${EASY_MIB:-256} --hard-count ${HARD:-4000} --md-files ${MD:-8000}"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
T=$(mktemp -d /tmp/bfs-ab.XXXXXX)
trap 'rm -rf "$T"' EXIT
for rep in $(seq "$REPS"); do
    for cfg in $CONFIGS; do
        ns=${cfg%:*}; np=${cfg#*:}
        for side in A B; do
            b=$A; [ $side = B ] && b=$B
            echo "-- $side ($b) ${ns}s-${np}r rep $rep" >&2
            "$b/mpi-launch/benchfs-run" --servers "$ns" --dir "$T/srv" --no-env-list -- \
                mpirun -np "$np" --bind-to none -x LD_PRELOAD -x BENCHFS_REGISTRY -x BENCHFS_MOUNT \
                "$b/tests/bench/bfs_io500" --dir /benchfs/io500 $ARGS 2>>"$T/err" |
                awk -v s=$side -v c="${ns}s-${np}r" '/^\{/ { print s, c, $0 }' >> "$T/all"
        done
    done
done
python3 - "$T/all" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    side, cfg, js = line.split(" ", 2)
    r = json.loads(js)
    if r["phase"] == "idle" or not r.get("seconds"):
        continue
    v = r["bytes"] / r["seconds"] / 1e6 if r["bytes"] else r["ops"] / r["seconds"]
    rows.setdefault((cfg, r["phase"]), {}).setdefault(side, []).append(v)
print("| config | phase | A median | B median | B/A |")
print("|---|---|---:|---:|---:|")
for (cfg, ph), d in sorted(rows.items()):
    a = statistics.median(d.get("A", [0])); b = statistics.median(d.get("B", [0]))
    print(f"| {cfg} | {ph} | {a:,.0f} | {b:,.0f} | {b / a if a else 0:.2f} |")
PY
