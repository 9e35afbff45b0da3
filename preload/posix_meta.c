/* Interposed path calls: the stat family, access, unlink, mkdir, rmdir,
 * rename, chmod, times, statfs, chdir/getcwd, realpath, xattrs, chown. */
#include "preload.h"

#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <utime.h>

#define BENCHFS_MAGIC 0x62667331 /* f_type reported by statfs */

/* Resolve (dirfd, path): returns 1 with fp filled and *fs set, 0 for a
 * non-BenchFS path, or a negative errno. */
static int resolve(int dirfd, const char *path, char fp[BFS_PATH_MAX], benchfs_t **fs)
{
    int r = bfs_pl_resolve(dirfd, path, fp);
    if (r <= 0)
        return r;
    bfs_pl_count(BFS_CNT_META);
    *fs = bfs_pl_fs();
    return *fs ? 1 : -EIO;
}

#define PATH_CALL_AT(dirfd, path, real_call, ours_call, ...)                 \
    do {                                                                       \
        char fp[BFS_PATH_MAX];                                                 \
        benchfs_t *fs;                                                         \
        int r_ = resolve(dirfd, path, fp, &fs);                                \
        if (r_ == 0) {                                                         \
            if (fp[0]) {                                                       \
                path = fp;                                                     \
                __VA_ARGS__;                                                   \
            }                                                                  \
            return real_call;                                                  \
        }                                                                      \
        if (r_ < 0)                                                            \
            return (int)bfs_pl_ret(r_);                                        \
        long rc_ = (ours_call);                                                \
        if (rc_ == -BENCHFS_EOUTSIDE) {                                        \
            /* A symlink led out of the mount: libc takes the host path. */   \
            snprintf(fp, sizeof(fp), "%s", benchfs_outside_path());            \
            path = fp;                                                         \
            __VA_ARGS__;                                                       \
            return real_call;                                                  \
        }                                                                      \
        return (int)bfs_pl_ret(rc_);                                           \
    } while (0)
/* A path call relative to the cwd / to a dirfd parameter named dirfd. */
#define PATH_CALL(dirfd, path, real_call, ours_call) PATH_CALL_AT(dirfd, path, real_call, ours_call, (void)0)
#define PATH_CALL_DIRFD(path, real_call, ours_call)                            \
    PATH_CALL_AT(dirfd, path, real_call, ours_call, dirfd = AT_FDCWD)

/* ---- stat ---- */

static int fd_stat(int fd, struct stat *st)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return -EBADF;
    int rc = benchfs_fstat(of->file, st);
    bfs_pl_put(of);
    return rc;
}

int stat(const char *path, struct stat *st)
{
    PATH_CALL(AT_FDCWD, path, REAL(stat)(path, st), benchfs_stat(fs, fp, st));
}

int lstat(const char *path, struct stat *st)
{
    PATH_CALL(AT_FDCWD, path, REAL(lstat)(path, st), benchfs_lstat(fs, fp, st));
}

int fstat(int fd, struct stat *st)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(fstat)(fd, st);
    return (int)bfs_pl_ret(fd_stat(fd, st));
}

int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
    if ((flags & AT_EMPTY_PATH) && !bfs_pl_is_null(path) && !*path && bfs_pl_is_ours(dirfd))
        return fstat(dirfd, st);
    PATH_CALL_DIRFD(path, REAL(fstatat)(dirfd, path, st, flags),
                    (flags & AT_SYMLINK_NOFOLLOW) ? benchfs_lstat(fs, fp, st)
                                                  : benchfs_stat(fs, fp, st));
}

/* On 64-bit glibc the *64 structures are the same as the plain ones. */
int stat64(const char *path, struct stat64 *st) { return stat(path, (struct stat *)st); }
int lstat64(const char *path, struct stat64 *st) { return lstat(path, (struct stat *)st); }
int fstat64(int fd, struct stat64 *st) { return fstat(fd, (struct stat *)st); }
int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
    return fstatat(dirfd, path, (struct stat *)st, flags);
}

/* Programs built against glibc < 2.33 call these. */
int __xstat(int ver, const char *path, struct stat *st) { (void)ver; return stat(path, st); }
int __lxstat(int ver, const char *path, struct stat *st) { (void)ver; return lstat(path, st); }
int __fxstat(int ver, int fd, struct stat *st) { (void)ver; return fstat(fd, st); }
int __fxstatat(int ver, int dirfd, const char *path, struct stat *st, int flags)
{
    (void)ver;
    return fstatat(dirfd, path, st, flags);
}
int __xstat64(int ver, const char *path, struct stat64 *st) { (void)ver; return stat64(path, st); }
int __lxstat64(int ver, const char *path, struct stat64 *st) { (void)ver; return lstat64(path, st); }
int __fxstat64(int ver, int fd, struct stat64 *st) { (void)ver; return fstat64(fd, st); }
int __fxstatat64(int ver, int dirfd, const char *path, struct stat64 *st, int flags)
{
    (void)ver;
    return fstatat64(dirfd, path, st, flags);
}

static void to_statx(const struct stat *st, struct statx *sx)
{
    memset(sx, 0, sizeof(*sx));
    sx->stx_mask = STATX_BASIC_STATS;
    sx->stx_blksize = (uint32_t)st->st_blksize;
    sx->stx_nlink = (uint32_t)st->st_nlink;
    sx->stx_uid = st->st_uid;
    sx->stx_gid = st->st_gid;
    sx->stx_mode = (uint16_t)st->st_mode;
    sx->stx_ino = st->st_ino;
    sx->stx_size = (uint64_t)st->st_size;
    sx->stx_blocks = (uint64_t)st->st_blocks;
    sx->stx_atime.tv_sec = st->st_atim.tv_sec;
    sx->stx_atime.tv_nsec = (uint32_t)st->st_atim.tv_nsec;
    sx->stx_mtime.tv_sec = st->st_mtim.tv_sec;
    sx->stx_mtime.tv_nsec = (uint32_t)st->st_mtim.tv_nsec;
    sx->stx_ctime.tv_sec = st->st_ctim.tv_sec;
    sx->stx_ctime.tv_nsec = (uint32_t)st->st_ctim.tv_nsec;
    sx->stx_dev_major = 0;
    sx->stx_dev_minor = (uint32_t)st->st_dev;
}

int statx(int dirfd, const char *path, int flags, unsigned int mask, struct statx *sx)
{
    struct stat st;
    int rc;
    if ((flags & AT_EMPTY_PATH) && !bfs_pl_is_null(path) && !*path && bfs_pl_is_ours(dirfd)) {
        rc = fd_stat(dirfd, &st);
    } else {
        char fp[BFS_PATH_MAX];
        benchfs_t *fs;
        int r = resolve(dirfd, path, fp, &fs);
        if (r == 0)
            return fp[0] ? REAL(statx)(AT_FDCWD, fp, flags, mask, sx)
                         : REAL(statx)(dirfd, path, flags, mask, sx);
        rc = r < 0 ? r
             : (flags & AT_SYMLINK_NOFOLLOW) ? benchfs_lstat(fs, fp, &st)
                                             : benchfs_stat(fs, fp, &st);
        if (rc == -BENCHFS_EOUTSIDE) {
            snprintf(fp, sizeof(fp), "%s", benchfs_outside_path());
            return REAL(statx)(AT_FDCWD, fp, flags, mask, sx);
        }
    }
    if (rc == 0)
        to_statx(&st, sx);
    return (int)bfs_pl_ret(rc);
}

/* ---- access ---- */

static int check_access(benchfs_t *fs, const char *fp, int mode)
{
    struct stat st;
    int rc = benchfs_stat(fs, fp, &st);
    if (rc < 0 || mode == F_OK)
        return rc;
    uid_t uid = geteuid();
    if (uid == 0)
        return (mode & X_OK) && !(st.st_mode & 0111) && !S_ISDIR(st.st_mode) ? -EACCES : 0;
    unsigned bits = st.st_uid == uid ? (st.st_mode >> 6) : st.st_gid == getegid() ? (st.st_mode >> 3) : st.st_mode;
    if (((mode & R_OK) && !(bits & 4)) || ((mode & W_OK) && !(bits & 2)) || ((mode & X_OK) && !(bits & 1)))
        return -EACCES;
    return 0;
}

int access(const char *path, int mode)
{
    PATH_CALL(AT_FDCWD, path, REAL(access)(path, mode), check_access(fs, fp, mode));
}

int faccessat(int dirfd, const char *path, int mode, int flags)
{
    PATH_CALL_DIRFD(path, REAL(faccessat)(dirfd, path, mode, flags), check_access(fs, fp, mode));
}

int eaccess(const char *path, int mode) { return access(path, mode); }
int euidaccess(const char *path, int mode) { return access(path, mode); }

/* ---- namespace ---- */

int unlink(const char *path)
{
    PATH_CALL(AT_FDCWD, path, REAL(unlink)(path), benchfs_unlink(fs, fp));
}

int unlinkat(int dirfd, const char *path, int flags)
{
    PATH_CALL_DIRFD(path, REAL(unlinkat)(dirfd, path, flags),
              (flags & AT_REMOVEDIR) ? benchfs_rmdir(fs, fp) : benchfs_unlink(fs, fp));
}

int mkdir(const char *path, mode_t mode)
{
    PATH_CALL(AT_FDCWD, path, REAL(mkdir)(path, mode), benchfs_mkdir(fs, fp, mode & ~bfs_pl_umask()));
}

int mkdirat(int dirfd, const char *path, mode_t mode)
{
    PATH_CALL_DIRFD(path, REAL(mkdirat)(dirfd, path, mode), benchfs_mkdir(fs, fp, mode & ~bfs_pl_umask()));
}

int rmdir(const char *path)
{
    PATH_CALL(AT_FDCWD, path, REAL(rmdir)(path), benchfs_rmdir(fs, fp));
}

static int do_rename(int ofd, const char *from, int nfd, const char *to, unsigned flags, int *handled)
{
    char a[BFS_PATH_MAX], b[BFS_PATH_MAX];
    int ra = bfs_pl_resolve(ofd, from, a), rb = bfs_pl_resolve(nfd, to, b);
    *handled = ra != 0 || rb != 0;
    if (!*handled)
        return 0;
    if (ra < 0)
        return ra;
    if (rb < 0)
        return rb;
    if (ra != rb)
        return -EXDEV; /* between BenchFS and another file system */
    benchfs_t *fs = bfs_pl_fs();
    if (!fs)
        return -EIO;
    if (flags & RENAME_EXCHANGE)
        return -EINVAL;
    if (flags & RENAME_NOREPLACE) {
        struct stat st;
        int rc = benchfs_stat(fs, b, &st);
        if (rc == 0)
            return -EEXIST;
        if (rc != -ENOENT)
            return rc;
    }
    int rc = benchfs_rename(fs, a, b);
    return rc == -BENCHFS_EOUTSIDE ? -EXDEV : rc; /* a symlink led out: another FS */
}

int rename(const char *from, const char *to)
{
    int handled, rc = do_rename(AT_FDCWD, from, AT_FDCWD, to, 0, &handled);
    return handled ? (int)bfs_pl_ret(rc) : REAL(rename)(from, to);
}

int renameat(int ofd, const char *from, int nfd, const char *to)
{
    int handled, rc = do_rename(ofd, from, nfd, to, 0, &handled);
    return handled ? (int)bfs_pl_ret(rc) : REAL(renameat)(ofd, from, nfd, to);
}

int renameat2(int ofd, const char *from, int nfd, const char *to, unsigned flags)
{
    int handled, rc = do_rename(ofd, from, nfd, to, flags, &handled);
    return handled ? (int)bfs_pl_ret(rc) : REAL(renameat2)(ofd, from, nfd, to, flags);
}

/* ---- permissions, ownership, times ---- */

int chmod(const char *path, mode_t mode)
{
    PATH_CALL(AT_FDCWD, path, REAL(chmod)(path, mode), benchfs_chmod(fs, fp, mode));
}

/* fchmodat(AT_SYMLINK_NOFOLLOW): a symlink's mode cannot change on Linux
 * (EOPNOTSUPP, which tar and cp -a expect and ignore); others as chmod. */
static int lchmod_fs(benchfs_t *fs, const char *fp, mode_t mode)
{
    struct stat st;
    int rc = benchfs_lstat(fs, fp, &st);
    if (rc < 0)
        return rc;
    return S_ISLNK(st.st_mode) ? -EOPNOTSUPP : benchfs_chmod(fs, fp, mode);
}

int fchmodat(int dirfd, const char *path, mode_t mode, int flags)
{
    PATH_CALL_DIRFD(path, REAL(fchmodat)(dirfd, path, mode, flags),
                    (flags & AT_SYMLINK_NOFOLLOW) ? lchmod_fs(fs, fp, mode)
                                                  : benchfs_chmod(fs, fp, mode));
}

int lchmod(const char *path, mode_t mode)
{
    PATH_CALL(AT_FDCWD, path, REAL(lchmod)(path, mode), lchmod_fs(fs, fp, mode));
}

int fchmod(int fd, mode_t mode)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(fchmod)(fd, mode);
    /* By the file's id: it may have been renamed since it was opened. */
    int rc = of->file ? benchfs_fchmod(of->file, mode) : -EBADF;
    bfs_pl_put(of);
    return (int)bfs_pl_ret(rc);
}

/* Ownership is the creating user's; changing it is accepted and ignored
 * (tar and cp -p ask for what is already true in a job's private FS). */
static int chown_ok(benchfs_t *fs, const char *fp)
{
    struct stat st;
    return benchfs_stat(fs, fp, &st);
}

int chown(const char *path, uid_t u, gid_t g)
{
    PATH_CALL(AT_FDCWD, path, REAL(chown)(path, u, g), chown_ok(fs, fp));
}

static int lchown_ok(benchfs_t *fs, const char *fp)
{
    struct stat st;
    return benchfs_lstat(fs, fp, &st);
}

int lchown(const char *path, uid_t u, gid_t g)
{
    PATH_CALL(AT_FDCWD, path, REAL(lchown)(path, u, g), lchown_ok(fs, fp));
}

int fchownat(int dirfd, const char *path, uid_t u, gid_t g, int flags)
{
    if ((flags & AT_EMPTY_PATH) && !bfs_pl_is_null(path) && !*path && bfs_pl_is_ours(dirfd))
        return 0;
    PATH_CALL_DIRFD(path, REAL(fchownat)(dirfd, path, u, g, flags),
                    (flags & AT_SYMLINK_NOFOLLOW) ? lchown_ok(fs, fp) : chown_ok(fs, fp));
}

int fchown(int fd, uid_t u, gid_t g)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(fchown)(fd, u, g);
    return 0;
}

/* The times of an open BenchFS file (of: from bfs_pl_get, released here). */
static int utimens_of(struct bfs_ofile *of, const struct timespec t[2])
{
    int rc = of->file ? benchfs_futimens(of->file, t) : -EBADF;
    bfs_pl_put(of);
    return (int)bfs_pl_ret(rc);
}

int utimensat(int dirfd, const char *path, const struct timespec t[2], int flags)
{
    if (bfs_pl_is_null(path)) {
        /* Linux: utimensat(fd, NULL, ...) is futimens(fd, ...). */
        struct bfs_ofile *of = bfs_pl_get(dirfd);
        if (!of)
            return REAL(utimensat)(dirfd, path, t, flags);
        return utimens_of(of, t);
    }
    PATH_CALL_DIRFD(path, REAL(utimensat)(dirfd, path, t, flags),
                    (flags & AT_SYMLINK_NOFOLLOW) ? benchfs_lutimens(fs, fp, t)
                                                  : benchfs_utimens(fs, fp, t));
}

/* Not utimensat(fd, NULL, ...): glibc declares its path nonnull, so such a
 * call is undefined behaviour (UBSan: nonnull-attribute). */
int futimens(int fd, const struct timespec t[2])
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(futimens)(fd, t);
    return utimens_of(of, t);
}

static void tv_to_ts(const struct timeval tv[2], struct timespec ts[2])
{
    for (int i = 0; i < 2; i++) {
        ts[i].tv_sec = tv[i].tv_sec;
        ts[i].tv_nsec = tv[i].tv_usec * 1000;
    }
}

int utimes(const char *path, const struct timeval tv[2])
{
    struct timespec ts[2];
    if (tv)
        tv_to_ts(tv, ts);
    PATH_CALL(AT_FDCWD, path, REAL(utimes)(path, tv), benchfs_utimens(fs, fp, tv ? ts : NULL));
}

int lutimes(const char *path, const struct timeval tv[2]) { return utimes(path, tv); }

int futimes(int fd, const struct timeval tv[2])
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(futimes)(fd, tv);
    struct timespec ts[2];
    if (tv)
        tv_to_ts(tv, ts);
    return utimens_of(of, tv ? ts : NULL);
}

int utime(const char *path, const struct utimbuf *b)
{
    struct timespec ts[2];
    if (b) {
        ts[0].tv_sec = b->actime;
        ts[0].tv_nsec = 0;
        ts[1].tv_sec = b->modtime;
        ts[1].tv_nsec = 0;
    }
    PATH_CALL(AT_FDCWD, path, REAL(utime)(path, b), benchfs_utimens(fs, fp, b ? ts : NULL));
}

/* ---- statfs ---- */

static int fs_statvfs(benchfs_t *fs, struct statvfs *v) { return benchfs_statfs(fs, v); }

static int fs_statfs(benchfs_t *fs, struct statfs *s)
{
    struct statvfs v;
    int rc = benchfs_statfs(fs, &v);
    if (rc < 0)
        return rc;
    memset(s, 0, sizeof(*s));
    s->f_type = BENCHFS_MAGIC;
    s->f_bsize = (long)v.f_bsize;
    s->f_frsize = (long)v.f_frsize;
    s->f_blocks = v.f_blocks;
    s->f_bfree = v.f_bfree;
    s->f_bavail = v.f_bavail;
    s->f_files = v.f_files;
    s->f_ffree = v.f_ffree;
    s->f_namelen = (long)v.f_namemax;
    return 0;
}

static benchfs_t *fs_of_fd(int fd)
{
    return bfs_pl_is_ours(fd) ? bfs_pl_fs() : NULL;
}

int statfs(const char *path, struct statfs *s)
{
    PATH_CALL(AT_FDCWD, path, REAL(statfs)(path, s), fs_statfs(fs, s));
}

int fstatfs(int fd, struct statfs *s)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(fstatfs)(fd, s);
    benchfs_t *fs = fs_of_fd(fd);
    return (int)bfs_pl_ret(fs ? fs_statfs(fs, s) : -EIO);
}

int statvfs(const char *path, struct statvfs *v)
{
    PATH_CALL(AT_FDCWD, path, REAL(statvfs)(path, v), fs_statvfs(fs, v));
}

int fstatvfs(int fd, struct statvfs *v)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(fstatvfs)(fd, v);
    benchfs_t *fs = fs_of_fd(fd);
    return (int)bfs_pl_ret(fs ? fs_statvfs(fs, v) : -EIO);
}

int statfs64(const char *path, struct statfs64 *s) { return statfs(path, (struct statfs *)s); }
int fstatfs64(int fd, struct statfs64 *s) { return fstatfs(fd, (struct statfs *)s); }
int statvfs64(const char *path, struct statvfs64 *v) { return statvfs(path, (struct statvfs *)v); }
int fstatvfs64(int fd, struct statvfs64 *v) { return fstatvfs(fd, (struct statvfs *)v); }

/* ---- working directory ---- */

int chdir(const char *path)
{
    char fp[BFS_PATH_MAX];
    benchfs_t *fs;
    int r = resolve(AT_FDCWD, path, fp, &fs);
    if (r == 0) {
        int rc = REAL(chdir)(BFS_LIBC_PATH(path, fp));
        if (rc == 0)
            bfs_pl_set_cwd(NULL);
        return rc;
    }
    if (r < 0)
        return (int)bfs_pl_ret(r);
    /* The working directory is the real path (symlinks followed), so
     * that ".." and relative names later resolve from where it is. */
    char real[BFS_PATH_MAX];
    struct stat st;
    int rc = benchfs_realpath(fs, fp, real);
    if (rc == -BENCHFS_EOUTSIDE) {
        rc = REAL(chdir)(benchfs_outside_path());
        if (rc == 0)
            bfs_pl_set_cwd(NULL);
        return rc;
    }
    if (rc == 0)
        rc = benchfs_stat(fs, real, &st);
    if (rc == 0 && !S_ISDIR(st.st_mode))
        rc = -ENOTDIR;
    if (rc == 0)
        bfs_pl_set_cwd(real);
    return (int)bfs_pl_ret(rc);
}

int fchdir(int fd)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of) {
        int rc = REAL(fchdir)(fd);
        if (rc == 0)
            bfs_pl_set_cwd(NULL);
        return rc;
    }
    int rc = of->is_dir ? 0 : -ENOTDIR;
    if (rc == 0)
        bfs_pl_set_cwd(of->path);
    bfs_pl_put(of);
    return (int)bfs_pl_ret(rc);
}

static char *host_path(const char *fp, char *buf, size_t size)
{
    const char *m = bfs_pl_mount();
    size_t need = bfs_pl_mount_len() + (strcmp(fp, "/") ? strlen(fp) : 0) + 1;
    if (!buf) {
        size = need > size ? need : size;
        if (!(buf = malloc(size)))
            return NULL;
    } else if (size < need) {
        errno = ERANGE;
        return NULL;
    }
    snprintf(buf, size, "%s%s", m, strcmp(fp, "/") ? fp : "");
    return buf;
}

char *getcwd(char *buf, size_t size)
{
    const char *cwd = bfs_pl_cwd();
    if (!cwd[0])
        return REAL(getcwd)(buf, size);
    return host_path(cwd, buf, size);
}

char *get_current_dir_name(void)
{
    const char *cwd = bfs_pl_cwd();
    if (!cwd[0])
        return REAL(get_current_dir_name)();
    return host_path(cwd, NULL, 0);
}

char *realpath(const char *path, char *resolved)
{
    char fp[BFS_PATH_MAX];
    benchfs_t *fs;
    int r = resolve(AT_FDCWD, path, fp, &fs);
    if (r == 0)
        return REAL(realpath)(BFS_LIBC_PATH(path, fp), resolved);
    if (r < 0) {
        errno = -r;
        return NULL;
    }
    char real[BFS_PATH_MAX];
    int rc = benchfs_realpath(fs, fp, real);
    if (rc == -BENCHFS_EOUTSIDE) {
        snprintf(fp, BFS_PATH_MAX, "%s", benchfs_outside_path());
        return REAL(realpath)(fp, resolved);
    }
    if (rc < 0) {
        errno = -rc;
        return NULL;
    }
    return host_path(real, resolved, resolved ? PATH_MAX : 0);
}

char *canonicalize_file_name(const char *path) { return realpath(path, NULL); }

char *__realpath_chk(const char *path, char *resolved, size_t len)
{
    (void)len;
    return realpath(path, resolved);
}

/* ---- extended attributes: none on BenchFS ---- */

ssize_t getxattr(const char *path, const char *name, void *v, size_t n)
{
    PATH_CALL(AT_FDCWD, path, REAL(getxattr)(path, name, v, n), -ENOTSUP);
}

ssize_t lgetxattr(const char *path, const char *name, void *v, size_t n)
{
    PATH_CALL(AT_FDCWD, path, REAL(lgetxattr)(path, name, v, n), -ENOTSUP);
}

ssize_t fgetxattr(int fd, const char *name, void *v, size_t n)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(fgetxattr)(fd, name, v, n);
    return bfs_pl_ret(-ENOTSUP);
}

ssize_t listxattr(const char *path, char *list, size_t n)
{
    PATH_CALL(AT_FDCWD, path, REAL(listxattr)(path, list, n), 0);
}

ssize_t llistxattr(const char *path, char *list, size_t n)
{
    PATH_CALL(AT_FDCWD, path, REAL(llistxattr)(path, list, n), 0);
}

ssize_t flistxattr(int fd, char *list, size_t n)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(flistxattr)(fd, list, n);
    return 0;
}

/* Setting one (libacl's acl_set_file, which cp -a calls for directories)
 * must not reach the kernel with a BenchFS path (ENOENT there): ENOTSUP,
 * which cp and tar take as "no ACLs here". */
int setxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    PATH_CALL(AT_FDCWD, path, REAL(setxattr)(path, name, v, n, flags), -ENOTSUP);
}

int lsetxattr(const char *path, const char *name, const void *v, size_t n, int flags)
{
    PATH_CALL(AT_FDCWD, path, REAL(lsetxattr)(path, name, v, n, flags), -ENOTSUP);
}

int removexattr(const char *path, const char *name)
{
    PATH_CALL(AT_FDCWD, path, REAL(removexattr)(path, name), -ENOTSUP);
}

int lremovexattr(const char *path, const char *name)
{
    PATH_CALL(AT_FDCWD, path, REAL(lremovexattr)(path, name), -ENOTSUP);
}

int fsetxattr(int fd, const char *name, const void *v, size_t n, int flags)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(fsetxattr)(fd, name, v, n, flags);
    return (int)bfs_pl_ret(-ENOTSUP);
}

static ssize_t readlink_fs(benchfs_t *fs, const char *fp, char *buf, size_t n)
{
    if (n == 0)
        return -EINVAL;
    return benchfs_readlink(fs, fp, buf, n);
}

ssize_t readlink(const char *path, char *buf, size_t n)
{
    PATH_CALL(AT_FDCWD, path, REAL(readlink)(path, buf, n), readlink_fs(fs, fp, buf, n));
}

ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t n)
{
    PATH_CALL_DIRFD(path, REAL(readlinkat)(dirfd, path, buf, n), readlink_fs(fs, fp, buf, n));
}

ssize_t __readlink_chk(const char *path, char *buf, size_t n, size_t buflen)
{
    (void)buflen;
    return readlink(path, buf, n);
}

ssize_t __readlinkat_chk(int dirfd, const char *path, char *buf, size_t n, size_t buflen)
{
    (void)buflen;
    return readlinkat(dirfd, path, buf, n);
}

/* The target is stored as given; only the link's own path decides where
 * it lives. */
/* A target that is not readable memory is EFAULT, as the kernel says: it
 * reads the target before it looks at the new name (""), so this syscall
 * checks the pointer without creating anything. */
static int symlink_fs(benchfs_t *fs, const char *target, const char *fp)
{
    if (bfs_pl_is_null(target))
        return -EFAULT;
    if (syscall(SYS_symlinkat, target, AT_FDCWD, "") < 0 && errno == EFAULT)
        return -EFAULT;
    return benchfs_symlink(fs, target, fp);
}

int symlink(const char *target, const char *path)
{
    PATH_CALL(AT_FDCWD, path, REAL(symlink)(target, path), symlink_fs(fs, target, fp));
}

int symlinkat(const char *target, int dirfd, const char *path)
{
    PATH_CALL_DIRFD(path, REAL(symlinkat)(target, dirfd, path), symlink_fs(fs, target, fp));
}

/* FIFOs and sockets are stored in BenchFS (benchfs_mknod); opening one is
 * the kernel's, on the FUSE mount (posix_io.c). glibc's mkfifo calls its
 * internal mknodat, not the exported one: both are interposed. Devices:
 * EPERM. */
static int mknod_fs(benchfs_t *fs, const char *fp, mode_t mode)
{
    return benchfs_mknod(fs, fp, (mode & S_IFMT) | (mode & 07777 & ~bfs_pl_umask()));
}

int mknod(const char *path, mode_t mode, dev_t dev)
{
    PATH_CALL(AT_FDCWD, path, REAL(mknod)(path, mode, dev), mknod_fs(fs, fp, mode));
}

int mknodat(int dirfd, const char *path, mode_t mode, dev_t dev)
{
    PATH_CALL_DIRFD(path, REAL(mknodat)(dirfd, path, mode, dev), mknod_fs(fs, fp, mode));
}

int mkfifo(const char *path, mode_t mode)
{
    PATH_CALL(AT_FDCWD, path, REAL(mkfifo)(path, mode), mknod_fs(fs, fp, S_IFIFO | (mode & 07777)));
}

int mkfifoat(int dirfd, const char *path, mode_t mode)
{
    PATH_CALL_DIRFD(path, REAL(mkfifoat)(dirfd, path, mode),
                    mknod_fs(fs, fp, S_IFIFO | (mode & 07777)));
}

/* Hard links inside BenchFS; between BenchFS and a local file system EXDEV,
 * as between two mounts. */
static int link_paths(int fromdir, const char *from, int todir, const char *to, int flags)
{
    char ff[BFS_PATH_MAX], tf[BFS_PATH_MAX];
    int a = bfs_pl_resolve(fromdir, from, ff), b = bfs_pl_resolve(todir, to, tf);
    if (a < 0 || b < 0)
        return (int)bfs_pl_ret(a < 0 ? a : b);
    if (a == 0 && b == 0)
        return REAL(linkat)(ff[0] ? AT_FDCWD : fromdir, BFS_LIBC_PATH(from, ff),
                            tf[0] ? AT_FDCWD : todir, BFS_LIBC_PATH(to, tf), flags);
    if (a == 0 || b == 0)
        return (int)bfs_pl_ret(-EXDEV);
    bfs_pl_count(BFS_CNT_META);
    benchfs_t *fs = bfs_pl_fs();
    if (!fs)
        return (int)bfs_pl_ret(-EIO);
    char real[BFS_PATH_MAX];
    if (flags & AT_SYMLINK_FOLLOW) {
        /* Link to what the symlink names, not to the symlink. */
        int rc = benchfs_realpath(fs, ff, real);
        if (rc == -BENCHFS_EOUTSIDE)
            rc = -EXDEV;
        if (rc < 0)
            return (int)bfs_pl_ret(rc);
        memcpy(ff, real, sizeof(real));
    }
    int rc = benchfs_link(fs, ff, tf);
    return (int)bfs_pl_ret(rc == -BENCHFS_EOUTSIDE ? -EXDEV : rc);
}

int link(const char *from, const char *to) { return link_paths(AT_FDCWD, from, AT_FDCWD, to, 0); }

int linkat(int fromdir, const char *from, int todir, const char *to, int flags)
{
    return link_paths(fromdir, from, todir, to, flags);
}
