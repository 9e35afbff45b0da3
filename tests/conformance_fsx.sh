#!/bin/bash
# fsx (xfstests ltp/fsx.c) through the preload library: 100000 random
# reads, writes, truncates and reopens per run, checked against a shadow
# copy, on 1 and 3 servers with 64 KiB chunks (so operations cross chunk and
# server boundaries), seeds 1 and 2. -R -W: no mapped reads and writes (the
# library serves no shared mmap; the FUSE mount's fuse_fsx.sh covers them).
# FSX_OPS and FSX_SEEDS change the run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conformance_lib.sh"
OPS=${FSX_OPS:-100000}
SEEDS=${FSX_SEEDS:-"1 2"}
build_fsx "$T/fsx"
mkdir -p "$T/logs"
for n in 1 3; do
    start_servers $n "$T/srv$n" --chunk-size 64K || exit 1
    for seed in $SEEDS; do
        t0=$SECONDS
        f=/benchfs/fsx.$n.$seed
        if ! with_preload timeout 900 "$T/fsx" -q -N "$OPS" -S "$seed" -P "$T/logs" -R -W "$f" \
            >"$T/logs/out.$n.$seed" 2>&1; then
            head -20 "$T/logs/out.$n.$seed"; tail -30 "$T/logs/fsx.$n.$seed.fsxlog" 2>/dev/null
            fail "fsx through the preload library: $n server(s), seed $seed"
        fi
        echo "# ok fsx $OPS ops, seed $seed, $n server(s): $((SECONDS - t0)) s"
    done
    stop_servers || fail "servers did not stop cleanly"
done
echo "PASS: fsx through the preload library"
