/* rpc-inflight-1000: one client puts 1000 calls in flight at once
 * (bfs_rpc_start for all, then one bfs_rpc_wait_all) - ECHO, SOURCE, SINK and
 * NULL, small and rendezvous sizes mixed - and every call gets its own reply:
 * distinct req_ids, the right status, the right data. Twice over shared
 * memory (the second round reuses the client's recycled call slots), then
 * once over tcp. */
#include "tests/testlib.h"
#include "rpc/rpc_demo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define N 1000

struct slot {
    bfs_rpc_call_t call;
    struct iovec req, resp;
    uint8_t *buf, *out;
    size_t len;
    int kind;
};

static size_t size_for(int i)
{
    if (i % 250 == 17)
        return 1u << 20;  /* a few rendezvous calls among the eager ones */
    if (i % 50 == 3)
        return 64u << 10;
    return (size_t)(i * 37 % 2000) + 1;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void round_(bfs_rpc_client_t *c, int srv, int round)
{
    struct slot *s = calloc(N, sizeof(*s));
    bfs_rpc_call_t **calls = t_xmalloc(sizeof(*calls) * N);
    T_ASSERT(s != NULL, "calloc");
    uint64_t t0 = t_now_ms();
    for (int i = 0; i < N; i++) {
        struct slot *x = &s[i];
        x->kind = (i + round) % 4;
        x->len = size_for(i);
        uint64_t seed = (uint64_t)round << 32 | (uint64_t)i;
        bfs_rpc_call_t *call = &x->call;
        call->server = srv;
        switch (x->kind) {
        case 0: /* ECHO of a payload unique to this call */
            x->buf = t_xmalloc(x->len);
            x->out = t_xmalloc(x->len);
            memset(x->out, 0, x->len);
            t_fill_seed(x->buf, x->len, seed);
            x->req = (struct iovec){x->buf, x->len};
            x->resp = (struct iovec){x->out, x->len};
            call->rpc_id = DEMO_ECHO;
            call->req_iov = &x->req;
            call->req_iovcnt = 1;
            call->resp_iov = &x->resp;
            call->resp_iovcnt = 1;
            break;
        case 1: /* SOURCE at an offset unique to this call */
            x->out = t_xmalloc(x->len);
            memset(x->out, 0, x->len);
            x->resp = (struct iovec){x->out, x->len};
            call->rpc_id = DEMO_SOURCE;
            call->offset = (uint64_t)i * 101u;
            call->arg0 = x->len;
            call->resp_iov = &x->resp;
            call->resp_iovcnt = 1;
            break;
        case 2: /* SINK, verified by the server */
            x->buf = t_xmalloc(x->len);
            demo_pattern_fill(x->buf, (uint64_t)i, x->len);
            x->req = (struct iovec){x->buf, x->len};
            call->rpc_id = DEMO_SINK;
            call->flags = DEMO_VERIFY;
            call->offset = (uint64_t)i;
            call->req_iov = &x->req;
            call->req_iovcnt = 1;
            break;
        default:
            call->rpc_id = DEMO_NULL;
            call->arg0 = seed;
            break;
        }
        int rc = bfs_rpc_start(c, call);
        T_ASSERT(rc == 0, "start of call %d failed: %d", i, rc);
        calls[i] = call;
    }
    uint64_t t1 = t_now_ms();
    int rc = bfs_rpc_wait_all(c, calls, N);
    uint64_t t2 = t_now_ms();
    T_ASSERT(rc == 0, "wait_all: %d (%s)", rc, strerror(-rc));

    uint64_t *ids = t_xmalloc(sizeof(*ids) * N);
    for (int i = 0; i < N; i++) {
        struct slot *x = &s[i];
        bfs_rpc_call_t *call = &x->call;
        T_ASSERT(bfs_rpc_done(call), "call %d not done after wait_all", i);
        T_ASSERT(call->status == 0, "call %d (rpc %u): status %d", i, call->rpc_id,
                 call->status);
        ids[i] = call->reply.req_id;
        switch (x->kind) {
        case 0: {
            long bad = t_check_seed(x->out, x->len, (uint64_t)round << 32 | (uint64_t)i);
            T_ASSERT(call->resp_len == x->len && bad < 0,
                     "ECHO call %d: %zu of %zu bytes, first wrong byte %ld", i, call->resp_len,
                     x->len, bad);
            break;
        }
        case 1: {
            long bad = demo_pattern_check(x->out, (uint64_t)i * 101u, x->len);
            T_ASSERT(call->resp_len == x->len && bad < 0,
                     "SOURCE call %d: %zu of %zu bytes, first wrong byte %ld", i,
                     call->resp_len, x->len, bad);
            break;
        }
        case 2:
            T_ASSERT(call->reply.arg0 == x->len, "SINK call %d: server saw %llu of %zu bytes",
                     i, (unsigned long long)call->reply.arg0, x->len);
            break;
        default:
            T_ASSERT(call->resp_len == 0, "NULL call %d: %zu reply bytes", i, call->resp_len);
            break;
        }
        free(x->buf);
        free(x->out);
    }
    qsort(ids, N, sizeof(*ids), cmp_u64);
    for (int i = 1; i < N; i++)
        T_ASSERT(ids[i] != ids[i - 1], "two calls were answered under req_id 0x%llx",
                 (unsigned long long)ids[i]);
    T_ASSERT(ids[0] != 0, "a reply carried req_id 0");
    t_log("round %d: %d calls started in %llu ms, all replied %llu ms later", round, N,
          (unsigned long long)(t1 - t0), (unsigned long long)(t2 - t1));
    free(ids);
    free(calls);
    free(s);
}

int main(void)
{
    t_init("rpc-inflight-1000", 60);
    struct t_server s;
    t_server_start(&s, 0);
    bfs_rpc_client_t *c = t_client(0, 20000, 0);
    int srv = bfs_rpc_client_add_server(c, s.addr, s.alen);
    round_(c, srv, 0);
    round_(c, srv, 1);
    bfs_rpc_client_destroy(c);
    /* once more over tcp */
    c = t_client(1, 20000, 0);
    srv = bfs_rpc_client_add_server(c, s.addr, s.alen);
    round_(c, srv, 2);
    bfs_rpc_client_destroy(c);
    t_server_stop(&s);
    t_pass();
}
