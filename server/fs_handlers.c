/* The file-system RPC handlers: decode a request, call the metadata or chunk
 * store, reply. See common/proto.h for what each RPC carries. */
#include "server.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "../common/path.h"
#include "../common/placement.h"
#include "../common/proto.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define READDIR_MAX_REPLY (1u << 20)

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

static void reply_inode(bfs_rpc_req_t *req, int st, const struct bfs_inode *ino)
{
    reply_copy(req, st, ino, sizeof(*ino));
}

/* Kinds of refused requests: each is logged at most once a second. */
enum refusal { R_PATH, R_PATHLEN, R_NAME, R_RANGE, R_LENGTHS };

static int refused(struct bfs_server *s, bfs_rpc_req_t *req, enum refusal kind, int err)
{
    static const char *what[] = {
        [R_PATH] = "an invalid path",
        [R_PATHLEN] = "an invalid path",
        [R_NAME] = "an invalid entry name",
        [R_RANGE] = "a range outside a chunk or a chunk this server does not hold",
        [R_LENGTHS] = "lengths that do not add up",
    };
    if (bfs_log_ratelimit(&s->log_refused_ns[kind]))
        bfs_warn("refused a request with %s (rpc %u: %s)", what[kind], bfs_rpc_req_id(req),
                 strerror(-err));
    return err;
}

static int path_refused(struct bfs_server *s, bfs_rpc_req_t *req, int err)
{
    return refused(s, req, err == -ENAMETOOLONG ? R_PATHLEN : R_PATH, err);
}

/* Copy the path in the first plen payload bytes (all of it when plen is 0)
 * into out after validating it. */
static int take_path(struct bfs_server *s, bfs_rpc_req_t *req, size_t plen, char *out)
{
    size_t len = plen ? plen : req->hdr.len;
    if (len > req->hdr.len || !req->data)
        return refused(s, req, R_LENGTHS, -EINVAL);
    int rc = bfs_path_check(req->data, len);
    if (rc < 0)
        return path_refused(s, req, rc);
    memcpy(out, req->data, len);
    out[len] = '\0';
    return (int)len;
}

/* The name after the directory path in a payload "dir" + "name". */
static int take_name(struct bfs_server *s, bfs_rpc_req_t *req, size_t dlen, char *out,
                     int allow_empty)
{
    size_t n = req->hdr.len - dlen;
    if (n > BFS_NAME_MAX || (!allow_empty && n == 0))
        return refused(s, req, R_NAME, n ? -ENAMETOOLONG : -EINVAL);
    const char *p = (const char *)req->data + dlen;
    if (memchr(p, '/', n) || memchr(p, '\0', n))
        return refused(s, req, R_NAME, -EINVAL);
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return refused(s, req, R_NAME, -EINVAL);
    memcpy(out, p, n);
    out[n] = '\0';
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

static uint8_t dtype_of(uint32_t mode) { return S_ISDIR(mode) ? 4 /* DT_DIR */ : 8 /* DT_REG */; }

static int h_create(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    char path[BFS_PATH_MAX], parent[BFS_PATH_MAX];
    const char *base = NULL;
    int len = take_path(s, req, 0, path);
    if (len < 0 || len == 1) {
        reply_status(req, len < 0 ? len : -EEXIST);
        return BFS_RPC_DONE;
    }
    uint32_t mode = (uint32_t)req->hdr.arg0;
    if (!S_ISDIR(mode) && !S_ISREG(mode))
        mode = (mode & 07777) | S_IFREG;
    struct bfs_inode ino;
    if (req->hdr.flags & BFS_F_DIRENT) {
        parent_of(path, (size_t)len, parent, &base);
        int rc = bfs_meta_dirent_add(s->meta, parent, base, dtype_of(mode));
        if (rc < 0) {
            reply_status(req, rc);
            return BFS_RPC_DONE;
        }
    }
    int rc = bfs_meta_create(s->meta, path, mode, (uint32_t)(req->hdr.arg1 >> 32),
                             (uint32_t)req->hdr.arg1, (int64_t)req->hdr.offset, &ino);
    if (rc == -EEXIST) {
        if (req->hdr.flags & BFS_F_EXCL)
            reply_status(req, -EEXIST);
        else
            reply_inode(req, 1, &ino);
        return BFS_RPC_DONE;
    }
    if (rc < 0) {
        if (req->hdr.flags & BFS_F_DIRENT)
            bfs_meta_dirent_del(s->meta, parent, base);
        reply_status(req, rc);
        return BFS_RPC_DONE;
    }
    reply_inode(req, 0, &ino);
    return BFS_RPC_DONE;
}

static int h_stat(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    char path[BFS_PATH_MAX];
    struct bfs_inode ino;
    int rc = take_path(s, req, 0, path);
    if (rc >= 0)
        rc = bfs_meta_get(s->meta, path, &ino);
    if (rc < 0)
        reply_status(req, rc);
    else
        reply_inode(req, 0, &ino);
    return BFS_RPC_DONE;
}

static int h_chmod(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    char path[BFS_PATH_MAX];
    int rc = take_path(s, req, 0, path);
    if (rc >= 0)
        rc = bfs_meta_chmod(s->meta, path, (uint32_t)req->hdr.arg0, (int64_t)req->hdr.offset);
    reply_status(req, rc < 0 ? rc : 0);
    return BFS_RPC_DONE;
}

static int h_utimens(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    char path[BFS_PATH_MAX];
    int rc = take_path(s, req, 0, path);
    if (rc >= 0)
        rc = bfs_meta_utimens(s->meta, path, (int64_t)req->hdr.arg0, (int64_t)req->hdr.arg1,
                              (int64_t)req->hdr.offset);
    reply_status(req, rc < 0 ? rc : 0);
    return BFS_RPC_DONE;
}

static int h_setsize(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    char path[BFS_PATH_MAX];
    struct bfs_inode before;
    int rc = take_path(s, req, 0, path);
    if (rc >= 0)
        rc = bfs_meta_set_size(s->meta, path, req->hdr.arg0, (int64_t)req->hdr.offset, &before);
    if (rc < 0)
        reply_status(req, rc);
    else
        reply_inode(req, 0, &before);
    return BFS_RPC_DONE;
}

static int h_grow(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    char path[BFS_PATH_MAX];
    int rc = take_path(s, req, 0, path);
    if (rc >= 0)
        rc = bfs_meta_grow(s->meta, path, req->hdr.arg0, (int64_t)req->hdr.offset, NULL);
    reply_status(req, rc < 0 ? rc : 0);
    return BFS_RPC_DONE;
}

static int h_remove(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    char path[BFS_PATH_MAX], parent[BFS_PATH_MAX];
    const char *base;
    struct bfs_inode ino;
    int len = take_path(s, req, 0, path);
    if (len < 0 || len == 1) {
        reply_status(req, len < 0 ? len : -EBUSY);
        return BFS_RPC_DONE;
    }
    int kind = req->hdr.arg0 == BFS_RM_DIR ? 1 : req->hdr.arg0 == BFS_RM_FILE ? 0 : -1;
    int rc = bfs_meta_remove(s->meta, path, kind, &ino);
    if (rc == 0 && (req->hdr.flags & BFS_F_DIRENT)) {
        parent_of(path, (size_t)len, parent, &base);
        bfs_meta_dirent_del(s->meta, parent, base);
    }
    if (rc < 0)
        reply_status(req, rc);
    else
        reply_inode(req, 0, &ino);
    return BFS_RPC_DONE;
}

static int h_put(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    char path[BFS_PATH_MAX], parent[BFS_PATH_MAX];
    const char *base;
    struct bfs_inode ino, old;
    int len = take_path(s, req, req->hdr.arg2, path);
    if (len < 0 || len == 1 || req->hdr.len != (uint64_t)len + sizeof(ino)) {
        if (len > 1)
            refused(s, req, R_LENGTHS, -EINVAL);
        reply_status(req, len < 0 ? len : len == 1 ? -EBUSY : -EINVAL);
        return BFS_RPC_DONE;
    }
    memcpy(&ino, (const char *)req->data + len, sizeof(ino));
    if (req->hdr.flags & BFS_F_DIRENT) {
        parent_of(path, (size_t)len, parent, &base);
        int rc = bfs_meta_dirent_add(s->meta, parent, base, dtype_of(ino.mode));
        if (rc < 0) {
            reply_status(req, rc);
            return BFS_RPC_DONE;
        }
    }
    int rc = bfs_meta_put(s->meta, path, &ino, &old);
    if (rc == 1)
        reply_inode(req, 1, &old);
    else
        reply_status(req, rc);
    return BFS_RPC_DONE;
}

static int dirent_op(struct bfs_server *s, bfs_rpc_req_t *req, int add)
{
    char dir[BFS_PATH_MAX], name[BFS_NAME_MAX + 1];
    int rc = req->hdr.arg2 ? take_path(s, req, req->hdr.arg2, dir)
                           : refused(s, req, R_LENGTHS, -EINVAL);
    if (rc >= 0)
        rc = take_name(s, req, req->hdr.arg2, name, 0);
    if (rc >= 0)
        rc = add ? bfs_meta_dirent_add(s->meta, dir, name, (uint8_t)req->hdr.arg0)
                 : bfs_meta_dirent_del(s->meta, dir, name);
    reply_status(req, rc < 0 ? rc : 0);
    return BFS_RPC_DONE;
}

static int h_dirent_add(bfs_rpc_req_t *req, void *arg) { return dirent_op(arg, req, 1); }
static int h_dirent_del(bfs_rpc_req_t *req, void *arg) { return dirent_op(arg, req, 0); }

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
    char dir[BFS_PATH_MAX], after[BFS_NAME_MAX + 1];
    size_t dlen = req->hdr.arg2 ? req->hdr.arg2 : req->hdr.len;
    int rc = take_path(s, req, dlen, dir);
    if (rc >= 0)
        rc = take_name(s, req, dlen, after, 1);
    size_t cap = req->hdr.rcap < READDIR_MAX_REPLY ? req->hdr.rcap : READDIR_MAX_REPLY;
    if (rc >= 0 && cap < 16)
        rc = refused(s, req, R_LENGTHS, -EINVAL);
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
    ssize_t n = bfs_meta_readdir(s->meta, dir, after, pb->buf, cap, &more);
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
    struct bfs_statfs st = {
        .bsize = v.f_frsize, .blocks = v.f_blocks, .bfree = v.f_bfree,
        .bavail = v.f_bavail, .files = v.f_files, .ffree = v.f_ffree,
    };
    bfs_meta_count(s->meta, &st.inodes_used);
    reply_copy(req, 0, &st, sizeof(st));
    return BFS_RPC_DONE;
}

/* ---- data ---- */

static int chunk_range_ok(struct bfs_server *s, uint64_t off, uint64_t len)
{
    return off <= s->chunk_size && len <= s->chunk_size - off;
}

static void write_done(int64_t res, void *arg)
{
    bfs_rpc_req_t *req = arg;
    struct bfs_server *s = req->user;
    if (res >= 0 && (req->hdr.flags & BFS_F_GROW)) {
        char path[BFS_PATH_MAX];
        memcpy(path, req->data, req->hdr.arg2);
        path[req->hdr.arg2] = '\0';
        uint64_t end = req->hdr.arg1 * s->chunk_size + req->hdr.offset + (uint64_t)res;
        /* The file may have been unlinked meanwhile: the data write still
         * succeeded, so the caller is told so. Any other failure (ENOSPC:
         * the metadata store cannot grow on a full disk) means the bytes
         * are not part of the file: the write must not be acknowledged. */
        int g = bfs_meta_grow(s->meta, path, end, bfs_wall_ns(), NULL);
        if (g < 0 && g != -ENOENT)
            res = g;
    }
    req->user = NULL;
    req->reply.arg0 = res > 0 ? (uint64_t)res : 0;
    bfs_rpc_reply(req, res < 0 ? (int)res : 0, NULL, 0);
}

static int h_write(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    size_t plen = req->hdr.arg2;
    if (plen > req->hdr.len || ((req->hdr.flags & BFS_F_GROW) && plen == 0)) {
        reply_status(req, refused(s, req, R_LENGTHS, -EINVAL));
        return BFS_RPC_DONE;
    }
    if (plen) {
        int rc = bfs_path_check(req->data, plen);
        if (rc < 0) {
            reply_status(req, path_refused(s, req, rc));
            return BFS_RPC_DONE;
        }
    }
    uint64_t len = req->hdr.len - plen;
    if (!chunk_range_ok(s, req->hdr.offset, len) ||
        !bfs_server_owns_chunk(req->hdr.arg0, req->hdr.arg1, s)) {
        reply_status(req, refused(s, req, R_RANGE, -EINVAL));
        return BFS_RPC_DONE;
    }
    req->user = s;
    int rc = bfs_chunk_write(s->chunks, req->hdr.arg0, req->hdr.arg1, req->hdr.offset,
                             (const char *)req->data + plen, len, write_done, req);
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
    uint64_t len = req->hdr.rcap;
    if (!chunk_range_ok(s, req->hdr.offset, len) ||
        !bfs_server_owns_chunk(req->hdr.arg0, req->hdr.arg1, s)) {
        reply_status(req, refused(s, req, R_RANGE, -EINVAL));
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
    int r = bfs_chunk_read(s->chunks, req->hdr.arg0, req->hdr.arg1, req->hdr.offset, pb->buf,
                           len, read_done, req);
    if (r < 0) {
        reply_status(req, r);
        return BFS_RPC_DONE;
    }
    return BFS_RPC_DEFERRED;
}

static int h_trunc_chunks(bfs_rpc_req_t *req, void *arg)
{
    struct bfs_server *s = arg;
    uint64_t fid = req->hdr.arg0, nsize = req->hdr.offset, osize = req->hdr.arg1;
    uint64_t cs = s->chunk_size;
    uint64_t keep = (nsize + cs - 1) / cs;      /* chunks that stay */
    uint64_t had = (osize + cs - 1) / cs;
    int rc = 0;
    if (nsize % cs && bfs_server_owns_chunk(fid, nsize / cs, s))
        rc = bfs_chunk_truncate(s->chunks, fid, nsize / cs, nsize % cs);
    if (rc >= 0 && had > keep)
        rc = bfs_chunk_remove(s->chunks, fid, keep, had);
    reply_status(req, rc < 0 ? rc : 0);
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
    req->reply.offset = s->nservers;
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
        {BFS_OP_WRITE, h_write},         {BFS_OP_READ, h_read},
        {BFS_OP_TRUNC_CHUNKS, h_trunc_chunks}, {BFS_OP_FSYNC, h_fsync},
        {BFS_OP_PING, h_ping},           {BFS_OP_SHUTDOWN, h_shutdown},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        int rc = bfs_rpc_server_register(s->rpc, table[i].id, table[i].fn, s);
        if (rc < 0)
            return rc;
    }
    return 0;
}
