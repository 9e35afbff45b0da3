/* Client API: namespace operations (create, stat, remove, rename, ...). */
#include "client_internal.h"
#include "../common/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

static uint8_t dtype(uint32_t mode) { return S_ISDIR(mode) ? DT_DIR : DT_REG; }

static int same_server_as_parent(benchfs_t *fs, const char *path, size_t plen)
{
    size_t dlen = bfs_path_parent_len(path, plen);
    return bfs_cl_meta_server(fs, path, plen) == bfs_cl_meta_server(fs, path, dlen);
}

/* Create an inode and its entry in the parent. The entry lives on the
 * parent's server: when that is the inode's server too, one RPC does both;
 * otherwise both RPCs go out together and a failed entry (no such parent)
 * undoes the inode. Returns 0 new, 1 existed (not excl), or -errno. */
int bfs_cl_create(benchfs_t *fs, const char *path, size_t plen, uint32_t mode, int excl,
                  struct bfs_inode *ino)
{
    if (plen == 1)
        return -EEXIST;
    struct bfs_cl_meta m = {
        .op = BFS_OP_CREATE,
        .flags = excl ? BFS_F_EXCL : 0,
        .arg0 = mode,
        .arg1 = (uint64_t)fs->uid << 32 | fs->gid,
        .offset = (uint64_t)bfs_wall_ns(),
        .ino = ino,
    };
    if (same_server_as_parent(fs, path, plen)) {
        m.flags |= BFS_F_DIRENT;
        return bfs_cl_meta_call(fs, path, plen, &m);
    }
    bfs_rpc_call_t calls[2];
    struct iovec iov[2][3];
    bfs_cl_meta_prep(fs, &calls[0], iov[0], path, plen, &m);
    size_t dlen = bfs_path_parent_len(path, plen);
    const char *base = bfs_path_base(path, plen);
    struct bfs_cl_meta d = {
        .op = BFS_OP_DIRENT_ADD,
        .arg0 = dtype(mode),
        .extra = base,
        .extra_len = plen - (size_t)(base - path),
    };
    bfs_cl_meta_prep(fs, &calls[1], iov[1], path, dlen, &d);
    bfs_rpc_call_t *ptrs[2] = {&calls[0], &calls[1]};
    bfs_rpc_start(fs->rpc, &calls[0]);
    bfs_rpc_start(fs->rpc, &calls[1]);
    bfs_rpc_wait_all(fs->rpc, ptrs, 2);
    if (calls[1].status < 0) {
        if (calls[0].status == 0) {
            struct bfs_cl_meta r = {.op = BFS_OP_REMOVE, .arg0 = BFS_RM_ANY};
            bfs_cl_meta_call(fs, path, plen, &r);
        }
        return calls[1].status;
    }
    return calls[0].status;
}

int benchfs_stat(benchfs_t *fs, const char *p, struct stat *st)
{
    char path[BFS_PATH_MAX];
    ssize_t plen = bfs_cl_path(p, path);
    if (plen < 0)
        return (int)plen;
    struct bfs_inode ino;
    struct bfs_cl_meta m = {.op = BFS_OP_STAT, .ino = &ino};
    int rc = bfs_cl_meta_call(fs, path, (size_t)plen, &m);
    if (rc < 0)
        return rc;
    bfs_cl_inode_to_stat(fs, &ino, st);
    return 0;
}

int benchfs_mkdir(benchfs_t *fs, const char *p, mode_t mode)
{
    char path[BFS_PATH_MAX];
    ssize_t plen = bfs_cl_path(p, path);
    if (plen < 0)
        return (int)plen;
    struct bfs_inode ino;
    int rc = bfs_cl_create(fs, path, (size_t)plen, S_IFDIR | (mode & 07777), 1, &ino);
    return rc < 0 ? rc : 0;
}

/* Remove path (kind BFS_RM_*) and its entry in the parent; *ino: what was
 * removed. */
static int remove_path(benchfs_t *fs, const char *path, size_t plen, int kind,
                       struct bfs_inode *ino)
{
    if (plen == 1)
        return -EBUSY;
    int local = same_server_as_parent(fs, path, plen);
    struct bfs_cl_meta m = {
        .op = BFS_OP_REMOVE,
        .arg0 = (uint64_t)kind,
        .flags = local ? BFS_F_DIRENT : 0,
        .ino = ino,
    };
    int rc = bfs_cl_meta_call(fs, path, plen, &m);
    if (rc < 0)
        return rc;
    if (!local)
        bfs_cl_dirent(fs, path, plen, 0, 0);
    return 0;
}

int benchfs_rmdir(benchfs_t *fs, const char *p)
{
    char path[BFS_PATH_MAX];
    ssize_t plen = bfs_cl_path(p, path);
    if (plen < 0)
        return (int)plen;
    struct bfs_inode ino;
    return remove_path(fs, path, (size_t)plen, BFS_RM_DIR, &ino);
}

int benchfs_unlink(benchfs_t *fs, const char *p)
{
    char path[BFS_PATH_MAX];
    ssize_t plen = bfs_cl_path(p, path);
    if (plen < 0)
        return (int)plen;
    if (plen == 1)
        return -EISDIR;
    struct bfs_inode ino;
    int rc = remove_path(fs, path, (size_t)plen, BFS_RM_FILE, &ino), freed = 0;
    if (rc == -ENOSPC) {
        /* The metadata server's disk is full and even a removal needs a few
         * pages: free the file's data first, then remove it. */
        struct bfs_cl_meta st = {.op = BFS_OP_STAT, .ino = &ino};
        if (bfs_cl_meta_call(fs, path, (size_t)plen, &st) == 0 && S_ISREG(ino.mode) &&
            ino.size > 0 && bfs_cl_trunc_chunks(fs, ino.fid, 0, ino.size) == 0) {
            freed = 1;
            rc = remove_path(fs, path, (size_t)plen, BFS_RM_FILE, &ino);
        }
    }
    if (rc == 0 && ino.size > 0 && !freed)
        bfs_cl_trunc_chunks(fs, ino.fid, 0, ino.size);
    return rc;
}

int benchfs_chmod(benchfs_t *fs, const char *p, mode_t mode)
{
    char path[BFS_PATH_MAX];
    ssize_t plen = bfs_cl_path(p, path);
    if (plen < 0)
        return (int)plen;
    struct bfs_cl_meta m = {.op = BFS_OP_CHMOD, .arg0 = mode & 07777,
                            .offset = (uint64_t)bfs_wall_ns()};
    return bfs_cl_meta_call(fs, path, (size_t)plen, &m);
}

static int64_t ts_ns(const struct timespec *t, int64_t now)
{
    if (!t || t->tv_nsec == UTIME_NOW)
        return now;
    if (t->tv_nsec == UTIME_OMIT)
        return -1;
    return (int64_t)t->tv_sec * 1000000000ll + t->tv_nsec;
}

int benchfs_utimens(benchfs_t *fs, const char *p, const struct timespec times[2])
{
    char path[BFS_PATH_MAX];
    ssize_t plen = bfs_cl_path(p, path);
    if (plen < 0)
        return (int)plen;
    int64_t now = bfs_wall_ns();
    struct bfs_cl_meta m = {
        .op = BFS_OP_UTIMENS,
        .arg0 = (uint64_t)ts_ns(times ? &times[0] : NULL, now),
        .arg1 = (uint64_t)ts_ns(times ? &times[1] : NULL, now),
        .offset = (uint64_t)now,
    };
    return bfs_cl_meta_call(fs, path, (size_t)plen, &m);
}

int bfs_cl_truncate(benchfs_t *fs, const char *path, size_t plen, uint64_t size)
{
    struct bfs_inode before;
    struct bfs_cl_meta m = {.op = BFS_OP_SETSIZE, .arg0 = size,
                            .offset = (uint64_t)bfs_wall_ns(), .ino = &before};
    int rc = bfs_cl_meta_call(fs, path, plen, &m);
    if (rc < 0)
        return rc;
    if (size < before.size)
        return bfs_cl_trunc_chunks(fs, before.fid, size, before.size);
    return 0;
}

int benchfs_truncate(benchfs_t *fs, const char *p, off_t size)
{
    char path[BFS_PATH_MAX];
    ssize_t plen = bfs_cl_path(p, path);
    if (plen < 0)
        return (int)plen;
    if (size < 0)
        return -EINVAL;
    return bfs_cl_truncate(fs, path, (size_t)plen, (uint64_t)size);
}

int benchfs_statfs(benchfs_t *fs, struct statvfs *out)
{
    unsigned n = fs->nservers;
    struct bfs_statfs *st = calloc(n, sizeof(*st));
    struct iovec *iov = calloc(n, sizeof(*iov));
    bfs_rpc_call_t *calls = NULL;
    int rc = -ENOMEM;
    if (!st || !iov)
        goto out;
    for (unsigned i = 0; i < n; i++) {
        iov[i].iov_base = &st[i];
        iov[i].iov_len = sizeof(st[i]);
    }
    bfs_rpc_call_t t = {.rpc_id = BFS_OP_STATFS};
    if (!(calls = bfs_cl_broadcast(fs, &t, iov, NULL)))
        goto out;
    if ((rc = bfs_cl_first_error(calls, n)) < 0)
        goto out;
    memset(out, 0, sizeof(*out));
    uint64_t bsize = 4096;
    out->f_bsize = out->f_frsize = bsize;
    for (unsigned i = 0; i < n; i++) {
        /* Servers may sit on file systems of different block sizes. */
        out->f_blocks += st[i].blocks * st[i].bsize / bsize;
        out->f_bfree += st[i].bfree * st[i].bsize / bsize;
        out->f_bavail += st[i].bavail * st[i].bsize / bsize;
        out->f_files += st[i].files;
        out->f_ffree += st[i].ffree;
        out->f_favail += st[i].ffree;
    }
    out->f_fsid = 0xbf5;
    out->f_namemax = BFS_NAME_MAX;
out:
    free(calls);
    free(st);
    free(iov);
    return rc;
}

/* ---- rename ---- */

static int put_inode(benchfs_t *fs, const char *path, size_t plen, const struct bfs_inode *ino,
                     struct bfs_inode *old)
{
    int local = same_server_as_parent(fs, path, plen);
    if (!local) {
        int rc = bfs_cl_dirent(fs, path, plen, 1, dtype(ino->mode));
        if (rc < 0)
            return rc;
    }
    struct bfs_cl_meta m = {
        .op = BFS_OP_PUT,
        .flags = local ? BFS_F_DIRENT : 0,
        .extra = ino,
        .extra_len = sizeof(*ino),
        .ino = old,
    };
    return bfs_cl_meta_call(fs, path, plen, &m);
}

static int rename_rec(benchfs_t *fs, const char *src, size_t slen, const char *dst, size_t dlen);

static int rename_dir_children(benchfs_t *fs, const char *src, size_t slen, const char *dst,
                               size_t dlen)
{
    benchfs_dir_t *d;
    int rc = benchfs_opendir(fs, src, &d);
    if (rc < 0)
        return rc;
    /* Children move away as we go, so list them all first. */
    struct benchfs_dirent ent;
    char **names = NULL;
    size_t n = 0, cap = 0;
    while ((rc = benchfs_readdir(d, &ent)) == 1) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) {
                rc = -ENOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(ent.name))) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    benchfs_closedir(d);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        char s[BFS_PATH_MAX], t[BFS_PATH_MAX];
        size_t nl = strlen(names[i]);
        if (slen + 1 + nl >= BFS_PATH_MAX || dlen + 1 + nl >= BFS_PATH_MAX) {
            rc = -ENAMETOOLONG;
            break;
        }
        memcpy(s, src, slen);
        s[slen] = '/';
        memcpy(s + slen + 1, names[i], nl + 1);
        memcpy(t, dst, dlen);
        t[dlen] = '/';
        memcpy(t + dlen + 1, names[i], nl + 1);
        rc = rename_rec(fs, s, slen + 1 + nl, t, dlen + 1 + nl);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc < 0 ? rc : 0;
}

static int rename_rec(benchfs_t *fs, const char *src, size_t slen, const char *dst, size_t dlen)
{
    struct bfs_inode a, b, old;
    struct bfs_cl_meta st = {.op = BFS_OP_STAT, .ino = &a};
    int rc = bfs_cl_meta_call(fs, src, slen, &st);
    if (rc < 0)
        return rc;
    st.ino = &b;
    int have_dst = bfs_cl_meta_call(fs, dst, dlen, &st) == 0;
    if (have_dst) {
        if (S_ISDIR(a.mode) && !S_ISDIR(b.mode))
            return -ENOTDIR;
        if (!S_ISDIR(a.mode) && S_ISDIR(b.mode))
            return -EISDIR;
        if (b.fid == a.fid)
            return 0; /* the same file */
        if (S_ISDIR(b.mode) && (rc = remove_path(fs, dst, dlen, BFS_RM_DIR, &old)) < 0)
            return rc;
    }
    rc = put_inode(fs, dst, dlen, &a, &old);
    if (rc < 0)
        return rc;
    if (rc == 1 && !S_ISDIR(old.mode) && old.fid != a.fid && old.size > 0)
        bfs_cl_trunc_chunks(fs, old.fid, 0, old.size);
    if (S_ISDIR(a.mode) && (rc = rename_dir_children(fs, src, slen, dst, dlen)) < 0)
        return rc;
    return remove_path(fs, src, slen, S_ISDIR(a.mode) ? BFS_RM_DIR : BFS_RM_FILE, &old);
}

int benchfs_rename(benchfs_t *fs, const char *from, const char *to)
{
    char src[BFS_PATH_MAX], dst[BFS_PATH_MAX];
    ssize_t slen = bfs_cl_path(from, src), dlen = bfs_cl_path(to, dst);
    if (slen < 0)
        return (int)slen;
    if (dlen < 0)
        return (int)dlen;
    if (slen == 1 || dlen == 1)
        return -EBUSY;
    if (slen == dlen && !memcmp(src, dst, (size_t)slen))
        return 0;
    if (bfs_path_is_under(dst, (size_t)dlen, src, (size_t)slen))
        return -EINVAL; /* a directory into itself */
    return rename_rec(fs, src, (size_t)slen, dst, (size_t)dlen);
}
