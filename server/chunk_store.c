/* Chunk store: one file per chunk, reads/writes/fsyncs through io_uring,
 * completions reaped from the event loop. The contract is in chunk_store.h.
 *
 * Life of an operation: the submitting call opens (or finds) the chunk's fd,
 * takes a reference on it and prepares an SQE; the loop's prepare hook
 * submits; the ring's eventfd wakes the loop; reap handles the CQE (short
 * transfers are resubmitted) and moves the finished op to a done list whose
 * callbacks run at the end of reap. Operations that finish without I/O
 * (holes, zero lengths) go to the same done list, so a callback never runs
 * inside the submitting call. */
#define _GNU_SOURCE
#include "chunk_store.h"
#include "chunk_cache.h"
#include "../common/clock.h"
#include "../common/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

/* The kernel fills io_uring read buffers behind valgrind's back (it sees no
 * read system call): tell memcheck those bytes are defined, or it reports
 * every reply sent from them as uninitialised (tests/server_valgrind.sh).
 * A few instructions, and nothing without valgrind's header. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define BFS_MEM_DEFINED(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))
#endif
#endif
#ifndef BFS_MEM_DEFINED
#define BFS_MEM_DEFINED(p, n) ((void)0)
#endif

#define CS_DEFAULT_QD 256
#define CS_DEFAULT_MAX_OPEN 1024
#define CS_DIRECT_ALIGN 4096u
/* The kernel moves at most 2 GiB - 4 KiB per read/write and reports the
 * count in an int: larger requests go out in pieces. */
#define CS_MAX_IO (1u << 30)
/* Index ranges longer than this are resolved by listing the fid's
 * subdirectory rather than probing each index: a remove up to UINT64_MAX
 * must not loop over every possible index. */
#define CS_SCAN_THRESHOLD 1024u
/* Per bfs_chunk_fsync, at most this many chunk fsyncs in flight, so that a
 * file with many chunks does not open them all at once. */
#define CS_FSYNC_WINDOW 32u
#define CS_CLOSE_WAIT_NS 5000000000ull
#define CS_CANCEL_WAIT_NS 1000000000ull
/* -EINTR/-EAGAIN from the ring are retried, but not forever. */
#define CS_RETRY_MAX 16u
#define CS_FREE_OPS_MAX 256u
#define CS_CQE_BATCH 64u
/* "XX/" + 16 hex digits + "." + up to 20 decimal digits + NUL */
#define CS_NAME_MAX 48
/* Removed chunk files are renamed into DIR/data/trash and unlinked from
 * the event loop's prepare hook, each step at most this long per loop turn:
 * an unlink frees the file's blocks, 0.5 ms for a 1 MiB chunk here, and
 * 1,000 of them in one handler stalled every other client for 556 ms; the
 * 1,000 renames alone still 9-37 ms (tests/fault_stall.sh). */
#define CS_TRASH_SLICE_NS 1000000ull

/* A removal in progress: the chunk files v[0..n) of fid, renamed into the
 * trash a slice at a time; done[k] once v[k] was (by a slice or a claim). */
struct removal {
    uint64_t fid;
    uint64_t *v;
    unsigned char *done;
    size_t n, next;
    int rc;
    bfs_chunk_cb cb;
    void *arg;
    struct removal *link;
};

struct cfile {
    uint64_t fid, idx;
    int fd;                 /* O_RDWR */
    int dfd;                /* O_RDWR|O_DIRECT twin; -1 until first needed */
    unsigned refs;          /* operations in flight on fd or dfd */
    int cached;             /* reachable from the table; 0 once detached */
    struct cfile *hnext;
    struct cfile *prev, *next;  /* LRU list, head is the most recent */
};

enum op_kind { OP_READ, OP_WRITE, OP_FSYNC, OP_FSYNC_FILE, OP_FSYNC_DIR };

struct op {
    enum op_kind kind;
    unsigned retries;
    bfs_chunk_cb cb;
    void *arg;
    int64_t result;         /* valid on the done list */
    struct op *next;        /* wait queue, done list or free list */
    struct op *aprev, *anext;   /* every live op, for close */

    /* READ, WRITE, FSYNC_FILE: holds a reference on cf */
    struct cfile *cf;
    int direct;             /* current SQE uses cf->dfd */
    char *buf;
    size_t len, done;
    uint64_t off;

    /* FSYNC_FILE, FSYNC_DIR */
    struct op *parent;
    int dirfd;              /* FSYNC_DIR: owned */

    /* FSYNC: the owned indices to look at, walked by a bounded window */
    uint64_t fid;
    uint64_t *idx;
    size_t nidx, pos;
    unsigned active;
    int err;
    int dir_queued;
};

struct bfs_chunk_store {
    struct io_uring ring;
    int efd;
    int datafd;
    bfs_evloop_t *loop;
    unsigned max_open;
    int direct;             /* requested and not found unsupported */
    int direct_read;        /* reads too, not only writes */
    int (*owned)(uint64_t fid, uint64_t idx, void *arg);
    void *owned_arg;
    int closing;

    /* SQEs prepared and not yet reaped never exceed the CQ size, so the
     * completion queue cannot overflow; the rest wait in waitq. */
    unsigned ring_cap;
    unsigned ring_used;
    unsigned inflight;      /* accepted top-level ops whose cb has not run */

    struct op *waitq_head, *waitq_tail;
    struct op *done_head, *done_tail;
    struct op *free_ops;
    unsigned nfree;
    struct op *all;

    /* Removals whose renames are not all done (bfs_chunk_remove), oldest
     * first; every access to a chunk they still hold renames it first
     * (claim). */
    struct removal *removals, *removals_tail;

    /* Trash (CS_TRASH_SLICE_NS): files trash_done .. trash_next - 1 wait in
     * trashfd, named by their number. */
    int trashfd;
    uint64_t trash_next, trash_done;
    uint64_t trash_warn_ns;

    bfs_chunk_cache_t *cache;   /* NULL without direct writes or a budget */

    struct cfile **table;
    size_t table_mask;
    struct cfile *lru_head, *lru_tail;
    unsigned ncached;
    uint64_t warn_ns;
};

/* ---- placement ---------------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

/* Part of the on-disk format: changing the hash strands existing chunks. */
static unsigned subdir_of(uint64_t fid) { return (unsigned)(mix64(fid) & 0xff); }

static void chunk_name(char *out, uint64_t fid, uint64_t idx)
{
    snprintf(out, CS_NAME_MAX, "%02x/%016" PRIx64 ".%" PRIu64, subdir_of(fid), fid, idx);
}

static int is_owned(const bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx)
{
    return !cs->owned || cs->owned(fid, idx, cs->owned_arg);
}

/* ---- fd cache ----------------------------------------------------------- */

static size_t slot_of(const bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx)
{
    return (size_t)(mix64(fid ^ mix64(idx)) & cs->table_mask);
}

static void lru_unlink(bfs_chunk_store_t *cs, struct cfile *cf)
{
    if (cf->prev)
        cf->prev->next = cf->next;
    else
        cs->lru_head = cf->next;
    if (cf->next)
        cf->next->prev = cf->prev;
    else
        cs->lru_tail = cf->prev;
    cf->prev = cf->next = NULL;
}

static void lru_push(bfs_chunk_store_t *cs, struct cfile *cf)
{
    cf->prev = NULL;
    cf->next = cs->lru_head;
    if (cs->lru_head)
        cs->lru_head->prev = cf;
    else
        cs->lru_tail = cf;
    cs->lru_head = cf;
}

static void cf_free(struct cfile *cf)
{
    close(cf->fd);
    if (cf->dfd >= 0)
        close(cf->dfd);
    free(cf);
}

/* Takes cf out of the cache. Operations holding it keep using its fds; the
 * last of them closes them. */
static void cf_detach(bfs_chunk_store_t *cs, struct cfile *cf)
{
    struct cfile **pp = &cs->table[slot_of(cs, cf->fid, cf->idx)];
    while (*pp != cf)
        pp = &(*pp)->hnext;
    *pp = cf->hnext;
    lru_unlink(cs, cf);
    cf->cached = 0;
    cs->ncached--;
    if (cf->refs == 0)
        cf_free(cf);
}

static void cf_unref(struct cfile *cf)
{
    if (--cf->refs == 0 && !cf->cached)
        cf_free(cf);
}

static struct cfile *cf_lookup(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx)
{
    for (struct cfile *cf = cs->table[slot_of(cs, fid, idx)]; cf; cf = cf->hnext)
        if (cf->fid == fid && cf->idx == idx)
            return cf;
    return NULL;
}

static int trash_one(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx);
static int cmp_u64(const void *a, const void *b);

/* Chunk (fid, idx) is about to be opened, created, cut or tested: if a
 * removal still holds it, it goes now (the removal said it is a hole from
 * its start on; a write that came later must land in a new file, which the
 * removal then must not take). */
static void claim(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx)
{
    for (struct removal *r = cs->removals; r; r = r->link) {
        if (r->fid != fid)
            continue;
        const uint64_t *hit = r->n ? bsearch(&idx, r->v, r->n, sizeof(*r->v), cmp_u64) : NULL;
        size_t k = hit ? (size_t)(hit - r->v) : 0;
        if (hit && !r->done[k]) {
            r->done[k] = 1;
            int rc = trash_one(cs, fid, idx);
            if (rc < 0 && r->rc == 0)
                r->rc = rc;
        }
    }
}

/* Closes up to n idle fds from the cold end; used when the process runs out
 * of descriptors. */
static unsigned evict_idle(bfs_chunk_store_t *cs, unsigned n)
{
    unsigned done = 0;
    struct cfile *cf = cs->lru_tail;
    while (cf && done < n) {
        struct cfile *prev = cf->prev;
        if (cf->refs == 0) {
            cf_detach(cs, cf);
            done++;
        }
        cf = prev;
    }
    return done;
}

static int open_chunk(bfs_chunk_store_t *cs, const char *name, int flags)
{
    int fd = openat(cs->datafd, name, flags | O_CLOEXEC, 0600);
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) &&
        evict_idle(cs, cs->ncached / 2 + 1) > 0)
        fd = openat(cs->datafd, name, flags | O_CLOEXEC, 0600);
    return fd < 0 ? -errno : fd;
}

/* The cached entry of (fid, idx), opened if needed (created if create).
 * -ENOENT when it does not exist and !create. */
static int cf_get(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, int create,
                  struct cfile **out)
{
    struct cfile *cf = cf_lookup(cs, fid, idx);
    if (cf) {
        if (cs->lru_head != cf) {
            lru_unlink(cs, cf);
            lru_push(cs, cf);
        }
        *out = cf;
        return 0;
    }
    char name[CS_NAME_MAX];
    claim(cs, fid, idx);
    chunk_name(name, fid, idx);
    int fd = open_chunk(cs, name, O_RDWR | (create ? O_CREAT : 0));
    if (fd < 0)
        return fd;
    cf = calloc(1, sizeof(*cf));
    if (!cf) {
        close(fd);
        return -ENOMEM;
    }
    cf->fid = fid;
    cf->idx = idx;
    cf->fd = fd;
    cf->dfd = -1;
    cf->cached = 1;
    size_t s = slot_of(cs, fid, idx);
    cf->hnext = cs->table[s];
    cs->table[s] = cf;
    lru_push(cs, cf);
    if (++cs->ncached > cs->max_open)
        cf_detach(cs, cs->lru_tail);
    *out = cf;
    return 0;
}

/* The O_DIRECT fd of cf, or -1 when direct I/O is not available. */
static int cf_direct_fd(bfs_chunk_store_t *cs, struct cfile *cf)
{
    if (cf->dfd >= 0)
        return cf->dfd;
    /* Detached: the path may name a newer file by now (remove, then a
     * write recreating the chunk). */
    if (!cf->cached)
        return -1;
    char name[CS_NAME_MAX];
    chunk_name(name, cf->fid, cf->idx);
    int fd = open_chunk(cs, name, O_RDWR | O_DIRECT);
    if (fd == -EINVAL) {
        bfs_info("chunk store: O_DIRECT not supported here, using buffered I/O");
        cs->direct = 0;
    }
    if (fd < 0)
        return -1;
    cf->dfd = fd;
    return fd;
}

/* ---- operations --------------------------------------------------------- */

static struct op *op_new(bfs_chunk_store_t *cs, enum op_kind kind)
{
    struct op *op = cs->free_ops;
    if (op) {
        cs->free_ops = op->next;
        cs->nfree--;
        memset(op, 0, sizeof(*op));
    } else if (!(op = calloc(1, sizeof(*op)))) {
        return NULL;
    }
    op->kind = kind;
    op->dirfd = -1;
    op->anext = cs->all;
    if (cs->all)
        cs->all->aprev = op;
    cs->all = op;
    return op;
}

static void op_free(bfs_chunk_store_t *cs, struct op *op)
{
    if (op->aprev)
        op->aprev->anext = op->anext;
    else
        cs->all = op->anext;
    if (op->anext)
        op->anext->aprev = op->aprev;
    free(op->idx);
    if (cs->nfree < CS_FREE_OPS_MAX) {
        op->next = cs->free_ops;
        cs->free_ops = op;
        cs->nfree++;
    } else {
        free(op);
    }
}

static int top_level(const struct op *op)
{
    return op->kind == OP_READ || op->kind == OP_WRITE || op->kind == OP_FSYNC;
}

/* Queue the callback for the end of the current or next reap. */
static void op_complete(bfs_chunk_store_t *cs, struct op *op, int64_t res)
{
    op->result = res;
    op->next = NULL;
    if (cs->done_tail)
        cs->done_tail->next = op;
    else
        cs->done_head = op;
    cs->done_tail = op;
}

static int aligned(uintptr_t x) { return (x & (CS_DIRECT_ALIGN - 1)) == 0; }

/* Whether a transfer of n bytes from p at off may bypass the page cache. */
static int direct_ok(const bfs_chunk_store_t *cs, enum op_kind kind, const char *p, size_t n,
                     uint64_t off)
{
    return cs->direct && (kind == OP_WRITE || cs->direct_read) && aligned((uintptr_t)p) &&
           aligned((uintptr_t)n) && aligned((uintptr_t)off);
}

static void flush(bfs_chunk_store_t *cs)
{
    while (io_uring_sq_ready(&cs->ring) > 0) {
        int rc = io_uring_submit(&cs->ring);
        if (rc == -EINTR)
            continue;
        if (rc < 0) {
            /* The SQEs stay in the ring; the next flush tries again. */
            if (bfs_log_ratelimit(&cs->warn_ns))
                bfs_warn("chunk store: io_uring_submit: %s", strerror(-rc));
            return;
        }
        if (rc == 0)
            return;
    }
}

static struct io_uring_sqe *get_sqe(bfs_chunk_store_t *cs)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(&cs->ring);
    if (!sqe) {
        flush(cs);
        sqe = io_uring_get_sqe(&cs->ring);
    }
    return sqe;
}

static void prep(bfs_chunk_store_t *cs, struct io_uring_sqe *sqe, struct op *op)
{
    switch (op->kind) {
    case OP_READ:
    case OP_WRITE: {
        char *p = op->buf + op->done;
        size_t n = op->len - op->done;
        uint64_t off = op->off + op->done;
        if (n > CS_MAX_IO)
            n = CS_MAX_IO;
        /* Decided per SQE: a short transfer can leave the rest unaligned. */
        op->direct = direct_ok(cs, op->kind, p, n, off) && cf_direct_fd(cs, op->cf) >= 0;
        int fd = op->direct ? op->cf->dfd : op->cf->fd;
        if (op->kind == OP_READ)
            io_uring_prep_read(sqe, fd, p, (unsigned)n, off);
        else
            io_uring_prep_write(sqe, fd, p, (unsigned)n, off);
        break;
    }
    case OP_FSYNC_FILE:
        io_uring_prep_fsync(sqe, op->cf->fd, 0);
        break;
    case OP_FSYNC_DIR:
        io_uring_prep_fsync(sqe, op->dirfd, 0);
        break;
    case OP_FSYNC:
        abort();    /* never goes to the ring itself */
    }
    io_uring_sqe_set_data(sqe, op);
}

static void io_step(bfs_chunk_store_t *cs, struct op *op, int res);

/* A small buffered write is done at once with pwrite: io_uring cannot do
 * it without blocking on ext4, so it would hand it to a kernel worker
 * thread, and waking that worker cost more than the copy (hard_write,
 * 47008-byte pieces: the workers' context switches were a sixth of the
 * server's CPU). Not for O_DIRECT (aligned, usually large) writes, reads,
 * or anything when operations already wait for the ring. */
#define CS_INLINE_WRITE_MAX (64u * 1024)

static int write_inline(bfs_chunk_store_t *cs, struct op *op)
{
    size_t n = op->len - op->done;
    if (op->kind != OP_WRITE || n > CS_INLINE_WRITE_MAX || cs->waitq_head)
        return 0;
    const char *p = op->buf + op->done;
    uint64_t off = op->off + op->done;
    if (direct_ok(cs, op->kind, p, n, off))
        return 0;
    op->direct = 0;
    ssize_t w = pwrite(op->cf->fd, p, n, (off_t)off);
    io_step(cs, op, w < 0 ? -errno : (int)w);
    return 1;
}

/* Give op an SQE now, or queue it until the ring has room. FIFO: once
 * anything waits, newcomers wait behind it. */
static void arm(bfs_chunk_store_t *cs, struct op *op)
{
    if (write_inline(cs, op))
        return;
    struct io_uring_sqe *sqe = NULL;
    if (!cs->waitq_head && cs->ring_used < cs->ring_cap)
        sqe = get_sqe(cs);
    if (!sqe) {
        op->next = NULL;
        if (cs->waitq_tail)
            cs->waitq_tail->next = op;
        else
            cs->waitq_head = op;
        cs->waitq_tail = op;
        return;
    }
    prep(cs, sqe, op);
    cs->ring_used++;
}

static void pump(bfs_chunk_store_t *cs)
{
    while (cs->waitq_head && cs->ring_used < cs->ring_cap) {
        struct io_uring_sqe *sqe = get_sqe(cs);
        if (!sqe)
            return;
        struct op *op = cs->waitq_head;
        cs->waitq_head = op->next;
        if (!cs->waitq_head)
            cs->waitq_tail = NULL;
        prep(cs, sqe, op);
        cs->ring_used++;
    }
}

static void fsync_advance(bfs_chunk_store_t *cs, struct op *p);

static void child_done(bfs_chunk_store_t *cs, struct op *op, int res)
{
    struct op *p = op->parent;
    if (res < 0 && p->err == 0)
        p->err = res;
    if (op->cf)
        cf_unref(op->cf);
    if (op->dirfd >= 0)
        close(op->dirfd);
    op_free(cs, op);
    p->active--;
    fsync_advance(cs, p);
}

static int fsync_child(bfs_chunk_store_t *cs, struct op *p, struct cfile *cf, int dirfd)
{
    struct op *c = op_new(cs, cf ? OP_FSYNC_FILE : OP_FSYNC_DIR);
    if (!c)
        return -ENOMEM;
    c->parent = p;
    c->cf = cf;
    if (cf)
        cf->refs++;
    c->dirfd = dirfd;
    p->active++;
    arm(cs, c);
    return 0;
}

/* Start chunk fsyncs up to the window; complete p when all are done. */
static void fsync_advance(bfs_chunk_store_t *cs, struct op *p)
{
    while (p->active < CS_FSYNC_WINDOW && p->pos < p->nidx) {
        struct cfile *cf;
        int rc = cf_get(cs, p->fid, p->idx[p->pos++], 0, &cf);
        if (rc == -ENOENT)
            continue;
        if (rc == 0 && !p->dir_queued) {
            /* Chunk files may be new: their directory entries must be durable
             * too. One directory holds every chunk of the fid. */
            char sub[4];
            p->dir_queued = 1;
            snprintf(sub, sizeof(sub), "%02x", subdir_of(p->fid));
            int dfd = openat(cs->datafd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            int drc = dfd < 0 ? -errno : fsync_child(cs, p, NULL, dfd);
            if (drc < 0 && dfd >= 0)
                close(dfd);
            if (drc < 0 && p->err == 0)
                p->err = drc;
        }
        if (rc == 0)
            rc = fsync_child(cs, p, cf, -1);
        if (rc < 0 && p->err == 0)
            p->err = rc;
    }
    if (p->active == 0 && p->pos == p->nidx)
        op_complete(cs, p, p->err);
}

static void io_finish(bfs_chunk_store_t *cs, struct op *op, int64_t res)
{
    if (op->kind == OP_WRITE)
        bfs_chunk_cache_write_end(cs->cache, op->cf->fid, op->cf->idx, op->off, op->buf, op->len,
                                  res == (int64_t)op->len);
    cf_unref(op->cf);
    op->cf = NULL;
    op_complete(cs, op, res);
}

static void io_step(bfs_chunk_store_t *cs, struct op *op, int res)
{
    if ((res == -EINTR || res == -EAGAIN) && op->retries++ < CS_RETRY_MAX) {
        arm(cs, op);
        return;
    }
    if (res == -EINVAL && op->direct) {
        /* The file system wants another alignment or no O_DIRECT at all:
         * stop trying, redo this transfer buffered. */
        bfs_info("chunk store: O_DIRECT I/O refused, using buffered I/O");
        cs->direct = 0;
        arm(cs, op);
        return;
    }
    if (res < 0) {
        io_finish(cs, op, res);
        return;
    }
    if (op->kind == OP_READ && res > 0)
        BFS_MEM_DEFINED(op->buf + op->done, (size_t)res);
    op->done += (size_t)res;
    if (op->done < op->len) {
        if (res > 0) {
            arm(cs, op);
            return;
        }
        /* A read of 0 bytes is the end of the file; a write that makes no
         * progress would be resubmitted forever. */
        if (op->kind == OP_WRITE) {
            io_finish(cs, op, -EIO);
            return;
        }
    }
    io_finish(cs, op, (int64_t)op->done);
}

static void handle_cqe(bfs_chunk_store_t *cs, struct op *op, int res)
{
    if (!op)
        return;     /* the cancel request of close */
    cs->ring_used--;
    switch (op->kind) {
    case OP_READ:
    case OP_WRITE:
        io_step(cs, op, res);
        break;
    case OP_FSYNC_FILE:
    case OP_FSYNC_DIR:
        if ((res == -EINTR || res == -EAGAIN) && op->retries++ < CS_RETRY_MAX)
            arm(cs, op);
        else
            child_done(cs, op, res);
        break;
    case OP_FSYNC:
        abort();
    }
}

/* ---- public: I/O -------------------------------------------------------- */

static int submit_io(bfs_chunk_store_t *cs, enum op_kind kind, uint64_t fid, uint64_t idx,
                     uint64_t off, void *buf, size_t len, bfs_chunk_cb cb, void *arg)
{
    if (cs->closing)
        return -ESHUTDOWN;
    if (off > INT64_MAX || len > INT64_MAX - off)
        return -EINVAL;
    struct op *op = op_new(cs, kind);
    if (!op)
        return -ENOMEM;
    op->cb = cb;
    op->arg = arg;
    op->buf = buf;
    op->len = len;
    op->off = off;
    cs->inflight++;
    if (len == 0) {
        op_complete(cs, op, 0);
        return 0;
    }
    if (kind == OP_READ && bfs_chunk_cache_read(cs->cache, fid, idx, off, buf, len)) {
        op_complete(cs, op, (int64_t)len);
        return 0;
    }
    int rc = cf_get(cs, fid, idx, kind == OP_WRITE, &op->cf);
    if (rc == -ENOENT && kind == OP_READ) {
        op_complete(cs, op, 0);     /* a hole */
        return 0;
    }
    if (rc < 0) {
        cs->inflight--;
        op_free(cs, op);
        return rc;
    }
    op->cf->refs++;
    if (kind != OP_WRITE || !cs->cache) {
        arm(cs, op);
        return 0;
    }
    bfs_chunk_cache_write_begin(cs->cache, fid, idx);
    arm(cs, op);
    if (op->cf) {
        /* Still in flight: let the device start, then copy meanwhile (a
         * copy after completion delayed every reply by it). */
        flush(cs);
        bfs_chunk_cache_write_early(cs->cache, fid, idx, off, buf, len);
    }
    return 0;
}

int bfs_chunk_write(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, uint64_t off,
                    const void *buf, size_t len, bfs_chunk_cb cb, void *arg)
{
    /* The buffer is only read; op keeps one pointer type for both ways. */
    return submit_io(cs, OP_WRITE, fid, idx, off, (void *)(uintptr_t)buf, len, cb, arg);
}

int bfs_chunk_read(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, uint64_t off,
                   void *buf, size_t len, bfs_chunk_cb cb, void *arg)
{
    return submit_io(cs, OP_READ, fid, idx, off, buf, len, cb, arg);
}

/* ---- ranges of chunks --------------------------------------------------- */

/* Parses "<fid as 16 hex>.<idx>"; 0 when name is not a chunk of fid. */
static int parse_name(const char *name, const char *prefix, uint64_t *idx)
{
    if (strncmp(name, prefix, 17) != 0)
        return 0;
    const char *s = name + 17;
    if (*s < '0' || *s > '9')
        return 0;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return 0;
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return 0;
        v = v * 10 + d;
    }
    *idx = v;
    return 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The owned indices of fid in [from, to) that may exist: every owned index
 * for a short range, the existing files for a long one. Sorted. */
static int owned_range(bfs_chunk_store_t *cs, uint64_t fid, uint64_t from, uint64_t to,
                       uint64_t **out, size_t *nout)
{
    uint64_t *v = NULL;
    size_t n = 0, cap = 0;
    *out = NULL;
    *nout = 0;
    if (from >= to)
        return 0;
    if (to - from <= CS_SCAN_THRESHOLD) {
        cap = (size_t)(to - from);
        if (!(v = malloc(cap * sizeof(*v))))
            return -ENOMEM;
        for (uint64_t i = from; i < to; i++)
            if (is_owned(cs, fid, i))
                v[n++] = i;
    } else {
        char sub[4], prefix[18];
        snprintf(sub, sizeof(sub), "%02x", subdir_of(fid));
        snprintf(prefix, sizeof(prefix), "%016" PRIx64 ".", fid);
        int dfd = openat(cs->datafd, sub, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
            return errno == ENOENT ? 0 : -errno;
        DIR *d = fdopendir(dfd);
        if (!d) {
            int e = -errno;
            close(dfd);
            return e;
        }
        struct dirent *de;
        uint64_t i;
        while ((de = readdir(d))) {
            if (!parse_name(de->d_name, prefix, &i) || i < from || i >= to ||
                !is_owned(cs, fid, i))
                continue;
            if (n == cap) {
                size_t ncap = cap ? 2 * cap : 64;
                uint64_t *nv = realloc(v, ncap * sizeof(*v));
                if (!nv) {
                    free(v);
                    closedir(d);
                    return -ENOMEM;
                }
                v = nv;
                cap = ncap;
            }
            v[n++] = i;
        }
        closedir(d);
        qsort(v, n, sizeof(*v), cmp_u64);
    }
    *out = v;
    *nout = n;
    return 0;
}

int bfs_chunk_fsync(bfs_chunk_store_t *cs, uint64_t fid, uint64_t nchunks,
                    bfs_chunk_cb cb, void *arg)
{
    if (cs->closing)
        return -ESHUTDOWN;
    struct op *p = op_new(cs, OP_FSYNC);
    if (!p)
        return -ENOMEM;
    int rc = owned_range(cs, fid, 0, nchunks, &p->idx, &p->nidx);
    if (rc < 0) {
        op_free(cs, p);
        return rc;
    }
    p->cb = cb;
    p->arg = arg;
    p->fid = fid;
    cs->inflight++;
    fsync_advance(cs, p);
    return 0;
}

int bfs_chunk_truncate(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, uint64_t len)
{
    if (len > INT64_MAX)
        return -EINVAL;
    struct cfile *cf = cf_lookup(cs, fid, idx);
    if (cf)
        cf_detach(cs, cf);
    bfs_chunk_cache_truncate(cs->cache, fid, idx, len);
    char name[CS_NAME_MAX];
    claim(cs, fid, idx);
    chunk_name(name, fid, idx);
    /* Without O_CREAT: truncating a missing chunk leaves it a hole. */
    int fd = open_chunk(cs, name, O_WRONLY);
    if (fd == -ENOENT)
        return 0;
    if (fd < 0)
        return fd;
    int rc = ftruncate(fd, (off_t)len) < 0 ? -errno : 0;
    close(fd);
    return rc;
}

/* Out of the namespace (a rename frees no blocks: cheap), so that the
 * chunk is a hole and a new write creates a new file; unlinked later, a
 * slice per loop turn (trash_slice). */
static int trash_one(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx)
{
    char name[CS_NAME_MAX], tname[24];
    chunk_name(name, fid, idx);
    if (cs->trashfd >= 0) {
        snprintf(tname, sizeof(tname), "%016" PRIx64, cs->trash_next);
        if (renameat(cs->datafd, name, cs->trashfd, tname) == 0) {
            cs->trash_next++;
            return 0;
        }
        if (errno == ENOENT)
            return 0;
    }
    /* No trash (or it failed): unlinked now. */
    if (unlinkat(cs->datafd, name, 0) < 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int bfs_chunk_remove(bfs_chunk_store_t *cs, uint64_t fid, uint64_t from, uint64_t to,
                     bfs_chunk_cb cb, void *arg)
{
    struct removal *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    bfs_chunk_cache_drop(cs->cache, fid, from, to);
    int rc = owned_range(cs, fid, from, to, &r->v, &r->n);
    if (rc == 0 && r->n && !(r->done = calloc(r->n, 1)))
        rc = -ENOMEM;
    if (rc < 0) {
        free(r->v);
        free(r);
        return rc;
    }
    /* Cached fds of removed chunks must go, or later writes would land in
     * unlinked inodes. A short list is looked up; a long one walks the
     * cache (an unlink of a small file must not cost a pass over it). */
    if (r->n < cs->ncached) {
        for (size_t i = 0; i < r->n; i++) {
            struct cfile *cf = cf_lookup(cs, fid, r->v[i]);
            if (cf)
                cf_detach(cs, cf);
        }
    } else {
        for (struct cfile *cf = cs->lru_head, *next; cf; cf = next) {
            next = cf->next;
            if (cf->fid == fid && cf->idx >= from && cf->idx < to && is_owned(cs, fid, cf->idx))
                cf_detach(cs, cf);
        }
    }
    r->fid = fid;
    r->cb = cb;
    r->arg = arg;
    if (cs->removals_tail)
        cs->removals_tail->link = r;
    else
        cs->removals = r;
    cs->removals_tail = r;
    cs->inflight++;
    return 0;
}

/* Renames of the oldest removals for up to budget_ns (at least one); the
 * finished ones report. Returns whether some are left. */
static int removal_slice(bfs_chunk_store_t *cs, uint64_t budget_ns)
{
    uint64_t end = bfs_now_ns() + budget_ns;
    while (cs->removals) {
        struct removal *r = cs->removals;
        while (r->next < r->n) {
            size_t k = r->next++;
            if (r->done[k])
                continue;
            r->done[k] = 1;
            int rc = trash_one(cs, r->fid, r->v[k]);
            if (rc < 0 && r->rc == 0)
                r->rc = rc;
            if (bfs_now_ns() >= end)
                return 1;
        }
        cs->removals = r->link;
        if (!cs->removals)
            cs->removals_tail = NULL;
        cs->inflight--;
        if (r->cb)
            r->cb(r->rc, r->arg);
        free(r->done);
        free(r->v);
        free(r);
    }
    return 0;
}

void bfs_chunk_store_finish_removals(bfs_chunk_store_t *cs)
{
    while (removal_slice(cs, UINT64_MAX / 2))
        ;
}

/* Unlink trashed files for up to budget_ns (at least one). Returns whether
 * some are left. */
static int trash_slice(bfs_chunk_store_t *cs, uint64_t budget_ns)
{
    if (cs->trash_done == cs->trash_next)
        return 0;
    uint64_t end = bfs_now_ns() + budget_ns;
    char tname[24];
    do {
        snprintf(tname, sizeof(tname), "%016" PRIx64, cs->trash_done);
        if (unlinkat(cs->trashfd, tname, 0) < 0 && errno != ENOENT &&
            bfs_log_ratelimit(&cs->trash_warn_ns))
            bfs_warn("chunk store: cannot remove trash/%s: %s", tname, strerror(errno));
        cs->trash_done++;
    } while (cs->trash_done < cs->trash_next && bfs_now_ns() < end);
    return cs->trash_done < cs->trash_next;
}

/* Leftovers of a server that was killed before it emptied its trash. */
static void trash_empty_dir(int trashfd)
{
    int fd = dup(trashfd);
    DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close(fd);
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            unlinkat(trashfd, e->d_name, 0);
    closedir(d);
}

int bfs_chunk_exists(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx)
{
    if (cf_lookup(cs, fid, idx))
        return 1;
    char name[CS_NAME_MAX];
    claim(cs, fid, idx);
    chunk_name(name, fid, idx);
    if (faccessat(cs->datafd, name, F_OK, 0) == 0)
        return 1;
    return errno == ENOENT ? 0 : -errno;
}

int bfs_chunk_replace(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, const void *buf,
                      size_t len)
{
    struct cfile *cf = cf_lookup(cs, fid, idx);
    if (cf)
        cf_detach(cs, cf);
    bfs_chunk_cache_drop(cs->cache, fid, idx, idx + 1);
    char name[CS_NAME_MAX];
    claim(cs, fid, idx);
    chunk_name(name, fid, idx);
    int fd = open_chunk(cs, name, O_WRONLY | O_CREAT | O_TRUNC);
    if (fd < 0)
        return fd;
    int rc = 0;
    for (size_t done = 0; done < len && rc == 0;) {
        ssize_t w = pwrite(fd, (const char *)buf + done, len - done, (off_t)done);
        if (w < 0 && errno != EINTR)
            rc = -errno;
        else if (w == 0)
            rc = -EIO; /* no progress: do not spin */
        else if (w > 0)
            done += (size_t)w;
    }
    close(fd);
    return rc;
}

/* ---- reaping and the event loop ----------------------------------------- */

static int trash_slice(bfs_chunk_store_t *cs, uint64_t budget_ns);

int bfs_chunk_store_reap(bfs_chunk_store_t *cs)
{
    if (!removal_slice(cs, CS_TRASH_SLICE_NS))
        trash_slice(cs, CS_TRASH_SLICE_NS);
    struct io_uring_cqe *cqes[CS_CQE_BATCH];
    struct { struct op *op; int res; } batch[CS_CQE_BATCH];
    unsigned got;
    int n = 0;

    pump(cs);
    flush(cs);
    while ((got = io_uring_peek_batch_cqe(&cs->ring, cqes, CS_CQE_BATCH)) > 0) {
        /* Free the CQ slots before handling: handlers prepare new SQEs
         * counted against the CQ size. */
        for (unsigned i = 0; i < got; i++) {
            batch[i].op = io_uring_cqe_get_data(cqes[i]);
            batch[i].res = cqes[i]->res;
        }
        io_uring_cq_advance(&cs->ring, got);
        for (unsigned i = 0; i < got; i++)
            handle_cqe(cs, batch[i].op, batch[i].res);
        pump(cs);
    }
    /* Only the callbacks due now: ones completed by these callbacks wait for
     * the next reap, so a chain of immediate completions cannot starve the
     * loop. */
    struct op *d = cs->done_head;
    cs->done_head = cs->done_tail = NULL;
    while (d) {
        struct op *next = d->next;
        bfs_chunk_cb cb = d->cb;
        void *arg = d->arg;
        int64_t res = d->result;
        op_free(cs, d);
        cs->inflight--;
        n++;
        if (cb)
            cb(res, arg);
        d = next;
    }
    pump(cs);
    flush(cs);
    return n;
}

unsigned bfs_chunk_store_inflight(const bfs_chunk_store_t *cs) { return cs->inflight; }

int bfs_chunk_store_sync(bfs_chunk_store_t *cs) { return syncfs(cs->datafd) < 0 ? -errno : 0; }

static void on_eventfd(int fd, void *arg)
{
    uint64_t v;
    /* Drain before reaping: a CQE posted after this read fires it again. */
    while (read(fd, &v, sizeof(v)) < 0 && errno == EINTR)
        ;
    bfs_chunk_store_reap(arg);
}

static int on_prepare(void *arg)
{
    bfs_chunk_store_t *cs = arg;
    int n = bfs_chunk_store_reap(cs);
    /* Callbacks may have queued work elsewhere (replies), or trash is left
     * (reap unlinks a slice of it): poll again, do not sleep. */
    return n > 0 || cs->removals || cs->trash_done < cs->trash_next || cs->done_head ||
           io_uring_sq_ready(&cs->ring) > 0;
}

int bfs_chunk_store_attach(bfs_chunk_store_t *cs, bfs_evloop_t *loop)
{
    if (cs->loop)
        return -EBUSY;
    int rc = bfs_evloop_add_fd(loop, cs->efd, on_eventfd, cs);
    if (rc < 0)
        return rc;
    rc = bfs_evloop_add_prepare(loop, on_prepare, cs);
    if (rc < 0) {
        bfs_evloop_del_fd(loop, cs->efd);
        return rc;
    }
    cs->loop = loop;
    return 0;
}

/* ---- open and close ----------------------------------------------------- */

static int make_dirs(const char *dir, int *datafd)
{
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -errno;
    int created = mkdirat(dfd, "data", 0755) == 0;
    if (!created && errno != EEXIST) {
        int e = -errno;
        close(dfd);
        return e;
    }
    int fd = openat(dfd, "data", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        int e = -errno;
        close(dfd);
        return e;
    }
    for (unsigned i = 0; i < 256; i++) {
        char sub[4];
        snprintf(sub, sizeof(sub), "%02x", i);
        if (mkdirat(fd, sub, 0755) == 0) {
            created = 1;
        } else if (errno != EEXIST) {
            int e = -errno;
            close(fd);
            close(dfd);
            return e;
        }
    }
    /* Later fsyncs cover the chunk files and their subdirectory only. */
    if (created) {
        fsync(fd);
        fsync(dfd);
    }
    close(dfd);
    *datafd = fd;
    return 0;
}

int bfs_chunk_store_open(bfs_chunk_store_t **out, const char *dir,
                         const struct bfs_chunk_store_opts *opts)
{
    struct bfs_chunk_store_opts o = {0};
    if (opts)
        o = *opts;
    if (!o.queue_depth)
        o.queue_depth = CS_DEFAULT_QD;
    if (!o.max_open)
        o.max_open = CS_DEFAULT_MAX_OPEN;

    bfs_chunk_store_t *cs = calloc(1, sizeof(*cs));
    if (!cs)
        return -ENOMEM;
    cs->efd = -1;
    cs->datafd = -1;
    cs->trashfd = -1;
    cs->max_open = o.max_open;
    cs->direct = o.direct != 0;
    cs->direct_read = o.direct == 2;
    cs->owned = o.owned;
    cs->owned_arg = o.owned_arg;
    /* Buffered writes leave their bytes in the page cache already. */
    if (o.direct && o.cache_bytes && o.cache_chunk)
        cs->cache = bfs_chunk_cache_new(o.cache_bytes, o.cache_chunk); /* NULL: no cache */

    size_t nslots = 16;
    while (nslots < 2 * (size_t)o.max_open)
        nslots *= 2;
    cs->table = calloc(nslots, sizeof(*cs->table));
    cs->table_mask = nslots - 1;
    int rc = cs->table ? 0 : -ENOMEM;
    if (rc == 0)
        rc = make_dirs(dir, &cs->datafd);
    if (rc < 0) {
        bfs_chunk_cache_free(cs->cache);
        free(cs->table);
        free(cs);
        return rc;
    }
    /* Without a trash directory removals unlink at once, as before. */
    if (mkdirat(cs->datafd, "trash", 0755) == 0 || errno == EEXIST)
        cs->trashfd = openat(cs->datafd, "trash", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (cs->trashfd >= 0)
        trash_empty_dir(cs->trashfd);
    struct io_uring_params p = {0};
    rc = io_uring_queue_init_params(o.queue_depth, &cs->ring, &p);
    if (rc < 0) {
        if (cs->trashfd >= 0)
            close(cs->trashfd);
        close(cs->datafd);
        bfs_chunk_cache_free(cs->cache);
        free(cs->table);
        free(cs);
        return rc;
    }
    cs->ring_cap = p.cq_entries;
    cs->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    rc = cs->efd < 0 ? -errno : io_uring_register_eventfd(&cs->ring, cs->efd);
    if (rc < 0) {
        if (cs->efd >= 0)
            close(cs->efd);
        io_uring_queue_exit(&cs->ring);
        if (cs->trashfd >= 0)
            close(cs->trashfd);
        close(cs->datafd);
        bfs_chunk_cache_free(cs->cache);
        free(cs->table);
        free(cs);
        return rc;
    }
    *out = cs;
    return 0;
}

/* Reap until nothing is in flight or the deadline passes. */
static void drain(bfs_chunk_store_t *cs, uint64_t wait_ns)
{
    uint64_t deadline = bfs_now_ns() + wait_ns;
    while (bfs_chunk_store_reap(cs) >= 0 && cs->inflight > 0) {
        uint64_t now = bfs_now_ns();
        if (now >= deadline)
            return;
        if (cs->done_head || cs->removals)
            continue;
        uint64_t left = deadline - now;
        if (left > 10000000ull)
            left = 10000000ull;
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = (long long)left};
        struct io_uring_cqe *cqe;
        io_uring_wait_cqe_timeout(&cs->ring, &cqe, &ts);
    }
}

void bfs_chunk_store_close(bfs_chunk_store_t *cs)
{
    if (!cs)
        return;
    cs->closing = 1;
    drain(cs, CS_CLOSE_WAIT_NS);
    if (cs->inflight > 0) {
        bfs_warn("chunk store: %u operations still in flight after %llu s, cancelling",
                 cs->inflight, CS_CLOSE_WAIT_NS / 1000000000ull);
        struct io_uring_sqe *sqe = get_sqe(cs);
        if (sqe) {
            io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY);
            io_uring_sqe_set_data(sqe, NULL);
        }
        drain(cs, CS_CANCEL_WAIT_NS);
    }
    if (cs->inflight > 0)
        bfs_error("chunk store: abandoning %u operations; their buffers may still be "
                  "accessed by the kernel", cs->inflight);
    /* Removals are renames done here, never abandoned: a chunk they hold
     * must not reappear. */
    bfs_chunk_store_finish_removals(cs);
    if (cs->loop)
        bfs_evloop_del_fd(cs->loop, cs->efd);
    /* Ring first: the kernel keeps its own references to files it uses. */
    io_uring_queue_exit(&cs->ring);
    close(cs->efd);

    /* Whatever is left was abandoned: report it cancelled, exactly once. */
    while (cs->all) {
        struct op *op = cs->all;
        if (top_level(op) && cs->inflight > 0) {
            cs->inflight--;
            if (op->cb)
                op->cb(-ECANCELED, op->arg);
        }
        if (op->cf)
            cf_unref(op->cf);
        if (op->dirfd >= 0)
            close(op->dirfd);
        op_free(cs, op);
    }
    while (cs->lru_head)
        cf_detach(cs, cs->lru_head);
    while (cs->free_ops) {
        struct op *op = cs->free_ops;
        cs->free_ops = op->next;
        free(op);
    }
    /* The rest of the trash: what a removal before would have done. */
    if (cs->trashfd >= 0) {
        while (trash_slice(cs, UINT64_MAX / 2))
            ;
        close(cs->trashfd);
    }
    close(cs->datafd);
    if (cs->cache) {
        struct bfs_chunk_cache_stats st;
        bfs_chunk_cache_stats(cs->cache, &st);
        bfs_info("chunk cache: %llu reads from memory, %llu from the files, %llu evictions, "
                 "%llu writes copied in flight, buffers: %llu touched ahead, %llu reused",
                 (unsigned long long)st.hits, (unsigned long long)st.misses,
                 (unsigned long long)st.evictions, (unsigned long long)st.early,
                 (unsigned long long)st.warm, (unsigned long long)st.recycled);
    }
    bfs_chunk_cache_free(cs->cache);
    free(cs->table);
    free(cs);
}
