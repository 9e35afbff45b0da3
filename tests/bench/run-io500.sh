#!/bin/bash
# The IO500-style suite (make bench-io500): bfs_io500 through benchfs-run with
# the LD_PRELOAD library in four configurations, the same program directly on
# the servers' backing file systems (ext4 and tmpfs) for reference, and the
# transport limit (benchfs-rpc-bench and ucx_perftest) in the same run.
# Medians of REPS runs. Results: bench-results/io500-DATE/ (JSON lines,
# summary.json, table.md, chart.svg); docs/ and the README table are
# regenerated from them with UPDATE_DOCS=1.
#   SCALE=1 (default: a few minutes on 2 cores), REPS=3
set -u
B=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
S=${top_srcdir:-$B}
SCALE=${SCALE:-1}
REPS=${REPS:-3}
# Sizes per rank. Each phase must last long enough that a scheduler hiccup
# does not decide its figure: 128 MiB read at 9 GB/s is over in 15 ms, and
# such runs gave 1-11 GB/s for the same configuration.
EASY_MIB=${EASY_MIB:-$((512 * SCALE))}; HARD=${HARD:-$((8000 * SCALE))}; MD=${MD:-$((15000 * SCALE))}
OUT="$B/bench-results/io500-$(date +%Y%m%d-%H%M%S)"
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
# What benchfs-run sets for its COMMAND, set for the reference runs too, so
# that both run the same MPI: ranks waiting in a barrier yield their core.
export OMPI_MCA_mpi_yield_when_idle=${OMPI_MCA_mpi_yield_when_idle:-1}
PROG="$B/tests/bench/bfs_io500"
RUN="$B/mpi-launch/benchfs-run"
[ -x "$PROG" ] || { echo "build first: make tests/bench/bfs_io500"; exit 2; }
ARGS="--easy-mib $EASY_MIB --hard-count $HARD --md-files $MD"
TMPROOT=$(mktemp -d /tmp/bfs-io500.XXXXXX)
trap 'rm -rf "$TMPROOT" /dev/shm/bfs-io500-ref.$$' EXIT

record() { # label config rep: tag each JSON line of stdin
    awk -v l="$1" -v c="$2" -v r="$3" '/^\{/ { sub(/^\{/, "{\"label\":\"" l "\",\"config\":\"" c "\",\"rep\":" r ","); print }' >> "$OUT/results.jsonl"
}

echo "== IO500-style suite: easy ${EASY_MIB} MiB/rank, hard ${HARD} x 47008 B/rank, md ${MD} files/rank, ${REPS} reps"
for rep in $(seq "$REPS"); do
    for cfg in "1 1" "1 2" "2 2" "2 4"; do
        set -- $cfg; ns=$1; np=$2
        pidf="$TMPROOT/pid"
        echo "-- BenchFS ${ns} server(s), ${np} rank(s), rep $rep"
        "$RUN" --servers "$ns" --dir "$TMPROOT/srv" --pidfile "$pidf" --no-env-list -- sh -c '
            pids=$(pgrep -P "$(cat '"$pidf"')" | tr "\n" " ")
            export BFS_SERVER_PIDS="$pids"
            mpirun -np '"$np"' --bind-to none -x LD_PRELOAD -x BENCHFS_REGISTRY -x BENCHFS_MOUNT \
                -x BFS_SERVER_PIDS '"$PROG"' --dir /benchfs/io500 '"$ARGS"'
            # Idle servers: CPU over 5 s with nothing to do.
            t0=0; for p in $pids; do t0=$((t0 + $(awk "{print \$14+\$15}" /proc/$p/stat))); done
            sleep 5
            t1=0; for p in $pids; do t1=$((t1 + $(awk "{print \$14+\$15}" /proc/$p/stat))); done
            cpu=$(awk -v a=$t0 -v b=$t1 -v hz=$(getconf CLK_TCK) "BEGIN { printf \"%.4f\", (b - a) / hz }")
            echo "{\"phase\":\"idle\",\"seconds\":5,\"server_cpu_s\":$cpu,\"ranks\":'"$np"'}"
        ' | tee "$OUT/run-$ns-$np-$rep.txt" | record benchfs "${ns}s-${np}r" "$rep"
    done
    for fs in ext4 tmpfs; do
        for np in 1 2; do
            [ $fs = ext4 ] && d="$TMPROOT/ref" || d="/dev/shm/bfs-io500-ref.$$"
            echo "-- direct on $fs, ${np} rank(s), rep $rep"
            mpirun -np "$np" --bind-to none "$PROG" --dir "$d" $ARGS \
                | tee "$OUT/ref-$fs-$np-$rep.txt" | record "$fs" "${np}r" "$rep"
            rm -rf "$d"
        done
    done
done

echo "-- transport limit"
"$B/rpc/benchfs-rpc-bench" --quick --json > "$OUT/rpc.json" 2>/dev/null || echo '{}' > "$OUT/rpc.json"
perf_bw() { # ucx_perftest ucp_am_bw 1 MiB, MB/s
    local port=$((20000 + RANDOM % 20000))
    ucx_perftest -p $port >/dev/null 2>&1 & local sp=$!
    sleep 0.5
    ucx_perftest localhost -p $port -t ucp_am_bw -s 1048576 -n 2000 2>/dev/null \
        | awk '/^Final:/ { bw = $7 } END { print bw + 0 }'
    kill $sp 2>/dev/null; wait $sp 2>/dev/null
}
if command -v ucx_perftest >/dev/null; then perf_bw > "$OUT/perftest_bw.txt"; else echo 0 > "$OUT/perftest_bw.txt"; fi

python3 "$S/tests/bench/io500_report.py" "$OUT" ${UPDATE_DOCS:+--update-docs "$S"}
