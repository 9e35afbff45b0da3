#!/bin/bash
# fsx (xfstests ltp/fsx.c) through the preload library: 100000 random
# reads, writes, truncates and reopens per run, checked against a shadow
# copy, on 1 and 3 servers with 64 KiB chunks (so operations cross chunk and
# server boundaries), seeds 1 and 2; the 3 servers keep a copy of the data
# just written (--cache: reads of it from memory, which must agree with the
# files through every truncate and rewrite, and must be used). -R -W: no mapped reads and writes (the
# library serves no shared mmap; the FUSE mount's fuse_fsx.sh covers them).
# FSX_OPS and FSX_SEEDS change the run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conformance_lib.sh"
OPS=${FSX_OPS:-100000}
SEEDS=${FSX_SEEDS:-"1 2"}
build_fsx "$T/fsx"
mkdir -p "$T/logs"
for n in 1 3; do
    cache=(); [ "$n" = 3 ] && cache=(--cache 64M)
    BENCHFS_LOG=info start_servers $n "$T/srv$n" --chunk-size 64K "${cache[@]}" || exit 1
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
    if [ "$n" = 3 ]; then
        hits=$(awk '/chunk cache:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "reads" && $(i + 3) == "memory,") h += $i } END { print h + 0 }' "$SERVER_LOG")
        echo "# chunk cache on 3 servers: $hits reads served from memory"
        [ "$hits" -gt 0 ] || fail "the servers' chunk cache served no read (log: $(grep 'chunk cache' "$SERVER_LOG"))"
    fi
done
echo "PASS: fsx through the preload library"
