# The RPC layer: a convenience library linked into the server, the client
# library and the tools.
noinst_LTLIBRARIES += rpc/libbfsrpc.la
rpc_libbfsrpc_la_SOURCES = \
	rpc/rpc_wire.h rpc/rpc_hdr.c \
	rpc/rpc_bufpool.h rpc/rpc_bufpool.c \
	rpc/evloop.h rpc/evloop.c \
	rpc/rpc_server.h rpc/rpc_server.c \
	rpc/rpc_client.h rpc/rpc_client.c \
	rpc/rpc_proc.h rpc/rpc_proc.c \
	rpc/rpc_spin.h rpc/rpc_ucx.h \
	rpc/rpc_demo.h rpc/rpc_demo.c
rpc_libbfsrpc_la_CFLAGS = $(AM_CFLAGS) $(UCX_CFLAGS)
rpc_libbfsrpc_la_LIBADD = common/libbfscommon.la $(UCX_LIBS)

noinst_PROGRAMS += rpc/rpc-example
rpc_rpc_example_SOURCES = rpc/rpc_example.c
rpc_rpc_example_LDADD = rpc/libbfsrpc.la

bin_PROGRAMS += rpc/benchfs-rpc-bench
rpc_benchfs_rpc_bench_SOURCES = rpc/rpc_bench.c
rpc_benchfs_rpc_bench_LDADD = rpc/libbfsrpc.la
