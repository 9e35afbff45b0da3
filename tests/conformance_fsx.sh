#!/bin/bash
# fsx (xfstests ltp/fsx.c) through the preload library: 100000 random
# reads, writes, truncates and reopens per run, checked against a shadow
# copy, on 1 and 3 servers with 64 KiB chunks (so operations cross chunk and
# server boundaries), seeds 1 and 2; the 3 servers keep a copy of the data
# just written (--cache: reads of it from memory, which must agree with the
# files through every truncate and rewrite, and must be used), and so does
# a third pass, 1 server with 4 MiB chunks (huge-page copies), seed 1. -R -W: no mapped reads and writes (the
# library serves no shared mmap; the FUSE mount's fuse_fsx.sh covers them).
# FSX_OPS and FSX_SEEDS change the run.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/conformance_lib.sh"
OPS=${FSX_OPS:-100000}
SEEDS=${FSX_SEEDS:-"1 2"}
build_fsx "$T/fsx"
mkdir -p "$T/logs"
# servers:chunk size:cache[:seeds[:fsx options]]; the last pass puts the
# cache's copies in huge-page buffers (chunks of 2 MiB or more): a 16 MiB
# file and operations up to 1 MiB, so that writes cross into chunks at their
# start (a copy begins at a chunk's first byte); 30,000 operations (a later
# -N wins), as they are larger.
for pass in 1:64K:0 3:64K:64M "1:4M:64M:${SEEDS%% *}:-l 16777216 -o 1048576 -N 30000"; do
    IFS=: read -r n chunk cache seeds opts <<<"$pass"
    log_at=0; [ -f "$SERVER_LOG" ] && log_at=$(wc -l <"$SERVER_LOG")
    BENCHFS_LOG=info start_servers $n "$T/srv$n.$chunk" --chunk-size $chunk --cache $cache || exit 1
    for seed in ${seeds:-$SEEDS}; do
        t0=$SECONDS
        f=/benchfs/fsx.$n.$chunk.$seed
        if ! with_preload timeout 900 "$T/fsx" -q -N "$OPS" -S "$seed" -P "$T/logs" -R -W ${opts:-} "$f" \
            >"$T/logs/out.$n.$chunk.$seed" 2>&1; then
            head -20 "$T/logs/out.$n.$chunk.$seed"; tail -30 "$T/logs/fsx.$n.$chunk.$seed.fsxlog" 2>/dev/null
            fail "fsx through the preload library: $n server(s), $chunk chunks, cache $cache, seed $seed"
        fi
        echo "# ok fsx $OPS ops${opts:+ (then $opts)}, seed $seed, $n server(s), $chunk chunks, cache $cache: $((SECONDS - t0)) s"
    done
    stop_servers || fail "servers did not stop cleanly"
    if [ "$cache" != 0 ]; then
        hits=$(tail -n +$((log_at + 1)) "$SERVER_LOG" | awk '/chunk cache:/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "reads" && $(i + 3) == "memory,") h += $i } END { print h + 0 }')
        echo "# chunk cache on $n server(s), $chunk chunks: $hits reads served from memory"
        [ "$hits" -gt 0 ] || fail "the servers' chunk cache served no read (log: $(grep 'chunk cache' "$SERVER_LOG"))"
    fi
done
echo "PASS: fsx through the preload library"
