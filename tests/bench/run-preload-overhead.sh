#!/bin/bash
# The cost of libbenchfs.so on local paths: medians of alternating runs with
# and without LD_PRELOAD (no server is needed: no BenchFS path is touched).
set -eu
B=${top_builddir:-$(cd "$(dirname "$0")/../.." && pwd)}
PROG="$B/tests/bench/preload_overhead"
PL="$B/preload/.libs/libbenchfs.so"
RUNS=${RUNS:-7}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for i in $(seq "$RUNS"); do
    "$PROG" "$tmp/f" >> "$tmp/without"
    LD_PRELOAD="$PL" "$PROG" "$tmp/f" >> "$tmp/with"
done
med() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
printf '%-18s %12s %12s %8s\n' "loop (local file)" "libc ns" "preload ns" "ratio"
for k in 2 4 6; do
    name=$(head -1 "$tmp/without" | awk -v k=$((k-1)) '{print $k}')
    a=$(awk -v k=$k '{print $k}' "$tmp/without" | med)
    b=$(awk -v k=$k '{print $k}' "$tmp/with" | med)
    printf '%-18s %12s %12s %8.3f\n' "$name" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
