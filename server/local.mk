# (server: built by later issues)

# Chunk data on local files through io_uring.
noinst_LTLIBRARIES += server/libbfschunk.la
server_libbfschunk_la_SOURCES = server/chunk_store.c server/chunk_store.h
server_libbfschunk_la_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
server_libbfschunk_la_LIBADD = rpc/libbfsrpc.la $(URING_LIBS)

check_PROGRAMS += tests/chunk_store_test
tests_chunk_store_test_SOURCES = tests/chunk_store_test.c
tests_chunk_store_test_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
tests_chunk_store_test_LDADD = server/libbfschunk.la
TESTS += tests/chunk_store_test
