# Spack recipe for BenchFS. Copy this directory into a Spack repository as
# packages/benchfs/ (see contrib/spack/README.md for what was and was not
# verified: the syntax only, never a real `spack install`).
from spack.package import *


class Benchfs(AutotoolsPackage):
    """BenchFS: an ad-hoc distributed file system for MPI jobs. For the
    lifetime of a job it turns the compute nodes' local storage into one
    file system: one benchfsd server per node (io_uring for data, LMDB for
    metadata, UCX Active Messages, PMIx bootstrap), an LD_PRELOAD library
    for unchanged programs, a C API, a FUSE mount and the benchfs-run
    launcher."""

    # Placeholders: BenchFS has no public home page, release tarball or
    # repository address yet. Replace them with the real ones.
    homepage = "https://example.org/benchfs"
    url = "https://example.org/benchfs/benchfs-0.1.0.tar.gz"
    git = "https://example.org/benchfs/benchfs.git"

    version("main", branch="main")

    variant("fuse", default=True, description="Build benchfs-fuse, the FUSE mount (libfuse 3)")
    variant(
        "sanitizers",
        default=False,
        description="Build with AddressSanitizer and UndefinedBehaviorSanitizer "
        "(configure --enable-sanitizers; for testing, not production)",
    )

    # configure.ac calls autoreconf-only macros (PKG_INSTALLDIR) and the
    # git version has no configure script: the autotools are always needed.
    depends_on("autoconf", type="build")
    depends_on("automake", type="build")
    depends_on("libtool", type="build")
    depends_on("m4", type="build")
    depends_on("pkgconfig", type="build")

    # configure's PKG_CHECK_MODULES: ucx >= 1.12, liburing >= 2.0, pmix >= 3, lmdb.
    depends_on("ucx@1.12:")
    depends_on("liburing@2.0:")
    depends_on("pmix@3:")
    depends_on("lmdb")
    depends_on("libfuse@3.2:", when="+fuse")

    # mpicc builds the MPI tests; mpirun (found by configure) starts the
    # servers from benchfs-run, which uses Open MPI's options (-x,
    # --map-by ppr:1:node, --enable-recovery, --bind-to none).
    depends_on("openmpi", type=("build", "run"))

    # configure has no --with-fuse/--without-fuse switch: it builds
    # benchfs-fuse whenever pkg-config finds fuse3 >= 3.2, and Spack's
    # pkg-config may also see a fuse3.pc of the system. So ~fuse removes the
    # check from configure.ac and regenerates configure (force_autoreconf).
    # tests/spack_recipe.sh checks that this line is still in configure.ac.
    fuse_check = "PKG_CHECK_MODULES([FUSE], [fuse3 >= 3.2], [have_fuse=yes], [have_fuse=no])"
    force_autoreconf = True

    def patch(self):
        if self.spec.satisfies("~fuse"):
            filter_file(self.fuse_check, "have_fuse=no", "configure.ac", string=True)

    def configure_args(self):
        args = []
        args.extend(self.enable_or_disable("sanitizers"))
        # The launcher's default mpirun, baked into benchfs-run.
        args.append("MPIRUN={0}".format(self.spec["mpi"].prefix.bin.mpirun))
        args.append("MPICC={0}".format(self.spec["mpi"].mpicc))
        return args
