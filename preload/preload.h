/* Internals of libbenchfs.so, the LD_PRELOAD interposition library.
 *
 * Every intercepted call first asks whether its path (or fd) belongs to
 * BenchFS; if not, it goes straight to the next definition (libc) with no
 * other cost than that test. BenchFS paths are those under $BENCHFS_MOUNT
 * (default /benchfs), and relative paths while the working directory is
 * inside it.
 *
 * Each open BenchFS file holds a real kernel fd reserved for it (an O_PATH
 * descriptor of /dev/null), so the numbers we hand out never collide with
 * the process's own, and a call we do not intercept fails with EBADF
 * instead of succeeding into nothing. Where a descriptor can escape the
 * library (exec, fork, fds 0-2, mmap) escape.c hands it to the FUSE mount
 * or carries it across exec (see docs/DESIGN.md). */
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
    off_t offset;           /* directories: entries handed out */
    /* Files: the offset, in this struct (&priv_off) or, once the open file
     * description is shared with other processes (fork, exec), in a slot
     * of the shared offset table (shared_off.c). Atomic. */
    uint64_t *offp;
    uint64_t priv_off;
    int pending;            /* carried across exec: opened on first use */
    uint64_t carried_id;    /* its file id (0: unknown, open by path) */
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

/* ---- descriptor table walks and adoption (state.c) ---- */
/* Call fn for every descriptor in the table (fd, its file, arg). fn may
 * release or replace fd. */
void bfs_pl_each_fd(void (*fn)(int fd, struct bfs_ofile *of, void *arg), void *arg);
/* Put of into the table at fd, which is already a placeholder descriptor
 * (inherited across exec). Takes a reference. */
int bfs_pl_adopt(struct bfs_ofile *of, int fd);
/* Is fd one of our placeholder descriptors (O_PATH /dev/null)? */
int bfs_pl_is_placeholder(int fd);

/* ---- shared offsets (shared_off.c) ---- */
/* Move of's offset into the table shared with children (fork, exec);
 * 0 or -errno. Idempotent. */
int bfs_pl_share_offset(struct bfs_ofile *of);
/* The table's descriptor (-1 if none) and slot index of a shared offset. */
int bfs_pl_shared_fd(void);
long bfs_pl_shared_slot(const struct bfs_ofile *of);
/* Map the table inherited as fd; slot -> pointer (NULL if invalid). */
int bfs_pl_shared_attach(int fd);
uint64_t *bfs_pl_shared_ptr(long slot);

/* ---- escapes (escape.c) ---- */
/* Is a FUSE mount of this job at the mount prefix (BENCHFS_FUSE=1 and the
 * prefix is a FUSE file system)? Decided once. */
int bfs_pl_fuse(void);
/* Move the open file description behind fd (all its descriptors) to the
 * FUSE mount at the same offset: from then on the kernel serves it. 0 or
 * -errno (the descriptor then stays ours). */
int bfs_pl_to_fuse(int fd);
/* fd became one of 0, 1, 2 (dup2, open...): libc's stdio and children
 * reach it without us. */
void bfs_pl_std_fd_taken(int fd);
/* fd 0-2 is no longer ours: give stdio its stream back. */
void bfs_pl_std_fd_dropped(int fd);
/* A stdio stream on BenchFS descriptor fd that fclose does not close
 * (stdio.c). */
FILE *bfs_pl_stream_borrow(int fd, const char *mode);
/* At exit, before the GOODBYE: write out what our streams still buffer
 * (glibc's own flush comes after every destructor, too late). A stream
 * another thread holds locked is left alone. */
void bfs_pl_streams_flush(void);
/* The client if this process is connected (never connects). */
benchfs_t *bfs_pl_fs_connected(void);
/* Rebuild the table inherited across exec (constructor). */
void bfs_pl_adopt_inherited(void);

/* ---- what was caught (report.c; BENCHFS_REPORT=1) ---- */
enum bfs_pl_counter {
    BFS_CNT_OPEN, BFS_CNT_READ, BFS_CNT_WRITE, BFS_CNT_META, BFS_CNT_DIR, BFS_CNT_OTHER,
    BFS_CNT_FUSE, BFS_CNT_CARRIED, BFS_CNT_REFUSED, BFS_CNT_N
};
extern int bfs_pl_report_on;
void bfs_pl_report_init(void);
extern unsigned long bfs_pl_counts[BFS_CNT_N];
static inline void bfs_pl_count(enum bfs_pl_counter c)
{
    if (__builtin_expect(bfs_pl_report_on, 0))
        __atomic_fetch_add(&bfs_pl_counts[c], 1, __ATOMIC_RELAXED);
}
/* Count a refused escape and say, once per process tree, on stderr why
 * (warn_once: only the line). */
void bfs_pl_refused(const char *what);
void bfs_pl_warn_once(const char *what);

#endif
