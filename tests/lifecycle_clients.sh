#!/bin/bash
# A client that is gone costs the servers nothing (docs/PROMISES.md).
#
# Two servers; LC_CLIENTS short-lived clients (tests/lc_client, on the client
# API), LC_PAR at a time, in a mix: normal exit with benchfs_finalize, exit()
# and _exit() without it, exec of another program (the pid lives on), an
# endpoint left idle and made again, SIGKILL in the middle of a stream of
# calls, SIGKILL in the middle of a 16 MiB transfer. Then, within a bounded
# time, each server's RSS, open descriptors, attached SysV and POSIX
# shared-memory segments and client connections (PING) must be back at their
# baseline plus a small constant, and no segment created by one of our
# clients may still exist. Run with the default transports, then with
# UCX_TLS=tcp,self (LC_TLS lists the passes).
#
# Knobs: LC_CLIENTS (clients per pass; default 1000), LC_PAR (4),
# LC_TLS ("default tcp,self"). The idle timeouts are shortened for the test:
# the client closes an endpoint idle for BENCHFS_RPC_IDLE_MS (1 s here), the
# server one idle for BENCHFS_RPC_SERVER_IDLE_MS (3 s here).
. "$(dirname "$0")/lib.sh"
heavy
LC="$top_builddir/tests/lc_client"
N=${LC_CLIENTS:-1000}
PAR=${LC_PAR:-4}
PASSES=${LC_TLS:-default tcp,self}
export BENCHFS_RPC_IDLE_MS=${BENCHFS_RPC_IDLE_MS:-1000}
export BENCHFS_RPC_SERVER_IDLE_MS=${BENCHFS_RPC_SERVER_IDLE_MS:-3000}
# Slack allowed over the baseline after the clients are gone.
RSS_SLACK_KB=${LC_RSS_SLACK_KB:-16384}
FD_SLACK=4
PIDS="$T/client.pids"
fail=0

sysv_of() { awk '$6 ~ /^\/SYSV/ { print $5 }' "/proc/$1/maps" 2>/dev/null | sort -u | wc -l; }
posix_of() { awk '$6 ~ /^\/dev\/shm\// { print $6 }' "/proc/$1/maps" 2>/dev/null | sort -u | wc -l; }
fds_of() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
rss_of() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
conns() { timeout 20 "$LC" conns | awk '/^conns/ { s = 0; for (i = 2; i <= NF; i++) s += $i; print s }'; }
# SysV segments that still exist and were created by one of our clients.
client_segs() {
    ipcs -m -p 2>/dev/null | awk 'NR == FNR { p[$1] = 1; next } $3 ~ /^[0-9]+$/ && ($3 in p) { n++ } END { print n + 0 }' "$PIDS" -
}
snapshot() { # snapshot LABEL -> one line per server, sets SNAP_<field>
    local r p
    SNAP=""
    for r in 0 1; do
        p=${SP[$r]}
        SNAP="$SNAP $(rss_of "$p") $(fds_of "$p") $(sysv_of "$p") $(posix_of "$p")"
    done
    SNAP_CONNS=$(conns)
    echo "# $1: server 0 rss/fds/sysv/posix: $(echo $SNAP | cut -d' ' -f1-4 | tr ' ' /)  server 1: $(echo $SNAP | cut -d' ' -f5-8 | tr ' ' /)  connections: $SNAP_CONNS  client segments left: $(client_segs)"
}

one_client() { # one_client I
    local i=$1 p
    case $((i % 10)) in
        0 | 1 | 2) "$LC" normal & ;;
        3) "$LC" exit & ;;
        4) "$LC" _exit & ;;
        5) "$LC" exec /bin/sleep 2 & ;;
        6) "$LC" idle 1300 & ;;
        7 | 8) "$LC" loop >/dev/null & p=$!; echo $p >>"$PIDS"
           sleep 0.0$((RANDOM % 10)); kill -KILL $p 2>/dev/null; wait $p 2>/dev/null; return 0 ;;
        9) "$LC" big /lc$((i % 3)) >/dev/null & p=$!; echo $p >>"$PIDS"
           sleep 0.$((RANDOM % 6)); kill -KILL $p 2>/dev/null; wait $p 2>/dev/null; return 0 ;;
    esac
    p=$!
    echo $p >>"$PIDS"
    wait $p || echo "# client $i (mode $((i % 10))) failed" >>"$T/failed"
}

run_pass() { # run_pass TLS
    local tls=$1 r
    rm -f "$T/failed"
    : >"$PIDS"
    if [ "$tls" = default ]; then unset UCX_TLS; else export UCX_TLS=$tls; fi
    start_servers 2 "$T/dir-${tls//,/_}" || return 1
    for r in 0 1; do SP[$r]=$(server_pid $r) || { echo "no server $r"; return 1; }; done
    echo "# pass UCX_TLS=$tls: servers ${SP[0]} ${SP[1]}"
    # Warm up (UCX's pools, the big files), let it settle, then the baseline.
    for i in $(seq 0 19); do one_client $i; done
    settle 0 || true
    snapshot "baseline"
    local base=($SNAP) base_conns=$SNAP_CONNS
    local t0=$(date +%s.%N) i=0 jobs
    while [ $i -lt "$N" ]; do
        jobs=""
        for _ in $(seq "$PAR"); do
            [ $i -lt "$N" ] || break
            one_client $i &
            jobs="$jobs $!"
            i=$((i + 1))
        done
        wait $jobs
        if [ $((i % 200)) -lt "$PAR" ]; then
            for r in 0 1; do kill -0 "${SP[$r]}" 2>/dev/null || { echo "server $r died"; cat "$SERVER_LOG"; return 1; }; done
        fi
    done
    local t1=$(date +%s.%N)
    echo "# LC_CLIENTS=$N clients ran (UCX_TLS=$tls, $PAR at a time) in $(echo "$t1 - $t0" | bc) s: $(echo "$N / ($t1 - $t0)" | bc -l | cut -c1-5) clients/s"
    [ ! -s "$T/failed" ] || { echo "# clients that should have succeeded failed:"; cat "$T/failed"; fail=1; }
    snapshot "right after the clients"
    settle "$base_conns" || { echo "connections did not return to the baseline"; fail=1; }
    snapshot "after settling"
    local now=($SNAP)
    for r in 0 1; do
        local o=$((r * 4))
        [ "${now[$o]}" -le $((base[o] + RSS_SLACK_KB)) ] || { echo "server $r: RSS ${base[$o]} -> ${now[$o]} kB"; fail=1; }
        [ "${now[$((o + 1))]}" -le $((base[o + 1] + FD_SLACK)) ] || { echo "server $r: fds ${base[$((o + 1))]} -> ${now[$((o + 1))]}"; fail=1; }
        [ "${now[$((o + 2))]}" -le "${base[$((o + 2))]}" ] || { echo "server $r: SysV segments ${base[$((o + 2))]} -> ${now[$((o + 2))]}"; fail=1; }
        [ "${now[$((o + 3))]}" -le "${base[$((o + 3))]}" ] || { echo "server $r: POSIX shm ${base[$((o + 3))]} -> ${now[$((o + 3))]}"; fail=1; }
    done
    [ "$SNAP_CONNS" -le "$base_conns" ] || { echo "connections $base_conns -> $SNAP_CONNS"; fail=1; }
    local left
    left=$(client_segs)
    [ "$left" -eq 0 ] || { echo "$left SysV segments of gone clients still exist"; fail=1; }
    stop_servers || fail=1
}

# settle TARGET: wait (bounded) until the connection count is at most TARGET
# (0: until it stops falling) and every exec'd client is gone.
settle() {
    local target=$1 last=-1 c
    for _ in $(seq 40); do
        sleep 1
        c=$(conns)
        [ -n "$c" ] || continue
        if [ "$target" = 0 ]; then
            [ "$c" != "$last" ] || return 0
        elif [ "$c" -le "$target" ]; then
            return 0
        fi
        last=$c
    done
    return 1
}

declare -a SP
for tls in $PASSES; do
    run_pass "$tls" || fail=1
done
exit $fail
