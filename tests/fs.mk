# File-system tests: the client API against real benchfsd servers.
FS_TEST_LIBS = client/libbenchfs-client.la
check_PROGRAMS += tests/fs_api_test tests/fs_shared_write tests/fs_security_test tests/fs_tool \
	tests/preload_posix_test
tests_fs_api_test_LDADD = $(FS_TEST_LIBS)
tests_fs_shared_write_LDADD = $(FS_TEST_LIBS)
tests_fs_security_test_CFLAGS = $(AM_CFLAGS) $(UCX_CFLAGS)
tests_fs_security_test_LDADD = $(FS_TEST_LIBS) $(UCX_LIBS)
tests_fs_tool_LDADD = $(FS_TEST_LIBS)
TESTS += tests/fs_1server.sh tests/fs_3servers.sh tests/fs_restart.sh tests/preload_coreutils.sh \
	tests/fs_orphans.sh
EXTRA_DIST += tests/lib.sh tests/fs_servers.sh tests/fs_1server.sh tests/fs_3servers.sh \
	tests/fs_restart.sh tests/preload_coreutils.sh tests/fs_orphans.sh
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT += top_builddir='$(abs_top_builddir)'; top_srcdir='$(abs_top_srcdir)'; \
	export top_builddir top_srcdir;

TESTS += tests/preload_python.sh tests/preload_fio.sh tests/preload_posix.sh
EXTRA_DIST += tests/preload_python.sh tests/preload_python.py tests/preload_fio.sh \
	tests/preload_mpi.sh tests/mpi_io_test.c

if HAVE_MPI
# Built with the MPI compiler wrapper, outside libtool.
check_SCRIPTS += tests/mpi_io_test
tests/mpi_io_test: $(srcdir)/tests/mpi_io_test.c
	$(AM_V_CC)$(MPICC) -O2 -Wall -Wextra -o $@ $(srcdir)/tests/mpi_io_test.c
CLEANFILES += tests/mpi_io_test
TESTS += tests/preload_mpi.sh
# The IO500-style benchmark (make bench).
noinst_SCRIPTS = tests/bench/bfs_io500
tests/bench/bfs_io500: $(srcdir)/tests/bench/bfs_io500.c
	$(AM_V_CC)$(MPICC) -O2 -Wall -Wextra -o $@ $(srcdir)/tests/bench/bfs_io500.c
CLEANFILES += tests/bench/bfs_io500
endif
EXTRA_DIST += tests/bench/bfs_io500.c tests/bench/run-io500.sh tests/bench/io500_report.py
tests_preload_posix_test_LDADD = -lpthread
EXTRA_DIST += tests/preload_posix.sh

# Benchmarks (make bench), not tests.
noinst_PROGRAMS += tests/bench/preload_overhead
EXTRA_DIST += tests/bench/run-preload-overhead.sh
# benchfs-run and the benchfs tool (mpi-launch/).
TESTS += tests/tool_cmds.sh tests/run_exit.sh tests/run_signal.sh tests/run_stage.sh tests/run_server_death.sh
EXTRA_DIST += tests/run_lib.sh tests/tool_cmds.sh tests/run_exit.sh tests/run_signal.sh \
	tests/run_stage.sh tests/run_mpi_job.sh tests/run_server_death.sh
if HAVE_MPI
TESTS += tests/run_mpi_job.sh
endif

# Failure, limit and security tests (docs/PROMISES.md says what each proves).
check_PROGRAMS += tests/fault_client tests/lc_client
tests_lc_client_LDADD = $(FS_TEST_LIBS)
CLEANFILES += tests/heavy.lock
tests_fault_client_LDADD = $(FS_TEST_LIBS)
TESTS += tests/lifecycle_clients.sh
EXTRA_DIST += tests/lifecycle_clients.sh
TESTS += tests/fault_server_kill.sh tests/fault_client_kill.sh tests/fault_enospc.sh \
	tests/fault_security.sh tests/fault_load.sh tests/fault_netns.sh tests/fault_server_move.sh
EXTRA_DIST += tests/fault_server_kill.sh tests/fault_client_kill.sh tests/fault_enospc.sh \
	tests/fault_security.sh tests/fault_load.sh tests/fault_netns.sh tests/fault_server_move.sh
