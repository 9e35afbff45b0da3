# benchfs-run (the job launcher script) and benchfs (the command-line tool).

# The tool: one small file per job (options, paths and I/O, copy, namespace
# commands, server commands).
bin_PROGRAMS += mpi-launch/benchfs
mpi_launch_benchfs_SOURCES = mpi-launch/tool.h mpi-launch/benchfs_tool.c mpi-launch/tool_io.c \
	mpi-launch/tool_cp.c mpi-launch/tool_ns.c mpi-launch/tool_admin.c
mpi_launch_benchfs_LDADD = client/libbenchfs-client.la common/libbfscommon.la -lpthread

# The launcher: generated at make time so that @bindir@ and @libdir@ are
# fully expanded (configure leaves them as ${exec_prefix}/...).
bin_SCRIPTS += mpi-launch/benchfs-run
dist_man1_MANS += mpi-launch/benchfs-run.1 mpi-launch/benchfs.1
EXTRA_DIST += mpi-launch/benchfs-run.in
CLEANFILES += mpi-launch/benchfs-run
mpi-launch/benchfs-run: $(srcdir)/mpi-launch/benchfs-run.in Makefile
	$(AM_V_GEN)$(MKDIR_P) mpi-launch && rm -f $@ $@.tmp && \
	sed -e 's|@bindir[@]|$(bindir)|g' -e 's|@libdir[@]|$(libdir)|g' \
	    -e 's|@MPIRUN[@]|$(MPIRUN)|g' -e 's|@PACKAGE_VERSION[@]|$(PACKAGE_VERSION)|g' \
	    $(srcdir)/mpi-launch/benchfs-run.in > $@.tmp && chmod +x $@.tmp && mv $@.tmp $@
