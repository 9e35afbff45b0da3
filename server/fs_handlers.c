/* The file-system RPC handlers: decode a request, call the metadata or chunk
 * store, reply. See common/proto.h for what each RPC carries. */
#include "server.h"
#include "fs_decode.h"
#include "small_chunks.h"
#include "meta_reap.h"
#include "open_refs.h"
#include "reaper.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "../common/path.h"
#include "../common/placement.h"
#include "../common/proto.h"
#include "../rpc/rpc_proc.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

static void reply_status(bfs_rpc_req_t *req, int st) { bfs_rpc_reply(req, st, NULL, 0); }

static void free_user(bfs_rpc_req_t *req) { free(req->user); }

/* Reply with a copy of obj: the reply data must outlive this call until the
 * send completes, so it lives in req->user until on_done. */
static void reply_copy(bfs_rpc_req_t *req, int st, const void *obj, size_t len)
{
    void *copy = malloc(len);
    if (!copy) {
        reply_status(req, -ENOMEM);
        return;
    }
    memcpy(copy, obj, len);
    req->user = copy;
    req->on_done = free_user;
    struct iovec iov = {copy, len};
    bfs_rpc_reply(req, st, &iov, 1);
}

/* Group commit of metadata (meta_store.h): a handler that changes metadata
 * joins the open batch and queues its reply; the batch commits, and the
 * replies leave, before the event loop sleeps. A reply never acknowledges a
 * change that could still be lost with the server process. */
struct pending_reply {
    bfs_rpc_req_t *req;
    int status;
    size_t len;
    struct pending_reply *next;
    unsigned char data[sizeof(struct bfs_inode)];
};

static int flush_pending(struct bfs_server *s);

/* Join the open batch, or open one. A batch that has grown long is
 * committed first: each mutation reserves room in the metadata store's
 * file, and a thousand requests in one loop pass must not ask a nearly full
 * disk for hundreds of MiB at once. */
#define BATCH_MAX 64
static void meta_begin(struct bfs_server *s)
{
    if (bfs_meta_batch_size(s->meta) >= BATCH_MAX)
        flush_pending(s);
    bfs_meta_batch_begin(s->meta);
}

void bfs_fs_meta_begin(struct bfs_server *s) { meta_begin(s); }

/* Commit the batch, then send every queued reply (an error for all of them
 * when the commit failed). A reply with data is sent from its queue entry,
 * which on_done frees: one allocation per change. */
static int flush_pending(struct bfs_server *s)
{
    int rc = bfs_meta_batch_commit(s->meta);
    if (rc < 0)
        bfs_error("committing metadata failed: %s", strerror(-rc));
    bfs_reaper_committed(s, rc);
    struct pending_reply *p = s->pending;
    s->pending = NULL;
    s->pending_tail = &s->pending;
    while (p) {
        struct pending_reply *next = p->next;
        bfs_rpc_req_t *req = p->req;
        int st = rc < 0 ? rc : p->status;
        if (st >= 0 && p->len) {
            struct iovec iov = {p->data, p->len};
            req->user = p;
            req->on_done = free_user;
            bfs_rpc_reply(req, st, &iov, 1);
        } else {
            free(p);
            reply_status(req, st);
        }
        p = next;
    }
    return rc;
}

static void meta_reply(struct bfs_server *s, bfs_rpc_req_t *req, int st, const void *obj,
                       size_t len)
{
    struct pending_reply *p = malloc(sizeof(*p));
    if (!p) {
        /* Cannot queue: commit (answering what is queued), then answer. */
        int rc = flush_pending(s);
        reply_status(req, rc < 0 ? rc : st < 0 ? st : len ? -ENOMEM : st);
        return;
    }
    p->req = req;
    p->status = st;
    p->len = len < sizeof(p->data) ? len : sizeof(p->data);
    if (p->len)
        memcpy(p->data, obj, p->len);
    p->next = NULL;
    *s->pending_tail = p;
    s->pending_tail = &p->next;
}

static void meta_reply_inode(struct bfs_server *s, bfs_rpc_req_t *req, int st,
                             const struct bfs_inode *ino)
{
    meta_reply(s, req, st, ino, sizeof(*ino));
}

int bfs_fs_commit(void *arg)
{
    struct bfs_server *s = arg;
    int replied = s->pending != NULL;
    flush_pending(s);
    return replied; /* replies were posted: let the RPC layer progress them */
}

/* Log a refused request: each kind at most once a second. */
static int refused(struct bfs_server *s, bfs_rpc_req_t *req, enum bfs_refusal why, int err)
{
    static const char *what[BFS_REFUSED_KINDS] = {
        [BFS_REFUSED_NONE] = "an invalid request",
        [BFS_REFUSED_PATH] = "an invalid path",
        [BFS_REFUSED_NAME] = "an invalid entry name",
        [BFS_REFUSED_RANGE] = "a range outside a chunk or a chunk this server does not hold",
        [BFS_REFUSED_LENGTHS] = "lengths that do not add up",
    };
    /* Overlong paths are a kind of their own. */
    unsigned slot = why == BFS_REFUSED_PATH && err == -ENAMETOOLONG ? BFS_REFUSED_KINDS : why;
    if (bfs_log_ratelimit(&s->log_refused_ns[slot]))
        bfs_warn("refused a request with %s (rpc %u: %s)", what[why], bfs_rpc_req_id(req),
                 strerror(-err));
    return err;
}

/* A decoder's result (fs_decode.h): refusals are logged. */
static int decoded(struct bfs_server *s, bfs_rpc_req_t *req, const struct bfs_fs_args *a, int rc)
{
    if (rc < 0 && a->refused != BFS_REFUSED_NONE)
        refused(s, req, a->refused, rc);
    return rc;
}

/* The path of a request whose whole payload is a path, into a. */
static int take_path(struct bfs_server *s, bfs_rpc_req_t *req, struct bfs_fs_args *a)
{
    return decoded(s, req, a, bfs_fs_decode_path(&req->hdr, req->data, a));
}

/* BFS_F_OPEN (open_refs.h): the caller opens file fid, whose inode is
 * here: one open reference for it. The inode was read from committed data
 * (LOOKUP, STAT); an unlink earlier in the open batch may have killed it,
 * and then the open comes after that unlink: gone_err. A request without
 * a known client process counts nothing (its file dies at its unlink). */
static int open_ref(struct bfs_server *s, bfs_rpc_req_t *req, uint64_t fid, int gone_err)
{
    if (!(req->hdr.flags & BFS_F_OPEN))
        return 0;
    int alive = bfs_meta_fid_alive(s->meta, fid);
    if (alive <= 0)
        return alive < 0 ? alive : gone_err;
    bfs_open_refs_add(s->refs, req, fid);
    return 0;
}

static int parent_of(const char *path, size_t len, char *parent, const char **base)
{
    size_t pl = bfs_path_parent_len(path, len);
    memcpy(parent, path, pl);
    parent[pl] = '\0';
    *base = bfs_path_base(path, len);
    return (int)pl;
}

/* A file is created where its parent directory's entries are: the name
 * and the inode in one transaction (bfs_meta_file_create). A directory's
 * record is created at its own path; with BFS_F_DIRENT its name too (the
 * parent is here): the name must be free (an existing entry keeps its
 * type), and a record left by a mkdir that died before adding its name is
 * taken over. */
static int h_create(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    meta_begin(s);
    struct bfs_fs_args a;
    char parent[BFS_PATH_MAX];
    const char *base = NULL;
    int len = take_path(s, req, &a);
    const char *path = a.path;
    if (len < 0 || len == 1) {
        meta_reply(s, req, len < 0 ? len : -EEXIST, NULL, 0);
        return BFS_RPC_DONE;
    }
    uint32_t mode = (uint32_t)req->hdr.arg0;
    uint32_t uid = (uint32_t)(req->hdr.arg1 >> 32), gid = (uint32_t)req->hdr.arg1;
    struct bfs_inode ino;
    parent_of(path, (size_t)len, parent, &base);
    int rc;
    if (!S_ISDIR(mode)) {
        rc = bfs_meta_file_create(s->meta, parent, base, mode, uid, gid,
                                  (int64_t)req->hdr.offset, (req->hdr.flags & BFS_F_EXCL) != 0,
                                  &ino);
        if (rc >= 0 && rc != BFS_FOUND_ELSEWHERE && S_ISREG(ino.mode)) {
            int o = open_ref(s, req, ino.fid, -ESTALE);
            rc = o < 0 ? o : rc;
        }
        if (rc < 0)
            meta_reply(s, req, rc, NULL, 0);
        else
            meta_reply_inode(s, req, rc, &ino);
        return BFS_RPC_DONE;
    }
    rc = bfs_meta_create(s->meta, path, mode, uid, gid, (int64_t)req->hdr.offset, &ino);
    int made = rc == 0;
    if (rc == -EEXIST && !S_ISDIR(ino.mode))
        rc = -EIO; /* no file lives in the path table */
    if ((rc == 0 || rc == -EEXIST) && (req->hdr.flags & BFS_F_DIRENT)) {
        /* The name must be free: an existing entry keeps its type. A
         * record without a name (its mkdir died before adding it) is
         * taken over. */
        struct bfs_dent old;
        rc = bfs_meta_name_add(s->meta, parent, base, BFS_DT_DIR, ino.fid, &old);
        if (rc < 0 && made)
            bfs_meta_remove(s->meta, path, 1, NULL);
    }
    if (rc == -EEXIST && !(req->hdr.flags & BFS_F_DIRENT)) {
        meta_reply_inode(s, req, BFS_FOUND, &ino);
        return BFS_RPC_DONE;
    }
    if (rc < 0)
        meta_reply(s, req, rc, NULL, 0);
    else
        meta_reply_inode(s, req, 0, &ino);
    return BFS_RPC_DONE;
}

/* An inode reply; a symlink's target follows it when the caller has room
 * for it (rcap), so that following a link or readlink costs no second RPC
 * (docs/DESIGN.md "Symbolic links and path resolution"). */
static void reply_inode_target(struct bfs_server *s, bfs_rpc_req_t *req, int st,
                               const struct bfs_inode *ino)
{
    char buf[sizeof(*ino) + BFS_TARGET_MAX];
    size_t n = sizeof(*ino);
    memcpy(buf, ino, n);
    if (S_ISLNK(ino->mode) && req->hdr.rcap > n) {
        size_t cap = req->hdr.rcap - n < BFS_TARGET_MAX ? req->hdr.rcap - n : BFS_TARGET_MAX;
        ssize_t t = bfs_meta_link_target(s->meta, ino->fid, buf + n, cap);
        if (t > 0)
            n += (size_t)t;
    }
    reply_copy(req, st, buf, n);
}

/* STAT: a file by id (ESTALE once it is gone), or the record at a path (a
 * directory). */
static int h_stat(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    struct bfs_fs_args a;
    struct bfs_inode ino;
    int rc = decoded(s, req, &a, bfs_fs_decode_target(&req->hdr, req->data, &a));
    if (rc >= 0 && a.by_fid) {
        rc = bfs_meta_fid_get(s->meta, a.fid, &ino);
        if (rc == -ENOENT)
            rc = -ESTALE;
        if (rc >= 0 && S_ISREG(ino.mode))
            rc = open_ref(s, req, a.fid, -ESTALE);
    } else if (rc >= 0) {
        rc = bfs_meta_get(s->meta, a.path, &ino);
    }
    if (rc < 0)
        reply_status(req, rc);
    else
        reply_inode_target(s, req, 0, &ino);
    return BFS_RPC_DONE;
}

/* LOOKUP: path, at its parent's server: the name, and the inode when it is
 * here (BFS_FOUND_ELSEWHERE otherwise). */
static int h_lookup(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    struct bfs_fs_args a;
    struct bfs_inode ino;
    char parent[BFS_PATH_MAX];
    const char *base;
    int len = take_path(s, req, &a);
    int rc = len;
    if (len == 1)
        rc = bfs_meta_get(s->meta, "/", &ino);
    else if (len > 0) {
        parent_of(a.path, (size_t)len, parent, &base);
        rc = bfs_meta_lookup(s->meta, parent, base, a.path, &ino);
        /* No name: is it the parent that is not here (a symlink or a file
         * in the path, or nothing)? Then the client walks the path. */
        if (rc == -ENOENT && bfs_meta_is_dir(s->meta, parent) == 0)
            rc = BFS_NOT_HERE;
        if (rc == 0 && S_ISREG(ino.mode)) {
            int o = open_ref(s, req, ino.fid, -ENOENT);
            rc = o < 0 ? o : rc;
        }
    }
    if (rc < 0 || rc == BFS_NOT_HERE)
        reply_status(req, rc);
    else
        reply_inode_target(s, req, rc, &ino);
    return BFS_RPC_DONE;
}

/* The object of a by-id-or-path request: what the edit functions take. */
#define TARGET_CALL(s, a, fn, ...)                                                         \
    ((a).by_fid ? bfs_meta_fid_##fn((s)->meta, (a).fid, __VA_ARGS__)                        \
                : bfs_meta_##fn((s)->meta, (a).path, __VA_ARGS__))

static int stale(const struct bfs_fs_args *a, int rc) { return a->by_fid && rc == -ENOENT ? -ESTALE : rc; }

static int take_target(struct bfs_server *s, bfs_rpc_req_t *req, struct bfs_fs_args *a)
{
    return decoded(s, req, a, bfs_fs_decode_target(&req->hdr, req->data, a));
}

static int h_chmod(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    meta_begin(s);
    struct bfs_fs_args a;
    int rc = take_target(s, req, &a);
    if (rc >= 0)
        rc = stale(&a, TARGET_CALL(s, a, chmod, (uint32_t)req->hdr.arg0, (int64_t)req->hdr.offset));
    meta_reply(s, req, rc < 0 ? rc : 0, NULL, 0);
    return BFS_RPC_DONE;
}

static int h_utimens(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    meta_begin(s);
    struct bfs_fs_args a;
    int rc = take_target(s, req, &a);
    if (rc >= 0)
        rc = stale(&a, TARGET_CALL(s, a, utimens, (int64_t)req->hdr.arg0, (int64_t)req->hdr.arg1,
                                   (int64_t)req->hdr.offset));
    meta_reply(s, req, rc < 0 ? rc : 0, NULL, 0);
    return BFS_RPC_DONE;
}

static int h_setsize(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    meta_begin(s);
    struct bfs_fs_args a;
    struct bfs_inode before;
    int rc = take_target(s, req, &a);
    if (rc >= 0)
        rc = stale(&a, TARGET_CALL(s, a, set_size, req->hdr.arg0, (int64_t)req->hdr.offset, &before));
    if (rc < 0)
        meta_reply(s, req, rc, NULL, 0);
    else
        meta_reply_inode(s, req, 0, &before);
    return BFS_RPC_DONE;
}

/* A write's size update that changes nothing: the committed size already
 * covers end. Then no batch is opened and the reply need not wait for a
 * commit. Reading the committed state is enough: a mutation still in the
 * open batch (a truncate, say) is not acknowledged yet, so this write may
 * be ordered before it. */
static int grow_needed(struct bfs_server *s, uint64_t fid, uint64_t end)
{
    struct bfs_inode ino;
    return bfs_meta_fid_get(s->meta, fid, &ino) != 0 || ino.size < end;
}

static int h_grow(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    struct bfs_fs_args a;
    int rc = take_target(s, req, &a);
    if (rc >= 0 && a.by_fid && !grow_needed(s, a.fid, req->hdr.arg0)) {
        reply_status(req, 0);
        return BFS_RPC_DONE;
    }
    meta_begin(s);
    if (rc >= 0)
        rc = stale(&a, TARGET_CALL(s, a, grow, req->hdr.arg0, (int64_t)req->hdr.offset, NULL));
    meta_reply(s, req, rc < 0 ? rc : 0, NULL, 0);
    return BFS_RPC_DONE;
}

/* O_APPEND: reserve [size, size + arg0) in the batch; the reply (the inode
 * before) leaves after the commit, so two appenders never get overlapping
 * ranges, whichever node they run on. */
static int h_append(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    meta_begin(s);
    struct bfs_fs_args a;
    struct bfs_inode before;
    int rc = take_target(s, req, &a);
    if (rc >= 0)
        rc = stale(&a, TARGET_CALL(s, a, append, req->hdr.arg0, (int64_t)req->hdr.offset, &before));
    if (rc < 0)
        meta_reply(s, req, rc, NULL, 0);
    else
        meta_reply_inode(s, req, 0, &before);
    return BFS_RPC_DONE;
}

/* UNREF: one link less of a file whose name was dropped on another server. */
static int h_unref(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    meta_begin(s);
    struct bfs_fs_args a;
    struct bfs_inode dead;
    int rc = take_target(s, req, &a);
    if (rc >= 0 && !a.by_fid)
        rc = -EINVAL;
    if (rc >= 0)
        rc = bfs_meta_fid_unref(s->meta, a.fid, &dead);
    if (rc == 1)
        meta_reply_inode(s, req, BFS_LINK_DEAD, &dead);
    else
        meta_reply(s, req, rc < 0 ? rc : 0, NULL, 0);
    return BFS_RPC_DONE;
}

/* CLOSE: one open reference of the caller less (sent without waiting). A
 * file unlinked while open dies at its last close (reaper.c). */
static int h_close(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    struct bfs_fs_args a;
    if (!(req->hdr.flags & BFS_F_BYFID)) {
        /* A batch: arg0 fids of 8 bytes each (client/close_refs.c). */
        uint64_t n = req->hdr.arg0;
        int rc = n && n <= 64 && req->hdr.len == n * 8 ? 0 : -EINVAL;
        for (uint64_t i = 0; rc == 0 && i < n; i++) {
            uint64_t fid;
            memcpy(&fid, (const char *)req->data + 8 * i, 8);
            bfs_open_refs_drop(s->refs, req, fid);
        }
        reply_status(req, rc < 0 ? refused(s, req, BFS_REFUSED_LENGTHS, rc) : 0);
        return BFS_RPC_DONE;
    }
    int rc = take_target(s, req, &a);
    if (rc >= 0 && a.by_fid)
        bfs_open_refs_drop(s->refs, req, a.fid);
    reply_status(req, rc < 0 ? rc : 0);
    return BFS_RPC_DONE;
}

/* LINK: one more link of a file, before its new name is added. */
static int h_link(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    meta_begin(s);
    struct bfs_fs_args a;
    struct bfs_inode ino;
    int rc = take_target(s, req, &a);
    if (rc >= 0 && !a.by_fid)
        rc = -EINVAL;
    if (rc >= 0)
        rc = stale(&a, bfs_meta_fid_link(s->meta, a.fid, (int64_t)req->hdr.offset, &ino));
    if (rc < 0)
        meta_reply(s, req, rc, NULL, 0);
    else
        meta_reply_inode(s, req, 0, &ino);
    return BFS_RPC_DONE;
}

/* REMOVE of a file: its name, at the parent's server (and its inode's link
 * when that is here); of a directory: its record (and with BFS_F_DIRENT
 * its name, the parent being here). */
static int h_remove(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    meta_begin(s);
    struct bfs_fs_args a;
    char parent[BFS_PATH_MAX];
    const char *base;
    struct bfs_inode ino;
    int len = take_path(s, req, &a);
    const char *path = a.path;
    if (len < 0 || len == 1) {
        meta_reply(s, req, len < 0 ? len : -EBUSY, NULL, 0);
        return BFS_RPC_DONE;
    }
    parent_of(path, (size_t)len, parent, &base);
    int rc;
    if (req->hdr.arg0 == BFS_RM_FILE) {
        rc = bfs_meta_unlink(s->meta, parent, base, &ino);
        if (rc < 0)
            meta_reply(s, req, rc, NULL, 0);
        else
            meta_reply_inode(s, req, rc, &ino);
        return BFS_RPC_DONE;
    }
    struct bfs_dent d;
    int named = 0;
    if (req->hdr.flags & BFS_F_DIRENT) {
        /* The name and the record go in one batch, so no one sees one
         * without the other; a record that cannot go (ENOTEMPTY) gets its
         * name back in the same batch. Everything looked at here is the
         * batch's view: a mkdir earlier in it counts. */
        rc = bfs_meta_name_del(s->meta, parent, base, BFS_DT_DIR, 0, &d);
        if (rc < 0 && rc != -ENOENT) {
            meta_reply(s, req, rc, NULL, 0);
            return BFS_RPC_DONE;
        }
        named = rc == 0;
    }
    /* arg1: the fid the record must have (0: any). */
    rc = bfs_meta_remove_fid(s->meta, path, 1, req->hdr.arg1, &ino);
    if ((req->hdr.flags & BFS_F_DIRENT) && !named) {
        /* No name: an unnamed record (its mkdir died) is cleaned up, but
         * to the caller nothing was there. */
        rc = rc == -EISDIR || rc == -ENOTDIR ? rc : -ENOENT;
    } else if (rc == -ENOENT && named) {
        rc = 0; /* a name without its record: the name was the garbage */
    } else if (rc < 0 && named) {
        bfs_meta_name_put(s->meta, parent, base, BFS_DT_DIR, d.fid, NULL);
    }
    if (rc < 0)
        meta_reply(s, req, rc, NULL, 0);
    else
        meta_reply_inode(s, req, 0, &ino);
    return BFS_RPC_DONE;
}

/* PUT of a directory record (directory rename); with BFS_F_DIRENT its name
 * too (the parent is here). */
static int h_put(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    meta_begin(s);
    struct bfs_fs_args a;
    char parent[BFS_PATH_MAX];
    const char *base = NULL;
    struct bfs_inode old;
    int len = decoded(s, req, &a, bfs_fs_decode_put(&req->hdr, req->data, &a));
    if (len < 0) {
        meta_reply(s, req, len, NULL, 0);
        return BFS_RPC_DONE;
    }
    if (!S_ISDIR(a.ino.mode)) {
        meta_reply(s, req, -EINVAL, NULL, 0);
        return BFS_RPC_DONE;
    }
    if (req->hdr.flags & BFS_F_DIRENT) {
        parent_of(a.path, (size_t)len, parent, &base);
        int rc = bfs_meta_name_put(s->meta, parent, base, BFS_DT_DIR, a.ino.fid, NULL);
        if (rc < 0) {
            meta_reply(s, req, rc, NULL, 0);
            return BFS_RPC_DONE;
        }
    }
    int rc = bfs_meta_put(s->meta, a.path, &a.ino, &old);
    if (rc < 0 && (req->hdr.flags & BFS_F_DIRENT)) {
        struct bfs_dent d; /* the record cannot go there: nor can the name */
        bfs_meta_name_del(s->meta, parent, base, BFS_DT_DIR, a.ino.fid, &d);
    }
    if (rc == 1)
        meta_reply_inode(s, req, 1, &old);
    else
        meta_reply(s, req, rc, NULL, 0);
    return BFS_RPC_DONE;
}

/* An entry goes back as an inode with only fid and type set. */
static void meta_reply_dent(struct bfs_server *s, bfs_rpc_req_t *req, int st,
                            const struct bfs_dent *d)
{
    struct bfs_inode ino;
    memset(&ino, 0, sizeof(ino));
    ino.fid = d->fid;
    ino.mode = bfs_mode_of_dt(d->type);
    meta_reply_inode(s, req, st, &ino);
}

/* DIRENT_ADD: arg0 type, arg1 fid; BFS_F_EXCL: the name must be free
 * (reply: the existing entry), else rename rules (reply: BFS_LINK_* and
 * the inode). DIRENT_DEL: arg0 type wanted (0 any), arg1 fid (0 any);
 * reply: the entry removed. */
static int dirent_op(struct bfs_server *s, bfs_rpc_req_t *req, int add)
{
    struct bfs_fs_args a;
    meta_begin(s);
    int rc = decoded(s, req, &a, bfs_fs_decode_dirent(&req->hdr, req->data, &a));
    struct bfs_dent d;
    struct bfs_inode ino;
    memset(&d, 0, sizeof(d));
    uint8_t type = (uint8_t)req->hdr.arg0;
    if (rc >= 0 && add && bfs_dt_of_mode(bfs_mode_of_dt(type)) != type)
        rc = -EINVAL; /* no entry type of ours */
    if (rc < 0) {
        meta_reply(s, req, rc, NULL, 0);
    } else if (add && (req->hdr.flags & BFS_F_EXCL)) {
        /* A taken name answers BFS_FOUND and the entry (an error reply
         * carries no data). */
        rc = bfs_meta_name_add(s->meta, a.path, a.name, type, req->hdr.arg1, &d);
        if (rc == -EEXIST)
            meta_reply_dent(s, req, BFS_FOUND, &d);
        else
            meta_reply(s, req, rc, NULL, 0);
    } else if (add) {
        /* With BFS_F_LINK the file's new link and its new name are one
         * transaction (the batch): no crash leaves one without the other. */
        int linked = 0;
        if (req->hdr.flags & BFS_F_LINK) {
            struct bfs_inode after;
            rc = bfs_meta_fid_link(s->meta, req->hdr.arg1, bfs_wall_ns(), &after);
            linked = rc >= 0;
            if (rc == -ENOENT)
                rc = -ESTALE;
        }
        if (rc >= 0)
            rc = bfs_meta_name_put(s->meta, a.path, a.name, type, req->hdr.arg1, &ino);
        if (linked && (rc < 0 || rc == BFS_LINK_SAME)) {
            struct bfs_inode dead;
            bfs_meta_fid_unref(s->meta, req->hdr.arg1, &dead); /* no new name: no new link */
        }
        meta_reply(s, req, rc, &ino, rc >= 0 ? sizeof(ino) : 0);
    } else {
        rc = bfs_meta_name_del(s->meta, a.path, a.name, (int)req->hdr.arg0, req->hdr.arg1, &d);
        if (rc == 0 && (req->hdr.flags & BFS_F_LINK) && req->hdr.arg1) {
            struct bfs_inode dead;
            int u = bfs_meta_fid_unref(s->meta, req->hdr.arg1, &dead);
            if (u < 0)
                bfs_warn("rename: dropping the link of %016llx: %s",
                         (unsigned long long)req->hdr.arg1, strerror(-u));
        }
        meta_reply_dent(s, req, rc < 0 ? rc : 0, &d);
    }
    return BFS_RPC_DONE;
}

static int h_dirent_add(bfs_rpc_req_t *req, void *arg) { return dirent_op(arg, req, 1); }
static int h_dirent_del(bfs_rpc_req_t *req, void *arg) { return dirent_op(arg, req, 0); }

/* RENAME of a file whose source and destination parents are both here:
 * one transaction. */
static int h_rename(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    meta_begin(s);
    struct bfs_fs_args a;
    struct bfs_inode ino;
    char sp[BFS_PATH_MAX], dp[BFS_PATH_MAX];
    const char *sb, *db;
    int rc = decoded(s, req, &a, bfs_fs_decode_rename(&req->hdr, req->data, &a));
    if (rc >= 0 && (a.plen == 1 || a.plen2 == 1))
        rc = -EBUSY;
    if (rc < 0) {
        meta_reply(s, req, rc, NULL, 0);
        return BFS_RPC_DONE;
    }
    parent_of(a.path, a.plen, sp, &sb);
    parent_of(a.path2, a.plen2, dp, &db);
    rc = bfs_meta_rename_local(s->meta, sp, sb, dp, db, &ino);
    if (rc < 0)
        meta_reply(s, req, rc, NULL, 0);
    else
        meta_reply_inode(s, req, rc, &ino);
    return BFS_RPC_DONE;
}

/* SYMLINK (path + target) and MKNOD (path; arg0 the mode): a node that is
 * neither file nor directory, inode and name here in one transaction. */
static int node_create(bfs_rpc_req_t *req, struct bfs_server *s, int symlink)
{
    meta_begin(s);
    struct bfs_fs_args a;
    char parent[BFS_PATH_MAX];
    const char *base;
    struct bfs_inode ino;
    int rc = decoded(s, req, &a, symlink ? bfs_fs_decode_symlink(&req->hdr, req->data, &a)
                                         : bfs_fs_decode_path(&req->hdr, req->data, &a));
    if (rc == 1)
        rc = -EEXIST; /* "/" */
    uint32_t uid = (uint32_t)(req->hdr.arg1 >> 32), gid = (uint32_t)req->hdr.arg1;
    if (rc > 0) {
        parent_of(a.path, a.plen, parent, &base);
        rc = symlink ? bfs_meta_symlink_create(s->meta, parent, base, a.path2, a.plen2, uid, gid,
                                               (int64_t)req->hdr.offset, &ino)
                     : bfs_meta_special_create(s->meta, parent, base, (uint32_t)req->hdr.arg0,
                                               uid, gid, (int64_t)req->hdr.offset, &ino);
    }
    if (rc < 0)
        meta_reply(s, req, rc, NULL, 0);
    else
        meta_reply_inode(s, req, 0, &ino);
    return BFS_RPC_DONE;
}

static int h_symlink(bfs_rpc_req_t *req, void *arg) { return node_create(req, arg, 1); }
static int h_mknod(bfs_rpc_req_t *req, void *arg) { return node_create(req, arg, 0); }

/* A reply buffer from the server's pool, returned in on_done. */
struct pool_buf {
    struct bfs_server *s;
    void *buf;
    size_t cap;
};

static void pool_buf_release(bfs_rpc_req_t *req)
{
    struct pool_buf *pb = req->user;
    bfs_rpc_bufpool_put(&pb->s->pool, pb->buf, pb->cap);
    free(pb);
}

static struct pool_buf *pool_buf_get(struct bfs_server *s, size_t cap)
{
    struct pool_buf *pb = malloc(sizeof(*pb));
    void *buf = pb ? bfs_rpc_bufpool_get(&s->pool, cap) : NULL;
    if (!buf) {
        free(pb);
        return NULL;
    }
    pb->s = s;
    pb->buf = buf;
    pb->cap = cap;
    return pb;
}

static int h_readdir(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    struct bfs_fs_args a;
    int rc = decoded(s, req, &a, bfs_fs_decode_readdir(&req->hdr, req->data, &a));
    size_t cap = a.rcap;
    if (rc < 0) {
        reply_status(req, rc);
        return BFS_RPC_DONE;
    }
    struct pool_buf *pb = pool_buf_get(s, cap);
    if (!pb) {
        reply_status(req, -ENOMEM);
        return BFS_RPC_DONE;
    }
    int more = 0;
    ssize_t n = bfs_meta_readdir(s->meta, a.path, a.name, pb->buf, cap, &more);
    req->user = pb;
    req->on_done = pool_buf_release;
    if (n < 0) {
        reply_status(req, (int)n);
        return BFS_RPC_DONE;
    }
    req->reply.arg0 = (uint64_t)more;
    struct iovec iov = {pb->buf, (size_t)n};
    bfs_rpc_reply(req, 0, &iov, n ? 1 : 0);
    return BFS_RPC_DONE;
}

static int h_statfs(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    struct statvfs v;
    if (statvfs(s->dir, &v) < 0) {
        reply_status(req, -errno);
        return BFS_RPC_DONE;
    }
    struct stat ds;
    struct bfs_statfs st = {
        .bsize = v.f_frsize, .blocks = v.f_blocks, .bfree = v.f_bfree,
        .bavail = v.f_bavail, .files = v.f_files, .ffree = v.f_ffree,
        .host = bfs_rpc_boot_hash(), .dev = stat(s->dir, &ds) == 0 ? (uint64_t)ds.st_dev : 0,
    };
    uint64_t files = 0;
    bfs_meta_count(s->meta, &st.inodes_used);
    bfs_meta_files_count(s->meta, &files);
    st.inodes_used += files;
    reply_copy(req, 0, &st, sizeof(st));
    return BFS_RPC_DONE;
}

/* ---- data ---- */

/* Server-internal request flag: the reply waits for the metadata batch (the
 * write changed a small chunk, which is part of that batch). Set after
 * decoding. */
#define F_AFTER_COMMIT 0x80000000u

static void write_done(int64_t res, void *arg)
{
    bfs_rpc_req_t *req = arg;
    struct bfs_server *s = req->user;
    int grown = 0;
    if (res >= 0 && (req->hdr.flags & BFS_F_GROW)) {
        uint64_t fid = req->hdr.arg0;
        uint64_t end = req->hdr.arg1 * s->chunk_size + req->hdr.offset + (uint64_t)res;
        if (!grow_needed(s, fid, end))
            goto reply;
        grown = 1;
        meta_begin(s);
        /* The file may have been unlinked meanwhile: ESTALE, the bytes
         * belong to no file. Any other failure (ENOSPC: the metadata store
         * cannot grow on a full disk) means the bytes are not part of the
         * file: the write must not be acknowledged. */
        int g = bfs_meta_fid_grow(s->meta, fid, end, bfs_wall_ns(), NULL);
        if (g < 0)
            res = g == -ENOENT ? -ESTALE : g;
    }
reply:
    req->user = NULL;
    req->reply.arg0 = res > 0 ? (uint64_t)res : 0;
    if (grown || (req->hdr.flags & F_AFTER_COMMIT))
        meta_reply(s, req, res < 0 ? (int)res : 0, NULL, 0);
    else
        bfs_rpc_reply(req, res < 0 ? (int)res : 0, NULL, 0);
}

static size_t write_prefix(const struct bfs_rpc_hdr *h) { return h->arg2; }

enum write_place { TO_SMALL, TO_FILE };

/* Where a write goes (small_chunks.h): into the chunk's small value when it
 * has one and stays within the limit; into a new value when the chunk has
 * neither value nor file and the write ends within the limit; else into the
 * chunk file. A value that the write would take past the limit is promoted
 * first: its bytes go to the file, the value is deleted and the batch
 * commits before the write is done, so that no committed value can hide the
 * file (a failed commit fails the write; the value still stands). A write
 * to a chunk without a value opens no metadata transaction. Returns an enum
 * write_place or a negative errno. */
static int place_write(struct bfs_server *s, const bfs_rpc_req_t *req, const void *data,
                       size_t len)
{
    uint64_t fid = req->hdr.arg0, idx = req->hdr.arg1, off = req->hdr.offset;
    int has = bfs_small_exists(s->meta, fid, idx);
    if (has < 0)
        return has;
    if (!has) {
        if (off + len > s->small_max)
            return TO_FILE;
        int e = bfs_chunk_exists(s->chunks, fid, idx);
        if (e != 0)
            return e < 0 ? e : TO_FILE;
    }
    meta_begin(s);
    ssize_t r = bfs_small_write(s->meta, fid, idx, off, data, len, s->small_max, !has);
    if (r >= 0)
        return TO_SMALL;
    if (r != -EFBIG)
        return (int)r;
    void *old = NULL;
    r = bfs_small_load(s->meta, fid, idx, &old);
    if (r >= 0)
        r = bfs_chunk_replace(s->chunks, fid, idx, old, (size_t)r);
    free(old);
    if (r >= 0)
        r = bfs_small_remove(s->meta, fid, idx, idx + 1);
    if (r >= 0)
        r = flush_pending(s);
    return r < 0 ? (int)r : TO_FILE;
}

static int h_write(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    struct bfs_fs_args a;
    int rc = decoded(s, req, &a, bfs_fs_decode_write(&req->hdr, req->data, s->chunk_size, &a));
    if (rc == 0 && !bfs_server_owns_chunk(req->hdr.arg0, req->hdr.arg1, s))
        rc = refused(s, req, BFS_REFUSED_RANGE, -EINVAL);
    if (rc == 0) {
        /* A piece that was on its way when the file died: no chunk of a
         * dead file is made again (the tombstone came with its freeing). */
        int dead = bfs_meta_dead_is(s->meta, req->hdr.arg0);
        if (dead != 0)
            rc = dead < 0 ? dead : -ESTALE;
    }
    if (rc == 0 && (req->hdr.flags & BFS_F_GROW)) {
        /* The file's home: a file that is gone gets no new chunk here. */
        struct bfs_inode ino;
        if (bfs_meta_fid_get(s->meta, req->hdr.arg0, &ino) == -ENOENT)
            rc = -ESTALE;
    }
    if (rc == 0)
        rc = place_write(s, req, a.wdata, a.wlen);
    if (rc < 0) {
        reply_status(req, rc);
        return BFS_RPC_DONE;
    }
    req->user = s;
    if (rc == TO_SMALL) {
        req->hdr.flags |= F_AFTER_COMMIT;
        write_done((int64_t)a.wlen, req);
        return BFS_RPC_DONE;
    }
    rc = bfs_chunk_write(s->chunks, req->hdr.arg0, req->hdr.arg1, req->hdr.offset, a.wdata,
                         a.wlen, write_done, req);
    if (rc < 0) {
        req->user = NULL;
        reply_status(req, rc);
        return BFS_RPC_DONE;
    }
    return BFS_RPC_DEFERRED;
}

static void read_done(int64_t res, void *arg)
{
    bfs_rpc_req_t *req = arg;
    struct pool_buf *pb = req->user;
    struct iovec iov = {pb->buf, res > 0 ? (size_t)res : 0};
    bfs_rpc_reply(req, res < 0 ? (int)res : 0, &iov, res > 0 ? 1 : 0);
}

static int h_read(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    struct bfs_fs_args a;
    uint64_t len = req->hdr.rcap;
    int rc = decoded(s, req, &a, bfs_fs_decode_read(&req->hdr, req->data, s->chunk_size, &a));
    if (rc == 0 && !bfs_server_owns_chunk(req->hdr.arg0, req->hdr.arg1, s))
        rc = refused(s, req, BFS_REFUSED_RANGE, -EINVAL);
    if (rc == 0 && (req->hdr.flags & BFS_F_SIZE)) {
        /* The size comes from the committed inode, looked up before the
         * data is read: a write acknowledged before this read arrived is
         * in both. */
        struct bfs_inode ino;
        rc = bfs_meta_fid_get(s->meta, req->hdr.arg0, &ino);
        if (rc == -ENOENT)
            rc = -ESTALE;
        req->reply.arg1 = rc == 0 ? ino.size : 0;
    }
    if (rc < 0) {
        reply_status(req, rc);
        return BFS_RPC_DONE;
    }
    if (len == 0) {
        reply_status(req, 0);
        return BFS_RPC_DONE;
    }
    struct pool_buf *pb = pool_buf_get(s, len);
    if (!pb) {
        reply_status(req, -ENOMEM);
        return BFS_RPC_DONE;
    }
    req->user = pb;
    req->on_done = pool_buf_release;
    /* A small chunk is answered from the metadata store at once. */
    ssize_t small = bfs_small_read(s->meta, req->hdr.arg0, req->hdr.arg1, req->hdr.offset,
                                   pb->buf, len);
    if (small != -ENOENT) {
        read_done(small, req);
        return BFS_RPC_DONE;
    }
    int r = bfs_chunk_read(s->chunks, req->hdr.arg0, req->hdr.arg1, req->hdr.offset, pb->buf,
                           len, read_done, req);
    if (r < 0) {
        reply_status(req, r);
        return BFS_RPC_DONE;
    }
    return BFS_RPC_DEFERRED;
}

/* Every chunk file of a truncate is renamed away (bfs_chunk_remove): the
 * reply, after the small values' commit like any other. */
static void trunc_removed(int64_t res, void *arg)
{
    bfs_rpc_req_t *req = arg;
    struct bfs_server *s = req->user;
    req->user = NULL;
    meta_begin(s);
    meta_reply(s, req, res < 0 ? (int)res : 0, NULL, 0);
}

/* Truncate or remove a file's chunks here: chunk files and small values,
 * the latter in the metadata batch (the reply waits for its commit). A
 * batch that deleted values commits at once: a write to one of those
 * chunks, later in the pass, must not go to a file while the value's
 * deletion is uncommitted (small_chunks.h). */
static int h_trunc_chunks(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    uint64_t fid = req->hdr.arg0, nsize = req->hdr.offset, osize = req->hdr.arg1;
    uint64_t cs = s->chunk_size;
    uint64_t keep = (nsize + cs - 1) / cs;      /* chunks that stay */
    uint64_t had = (osize + cs - 1) / cs;
    int rc = 0;
    meta_begin(s);
    if (req->hdr.flags & BFS_F_DEAD) {
        /* In the batch whose commit the reply waits for: once the freeing
         * is confirmed, no later write can bring a chunk of it back. A
         * metadata store without room for it (full disk: it fails before
         * writing) must not stop the freeing, which is what gives room
         * back: the tombstone is then missing, nothing else. */
        static uint64_t last_warn_ns; /* one event loop per process */
        int d = bfs_meta_dead_mark(s->meta, fid, bfs_wall_ns());
        if (d < 0 && bfs_log_ratelimit(&last_warn_ns))
            bfs_warn("tombstone of %016llx not written: %s", (unsigned long long)fid,
                     strerror(-d));
        nsize = 0;
        keep = 0;
    }
    if (nsize % cs && bfs_server_owns_chunk(fid, nsize / cs, s)) {
        rc = bfs_chunk_truncate(s->chunks, fid, nsize / cs, nsize % cs);
        if (rc >= 0)
            rc = bfs_small_truncate(s->meta, fid, nsize / cs, nsize % cs);
    }
    if (rc >= 0 && had > keep) {
        int dropped = bfs_small_remove(s->meta, fid, keep, had);
        if (dropped > 0)
            flush_pending(s);
        rc = dropped < 0 ? dropped
                         : bfs_chunk_remove(s->chunks, fid, keep, had, trunc_removed, req);
        if (rc == 0) {
            req->user = s;
            return BFS_RPC_DEFERRED; /* the chunk files go a slice per loop turn */
        }
    }
    meta_reply(s, req, rc < 0 ? rc : 0, NULL, 0);
    return BFS_RPC_DONE;
}

static void fsync_done(int64_t res, void *arg)
{
    bfs_rpc_req_t *req = arg;
    struct bfs_server *s = req->user;
    req->user = NULL;
    int rc = (int)res;
    if (rc >= 0)
        rc = bfs_meta_sync(s->meta);
    reply_status(req, rc < 0 ? rc : 0);
}

static int h_fsync(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    uint64_t n = (req->hdr.arg1 + s->chunk_size - 1) / s->chunk_size;
    req->user = s;
    int rc = bfs_chunk_fsync(s->chunks, req->hdr.arg0, n, fsync_done, req);
    if (rc < 0) {
        req->user = NULL;
        reply_status(req, rc);
        return BFS_RPC_DONE;
    }
    return BFS_RPC_DEFERRED;
}

static int h_ping(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    req->reply.arg0 = s->rank;
    req->reply.arg1 = bfs_rpc_server_inflight(s->rpc);
    req->reply.arg2 = bfs_rpc_server_conns(s->rpc); /* tests/lifecycle_clients.sh */
    req->reply.offset = s->nservers;
    /* tests: dead files not reaped yet, files open */
    req->reply.rcap = bfs_reaper_pending(s) | (uint64_t)bfs_open_refs_files(s->refs) << 32;
    reply_status(req, 0);
    return BFS_RPC_DONE;
}

static int h_shutdown(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    bfs_info("shutdown requested by a client");
    reply_status(req, 0);
    bfs_evloop_stop(s->loop);
    return BFS_RPC_DONE;
}

int bfs_server_owns_chunk(uint64_t fid, uint64_t idx, void *server)
{
    struct bfs_server *s = server;
    return bfs_place_chunk(fid, idx, s->nservers) == s->rank;
}

int bfs_fs_handlers_register(struct bfs_server *s)
{
    static const struct {
        unsigned id;
        bfs_rpc_handler_fn fn;
    } table[] = {
        {BFS_OP_CREATE, h_create},       {BFS_OP_STAT, h_stat},
        {BFS_OP_CHMOD, h_chmod},         {BFS_OP_UTIMENS, h_utimens},
        {BFS_OP_SETSIZE, h_setsize},     {BFS_OP_GROW, h_grow},
        {BFS_OP_REMOVE, h_remove},       {BFS_OP_PUT, h_put},
        {BFS_OP_DIRENT_ADD, h_dirent_add}, {BFS_OP_DIRENT_DEL, h_dirent_del},
        {BFS_OP_READDIR, h_readdir},     {BFS_OP_STATFS, h_statfs},
        {BFS_OP_APPEND, h_append},       {BFS_OP_LOOKUP, h_lookup},
        {BFS_OP_UNREF, h_unref},         {BFS_OP_RENAME, h_rename},
        {BFS_OP_LINK, h_link},           {BFS_OP_SYMLINK, h_symlink},
        {BFS_OP_MKNOD, h_mknod},
        {BFS_OP_CLOSE, h_close},
        {BFS_OP_WRITE, h_write},         {BFS_OP_READ, h_read},
        {BFS_OP_TRUNC_CHUNKS, h_trunc_chunks}, {BFS_OP_FSYNC, h_fsync},
        {BFS_OP_PING, h_ping},           {BFS_OP_SHUTDOWN, h_shutdown},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        int rc = bfs_rpc_server_register(s->rpc, table[i].id, table[i].fn, s);
        if (rc < 0)
            return rc;
    }
    /* A write's data follows its path: received page-aligned, it can go to
     * the chunk with O_DIRECT (otherwise the chunk store falls back to a
     * buffered write and its copy). */
    return bfs_rpc_server_set_data_prefix(s->rpc, BFS_OP_WRITE, write_prefix);
}
