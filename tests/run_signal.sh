#!/bin/bash
# benchfs-run interrupted: SIGTERM (and SIGINT) while COMMAND runs stops
# COMMAND with its children and the servers, removes the registry and the
# servers' directories, and exits 128+signal. Even SIGKILL, which no trap
# sees, leaves no server behind (benchfs-run's watchdog stops them).
. "$(dirname "$0")/run_lib.sh"

# start_job NAME: benchfs-run whose COMMAND (a shell) writes its pid and the
# pid of its child (a sleep) and waits; returns when the job runs.
start_job() {
    local name=$1
    rm -f "$T/$name.pids"
    timeout 120 "$BFSRUN" -v --servers 2 --dir "$T/dir" --registry "$T/reg" -- \
        sh -c "sleep 300 & echo \$\$ \$! > $T/$name.pids; wait" >"$T/$name.out" 2>"$T/$name.err" &
    JOB=$!
    RUN_PIDS+=("$JOB")
    wait_for "$T/$name.pids" || { cat "$T/$name.err"; fail "$name: COMMAND did not start"; }
    RUN=$(ps -o pid= --ppid "$JOB")   # benchfs-run itself, below timeout(1)
    MPID=$(sed -n "s/.*servers' mpirun has pid \([0-9]*\).*/\1/p" "$T/$name.err")
    [ -n "$MPID" ] || fail "$name: no mpirun pid in the -v output"
    SERVERS=$(ps -o pid= --ppid "$MPID")
    [ "$(echo $SERVERS | wc -w)" = 2 ] || fail "$name: expected 2 servers under mpirun $MPID: $SERVERS"
    read -r SH SLEEP <"$T/$name.pids"
    ALL="$JOB $RUN $MPID $SERVERS $SH $SLEEP"
    for p in $ALL; do alive "$p" || fail "$name: $p not running"; done
    [ -s "$T/reg" ] && [ -d "$T/dir/server-0" ] || fail "$name: servers not up"
}

nothing_left() {
    local name=$1
    for p in $ALL; do wait_dead "$p" 100 || fail "$name: process $p survived: $(ps -o pid,cmd -p "$p")"; done
    for _ in $(seq 100); do
        [ -e "$T/reg" ] || [ -e "$T/dir" ] || compgen -G "$T/benchfs-run.*" >/dev/null || break
        sleep 0.1
    done
    [ ! -e "$T/reg" ] || fail "$name: registry left behind"
    ! compgen -G "$T/benchfs-run.*" >/dev/null || fail "$name: benchfs-run's temporary directory left behind"
    [ ! -e "$T/dir" ] || fail "$name: directory left behind: $(find "$T/dir" -maxdepth 2)"
    [ -z "$(procs_with "$T/")" ] || fail "$name: processes left behind: $(procs_with "$T/")"
}

for sig in TERM INT; do
    start_job $sig
    t0=$(date +%s)
    kill -$sig "$JOB"
    wait "$JOB"; rc=$?
    want=$((128 + $(kill -l $sig)))
    [ $rc = $want ] || { cat "$T/$sig.err"; fail "SIG$sig: exit $rc, expected $want"; }
    [ $(( $(date +%s) - t0 )) -le 20 ] || fail "SIG$sig: clean-up took too long"
    grep -q "caught SIG$sig" "$T/$sig.err" || fail "SIG$sig: not reported"
    nothing_left "SIG$sig"
done

# SIGKILL: no trap runs; the watchdog notices within a second or two.
start_job KILL
kill -KILL "$RUN"
wait "$JOB" 2>/dev/null
# COMMAND is not ours to chase once benchfs-run is gone (in a batch job the
# resource manager ends it); stop it here, then check the rest.
kill -KILL "$SH" "$SLEEP" 2>/dev/null
nothing_left KILL
echo "PASS: benchfs-run signals"
