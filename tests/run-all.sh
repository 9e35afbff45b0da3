#!/bin/bash
# Build (configuring first if needed) and run the whole test suite from the
# repository root; print the logs of failed tests and a one-line summary.
#   tests/run-all.sh                 # make -j2 check
#   tests/run-all.sh TESTS='tests/rpc-deferred tests/rpc-threads'   # a subset
set -u
cd "$(dirname "$0")/.." || exit 2
if [ ! -f Makefile ]; then
    { [ -x configure ] || autoreconf -fi; } && ./configure -q || exit 2
fi
start=$(date +%s)
make -j2 check "$@"
rc=$?
end=$(date +%s)
if [ -f test-suite.log ]; then
    sed -n '/^# TOTAL/,/^# ERROR/p' test-suite.log
    if [ $rc -ne 0 ]; then
        echo "=== failed tests:"
        sed -n '/^\.\. contents::/,$p' test-suite.log
    fi
fi
echo "=== make check: exit $rc in $((end - start)) s"
exit $rc
