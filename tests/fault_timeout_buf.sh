#!/bin/bash
# A call that returned owns nothing (docs/PROMISES.md): 16 MiB reads from a
# server SIGSTOPped mid-read until the deadline (300 ms) passed; the buffer,
# refilled or freed right after ETIMEDOUT, is never written afterwards, when
# the server goes on (SIGCONT). Run under ASan in the sanitizer CI pass
# (a write into the freed buffer is reported). Default transports, then
# tcp (UCX_TLS=tcp,self).
. "$(dirname "$0")/lib.sh"
TB="$top_builddir/tests/timeout_buf"
ROUNDS=${TB_ROUNDS:-24}
for tls in default tcp; do
    if [ $tls = tcp ]; then export UCX_TLS=tcp,self; else unset UCX_TLS; fi
    start_servers 0 "$T/dir-$tls" --chunk-size 4M || exit 1
    timeout 120 "$TB" "$SERVER_PID" "$ROUNDS" || fail "$tls: a buffer was written after its call returned"
    kill -CONT "$SERVER_PID" 2>/dev/null
    stop_servers || fail "$tls: server did not stop cleanly"
done
echo "PASS: a call that returned owns nothing"
