# The client API: libbenchfs-client, benchfs.h and benchfs.pc.
lib_LTLIBRARIES += client/libbenchfs-client.la
include_HEADERS += client/benchfs.h
pkgconfig_DATA += client/benchfs.pc
client_libbenchfs_client_la_SOURCES = client/benchfs.h client/client_internal.h \
	client/client_core.c client/meta_ops.c client/file_io.c client/dir.c \
	client/dirpage.c client/resolve.c client/close_refs.c
client_libbenchfs_client_la_CFLAGS = $(AM_CFLAGS) $(UCX_CFLAGS)
client_libbenchfs_client_la_LIBADD = rpc/libbfsrpc.la $(UCX_LIBS)
client_libbenchfs_client_la_LDFLAGS = -version-info 0:0:0
dist_man3_MANS += client/benchfs.3
