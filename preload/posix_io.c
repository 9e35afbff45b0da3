/* Interposed file-descriptor calls: open, close, read/write and friends,
 * lseek, dup, fcntl, fsync, truncate, fallocate, sendfile, mmap. */
#include "preload.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define OPEN_MODE(flags, mode)                                                 \
    do {                                                                       \
        if ((flags) & (O_CREAT | __O_TMPFILE)) {                               \
            va_list ap_;                                                       \
            va_start(ap_, flags);                                              \
            mode = (mode_t)va_arg(ap_, int);                                   \
            va_end(ap_);                                                       \
        }                                                                      \
    } while (0)

int bfs_pl_open(const char *fspath, int flags, mode_t mode)
{
    if ((flags & __O_TMPFILE) == __O_TMPFILE)
        return -EOPNOTSUPP;
    benchfs_t *fs = bfs_pl_fs();
    if (!fs)
        return -EIO;
    bfs_pl_count(BFS_CNT_OPEN);
    benchfs_file_t *f;
    int acc = (flags & O_PATH) ? O_RDONLY : flags;
    int rc = benchfs_open(fs, fspath, acc, mode & ~bfs_pl_umask(), &f);
    if (rc == -ENXIO && bfs_pl_fuse()) {
        /* A FIFO or socket (benchfs_mknod): the kernel's pipe or socket on
         * the FUSE mount, a descriptor that is not ours. */
        char host[2 * BFS_PATH_MAX];
        snprintf(host, sizeof(host), "%s%s", bfs_pl_mount(), fspath);
        int fd = REAL(open)(host, flags, mode);
        return fd < 0 ? -errno : fd;
    }
    if (rc < 0)
        return rc;
    struct bfs_ofile *of = bfs_pl_ofile_new(benchfs_file_path(f), flags);
    if (!of) {
        benchfs_close(f);
        return -ENOMEM;
    }
    of->file = f;
    of->is_dir = S_ISDIR(benchfs_file_mode(f));
    int fd = bfs_pl_install(of, (flags & O_CLOEXEC) != 0, -1, -1);
    bfs_pl_put(of);
    return fd;
}

/* The open family: BenchFS paths open here, others go to libc (with the
 * rewritten path when resolution produced one). */
#define OPEN_BODY(dirfd, real_call)                                            \
    do {                                                                       \
        char fp[BFS_PATH_MAX];                                                 \
        int r = bfs_pl_resolve(dirfd, path, fp);                               \
        if (r == 0) {                                                          \
            if (fp[0]) {                                                       \
                path = fp;                                                     \
                dirfd_ = AT_FDCWD;                                             \
            }                                                                  \
            return real_call;                                                  \
        }                                                                      \
        int rc_ = r < 0 ? r : bfs_pl_open(fp, flags, mode);                    \
        if (rc_ == -BENCHFS_EOUTSIDE) {                                        \
            /* A symlink led out of the mount: libc opens the host path. */   \
            snprintf(fp, sizeof(fp), "%s", benchfs_outside_path());            \
            path = fp;                                                         \
            dirfd_ = AT_FDCWD;                                                 \
            return real_call;                                                  \
        }                                                                      \
        return (int)bfs_pl_ret(rc_);                                           \
    } while (0)

int open(const char *path, int flags, ...)
{
    mode_t mode = 0;
    int dirfd_ = AT_FDCWD;
    OPEN_MODE(flags, mode);
    (void)dirfd_;
    OPEN_BODY(AT_FDCWD, REAL(open)(path, flags, mode));
}

int open64(const char *path, int flags, ...)
{
    mode_t mode = 0;
    int dirfd_ = AT_FDCWD;
    OPEN_MODE(flags, mode);
    (void)dirfd_;
    OPEN_BODY(AT_FDCWD, REAL(open64)(path, flags, mode));
}

int openat(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    int dirfd_ = dirfd;
    OPEN_MODE(flags, mode);
    OPEN_BODY(dirfd, REAL(openat)(dirfd_, path, flags, mode));
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    mode_t mode = 0;
    int dirfd_ = dirfd;
    OPEN_MODE(flags, mode);
    OPEN_BODY(dirfd, REAL(openat64)(dirfd_, path, flags, mode));
}

/* Fortified builds call these (open with a constant flags check). */
int __open_2(const char *path, int flags) { return open(path, flags); }
int __open64_2(const char *path, int flags) { return open64(path, flags); }
int __openat_2(int dirfd, const char *path, int flags) { return openat(dirfd, path, flags); }
int __openat64_2(int dirfd, const char *path, int flags) { return openat64(dirfd, path, flags); }

int creat(const char *path, mode_t mode) { return open(path, O_CREAT | O_WRONLY | O_TRUNC, mode); }
int creat64(const char *path, mode_t mode) { return open64(path, O_CREAT | O_WRONLY | O_TRUNC, mode); }

int close(int fd)
{
    if (bfs_pl_is_ours(fd))
        bfs_pl_release(fd);
    return REAL(close)(fd);
}

/* ---- data ---- */

static ssize_t of_size(struct bfs_ofile *of)
{
    struct stat st;
    int rc = benchfs_fstat(of->file, &st);
    return rc < 0 ? rc : (ssize_t)st.st_size;
}

static size_t iov_total(const struct iovec *iov, int cnt)
{
    size_t t = 0;
    for (int i = 0; i < cnt; i++)
        t += iov[i].iov_len;
    return t;
}

/* Transfer at the file offset (off < 0) or at off, like read/pread. */
static ssize_t of_rw(struct bfs_ofile *of, const struct iovec *iov, int cnt, off_t off, int writing)
{
    /* The client API checks mode, type and offset; O_PATH files reach it
     * as O_RDONLY, so that one is ours. */
    if (!of->file || (of->flags & O_PATH))
        return -EBADF;
    if (off >= 0)
        return writing ? benchfs_pwritev(of->file, iov, cnt, off) : benchfs_preadv(of->file, iov, cnt, off);
    ssize_t r;
    if (writing && (of->flags & O_APPEND)) {
        /* The metadata server picks the offset (atomic across processes
         * and nodes); the file offset then ends after the record. */
        off_t at = 0;
        r = benchfs_appendv(of->file, iov, cnt, &at);
        if (r >= 0)
            __atomic_store_n(of->offp, (uint64_t)at + (uint64_t)r, __ATOMIC_RELAXED);
        return r;
    }
    /* The range is taken from the offset atomically: threads, and processes
     * sharing the description through fork or exec (the offset then lives
     * in shared memory), each get their own bytes, as with a kernel file.
     * A short transfer gives back what it did not use, unless another
     * caller moved the offset meanwhile. */
    uint64_t total = iov_total(iov, cnt);
    uint64_t pos = __atomic_fetch_add(of->offp, total, __ATOMIC_RELAXED);
    if (pos > (uint64_t)INT64_MAX - total) {
        __atomic_fetch_sub(of->offp, total, __ATOMIC_RELAXED);
        return -EINVAL;
    }
    r = writing ? benchfs_pwritev(of->file, iov, cnt, (off_t)pos)
                : benchfs_preadv(of->file, iov, cnt, (off_t)pos);
    uint64_t want = pos + total, got = pos + (r > 0 ? (uint64_t)r : 0);
    if (got != want)
        __atomic_compare_exchange_n(of->offp, &want, got, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED);
    return r;
}

static ssize_t fd_rw(int fd, const struct iovec *iov, int cnt, off_t off, int writing)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return -EBADF;
    bfs_pl_count(writing ? BFS_CNT_WRITE : BFS_CNT_READ);
    ssize_t r = of_rw(of, iov, cnt, off, writing);
    bfs_pl_put(of);
    return r;
}

ssize_t read(int fd, void *buf, size_t n)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(read)(fd, buf, n);
    struct iovec iov = {buf, n};
    return bfs_pl_ret(fd_rw(fd, &iov, 1, -1, 0));
}

ssize_t write(int fd, const void *buf, size_t n)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(write)(fd, buf, n);
    struct iovec iov = {(void *)buf, n};
    return bfs_pl_ret(fd_rw(fd, &iov, 1, -1, 1));
}

ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(pread)(fd, buf, n, off);
    if (off < 0)
        return bfs_pl_ret(-EINVAL);
    struct iovec iov = {buf, n};
    return bfs_pl_ret(fd_rw(fd, &iov, 1, off, 0));
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(pwrite)(fd, buf, n, off);
    if (off < 0)
        return bfs_pl_ret(-EINVAL);
    struct iovec iov = {(void *)buf, n};
    return bfs_pl_ret(fd_rw(fd, &iov, 1, off, 1));
}

ssize_t pread64(int fd, void *buf, size_t n, off64_t off) { return pread(fd, buf, n, off); }
ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off) { return pwrite(fd, buf, n, off); }

ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(readv)(fd, iov, cnt);
    return bfs_pl_ret(fd_rw(fd, iov, cnt, -1, 0));
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(writev)(fd, iov, cnt);
    return bfs_pl_ret(fd_rw(fd, iov, cnt, -1, 1));
}

ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(preadv)(fd, iov, cnt, off);
    return bfs_pl_ret(off < 0 ? -EINVAL : fd_rw(fd, iov, cnt, off, 0));
}

ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(pwritev)(fd, iov, cnt, off);
    return bfs_pl_ret(off < 0 ? -EINVAL : fd_rw(fd, iov, cnt, off, 1));
}

ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off) { return preadv(fd, iov, cnt, off); }
ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off) { return pwritev(fd, iov, cnt, off); }

ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(preadv2)(fd, iov, cnt, off, flags);
    return bfs_pl_ret(fd_rw(fd, iov, cnt, off < 0 ? -1 : off, 0));
}

ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(pwritev2)(fd, iov, cnt, off, flags);
    return bfs_pl_ret(fd_rw(fd, iov, cnt, off < 0 ? -1 : off, 1));
}

ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
    return preadv2(fd, iov, cnt, off, flags);
}

ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
    return pwritev2(fd, iov, cnt, off, flags);
}

/* _FORTIFY_SOURCE variants */
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
    if (n > buflen)
        abort();
    return read(fd, buf, n);
}

ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
    if (n > buflen)
        abort();
    return pread(fd, buf, n, off);
}

ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
    if (n > buflen)
        abort();
    return pread(fd, buf, n, off);
}

off_t lseek(int fd, off_t off, int whence)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(lseek)(fd, off, whence);
    off_t rc, cur = of->is_dir ? of->offset : (off_t)__atomic_load_n(of->offp, __ATOMIC_RELAXED);
    pthread_mutex_lock(&of->mu);
    switch (whence) {
    case SEEK_SET: rc = off < 0 ? -EINVAL : off; break;
    case SEEK_CUR: rc = cur + off < 0 ? -EINVAL : cur + off; break;
    case SEEK_END:
    case SEEK_DATA:
    case SEEK_HOLE: {
        ssize_t sz = of->is_dir ? 0 : of_size(of);
        if (sz < 0) {
            rc = sz;
            break;
        }
        if (whence == SEEK_END)
            rc = sz + off;
        else if (off >= sz)
            rc = -ENXIO;
        else
            rc = whence == SEEK_DATA ? off : sz; /* no holes are reported */
        break;
    }
    default: rc = -EINVAL;
    }
    if (rc == 0 && of->is_dir) {
        if (of->dir)
            benchfs_rewinddir(of->dir);
        of->has_pend = 0;
    }
    if (rc >= 0) {
        if (of->is_dir)
            of->offset = rc;
        else
            __atomic_store_n(of->offp, (uint64_t)rc, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&of->mu);
    bfs_pl_put(of);
    return (off_t)bfs_pl_ret(rc);
}

off64_t lseek64(int fd, off64_t off, int whence) { return lseek(fd, off, whence); }

/* ---- descriptors ---- */

int dup(int fd)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(dup)(fd);
    int nfd = bfs_pl_install(of, 0, -1, -1);
    bfs_pl_put(of);
    return (int)bfs_pl_ret(nfd);
}

static int dup_to(int oldfd, int newfd, int flags, int is_dup3)
{
    struct bfs_ofile *of = bfs_pl_get(oldfd);
    if (!of) {
        if (bfs_pl_is_ours(newfd) && oldfd != newfd)
            bfs_pl_release(newfd);
        return is_dup3 ? REAL(dup3)(oldfd, newfd, flags) : REAL(dup2)(oldfd, newfd);
    }
    int rc;
    if (oldfd == newfd)
        rc = is_dup3 ? -EINVAL : newfd;
    else
        rc = bfs_pl_install(of, (flags & O_CLOEXEC) != 0, -1, newfd);
    bfs_pl_put(of);
    return (int)bfs_pl_ret(rc);
}

int dup2(int oldfd, int newfd) { return dup_to(oldfd, newfd, 0, 0); }
int dup3(int oldfd, int newfd, int flags) { return dup_to(oldfd, newfd, flags, 1); }

static int fcntl_ours(struct bfs_ofile *of, int fd, int cmd, long arg)
{
    switch (cmd) {
    case F_GETFL:
        return of->flags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOCTTY | O_CLOEXEC);
    case F_SETFL: {
        const int settable = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
        pthread_mutex_lock(&of->mu);
        of->flags = (of->flags & ~settable) | ((int)arg & settable);
        if (of->file && !of->is_dir)
            benchfs_file_set_append(of->file, (of->flags & O_APPEND) != 0);
        pthread_mutex_unlock(&of->mu);
        return 0;
    }
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        return bfs_pl_install(of, cmd == F_DUPFD_CLOEXEC, (int)arg, -1);
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
        /* No lock manager in BenchFS: with a FUSE mount the description
         * moves there and the kernel locks it (within this node, like
         * sqlite on a local disk); otherwise say so rather than pretend. */
        if (bfs_pl_fuse() && bfs_pl_to_fuse(fd) == 0) {
            int r = REAL(fcntl)(fd, cmd, arg);
            return r < 0 ? -errno : r;
        }
        return -ENOTSUP;
    default: {
        /* F_GETFD/F_SETFD and the rest act on the reserved kernel fd. */
        int r = REAL(fcntl)(fd, cmd, arg);
        return r < 0 ? -errno : r;
    }
    }
}

int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(fcntl)(fd, cmd, arg);
    int rc = fcntl_ours(of, fd, cmd, arg);
    bfs_pl_put(of);
    return (int)bfs_pl_ret(rc);
}

int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    long arg = va_arg(ap, long);
    va_end(ap);
    return fcntl(fd, cmd, arg);
}

int flock(int fd, int op)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(flock)(fd, op);
    if (bfs_pl_fuse() && bfs_pl_to_fuse(fd) == 0)
        return REAL(flock)(fd, op);
    return (int)bfs_pl_ret(-ENOTSUP);
}

/* ---- sync, size, space ---- */

int fsync(int fd)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(fsync)(fd);
    int rc = of->is_dir ? 0 : benchfs_fsync(of->file);
    bfs_pl_put(of);
    return (int)bfs_pl_ret(rc);
}

int fdatasync(int fd)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(fdatasync)(fd);
    return fsync(fd);
}

int ftruncate(int fd, off_t len)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(ftruncate)(fd, len);
    int rc = of->is_dir ? -EISDIR : benchfs_ftruncate(of->file, len);
    bfs_pl_put(of);
    return (int)bfs_pl_ret(rc);
}

int ftruncate64(int fd, off64_t len) { return ftruncate(fd, len); }

int truncate(const char *path, off_t len)
{
    char fp[BFS_PATH_MAX];
    int r = bfs_pl_resolve(AT_FDCWD, path, fp);
    if (r == 0)
        return REAL(truncate)(BFS_LIBC_PATH(path, fp), len);
    if (r < 0)
        return (int)bfs_pl_ret(r);
    benchfs_t *fs = bfs_pl_fs();
    return (int)bfs_pl_ret(fs ? benchfs_truncate(fs, fp, len) : -EIO);
}

int truncate64(const char *path, off64_t len) { return truncate(path, len); }

int posix_fadvise(int fd, off_t off, off_t len, int advice)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(posix_fadvise)(fd, off, len, advice);
    return 0; /* advice only */
}

int posix_fadvise64(int fd, off64_t off, off64_t len, int advice) { return posix_fadvise(fd, off, len, advice); }

/* Allocation: only growing the size is meaningful for BenchFS. */
static int extend(struct bfs_ofile *of, int mode, off_t off, off_t len)
{
    if (mode & ~FALLOC_FL_KEEP_SIZE)
        return -EOPNOTSUPP;
    if (off < 0 || len <= 0)
        return -EINVAL;
    if (of->is_dir)
        return -EISDIR;
    if (mode & FALLOC_FL_KEEP_SIZE)
        return 0;
    ssize_t sz = of_size(of);
    if (sz < 0)
        return (int)sz;
    if (off + len > sz)
        return benchfs_ftruncate(of->file, off + len);
    return 0;
}

int fallocate(int fd, int mode, off_t off, off_t len)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(fallocate)(fd, mode, off, len);
    int rc = extend(of, mode, off, len);
    bfs_pl_put(of);
    return (int)bfs_pl_ret(rc);
}

int fallocate64(int fd, int mode, off64_t off, off64_t len) { return fallocate(fd, mode, off, len); }

int posix_fallocate(int fd, off_t off, off_t len)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(posix_fallocate)(fd, off, len);
    int rc = extend(of, 0, off, len);
    bfs_pl_put(of);
    return -rc; /* returns the error number itself */
}

int posix_fallocate64(int fd, off64_t off, off64_t len) { return posix_fallocate(fd, off, len); }

/* ---- copies and mappings ---- */

ssize_t sendfile(int out, int in, off_t *offset, size_t count)
{
    if (!bfs_pl_is_ours(out) && !bfs_pl_is_ours(in))
        return REAL(sendfile)(out, in, offset, count);
    /* Emulated with read and write through a bounce buffer. */
    size_t bsz = count < (1u << 20) ? count : (1u << 20);
    char *buf = malloc(bsz ? bsz : 1);
    if (!buf)
        return bfs_pl_ret(-ENOMEM);
    size_t done = 0;
    off_t pos = offset ? *offset : 0;
    while (done < count) {
        size_t want = count - done < bsz ? count - done : bsz;
        ssize_t r = offset ? pread(in, buf, want, pos) : read(in, buf, want);
        if (r <= 0) {
            if (r < 0 && done == 0) {
                free(buf);
                return -1;
            }
            break;
        }
        ssize_t w = write(out, buf, (size_t)r);
        if (w < 0) {
            if (done == 0) {
                free(buf);
                return -1;
            }
            break;
        }
        done += (size_t)w;
        pos += w;
        if (w < r)
            break;
    }
    if (offset)
        *offset = pos;
    free(buf);
    return (ssize_t)done;
}

ssize_t sendfile64(int out, int in, off64_t *offset, size_t count) { return sendfile(out, in, offset, count); }

/* Between two BenchFS files: a copy through the library (fsx, cp with
 * --reflink=auto, Python's shutil use it); a BenchFS file and a local one:
 * EXDEV, so callers fall back to read and write. */
static ssize_t copy_ours(struct bfs_ofile *in, off64_t *off_in, struct bfs_ofile *out,
                         off64_t *off_out, size_t len)
{
    if (!in->file || !out->file || in->is_dir || out->is_dir)
        return in->is_dir || out->is_dir ? -EISDIR : -EBADF;
    if ((in->flags & O_ACCMODE) == O_WRONLY || (out->flags & O_ACCMODE) == O_RDONLY ||
        (out->flags & O_APPEND))
        return -EBADF;
    uint64_t pi = off_in ? (uint64_t)*off_in : __atomic_load_n(in->offp, __ATOMIC_RELAXED);
    uint64_t po = off_out ? (uint64_t)*off_out : __atomic_load_n(out->offp, __ATOMIC_RELAXED);
    if ((off_in && *off_in < 0) || (off_out && *off_out < 0))
        return -EINVAL;
    if (in->file == out->file && pi < po + len && po < pi + len)
        return -EINVAL; /* overlapping ranges of one file, as Linux says */
    size_t bsz = len < (1u << 20) ? len : (1u << 20);
    char *buf = malloc(bsz ? bsz : 1);
    if (!buf)
        return -ENOMEM;
    size_t done = 0;
    ssize_t err = 0;
    while (done < len) {
        size_t want = len - done < bsz ? len - done : bsz;
        ssize_t r = benchfs_pread(in->file, buf, want, (off_t)(pi + done));
        if (r <= 0) {
            err = r;
            break;
        }
        ssize_t w = benchfs_pwrite(out->file, buf, (size_t)r, (off_t)(po + done));
        if (w < 0) {
            err = w;
            break;
        }
        done += (size_t)w;
        if (w < r)
            break;
    }
    free(buf);
    if (done == 0 && err < 0)
        return err;
    if (off_in)
        *off_in += (off64_t)done;
    else
        __atomic_fetch_add(in->offp, done, __ATOMIC_RELAXED);
    if (off_out)
        *off_out += (off64_t)done;
    else
        __atomic_fetch_add(out->offp, done, __ATOMIC_RELAXED);
    return (ssize_t)done;
}

ssize_t copy_file_range(int in, off64_t *off_in, int out, off64_t *off_out, size_t len, unsigned flags)
{
    int oi = bfs_pl_is_ours(in), oo = bfs_pl_is_ours(out);
    if (!oi && !oo)
        return REAL(copy_file_range)(in, off_in, out, off_out, len, flags);
    if (!oi || !oo)
        return bfs_pl_ret(-EXDEV);
    if (flags)
        return bfs_pl_ret(-EINVAL);
    struct bfs_ofile *a = bfs_pl_get(in), *b = bfs_pl_get(out);
    ssize_t rc = a && b ? copy_ours(a, off_in, b, off_out, len) : -EBADF;
    if (a)
        bfs_pl_put(a);
    if (b)
        bfs_pl_put(b);
    bfs_pl_count(BFS_CNT_OTHER);
    return bfs_pl_ret(rc);
}

void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
    if (!(flags & MAP_ANONYMOUS) && bfs_pl_is_ours(fd)) {
        /* Only the kernel can map a file: through the FUSE mount, where the
         * descriptor moves for good (escape.c). Without it, say so. */
        if (!bfs_pl_fuse() || bfs_pl_to_fuse(fd) < 0) {
            bfs_pl_refused("mmap of a BenchFS file (no FUSE mount)");
            errno = ENODEV;
            return MAP_FAILED;
        }
    }
    return REAL(mmap)(addr, len, prot, flags, fd, off);
}

/* ioctls on a BenchFS descriptor: none is supported; ENOTTY, as for a
 * regular file asked a terminal ioctl (the placeholder would say EBADF). */
int ioctl(int fd, unsigned long req, ...)
{
    va_list ap;
    va_start(ap, req);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (!bfs_pl_is_ours(fd))
        return REAL(ioctl)(fd, req, arg);
    bfs_pl_count(BFS_CNT_OTHER);
    errno = ENOTTY;
    return -1;
}

void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
    return mmap(addr, len, prot, flags, fd, off);
}

/* ---- syscall(2) ---- */

/* Programs that call syscall() themselves for calls libc did not wrap yet
 * (fsx's copy_file_range, old code's pread64) would hand our placeholder
 * descriptor to the kernel: the calls that take a descriptor go to the
 * library when it is ours; everything else goes to the kernel unchanged. */
long syscall(long nr, ...)
{
    va_list ap;
    va_start(ap, nr);
    long a[6];
    for (int i = 0; i < 6; i++)
        a[i] = va_arg(ap, long);
    va_end(ap);
    int fd = (int)a[0];
    if (nr == SYS_copy_file_range && (bfs_pl_is_ours(fd) || bfs_pl_is_ours((int)a[2])))
        return copy_file_range(fd, (off64_t *)a[1], (int)a[2], (off64_t *)a[3], (size_t)a[4],
                               (unsigned)a[5]);
    if (bfs_pl_is_ours(fd)) {
        switch (nr) {
        case SYS_read: return read(fd, (void *)a[1], (size_t)a[2]);
        case SYS_write: return write(fd, (const void *)a[1], (size_t)a[2]);
        case SYS_pread64: return pread(fd, (void *)a[1], (size_t)a[2], (off_t)a[3]);
        case SYS_pwrite64: return pwrite(fd, (const void *)a[1], (size_t)a[2], (off_t)a[3]);
        case SYS_lseek: return lseek(fd, (off_t)a[1], (int)a[2]);
        case SYS_close: return close(fd);
        case SYS_fsync: return fsync(fd);
        case SYS_fdatasync: return fdatasync(fd);
        case SYS_ftruncate: return ftruncate(fd, (off_t)a[1]);
        case SYS_fallocate: return fallocate(fd, (int)a[1], (off_t)a[2], (off_t)a[3]);
        default: break;
        }
    }
    return REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
