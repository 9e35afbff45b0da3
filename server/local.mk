# The server's stores, as convenience libraries linked into the server.
noinst_LTLIBRARIES += server/libbfsmeta.la
server_libbfsmeta_la_SOURCES = server/meta_store.c server/meta_store.h
server_libbfsmeta_la_CFLAGS = $(AM_CFLAGS) $(LMDB_CFLAGS)
server_libbfsmeta_la_LIBADD = $(LMDB_LIBS)

# Kept here rather than in tests/local.mk, which another branch edits: move it
# there once both have merged.
check_PROGRAMS += tests/meta_store_test
TESTS += tests/meta_store_test
tests_meta_store_test_SOURCES = tests/meta_store_test.c
tests_meta_store_test_LDADD = server/libbfsmeta.la
