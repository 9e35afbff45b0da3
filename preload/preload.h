/* Internals of libbenchfs.so, the LD_PRELOAD interposition library.
 *
 * Every intercepted call first asks whether its path (or fd) belongs to
 * BenchFS; if not, it goes straight to the next definition (libc) with no
 * other cost than that test. BenchFS paths are those under $BENCHFS_MOUNT
 * (default /benchfs), and relative paths while the working directory is
 * inside it.
 *
 * Each open BenchFS file holds a real kernel fd (a descriptor of /dev/null)
 * reserved for it, so the numbers we hand out never collide with the
 * process's own, and a call we do not intercept fails harmlessly. */
#ifndef BFS_PRELOAD_H
#define BFS_PRELOAD_H

#define _GNU_SOURCE
#include "client/benchfs.h"
#include "common/path.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/types.h>

/* The next definition of a libc function, resolved once per call site. */
#define REAL(fn)                                                               \
    ({                                                                         \
        static __typeof__(&fn) real_;                                          \
        if (__builtin_expect(!real_, 0))                                       \
            real_ = (__typeof__(&fn))dlsym(RTLD_NEXT, #fn);                    \
        real_;                                                                 \
    })

/* An open file description: shared by dup'd descriptors. */
struct bfs_ofile {
    int refs;               /* atomic: the table's and each call's */
    benchfs_file_t *file;   /* regular files and directories */
    benchfs_dir_t *dir;     /* getdents64 cursor, opened on demand */
    struct benchfs_dirent pend; /* an entry that did not fit a getdents64 */
    int has_pend;           /* buffer: returned first next time */
    int is_dir;
    int flags;              /* open flags (access mode, O_APPEND, ...) */
    off_t offset;
    pthread_mutex_t mu;     /* offset and dir cursor */
    char path[BFS_PATH_MAX];/* path inside BenchFS */
};

/* BenchFS itself, connecting on first use. NULL (errno set, EIO, one line on
 * stderr) when the servers cannot be reached. */
benchfs_t *bfs_pl_fs(void);

/* Resolve path (relative to dirfd, as the *at calls do) into a BenchFS
 * path in out. Returns 1 if it is a BenchFS path, 0 if not (use libc), or
 * a negative errno (e.g. -ENAMETOOLONG). When it returns 0 with out
 * non-empty, libc must be given out instead of path (a path that leaves the
 * mount through "..", or one relative to a BenchFS directory). */
int bfs_pl_resolve(int dirfd, const char *path, char out[BFS_PATH_MAX]);
#define BFS_LIBC_PATH(path, out) ((out)[0] ? (const char *)(out) : (path))

/* The process's umask, applied to modes of new files and directories. */
mode_t bfs_pl_umask(void);

/* The open file behind fd, with a reference taken; NULL if fd is not ours. */
struct bfs_ofile *bfs_pl_get(int fd);
void bfs_pl_put(struct bfs_ofile *of);
/* Cheap test without taking a reference. */
int bfs_pl_is_ours(int fd);
/* Give of a new descriptor (>= minfd when minfd >= 0, exactly `exact` when
 * exact >= 0). Returns the fd or -errno. Takes a reference on success. */
int bfs_pl_install(struct bfs_ofile *of, int cloexec, int minfd, int exact);
/* Forget fd (after close): drops its reference. Returns 0 or -EBADF. */
int bfs_pl_release(int fd);
struct bfs_ofile *bfs_pl_ofile_new(const char *path, int flags);

/* The working directory when it is inside BenchFS ("" otherwise). */
const char *bfs_pl_cwd(void);
void bfs_pl_set_cwd(const char *fspath);
const char *bfs_pl_mount(void);
size_t bfs_pl_mount_len(void);

/* glibc declares some pointer arguments nonnull that callers may pass as
 * NULL (utimensat's path); GCC then deletes a plain NULL test. Hide the
 * value from the optimizer. */
static inline int bfs_pl_is_null(const void *p)
{
    __asm__("" : "+r"(p));
    return p == NULL;
}

/* Say once on stderr that the servers cannot be reached. */
void bfs_pl_report_unreachable(int err);

/* Map a negative errno to -1 with errno set. */
static inline long bfs_pl_ret(long rc)
{
    if (rc < 0) {
        if (rc == -ETIMEDOUT || rc == -ECONNREFUSED || rc == -ECONNRESET)
            bfs_pl_report_unreachable((int)-rc);
        errno = (int)-rc;
        return -1;
    }
    return rc;
}

/* Shared by open/openat/creat/fopen. Returns fd or -errno. */
int bfs_pl_open(const char *fspath, int flags, mode_t mode);

#endif
