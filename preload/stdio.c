/* Interposed stdio openers. glibc's own fopen opens files internally
 * without passing through open(), so BenchFS streams are built with
 * fopencookie on a BenchFS descriptor; every stdio function then works on
 * them unchanged. fileno() is interposed to return that descriptor. */
#include "preload.h"
#include "handles.h"

#include <fcntl.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct cookie {
    struct bfs_pl_handle h; /* keyed by the FILE * */
    int fd;
    int borrowed;           /* a standard stream's fd: fclose keeps it */
};

static struct bfs_pl_handles g_cookies = BFS_PL_HANDLES_INIT;

static ssize_t ck_read(void *c, char *buf, size_t n) { return read(((struct cookie *)c)->fd, buf, n); }
static ssize_t ck_write(void *c, const char *buf, size_t n)
{
    ssize_t w = write(((struct cookie *)c)->fd, buf, n);
    return w < 0 ? 0 : w; /* stdio wants 0 on error for writes */
}

static int ck_seek(void *c, off64_t *pos, int whence)
{
    off_t r = lseek(((struct cookie *)c)->fd, *pos, whence);
    if (r < 0)
        return -1;
    *pos = r;
    return 0;
}

static int ck_close(void *c)
{
    struct cookie *k = c;
    bfs_pl_handles_remove(&g_cookies, &k->h);
    int rc = k->borrowed ? 0 : close(k->fd);
    free(k);
    return rc;
}

static int mode_flags(const char *mode)
{
    int flags;
    switch (mode[0]) {
    case 'r': flags = O_RDONLY; break;
    case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
    case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
    default: return -1;
    }
    for (const char *p = mode + 1; *p && *p != ','; p++) {
        if (*p == '+')
            flags = (flags & ~O_ACCMODE) | O_RDWR;
        else if (*p == 'x')
            flags |= O_EXCL;
        else if (*p == 'e')
            flags |= O_CLOEXEC;
    }
    return flags;
}

static FILE *stream_on(int fd, const char *mode)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(fdopen)(fd, mode); /* a FIFO on the FUSE mount */
    struct cookie *k = calloc(1, sizeof(*k));
    if (!k) {
        errno = ENOMEM;
        return NULL;
    }
    k->fd = fd;
    cookie_io_functions_t io = {ck_read, ck_write, ck_seek, ck_close};
    FILE *fp = fopencookie(k, mode, io);
    if (!fp) {
        free(k);
        return NULL;
    }
    bfs_pl_handles_add(&g_cookies, &k->h, fp);
    return fp;
}

FILE *bfs_pl_stream_borrow(int fd, const char *mode)
{
    FILE *fp = stream_on(fd, mode);
    if (fp)
        ((struct cookie *)bfs_pl_handles_find(&g_cookies, fp))->borrowed = 1;
    return fp;
}

void bfs_pl_streams_flush(void)
{
    if (!__atomic_load_n(&g_cookies.n, __ATOMIC_RELAXED) || pthread_mutex_trylock(&g_cookies.mu))
        return;
    for (struct bfs_pl_handle *h = g_cookies.head; h; h = h->next) {
        FILE *fp = (FILE *)h->key;
        /* Output only: flushing a read stream would seek its descriptor
         * back, an offset a forked parent may share. */
        if (ftrylockfile(fp) == 0) {
            if (__fpending(fp))
                fflush_unlocked(fp);
            funlockfile(fp);
        }
    }
    pthread_mutex_unlock(&g_cookies.mu);
}

/* Open path as a BenchFS stream; *handled = 0 when it is not ours. */
static FILE *open_stream(const char *path, const char *mode, int *handled)
{
    char fp[BFS_PATH_MAX];
    int r = bfs_pl_resolve(AT_FDCWD, path, fp);
    *handled = r != 0;
    if (r == 0 && fp[0]) {
        *handled = 1; /* a rewritten host path */
        return REAL(fopen)(fp, mode);
    }
    if (r <= 0) {
        if (r < 0)
            errno = -r;
        return NULL;
    }
    int flags = mode_flags(mode);
    if (flags < 0) {
        errno = EINVAL;
        return NULL;
    }
    int fd = bfs_pl_open(fp, flags, 0666);
    if (fd == -BENCHFS_EOUTSIDE) {
        /* A symlink led out of the mount. */
        snprintf(fp, sizeof(fp), "%s", benchfs_outside_path());
        return REAL(fopen)(fp, mode);
    }
    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    FILE *f = stream_on(fd, mode);
    if (!f)
        close(fd);
    return f;
}

FILE *fopen(const char *path, const char *mode)
{
    int handled;
    FILE *f = open_stream(path, mode, &handled);
    return handled ? f : REAL(fopen)(path, mode);
}

FILE *fopen64(const char *path, const char *mode)
{
    int handled;
    FILE *f = open_stream(path, mode, &handled);
    return handled ? f : REAL(fopen64)(path, mode);
}

FILE *fdopen(int fd, const char *mode)
{
    if (!bfs_pl_is_ours(fd))
        return REAL(fdopen)(fd, mode);
    return stream_on(fd, mode);
}

static FILE *reopen(const char *path, const char *mode, FILE *stream, int is64)
{
    char fp[BFS_PATH_MAX];
    int r = path ? bfs_pl_resolve(AT_FDCWD, path, fp) : 0;
    if (r == 0)
        return is64 ? REAL(freopen64)(BFS_LIBC_PATH(path, fp), mode, stream)
                    : REAL(freopen)(BFS_LIBC_PATH(path, fp), mode, stream);
    int flags = r < 0 ? r : mode_flags(mode);
    int fd = flags < 0 ? (r < 0 ? r : -EINVAL) : bfs_pl_open(fp, flags, 0666);
    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    int std = stream == stdin ? 0 : stream == stdout ? 1 : stream == stderr ? 2 : -1;
    if (std < 0) {
        /* A new stream replaces the old one. */
        FILE *f = stream_on(fd, mode);
        if (!f) {
            close(fd);
            return NULL;
        }
        fclose(stream);
        return f;
    }
    /* A standard stream keeps its descriptor number, as glibc's freopen
     * does, so that children and libc's own writes find the file there:
     * the new file goes onto it (dup2 hands it to FUSE, or repoints the
     * stream at the library, see escape.c). */
    fflush(stream);
    int rc = dup2(fd, std);
    int err = errno;
    close(fd);
    if (rc < 0) {
        errno = err;
        return NULL;
    }
    return std == 0 ? stdin : std == 1 ? stdout : stderr;
}

FILE *freopen(const char *path, const char *mode, FILE *stream) { return reopen(path, mode, stream, 0); }
FILE *freopen64(const char *path, const char *mode, FILE *stream) { return reopen(path, mode, stream, 1); }

static int cookie_fd(FILE *fp)
{
    struct cookie *k = (struct cookie *)bfs_pl_handles_find(&g_cookies, fp);
    return k ? k->fd : -1;
}

int fileno(FILE *fp)
{
    int fd = cookie_fd(fp);
    return fd >= 0 ? fd : REAL(fileno)(fp);
}

int fileno_unlocked(FILE *fp)
{
    int fd = cookie_fd(fp);
    return fd >= 0 ? fd : REAL(fileno_unlocked)(fp);
}
