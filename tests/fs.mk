# File-system tests: the client API against real benchfsd servers.
FS_TEST_LIBS = client/libbenchfs-client.la
check_PROGRAMS += tests/fs_api_test tests/fs_shared_write tests/fs_security_test tests/fs_tool \
	tests/preload_posix_test tests/fs_semantics tests/meta_count tests/fs_symlinks tests/fs_namespace
tests_fs_symlinks_LDADD = $(FS_TEST_LIBS)
tests_fs_api_test_LDADD = $(FS_TEST_LIBS)
tests_fs_shared_write_LDADD = $(FS_TEST_LIBS)
tests_fs_semantics_LDADD = $(FS_TEST_LIBS) -lm
tests_fs_namespace_LDADD = $(FS_TEST_LIBS)
tests_meta_count_CFLAGS = $(AM_CFLAGS) $(LMDB_CFLAGS)
tests_meta_count_LDADD = $(LMDB_LIBS)
check_PROGRAMS += tests/placement_test
TESTS += tests/placement_test
tests_placement_test_LDADD = common/libbfscommon.la
tests_fs_security_test_CFLAGS = $(AM_CFLAGS) $(UCX_CFLAGS)
tests_fs_security_test_LDADD = $(FS_TEST_LIBS) $(UCX_LIBS)
tests_fs_tool_LDADD = $(FS_TEST_LIBS)
TESTS += tests/fs_1server.sh tests/fs_3servers.sh tests/fs_restart.sh tests/preload_coreutils.sh \
	tests/fs_orphans.sh tests/fs_semantics.sh tests/fs_symlinks.sh tests/fs_namespace.sh \
	tests/fs_rotation.sh tests/fs_rotation_once.sh tests/fs_stuck_rotate.sh tests/fs_special_nodes.sh
EXTRA_DIST += tests/lib.sh tests/fs_servers.sh tests/fs_1server.sh tests/fs_3servers.sh \
	tests/fs_restart.sh tests/preload_coreutils.sh tests/fs_orphans.sh tests/fs_semantics.sh \
	tests/fs_symlinks.sh tests/fs_namespace.sh tests/fs_namespace_emptydir.py tests/fs_rotation.sh tests/fs_rotation_once.sh \
	tests/fs_stuck_rotate.sh tests/fs_special_nodes.sh
TEST_EXTENSIONS = .sh
SH_LOG_COMPILER = $(SHELL)
AM_TESTS_ENVIRONMENT += top_builddir='$(abs_top_builddir)'; top_srcdir='$(abs_top_srcdir)'; \
	export top_builddir top_srcdir;

# The man pages (render, installed, SEE ALSO), the benchfs.3 example, the Spack recipe.
TESTS += tests/man_pages.sh tests/man_example.sh tests/spack_recipe.sh
EXTRA_DIST += tests/man_pages.sh tests/man_example.sh tests/spack_recipe.sh

TESTS += tests/preload_python.sh tests/preload_fio.sh tests/preload_posix.sh tests/preload_escape.sh tests/preload_escape_fuse.sh \
	tests/preload_unlinked.sh tests/preload_unlinked_remote.sh tests/preload_exit_remote.sh \
	tests/conformance_fsx.sh tests/conformance_pjdfstest.sh
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
EXTRA_DIST += tests/bench/bfs_io500.c tests/bench/run-io500.sh tests/bench/io500_report.py \
	tests/bench/run-ior-mdtest.sh tests/bench/run-ab.sh tests/bench/run-stage.sh
tests_preload_posix_test_LDADD = -lpthread
EXTRA_DIST += tests/preload_posix.sh tests/preload_escape.sh tests/preload_escape_fuse.sh tests/preload_unlinked.sh tests/preload_unlinked_remote.sh tests/preload_exit_remote.sh \
	tests/conformance_fsx.sh tests/conformance_lib.sh tests/conformance_pjdfstest.sh tests/pjdfstest.expected

# Benchmarks (make bench), not tests.
noinst_PROGRAMS += tests/bench/preload_overhead
EXTRA_DIST += tests/bench/run-preload-overhead.sh
# benchfs-run and the benchfs tool (mpi-launch/).
TESTS += tests/tool_cmds.sh tests/run_exit.sh tests/run_signal.sh tests/run_stage.sh tests/run_server_death.sh
EXTRA_DIST += tests/run_lib.sh tests/tool_cmds.sh tests/run_exit.sh tests/run_signal.sh \
	tests/run_stage.sh tests/run_mpi_job.sh tests/run_server_death.sh
if HAVE_MPI
TESTS += tests/run_mpi_job.sh
# A real Slurm of this machine (slurm-wlm, munge): sbatch, salloc, srun --mpi=pmix.
TESTS += tests/slurm_jobs.sh
endif
EXTRA_DIST += tests/slurm_lib.sh tests/slurm_jobs.sh

# Failure, limit and security tests (docs/PROMISES.md says what each proves).
check_PROGRAMS += tests/fault_client tests/lc_client tests/shut_writer tests/timeout_buf \
	tests/fork_safety tests/fork_preload tests/stall_probe
tests_stall_probe_LDADD = $(FS_TEST_LIBS) -lpthread
tests_fork_safety_LDADD = $(FS_TEST_LIBS) -lpthread
tests_fork_preload_SOURCES = tests/fork_safety.c
tests_fork_preload_CFLAGS = $(AM_CFLAGS) -DFORK_PRELOAD
tests_fork_preload_LDADD = -lpthread
tests_timeout_buf_LDADD = $(FS_TEST_LIBS) -lpthread
tests_lc_client_LDADD = $(FS_TEST_LIBS)
tests_shut_writer_LDADD = $(FS_TEST_LIBS)
CLEANFILES += tests/heavy.lock
tests_fault_client_LDADD = $(FS_TEST_LIBS)
TESTS += tests/lifecycle_clients.sh tests/fault_shutdown.sh tests/fault_timeout_buf.sh tests/fault_fork.sh tests/fault_stall.sh
EXTRA_DIST += tests/lifecycle_clients.sh tests/fault_shutdown.sh tests/fault_timeout_buf.sh tests/fault_fork.sh tests/fault_stall.sh
TESTS += tests/fault_server_kill.sh tests/fault_client_kill.sh tests/fault_enospc.sh \
	tests/fault_security.sh tests/fault_load.sh tests/fault_netns.sh tests/fault_server_move.sh
EXTRA_DIST += tests/fault_server_kill.sh tests/fault_client_kill.sh tests/fault_enospc.sh \
	tests/fault_security.sh tests/fault_load.sh tests/fault_netns.sh tests/fault_server_move.sh

# benchfs-fuse (fuse/): plain programs on the FUSE mount, coherence with
# the client API, dead servers, fsx, and benchfs-run's mount.
check_PROGRAMS += tests/fuse_peer
tests_fuse_peer_LDADD = $(FS_TEST_LIBS)
FUSE_TESTS = tests/fuse_tools.sh tests/fuse_apps.sh tests/fuse_coherence.sh tests/fuse_server_down.sh tests/fuse_fsx.sh tests/run_fuse.sh
TESTS += $(FUSE_TESTS)
EXTRA_DIST += tests/fuse_lib.sh $(FUSE_TESTS)
# FUSE path versus the client API (numbers in docs/DESIGN.md), not a test.
noinst_PROGRAMS += tests/bench/fuse_cost
tests_bench_fuse_cost_LDADD = $(FS_TEST_LIBS)
