# libbenchfs.so: the LD_PRELOAD interposition library.
lib_LTLIBRARIES += preload/libbenchfs.la
preload_libbenchfs_la_SOURCES = preload/preload.h preload/state.c preload/posix_io.c \
	preload/handles.c preload/handles.h \
	preload/posix_meta.c preload/posix_dir.c preload/stdio.c \
	preload/shared_off.c preload/escape.c preload/report.c
# An interposer must accept NULL where glibc declares arguments nonnull.
preload_libbenchfs_la_CFLAGS = $(AM_CFLAGS) $(UCX_CFLAGS) -Wno-nonnull -Wno-nonnull-compare \
	-Wno-deprecated-declarations
preload_libbenchfs_la_LIBADD = client/libbenchfs-client.la $(UCX_LIBS) -ldl
# Loaded with dlopen-free LD_PRELOAD only: no version suffix games needed.
preload_libbenchfs_la_LDFLAGS = -avoid-version -shared
dist_man7_MANS += preload/libbenchfs.7
