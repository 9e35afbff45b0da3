/* benchfs-fuse operations: the kernel's requests turned into client API
 * calls. Paths from libfuse's high-level API are the BenchFS paths ("/" is
 * the file system's root). An open file's handle (fi->fh) is a struct
 * bfs_fh holding its benchfs_file_t, a directory's its benchfs_dir_t.
 * Errors are the API's negative errno, passed through (bfs_fuse_err). No
 * attribute, entry or data caching (see init): what the servers hold is
 * what callers see. */
#include "fuse_ops.h"
#include "init_flags.h"

#include <dirent.h>
#include <errno.h>
#include <linux/fs.h> /* RENAME_NOREPLACE */
#include <fcntl.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

static struct bfs_fuse *ctx(void) { return fuse_get_context()->private_data; }
static benchfs_t *fs(void) { return ctx()->fs; }

/* An open file's handle (fi->fh) is its benchfs_file_t: the client API
 * names an open file by its id, so a rename or unlink elsewhere (this
 * mount, a preloaded process, another node) never redirects it. */
static benchfs_file_t *F(const struct fuse_file_info *fi) { return (benchfs_file_t *)(uintptr_t)fi->fh; }

/* Files by id: "/.benchfs-id/<16 hex digits>" opens the file with that id
 * (benchfs_open_id), whatever its names are now. The preload library hands
 * a descriptor to the kernel through it when the descriptor's path no
 * longer names its file (renamed or unlinked since the open). The name is
 * reserved at the root of the mount; it is not listed. */
#define BY_ID_DIR "/.benchfs-id"
static int by_id(const char *path, uint64_t *id)
{
    size_t dl = sizeof(BY_ID_DIR) - 1;
    if (!path || strncmp(path, BY_ID_DIR "/", dl + 1))
        return 0;
    const char *h = path + dl + 1;
    uint64_t v = 0;
    int n = 0;
    for (; *h && n <= 16; h++, n++) {
        int d = *h >= '0' && *h <= '9' ? *h - '0' : *h >= 'a' && *h <= 'f' ? *h - 'a' + 10 : -1;
        if (d < 0)
            return 0;
        v = v << 4 | (uint64_t)d;
    }
    if (n != 16 || !v)
        return 0;
    *id = v;
    return 1;
}
static int is_by_id_dir(const char *path) { return path && !strcmp(path, BY_ID_DIR); }

static void *op_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
    struct bfs_fuse *b = fuse_get_context()->private_data;
    /* Processes that use the preload library (or run on other nodes) write
     * to the servers directly: nothing the kernel remembers may outlive one
     * request. Zero timeouts for entries, negative entries and attributes;
     * direct I/O unless --page-cache. */
    cfg->entry_timeout = 0;
    cfg->negative_timeout = 0;
    cfg->attr_timeout = 0;
    cfg->direct_io = !b->page_cache;
    cfg->kernel_cache = 0;
    cfg->auto_cache = 0;
    /* unlink of an open file: libfuse renames it to .fuse_hidden* and
     * unlinks that at the last close (see struct bfs_fh). */
    cfg->hard_remove = 0;
    cfg->nullpath_ok = 0;
    cfg->use_ino = 0;
    /* O_TRUNC arrives with the open (one call, not open + setattr). */
    if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
        conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
    /* Writes go to the servers as they come (no write-back cache). */
    conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
    /* readdir gives names only; attributes come from getattr. */
    conn->want &= ~(unsigned)(FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
    if (b->page_cache && (conn->capable & FUSE_CAP_AUTO_INVAL_DATA))
        conn->want |= FUSE_CAP_AUTO_INVAL_DATA;
    bfs_info("kernel FUSE protocol %u.%u, max_write %u, %s", conn->proto_major, conn->proto_minor,
             conn->max_write, b->page_cache ? "page cache (--page-cache)" : "direct I/O");
    if (!b->page_cache && bfs_fuse_init_flags_state() == BFS_INIT_FLAGS_NOT_OFFERED)
        bfs_warn("this kernel cannot map direct-I/O FUSE files shared (FUSE_DIRECT_IO_ALLOW_MMAP "
                 "is from Linux 6.6): MAP_SHARED fails with ENODEV; --page-cache allows it");
    return b;
}

/* A lookup that timed out makes the kernel drop the name and look it up
 * again at once (fuse_dentry_revalidate): two deadlines for one stat. The
 * paths whose stat timed out in the last second answer ETIMEDOUT at once:
 * an error remembered, never data. */
#define SLOW_SLOTS 16
static struct {
    uint64_t hash, until_ns;
} slow[SLOW_SLOTS];
static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t path_hash(const char *p)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ull;
    return h | 1; /* 0: an empty slot */
}
static uint64_t mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}
static int slow_recently(uint64_t h)
{
    uint64_t now = mono_ns();
    int hit = 0;
    pthread_mutex_lock(&slow_lock);
    for (int i = 0; i < SLOW_SLOTS && !hit; i++)
        hit = slow[i].hash == h && slow[i].until_ns > now;
    pthread_mutex_unlock(&slow_lock);
    return hit;
}
static void slow_remember(uint64_t h)
{
    pthread_mutex_lock(&slow_lock);
    int pick = (int)(h % SLOW_SLOTS);
    slow[pick].hash = h;
    slow[pick].until_ns = mono_ns() + 1000000000ull;
    pthread_mutex_unlock(&slow_lock);
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    if (fi) {
        int rc = benchfs_fstat(F(fi), st);
        return bfs_fuse_err(rc);
    }
    if (!path)
        return -ENOENT;
    uint64_t id;
    if (is_by_id_dir(path)) {
        memset(st, 0, sizeof(*st));
        st->st_mode = S_IFDIR | 0555;
        st->st_nlink = 2;
        return 0;
    }
    if (by_id(path, &id)) {
        benchfs_file_t *f;
        int rc = benchfs_open_id(fs(), id, O_RDONLY, &f);
        if (rc == 0) {
            rc = benchfs_fstat(f, st);
            benchfs_close(f);
        }
        return bfs_fuse_err(rc == -ESTALE ? -ENOENT : rc);
    }
    uint64_t h = path_hash(path);
    if (slow_recently(h))
        return -ETIMEDOUT;
    /* The kernel walks paths and follows symlinks itself (readlink): a
     * symlink is reported as one. */
    int rc = benchfs_lstat(fs(), path, st);
    if (rc == -ETIMEDOUT)
        slow_remember(h);
    return bfs_fuse_err(rc);
}

/* The caller's access to a file, by its mode bits (the kernel does not
 * check them itself: no default_permissions). */
static int op_access(const char *path, int mask)
{
    struct stat st;
    int rc = op_getattr(path, &st, NULL); /* also the by-id names */
    if (rc < 0 || mask == F_OK)
        return bfs_fuse_err(rc);
    const struct fuse_context *c = fuse_get_context();
    if (c->uid == 0) /* root: everything but executing a file with no x bit */
        return (mask & X_OK) && !S_ISDIR(st.st_mode) && !(st.st_mode & 0111) ? -EACCES : 0;
    unsigned shift = c->uid == st.st_uid ? 6 : c->gid == st.st_gid ? 3 : 0;
    unsigned have = (st.st_mode >> shift) & 7;
    return ((unsigned)mask & 7 & ~have) ? -EACCES : 0;
}

static int op_mkdir(const char *path, mode_t mode)
{
    return bfs_fuse_err(benchfs_mkdir(fs(), path, mode));
}

static int op_unlink(const char *path) { return bfs_fuse_err(benchfs_unlink(fs(), path)); }
static int op_rmdir(const char *path) { return bfs_fuse_err(benchfs_rmdir(fs(), path)); }

static int op_rename(const char *from, const char *to, unsigned int flags)
{
    if (flags & ~(unsigned)RENAME_NOREPLACE)
        return -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT: not offered */
    if (flags & RENAME_NOREPLACE) {
        /* Not atomic (the API has no such rename): a target created between
         * this check and the rename is replaced. */
        struct stat st;
        int rc = benchfs_stat(fs(), to, &st);
        if (rc == 0)
            return -EEXIST;
        if (rc != -ENOENT)
            return bfs_fuse_err(rc);
    }
    return bfs_fuse_err(benchfs_rename(fs(), from, to));
}

/* Symlinks are stored as given; the kernel follows them (also to targets
 * outside the mount). A hard link names the object itself (the kernel
 * resolved AT_SYMLINK_FOLLOW already). */
static int op_symlink(const char *target, const char *path)
{
    return bfs_fuse_err(benchfs_symlink(fs(), target, path));
}
static int op_link(const char *from, const char *to)
{
    return bfs_fuse_err(benchfs_link(fs(), from, to));
}
/* FIFOs and sockets (mkfifo, bind): BenchFS stores the node, this kernel
 * makes the pipe or the connection when it is opened, never calling us.
 * The kernel applied the umask already. */
static int op_mknod(const char *path, mode_t mode, dev_t dev)
{
    (void)dev;
    return bfs_fuse_err(benchfs_mknod(fs(), path, mode));
}
/* FUSE wants the target NUL terminated within len. */
static int op_readlink(const char *path, char *buf, size_t len)
{
    if (len == 0)
        return -EINVAL;
    ssize_t n = benchfs_readlink(fs(), path, buf, len - 1);
    if (n < 0)
        return bfs_fuse_err((int)n);
    buf[n] = '\0';
    return 0;
}

static int op_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    if (fi)
        return bfs_fuse_err(benchfs_fchmod(F(fi), mode));
    if (!path)
        return -ENOENT;
    return bfs_fuse_err(benchfs_chmod(fs(), path, mode));
}

/* Ownership cannot change (the API has no chown): a no-op change succeeds,
 * any other is refused. */
static int op_chown(const char *path, uid_t uid, gid_t gid, struct fuse_file_info *fi)
{
    struct stat st;
    int rc;
    if (fi) {
        rc = benchfs_fstat(F(fi), &st);
    } else {
        rc = benchfs_stat(fs(), path, &st);
    }
    if (rc < 0)
        return bfs_fuse_err(rc);
    if ((uid == (uid_t)-1 || uid == st.st_uid) && (gid == (gid_t)-1 || gid == st.st_gid))
        return 0;
    return -EPERM;
}

static int op_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    if (fi) {
        return bfs_fuse_err(benchfs_ftruncate(F(fi), size));
    }
    return bfs_fuse_err(benchfs_truncate(fs(), path, size));
}

static int op_utimens(const char *path, const struct timespec tv[2], struct fuse_file_info *fi)
{
    if (fi)
        return bfs_fuse_err(benchfs_futimens(F(fi), tv));
    if (!path)
        return -ENOENT;
    /* The kernel resolved the path; utimensat(AT_SYMLINK_NOFOLLOW) on a
     * symlink arrives with the symlink's own path. */
    return bfs_fuse_err(benchfs_lutimens(fs(), path, tv));
}

/* open and create: the kernel's flags, of which the API takes the access
 * mode, O_CREAT, O_EXCL, O_TRUNC, O_APPEND. */
static int do_open(const char *path, int flags, mode_t mode, struct fuse_file_info *fi)
{
    benchfs_file_t *f;
    uint64_t id;
    int rc = by_id(path, &id) ? (flags & (O_CREAT | O_TRUNC) ? -EPERM
                                 : benchfs_open_id(fs(), id, flags & (O_ACCMODE | O_APPEND), &f))
                              : benchfs_open(fs(), path, flags, mode, &f);
    if (rc < 0)
        return bfs_fuse_err(rc == -ESTALE ? -ENOENT : rc);
    fi->fh = (uint64_t)(uintptr_t)f;
    fi->direct_io = !ctx()->page_cache;
    fi->keep_cache = 0; /* --page-cache: what was cached before is dropped */
    return 0;
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
    return do_open(path, fi->flags & ~O_CREAT, 0, fi);
}

static int op_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
    return do_open(path, fi->flags | O_CREAT, mode, fi);
}

static int op_read(const char *path, char *buf, size_t len, off_t off, struct fuse_file_info *fi)
{
    benchfs_file_t *f = F(fi);
    int rc = 0;
    size_t got = 0;
    while (rc == 0 && got < len) {
        ssize_t r = benchfs_pread(f, buf + got, len - got, off + (off_t)got);
        if (r < 0)
            rc = (int)r;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got ? (int)got : bfs_fuse_err(rc);
}

static ssize_t write_all(benchfs_file_t *f, const char *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = benchfs_pwrite(f, buf + done, len - done, off + (off_t)done);
        if (r < 0)
            return done ? (ssize_t)done : r;
        if (r == 0)
            return done ? (ssize_t)done : -EIO;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

/* O_APPEND: the kernel writes at the size it last saw, which another node
 * or a preloaded process may have changed since: the bytes go where the
 * file's metadata server reserves them (benchfs_append), atomic against
 * every appender on every node. */
static int op_write(const char *path, const char *buf, size_t len, off_t off,
                    struct fuse_file_info *fi)
{
    benchfs_file_t *f = F(fi);
    ssize_t r = benchfs_file_flags(f) & O_APPEND ? benchfs_append(f, buf, len, NULL)
                                                 : write_all(f, buf, len, off);
    return r < 0 ? bfs_fuse_err(r) : (int)r;
}

/* Data is on the servers once a write returns: close has nothing to flush. */
static int op_flush(const char *path, struct fuse_file_info *fi) { return 0; }

static int op_release(const char *path, struct fuse_file_info *fi)
{
    return bfs_fuse_err(benchfs_close(F(fi))); /* the kernel's last reference */
}

static int op_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    return bfs_fuse_err(benchfs_fsync(F(fi)));
}

static int op_statfs(const char *path, struct statvfs *st)
{
    int rc = benchfs_statfs(fs(), st);
    if (rc == 0 && st->f_namemax == 0)
        st->f_namemax = 255;
    return bfs_fuse_err(rc);
}

static int op_opendir(const char *path, struct fuse_file_info *fi)
{
    benchfs_dir_t *d;
    int rc = benchfs_opendir(fs(), path, &d);
    if (rc < 0)
        return bfs_fuse_err(rc);
    fi->fh = (uint64_t)(uintptr_t)d;
    return 0;
}

/* The whole directory in one call (offset 0 mode: libfuse keeps the
 * listing for the kernel's follow-up reads); a rewind starts over. */
static int op_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    benchfs_dir_t *d = (benchfs_dir_t *)(uintptr_t)fi->fh;
    benchfs_rewinddir(d);
    fill(buf, ".", NULL, 0, 0);
    fill(buf, "..", NULL, 0, 0);
    struct benchfs_dirent e;
    struct stat st;
    memset(&st, 0, sizeof(st));
    int rc;
    while ((rc = benchfs_readdir(d, &e)) == 1) {
        st.st_mode = e.type == DT_DIR ? S_IFDIR : e.type == DT_LNK ? S_IFLNK : S_IFREG;
        if (fill(buf, e.name, &st, 0, 0))
            break;
    }
    return rc < 0 ? bfs_fuse_err(rc) : 0;
}

static int op_releasedir(const char *path, struct fuse_file_info *fi)
{
    return bfs_fuse_err(benchfs_closedir((benchfs_dir_t *)(uintptr_t)fi->fh));
}

static int op_fsyncdir(const char *path, int datasync, struct fuse_file_info *fi) { return 0; }

/* Mode 0 and KEEP_SIZE only: the size grows as asked (the servers store
 * chunks sparsely, so no space is reserved: a later write can still fail
 * with ENOSPC). Hole punching and the other modes: EOPNOTSUPP. */
static int op_fallocate(const char *path, int mode, off_t off, off_t len,
                        struct fuse_file_info *fi)
{
    if (mode & ~FALLOC_FL_KEEP_SIZE)
        return -EOPNOTSUPP;
    if (off < 0 || len <= 0)
        return -EINVAL;
    if (mode & FALLOC_FL_KEEP_SIZE)
        return 0;
    struct stat st;
    benchfs_file_t *f = F(fi);
    int rc = benchfs_fstat(f, &st);
    if (rc == 0 && off + len > st.st_size)
        rc = benchfs_ftruncate(f, off + len);
    return bfs_fuse_err(rc);
}

#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 4)
/* copy_file_range: read and write here, in pieces of at most 1 MiB (the
 * kernel would otherwise fall back to the same through the page cache or
 * splice, or fail for direct-I/O files). */
static ssize_t op_copy_file_range(const char *pin, struct fuse_file_info *fin, off_t oin,
                                  const char *pout, struct fuse_file_info *fout, off_t oout,
                                  size_t len, int flags)
{
    if (flags)
        return -EINVAL;
    size_t piece = len < (1u << 20) ? len : (1u << 20);
    char *buf = malloc(piece ? piece : 1);
    if (!buf)
        return -ENOMEM;
    size_t done = 0;
    ssize_t r = 0;
    benchfs_file_t *src = F(fin), *dst = F(fout);
    while (done < len) {
        size_t n = len - done < piece ? len - done : piece;
        r = benchfs_pread(src, buf, n, oin + (off_t)done);
        if (r <= 0)
            break;
        ssize_t w = write_all(dst, buf, (size_t)r, oout + (off_t)done);
        if (w < 0) {
            r = w;
            break;
        }
        done += (size_t)w;
        if ((size_t)w < n)
            break;
    }
    free(buf);
    if (done == 0 && r < 0)
        return bfs_fuse_err(r);
    return (ssize_t)done;
}
#endif

const struct fuse_operations bfs_fuse_ops = {
    .init = op_init,
    .getattr = op_getattr,
    .access = op_access,
    .readlink = op_readlink,
    .mknod = op_mknod,
    .mkdir = op_mkdir,
    .unlink = op_unlink,
    .rmdir = op_rmdir,
    .symlink = op_symlink,
    .rename = op_rename,
    .link = op_link,
    .chmod = op_chmod,
    .chown = op_chown,
    .truncate = op_truncate,
    .utimens = op_utimens,
    .open = op_open,
    .create = op_create,
    .read = op_read,
    .write = op_write,
    .flush = op_flush,
    .release = op_release,
    .fsync = op_fsync,
    .statfs = op_statfs,
    .opendir = op_opendir,
    .readdir = op_readdir,
    .releasedir = op_releasedir,
    .fsyncdir = op_fsyncdir,
    .fallocate = op_fallocate,
#if FUSE_VERSION >= FUSE_MAKE_VERSION(3, 4)
    .copy_file_range = op_copy_file_range,
#endif
};
