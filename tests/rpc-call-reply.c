/* rpc-call-reply: a client calls a demo server in another process and gets
 * the right reply: status (success, handler errors, layer errors), reply
 * header fields and reply data, over shared memory (peer_errors 0) and tcp
 * (peer_errors 1). Calls that cannot be sent fail locally with -EINVAL. */
#include "tests/testlib.h"
#include "rpc/rpc_demo.h"

#include <errno.h>
#include <string.h>

#define SECRET 0x5eb7f5c0ffee1234ull

static void one_mode(struct t_server *s, int peer)
{
    t_log("mode peer_errors=%d", peer);
    bfs_rpc_client_t *c = t_client(peer, 5000, SECRET);
    int srv = bfs_rpc_client_add_server(c, s->addr, s->alen);
    T_ASSERT(srv == 0, "add_server returned %d", srv);
    T_ASSERT(bfs_rpc_client_nservers(c) == 1, "nservers");

    /* NULL */
    bfs_rpc_call_t call = {.server = srv, .rpc_id = DEMO_NULL};
    int rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == 0 && call.status == 0, "NULL: %d", rc);
    T_ASSERT(bfs_rpc_done(&call), "NULL call not done after bfs_rpc_call");
    T_ASSERT(call.resp_len == 0, "NULL: resp_len %zu", call.resp_len);
    T_ASSERT(call.reply.kind == BFS_RPC_KIND_REPLY && call.reply.magic == BFS_RPC_MAGIC &&
             call.reply.req_id != 0 && call.reply.secret == 0 && call.reply.len == 0,
             "NULL: reply header kind %u magic 0x%x req_id %llu", call.reply.kind,
             call.reply.magic, (unsigned long long)call.reply.req_id);

    /* The same call struct, reused many times */
    for (int i = 0; i < 100; i++) {
        rc = bfs_rpc_call(c, &call);
        T_ASSERT(rc == 0, "NULL call %d: %d", i, rc);
    }

    /* ECHO */
    char msg[] = "hello, BenchFS", back[64];
    memset(back, 0x55, sizeof(back));
    struct iovec in = {msg, sizeof(msg)}, out = {back, sizeof(back)};
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_ECHO, .req_iov = &in,
                            .req_iovcnt = 1, .resp_iov = &out, .resp_iovcnt = 1};
    rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == 0, "ECHO: %d", rc);
    T_ASSERT(call.resp_len == sizeof(msg) && memcmp(back, msg, sizeof(msg)) == 0,
             "ECHO: got %zu bytes \"%.*s\"", call.resp_len, (int)sizeof(msg), back);
    T_ASSERT(back[sizeof(msg)] == 0x55, "ECHO wrote past the reply length");

    /* SINK: payload verified by the server, reply.arg0 = length */
    uint8_t buf[4096];
    demo_pattern_fill(buf, 1000, sizeof(buf));
    struct iovec w = {buf, 100};
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_SINK, .flags = DEMO_VERIFY,
                            .offset = 1000, .req_iov = &w, .req_iovcnt = 1};
    rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == 0 && call.reply.arg0 == 100, "SINK: status %d arg0 %llu", rc,
             (unsigned long long)call.reply.arg0);
    /* ... and a handler error comes back as the status */
    buf[50] ^= 1;
    rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == -EILSEQ, "SINK of a corrupted pattern: %d, expected -EILSEQ", rc);
    buf[50] ^= 1;

    /* SOURCE */
    memset(buf, 0, sizeof(buf));
    struct iovec r = {buf, sizeof(buf)};
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_SOURCE, .offset = 5, .arg0 = 100,
                            .resp_iov = &r, .resp_iovcnt = 1};
    rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == 0 && call.resp_len == 100, "SOURCE: %d, %zu bytes", rc, call.resp_len);
    T_ASSERT(demo_pattern_check(buf, 5, 100) < 0, "SOURCE data wrong");
    call.arg0 = ((uint64_t)1 << 30) + 1;
    rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == -EINVAL, "SOURCE of too much: %d, expected -EINVAL", rc);

    /* A reply larger than the response buffers is refused by the server */
    uint8_t big[1000], small[10];
    t_fill_seed(big, sizeof(big), 7);
    memset(small, 0x77, sizeof(small));
    struct iovec bi = {big, sizeof(big)}, so = {small, sizeof(small)};
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_ECHO, .req_iov = &bi,
                            .req_iovcnt = 1, .resp_iov = &so, .resp_iovcnt = 1};
    rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == -EOVERFLOW, "ECHO into a small buffer: %d, expected -EOVERFLOW", rc);
    T_ASSERT(call.resp_len == 0, "resp_len %zu after -EOVERFLOW", call.resp_len);
    for (size_t i = 0; i < sizeof(small); i++)
        T_ASSERT(small[i] == 0x77, "small response buffer written after -EOVERFLOW");

    /* An RPC id the server does not know */
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = 40};
    rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == -ENOSYS, "unknown rpc 40: %d, expected -ENOSYS", rc);

    /* Calls that cannot be made */
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = BFS_RPC_REPLY_ID};
    T_ASSERT(bfs_rpc_call(c, &call) == -EINVAL, "rpc id 0 accepted");
    T_ASSERT(bfs_rpc_done(&call), "failed call not complete");
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = BFS_RPC_HELLO_ID};
    T_ASSERT(bfs_rpc_call(c, &call) == -EINVAL, "rpc id 63 (HELLO) accepted");
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = BFS_RPC_MAX_ID};
    T_ASSERT(bfs_rpc_call(c, &call) == -EINVAL, "rpc id 64 accepted");
    call = (bfs_rpc_call_t){.server = 3, .rpc_id = DEMO_NULL};
    T_ASSERT(bfs_rpc_call(c, &call) == -EINVAL, "server 3 accepted");
    call = (bfs_rpc_call_t){.server = -1, .rpc_id = DEMO_NULL};
    T_ASSERT(bfs_rpc_start(c, &call) == -EINVAL, "server -1 accepted");

    /* Still fine afterwards */
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_NULL};
    T_ASSERT(bfs_rpc_call(c, &call) == 0, "NULL after errors");

    /* Clients without the job's secret are refused */
    bfs_rpc_client_t *bad = t_client(peer, 5000, SECRET ^ 1);
    int bs = bfs_rpc_client_add_server(bad, s->addr, s->alen);
    call = (bfs_rpc_call_t){.server = bs, .rpc_id = DEMO_NULL};
    rc = bfs_rpc_call(bad, &call);
    T_ASSERT(rc == -EACCES, "wrong secret: %d, expected -EACCES", rc);
    bfs_rpc_client_destroy(bad);
    bad = t_client(peer, 5000, 0);
    bs = bfs_rpc_client_add_server(bad, s->addr, s->alen);
    call = (bfs_rpc_call_t){.server = bs, .rpc_id = DEMO_ECHO, .req_iov = &in, .req_iovcnt = 1,
                            .resp_iov = &out, .resp_iovcnt = 1};
    rc = bfs_rpc_call(bad, &call);
    T_ASSERT(rc == -EACCES, "no secret: %d, expected -EACCES", rc);
    bfs_rpc_client_destroy(bad);

    bfs_rpc_client_destroy(c);
}

int main(void)
{
    t_init("rpc-call-reply", 60);
    struct t_server s;
    t_server_start(&s, SECRET);
    one_mode(&s, 0);
    one_mode(&s, 1);
    t_server_stop(&s);
    t_pass();
}
