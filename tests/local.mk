# The RPC layer's test suite: one behaviour per program (see tests/README.md).
# Each exits 0 (pass), 1 (fail) or 77 (skip), bounds its own run time, and
# kills every process it started. Servers are rpc/rpc-example, found through
# BFS_RPC_EXAMPLE.

check_LTLIBRARIES = tests/libbfstest.la tests/libexitlate.la
tests_libbfstest_la_SOURCES = tests/testlib.h tests/testlib.c
# A shared object to preload after libbenchfs.so (preload_exit_remote.sh):
# -rpath makes libtool build it shared though it is never installed.
tests_libexitlate_la_SOURCES = tests/exit_late_lib.c
tests_libexitlate_la_LDFLAGS = -module -avoid-version -shared -rpath /nowhere

BFS_RPC_TESTS = \
	tests/rpc-hdr-decode \
	tests/rpc-call-reply \
	tests/rpc-payload-sizes \
	tests/rpc-inflight-1000 \
	tests/rpc-multi-client \
	tests/rpc-deferred \
	tests/rpc-timeout-hold \
	tests/rpc-client-gone \
	tests/rpc-server-killed \
	tests/rpc-malformed \
	tests/rpc-threads

check_PROGRAMS += $(BFS_RPC_TESTS)
TESTS += $(BFS_RPC_TESTS)

BFS_TEST_LDADD = tests/libbfstest.la rpc/libbfsrpc.la
tests_rpc_hdr_decode_SOURCES = tests/rpc-hdr-decode.c
tests_rpc_hdr_decode_LDADD = $(BFS_TEST_LDADD)
tests_rpc_call_reply_SOURCES = tests/rpc-call-reply.c
tests_rpc_call_reply_LDADD = $(BFS_TEST_LDADD)
tests_rpc_payload_sizes_SOURCES = tests/rpc-payload-sizes.c
tests_rpc_payload_sizes_LDADD = $(BFS_TEST_LDADD)
tests_rpc_inflight_1000_SOURCES = tests/rpc-inflight-1000.c
tests_rpc_inflight_1000_LDADD = $(BFS_TEST_LDADD)
tests_rpc_multi_client_SOURCES = tests/rpc-multi-client.c
tests_rpc_multi_client_LDADD = $(BFS_TEST_LDADD)
tests_rpc_deferred_SOURCES = tests/rpc-deferred.c
tests_rpc_deferred_LDADD = $(BFS_TEST_LDADD)
tests_rpc_timeout_hold_SOURCES = tests/rpc-timeout-hold.c
tests_rpc_timeout_hold_LDADD = $(BFS_TEST_LDADD)
tests_rpc_client_gone_SOURCES = tests/rpc-client-gone.c
tests_rpc_client_gone_LDADD = $(BFS_TEST_LDADD)
tests_rpc_server_killed_SOURCES = tests/rpc-server-killed.c
tests_rpc_server_killed_LDADD = $(BFS_TEST_LDADD) -lpthread
tests_rpc_malformed_SOURCES = tests/rpc-malformed.c
tests_rpc_malformed_CFLAGS = $(AM_CFLAGS) $(UCX_CFLAGS)
tests_rpc_malformed_LDADD = $(BFS_TEST_LDADD) $(UCX_LIBS)
tests_rpc_threads_SOURCES = tests/rpc-threads.c
tests_rpc_threads_LDADD = $(BFS_TEST_LDADD) -lpthread

AM_TESTS_ENVIRONMENT = \
	BFS_RPC_EXAMPLE='$(abs_top_builddir)/rpc/rpc-example'; export BFS_RPC_EXAMPLE; \
	LSAN_OPTIONS="suppressions=$(abs_top_srcdir)/tests/lsan.supp:print_suppressions=0 $${LSAN_OPTIONS:-}"; \
	export LSAN_OPTIONS;

EXTRA_DIST += tests/env.sh.in tests/run-all.sh tests/README.md tests/lsan.supp
EXTRA_DIST += tests/bench/run-rpc-bench.sh
