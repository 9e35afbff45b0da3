/* Client API: connection set-up and the helpers every operation uses. */
#include "client_internal.h"
#include "../common/placement.h"
#include "../common/registry.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A server whose calls are slow may have moved to a new worker
 * (rpc_server.c, check_stuck) and published its new address beside the
 * registry. */
static int where_moved(void *arg, int server, const void *sent_to, size_t sent_len, void **addr,
                       size_t *len)
{
    benchfs_t *fs = arg;
    void *a;
    size_t n;
    int moved = bfs_registry_read_moved(fs->registry, (unsigned)server, fs->reg.nservers,
                                        fs->reg.secret, sent_to, sent_len, &a, &n);
    if (!moved)
        return 0;
    void *copy = malloc(n);
    if (!copy) {
        free(a);
        return 0;
    }
    memcpy(copy, a, n);
    /* Also for a reconnection after fork. */
    free(fs->reg.servers[server].addr);
    fs->reg.servers[server].addr = a;
    fs->reg.servers[server].len = n;
    *addr = copy;
    *len = n;
    return moved;
}

static int connect_servers(benchfs_t *fs)
{
    /* A server's newest address is in its moved file when it has moved or
     * rotated workers (rpc_server.c): the registry itself may name an older
     * one (two servers rewriting it at once), even one destroyed since. */
    for (unsigned i = 0; i < fs->reg.nservers; i++) {
        void *a;
        size_t n;
        if (bfs_registry_read_moved(fs->registry, i, fs->reg.nservers, fs->reg.secret, NULL, 0, &a, &n)) {
            free(fs->reg.servers[i].addr);
            fs->reg.servers[i].addr = a;
            fs->reg.servers[i].len = n;
        }
    }
    struct bfs_rpc_client_opts o = {.secret = fs->reg.secret, .peer_errors = -1};
    int rc = bfs_rpc_client_create(&fs->rpc, &o);
    for (unsigned i = 0; rc == 0 && i < fs->reg.nservers; i++) {
        int idx = bfs_rpc_client_add_server(fs->rpc, fs->reg.servers[i].addr,
                                            fs->reg.servers[i].len);
        if (idx < 0)
            rc = idx;
    }
    if (rc == 0)
        bfs_rpc_client_on_slow(fs->rpc, where_moved, fs);
    return rc;
}

int benchfs_after_fork_child(benchfs_t *fs)
{
    /* The parent's UCX state is not ours to use: leave it, start afresh. */
    bfs_rpc_client_abandon(fs->rpc);
    fs->rpc = NULL;
    /* The parent's CLOSEs in flight are its own: forget them. */
    free(fs->closes);
    fs->closes = NULL;
    fs->nclosing = 0;
    free(fs->closeq); /* the parent sends its own */
    fs->closeq = NULL;
    pthread_mutex_init(&fs->close_mu, NULL);
    return connect_servers(fs);
}

int benchfs_init(benchfs_t **out, const char *registry)
{
    if (!registry)
        registry = getenv("BENCHFS_REGISTRY");
    if (!registry || !*registry)
        return -EINVAL;
    struct bfs_registry reg;
    int rc = bfs_registry_read(registry, &reg);
    if (rc < 0)
        return rc;
    benchfs_t *fs = calloc(1, sizeof(*fs));
    if (!fs) {
        bfs_registry_free(&reg);
        return -ENOMEM;
    }
    fs->reg = reg;
    pthread_mutex_init(&fs->close_mu, NULL);
    if (!(fs->registry = strdup(registry))) {
        benchfs_finalize(fs);
        return -ENOMEM;
    }
    fs->nservers = reg.nservers;
    fs->chunk_size = reg.chunk_size;
    fs->uid = (uint32_t)geteuid();
    fs->gid = (uint32_t)getegid();
    rc = connect_servers(fs);
    if (rc < 0) {
        benchfs_finalize(fs);
        return rc;
    }
    *out = fs;
    return 0;
}

void benchfs_finalize(benchfs_t *fs)
{
    if (!fs)
        return;
    /* CLOSEs still in flight are not waited for (a dead server would hold
     * the exit up for a deadline): the GOODBYE, or the process's end, drops
     * the references anyway. Their calls live until the client is gone. */
    if (fs->rpc)
        bfs_cl_closes_flush(fs, 0);
    bfs_rpc_client_destroy(fs->rpc);
    free(fs->closes);
    free(fs->closeq);
    pthread_mutex_destroy(&fs->close_mu);
    bfs_registry_free(&fs->reg);
    free(fs->registry);
    free(fs);
}

void benchfs_exiting(benchfs_t *fs)
{
    /* The GOODBYE drops every reference this process holds at a server:
     * the CLOSEs still queued need not be sent. */
    if (fs && fs->rpc)
        bfs_rpc_client_farewell(fs->rpc);
}

unsigned long long benchfs_requests(benchfs_t *fs)
{
    return fs && fs->rpc ? (unsigned long long)bfs_rpc_client_calls(fs->rpc) : 0;
}

unsigned benchfs_nservers(const benchfs_t *fs) { return fs->nservers; }
uint64_t benchfs_chunk_size(const benchfs_t *fs) { return fs->chunk_size; }

ssize_t bfs_cl_path(const char *in, char *out)
{
    if (!in)
        return -EFAULT;
    if (!*in)
        return -ENOENT;
    return bfs_path_normalize(in, out, BFS_PATH_MAX);
}

unsigned bfs_cl_meta_server(const benchfs_t *fs, const char *path, size_t len)
{
    return bfs_place_meta(path, len, fs->nservers);
}

void bfs_cl_meta_prep(benchfs_t *fs, bfs_rpc_call_t *call, struct iovec iov[3], const char *path,
                      size_t plen, const struct bfs_cl_meta *m)
{
    memset(call, 0, sizeof(*call));
    iov[0].iov_base = (void *)path;
    iov[0].iov_len = plen;
    int n = 1;
    if (m->extra_len) {
        iov[1].iov_base = (void *)m->extra;
        iov[1].iov_len = m->extra_len;
        n = 2;
        call->arg2 = (uint32_t)plen;
    }
    call->server = (int)bfs_cl_meta_server(fs, path, plen);
    call->rpc_id = m->op;
    call->flags = m->flags;
    call->offset = m->offset;
    call->arg0 = m->arg0;
    call->arg1 = m->arg1;
    call->req_iov = iov;
    call->req_iovcnt = n;
    if (m->ino) {
        iov[2].iov_base = m->ino;
        iov[2].iov_len = sizeof(*m->ino);
        call->resp_iov = &iov[2];
        call->resp_iovcnt = 1;
    }
}

int bfs_cl_meta_call(benchfs_t *fs, const char *path, size_t plen, const struct bfs_cl_meta *m)
{
    bfs_rpc_call_t call;
    struct iovec iov[3];
    bfs_cl_meta_prep(fs, &call, iov, path, plen, m);
    int rc = bfs_rpc_call(fs->rpc, &call);
    /* Some replies carry an inode only in some cases (PUT). */
    if (rc >= 0 && m->ino && call.resp_len != sizeof(*m->ino))
        memset(m->ino, 0, sizeof(*m->ino));
    return rc;
}

void bfs_cl_fid_prep(benchfs_t *fs, bfs_rpc_call_t *call, struct iovec iov[3], const uint64_t *fid,
                     const struct bfs_cl_meta *m)
{
    struct bfs_cl_meta b = *m;
    b.flags |= BFS_F_BYFID;
    b.extra = NULL;
    b.extra_len = 0;
    /* The fid travels as the payload where a path would. */
    bfs_cl_meta_prep(fs, call, iov, (const char *)fid, sizeof(*fid), &b);
    call->server = (int)bfs_place_home(*fid, fs->nservers);
}

int bfs_cl_fid_call(benchfs_t *fs, uint64_t fid, const struct bfs_cl_meta *m)
{
    if (bfs_place_home(fid, fs->nservers) >= fs->nservers)
        return -ESTALE;
    bfs_rpc_call_t call;
    struct iovec iov[3];
    bfs_cl_fid_prep(fs, &call, iov, &fid, m);
    int rc = bfs_rpc_call(fs->rpc, &call);
    if (rc >= 0 && m->ino && call.resp_len != sizeof(*m->ino))
        memset(m->ino, 0, sizeof(*m->ino));
    return rc;
}

int bfs_cl_call_at(benchfs_t *fs, unsigned server, const char *path, size_t plen,
                   const struct bfs_cl_meta *m)
{
    bfs_rpc_call_t call;
    struct iovec iov[3];
    bfs_cl_meta_prep(fs, &call, iov, path, plen, m);
    call.server = (int)server;
    int rc = bfs_rpc_call(fs->rpc, &call);
    if (rc >= 0 && m->ino && call.resp_len != sizeof(*m->ino))
        memset(m->ino, 0, sizeof(*m->ino));
    return rc;
}

unsigned bfs_cl_parent_server(const benchfs_t *fs, const char *path, size_t plen)
{
    return bfs_cl_meta_server(fs, path, bfs_path_parent_len(path, plen));
}

int bfs_cl_enoent(benchfs_t *fs, const char *path, size_t plen)
{
    /* A parent that is a file has no record where directories have theirs:
     * only its own name can tell. Asked on this error path only. */
    size_t dlen = bfs_path_parent_len(path, plen);
    struct bfs_inode ino;
    if (plen <= 1 || dlen >= plen)
        return -ENOENT;
    int rc = bfs_cl_resolve(fs, path, dlen, &ino);
    if (rc == -ENOTDIR || (rc == 0 && !S_ISDIR(ino.mode)))
        return -ENOTDIR;
    return -ENOENT;
}

/* flags BFS_F_OPEN: the caller opens what path names (open_refs.h): the
 * request that reaches the file's home carries it. */
static int resolve(benchfs_t *fs, const char *path, size_t plen, struct bfs_inode *ino,
                   uint32_t flags)
{
    /* One RPC to the parent's server when the inode is there (a file is
     * created where its name is); else a second to where it lives. A
     * symlink is not followed. */
    int rc = bfs_cl_lookup_flags(fs, path, plen, ino, NULL, NULL, flags);
    if (rc == BFS_NOT_HERE)
        return bfs_cl_enoent(fs, path, plen);
    return rc == -ESTALE && flags ? -ENOENT : rc; /* unlinked between the two */
}

int bfs_cl_resolve(benchfs_t *fs, const char *path, size_t plen, struct bfs_inode *ino)
{
    return resolve(fs, path, plen, ino, 0);
}

int bfs_cl_resolve_open(benchfs_t *fs, const char *path, size_t plen, struct bfs_inode *ino)
{
    return resolve(fs, path, plen, ino, BFS_F_OPEN);
}

int bfs_cl_dirent(benchfs_t *fs, const char *path, size_t plen, int add, uint8_t type)
{
    size_t dlen = bfs_path_parent_len(path, plen);
    const char *base = bfs_path_base(path, plen);
    struct bfs_cl_meta m = {
        .op = add ? BFS_OP_DIRENT_ADD : BFS_OP_DIRENT_DEL,
        .arg0 = type,
        .extra = base,
        .extra_len = plen - (size_t)(base - path),
    };
    return bfs_cl_meta_call(fs, path, dlen, &m);
}

bfs_rpc_call_t *bfs_cl_broadcast(benchfs_t *fs, const bfs_rpc_call_t *tmpl,
                                 const struct iovec *resp, const unsigned char *on)
{
    unsigned n = fs->nservers, k = 0;
    bfs_rpc_call_t *calls = calloc(n, sizeof(*calls));
    bfs_rpc_call_t **ptrs = calloc(n, sizeof(*ptrs));
    if (!calls || !ptrs) {
        free(calls);
        free(ptrs);
        return NULL;
    }
    for (unsigned i = 0; i < n; i++) {
        calls[i] = *tmpl;
        calls[i].server = (int)i;
        calls[i].status = 0;
        if (on && !on[i])
            continue;
        if (resp) {
            calls[i].resp_iov = &resp[i];
            calls[i].resp_iovcnt = 1;
        }
        ptrs[k++] = &calls[i];
        bfs_rpc_start(fs->rpc, &calls[i]);
    }
    bfs_rpc_wait_all(fs->rpc, ptrs, (int)k);
    free(ptrs);
    return calls;
}

int bfs_cl_first_error(const bfs_rpc_call_t *calls, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (calls[i].status < 0)
            return calls[i].status;
    return 0;
}

int bfs_cl_broadcast_status(benchfs_t *fs, const bfs_rpc_call_t *tmpl, const unsigned char *on)
{
    bfs_rpc_call_t *calls = bfs_cl_broadcast(fs, tmpl, NULL, on);
    if (!calls)
        return -ENOMEM;
    int rc = bfs_cl_first_error(calls, fs->nservers);
    free(calls);
    return rc;
}

void bfs_cl_chunk_servers(const benchfs_t *fs, uint64_t fid, uint64_t first, uint64_t end,
                          unsigned char *on)
{
    /* Chunks go round robin: N consecutive ones cover every server. */
    if (end > first && end - first >= fs->nservers) {
        memset(on, 1, fs->nservers);
        return;
    }
    for (uint64_t i = first; i < end; i++)
        on[bfs_place_chunk(fid, i, fs->nservers)] = 1;
}

int bfs_cl_trunc_chunks(benchfs_t *fs, uint64_t fid, uint64_t new_size, uint64_t old_size,
                        uint32_t flags)
{
    uint64_t cs = fs->chunk_size;
    if (old_size <= new_size && new_size % cs == 0)
        return 0;
    /* Only the servers of the chunks cut or dropped: the one holding the
     * chunk new_size falls in, and those past it up to the old end. */
    uint64_t first = new_size / cs, had = (old_size + cs - 1) / cs;
    uint64_t end = had > first + 1 ? had : first + 1;
    unsigned char *on = calloc(fs->nservers, 1);
    if (!on)
        return -ENOMEM;
    bfs_cl_chunk_servers(fs, fid, first, end, on);
    bfs_rpc_call_t t = {.rpc_id = BFS_OP_TRUNC_CHUNKS, .flags = flags, .arg0 = fid,
                        .offset = new_size, .arg1 = old_size};
    int rc = bfs_cl_broadcast_status(fs, &t, on);
    free(on);
    return rc;
}

void bfs_cl_inode_to_stat(const benchfs_t *fs, const struct bfs_inode *ino, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    st->st_dev = 0xbf5;
    st->st_ino = ino->fid;
    st->st_mode = ino->mode;
    /* A directory's record counts its subdirectories (2 + n, as ext4); a
     * file unlinked while open has 0. */
    st->st_nlink = S_ISDIR(ino->mode) ? (ino->nlink ? ino->nlink : 2) : ino->nlink;
    st->st_uid = ino->uid;
    st->st_gid = ino->gid;
    st->st_size = (off_t)ino->size;
    st->st_blksize = (blksize_t)(fs->chunk_size < (1u << 20) ? fs->chunk_size : (1u << 20));
    st->st_blocks = (blkcnt_t)((ino->size + 511) / 512);
    st->st_atim.tv_sec = ino->atime_ns / 1000000000;
    st->st_atim.tv_nsec = ino->atime_ns % 1000000000;
    st->st_mtim.tv_sec = ino->mtime_ns / 1000000000;
    st->st_mtim.tv_nsec = ino->mtime_ns % 1000000000;
    st->st_ctim.tv_sec = ino->ctime_ns / 1000000000;
    st->st_ctim.tv_nsec = ino->ctime_ns % 1000000000;
}

int benchfs_ping(benchfs_t *fs, double *lat_us)
{
    /* Who answers: all at once, so dead servers cost one deadline in all. */
    bfs_rpc_call_t t = {.rpc_id = BFS_OP_PING};
    bfs_rpc_call_t *calls = bfs_cl_broadcast(fs, &t, NULL, NULL);
    if (!calls)
        return -ENOMEM;
    int ok = 0;
    for (unsigned i = 0; i < fs->nservers; i++) {
        double us = -1.0;
        if (calls[i].status >= 0) {
            /* Latency: one more round trip to this server alone. */
            bfs_rpc_call_t one = {.server = (int)i, .rpc_id = BFS_OP_PING};
            struct timespec a, b;
            clock_gettime(CLOCK_MONOTONIC, &a);
            int rc = bfs_rpc_call(fs->rpc, &one);
            clock_gettime(CLOCK_MONOTONIC, &b);
            if (rc >= 0)
                us = (double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3;
        }
        if (lat_us)
            lat_us[i] = us;
        ok += us >= 0;
    }
    free(calls);
    return ok;
}

int benchfs_server_conns(benchfs_t *fs, unsigned server)
{
    if (server >= fs->nservers)
        return -EINVAL;
    bfs_rpc_call_t one = {.server = (int)server, .rpc_id = BFS_OP_PING};
    int rc = bfs_rpc_call(fs->rpc, &one);
    return rc < 0 ? rc : (int)one.reply.arg2;
}

int benchfs_server_reclaim(benchfs_t *fs, unsigned server, unsigned *reaping,
                           unsigned *open_files)
{
    if (server >= fs->nservers)
        return -EINVAL;
    bfs_cl_closes_flush(fs, 1); /* our closes count */
    bfs_rpc_call_t one = {.server = (int)server, .rpc_id = BFS_OP_PING};
    int rc = bfs_rpc_call(fs->rpc, &one);
    if (rc < 0)
        return rc;
    *reaping = (unsigned)one.reply.rcap;
    *open_files = (unsigned)(one.reply.rcap >> 32);
    return 0;
}

int benchfs_shutdown_servers(benchfs_t *fs)
{
    bfs_rpc_call_t t = {.rpc_id = BFS_OP_SHUTDOWN};
    return bfs_cl_broadcast_status(fs, &t, NULL);
}
