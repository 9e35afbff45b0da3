# A private Slurm cluster of this one machine, for the Slurm tests (on top
# of run_lib.sh): munged with its own key and socket, slurmctld and slurmd
# with a generated slurm.conf (free ports, state, spool and logs in $T), all
# started here and stopped by PID at exit. Another Slurm (a second CI job's
# cluster) on the machine is never touched: ours has its own name, ports,
# munge socket and directories. Skips (77), loudly, only when Debian's
# packages are not installed (slurm-wlm munge slurm-wlm-basic-plugins).
. "$(dirname "$0")/run_lib.sh"
for b in munged slurmctld slurmd sbatch srun salloc squeue scancel; do
    command -v "$b" >/dev/null || {
        echo "SKIP: $b is not installed (Debian: apt-get install slurm-wlm munge slurm-wlm-basic-plugins): the Slurm tests cannot run" >&2
        exit 77
    }
done
[ -e /usr/lib/x86_64-linux-gnu/slurm-wlm/mpi_pmix_v4.so ] || ls /usr/lib/*/slurm-wlm/mpi_pmix*.so >/dev/null 2>&1 ||
    { echo "SKIP: Slurm's PMIx plugin (slurm-wlm-basic-plugins) is not installed" >&2; exit 77; }

SL="$T/slurm"
SLURM_PIDS=()
export SLURM_CONF="$SL/slurm.conf"
# Our jobs must not inherit an outer allocation's variables.
for v in $(compgen -e); do case $v in SLURM_CONF) ;; SLURM_*) unset "$v" ;; esac; done

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

slurm_stop() {
    local p
    # Jobs first (their steps' slurmstepd), then the daemons.
    [ -f "$SLURM_CONF" ] && timeout 10 scancel --full -w "$(hostname -s)" 2>/dev/null
    for p in ${SLURM_PIDS[@]+"${SLURM_PIDS[@]}"}; do kill -TERM "$p" 2>/dev/null; done
    for p in ${SLURM_PIDS[@]+"${SLURM_PIDS[@]}"}; do
        for _ in $(seq 100); do alive "$p" || break; sleep 0.1; done
        alive "$p" && kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    SLURM_PIDS=()
    # slurmstepd daemonizes: ours are those working in our spool directory.
    local f pid
    for f in /proc/[0-9]*/cmdline; do
        pid=${f#/proc/}; pid=${pid%/cmdline}
        grep -q "^slurmstepd" "$f" 2>/dev/null || continue
        ls -l "/proc/$pid/cwd" "/proc/$pid/fd" 2>/dev/null | grep -q "$SL/" && kill -KILL "$pid" 2>/dev/null
    done
    return 0
}
# Before run_cleanup kills whatever still holds $T: the daemons stop
# cleanly (jobs cancelled first).
slurm_exit() { local rc=$?; slurm_stop; run_cleanup "$rc"; }
trap slurm_exit EXIT

# slurm_start: the cluster, ready for jobs (sinfo shows the node idle).
slurm_start() {
    mkdir -p "$SL/state" "$SL/spool" "$SL/munge" || return 1
    chmod 711 "$T" "$SL" "$SL/munge"
    dd if=/dev/urandom of="$SL/munge/key" bs=1024 count=1 status=none && chmod 400 "$SL/munge/key"
    munged -F -f --socket="$SL/munge/sock" --key-file="$SL/munge/key" --log-file="$SL/munged.log" \
        --pid-file="$SL/munged.pid" --seed-file="$SL/munged.seed" >>"$SL/munged.out" 2>&1 &
    SLURM_PIDS+=($!)
    for _ in $(seq 50); do [ -S "$SL/munge/sock" ] && break; sleep 0.1; done
    [ -S "$SL/munge/sock" ] || { cat "$SL/munged.out"; echo "munged did not start"; return 1; }
    local host; host=$(hostname -s)
    cat >"$SLURM_CONF" <<EOF
ClusterName=bfs$$
SlurmctldHost=$host
SlurmctldPort=$(free_port)
SlurmdPort=$(free_port)
AuthType=auth/munge
AuthInfo=socket=$SL/munge/sock
CredType=cred/munge
StateSaveLocation=$SL/state
SlurmdSpoolDir=$SL/spool
SlurmctldPidFile=$SL/slurmctld.pid
SlurmdPidFile=$SL/slurmd.pid
SlurmctldLogFile=$SL/slurmctld.log
SlurmdLogFile=$SL/slurmd.log
SlurmUser=root
SlurmdUser=root
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmdParameters=config_overrides
NodeName=$host CPUs=8 RealMemory=4000 State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
EOF
    slurmctld -D -i -f "$SLURM_CONF" >>"$SL/slurmctld.out" 2>&1 &
    SLURM_PIDS+=($!)
    slurmd -D -f "$SLURM_CONF" >>"$SL/slurmd.out" 2>&1 &
    SLURM_PIDS+=($!)
    for _ in $(seq 300); do
        [ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && return 0
        sleep 0.1
    done
    echo "the Slurm cluster did not come up within 30 s:"
    tail -20 "$SL/slurmctld.log" "$SL/slurmd.log" "$SL/slurmctld.out" "$SL/slurmd.out" 2>/dev/null
    return 1
}

# slurm_quiet: no job left in the queue (bounded wait: a job just done may
# still be completing).
slurm_quiet() {
    for _ in $(seq 100); do
        [ -z "$(squeue -h -o %i 2>/dev/null)" ] && return 0
        sleep 0.1
    done
    squeue
    return 1
}
