#!/bin/bash
# fio with the psync and sync engines, writing and verifying (crc32c) files
# on BenchFS through LD_PRELOAD.
. "$(dirname "$0")/lib.sh"
command -v fio >/dev/null || { echo "SKIP: fio not installed (apt-get install fio)"; exit 77; }
start_servers 1 "$T/dir" --chunk-size 256K || exit 1
with_preload mkdir /benchfs/fio || fail "mkdir"
for engine in psync sync; do
    for rw in write randwrite; do
        with_preload fio --name=v-$engine-$rw --directory=/benchfs/fio --ioengine=$engine \
            --rw=$rw --bs=64k --size=8m --numjobs=2 --verify=crc32c --do_verify=1 \
            --fallocate=none --end_fsync=1 --verify_state_save=0 --output="$T/fio-$engine-$rw.txt" \
            || { cat "$T/fio-$engine-$rw.txt"; fail "fio $engine $rw"; }
        grep -q "err= 0" "$T/fio-$engine-$rw.txt" || { cat "$T/fio-$engine-$rw.txt"; fail "fio $engine $rw reported errors"; }
    done
done
# The files fio wrote are really on BenchFS (and nowhere local).
[ "$(with_preload ls /benchfs/fio | wc -l)" -ge 4 ] || fail "fio files not on BenchFS"
[ ! -e /benchfs ] || fail "/benchfs exists on the host: the test proves nothing"
echo "PASS: fio"
