/* Interposed directory streams and getdents64 for BenchFS directories. */
#include "preload.h"
#include "handles.h"

#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Our DIR: the descriptor it reads through and room for one entry. The
 * streams we handed out are kept in a list so that readdir() can tell ours
 * from libc's; the list is empty (and skipped) in processes that never open
 * a BenchFS directory. */
struct bfs_dirstream {
    struct bfs_pl_handle h; /* first: the set hands it back */
    int fd;
    long pos;
    struct dirent ent;
    struct dirent64 ent64;
};

static struct bfs_pl_handles g_dirs = BFS_PL_HANDLES_INIT;

static struct bfs_dirstream *find_dir(DIR *d)
{
    return (struct bfs_dirstream *)bfs_pl_handles_find(&g_dirs, d);
}

/* The next entry of an open BenchFS directory: ".", "..", then the stored
 * entries. of->offset counts entries handed out. */
static int dir_next(struct bfs_ofile *of, struct benchfs_dirent *e)
{
    if (of->offset < 2) {
        e->type = DT_DIR;
        strcpy(e->name, of->offset == 0 ? "." : "..");
        of->offset++;
        return 1;
    }
    if (of->has_pend) {
        *e = of->pend;
        of->has_pend = 0;
        of->offset++;
        return 1;
    }
    if (!of->dir) {
        benchfs_t *fs = bfs_pl_fs();
        if (!fs)
            return -EIO;
        int rc = benchfs_opendir(fs, of->path, &of->dir);
        if (rc < 0)
            return rc;
    }
    int rc = benchfs_readdir(of->dir, e);
    if (rc == 1)
        of->offset++;
    return rc;
}

static uint64_t name_ino(const char *dir, const char *name)
{
    /* Stable, non-zero inode numbers for d_ino (stat gives the real id). */
    uint64_t h = 1469598103934665603ull;
    for (const char *p = dir; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    for (const char *p = name; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h | 1;
}

ssize_t getdents64(int fd, void *buf, size_t len)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(getdents64)(fd, buf, len);
    if (!of->is_dir) {
        bfs_pl_put(of);
        return bfs_pl_ret(-ENOTDIR);
    }
    pthread_mutex_lock(&of->mu);
    size_t used = 0;
    ssize_t rc = 0;
    for (;;) {
        struct benchfs_dirent e;
        off_t before = of->offset;
        int r = dir_next(of, &e);
        if (r <= 0) {
            rc = r;
            break;
        }
        size_t nl = strlen(e.name);
        size_t reclen = (offsetof(struct dirent64, d_name) + nl + 1 + 7) & ~(size_t)7;
        if (used + reclen > len) {
            /* Does not fit: keep it for the next call. */
            of->pend = e;
            of->has_pend = 1;
            of->offset = before;
            if (used == 0)
                rc = -EINVAL;
            break;
        }
        struct dirent64 *d = (struct dirent64 *)((char *)buf + used);
        d->d_ino = name_ino(of->path, e.name);
        d->d_off = of->offset;
        d->d_reclen = (unsigned short)reclen;
        d->d_type = e.type;
        memcpy(d->d_name, e.name, nl + 1);
        used += reclen;
    }
    pthread_mutex_unlock(&of->mu);
    bfs_pl_put(of);
    if (rc < 0)
        return bfs_pl_ret(rc);
    return (ssize_t)used;
}

static DIR *stream_for(int fd)
{
    struct bfs_dirstream *s = calloc(1, sizeof(*s));
    if (!s) {
        errno = ENOMEM;
        return NULL;
    }
    s->fd = fd;
    bfs_pl_handles_add(&g_dirs, &s->h, s);
    return (DIR *)s;
}

DIR *fdopendir(int fd)
{
    struct bfs_ofile *of = bfs_pl_get(fd);
    if (!of)
        return REAL(fdopendir)(fd);
    int isdir = of->is_dir;
    bfs_pl_put(of);
    if (!isdir) {
        errno = ENOTDIR;
        return NULL;
    }
    return stream_for(fd);
}

DIR *opendir(const char *path)
{
    char fp[BFS_PATH_MAX];
    int r = bfs_pl_resolve(AT_FDCWD, path, fp);
    if (r == 0)
        return REAL(opendir)(BFS_LIBC_PATH(path, fp));
    if (r < 0) {
        errno = -r;
        return NULL;
    }
    int fd = bfs_pl_open(fp, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (fd == -BENCHFS_EOUTSIDE) {
        snprintf(fp, sizeof(fp), "%s", benchfs_outside_path());
        return REAL(opendir)(fp);
    }
    if (fd < 0) {
        errno = -fd;
        return NULL;
    }
    DIR *d = stream_for(fd);
    if (!d)
        close(fd);
    return d;
}

static int next_entry(struct bfs_dirstream *s, struct benchfs_dirent *e, const char **dirpath)
{
    struct bfs_ofile *of = bfs_pl_get(s->fd);
    if (!of)
        return -EBADF;
    pthread_mutex_lock(&of->mu);
    int rc = dir_next(of, e);
    s->pos = of->offset;
    *dirpath = NULL;
    static __thread char path[BFS_PATH_MAX];
    snprintf(path, sizeof(path), "%s", of->path);
    *dirpath = path;
    pthread_mutex_unlock(&of->mu);
    bfs_pl_put(of);
    return rc;
}

struct dirent *readdir(DIR *d)
{
    struct bfs_dirstream *s = find_dir(d);
    if (!s)
        return REAL(readdir)(d);
    bfs_pl_count(BFS_CNT_DIR);
    struct benchfs_dirent e;
    const char *dp;
    /* The end of a directory is NULL with errno untouched, and programs
     * (Python's listdir, find) test errno: the RPCs underneath may leave
     * EAGAIN there from a non-blocking read. */
    int saved = errno;
    int rc = next_entry(s, &e, &dp);
    errno = rc < 0 ? -rc : saved;
    if (rc <= 0)
        return NULL;
    s->ent.d_ino = name_ino(dp, e.name);
    s->ent.d_off = s->pos;
    s->ent.d_reclen = sizeof(s->ent);
    s->ent.d_type = e.type;
    snprintf(s->ent.d_name, sizeof(s->ent.d_name), "%s", e.name);
    return &s->ent;
}

struct dirent64 *readdir64(DIR *d)
{
    struct bfs_dirstream *s = find_dir(d);
    if (!s)
        return REAL(readdir64)(d);
    struct dirent *e = readdir(d);
    if (!e)
        return NULL;
    memcpy(&s->ent64, e, sizeof(s->ent64) < sizeof(*e) ? sizeof(s->ent64) : sizeof(*e));
    return &s->ent64;
}

int readdir_r(DIR *d, struct dirent *entry, struct dirent **result)
{
    if (!find_dir(d))
        return REAL(readdir_r)(d, entry, result);
    int saved = errno;
    errno = 0;
    struct dirent *e = readdir(d);
    int err = errno;
    errno = saved;
    if (!e) {
        *result = NULL;
        return err;
    }
    memcpy(entry, e, sizeof(*entry));
    *result = entry;
    return 0;
}

int closedir(DIR *d)
{
    struct bfs_dirstream *s = find_dir(d);
    if (!s)
        return REAL(closedir)(d);
    bfs_pl_handles_remove(&g_dirs, &s->h);
    int rc = close(s->fd);
    free(s);
    return rc;
}

static void seek_to(struct bfs_dirstream *s, long pos)
{
    struct bfs_ofile *of = bfs_pl_get(s->fd);
    if (!of)
        return;
    pthread_mutex_lock(&of->mu);
    if (of->dir)
        benchfs_rewinddir(of->dir);
    of->has_pend = 0;
    of->offset = 0;
    struct benchfs_dirent e;
    while (of->offset < pos && dir_next(of, &e) == 1)
        ;
    s->pos = of->offset;
    pthread_mutex_unlock(&of->mu);
    bfs_pl_put(of);
}

void rewinddir(DIR *d)
{
    struct bfs_dirstream *s = find_dir(d);
    if (!s) {
        REAL(rewinddir)(d);
        return;
    }
    seek_to(s, 0);
}

long telldir(DIR *d)
{
    struct bfs_dirstream *s = find_dir(d);
    if (!s)
        return REAL(telldir)(d);
    return s->pos;
}

void seekdir(DIR *d, long pos)
{
    struct bfs_dirstream *s = find_dir(d);
    if (!s) {
        REAL(seekdir)(d, pos);
        return;
    }
    seek_to(s, pos);
}

int dirfd(DIR *d)
{
    struct bfs_dirstream *s = find_dir(d);
    if (!s)
        return REAL(dirfd)(d);
    return s->fd;
}
