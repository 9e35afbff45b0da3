# benchfs-fuse: the FUSE mount of BenchFS (one daemon per node), built when
# configure finds libfuse3 (Debian: fuse3 libfuse3-dev).
if HAVE_FUSE
bin_PROGRAMS += fuse/benchfs-fuse
fuse_benchfs_fuse_SOURCES = fuse/fuse_ops.h fuse/fuse_ops.c fuse/fuse_main.c \
                            fuse/init_flags.h fuse/init_flags.c
fuse_benchfs_fuse_CFLAGS = $(AM_CFLAGS) $(FUSE_CFLAGS)
fuse_benchfs_fuse_LDADD = client/libbenchfs-client.la common/libbfscommon.la $(FUSE_LIBS) -lpthread
endif
dist_man8_MANS += fuse/benchfs-fuse.8
