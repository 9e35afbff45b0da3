/* libbenchfs.so state: lazy connection, descriptor table, path resolution,
 * working directory. */
#include "preload.h"

#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define CWD_ENV "BENCHFS_CWD"
#define CWD_HOST_ENV "BENCHFS_CWD_HOST"

static char g_mount[BFS_PATH_MAX] = "/benchfs";
static size_t g_mount_len = 8;
static char g_cwd[BFS_PATH_MAX];   /* BenchFS path of the cwd, "" if outside */
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;      /* table, cwd */
/* Connecting, apart from the table's lock: the client library closes its
 * own descriptors through our close (after fork), which takes g_mu. */
static pthread_mutex_t g_conn_mu = PTHREAD_MUTEX_INITIALIZER;
static benchfs_t *g_fs;
static int g_fs_failed;
static volatile int g_forked;

/* Descriptor table: a fixed array (allocated on the first BenchFS open) so
 * that the common "is this fd ours?" test needs no lock. */
static struct bfs_ofile **g_tab;
static int g_tab_cap;
static int g_tab_used; /* entries set: walks (fork, exec) skip an empty table */

static int to_fs(const char *host, char out[BFS_PATH_MAX]);

static void after_fork_child(void) { g_forked = 1; }

static mode_t g_umask;

mode_t bfs_pl_umask(void) { return __atomic_load_n(&g_umask, __ATOMIC_RELAXED); }

mode_t umask(mode_t mask)
{
    mode_t old = REAL(umask)(mask);
    __atomic_store_n(&g_umask, mask & 0777, __ATOMIC_RELAXED);
    return old;
}

__attribute__((constructor)) static void bfs_pl_init(void)
{
    const char *m = getenv("BENCHFS_MOUNT");
    if (m && m[0] == '/') {
        char tmp[BFS_PATH_MAX];
        ssize_t n = bfs_path_normalize(m, tmp, sizeof(tmp));
        if (n > 1) {
            memcpy(g_mount, tmp, (size_t)n + 1);
            g_mount_len = (size_t)n;
        }
    }
    /* A working directory inside BenchFS, inherited across exec. The kernel
     * knows it when it is on the FUSE mount; otherwise our chdir left it in
     * BENCHFS_CWD, with the kernel's directory of that moment in
     * BENCHFS_CWD_HOST: if the kernel's is another one now, a program that
     * does not load the library changed it since (make -C, a static shell),
     * and BENCHFS_CWD is stale. Shells' PWD is the last resort. */
    char fp[BFS_PATH_MAX], kc[BFS_PATH_MAX];
    const char *pwd = getenv("PWD"), *cwd = getenv(CWD_ENV), *host = getenv(CWD_HOST_ENV);
    int have_kc = REAL(getcwd)(kc, sizeof(kc)) != NULL;
    if (have_kc && to_fs(kc, fp) == 1)
        snprintf(g_cwd, sizeof(g_cwd), "%s", fp);
    else if (cwd && cwd[0] == '/' && bfs_path_check(cwd, strlen(cwd)) == 0 &&
             (!host || (have_kc && !strcmp(host, kc))))
        snprintf(g_cwd, sizeof(g_cwd), "%s", cwd);
    else if (!cwd && pwd && pwd[0] == '/' && to_fs(pwd, fp) == 1)
        snprintf(g_cwd, sizeof(g_cwd), "%s", fp);
    pthread_atfork(NULL, NULL, after_fork_child);
    mode_t m0 = REAL(umask)(022);
    REAL(umask)(m0);
    g_umask = m0;
    bfs_pl_report_init();
    bfs_pl_adopt_inherited();
}

/* A process that exits normally tells the servers at once (GOODBYE): a
 * process on another node cannot be watched, and without this its
 * connection and its open files' references - an unlinked scratch file's
 * space - stayed until the servers' idle limit and the hold after it
 * (2 + 10 min). Destructors do not run at _exit, on a kill or across exec
 * (the exec'd program keeps the files it inherits). Our streams are
 * flushed first: glibc flushes stdio after every destructor, UCX's own
 * included, when no call may reach the servers any more. A forked child
 * that never used BenchFS must not speak for its parent's connections
 * (the RPC layer checks the pid too). */
benchfs_t *bfs_pl_fs_connected(void)
{
    benchfs_t *fs = __atomic_load_n(&g_fs, __ATOMIC_ACQUIRE);
    return fs && !g_forked && !g_fs_failed ? fs : NULL;
}

__attribute__((destructor)) static void bfs_pl_fini(void)
{
    benchfs_t *fs = bfs_pl_fs_connected();
    if (fs) {
        bfs_pl_streams_flush();
        benchfs_exiting(fs);
    }
}

const char *bfs_pl_mount(void) { return g_mount; }
size_t bfs_pl_mount_len(void) { return g_mount_len; }

/* UCX opens its descriptors when we connect, at the lowest free numbers.
 * A shell then does `exec 3> f` (dup2 onto 3) and silently closes UCX's
 * descriptor 3 under it. So while connecting, every free descriptor below
 * LOW_FDS is held by a placeholder and UCX's land above them: shells use
 * 0-9 for explicit numbers and ask F_DUPFD for 10 or more. */
#define LOW_FDS 20
static unsigned long hold_low_fds(void)
{
    unsigned long held = 0;
    for (int fd = 0; fd < LOW_FDS; fd++) {
        if (REAL(fcntl)(fd, F_GETFD) >= 0 || errno != EBADF)
            continue;
        int p = REAL(open)("/dev/null", O_PATH | O_CLOEXEC);
        if (p < 0)
            break;
        if (p != fd) {
            int d = REAL(dup3)(p, fd, O_CLOEXEC);
            REAL(close)(p);
            if (d < 0)
                continue;
        }
        held |= 1ul << fd;
    }
    return held;
}

static void release_low_fds(unsigned long held)
{
    for (int fd = 0; fd < LOW_FDS; fd++)
        if (held & (1ul << fd))
            REAL(close)(fd);
}

benchfs_t *bfs_pl_fs(void)
{
    benchfs_t *fs = __atomic_load_n(&g_fs, __ATOMIC_ACQUIRE);
    if (fs && !g_forked)
        return fs;
    pthread_mutex_lock(&g_conn_mu);
    if (g_fs && g_forked) {
        g_forked = 0;
        if (benchfs_after_fork_child(g_fs) < 0)
            g_fs_failed = 1;
    }
    if (!g_fs && !g_fs_failed) {
        const char *reg = getenv("BENCHFS_REGISTRY");
        unsigned long held = hold_low_fds();
        int rc = benchfs_init(&fs, reg);
        release_low_fds(held);
        if (rc < 0) {
            g_fs_failed = 1;
            char line[512];
            int n = snprintf(line, sizeof(line),
                             "benchfs: cannot use %s: registry %s: %s (is BENCHFS_REGISTRY set "
                             "and are the servers running?)\n",
                             g_mount, reg ? reg : "(BENCHFS_REGISTRY not set)", strerror(-rc));
            ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
            (void)w;
        } else {
            /* Absolute symlink targets under the mount resolve inside. */
            benchfs_set_mount(fs, g_mount);
            __atomic_store_n(&g_fs, fs, __ATOMIC_RELEASE);
        }
    }
    fs = g_fs_failed ? NULL : g_fs;
    pthread_mutex_unlock(&g_conn_mu);
    if (!fs)
        errno = EIO;
    return fs;
}

void bfs_pl_report_unreachable(int err)
{
    static int said;
    if (__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED))
        return;
    char line[256];
    int n = snprintf(line, sizeof(line), "benchfs: the servers of %s cannot be reached: %s\n",
                     g_mount, strerror(err));
    ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    (void)w;
}

/* ---- paths ---- */

static int under_mount(const char *norm, size_t n)
{
    return n >= g_mount_len && !memcmp(norm, g_mount, g_mount_len) &&
           (norm[g_mount_len] == '/' || norm[g_mount_len] == '\0');
}

/* Normalize a host path; if it lies in the mount, write its BenchFS path.
 * If it names the mount but leads out of it ("/benchfs/.."), write the
 * normalized host path for libc instead, since the mount point itself need
 * not exist on the host. */
static int to_fs(const char *host, char out[BFS_PATH_MAX])
{
    /* Under the mount by its text: the rest goes to the client as it is,
     * "..", "." and trailing slashes included, since with symlinks they
     * resolve by the path walked, not by text (a ".." above BenchFS's
     * root comes back as a host path: -BENCHFS_EOUTSIDE). */
    if (!strncmp(host, g_mount, g_mount_len) &&
        (host[g_mount_len] == '/' || host[g_mount_len] == '\0')) {
        const char *rest = host + g_mount_len;
        size_t n = strlen(rest);
        if (n + 2 > BFS_PATH_MAX)
            return -ENAMETOOLONG;
        if (n == 0)
            memcpy(out, "/", 2);
        else
            memcpy(out, rest, n + 1);
        return 1;
    }
    char norm[BFS_PATH_MAX];
    ssize_t n = bfs_path_normalize(host, norm, sizeof(norm));
    if (n < 0)
        return n == -ENAMETOOLONG ? (int)n : 0;
    if (!under_mount(norm, (size_t)n)) {
        if (!strncmp(host, g_mount, g_mount_len))
            memcpy(out, norm, (size_t)n + 1);
        return 0;
    }
    if ((size_t)n == g_mount_len) {
        out[0] = '/';
        out[1] = '\0';
    } else {
        memcpy(out, norm + g_mount_len, (size_t)n - g_mount_len + 1);
    }
    return 1;
}

int bfs_pl_resolve(int dirfd, const char *path, char out[BFS_PATH_MAX])
{
    out[0] = '\0';
    if (!path || !*path)
        return 0;
    if (path[0] == '/') {
        /* The common case (a local absolute path) costs one comparison and
         * two vectorized scans for "//" or "/." that could lead into the
         * mount ("/tmp/../benchfs/x"). */
        if (path[1] != g_mount[1] || strncmp(path, g_mount, g_mount_len) != 0) {
            if (!strstr(path, "/.") && !strstr(path, "//"))
                return 0;
            return to_fs(path, out);
        }
        /* The kernel's limit is on the path given (PATH_MAX with its NUL),
         * not on what is left once the mount prefix is cut off. */
        if (strnlen(path, BFS_PATH_MAX) >= BFS_PATH_MAX)
            return -ENAMETOOLONG;
        return to_fs(path, out);
    }
    const char *base;
    struct bfs_ofile *of = NULL;
    if (dirfd == AT_FDCWD) {
        if (!g_cwd[0])
            return 0;
        base = g_cwd;
    } else {
        if (!bfs_pl_is_ours(dirfd))
            return 0;
        of = bfs_pl_get(dirfd);
        if (!of)
            return 0;
        if (!of->is_dir) {
            bfs_pl_put(of);
            return -ENOTDIR;
        }
        base = of->path;
    }
    char host[2 * BFS_PATH_MAX + 2];
    int n = snprintf(host, sizeof(host), "%s%s/%s", g_mount, strcmp(base, "/") ? base : "", path);
    if (of)
        bfs_pl_put(of);
    if (n < 0 || (size_t)n >= sizeof(host))
        return -ENAMETOOLONG;
    int r = to_fs(host, out);
    if (r == 0 && !out[0]) {
        /* Relative to a BenchFS directory but outside the mount: hand libc
         * the absolute host path, since its cwd is not ours. */
        ssize_t k = bfs_path_normalize(host, out, BFS_PATH_MAX);
        if (k < 0)
            return (int)k;
    }
    return r;
}

const char *bfs_pl_cwd(void) { return g_cwd; }

/* The kernel cannot hold a cwd inside BenchFS, so the environment carries
 * it across exec: a shell that did "cd /benchfs/dir" runs its children
 * there too. */

void bfs_pl_set_cwd(const char *fspath)
{
    /* With a FUSE mount the kernel's working directory goes there too, so
     * that relative paths the library never sees (a static child, mknod,
     * a raw system call) land in BenchFS, not in the old directory. */
    if (fspath && bfs_pl_fuse()) {
        char host[2 * BFS_PATH_MAX];
        snprintf(host, sizeof(host), "%s%s", g_mount, strcmp(fspath, "/") ? fspath : "");
        if (REAL(chdir)(host) < 0)
            bfs_pl_warn_once("cannot enter the directory on the FUSE mount");
    }
    pthread_mutex_lock(&g_mu);
    if (fspath) {
        snprintf(g_cwd, sizeof(g_cwd), "%s", fspath);
        setenv(CWD_ENV, g_cwd, 1);
        char kc[BFS_PATH_MAX];
        if (REAL(getcwd)(kc, sizeof(kc)))
            setenv(CWD_HOST_ENV, kc, 1);
    } else if (g_cwd[0]) {
        g_cwd[0] = '\0';
        unsetenv(CWD_ENV);
        unsetenv(CWD_HOST_ENV);
    }
    pthread_mutex_unlock(&g_mu);
}

/* ---- descriptors ---- */

static int table_init(void)
{
    if (g_tab)
        return 0;
    pthread_mutex_lock(&g_mu);
    if (!g_tab) {
        struct rlimit rl;
        int cap = 65536;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
            rl.rlim_max > (rlim_t)cap)
            cap = rl.rlim_max > (1u << 20) ? (1 << 20) : (int)rl.rlim_max;
        struct bfs_ofile **t = calloc((size_t)cap, sizeof(*t));
        if (t) {
            g_tab_cap = cap;
            __atomic_store_n(&g_tab, t, __ATOMIC_RELEASE);
        }
    }
    pthread_mutex_unlock(&g_mu);
    return g_tab ? 0 : -ENOMEM;
}

int bfs_pl_is_ours(int fd)
{
    struct bfs_ofile **t = __atomic_load_n(&g_tab, __ATOMIC_ACQUIRE);
    return t && fd >= 0 && fd < g_tab_cap && __atomic_load_n(&t[fd], __ATOMIC_RELAXED);
}

static void open_pending(struct bfs_ofile *of);

/* Under the lock: a release cannot drop the table's reference between the
 * load and the increment. The matching put needs no lock. */
static struct bfs_ofile *get_ref(int fd)
{
    pthread_mutex_lock(&g_mu);
    struct bfs_ofile *of = g_tab[fd];
    if (of)
        __atomic_add_fetch(&of->refs, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&g_mu);
    return of;
}

struct bfs_ofile *bfs_pl_get(int fd)
{
    if (!bfs_pl_is_ours(fd))
        return NULL;
    /* A forked child must reconnect before it uses an inherited file. */
    if (__builtin_expect(g_forked, 0))
        bfs_pl_fs();
    struct bfs_ofile *of = get_ref(fd);
    if (of && __builtin_expect(__atomic_load_n(&of->pending, __ATOMIC_ACQUIRE), 0))
        open_pending(of);
    return of;
}

/* A file carried across exec is opened again on its first use here, so
 * that a program that never touches it never connects. If that fails (the
 * file is gone, no servers) the descriptor stays ours and every call on it
 * fails (EBADF from the missing file): never another file. */
static void open_pending(struct bfs_ofile *of)
{
    pthread_mutex_lock(&of->mu);
    if (of->pending) {
        benchfs_t *fs = bfs_pl_fs();
        benchfs_file_t *f = NULL;
        int fl = of->is_dir ? O_RDONLY | O_DIRECTORY
                            : of->flags & (O_ACCMODE | O_APPEND | O_DIRECTORY);
        /* By id when we have it: the file may have been renamed since. */
        int rc = !fs ? -EIO
                 : of->carried_id ? benchfs_open_id(fs, of->carried_id, fl, &f)
                                  : benchfs_open(fs, of->path, fl, 0, &f);
        if (rc == 0)
            of->file = f;
        __atomic_store_n(&of->pending, 0, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&of->mu);
}

static void ofile_free(struct bfs_ofile *of)
{
    if (of->dir)
        benchfs_closedir(of->dir);
    if (of->file)
        benchfs_close(of->file);
    pthread_mutex_destroy(&of->mu);
    free(of);
}

void bfs_pl_put(struct bfs_ofile *of)
{
    if (__atomic_sub_fetch(&of->refs, 1, __ATOMIC_ACQ_REL) == 0)
        ofile_free(of);
}

struct bfs_ofile *bfs_pl_ofile_new(const char *path, int flags)
{
    /* Zeroed up to the path only: the 4 KiB path buffer needs just the
     * path (an open is a few microseconds; clearing 4 KiB was a visible
     * part of it). */
    size_t plen = strnlen(path, BFS_PATH_MAX - 1);
    struct bfs_ofile *of = malloc(sizeof(*of));
    if (!of)
        return NULL;
    memset(of, 0, offsetof(struct bfs_ofile, path));
    pthread_mutex_init(&of->mu, NULL);
    memcpy(of->path, path, plen);
    of->path[plen] = '\0';
    of->flags = flags;
    of->refs = 1;
    of->offp = &of->priv_off;
    return of;
}

/* Every open BenchFS file holds a kernel descriptor: an O_PATH descriptor
 * of /dev/null, on which every read, write, ioctl or mmap that does not
 * pass through the library fails with EBADF (a plain /dev/null descriptor
 * made them succeed and drop the data). They are duplicated from one kept
 * descriptor, which costs a third of opening "/dev/null" (no path walk, no
 * new open file: 0.9 against 2.8 us here). A program may close or replace
 * descriptors it does not know of (closefrom, dup2), so the kept one is
 * checked before each use and opened again when it is no longer ours. It
 * sits at NULL_FD_MIN or above, out of the way of the low numbers programs
 * expect, when the descriptor limit allows. */
#define NULL_FD_MIN 64
static int g_null = -1;

static int is_dev_null(int fd)
{
    struct stat st;
    return REAL(fstat)(fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3);
}

int bfs_pl_is_placeholder(int fd)
{
    int fl = REAL(fcntl)(fd, F_GETFL);
    return fl >= 0 && (fl & O_PATH) && is_dev_null(fd);
}

static int null_fd(int cloexec, int minfd)
{
    int base = __atomic_load_n(&g_null, __ATOMIC_ACQUIRE);
    if (base < 0 || !is_dev_null(base)) {
        /* One thread at a time replaces it (two could get the same number
         * back from the kernel and close each other's). */
        static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
        int err = 0;
        pthread_mutex_lock(&mu);
        base = __atomic_load_n(&g_null, __ATOMIC_ACQUIRE);
        if (base < 0 || !is_dev_null(base)) {
            base = REAL(open)("/dev/null", O_PATH | O_CLOEXEC);
            err = errno;
            if (base >= 0) {
                int high = REAL(fcntl)(base, F_DUPFD_CLOEXEC, NULL_FD_MIN);
                if (high >= 0) {
                    REAL(close)(base);
                    base = high;
                }
            }
            __atomic_store_n(&g_null, base, __ATOMIC_RELEASE);
        }
        pthread_mutex_unlock(&mu);
        if (base < 0)
            return -err;
    }
    int fd = REAL(fcntl)(base, cloexec ? F_DUPFD_CLOEXEC : F_DUPFD, minfd > 0 ? minfd : 0);
    return fd < 0 ? -errno : fd;
}

/* of (a reference taken for the table) becomes fd's; a file fd held before
 * loses it. */
static void table_set(int fd, struct bfs_ofile *of)
{
    pthread_mutex_lock(&g_mu);
    __atomic_add_fetch(&of->refs, 1, __ATOMIC_RELAXED);
    struct bfs_ofile *old = g_tab[fd];
    __atomic_store_n(&g_tab[fd], of, __ATOMIC_RELEASE);
    if (!old)
        __atomic_add_fetch(&g_tab_used, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&g_mu);
    if (old)
        bfs_pl_put(old);
}

int bfs_pl_install(struct bfs_ofile *of, int cloexec, int minfd, int exact)
{
    if (table_init() < 0)
        return -ENOMEM;
    int fd = null_fd(cloexec, minfd);
    if (fd < 0)
        return fd;
    if (exact >= 0 && fd != exact) {
        /* dup2 over a descriptor that is ours: that one is closed first. */
        bfs_pl_release(exact);
        int nfd = REAL(dup3)(fd, exact, cloexec ? O_CLOEXEC : 0);
        REAL(close)(fd);
        if (nfd < 0)
            return -errno;
        fd = nfd;
    }
    if (fd >= g_tab_cap) {
        REAL(close)(fd);
        return -EMFILE;
    }
    table_set(fd, of);
    if (fd <= 2)
        bfs_pl_std_fd_taken(fd);
    return fd;
}

int bfs_pl_adopt(struct bfs_ofile *of, int fd)
{
    if (table_init() < 0)
        return -ENOMEM;
    if (fd < 0 || fd >= g_tab_cap)
        return -EBADF;
    table_set(fd, of);
    return 0;
}

void bfs_pl_each_fd(void (*fn)(int fd, struct bfs_ofile *of, void *arg), void *arg)
{
    struct bfs_ofile **t = __atomic_load_n(&g_tab, __ATOMIC_ACQUIRE);
    if (!t || !__atomic_load_n(&g_tab_used, __ATOMIC_RELAXED))
        return;
    for (int fd = 0; fd < g_tab_cap; fd++) {
        if (!__atomic_load_n(&t[fd], __ATOMIC_RELAXED))
            continue;
        struct bfs_ofile *of = get_ref(fd);
        if (!of)
            continue;
        fn(fd, of, arg);
        bfs_pl_put(of);
    }
}

int bfs_pl_release(int fd)
{
    if (!bfs_pl_is_ours(fd))
        return -EBADF;
    /* A stream of ours on fd 0-2 is flushed into the file first. */
    if (fd <= 2)
        bfs_pl_std_fd_dropped(fd);
    pthread_mutex_lock(&g_mu);
    struct bfs_ofile *of = g_tab[fd];
    __atomic_store_n(&g_tab[fd], NULL, __ATOMIC_RELEASE);
    if (of)
        __atomic_sub_fetch(&g_tab_used, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&g_mu);
    if (!of)
        return -EBADF;
    bfs_pl_put(of);
    return 0;
}
