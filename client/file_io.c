/* Client API: open files and their data path. A transfer is cut at chunk
 * boundaries and every piece goes to its chunk's server at once, straight
 * from (or into) the caller's buffer. */
#include "client_internal.h"
#include "../common/clock.h"
#include "../common/placement.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

/* Pieces in flight per batch: bounds memory for huge transfers. */
#define MAX_INFLIGHT 256

/* A handle on the file whose inode is ino; everything through it goes by
 * ino's id from now on. */
/* A regular file's open registered a reference at its home (BFS_F_OPEN):
 * an open that fails after that drops it again. */
static int open_failed(benchfs_t *fs, const struct bfs_inode *ino, int rc)
{
    if (S_ISREG(ino->mode))
        bfs_cl_close_ref(fs, ino->fid);
    return rc;
}

/* An open reference at the file's home when no lookup could carry one (a
 * walked path, a name found before the create): one STAT by id with
 * BFS_F_OPEN. */
static int register_open(benchfs_t *fs, struct bfs_inode *ino)
{
    uint64_t fid = ino->fid;
    struct bfs_cl_meta st = {.op = BFS_OP_STAT, .flags = BFS_F_OPEN, .ino = ino};
    int rc = bfs_cl_fid_call(fs, fid, &st);
    return rc == -ESTALE ? -ENOENT : rc;
}

static int finish_open(benchfs_t *fs, benchfs_file_t *f, int flags, int created,
                       const struct bfs_inode *ino)
{
    if (S_ISDIR(ino->mode) && ((flags & O_ACCMODE) != O_RDONLY || (flags & O_CREAT && created == 0)))
        return -EISDIR;
    if ((flags & O_DIRECTORY) && !S_ISDIR(ino->mode))
        return -ENOTDIR;
    /* A pipe or a connection is the opening kernel's (the FUSE mount),
     * never bytes in chunks (benchfs_mknod). */
    if (S_ISFIFO(ino->mode) || S_ISSOCK(ino->mode))
        return -ENXIO;
    f->fs = fs;
    f->flags = flags;
    f->fid = ino->fid;
    f->home = bfs_place_home(ino->fid, fs->nservers);
    f->mode = ino->mode;
    f->opened = S_ISREG(ino->mode);
    if ((flags & O_TRUNC) && S_ISREG(ino->mode) && (flags & O_ACCMODE) != O_RDONLY && ino->size > 0)
        return bfs_cl_truncate_fid(fs, f->fid, 0);
    return 0;
}

/* open(O_CREAT): one CREATE at the parent's server on the fast path. An
 * existing symlink is followed (unless O_NOFOLLOW; O_EXCL never follows:
 * the server says EEXIST), and a dangling one's target is created, as
 * Linux does. Returns 0 new, 1 existed (*ino), or -errno; r->path is the
 * real path. */
static int open_create(benchfs_t *fs, const char *user, int flags, mode_t mode, struct bfs_res *r,
                       struct bfs_inode *ino, int *opened)
{
    int excl = (flags & O_EXCL) != 0, fast;
    *opened = 0;
    int rc = bfs_cl_name(fs, user, r, &fast);
    if (rc < 0)
        return rc;
    for (int tries = 0; tries < 44; tries++) {
        int follow = 0;
        if (r->len == 1) {
            rc = bfs_cl_lookup(fs, r->path, 1, ino, NULL, NULL);
            return rc < 0 ? rc : excl ? -EEXIST : 1;
        }
        if (r->found == 1) {
            if (excl)
                return -EEXIST;
            *ino = r->ino;
            if (!S_ISLNK(ino->mode) || (flags & O_NOFOLLOW))
                return 1;
            follow = 1;
        } else if (r->must_dir) {
            return -EISDIR; /* open("new/", O_CREAT) */
        } else {
            rc = bfs_cl_create_open(fs, r->path, r->len, S_IFREG | (mode & 07777), excl, ino);
            *opened = rc >= 0 && S_ISREG(ino->mode); /* the CREATE counted it */
            if (rc == -ENOENT && fast) {
                fast = 0;
                int again = bfs_cl_name_retry(fs, user, r);
                if (again <= 0)
                    return again < 0 ? again : -ENOENT;
                continue;
            }
            if (rc < 0)
                return rc;
            if (rc == 0 || !S_ISLNK(ino->mode) || (flags & O_NOFOLLOW))
                return rc;
            follow = 1;
        }
        if (follow) {
            /* Where the link leads: an existing file, or the name to create
             * (its parent must exist). */
            char link[BFS_PATH_MAX];
            memcpy(link, r->path, r->len + 1);
            rc = bfs_cl_res(fs, link, BFS_RES_FOLLOW | BFS_RES_MAYBE, r);
            if (rc < 0)
                return rc;
            fast = 0;
        }
    }
    return -ELOOP;
}

int benchfs_open(benchfs_t *fs, const char *p, int flags, mode_t mode, benchfs_file_t **out)
{
    benchfs_file_t *f = malloc(sizeof(*f));
    struct bfs_res *r = malloc(sizeof(*r));
    if (!f || !r) {
        free(f);
        free(r);
        return -ENOMEM;
    }
    struct bfs_inode ino;
    int rc, opened = 0;
    if (flags & O_CREAT) {
        rc = open_create(fs, p, flags, mode, r, &ino, &opened);
    } else {
        rc = bfs_cl_res(fs, p, BFS_RES_OPEN | ((flags & O_NOFOLLOW) ? 0 : BFS_RES_FOLLOW), r);
        ino = r->ino;
        opened = r->opened;
    }
    if (rc == -ESTALE)
        rc = -ENOENT; /* unlinked between the name and its inode */
    if (rc >= 0 && S_ISLNK(ino.mode))
        rc = -ELOOP; /* O_NOFOLLOW */
    if (rc >= 0 && r->must_dir && !S_ISDIR(ino.mode))
        rc = -ENOTDIR;
    if (rc >= 0 && S_ISREG(ino.mode) && !opened) {
        /* Found by a walk or before the create: no lookup carried the open
         * reference, so one STAT by id to the home does. */
        int created = rc;
        rc = register_open(fs, &ino);
        if (rc >= 0)
            rc = created;
        else
            opened = -1; /* nothing to give back */
    }
    if (rc >= 0) {
        memcpy(f->path, r->path, r->len + 1);
        f->plen = r->len;
        if ((rc = finish_open(fs, f, flags, rc, &ino)) < 0)
            open_failed(fs, &ino, rc);
    } else if (opened == 1) {
        open_failed(fs, &ino, rc);
    }
    free(r);
    if (rc < 0) {
        free(f);
        return rc;
    }
    *out = f;
    return 0;
}

int benchfs_open_id(benchfs_t *fs, uint64_t id, int flags, benchfs_file_t **out)
{
    if (flags & (O_CREAT | O_EXCL))
        return -EINVAL;
    struct bfs_inode ino;
    struct bfs_cl_meta m = {.op = BFS_OP_STAT, .flags = BFS_F_OPEN, .ino = &ino};
    int rc = bfs_cl_fid_call(fs, id, &m);
    if (rc < 0)
        return rc;
    benchfs_file_t *f = malloc(sizeof(*f));
    if (!f)
        return open_failed(fs, &ino, -ENOMEM);
    f->path[0] = '\0';
    f->plen = 0;
    if ((rc = finish_open(fs, f, flags, 1, &ino)) < 0) {
        free(f);
        return open_failed(fs, &ino, rc);
    }
    *out = f;
    return 0;
}

int benchfs_close(benchfs_file_t *f)
{
    /* Every write was acknowledged after the server's write system call
     * completed, so nothing is buffered here. The open reference goes
     * without a waited-for round trip (close_refs.c). */
    if (f->opened)
        bfs_cl_close_ref(f->fs, f->fid);
    free(f);
    return 0;
}

const char *benchfs_file_path(const benchfs_file_t *f) { return f->path; }
uint64_t benchfs_file_id(const benchfs_file_t *f) { return f->fid; }


int benchfs_file_flags(const benchfs_file_t *f) { return __atomic_load_n(&f->flags, __ATOMIC_RELAXED); }

int benchfs_file_set_append(benchfs_file_t *f, int on)
{
    int old = benchfs_file_flags(f), nf;
    do
        nf = on ? old | O_APPEND : old & ~O_APPEND;
    while (!__atomic_compare_exchange_n(&f->flags, &old, nf, 0, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED));
    return 0;
}
mode_t benchfs_file_mode(const benchfs_file_t *f) { return (mode_t)f->mode; }

/* One piece of a transfer: a part of one chunk, described by a slice of
 * the caller's iovec. */
struct piece {
    bfs_rpc_call_t call;
    struct iovec iov[9]; /* [path] + up to 8 user segments; more go by copy */
    int niov;
    uint64_t len;
    char *bounce;        /* when the user iovec is too fragmented */
    int ui;              /* where in the user's iovec the piece starts */
    size_t uoff;
};

/* The pieces of one transfer, at most MAX_INFLIGHT at a time: on the stack
 * for the common case of a transfer within a few chunks (no allocation). */
#define STACK_PIECES 4
struct pieces {
    struct piece *p;
    bfs_rpc_call_t **ptrs; /* one more than pieces: room for a GROW call */
    int cap;
    struct piece sp[STACK_PIECES];
    bfs_rpc_call_t *sptrs[STACK_PIECES + 1];
};

static int pieces_init(struct pieces *ps, uint64_t pos, uint64_t end, uint64_t cs)
{
    uint64_t need = (end - 1) / cs - pos / cs + 1;
    ps->cap = need < MAX_INFLIGHT ? (int)need : MAX_INFLIGHT;
    if (ps->cap <= STACK_PIECES) {
        ps->p = ps->sp;
        ps->ptrs = ps->sptrs;
        return 0;
    }
    ps->p = malloc(sizeof(*ps->p) * (size_t)ps->cap);
    ps->ptrs = malloc(sizeof(*ps->ptrs) * (size_t)(ps->cap + 1));
    if (!ps->p || !ps->ptrs) {
        free(ps->p);
        free(ps->ptrs);
        return -ENOMEM;
    }
    return 0;
}

static void pieces_free(struct pieces *ps)
{
    if (ps->p != ps->sp) {
        free(ps->p);
        free(ps->ptrs);
    }
}

struct xfer {
    benchfs_file_t *f;
    const struct iovec *uiov;
    int uiovcnt;
    int ui;              /* current user iovec entry */
    size_t uoff;         /* offset within it */
};

/* Describe the next len bytes of the user's iovec in p->iov starting at
 * index first. Returns 0, or -ENOMEM. */
static int take_user(struct xfer *x, struct piece *p, int first, uint64_t len, int writing)
{
    int n = first;
    uint64_t left = len;
    int ui = x->ui;
    size_t uoff = x->uoff;
    while (left > 0 && ui < x->uiovcnt && n < 9) {
        size_t avail = x->uiov[ui].iov_len - uoff;
        size_t take = avail < left ? avail : (size_t)left;
        if (take) {
            p->iov[n].iov_base = (char *)x->uiov[ui].iov_base + uoff;
            p->iov[n].iov_len = take;
            n++;
        }
        left -= take;
        uoff += take;
        if (uoff == x->uiov[ui].iov_len) {
            ui++;
            uoff = 0;
        }
    }
    if (left > 0) {
        /* Too many user segments for one piece: stage through a buffer. */
        if (!(p->bounce = malloc(len)))
            return -ENOMEM;
        left = len;
        size_t o = 0;
        ui = x->ui;
        uoff = x->uoff;
        while (left > 0) {
            size_t avail = x->uiov[ui].iov_len - uoff;
            size_t take = avail < left ? avail : (size_t)left;
            if (writing)
                memcpy(p->bounce + o, (char *)x->uiov[ui].iov_base + uoff, take);
            o += take;
            left -= take;
            uoff += take;
            if (uoff == x->uiov[ui].iov_len) {
                ui++;
                uoff = 0;
            }
        }
        p->iov[first].iov_base = p->bounce;
        p->iov[first].iov_len = len;
        n = first + 1;
    }
    x->ui = ui;
    x->uoff = uoff;
    p->niov = n;
    p->len = len;
    return 0;
}

/* Scatter a bounce buffer back into the user's iovec starting at (ui, uoff). */
static void unbounce(const struct iovec *uiov, int ui, size_t uoff, const char *src, size_t len)
{
    while (len > 0) {
        size_t avail = uiov[ui].iov_len - uoff;
        size_t take = avail < len ? avail : len;
        memcpy((char *)uiov[ui].iov_base + uoff, src, take);
        src += take;
        len -= take;
        uoff += take;
        if (uoff == uiov[ui].iov_len) {
            ui++;
            uoff = 0;
        }
    }
}

static size_t iov_len(const struct iovec *iov, int n)
{
    size_t t = 0;
    for (int i = 0; i < n; i++)
        t += iov[i].iov_len;
    return t;
}

/* What every transfer checks first: the open mode, the type, the offset. */
static int io_allowed(const benchfs_file_t *f, int writing, off_t off)
{
    if ((benchfs_file_flags(f) & O_ACCMODE) == (writing ? O_RDONLY : O_WRONLY))
        return -EBADF;
    if (S_ISDIR(f->mode))
        return -EISDIR;
    return off < 0 ? -EINVAL : 0;
}

/* Write total bytes at off. The size update is never skipped on the
 * strength of what this process saw (another may have truncated the file
 * since): it rides on the last piece when that chunk's server holds the
 * file's metadata, otherwise one GROW goes out alongside the pieces. grow 0:
 * the range is already inside the size (an append reserved it). */
static ssize_t write_at(benchfs_file_t *f, const struct iovec *iov, int iovcnt, uint64_t off,
                        size_t total, int grow)
{
    benchfs_t *fs = f->fs;
    uint64_t cs = fs->chunk_size, pos = off, end = pos + total;
    unsigned meta = f->home;
    struct pieces ps;
    if (pieces_init(&ps, pos, end, cs) < 0)
        return -ENOMEM;
    struct piece *pc = ps.p;
    bfs_rpc_call_t **ptrs = ps.ptrs;
    struct xfer x = {.f = f, .uiov = iov, .uiovcnt = iovcnt};
    int rc = 0;
    while (pos < end && rc == 0) {
        int n = 0;
        for (; n < ps.cap && pos < end; n++) {
            struct piece *p = &pc[n];
            uint64_t idx = pos / cs, coff = pos % cs;
            uint64_t len = cs - coff < end - pos ? cs - coff : end - pos;
            memset(&p->call, 0, sizeof(p->call));
            p->bounce = NULL;
            unsigned srv = bfs_place_chunk(f->fid, idx, fs->nservers);
            /* The last piece carries the size update when its server also
             * holds the file's metadata: one round trip for the write. */
            int carry = grow && pos + len == end && srv == meta;
            int first = 0;
            if (carry) {
                p->call.flags = BFS_F_GROW; /* of file arg0, whose home is srv */
                grow = 0;
            }
            if ((rc = take_user(&x, p, first, len, 1)) < 0)
                break;
            p->call.server = (int)srv;
            p->call.rpc_id = BFS_OP_WRITE;
            p->call.arg0 = f->fid;
            p->call.arg1 = idx;
            p->call.offset = coff;
            p->call.req_iov = p->iov;
            p->call.req_iovcnt = p->niov;
            ptrs[n] = &p->call;
            bfs_rpc_start(fs->rpc, &p->call);
            pos += len;
        }
        /* Otherwise the size goes to the metadata server alongside. */
        bfs_rpc_call_t growc;
        struct iovec giov[3];
        int m = n;
        if (grow && pos == end && rc == 0) {
            struct bfs_cl_meta gm = {.op = BFS_OP_GROW, .arg0 = end, .offset = (uint64_t)bfs_wall_ns()};
            bfs_cl_fid_prep(fs, &growc, giov, &f->fid, &gm);
            bfs_rpc_start(fs->rpc, &growc);
            ptrs[m++] = &growc;
            grow = 0;
        }
        int wr = bfs_rpc_wait_all(fs->rpc, ptrs, m);
        for (int i = 0; i < n; i++)
            free(pc[i].bounce);
        if (rc == 0)
            rc = wr;
    }
    pieces_free(&ps);
    if (rc == -ESTALE) {
        /* The file is gone (unlinked by another process): its chunks were
         * freed at the unlink, and pieces of this write that reached other
         * servers must not stay behind as chunks of a dead file. */
        bfs_cl_trunc_chunks(fs, f->fid, 0, end, BFS_F_DEAD);
    }
    return rc < 0 ? rc : (ssize_t)total;
}

ssize_t benchfs_appendv(benchfs_file_t *f, const struct iovec *iov, int iovcnt, off_t *at)
{
    int ok = io_allowed(f, 1, 0);
    if (ok < 0)
        return ok;
    size_t total = iov_len(iov, iovcnt);
    if (total == 0)
        return 0;
    if (total > (uint64_t)INT64_MAX)
        return -EFBIG;
    /* The metadata server hands out [size, size + total) in one
     * transaction; the data then goes there with no size update (the
     * range is inside the size already). */
    struct bfs_inode before;
    struct bfs_cl_meta m = {.op = BFS_OP_APPEND, .arg0 = total,
                            .offset = (uint64_t)bfs_wall_ns(), .ino = &before};
    int rc = bfs_cl_fid_call(f->fs, f->fid, &m);
    if (rc < 0)
        return rc;
    ssize_t w = write_at(f, iov, iovcnt, before.size, total, 0);
    if (w >= 0 && at)
        *at = (off_t)before.size;
    return w;
}

ssize_t benchfs_append(benchfs_file_t *f, const void *buf, size_t len, off_t *at)
{
    struct iovec iov = {(void *)buf, len};
    return benchfs_appendv(f, &iov, 1, at);
}

ssize_t benchfs_pwritev(benchfs_file_t *f, const struct iovec *iov, int iovcnt, off_t off)
{
    if (benchfs_file_flags(f) & O_APPEND)
        return benchfs_appendv(f, iov, iovcnt, NULL); /* as Linux's pwrite(2) */
    int ok = io_allowed(f, 1, off);
    if (ok < 0)
        return ok;
    size_t total = iov_len(iov, iovcnt);
    if (total == 0)
        return 0;
    return write_at(f, iov, iovcnt, (uint64_t)off, total, 1);
}

ssize_t benchfs_pwrite(benchfs_file_t *f, const void *buf, size_t len, off_t off)
{
    struct iovec iov = {(void *)buf, len};
    return benchfs_pwritev(f, &iov, 1, off);
}

/* The authoritative size, from the metadata server. */
static int refresh_size(benchfs_file_t *f, struct bfs_inode *ino)
{
    struct bfs_cl_meta m = {.op = BFS_OP_STAT, .ino = ino};
    if (S_ISDIR(f->mode))
        return f->plen ? bfs_cl_meta_call(f->fs, f->path, f->plen, &m) : -ESTALE;
    return bfs_cl_fid_call(f->fs, f->fid, &m);
}

/* Reads trust no size this process saw: the size comes with the first batch
 * of pieces, from the metadata server (on a piece that goes there anyway,
 * or a STAT alongside), and the result is cut at it. */
ssize_t benchfs_preadv(benchfs_file_t *f, const struct iovec *iov, int iovcnt, off_t off)
{
    benchfs_t *fs = f->fs;
    int ok = io_allowed(f, 0, off);
    if (ok < 0)
        return ok;
    size_t total = iov_len(iov, iovcnt);
    if (total == 0)
        return 0;
    uint64_t pos = (uint64_t)off, end = pos + total, cs = fs->chunk_size;
    if (end < pos)
        return -EINVAL;
    unsigned meta = f->home;
    struct pieces ps;
    if (pieces_init(&ps, pos, end, cs) < 0)
        return -ENOMEM;
    struct piece *pc = ps.p;
    bfs_rpc_call_t **ptrs = ps.ptrs;
    int rc = 0, sized = 0;
    struct xfer x = {.f = f, .uiov = iov, .uiovcnt = iovcnt};
    while (pos < end && rc == 0) {
        int n = 0, sizer = -1;
        for (; n < ps.cap && pos < end; n++) {
            struct piece *p = &pc[n];
            uint64_t idx = pos / cs, coff = pos % cs;
            uint64_t len = cs - coff < end - pos ? cs - coff : end - pos;
            memset(&p->call, 0, sizeof(p->call));
            p->bounce = NULL;
            p->ui = x.ui;
            p->uoff = x.uoff;
            if ((rc = take_user(&x, p, 0, len, 0)) < 0)
                break;
            unsigned srv = bfs_place_chunk(f->fid, idx, fs->nservers);
            if (!sized && sizer < 0 && srv == meta) {
                p->call.flags = BFS_F_SIZE; /* of file arg0, whose home is srv */
                sizer = n;
            }
            p->call.server = (int)srv;
            p->call.rpc_id = BFS_OP_READ;
            p->call.arg0 = f->fid;
            p->call.arg1 = idx;
            p->call.offset = coff;
            p->call.resp_iov = p->iov;
            p->call.resp_iovcnt = p->niov;
            ptrs[n] = &p->call;
            bfs_rpc_start(fs->rpc, &p->call);
            pos += len;
        }
        bfs_rpc_call_t statc;
        struct iovec siov[3];
        struct bfs_inode ino;
        int m = n;
        if (!sized && sizer < 0 && n > 0) {
            struct bfs_cl_meta sm = {.op = BFS_OP_STAT, .ino = &ino};
            bfs_cl_fid_prep(fs, &statc, siov, &f->fid, &sm);
            bfs_rpc_start(fs->rpc, &statc);
            ptrs[m++] = &statc;
        }
        int wr = bfs_rpc_wait_all(fs->rpc, ptrs, m);
        if (wr == 0 && !sized && n > 0) {
            uint64_t size;
            if (sizer >= 0) {
                size = pc[sizer].call.reply.arg1;
            } else if (statc.resp_len != sizeof(ino)) {
                wr = -EPROTO;
                size = 0;
            } else {
                size = ino.size;
            }
            sized = 1;
            if (size < end)
                end = size > (uint64_t)off ? size : (uint64_t)off;
        }
        for (int i = 0; i < n; i++) {
            struct piece *p = &pc[i];
            if (wr == 0) {
                /* A hole, or a chunk shorter than the file: zeros. */
                size_t got = p->call.resp_len;
                if (p->bounce) {
                    memset(p->bounce + got, 0, p->len - got);
                    unbounce(iov, p->ui, p->uoff, p->bounce, p->len);
                } else {
                    size_t skip = got;
                    for (int k = 0; k < p->niov; k++) {
                        if (skip >= p->iov[k].iov_len) {
                            skip -= p->iov[k].iov_len;
                            continue;
                        }
                        memset((char *)p->iov[k].iov_base + skip, 0, p->iov[k].iov_len - skip);
                        skip = 0;
                    }
                }
            }
            free(p->bounce);
        }
        if (rc == 0)
            rc = wr;
    }
    pieces_free(&ps);
    if (rc < 0)
        return rc;
    return (ssize_t)(end - (uint64_t)off);
}

ssize_t benchfs_pread(benchfs_file_t *f, void *buf, size_t len, off_t off)
{
    struct iovec iov = {buf, len};
    return benchfs_preadv(f, &iov, 1, off);
}

int benchfs_fstat(benchfs_file_t *f, struct stat *st)
{
    struct bfs_inode ino;
    int rc = refresh_size(f, &ino);
    if (rc < 0)
        return rc;
    bfs_cl_inode_to_stat(f->fs, &ino, st);
    return 0;
}

int benchfs_ftruncate(benchfs_file_t *f, off_t size)
{
    if ((benchfs_file_flags(f) & O_ACCMODE) == O_RDONLY)
        return -EINVAL;
    if (size < 0)
        return -EINVAL;
    if (S_ISDIR(f->mode))
        return -EISDIR;
    return bfs_cl_truncate_fid(f->fs, f->fid, (uint64_t)size);
}

int benchfs_fsync(benchfs_file_t *f)
{
    benchfs_t *fs = f->fs;
    struct bfs_inode ino;
    int rc = refresh_size(f, &ino);
    if (rc < 0)
        return rc;
    /* The servers of the file's chunks, its metadata server and its parent
     * directory's (the entry): a server that holds nothing of the file is
     * not asked, so a file that avoids a dead server can still be synced. */
    unsigned char *on = calloc(fs->nservers, 1);
    if (!on)
        return -ENOMEM;
    uint64_t cs = fs->chunk_size;
    bfs_cl_chunk_servers(fs, f->fid, 0, (ino.size + cs - 1) / cs, on);
    if (f->home < fs->nservers)
        on[f->home] = 1;
    if (f->plen) /* the name's server, as opened */
        on[bfs_cl_parent_server(fs, f->path, f->plen)] = 1;
    bfs_rpc_call_t t = {.rpc_id = BFS_OP_FSYNC, .arg0 = f->fid, .arg1 = ino.size};
    rc = bfs_cl_broadcast_status(fs, &t, on);
    free(on);
    return rc;
}

int benchfs_fchmod(benchfs_file_t *f, mode_t mode)
{
    struct bfs_cl_meta m = {.op = BFS_OP_CHMOD, .arg0 = mode & 07777,
                            .offset = (uint64_t)bfs_wall_ns()};
    if (S_ISDIR(f->mode))
        return f->plen ? bfs_cl_meta_call(f->fs, f->path, f->plen, &m) : -ESTALE;
    return bfs_cl_fid_call(f->fs, f->fid, &m);
}

int benchfs_futimens(benchfs_file_t *f, const struct timespec times[2])
{
    struct bfs_cl_meta m = {.op = BFS_OP_UTIMENS};
    bfs_cl_utimens_args(times, &m);
    if (S_ISDIR(f->mode))
        return f->plen ? bfs_cl_meta_call(f->fs, f->path, f->plen, &m) : -ESTALE;
    return bfs_cl_fid_call(f->fs, f->fid, &m);
}
