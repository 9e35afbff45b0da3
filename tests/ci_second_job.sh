#!/bin/bash
# A second BenchFS job on the same machine while the test suite runs (issue
# 13): its own servers under benchfs-run, a loop of short-lived preloaded
# clients (a shell redirection, cat, the benchfs tool), each verified. The
# suite must pass beside it, and it must see no error from the suite.
#   ci_second_job.sh start DIR   (the build tree is the current directory)
#   ci_second_job.sh stop DIR    (prints its tally; exit 1 on any failure)
# Bounded: it stops by itself after SECOND_JOB_MAX_S (3600) seconds.
set -u
cmd=$1; D=$2
B=$(pwd)
case "$cmd" in
start)
    rm -rf "$D"; mkdir -p "$D"
    cat > "$D/loop.sh" <<'SH'
set -u
D=$1; end=$((SECONDS + ${SECOND_JOB_MAX_S:-3600})); n=0; bad=0
mkdir -p "$BENCHFS_MOUNT/job2"
while [ $SECONDS -lt $end ] && [ ! -e "$D/stop" ]; do
    f="$BENCHFS_MOUNT/job2/f.$((n % 50))"
    echo "round $n" > "$f" && [ "$(cat "$f")" = "round $n" ] || { bad=$((bad + 1)); echo "round $n failed" >&2; }
    n=$((n + 1))
    echo "$n $bad" > "$D/stats.tmp" && mv "$D/stats.tmp" "$D/stats"
    sleep 0.2
done
[ $bad -eq 0 ]
SH
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
    setsid "$B/mpi-launch/benchfs-run" --servers 2 --dir "$D/srv" --registry "$D/registry" \
        --mount "$D/mnt" --pidfile "$D/run.pid" -- bash "$D/loop.sh" "$D" \
        >"$D/out" 2>&1 </dev/null &
    echo $! > "$D/pid"
    for _ in $(seq 600); do [ -s "$D/stats" ] && break; sleep 0.1; done
    if [ ! -s "$D/stats" ]; then
        echo "second job did not start:"; tail -20 "$D/out"; exit 1
    fi
    echo "second BenchFS job running (pid $(cat "$D/pid")): $(head -1 "$D/out")"
    ;;
stop)
    pid=$(cat "$D/pid" 2>/dev/null)
    touch "$D/stop"
    if [ -n "$pid" ]; then
        for _ in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "second job did not stop: SIGTERM"; kill -TERM "$pid"; sleep 15; kill -KILL "$pid" 2>/dev/null
        fi
    fi
    read -r n bad < "$D/stats" 2>/dev/null || { n=0; bad=1; }
    echo "second BenchFS job: $n short-lived clients, $bad failed, benchfs-run done"
    if [ "$bad" -ne 0 ] || [ "$n" -eq 0 ] || grep -q "round .* failed\|benchfs-run: error" "$D/out"; then
        tail -20 "$D/out"; exit 1
    fi
    rm -rf "$D"
    ;;
esac
