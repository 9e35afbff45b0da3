#!/bin/bash
# Multi-process file semantics (tests/fs_semantics.c) on 1 and 3 servers,
# with 64 KiB and 4 MiB chunks: sizes decided by the servers (a write after
# another process's truncate is kept; reads see the shrunken size) and
# O_APPEND atomic across processes. FS_APPEND_RECORDS: appends per process
# (default 1000).
. "$(dirname "$0")/lib.sh"
for n in 1 3; do
    for cs in 64K 4M; do
        start_servers "$n" "$T/d$n-$cs" --chunk-size "$cs" || exit 1
        "$top_builddir/tests/fs_semantics" size || fail "size semantics, $n servers, $cs chunks"
        "$top_builddir/tests/fs_semantics" append "${FS_APPEND_RECORDS:-1000}" ||
            fail "O_APPEND, $n servers, $cs chunks"
        stop_servers || fail "servers did not stop cleanly ($n servers, $cs chunks)"
    done
done
echo "PASS: fs_semantics"
