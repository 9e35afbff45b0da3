# benchfsd: the storage server.
bin_PROGRAMS += server/benchfsd
server_benchfsd_SOURCES = server/benchfsd.c server/bootstrap.c server/bootstrap.h \
	server/fs_handlers.c server/fs_decode.c server/fs_decode.h server/server.h \
	server/watchdog.c server/watchdog.h server/open_refs.c server/open_refs.h \
	server/reaper.c server/reaper.h
server_benchfsd_CFLAGS = $(AM_CFLAGS) $(UCX_CFLAGS) $(PMIX_CFLAGS) $(LMDB_CFLAGS) $(URING_CFLAGS)
server_benchfsd_LDADD = server/libbfsmeta.la server/libbfschunk.la rpc/libbfsrpc.la \
	$(PMIX_LIBS) $(LMDB_LIBS) $(URING_LIBS) $(UCX_LIBS) -lpthread
dist_man8_MANS += server/benchfsd.8
