# (tests: filled in below)
EXTRA_DIST += tests/bench/run-rpc-bench.sh
