/* benchfs-fuse: one per node, mounts BenchFS at the job's mount prefix so
 * that programs the preload library does not reach (children after exec of
 * an escaped descriptor, static and Go binaries, plain shells) still see
 * it. See benchfs-fuse(8) and docs/DESIGN.md ("The FUSE mount").
 *
 *   benchfs-fuse [--registry FILE] [--mount DIR] [-f] [-s] [-d]
 *                [--page-cache] [--log FILE] [-o OPTS]
 *
 * Runs until unmounted (fusermount3 -u DIR, umount DIR) or SIGTERM/SIGINT/
 * SIGHUP (then it unmounts itself). Servers that go away do not end it:
 * calls fail within the RPC deadline (BENCHFS_RPC_TIMEOUT_MS) instead. */
#include "fuse_ops.h"
#include "init_flags.h"

#include <fuse_lowlevel.h> /* fuse_session_fd */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"

#define E_USAGE 2
#define E_MOUNTED 3 /* the mount point is already a mount point */

static void usage(FILE *o)
{
    fprintf(o,
            "usage: benchfs-fuse [options]\n"
            "Mount BenchFS (the servers of a registry file) with FUSE.\n\n"
            "  -r, --registry FILE  registry file (default $BENCHFS_REGISTRY)\n"
            "  -m, --mount DIR      mount point (default $BENCHFS_MOUNT, else /benchfs);\n"
            "                       created if missing\n"
            "  -f, --foreground     stay in the foreground\n"
            "  -s, --single-thread  one thread serves every request\n"
            "  -d, --debug          libfuse's request trace (implies -f)\n"
            "  --page-cache         page cache instead of direct I/O: allows MAP_SHARED,\n"
            "                       may show stale data while a file stays open\n"
            "  --threads N          at most N idle threads kept (default 10)\n"
            "  -l, --log FILE       append the log to FILE (default stderr)\n"
            "  --fsname NAME        the mount's source name (default benchfs)\n"
            "  -o OPTS              more FUSE mount options (e.g. allow_other)\n"
            "  -h, --help           this help\n"
            "Stop with fusermount3 -u DIR, umount DIR, or SIGTERM.\n");
}

/* 1 if dir (an absolute, resolved path) is a mount point already. */
static int is_mount_point(const char *dir)
{
    FILE *m = fopen("/proc/self/mountinfo", "r");
    if (!m)
        return 0;
    char line[8192];
    int found = 0;
    while (!found && fgets(line, sizeof(line), m)) {
        /* id parent major:minor root mountpoint ... ; octal escapes (\040). */
        char mp[4096];
        if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
            continue;
        char un[4096];
        size_t j = 0;
        for (size_t i = 0; mp[i] && j + 1 < sizeof(un); i++) {
            if (mp[i] == '\\' && mp[i + 1] >= '0' && mp[i + 1] <= '3' && mp[i + 2] && mp[i + 3]) {
                un[j++] = (char)((mp[i + 1] - '0') * 64 + (mp[i + 2] - '0') * 8 + (mp[i + 3] - '0'));
                i += 3;
            } else {
                un[j++] = mp[i];
            }
        }
        un[j] = 0;
        found = !strcmp(un, dir);
    }
    fclose(m);
    return found;
}

/* mkdir -p; *made: 1 when the last component was created here. */
static int mkdir_p(const char *dir, int *made)
{
    *made = 0;
    char p[PATH_MAX];
    if (snprintf(p, sizeof(p), "%s", dir) >= (int)sizeof(p))
        return -ENAMETOOLONG;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = 0;
        if (mkdir(p, 0755) < 0 && errno != EEXIST)
            return -errno;
        *s = '/';
    }
    if (mkdir(p, 0755) == 0)
        *made = 1;
    else if (errno != EEXIST)
        return -errno;
    return 0;
}

/* The mount point, when this daemon created it: removed (if empty) at exit,
 * so that a job leaves no directory behind. */
static char made_dir[PATH_MAX];
static void remove_made_dir(void)
{
    if (made_dir[0])
        rmdir(made_dir);
}

int main(int argc, char **argv)
{
    atexit(remove_made_dir);
    bfs_log_set_prefix("benchfs-fuse");
    const char *registry = getenv("BENCHFS_REGISTRY");
    const char *mount = getenv("BENCHFS_MOUNT");
    const char *logfile = NULL, *extra_opts = NULL, *fsname = "benchfs";
    int foreground = 0, single = 0, debug = 0, threads = 10;
    struct bfs_fuse st = {0};
    enum { OPT_PAGE_CACHE = 256, OPT_THREADS, OPT_FSNAME };
    static const struct option lo[] = {
        {"registry", required_argument, 0, 'r'}, {"mount", required_argument, 0, 'm'},
        {"foreground", no_argument, 0, 'f'},     {"single-thread", no_argument, 0, 's'},
        {"debug", no_argument, 0, 'd'},          {"page-cache", no_argument, 0, OPT_PAGE_CACHE},
        {"threads", required_argument, 0, OPT_THREADS}, {"fsname", required_argument, 0, OPT_FSNAME},
        {"log", required_argument, 0, 'l'},      {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "r:m:fsdl:o:h", lo, NULL)) != -1) {
        switch (c) {
        case 'r': registry = optarg; break;
        case 'm': mount = optarg; break;
        case 'f': foreground = 1; break;
        case 's': single = 1; break;
        case 'd': debug = foreground = 1; break;
        case 'l': logfile = optarg; break;
        case 'o': extra_opts = optarg; break;
        case OPT_PAGE_CACHE: st.page_cache = 1; break;
        case OPT_FSNAME:
            fsname = optarg;
            if (!*fsname || strpbrk(fsname, ", \t\n\\")) {
                fprintf(stderr, "benchfs-fuse: --fsname takes a word without blanks, commas or backslashes\n");
                return E_USAGE;
            }
            break;
        case OPT_THREADS:
            threads = atoi(optarg);
            if (threads < 1 || threads > 1000) {
                fprintf(stderr, "benchfs-fuse: --threads takes 1 to 1000\n");
                return E_USAGE;
            }
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return E_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "benchfs-fuse: unexpected argument %s\n", argv[optind]);
        usage(stderr);
        return E_USAGE;
    }
    if (!registry || !*registry) {
        fprintf(stderr, "benchfs-fuse: no registry: give --registry FILE or set BENCHFS_REGISTRY\n");
        return E_USAGE;
    }
    if (!mount || !*mount)
        mount = "/benchfs";
    if (mount[0] != '/' || !mount[1]) {
        fprintf(stderr, "benchfs-fuse: --mount takes an absolute path other than /\n");
        return E_USAGE;
    }
    int logfd = -1;
    if (logfile) {
        logfd = open(logfile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (logfd < 0) {
            fprintf(stderr, "benchfs-fuse: cannot open the log %s: %s\n", logfile, strerror(errno));
            return 1;
        }
        dup2(logfd, STDERR_FILENO);
    }

    int made;
    int rc = mkdir_p(mount, &made);
    char real[PATH_MAX];
    if (rc < 0 || !realpath(mount, real)) {
        bfs_error("cannot create the mount point %s: %s", mount, strerror(rc < 0 ? -rc : errno));
        return 1;
    }
    if (is_mount_point(real)) {
        bfs_error("%s is already a mount point (another job's benchfs-fuse, or a stale mount: "
                  "fusermount3 -u %s); not mounting", real, real);
        return E_MOUNTED;
    }
    if (made)
        snprintf(made_dir, sizeof(made_dir), "%s", real); /* rmdir at exit, after the unmount */

    rc = benchfs_init(&st.fs, registry);
    if (rc < 0) {
        bfs_error("cannot reach the servers of %s: %s", registry, strerror(-rc));
        return 1;
    }

    /* fsname/subtype: the mount shows as FSNAME (default "benchfs"; benchfs-run
     * gives each job its own, to unmount only its own mounts) of type
     * fuse.benchfs. */
    char opts[1024];
    snprintf(opts, sizeof(opts), "fsname=%s,subtype=benchfs%s%s", fsname, extra_opts ? "," : "",
             extra_opts ? extra_opts : "");
    char *fargv[] = {argv[0], "-o", opts, debug ? "-d" : NULL, NULL};
    struct fuse_args args = FUSE_ARGS_INIT(debug ? 4 : 3, fargv);
    struct fuse *f = fuse_new(&args, &bfs_fuse_ops, sizeof(bfs_fuse_ops), &st);
    fuse_opt_free_args(&args); /* fuse_new may have added to them; it keeps copies */
    if (!f) {
        bfs_error("fuse_new failed (bad -o options?)");
        benchfs_finalize(st.fs);
        return 1;
    }
    if (fuse_mount(f, real) != 0) {
        bfs_error("cannot mount %s (is /dev/fuse there, fusermount3 installed, and may this user "
                  "mount?)", real);
        fuse_destroy(f);
        benchfs_finalize(st.fs);
        return 1;
    }
    /* Before the loop reads the kernel's FUSE_INIT (init_flags.c). */
    bfs_fuse_init_flags_arm(fuse_session_fd(fuse_get_session(f)));
    bfs_info("mounted BenchFS (%u servers) at %s", benchfs_nservers(st.fs), real);
    /* fuse_daemonize: forks unless foreground, and chdirs to / either way
     * (a daemon inside its own mount would keep it busy). */
    if (fuse_daemonize(foreground) != 0) {
        bfs_error("cannot daemonize");
        fuse_unmount(f);
        fuse_destroy(f);
        return 1;
    }
    if (!foreground) {
        /* The client's connections belong to the parent, which exited. */
        rc = benchfs_after_fork_child(st.fs);
        if (rc < 0)
            bfs_error("cannot reconnect after fork: %s (every call will fail)", strerror(-rc));
        if (logfd >= 0)
            dup2(logfd, STDERR_FILENO); /* fuse_daemonize sent it to /dev/null */
    }
    struct fuse_session *se = fuse_get_session(f);
    if (fuse_set_signal_handlers(se) != 0) {
        bfs_error("cannot install signal handlers");
        fuse_unmount(f);
        fuse_destroy(f);
        benchfs_finalize(st.fs);
        return 1;
    }
    if (single) {
        rc = fuse_loop(f);
    } else {
        struct fuse_loop_config cfg = {.clone_fd = 0, .max_idle_threads = (unsigned)threads};
        rc = fuse_loop_mt(f, &cfg);
    }
    fuse_remove_signal_handlers(se);
    fuse_unmount(f);
    fuse_destroy(f);
    benchfs_finalize(st.fs);
    bfs_info("unmounted %s", real);
    if (logfd >= 0)
        close(logfd);
    return rc < 0 ? 1 : 0; /* a signal number or 0: a normal end */
}
