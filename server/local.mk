# The server's stores, as convenience libraries linked into the server.
noinst_LTLIBRARIES += server/libbfsmeta.la
server_libbfsmeta_la_SOURCES = server/meta_store.c server/meta_store.h server/meta_txn.h \
	server/small_chunks.c server/small_chunks.h server/meta_keys.c server/meta_keys.h \
	server/sha256.c server/sha256.h server/meta_reap.c server/meta_reap.h
server_libbfsmeta_la_CFLAGS = $(AM_CFLAGS) $(LMDB_CFLAGS)
server_libbfsmeta_la_LIBADD = $(LMDB_LIBS)

noinst_LTLIBRARIES += server/libbfschunk.la
server_libbfschunk_la_SOURCES = server/chunk_store.c server/chunk_store.h \
	server/chunk_cache.c server/chunk_cache.h server/warm_pool.c server/warm_pool.h
server_libbfschunk_la_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
server_libbfschunk_la_LIBADD = $(URING_LIBS) -lpthread

check_PROGRAMS += tests/meta_store_test tests/small_chunks_test tests/chunk_store_test \
	tests/chunk_cache_test
TESTS += tests/meta_store_test tests/small_chunks_test tests/chunk_store_test \
	tests/chunk_cache_test
tests_meta_store_test_SOURCES = tests/meta_store_test.c tests/unit_check.h
tests_meta_store_test_LDADD = server/libbfsmeta.la
tests_small_chunks_test_SOURCES = tests/small_chunks_test.c tests/unit_check.h
tests_small_chunks_test_LDADD = server/libbfsmeta.la
tests_chunk_store_test_SOURCES = tests/chunk_store_test.c
tests_chunk_store_test_CFLAGS = $(AM_CFLAGS) $(URING_CFLAGS)
tests_chunk_store_test_LDADD = server/libbfschunk.la rpc/libbfsrpc.la
tests_chunk_cache_test_SOURCES = tests/chunk_cache_test.c tests/unit_check.h
tests_chunk_cache_test_LDADD = server/libbfschunk.la
