#!/bin/bash
# More than one node: three hosts made of network namespaces.
#
# Namespaces h0, h1, h2 (the "nodes") and hd (where mpirun runs), each with
# a veth "eth0" into a bridge that lives in a fifth namespace, addresses in
# 10.213.N.0/24 on those veths only (N from the test's pid); the root
# namespace is not touched. Each "host" also gets its own hostname and
# /etc/hosts (unshare --uts and a bind mount inside `ip netns exec`).
# mpirun in hd starts one benchfsd per host through a launch agent that
# runs orted with `ip netns exec HOST` (--mca plm_rsh_agent, a hostfile of
# the three hosts, oob/btl tcp restricted to the subnet), UCX over tcp on
# the veth (UCX_TLS=tcp, UCX_NET_DEVICES=eth0). Checked:
#  - each server runs in its own namespace and the servers exchanged their
#    addresses (PMIx) across the "network";
#  - clients in every namespace write and verify files, each host reads
#    what the others wrote; the MPI program tests/mpi_io_test runs across
#    the three hosts under the preload library (when it is built);
#  - data really crossed the veths (interface counters);
#  - h2's link is cut (ip link set eth0 down): a client on h0 gets every
#    call back, successfully or with an error, within the RPC deadline +
#    1 s (no hang), dd/cat under the preload library fail in bounded time,
#    and a surviving server reports rank 2 on host h2 (this rests on
#    non-blocking tcp connects, a BenchFS default: see below);
#  - the link is restored, the servers serve again and shut down cleanly.
# Skipped (exit 77, with the reason) where namespaces cannot be created.
. "$(dirname "$0")/lib.sh"
if [ "$PRELOAD_SANITIZED" = 1 ]; then
    # Not yet understood: the ASan-built preload library segfaults in the
    # programs started through "ip netns exec". The plain build runs it.
    echo "SKIP: fault_netns in the --enable-sanitizers build (the plain build runs it)" >&2
    exit 77
fi
heavy
FC="$top_builddir/tests/fault_client"
MPI_IO="$top_builddir/tests/mpi_io_test"
DEADLINE=3000
LIMIT_MS=$((DEADLINE + 1000))
t_begin=$(date +%s)

skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "network namespaces need root"
command -v ip >/dev/null || skip "no ip (iproute2)"
command -v unshare >/dev/null || skip "no unshare (util-linux)"
[ -x "$MPIRUN" ] || command -v "$MPIRUN" >/dev/null || skip "no mpirun"

P="bf$$"                       # namespace and interface names: ours only
NET="10.213.$(($$ % 200 + 20))" # the subnet: on our veths only
NSES="${P}sw ${P}h0 ${P}h1 ${P}h2 ${P}hd"

netns_cleanup() {
    local ns p
    for ns in $NSES; do
        for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null; done
    done
    sleep 0.2
    for ns in $NSES; do ip netns del "$ns" 2>/dev/null; done
}
at_exit netns_cleanup

if ! ip netns add "${P}sw" 2>"$T/netns.err"; then
    skip "cannot create a network namespace here: $(cat "$T/netns.err")"
fi
ip -n "${P}sw" link add br0 type bridge && ip -n "${P}sw" link set br0 up ||
    skip "cannot make a bridge in a network namespace"
i=1
{
    echo "127.0.0.1 localhost"
    for h in h0 h1 h2 hd; do echo "$NET.$i ${P}$h"; i=$((i + 1)); done
} >"$T/hosts"
i=1
for h in h0 h1 h2 hd; do
    ns="${P}$h"
    ip netns add "$ns" &&
        ip link add "${P}v$i" type veth peer name eth0 netns "$ns" &&
        ip link set "${P}v$i" netns "${P}sw" &&
        ip -n "${P}sw" link set "${P}v$i" master br0 up &&
        ip -n "$ns" addr add "$NET.$i/24" dev eth0 &&
        ip -n "$ns" link set eth0 up &&
        ip -n "$ns" link set lo up || fail "setting up namespace $ns"
    i=$((i + 1))
done
printf '%s slots=1\n' "${P}h0" "${P}h1" "${P}h2" >"$T/hostfile"
# Run a command "on a host": in its namespace, with its hostname and hosts
# file. Like rsh, it joins its arguments into one shell command: no spaces
# inside an argument.
cat >"$T/on" <<EOF
#!/bin/sh
h=\$1; shift
exec ip netns exec "\$h" unshare --uts /bin/sh -c 'hostname "\$0" && mount --bind "$T/hosts" /etc/hosts && exec /bin/sh -c "\$1"' "\$h" "\$*"
EOF
# The rsh agent mpirun calls as `agent HOST COMMAND...`: the same.
cp "$T/on" "$T/agent"
chmod +x "$T/on" "$T/agent"
echo "# hosts: ${P}h0 ${P}h1 ${P}h2 ($NET.1-3), mpirun on ${P}hd ($NET.4)"

export UCX_TLS=tcp UCX_NET_DEVICES=eth0 BENCHFS_RPC_TIMEOUT_MS=$DEADLINE
MPI_NET="--mca plm_rsh_agent $T/agent --mca oob_tcp_if_include $NET.0/24 --mca btl_tcp_if_include $NET.0/24"
on() { local h=$1; shift; "$T/on" "${P}$h" "$@"; }
rx() { ip -n "${P}$1" -s link show eth0 | awk 'NR == 4 { print $1 }'; }

# Servers: one per host.
export BENCHFS_REGISTRY="$T/registry"
# shellcheck disable=SC2086
"$T/on" "${P}hd" "$MPIRUN" --hostfile "$T/hostfile" $MPI_NET --enable-recovery \
    -x UCX_TLS -x UCX_NET_DEVICES -x BENCHFS_RPC_TIMEOUT_MS -np 3 --map-by node \
    "$BENCHFSD" --dir "$T/dir" --registry "$BENCHFS_REGISTRY" --chunk-size 64K \
    >>"$SERVER_LOG" 2>&1 &
SERVER_PID=$!
wait_registry "$BENCHFS_REGISTRY" || fail "servers did not start across the namespaces"
for h in h0 h1 h2; do
    found=""
    for p in $(ip netns pids "${P}$h"); do
        grep -q benchfsd "/proc/$p/comm" 2>/dev/null && found=$p
    done
    [ -n "$found" ] || fail "no benchfsd in namespace ${P}$h"
    echo "# ${P}$h: benchfsd pid $found"
done
rx0=$(rx h0)

# Clients in every namespace; every host reads what the others wrote.
for h in h0 h1 h2; do
    on $h "$FC" load /$h 100 $((8 << 20)) 7 >"$T/load-$h.out" 2>&1 &
    eval "pid_$h=\$!"
done
for h in h0 h1 h2; do
    eval "p=\$pid_$h"
    wait "$p" || { cat "$T/load-$h.out"; fail "client workload on ${P}$h"; }
    sed 's/^/# /' "$T/load-$h.out"
done
on h0 "$FC" mkfiles /x0 3 300000 5 -1 >/dev/null || fail "files from h0"
on h1 "$FC" verify /x0 300000 5 3 >/dev/null || fail "h1 reading what h0 wrote"
on h2 "$FC" verify /x0 300000 5 3 >/dev/null || fail "h2 reading what h0 wrote"
echo "# h1 and h2 read back what h0 wrote"

if [ -x "$MPI_IO" ]; then
    on h0 env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" mkdir /benchfs/mpi || fail "mkdir /benchfs/mpi"
    # shellcheck disable=SC2086
    timeout 120 "$T/on" "${P}hd" "$MPIRUN" --hostfile "$T/hostfile" $MPI_NET \
        --mca pml ob1 --mca btl self,tcp -x UCX_TLS -x UCX_NET_DEVICES \
        -x BENCHFS_RPC_TIMEOUT_MS -x BENCHFS_REGISTRY -x LD_PRELOAD="$PRELOAD" -x ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" \
        -np 3 --map-by node "$MPI_IO" /benchfs/mpi >"$T/mpi.out" 2>&1 ||
        { cat "$T/mpi.out"; fail "mpi_io_test across the namespaces"; }
    tail -2 "$T/mpi.out" | sed 's/^/# mpi_io_test: /'
else
    echo "# NOTE: $MPI_IO is not built (make tests/mpi_io_test): the MPI part is skipped"
fi
rx1=$(rx h0)
echo "# ${P}h0 received $(((rx1 - rx0) >> 20)) MiB on its veth during the workload"
[ $((rx1 - rx0)) -gt $((8 << 20)) ] || fail "the data did not cross the veths"

cat >"$T/chunks.py" <<'EOF'
import os, sys, time
ranks = [int(r) for r in sys.argv[2].split(",")]
limit = int(sys.argv[3])
fd = os.open(sys.argv[1], os.O_WRONLY)
bad = 0
for i, r in enumerate(ranks):
    t0 = time.monotonic()
    try:
        res, ok = "wrote %d" % os.pwrite(fd, b"z" * 65536, i * 65536), r != 2
    except OSError as e:
        res, ok = e.strerror, r == 2
    ms = (time.monotonic() - t0) * 1000
    print("# chunk %d on rank %d: %s in %.0f ms%s" % (i, r, res, ms, "" if ok and ms <= limit else "  <-- WRONG"))
    bad += not ok or ms > limit
sys.exit(1 if bad else 0)
EOF

# Cut h2's link.
on h0 "$FC" mkfiles /y 6 300000 6 -1 >/dev/null || fail "files before the cut"
on h0 "$FC" mkfiles /z 2 300000 8 -1 >/dev/null || fail "files before the cut"
# A file with chunks on every host but its metadata off h2, for the
# chunk-by-chunk check below (placement: fault_client where).
wfile="" where=""
for k in 0 1 2 3 4 5; do
    where=$(on h0 "$FC" where /y/f$k 5 2>/dev/null | tail -1)
    if [ -n "$where" ] && [ "${where%% *}" != 2 ]; then wfile=/y/f$k; break; fi
done
[ -n "$wfile" ] || fail "no file of /y has its metadata off rank 2"
echo "# cutting ${P}h2's link"
ip -n "${P}h2" link set eth0 down
t_cut=$(date +%s)
# UCX 1.13 connects tcp endpoints with a blocking connect() unless
# UCX_TCP_CONN_NB=y; to a cut host that blocks for the kernel's SYN retries
# (38-135 s seen), past any deadline. BenchFS turns non-blocking connects on
# (rpc/rpc_ucx.h). NETNS_BLOCKING=1 first times one client with UCX's
# blocking default, for comparison.
if [ "${NETNS_BLOCKING:-0}" = 1 ]; then
    t0=$(date +%s%N)
    on h0 env UCX_TCP_CONN_NB=n LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" timeout 300 cat /benchfs/y/f2 >/dev/null 2>"$T/pl.err"
    echo "# with blocking connects: cat exit $? after $((($(date +%s%N) - t0) / 1000000)) ms: $(grep -v "UCX " "$T/pl.err" | tr '\n' ' ')"
fi
on h0 "$FC" stress /s0 8 $LIMIT_MS >"$T/stress.out" 2>&1 || { cat "$T/stress.out"; fail "client calls after the cut"; }
grep -v "UCX " "$T/stress.out" | sed 's/^/# /'
grep -qE "ok, [1-9][0-9]* errors" "$T/stress.out" || fail "no call saw the cut"
for cmd in "cat /benchfs/y/f0" "dd if=/dev/zero of=/benchfs/y/f1 bs=64K count=8 conv=notrunc,fsync status=none"; do
    t0=$(date +%s%N)
    on h0 env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" timeout 60 $cmd >/dev/null 2>"$T/pl.err"
    rc=$?
    ms=$((($(date +%s%N) - t0) / 1000000))
    echo "# preload after the cut: '${cmd%% *}' exit $rc in $ms ms: $(grep -v "UCX " "$T/pl.err" | tr '\n' ' ')"
    [ $rc != 124 ] || fail "'$cmd' hangs after the cut"
    [ $rc != 0 ] || fail "'$cmd' succeeded across a cut link"
    [ $ms -le $((3 * LIMIT_MS)) ] || fail "'$cmd' took $ms ms"
done
# Chunk by chunk through the preload library: the pieces on h2 fail within
# the limit, the others are written (placement from fault_client where).
echo "# $wfile: metadata on rank ${where%% *}, chunks 0-4 on ranks ${where#* }"
on h0 env LD_PRELOAD="$PRELOAD" ASAN_OPTIONS="$FOREIGN_ASAN_OPTIONS" python3 "$T/chunks.py" "/benchfs$wfile" "$(echo "${where#* }" | tr ' ' ,)" $LIMIT_MS \
    >"$T/chunks.out" 2>&1 || { cat "$T/chunks.out"; fail "chunk writes after the cut"; }
grep -v "UCX " "$T/chunks.out"
for _ in $(seq 150); do
    grep -q "server rank 2 of 3 (host ${P}h2 pid [0-9]*) does not answer" "$SERVER_LOG" && break
    sleep 0.1
done
grep -q "server rank 2 of 3 (host ${P}h2 pid [0-9]*) does not answer" "$SERVER_LOG" ||
    fail "no survivor reported rank 2 on ${P}h2"
echo "# a survivor reported rank 2 on ${P}h2 within $(($(date +%s) - t_cut)) s of the cut"

# Restore the link: everything serves again, then a clean shutdown.
ip -n "${P}h2" link set eth0 up
ok=""
for _ in $(seq 30); do
    if on h0 "$FC" verify /z 300000 8 2 >/dev/null 2>&1; then ok=1; break; fi
    sleep 1
done
[ -n "$ok" ] || fail "the files on h2 are not served again after the link came back"
echo "# link restored: files spanning all three hosts served again"
on hd "$top_builddir/tests/fs_tool" shutdown >>"$SERVER_LOG" 2>&1 || fail "shutdown"
for _ in $(seq 200); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVER_PID" 2>/dev/null && fail "mpirun did not end after the shutdown"
wait "$SERVER_PID"
mrc=$?
SERVER_PID=
[ $mrc = 0 ] || { grep -v "UCX " "$SERVER_LOG" | tail; fail "mpirun exited $mrc"; }
echo "PASS: three namespace hosts: workload verified, cut link gives bounded errors ($(($(date +%s) - t_begin)) s)"
