#!/bin/bash
# run-rpc-bench.sh: BenchFS RPC performance next to ucx_perftest, in one run.
#
# Run from the build directory (`make bench` does). For each UCX endpoint
# error-handling mode it runs benchfs-rpc-bench and ucx_perftest (server and
# client on localhost) on the same transports, then prints a comparison table
# with ratios ours/perftest against the targets, PASS/MISS per target, and
# which error-handling mode is faster by how much:
#
#   mode "none" (peer_errors=0): shared memory allowed; perftest with the
#                                default UCX_TLS
#   mode "peer" (peer_errors=1): tcp only; perftest with UCX_TLS=tcp and -e
#                                (endpoints with peer error handling)
#
# Targets (from the issue):
#   null RPC round trip (p50)   <= 1.5 x two one-way ucp_am_lat (8 B) latencies
#   1 MiB throughput, 16 in flight, writes and reads
#                               >= 0.85 x ucp_am_bw (1 MiB)
#
# Environment:
#   BENCH_QUICK=1        fewer repetitions (about 30 s instead of about 90 s)
#   BENCH_OUT=DIR        where raw results go (default bench-results/rpc-DATE)
#   BENCH_MODES="0 1"    which peer_errors modes to measure
#   BENCH_ARGS="..."     extra benchfs-rpc-bench arguments
#   BENCH_STRICT=1       exit 1 when a target is missed (default: report only)
#   BENCH_QUIET_S=N      seconds the benchmark may wait for an idle machine (20)
#   UCX_PERFTEST=PATH    ucx_perftest to use
#
# Processes started here are tracked by PID and always stopped (trap); no
# process is ever looked up or killed by name.
set -u
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

me=run-rpc-bench
say() { printf '%s\n' "$*"; }
warn() { printf '%s: %s\n' "$me" "$*" >&2; }

# ---- processes we started, stopped on any exit ----
PIDS=""
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
    local p
    for p in $PIDS; do
        kill -TERM "$p" 2>/dev/null
    done
    for p in $PIDS; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    PIDS=""
}
forget_pid() {
    local p keep=""
    for p in $PIDS; do [ "$p" = "$1" ] || keep="$keep $p"; done
    PIDS=$keep
}
trap cleanup EXIT
trap 'warn "interrupted"; exit 130' INT TERM HUP

# ---- locate the tools ----
if [ -f tests/env.sh ]; then
    # shellcheck disable=SC1091
    . tests/env.sh
fi
BENCH_BIN=${BENCH_BIN:-./rpc/benchfs-rpc-bench}
if [ ! -x "$BENCH_BIN" ]; then
    warn "$BENCH_BIN not found: run from the build directory after 'make' (or set BENCH_BIN)"
    exit 2
fi
PT=${UCX_PERFTEST:-}
[ -n "$PT" ] || PT=$(command -v ucx_perftest 2>/dev/null || true)
if [ -z "$PT" ] || [ ! -x "$PT" ]; then
    warn "ucx_perftest not found (Debian package ucx-utils): only our own numbers are shown"
    PT=""
fi

QUICK=${BENCH_QUICK:-0}
MODES=${BENCH_MODES:-"0 1"}
QUIET_S=${BENCH_QUIET_S:-20}
OUT=${BENCH_OUT:-bench-results/rpc-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$OUT" || exit 2
if [ "$QUICK" = 1 ]; then PT_REPS=1; BENCH_Q=--quick; else PT_REPS=3; BENCH_Q=; fi
SIZES="4096 65536 1048576 16777216"

# ---- helpers ----
# Cores busy on the whole machine over about 0.2 s (from /proc/stat).
machine_load() {
    local a b
    a=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat)
    sleep 0.2
    b=$(awk '/^cpu /{print $2+$3+$4+$7+$8+$9; exit}' /proc/stat)
    awk -v a="$a" -v b="$b" -v hz="$(getconf CLK_TCK)" 'BEGIN{printf "%.2f", (b-a)/hz/0.2}'
}
# Wait (at most 3 s, and QUIET_S seconds over the whole run) for an idle machine.
QUIET_LEFT=$QUIET_S
wait_quiet() {
    local i l
    for i in $(seq 1 15); do
        [ "$QUIET_LEFT" -gt 0 ] || return 0
        l=$(machine_load)
        awk -v l="$l" 'BEGIN{exit !(l < 0.25)}' && return 0
        [ $((i % 5)) -eq 0 ] && QUIET_LEFT=$((QUIET_LEFT - 1))
    done
    return 0
}

free_port() {
    local p i
    for i in $(seq 1 50); do
        p=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
        if command -v ss >/dev/null 2>&1; then
            [ -z "$(ss -Htan "sport = :$p" 2>/dev/null)" ] && { echo "$p"; return 0; }
        else
            echo "$p"
            return 0
        fi
    done
    echo 23456
}

# Run a command in the background, tracked for cleanup, and wait for it (so
# that a signal to this script is handled at once). Returns its exit status.
run_tracked() {
    local pid rc
    "$@" &
    pid=$!
    PIDS="$PIDS $pid"
    wait "$pid"
    rc=$?
    forget_pid "$pid"
    return $rc
}

# pt_once TLS(default|tcp) TEST SIZE ITERS: one server+client pair; the
# client's last CSV line goes to PT_LINE.
PT_LINE=""
pt_once() {
    local tls=$1 test=$2 size=$3 iters=$4 try port spid
    local warm=$((iters / 10 + 10))
    local -a envv=(env) extra=()
    if [ "$tls" = tcp ]; then envv=(env UCX_TLS=tcp); extra=(-e); fi
    for try in 1 2 3; do
        port=$(free_port)
        "${envv[@]}" timeout 120 "$PT" -p "$port" >"$OUT/pt-server.log" 2>&1 &
        spid=$!
        PIDS="$PIDS $spid"
        # Until the server listens (or died).
        for _ in $(seq 1 50); do
            if command -v ss >/dev/null 2>&1; then
                [ -n "$(ss -Htln "sport = :$port" 2>/dev/null)" ] && break
            else
                sleep 0.3
                break
            fi
            kill -0 "$spid" 2>/dev/null || break
            sleep 0.05
        done
        if run_tracked "${envv[@]}" timeout 120 "$PT" localhost -p "$port" -t "$test" -s "$size" \
            -n "$iters" -w "$warm" -v "${extra[@]}" >"$OUT/pt-client.log" 2>&1; then
            wait "$spid" 2>/dev/null
            forget_pid "$spid"
            cat "$OUT/pt-client.log" >>"$OUT/perftest-$tls.log"
            PT_LINE=$(grep -E '^ *[0-9]+,' "$OUT/pt-client.log" | tail -1)
            [ -n "$PT_LINE" ] && return 0
        fi
        kill -TERM "$spid" 2>/dev/null
        wait "$spid" 2>/dev/null
        forget_pid "$spid"
        { echo "## failed try $try: $test -s $size on $tls"; cat "$OUT/pt-client.log" "$OUT/pt-server.log"; } \
            >>"$OUT/perftest-$tls.log"
    done
    warn "ucx_perftest $test -s $size (UCX_TLS=$tls) failed 3 times; see $OUT/perftest-$tls.log"
    return 1
}

median() { sort -g | awk '{v[NR]=$1} END{if(NR==0){print "nan"; exit} if(NR%2) print v[(NR+1)/2]; else print (v[NR/2]+v[NR/2+1])/2}'; }

# pt_measure TLS TEST SIZE ITERS FIELD SCALE: PT_RESULT = median over PT_REPS
# runs of CSV field FIELD times SCALE ("nan" when every run failed).
PT_RESULT=""
pt_measure() {
    local tls=$1 test=$2 size=$3 iters=$4 field=$5 scale=$6 r vals=""
    for r in $(seq 1 "$PT_REPS"); do
        wait_quiet
        pt_once "$tls" "$test" "$size" "$iters" || continue
        vals="$vals $(echo "$PT_LINE" | awk -F, -v f="$field" -v s="$scale" '{printf "%.6f", $f*s}')"
    done
    PT_RESULT=$(echo "$vals" | tr ' ' '\n' | grep . | median)
}

iters_for() { # size -> perftest iterations (each run well under a second)
    case $1 in
    8 | 4096) echo 20000 ;;
    65536) echo 5000 ;;
    1048576) echo 1000 ;;
    *) echo 60 ;;
    esac
}

# Fields of ucx_perftest -v CSV: iterations,p50_lat,avg_lat,overall_lat,avg_bw,...
# Latencies are one-way (half a round trip) in us; bandwidth in MiB/s.
MIB=1.048576

# ours_get FILE DIR SIZE DEPTH FIELD
ours_get() {
    grep "\"dir\":\"$2\",\"size\":$3,\"depth\":$4," "$1" |
        sed -n "s/.*\"$5\":\([-0-9.e+]*\).*/\1/p" | head -1
}
lat_get() { # FILE FIELD
    grep '^"latency"' "$1" | sed -n "s/.*\"$2\":\([-0-9.e+]*\).*/\1/p" | head -1
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b+0 > 0 && a != "" && a != "nan") printf "%.2f", a/b; else printf "n/a" }'; }
fmt() { awk -v a="$1" -v d="${2:-1}" 'BEGIN{ if (a == "" || a == "nan") printf "n/a"; else printf "%.*f", d, a }'; }

SUMMARY=$OUT/summary.txt
: >"$SUMMARY"
out() { printf '%s\n' "$*" | tee -a "$SUMMARY"; }

FAILS=0
target() { # NAME RATIO OP LIMIT: prints PASS, MISS or n/a (counted from $SUMMARY)
    if [ "$2" = n/a ]; then
        printf 'n/a'
    elif awk -v r="$2" -v l="$4" -v op="$3" 'BEGIN{exit !((op=="<=" && r<=l) || (op==">=" && r>=l))}'; then
        printf 'PASS'
    else
        printf 'MISS'
    fi
}

say "$me: results in $OUT (quick=$QUICK)"
say "$me: machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
[ -n "$PT" ] && say "$me: ucx_perftest: $PT (UCX $(ucx_info -v 2>/dev/null | sed -n 's/^# Version //p' | head -1))"

for mode in $MODES; do
    if [ "$mode" = 1 ]; then mname=peer; tls=tcp; barg=--peer-errors; else mname=none; tls=default; barg=; fi
    say ""
    say "== mode $mname (peer_errors=$mode): benchfs-rpc-bench ..."
    json=$OUT/ours-$mname.json
    # shellcheck disable=SC2086
    run_tracked "$BENCH_BIN" $barg $BENCH_Q --json --wait-quiet "$QUIET_S" ${BENCH_ARGS:-} \
        >"$json" 2>"$OUT/ours-$mname.err"
    brc=$?
    if [ $brc -ne 0 ]; then
        warn "benchfs-rpc-bench ($mname) failed (exit $brc):"
        cat "$OUT/ours-$mname.err" >&2
        FAILS=$((FAILS + 1))
        continue
    fi
    # The same 1 MiB x16 transfers with a buffer per call in flight (16 MiB
    # of client buffers instead of 1 MiB: the cost of colder caches).
    # shellcheck disable=SC2086
    run_tracked "$BENCH_BIN" $barg $BENCH_Q --json --wait-quiet 5 --ops write,read --sizes 1m \
        --depths 16 --buffer-per-call >"$OUT/ours-$mname-percall.json" 2>>"$OUT/ours-$mname.err" ||
        warn "benchfs-rpc-bench --buffer-per-call ($mname) failed"
    if [ -n "$PT" ]; then
        say "== mode $mname: ucx_perftest (UCX_TLS=$tls${barg:+, -e}) ..."
        pt_measure "$tls" ucp_am_lat 8 "$(iters_for 8)" 2 1
        pt_lat8=$PT_RESULT
        for s in $SIZES; do
            pt_measure "$tls" ucp_am_lat "$s" "$(iters_for "$s")" 2 1
            eval "pt_lat_$s=\$PT_RESULT"
            pt_measure "$tls" ucp_am_bw "$s" "$(iters_for "$s")" 5 "$MIB"
            eval "pt_bw_$s=\$PT_RESULT"
        done
    else
        pt_lat8=nan
        for s in $SIZES; do eval "pt_lat_$s=nan; pt_bw_$s=nan"; done
    fi
    {
        echo "perftest_lat8_us=$pt_lat8"
        for s in $SIZES; do eval "echo perftest_lat_${s}_us=\$pt_lat_$s; echo perftest_bw_${s}_MBps=\$pt_bw_$s"; done
    } >"$OUT/perftest-$mname.txt"

    p50=$(lat_get "$json" p50_us)
    p99=$(lat_get "$json" p99_us)
    oth=$(lat_get "$json" other_cpu)
    rtt=$(awk -v l="$pt_lat8" 'BEGIN{ if (l == "nan") print "nan"; else printf "%.3f", 2*l }')
    out ""
    out "=== mode $mname (peer_errors=$mode) vs ucx_perftest UCX_TLS=$tls${barg:+ -e} ==="
    out "$(printf '%-28s %11s %11s %7s  %-9s %s' metric ours perftest ratio target result)"
    r=$(ratio "$p50" "$rtt")
    out "$(printf '%-28s %11s %11s %7s  %-9s %s' "null RTT p50 (us)" "$(fmt "$p50" 2)" "$(fmt "$rtt" 2)" "$r" "<= 1.50" "$(target lat "$r" "<=" 1.5)")"
    out "$(printf '%-28s %11s %11s %7s' "null RTT p99 (us)" "$(fmt "$p99" 2)" "" "")"
    for dir in write read; do
        for s in $SIZES; do
            for d in 1 16; do
                v=$(ours_get "$json" "$dir" "$s" "$d" mbps)
                [ -n "$v" ] || continue
                o=$(ours_get "$json" "$dir" "$s" "$d" other_cpu)
                if [ "$d" = 16 ]; then
                    eval "p=\$pt_bw_$s"
                else
                    # Depth 1: one request of s bytes one way plus a small
                    # message back: s / (lat(s) + lat(8)).
                    eval "l=\$pt_lat_$s"
                    p=$(awk -v s="$s" -v l="$l" -v l8="$pt_lat8" 'BEGIN{ if (l == "nan" || l8 == "nan") print "nan"; else printf "%.1f", s/(l+l8) }')
                fi
                r=$(ratio "$v" "$p")
                case $s in 4096) h="4 KiB" ;; 65536) h="64 KiB" ;; 1048576) h="1 MiB" ;; *) h="16 MiB" ;; esac
                name="$dir $h x$d (MB/s)"
                if [ "$s" = 1048576 ] && [ "$d" = 16 ]; then
                    res=$(target bw "$r" ">=" 0.85)
                    out "$(printf '%-28s %11s %11s %7s  %-9s %s' "$name" "$(fmt "$v")" "$(fmt "$p")" "$r" ">= 0.85" "$res")"
                else
                    out "$(printf '%-28s %11s %11s %7s' "$name" "$(fmt "$v")" "$(fmt "$p")" "$r")"
                fi
                if awk -v o="$o" 'BEGIN{exit !(o+0 > 0.3)}'; then
                    out "$(printf '%-28s (other processes used %s cores during this one)' "" "$o")"
                fi
            done
        done
    done
    for dir in write read; do
        v=$(ours_get "$OUT/ours-$mname-percall.json" "$dir" 1048576 16 mbps)
        [ -n "$v" ] || continue
        # shellcheck disable=SC2154 # set through eval above
        r=$(ratio "$v" "$pt_bw_1048576")
        out "$(printf '%-28s %11s %11s %7s  %s' "$dir 1 MiB x16 buf/call" "$(fmt "$v")" "$(fmt "$pt_bw_1048576")" "$r" "(info: a buffer per call)")"
    done
    awk -v o="$oth" 'BEGIN{exit !(o+0 > 0.3)}' && out "(other processes used $oth cores during the latency run)"
    out "perftest columns: RTT = 2 x ucp_am_lat(8 B) p50; x16 = ucp_am_bw; x1 = size / (ucp_am_lat(size) + ucp_am_lat(8 B))"
done

# ---- which error-handling mode is faster ----
if [ -f "$OUT/ours-none.json" ] && [ -f "$OUT/ours-peer.json" ]; then
    out ""
    out "=== error-handling modes: none (shared memory) vs peer (tcp), ours ==="
    out "$(printf '%-28s %11s %11s %s' metric none peer "none is faster by")"
    a=$(lat_get "$OUT/ours-none.json" p50_us)
    b=$(lat_get "$OUT/ours-peer.json" p50_us)
    out "$(printf '%-28s %11s %11s %sx' "null RTT p50 (us)" "$(fmt "$a" 2)" "$(fmt "$b" 2)" "$(ratio "$b" "$a")")"
    for dir in write read; do
        for s in $SIZES; do
            for d in 1 16; do
                a=$(ours_get "$OUT/ours-none.json" "$dir" "$s" "$d" mbps)
                b=$(ours_get "$OUT/ours-peer.json" "$dir" "$s" "$d" mbps)
                [ -n "$a" ] && [ -n "$b" ] || continue
                case $s in 4096) h="4 KiB" ;; 65536) h="64 KiB" ;; 1048576) h="1 MiB" ;; *) h="16 MiB" ;; esac
                out "$(printf '%-28s %11s %11s %sx' "$dir $h x$d (MB/s)" "$(fmt "$a")" "$(fmt "$b")" "$(ratio "$a" "$b")")"
            done
        done
    done
fi

out ""
if [ $FAILS -gt 0 ]; then
    out "$me: $FAILS benchmark run(s) failed"
    exit 1
fi
NOISY=$(grep -c '(other processes used' "$SUMMARY")
if [ "$NOISY" -gt 0 ]; then
    out "$me: NOTE: $NOISY measurement(s) ran while other processes kept more than 0.3 cores"
    out "  busy (marked above): those numbers, and verdicts resting on them, are not reliable;"
    out "  run again when the machine is quiet."
fi
MISSES=$(grep -c ' MISS$' "$SUMMARY")
PASSES=$(grep -c ' PASS$' "$SUMMARY")
out "$me: targets met: $PASSES, missed: $MISSES (raw results and logs in $OUT)"
if [ "${BENCH_STRICT:-0}" = 1 ] && [ $MISSES -gt 0 ]; then
    exit 1
fi
exit 0
