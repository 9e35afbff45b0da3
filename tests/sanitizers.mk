# The client API under ThreadSanitizer: tests/tsan_client_test is compiled
# with gcc -fsanitize=thread straight from the sources it needs (not from the
# libtool libraries, so whatever configure was given), and run against a real
# server by tests/tsan_client.sh. See docs/RELIABILITY.md.
BFS_TSAN_SRC = $(srcdir)/tests/tsan_client_test.c \
	$(srcdir)/client/client_core.c $(srcdir)/client/meta_ops.c $(srcdir)/client/file_io.c \
	$(srcdir)/client/dir.c $(srcdir)/client/dirpage.c $(srcdir)/client/resolve.c $(srcdir)/client/close_refs.c \
	$(srcdir)/rpc/rpc_client.c $(srcdir)/rpc/rpc_hdr.c $(srcdir)/rpc/rpc_proc.c \
	$(srcdir)/common/log.c $(srcdir)/common/placement.c $(srcdir)/common/path.c \
	$(srcdir)/common/registry.c $(srcdir)/common/hex.c
BFS_TSAN_HDR = $(srcdir)/client/benchfs.h $(srcdir)/client/client_internal.h \
	$(srcdir)/rpc/rpc_client.h $(srcdir)/rpc/rpc_proc.h $(srcdir)/rpc/rpc_wire.h $(srcdir)/rpc/rpc_spin.h $(srcdir)/rpc/rpc_ucx.h \
	$(srcdir)/common/clock.h $(srcdir)/common/path.h $(srcdir)/common/registry.h
check_SCRIPTS += tests/tsan_client_test
tests/tsan_client_test: $(BFS_TSAN_SRC) $(BFS_TSAN_HDR)
	$(AM_V_CC)$(CC) -std=gnu11 -g -O1 -fno-omit-frame-pointer -fsanitize=thread \
	  -I$(top_srcdir) $(UCX_CFLAGS) -o $@ $(BFS_TSAN_SRC) $(UCX_LIBS) -lpthread
CLEANFILES += tests/tsan_client_test
TESTS += tests/tsan_client.sh tests/server_valgrind.sh
EXTRA_DIST += tests/sanitizers.mk tests/tsan_client.sh tests/tsan.supp tests/tsan_client_test.c \
	tests/server_valgrind.sh tests/valgrind.supp
EXTRA_DIST += tests/fuzz docs/RELIABILITY.md
