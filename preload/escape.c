/* Where a BenchFS descriptor escapes the library, and what happens then.
 *
 * A descriptor the library handed out reaches code that never calls it:
 * a program after exec (shell redirections, subprocess, system, popen,
 * posix_spawn), libc's own stdio on fds 0-2, the kernel for mmap. Two
 * modes (docs/DESIGN.md "Descriptors that escape"):
 *
 * - FUSE: the job has a FUSE mount of BenchFS at the mount prefix
 *   (benchfs-run says so with BENCHFS_FUSE=1). At each escape the open file
 *   description moves to the kernel: the file is opened through the mount
 *   at the same offset and dup'd over every descriptor that names it
 *   (bfs_pl_to_fuse). Whatever the escape does then lands in BenchFS, with
 *   one kernel offset shared as POSIX says.
 * - no FUSE: descriptors stay the library's. Offsets move to shared memory
 *   at fork and exec (shared_off.c), the descriptor table crosses exec in
 *   BENCHFS_FDS, fds 0-2 get stdio streams that write through the library.
 *   What still escapes (a program without the library: static binaries,
 *   raw system calls) meets the O_PATH placeholder and gets EBADF, and one
 *   line on stderr says why, once per process tree. */
#include "preload.h"

#include <elf.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define FDS_ENV "BENCHFS_FDS"
#define WARNED_ENV "BENCHFS_ESCAPE_WARNED"
#define FUSE_SUPER_MAGIC 0x65735546

extern char **environ;

/* ---- mode ---- */

int bfs_pl_fuse(void)
{
    static int mode = -1; /* -1 unknown, 0 no, 1 yes */
    int m = __atomic_load_n(&mode, __ATOMIC_RELAXED);
    if (m >= 0)
        return m;
    const char *e = getenv("BENCHFS_FUSE");
    struct statfs sf;
    m = e && !strcmp(e, "1") && REAL(statfs)(bfs_pl_mount(), &sf) == 0 &&
        sf.f_type == FUSE_SUPER_MAGIC;
    __atomic_store_n(&mode, m, __ATOMIC_RELAXED);
    return m;
}

void bfs_pl_refused(const char *what)
{
    bfs_pl_count(BFS_CNT_REFUSED);
    bfs_pl_warn_once(what);
}

void bfs_pl_warn_once(const char *what)
{
    static int said;
    if (__atomic_exchange_n(&said, 1, __ATOMIC_RELAXED) || getenv(WARNED_ENV))
        return;
    setenv(WARNED_ENV, "1", 1);
    char line[512];
    int n = snprintf(line, sizeof(line),
                     "benchfs: %s: no FUSE mount of BenchFS at %s, so only programs that load "
                     "libbenchfs.so can use these files; others (static binaries, raw system "
                     "calls, mmap) get EBADF or ENODEV\n",
                     what, bfs_pl_mount());
    ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
    (void)w;
}

/* ---- FUSE: hand a description to the kernel ---- */

struct move {
    struct bfs_ofile *of;
    int kfd;
    int err;
};

static void move_fd(int fd, struct bfs_ofile *of, void *arg)
{
    struct move *m = arg;
    if (of != m->of)
        return;
    int fdfl = REAL(fcntl)(fd, F_GETFD);
    if (REAL(dup3)(m->kfd, fd, fdfl >= 0 && (fdfl & FD_CLOEXEC) ? O_CLOEXEC : 0) < 0) {
        m->err = errno;
        return;
    }
    bfs_pl_release(fd);
}

/* Whether path (inside BenchFS) names the file with this id now. */
static int names_file(const char *path, uint64_t id)
{
    benchfs_t *fs = bfs_pl_fs();
    struct stat st;
    return fs && benchfs_stat(fs, path, &st) == 0 && S_ISREG(st.st_mode) && st.st_ino == id;
}

/* The description's file opened through the mount. By its path while that
 * still names the file (one kernel inode for every process that opens the
 * path, so fcntl locks and shared mappings meet), checked before and after
 * the open; else by the mount's id name (MOUNT/.benchfs-id/<hex>,
 * fuse/fuse_ops.c), so that a rename or unlink since the open never hands
 * over another file. Directories and O_PATH descriptors go by path. */
static int open_in_mount(const struct bfs_ofile *of, int fl)
{
    char host[2 * BFS_PATH_MAX];
    snprintf(host, sizeof(host), "%s%s", bfs_pl_mount(), strcmp(of->path, "/") ? of->path : "");
    if (of->is_dir || (of->flags & O_PATH) || !of->file)
        return REAL(open)(host, fl);
    uint64_t id = benchfs_file_id(of->file);
    if (of->path[0] && names_file(of->path, id)) {
        int kfd = REAL(open)(host, fl);
        if (kfd < 0 || names_file(of->path, id))
            return kfd;
        REAL(close)(kfd); /* renamed between the check and the open */
    }
    snprintf(host, sizeof(host), "%s/.benchfs-id/%016llx", bfs_pl_mount(), (unsigned long long)id);
    return REAL(open)(host, fl);
}

int bfs_pl_to_fuse(int fd)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return -EBADF;
    int fl = (of->flags & O_PATH) ? O_PATH
             : of->is_dir        ? O_RDONLY | O_DIRECTORY
                                 : of->flags & (O_ACCMODE | O_APPEND | O_NONBLOCK);
    int kfd = open_in_mount(of, fl | O_CLOEXEC);
    if (kfd < 0) {
        int err = errno;
        bfs_pl_put(of);
        return -err;
    }
    if (!of->is_dir && !(of->flags & O_PATH))
        REAL(lseek)(kfd, (off_t)__atomic_load_n(of->offp, __ATOMIC_RELAXED), SEEK_SET);
    struct move m = {.of = of, .kfd = kfd};
    bfs_pl_each_fd(move_fd, &m);
    REAL(close)(kfd);
    bfs_pl_put(of);
    bfs_pl_count(BFS_CNT_FUSE);
    return m.err ? -m.err : 0;
}

/* ---- fds 0-2 ---- */

static FILE *g_orig[3];       /* libc's stream while ours replaces it */
static pthread_mutex_t g_std_mu = PTHREAD_MUTEX_INITIALIZER;

static FILE **std_slot(int fd) { return fd == 0 ? &stdin : fd == 1 ? &stdout : &stderr; }

void bfs_pl_std_fd_taken(int fd)
{
    if (bfs_pl_fuse() && bfs_pl_to_fuse(fd) == 0)
        return;
    /* libc's stdio writes fds 0-2 with its internal write, which we never
     * see: give it a stream that goes through the library. */
    FILE *nf = bfs_pl_stream_borrow(fd, fd == 0 ? "r" : "w");
    if (!nf)
        return;
    if (fd == 2)
        setvbuf(nf, NULL, _IONBF, 0);
    pthread_mutex_lock(&g_std_mu);
    FILE **slot = std_slot(fd), *old = *slot;
    if (!g_orig[fd])
        g_orig[fd] = old;
    else
        old = NULL; /* a stream of ours: replaced below */
    *slot = nf;
    pthread_mutex_unlock(&g_std_mu);
    (void)old;
}

void bfs_pl_std_fd_dropped(int fd)
{
    pthread_mutex_lock(&g_std_mu);
    FILE *ours = NULL;
    if (g_orig[fd]) {
        FILE **slot = std_slot(fd);
        ours = *slot;
        *slot = g_orig[fd];
        g_orig[fd] = NULL;
    }
    pthread_mutex_unlock(&g_std_mu);
    if (ours)
        fclose(ours); /* flushes into BenchFS; keeps the descriptor */
}

/* ---- fork ---- */

struct prep {
    int fuse;
    int err;
};

/* After fork every description is shared with the child, which may hand
 * its copy to the kernel (dup2 onto fd 0-2, exec with it inherited, mmap,
 * a lock): from then on the child moves the kernel description's offset,
 * which this process's library could not see. So under FUSE every file
 * description moves to the kernel before the fork, close-on-exec ones too
 * (Python's subprocess passes its O_CLOEXEC files as the child's stdio),
 * and parent and child share one kernel offset as POSIX says; the parent's
 * later I/O on those files goes through the mount (files opened after the
 * fork keep the fast path). Without FUSE, and for directories, the offset
 * moves to shared memory instead, where a child that keeps the library
 * shares it. */
static void prep_fd(int fd, struct bfs_ofile *of, void *arg)
{
    struct prep *p = arg;
    if (p->fuse && !of->is_dir) {
        if (bfs_pl_to_fuse(fd) == 0)
            return;
    }
    if (!of->is_dir && bfs_pl_share_offset(of) < 0)
        p->err = 1;
}

static void before_fork(void)
{
    struct prep p = {.fuse = bfs_pl_fuse()};
    bfs_pl_each_fd(prep_fd, &p);
}

__attribute__((constructor)) static void escape_init(void) { pthread_atfork(before_fork, NULL, NULL); }

/* vfork shares the parent's memory until exec: the child's dup2 and exec
 * hooks would change the parent's table. fork is a valid vfork. */
pid_t vfork(void) { return fork(); }

/* ---- exec ---- */

static const char hexd[] = "0123456789abcdef";

struct carry {
    char *buf;
    size_t len, cap;
    int n;
};

static void put(struct carry *c, const char *s, size_t n)
{
    if (!c->buf)
        return;
    if (c->len + n + 1 > c->cap) {
        size_t cap = (c->cap + n + 1) * 2;
        char *b = realloc(c->buf, cap);
        if (!b) {
            free(c->buf);
            c->buf = NULL;
            return;
        }
        c->buf = b;
        c->cap = cap;
    }
    memcpy(c->buf + c->len, s, n);
    c->len += n;
    c->buf[c->len] = '\0';
}

/* Entries "fd:slot:offset:flags:dir:fid:hexpath;" after "v2;TABLEFD;" (the
 * offset for a child that could not map the table; the file id so that the
 * child opens this file even if it was renamed since, never another). */
static void carry_fd(int fd, struct bfs_ofile *of, void *arg)
{
    struct carry *c = arg;
    int fdfl = REAL(fcntl)(fd, F_GETFD);
    if (fdfl < 0 || (fdfl & FD_CLOEXEC))
        return;
    if (!of->is_dir)
        bfs_pl_share_offset(of);
    char head[96];
    uint64_t id = of->file ? benchfs_file_id(of->file) : of->carried_id;
    int n = snprintf(head, sizeof(head), "%d:%ld:%llu:%d:%d:%llx:", fd, bfs_pl_shared_slot(of),
                     (unsigned long long)__atomic_load_n(of->offp, __ATOMIC_RELAXED), of->flags,
                     of->is_dir, (unsigned long long)id);
    put(c, head, (size_t)n);
    for (const char *p = of->path; *p; p++) {
        char h[2] = {hexd[(unsigned char)*p >> 4], hexd[*p & 15]};
        put(c, h, 2);
    }
    put(c, ";", 1);
    c->n++;
}

/* What an exec needs: under FUSE, inheritable descriptions move to the
 * kernel; otherwise the table goes in the environment. Returns the
 * environment to pass (envp itself, or a new array to free with
 * exec_done), or NULL without memory. */
struct exec_ctx {
    char **env;
    char *var;
    int table_fd;
};

/* Will the program at path load the library? Not if it is an ELF file
 * without an interpreter (static), or set-user-ID (the loader then ignores
 * LD_PRELOAD). Scripts and unreadable files: assume it will. */
static int loads_library(const char *path)
{
    int fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 1;
    Elf64_Ehdr eh;
    int ok = 1;
    struct stat st;
    if (REAL(fstat)(fd, &st) == 0 && (st.st_mode & (S_ISUID | S_ISGID)))
        ok = 0;
    else if (REAL(pread)(fd, &eh, sizeof(eh), 0) == (ssize_t)sizeof(eh) &&
             !memcmp(eh.e_ident, ELFMAG, SELFMAG) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
             eh.e_phentsize == sizeof(Elf64_Phdr) && eh.e_phnum < 256) {
        ok = 0;
        for (int i = 0; i < eh.e_phnum && !ok; i++) {
            Elf64_Phdr ph;
            if (REAL(pread)(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + (uint64_t)i * sizeof(ph))) !=
                (ssize_t)sizeof(ph))
                ok = 1;
            else if (ph.p_type == PT_INTERP)
                ok = 1;
        }
    }
    REAL(close)(fd);
    return ok;
}

/* execvp's search, for the check above only. */
static int target_loads_library(const char *file, int search)
{
    if (!file)
        return 1;
    if (!search || strchr(file, '/'))
        return loads_library(file);
    const char *path = getenv("PATH");
    if (!path)
        path = "/bin:/usr/bin";
    char buf[BFS_PATH_MAX];
    for (const char *p = path; *p;) {
        const char *e = strchr(p, ':');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n + strlen(file) + 2 < sizeof(buf)) {
            snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? p : ".", file);
            if (access(buf, X_OK) == 0)
                return loads_library(buf);
        }
        p += n + (e ? 1 : 0);
        if (!e)
            break;
    }
    return 1;
}

static char **exec_prepare(const char *target, int search, char *const envp[], struct exec_ctx *x)
{
    x->env = NULL;
    x->var = NULL;
    x->table_fd = -1;
    if (bfs_pl_fuse()) {
        struct prep p = {.fuse = 1};
        bfs_pl_each_fd(prep_fd, &p);
        return (char **)envp;
    }
    struct carry c = {.buf = malloc(256), .cap = 256};
    put(&c, "", 0);
    bfs_pl_each_fd(carry_fd, &c);
    size_t ne = 0;
    for (char *const *e = envp; e && *e; e++)
        ne++;
    if (c.n == 0 || !c.buf) {
        free(c.buf);
        /* Nothing to carry: drop a stale list inherited from our parent. */
        return (char **)envp;
    }
    bfs_pl_count(BFS_CNT_CARRIED);
    int preloaded = 0;
    for (size_t i = 0; i < ne && !preloaded; i++)
        preloaded = !strncmp(envp[i], "LD_PRELOAD=", 11) && strstr(envp[i], "libbenchfs");
    if (!preloaded || !target_loads_library(target, search)) {
        char what[BFS_PATH_MAX + 64];
        snprintf(what, sizeof(what), "%s cannot load libbenchfs.so (%s)", target ? target : "a program",
                 preloaded ? "static or set-user-ID" : "LD_PRELOAD does not name it");
        bfs_pl_refused(what);
    }
    x->table_fd = bfs_pl_shared_fd();
    size_t vl = strlen(FDS_ENV) + 32 + c.len;
    x->var = malloc(vl);
    x->env = malloc((ne + 2) * sizeof(char *));
    if (!x->var || !x->env) {
        free(x->var);
        free(x->env);
        free(c.buf);
        x->var = NULL;
        x->env = NULL;
        return NULL;
    }
    snprintf(x->var, vl, "%s=v2;%d;%s", FDS_ENV, x->table_fd, c.buf);
    free(c.buf);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++)
        if (strncmp(envp[i], FDS_ENV "=", strlen(FDS_ENV) + 1) != 0)
            x->env[k++] = envp[i];
    x->env[k++] = x->var;
    x->env[k] = NULL;
    /* The table itself must survive exec. */
    if (x->table_fd >= 0)
        REAL(fcntl)(x->table_fd, F_SETFD, 0);
    return x->env;
}

static void exec_done(struct exec_ctx *x)
{
    if (x->table_fd >= 0)
        REAL(fcntl)(x->table_fd, F_SETFD, FD_CLOEXEC);
    free(x->env);
    free(x->var);
}

/* A BenchFS path whose symlinks lead out of the mount (a venv's
 * bin/python -> python3 -> /usr/bin/python3): the kernel execs the host
 * path it leads to. Other paths are left as they are. */
static const char *exec_target(const char *path, char *buf)
{
    char fp[BFS_PATH_MAX], real[BFS_PATH_MAX];
    if (!path || !strchr(path, '/') || bfs_pl_resolve(AT_FDCWD, path, fp) != 1)
        return path;
    benchfs_t *fs = bfs_pl_fs();
    if (!fs || benchfs_realpath(fs, fp, real) != -BENCHFS_EOUTSIDE)
        return path;
    snprintf(buf, BFS_PATH_MAX, "%s", benchfs_outside_path());
    return buf;
}

int execve(const char *path, char *const argv[], char *const envp[])
{
    char host[BFS_PATH_MAX];
    path = exec_target(path, host);
    struct exec_ctx x;
    char **env = exec_prepare(path, 0, envp, &x);
    if (!env) {
        errno = ENOMEM;
        return -1;
    }
    int rc = REAL(execve)(path, argv, env);
    int err = errno;
    exec_done(&x);
    errno = err;
    return rc;
}

int execveat(int dirfd, const char *path, char *const argv[], char *const envp[], int flags)
{
    struct exec_ctx x;
    char **env = exec_prepare(path, 0, envp, &x);
    if (!env) {
        errno = ENOMEM;
        return -1;
    }
    int rc = REAL(execveat)(dirfd, path, argv, env, flags);
    int err = errno;
    exec_done(&x);
    errno = err;
    return rc;
}

int fexecve(int fd, char *const argv[], char *const envp[])
{
    struct exec_ctx x;
    char **env = exec_prepare(NULL, 0, envp, &x);
    if (!env) {
        errno = ENOMEM;
        return -1;
    }
    int rc = REAL(fexecve)(fd, argv, env);
    int err = errno;
    exec_done(&x);
    errno = err;
    return rc;
}

int execvpe(const char *file, char *const argv[], char *const envp[])
{
    char host[BFS_PATH_MAX];
    file = exec_target(file, host);
    struct exec_ctx x;
    char **env = exec_prepare(file, 1, envp, &x);
    if (!env) {
        errno = ENOMEM;
        return -1;
    }
    int rc = REAL(execvpe)(file, argv, env);
    int err = errno;
    exec_done(&x);
    errno = err;
    return rc;
}

int execv(const char *path, char *const argv[]) { return execve(path, argv, environ); }
int execvp(const char *file, char *const argv[]) { return execvpe(file, argv, environ); }

/* The execl family, whose glibc versions call execve internally. */
#define ARGV_FROM_VA(first, argv, extra)                                       \
    size_t n_ = 1;                                                             \
    va_list ap_;                                                               \
    va_start(ap_, first);                                                      \
    while (va_arg(ap_, char *))                                                \
        n_++;                                                                  \
    va_end(ap_);                                                               \
    char **argv = alloca((n_ + 1) * sizeof(char *));                           \
    va_start(ap_, first);                                                      \
    argv[0] = (char *)(first);                                                 \
    for (size_t i_ = 1; i_ <= n_; i_++)                                        \
        argv[i_] = va_arg(ap_, char *);                                        \
    extra;                                                                     \
    va_end(ap_)

int execl(const char *path, const char *arg, ...)
{
    ARGV_FROM_VA(arg, argv, (void)0);
    return execve(path, argv, environ);
}

int execlp(const char *file, const char *arg, ...)
{
    ARGV_FROM_VA(arg, argv, (void)0);
    return execvpe(file, argv, environ);
}

int execle(const char *path, const char *arg, ...)
{
    char **envp;
    ARGV_FROM_VA(arg, argv, envp = va_arg(ap_, char **));
    return execve(path, argv, envp);
}

/* posix_spawn, system and popen start their child without fork's
 * handlers (clone with CLONE_VM): prepare as for an exec, in the parent. */
static int spawn(int p, pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
    struct exec_ctx x;
    char **env = exec_prepare(path, p, envp ? envp : environ, &x);
    if (!env)
        return ENOMEM;
    int rc = p ? REAL(posix_spawnp)(pid, path, fa, at, argv, env)
               : REAL(posix_spawn)(pid, path, fa, at, argv, env);
    exec_done(&x);
    return rc;
}

int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
    return spawn(0, pid, path, fa, at, argv, envp);
}

int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                 const posix_spawnattr_t *at, char *const argv[], char *const envp[])
{
    return spawn(1, pid, file, fa, at, argv, envp);
}

/* system and popen take the environment from environ. */
static char *env_prepare(struct exec_ctx *x)
{
    exec_prepare(NULL, 0, environ, x);
    free(x->env);
    x->env = NULL;
    char *v = x->var ? strdup(x->var) : NULL;
    if (v)
        putenv(v);
    return v;
}

static void env_done(struct exec_ctx *x, char *v)
{
    if (v) {
        unsetenv(FDS_ENV);
        free(v);
    }
    exec_done(x);
}

int system(const char *cmd)
{
    struct exec_ctx x;
    char *v = env_prepare(&x);
    int rc = REAL(system)(cmd);
    env_done(&x, v);
    return rc;
}

FILE *popen(const char *cmd, const char *type)
{
    struct exec_ctx x;
    char *v = env_prepare(&x);
    FILE *f = REAL(popen)(cmd, type);
    int err = errno;
    env_done(&x, v);
    errno = err;
    return f;
}

/* ---- the other side of exec ---- */

static int unhex(const char *s, size_t n, char *out, size_t cap)
{
    if (n % 2 || n / 2 + 1 > cap)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        const char *a = strchr(hexd, s[i]), *b = strchr(hexd, s[i + 1]);
        if (!a || !b || !s[i] || !s[i + 1])
            return -1;
        out[i / 2] = (char)((a - hexd) << 4 | (b - hexd));
    }
    out[n / 2] = '\0';
    return 0;
}

void bfs_pl_adopt_inherited(void)
{
    const char *v = getenv(FDS_ENV);
    if (!v || strncmp(v, "v2;", 3) != 0)
        return;
    char *list = strdup(v + 3);
    unsetenv(FDS_ENV); /* ours now; a later exec writes a new one */
    if (!list)
        return;
    char *save = NULL, *tok = strtok_r(list, ";", &save);
    int table = tok ? atoi(tok) : -1;
    if (table >= 0)
        bfs_pl_shared_attach(table);
    while ((tok = strtok_r(NULL, ";", &save))) {
        int fd, flags, dir;
        long slot;
        unsigned long long off, id;
        int used = 0;
        if (sscanf(tok, "%d:%ld:%llu:%d:%d:%llx:%n", &fd, &slot, &off, &flags, &dir, &id, &used) !=
                6 ||
            used <= 0)
            continue;
        char path[BFS_PATH_MAX];
        if (unhex(tok + used, strlen(tok + used), path, sizeof(path)) < 0 || path[0] != '/')
            continue;
        /* Only a descriptor that is still the placeholder we left: the
         * program between fork and exec may have reused the number. */
        if (!bfs_pl_is_placeholder(fd))
            continue;
        struct bfs_ofile *of = bfs_pl_ofile_new(path, flags);
        if (!of)
            break;
        of->is_dir = dir;
        of->pending = 1;
        of->carried_id = id;
        uint64_t *sp = dir ? NULL : bfs_pl_shared_ptr(slot);
        if (sp)
            of->offp = sp;
        else
            of->priv_off = off;
        if (bfs_pl_adopt(of, fd) == 0 && fd <= 2)
            bfs_pl_std_fd_taken(fd);
        bfs_pl_put(of);
    }
    free(list);
}

/* ---- programs that close every descriptor ---- */

/* close_range and closefrom (Python's close_fds, daemons) close our
 * descriptors without close(): forget them, and keep the shared offset
 * table, which a child about to exec still needs. */
static void forget_range(unsigned first, unsigned last)
{
    for (unsigned fd = first; fd <= last && fd < (1u << 20); fd++) {
        if (bfs_pl_is_ours((int)fd))
            bfs_pl_release((int)fd);
        if (fd == ~0u)
            break;
    }
}

int close_range(unsigned first, unsigned last, int flags)
{
    int t = bfs_pl_shared_fd();
    if (!(flags & CLOSE_RANGE_CLOEXEC))
        forget_range(first, last);
    if (t < 0 || (unsigned)t < first || (unsigned)t > last)
        return REAL(close_range)(first, last, flags);
    int rc = 0;
    if ((unsigned)t > first)
        rc = REAL(close_range)(first, (unsigned)t - 1, flags);
    if (rc == 0 && (unsigned)t < last)
        rc = REAL(close_range)((unsigned)t + 1, last, flags);
    return rc;
}

void closefrom(int lowfd)
{
    close_range(lowfd < 0 ? 0 : (unsigned)lowfd, ~0u, 0);
}
