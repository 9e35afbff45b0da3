/* Requests the servers must refuse, each while the server keeps serving:
 * another job's secret or none, paths that escape or are malformed, names
 * and paths too long, entry names with a slash, chunk ranges outside a
 * chunk or overflowing, lengths that do not add up; and raw UCX messages
 * (our own endpoint, no client library): truncated and oversized headers,
 * lengths that overflow or do not match the payload, unknown RPC ids, AM
 * ids outside the RPC range. Every kind is sent BURST times in a row to
 * every server (the servers must log each kind at most once a second:
 * checked by fault_security.sh on their log). Against running servers
 * ($BENCHFS_REGISTRY). */
#include "client/benchfs.h"
#include "common/proto.h"
#include "common/registry.h"
#include "rpc/rpc_client.h"
#include "rpc/rpc_ucx.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <ucp/api/ucp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

#define BURST 20

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* ---- raw UCX: messages no client library would send ---- */

static ucp_context_h rctx;
static ucp_worker_h rworker;
static struct {
    uint64_t req_id;
    int32_t status;
} seen[4096];
static int nseen;

static ucs_status_t on_reply(void *arg, const void *header, size_t hlen, void *data, size_t len,
                             const ucp_am_recv_param_t *param)
{
    (void)arg, (void)data, (void)param;
    struct bfs_rpc_hdr h;
    bfs_rpc_hdr_decode(header, hlen, len, BFS_RPC_KIND_REPLY, &h);
    if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
        seen[nseen].req_id = h.req_id, seen[nseen++].status = h.status;
    return UCS_OK;
}

static int raw_init(void)
{
    ucp_config_t *cfg;
    if (ucp_config_read(NULL, NULL, &cfg) != UCS_OK)
        return -1;
    /* The settings every BenchFS process uses: a shared-memory sender
     * indexes the receiver's queue with its own queue size. */
    bfs_rpc_ucx_defaults(cfg);
    ucp_params_t p = {.field_mask = UCP_PARAM_FIELD_FEATURES, .features = UCP_FEATURE_AM};
    ucs_status_t st = ucp_init(&p, cfg, &rctx);
    ucp_config_release(cfg);
    if (st != UCS_OK)
        return -1;
    ucp_worker_params_t wp = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                              .thread_mode = UCS_THREAD_MODE_SINGLE};
    if (ucp_worker_create(rctx, &wp, &rworker) != UCS_OK)
        return -1;
    ucp_am_handler_param_t hp = {
        .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                      UCP_AM_HANDLER_PARAM_FIELD_FLAGS,
        .id = BFS_RPC_REPLY_ID, .cb = on_reply, .flags = UCP_AM_FLAG_WHOLE_MSG,
    };
    return ucp_worker_set_am_recv_handler(rworker, &hp) == UCS_OK ? 0 : -1;
}

static void raw_send(ucp_ep_h ep, unsigned id, const void *hdr, size_t hlen, const void *data,
                     size_t dlen)
{
    ucp_request_param_t p = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                             .flags = UCP_AM_SEND_FLAG_REPLY};
    ucs_status_ptr_t r = ucp_am_send_nbx(ep, id, hdr, hlen, data, dlen, &p);
    if (UCS_PTR_IS_ERR(r)) {
        fprintf(stderr, "FAIL: raw send to AM id %u: %s\n", id,
                ucs_status_string(UCS_PTR_STATUS(r)));
        failures++;
        return;
    }
    double end = now_s() + 5;
    while (r && ucp_request_check_status(r) == UCS_INPROGRESS && now_s() < end)
        ucp_worker_progress(rworker);
    if (r)
        ucp_request_free(r);
}

/* The status the server answered req_id with (waits up to 5 s), or 1. */
static int raw_status(uint64_t req_id)
{
    double end = now_s() + 5;
    for (;;) {
        for (int i = 0; i < nseen; i++)
            if (seen[i].req_id == req_id)
                return seen[i].status;
        if (now_s() > end)
            return 1;
        ucp_worker_progress(rworker);
    }
}

static void raw_expect(const char *what, uint64_t req_id, int want)
{
    int got = raw_status(req_id);
    if (got != want) {
        fprintf(stderr, "FAIL: raw %s: got %d (%s), want %d\n", what, got,
                got == 1 ? "no reply" : strerror(-got), want);
        failures++;
    }
}

static void raw_checks(const struct bfs_registry *reg, unsigned srv)
{
    ucp_ep_h ep;
    ucp_ep_params_t ep_p = {.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS,
                            .address = (const ucp_address_t *)reg->servers[srv].addr};
    if (ucp_ep_create(rworker, &ep_p, &ep) != UCS_OK) {
        fprintf(stderr, "FAIL: raw endpoint to server %u\n", srv);
        failures++;
        return;
    }
    static uint64_t id = 1000;
    static char data[4096], big[256];
    struct bfs_rpc_hdr h;
    for (int i = 0; i < BURST; i++) {
#define GOOD(len_) (bfs_rpc_hdr_init(&h, BFS_RPC_KIND_REQ), h.req_id = ++id, h.len = (len_), \
                    h.secret = reg->secret, h.rcap = 64)
        GOOD(10);
        raw_send(ep, BFS_OP_STAT, &h, 40, data, 10);
        raw_expect("truncated header (40 of 80 bytes)", id, -EBADMSG);
        GOOD(10);
        memcpy(big, &h, sizeof(h));
        raw_send(ep, BFS_OP_STAT, big, sizeof(big), data, 10);
        raw_expect("oversized header (256 bytes)", id, -EBADMSG);
        GOOD(UINT64_MAX);
        raw_send(ep, BFS_OP_WRITE, &h, sizeof(h), data, 10);
        raw_expect("length 2^64-1 (overflow)", id, -EMSGSIZE);
        GOOD(UINT64_MAX - 5);
        h.arg2 = 4;
        raw_send(ep, BFS_OP_WRITE, &h, sizeof(h), data, 10);
        raw_expect("length that wraps with the path length", id, -EMSGSIZE);
        GOOD(100);
        raw_send(ep, BFS_OP_STAT, &h, sizeof(h), data, 50);
        raw_expect("header length 100, payload 50", id, -EMSGSIZE);
        GOOD(0);
        raw_send(ep, 62, &h, sizeof(h), NULL, 0);
        raw_expect("unknown rpc id 62", id, -ENOSYS);
        GOOD(0);
        h.secret = 0;
        raw_send(ep, BFS_OP_PING, &h, sizeof(h), NULL, 0);
        raw_expect("no secret", id, -EACCES);
        GOOD(0);
        raw_send(ep, 100, &h, sizeof(h), NULL, 0); /* no RPC: dropped, logged */
        GOOD(0);
        raw_send(ep, 65535, &h, sizeof(h), NULL, 0);
#undef GOOD
    }
    /* ...and the raw endpoint still works. */
    bfs_rpc_hdr_init(&h, BFS_RPC_KIND_REQ);
    h.req_id = ++id;
    h.secret = reg->secret;
    raw_send(ep, BFS_OP_PING, &h, sizeof(h), NULL, 0);
    raw_expect("ping after the malformed messages", id, 0);
    ucp_request_param_t cp = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                              .flags = UCP_EP_CLOSE_FLAG_FORCE};
    ucs_status_ptr_t r = ucp_ep_close_nbx(ep, &cp);
    if (UCS_PTR_IS_PTR(r)) {
        double end = now_s() + 1;
        while (ucp_request_check_status(r) == UCS_INPROGRESS && now_s() < end)
            ucp_worker_progress(rworker);
        ucp_request_free(r);
    }
}

static int raw_stat(bfs_rpc_client_t *c, int srv, const char *path, size_t len)
{
    struct iovec iov = {(void *)path, len};
    char ino[56];
    struct iovec r = {ino, sizeof(ino)};
    bfs_rpc_call_t call = {.server = srv, .rpc_id = BFS_OP_STAT, .req_iov = &iov,
                           .req_iovcnt = 1, .resp_iov = &r, .resp_iovcnt = 1};
    return bfs_rpc_call(c, &call);
}

static void expect(const char *what, int got, int want)
{
    if (got != want) {
        fprintf(stderr, "FAIL: %s: got %d (%s), want %d\n", what, got, strerror(-got), want);
        failures++;
    }
}

static int raw_call(bfs_rpc_client_t *c, int srv, unsigned op, uint32_t arg2, uint64_t arg0,
                    uint64_t arg1, uint64_t off, uint32_t flags, const void *p, size_t len,
                    size_t rcap)
{
    static char rbuf[1 << 16];
    struct iovec iov = {(void *)p, len}, r = {rbuf, rcap};
    bfs_rpc_call_t call = {.server = srv, .rpc_id = op, .arg0 = arg0, .arg1 = arg1, .arg2 = arg2,
                           .offset = off, .flags = flags, .req_iov = len ? &iov : NULL,
                           .req_iovcnt = len ? 1 : 0, .resp_iov = rcap ? &r : NULL,
                           .resp_iovcnt = rcap ? 1 : 0};
    return bfs_rpc_call(c, &call);
}

/* One of every kind of bad file-system request to server srv. */
static void burst(bfs_rpc_client_t *c, const struct bfs_registry *reg, int srv)
{
    static char lng[5000];
    memset(lng, 'x', sizeof(lng));
    lng[0] = '/';
    expect("path with ..", raw_stat(c, srv, "/../etc", 7), -EINVAL);
    expect("relative path", raw_stat(c, srv, "etc/passwd", 10), -EINVAL);
    expect("embedded NUL", raw_stat(c, srv, "/a\0b", 4), -EINVAL);
    expect("trailing slash", raw_stat(c, srv, "/a/", 3), -EINVAL);
    expect("path longer than PATH_MAX", raw_stat(c, srv, lng, 5000), -ENAMETOOLONG);
    expect("name longer than NAME_MAX", raw_stat(c, srv, lng, 300), -ENAMETOOLONG);
    /* entry names: "/" + name */
    expect("entry name with a slash", raw_call(c, srv, BFS_OP_DIRENT_ADD, 1, 8, 0, 0, 0, "/a/b", 4, 0),
           -EINVAL);
    expect("entry name ..", raw_call(c, srv, BFS_OP_DIRENT_ADD, 1, 8, 0, 0, 0, "/..", 3, 0), -EINVAL);
    char nm[300];
    nm[0] = '/';
    memset(nm + 1, 'n', sizeof(nm) - 1);
    expect("entry name longer than NAME_MAX",
           raw_call(c, srv, BFS_OP_DIRENT_ADD, 1, 8, 0, 0, 0, nm, sizeof(nm), 0), -ENAMETOOLONG);
    /* payload lengths that do not add up */
    expect("path length past the payload",
           raw_call(c, srv, BFS_OP_DIRENT_ADD, 100, 8, 0, 0, 0, "/a/b", 4, 0), -EINVAL);
    /* Refused either way: not this server's chunk (EINVAL), or no such
     * file to grow (ESTALE). */
    /* MKNOD makes FIFOs and sockets only, never a file, directory or
     * device inode that has no chunks or entries behind it. */
    expect("mknod of a regular file", raw_call(c, srv, BFS_OP_MKNOD, 0, 0100644, 0, 0, 0, "/m", 2, 64),
           -EINVAL);
    expect("mknod of a directory", raw_call(c, srv, BFS_OP_MKNOD, 0, 040755, 0, 0, 0, "/m", 2, 64),
           -EINVAL);
    expect("mknod of a device", raw_call(c, srv, BFS_OP_MKNOD, 0, 020600, 0, 0, 0, "/m", 2, 64),
           -EINVAL);
    expect("mknod of /", raw_call(c, srv, BFS_OP_MKNOD, 0, 010600, 0, 0, 0, "/", 1, 64), -EEXIST);
    expect("mknod with ..", raw_call(c, srv, BFS_OP_MKNOD, 0, 010600, 0, 0, 0, "/a/../m", 7, 64),
           -EINVAL);
    int wg = raw_call(c, srv, BFS_OP_WRITE, 0, 99, 0, 0, BFS_F_GROW, "data", 4, 0);
    expect("write growing a file that does not exist", wg == -EINVAL ? -ESTALE : wg, -ESTALE);
    uint64_t nofid = 99;
    expect("stat by an id of no file",
           raw_call(c, srv, BFS_OP_STAT, 0, 0, 0, 0, BFS_F_BYFID, &nofid, 8, 64), -ESTALE);
    expect("an id of the wrong length",
           raw_call(c, srv, BFS_OP_SETSIZE, 0, 0, 0, 0, BFS_F_BYFID, &nofid, 7, 64), -EINVAL);
    expect("unref by path",
           raw_call(c, srv, BFS_OP_UNREF, 0, 0, 0, 0, 0, "/a", 2, 64), -EINVAL);
    expect("rename without a destination",
           raw_call(c, srv, BFS_OP_RENAME, 2, 0, 0, 0, 0, "/a", 2, 64), -EINVAL);
    expect("rename to a bad path",
           raw_call(c, srv, BFS_OP_RENAME, 2, 0, 0, 0, 0, "/a/../b", 7, 64), -EINVAL);
    expect("write with a bad path",
           raw_call(c, srv, BFS_OP_WRITE, 3, 99, 0, 0, 0x4, "/..data", 7, 0), -EINVAL);
    /* chunk ranges */
    char buf[16] = {0};
    expect("write past a chunk's end",
           raw_call(c, srv, BFS_OP_WRITE, 0, 99, 0, reg->chunk_size - 8, 0, buf, 16, 0), -EINVAL);
    expect("write at an offset that overflows",
           raw_call(c, srv, BFS_OP_WRITE, 0, 99, 0, UINT64_MAX - 4, 0, buf, 16, 0), -EINVAL);
    expect("read at an offset that overflows",
           raw_call(c, srv, BFS_OP_READ, 0, 99, 0, UINT64_MAX - 4, 0, NULL, 0, 16), -EINVAL);
    expect("unknown rpc", raw_call(c, srv, 62, 0, 0, 0, 0, 0, NULL, 0, 0), -ENOSYS);
}

/* A server rotates to a new UCX worker once it has released enough clients
 * or its worker is old (rpc_server.c), and publishes the new address in its
 * moved file; the old worker goes once its connections are gone. Under
 * valgrind the earlier tests take longer than the rotation age, so the
 * registry read at the start can name a destroyed worker: take the newest
 * address right before each connection, as the client library does. */
static void newest_addresses(const char *regpath, struct bfs_registry *reg)
{
    for (unsigned i = 0; i < reg->nservers; i++) {
        void *a;
        size_t n;
        if (bfs_registry_read_moved(regpath, i, reg->nservers, reg->secret, NULL, 0, &a, &n)) {
            free(reg->servers[i].addr);
            reg->servers[i].addr = a;
            reg->servers[i].len = n;
        }
    }
}

int main(void)
{
    alarm(60);
    const char *regpath = getenv("BENCHFS_REGISTRY");
    struct bfs_registry reg;
    if (!regpath || bfs_registry_read(regpath, &reg) < 0) {
        fprintf(stderr, "cannot read the registry\n");
        return 1;
    }
    double t0 = now_s();
    for (int pass = 0; pass < 3; pass++) {
        /* pass 0: another job's secret; 1: the right one; 2: none. */
        uint64_t secret = pass == 0 ? reg.secret ^ 0x5a5a : pass == 1 ? reg.secret : 0;
        struct bfs_rpc_client_opts o = {.secret = secret, .peer_errors = -1};
        bfs_rpc_client_t *c;
        if (bfs_rpc_client_create(&c, &o) < 0)
            return 1;
        newest_addresses(regpath, &reg);
        for (unsigned i = 0; i < reg.nservers; i++)
            bfs_rpc_client_add_server(c, reg.servers[i].addr, reg.servers[i].len);
        for (unsigned i = 0; i < reg.nservers; i++) {
            int rc = raw_stat(c, (int)i, "/", 1);
            if (pass == 0) {
                expect("wrong secret", rc, -EACCES);
                continue;
            }
            if (pass == 2) {
                expect("no secret", rc, -EACCES);
                continue;
            }
            for (int b = 0; b < BURST; b++)
                burst(c, &reg, (int)i);
            /* ...and the server still serves. */
            rc = raw_stat(c, (int)i, "/", 1);
            expect("good request after bad ones", rc == -ENOENT ? 0 : rc, 0);
        }
        bfs_rpc_client_destroy(c);
    }
    if (raw_init() < 0) {
        fprintf(stderr, "FAIL: raw UCX set-up\n");
        failures++;
    } else {
        for (unsigned i = 0; i < reg.nservers; i++) {
            newest_addresses(regpath, &reg);
            raw_checks(&reg, i);
        }
        ucp_worker_destroy(rworker);
        ucp_cleanup(rctx);
    }
    printf("fs_security_test: bad requests sent in %.1f s\n", now_s() - t0);
    benchfs_t *fs;
    struct stat st;
    if (benchfs_init(&fs, NULL) < 0 || benchfs_stat(fs, "/", &st) < 0) {
        fprintf(stderr, "FAIL: the file system does not answer after refused requests\n");
        failures++;
    } else {
        benchfs_finalize(fs);
    }
    bfs_registry_free(&reg);
    printf("fs_security_test: %d failures\n", failures);
    return failures ? 1 : 0;
}
