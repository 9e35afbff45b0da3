/* rpc-malformed: requests sent on purpose with raw UCX (our own context,
 * worker and endpoint, ucp_am_send_nbx with UCP_AM_SEND_FLAG_REPLY to the
 * server's AM ids) with a short, oversized or missing header, a payload
 * length that does not match the header, a length over the maximum, an
 * unknown RPC id, a wrong or missing job secret, bad magic / version / kind /
 * reserved / pad, eager and rendezvous; HELLOs without secret, header or a
 * plausible worker address; AM ids outside the RPC range (0, 64 .. 65535). Every refused request that carries a
 * req_id is answered with the right error status (-EBADMSG, -EMSGSIZE,
 * -ENOSYS, -EACCES) on reply id 0, the others are dropped silently, and
 * afterwards the server still answers good requests, raw and from a normal
 * client, and shuts down cleanly. */
#include "tests/testlib.h"
#include "rpc/rpc_demo.h"
#include "rpc/rpc_ucx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <ucp/api/ucp.h>

#define SECRET 0xC0DEC0DE12345678ull
#define WAIT_MS 5000

static ucp_context_h ctx;
static ucp_worker_h worker;
static ucp_ep_h ep;

static struct seen {
    uint64_t req_id;
    int32_t status;
    int valid; /* decoded as a reply header */
    size_t len;
} seen[256];
static int nseen;

static ucs_status_t on_reply(void *arg, const void *header, size_t header_length, void *data,
                             size_t length, const ucp_am_recv_param_t *param)
{
    struct bfs_rpc_hdr h;
    int rc = bfs_rpc_hdr_decode(header, header_length, length, BFS_RPC_KIND_REPLY, &h);
    if (nseen < (int)(sizeof(seen) / sizeof(seen[0])))
        seen[nseen++] = (struct seen){h.req_id, h.status, rc == 0, length};
    return UCS_OK; /* small replies only: eager, or dropped if rendezvous */
}

static void raw_init(const struct t_server *s)
{
    ucp_config_t *cfg;
    T_ASSERT(ucp_config_read(NULL, NULL, &cfg) == UCS_OK, "ucp_config_read");
    /* The settings every BenchFS process uses: a shared-memory sender
     * indexes the receiver's queue with its own queue size. */
    bfs_rpc_ucx_defaults(cfg);
    ucp_params_t p = {.field_mask = UCP_PARAM_FIELD_FEATURES, .features = UCP_FEATURE_AM};
    ucs_status_t st = ucp_init(&p, cfg, &ctx);
    ucp_config_release(cfg);
    if (st != UCS_OK)
        t_skip("ucp_init: %s", ucs_status_string(st));
    ucp_worker_params_t wp = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
                              .thread_mode = UCS_THREAD_MODE_SINGLE};
    T_ASSERT(ucp_worker_create(ctx, &wp, &worker) == UCS_OK, "ucp_worker_create");
    ucp_am_handler_param_t hp = {
        .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                      UCP_AM_HANDLER_PARAM_FIELD_FLAGS,
        .id = BFS_RPC_REPLY_ID,
        .cb = on_reply,
        .flags = UCP_AM_FLAG_WHOLE_MSG,
    };
    T_ASSERT(ucp_worker_set_am_recv_handler(worker, &hp) == UCS_OK, "set_am_recv_handler");
    ucp_ep_params_t ep_p = {.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS,
                            .address = (const ucp_address_t *)s->addr};
    T_ASSERT(ucp_ep_create(worker, &ep_p, &ep) == UCS_OK, "ucp_ep_create");
}

/* Send one AM and wait until UCX is done with it. */
static void raw_send(unsigned am_id, const void *hdr, size_t hlen, const void *data, size_t dlen,
                     int reply_flag)
{
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
        .flags = reply_flag ? UCP_AM_SEND_FLAG_REPLY : 0,
    };
    ucs_status_ptr_t r = ucp_am_send_nbx(ep, am_id, hdr, hlen, data, dlen, &p);
    T_ASSERT(!UCS_PTR_IS_ERR(r), "ucp_am_send_nbx: %s", ucs_status_string(UCS_PTR_STATUS(r)));
    if (r == NULL)
        return;
    uint64_t end = t_now_ms() + WAIT_MS;
    while (ucp_request_check_status(r) == UCS_INPROGRESS) {
        T_ASSERT(t_now_ms() < end, "send to AM id %u (header %zu, data %zu) never completed",
                 am_id, hlen, dlen);
        ucp_worker_progress(worker);
    }
    ucs_status_t st = ucp_request_check_status(r);
    ucp_request_free(r);
    T_ASSERT(st == UCS_OK, "send to AM id %u completed with %s", am_id, ucs_status_string(st));
}

static struct seen *find(uint64_t req_id)
{
    for (int i = 0; i < nseen; i++)
        if (seen[i].req_id == req_id)
            return &seen[i];
    return NULL;
}

static void expect_reply(const char *what, uint64_t req_id, int32_t status)
{
    uint64_t end = t_now_ms() + WAIT_MS;
    struct seen *x;
    while (!(x = find(req_id))) {
        T_ASSERT(t_now_ms() < end, "%s: no reply for req_id %llu", what,
                 (unsigned long long)req_id);
        ucp_worker_progress(worker);
    }
    T_ASSERT(x->valid, "%s: the reply header is not a valid reply", what);
    T_ASSERT(x->status == status, "%s: status %d (%s), expected %d (%s)", what, x->status,
             strerror(-x->status), status, strerror(-status));
    t_log("%-44s -> %s", what, status ? strerror(-status) : "ok");
}

static struct bfs_rpc_hdr good(uint64_t req_id, uint64_t len)
{
    struct bfs_rpc_hdr h;
    bfs_rpc_hdr_init(&h, BFS_RPC_KIND_REQ);
    h.req_id = req_id;
    h.len = len;
    h.rcap = len;
    h.secret = SECRET;
    return h;
}

int main(void)
{
    t_init("rpc-malformed", 60);
    struct t_server s;
    t_server_start(&s, SECRET);
    raw_init(&s);

    static uint8_t data[1u << 20], big[sizeof(struct bfs_rpc_hdr) + 64];
    t_fill_seed(data, sizeof(data), 5);
    struct bfs_rpc_hdr h;
    uint64_t id = 100;

    /* the raw path itself works */
    h = good(++id, 10);
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 10, 1);
    expect_reply("good raw ECHO", id, 0);
    T_ASSERT(find(id)->len == 10, "good raw ECHO: %zu reply bytes", find(id)->len);

    /* header size */
    h = good(++id, 10);
    raw_send(DEMO_ECHO, &h, 40, data, 10, 1);
    expect_reply("short header (40 bytes)", id, -EBADMSG);
    h = good(++id, 10);
    raw_send(DEMO_ECHO, &h, sizeof(h) - 1, data, 10, 1);
    expect_reply("short header (79 bytes)", id, -EBADMSG);
    h = good(++id, 10);
    memset(big, 0, sizeof(big));
    memcpy(big, &h, sizeof(h));
    raw_send(DEMO_ECHO, big, sizeof(big), data, 10, 1);
    expect_reply("oversized header (144 bytes)", id, -EBADMSG);
    /* no req_id to answer under: dropped (checked at the end) */
    h = good(0, 10);
    raw_send(DEMO_ECHO, &h, 20, data, 10, 1);
    raw_send(DEMO_ECHO, NULL, 0, data, 10, 1);
    raw_send(DEMO_ECHO, NULL, 0, data, sizeof(data), 1);

    /* length */
    h = good(++id, 100);
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 50, 1);
    expect_reply("header len 100, payload 50", id, -EMSGSIZE);
    h = good(++id, 0);
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 10, 1);
    expect_reply("header len 0, payload 10", id, -EMSGSIZE);
    h = good(++id, 10);
    raw_send(DEMO_SINK, &h, sizeof(h), data, sizeof(data), 1);
    expect_reply("header len 10, payload 1 MiB (rendezvous)", id, -EMSGSIZE);
    h = good(++id, BFS_RPC_MAX_PAYLOAD + 1);
    raw_send(DEMO_SINK, &h, sizeof(h), NULL, 0, 1);
    expect_reply("header len over the maximum", id, -EMSGSIZE);

    /* framing */
    h = good(++id, 10);
    h.magic = 0xDEAD;
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 10, 1);
    expect_reply("bad magic", id, -EBADMSG);
    h = good(++id, sizeof(data));
    h.magic = 0;
    raw_send(DEMO_SINK, &h, sizeof(h), data, sizeof(data), 1);
    expect_reply("bad magic, 1 MiB payload (rendezvous)", id, -EBADMSG);
    h = good(++id, 10);
    h.version = 9;
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 10, 1);
    expect_reply("bad version", id, -EBADMSG);
    h = good(++id, 10);
    h.kind = BFS_RPC_KIND_REPLY;
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 10, 1);
    expect_reply("reply kind sent as a request", id, -EBADMSG);
    h = good(++id, 10);
    h.reserved = 1;
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 10, 1);
    expect_reply("reserved field set", id, -EBADMSG);
    h = good(++id, 10);
    h.pad = 0x100;
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 10, 1);
    expect_reply("pad field set", id, -EBADMSG);

    /* RPC id */
    h = good(++id, 0);
    raw_send(40, &h, sizeof(h), NULL, 0, 1);
    expect_reply("unknown rpc id 40", id, -ENOSYS);
    h = good(++id, 10);
    raw_send(41, &h, sizeof(h), data, 10, 1);
    expect_reply("unknown rpc id 41 with payload", id, -ENOSYS);
    h = good(++id, sizeof(data));
    raw_send(62, &h, sizeof(h), data, sizeof(data), 1);
    expect_reply("unknown rpc id 62, 1 MiB payload", id, -ENOSYS);

    /* secret */
    h = good(++id, 10);
    h.secret = SECRET ^ 0x100;
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 10, 1);
    expect_reply("wrong secret", id, -EACCES);
    h = good(++id, 0);
    h.secret = 0;
    raw_send(DEMO_NULL, &h, sizeof(h), NULL, 0, 1);
    expect_reply("missing secret", id, -EACCES);
    h = good(++id, sizeof(data));
    h.secret = 1;
    raw_send(DEMO_SINK, &h, sizeof(h), data, sizeof(data), 1);
    expect_reply("wrong secret, 1 MiB payload (rendezvous)", id, -EACCES);
    h = good(++id, 0);
    h.secret = 0;
    raw_send(40, &h, sizeof(h), NULL, 0, 1);
    expect_reply("unknown rpc id and missing secret", id, -EACCES);

    /* Messages that cannot be answered at all: the server must just live. */
    h = good(++id, 10);
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 10, 0); /* no reply endpoint */
    uint64_t noreply_id = id;
    h = good(++id, 10);
    h.secret = 0;
    raw_send(BFS_RPC_HELLO_ID, &h, sizeof(h), data, 10, 1);      /* bad hello: no secret */
    raw_send(BFS_RPC_HELLO_ID, NULL, 0, data, 100, 1);           /* no header */
    h = good(0, 0);
    raw_send(BFS_RPC_HELLO_ID, &h, sizeof(h), NULL, 0, 1);       /* no address */
    h = good(0, 5);
    raw_send(BFS_RPC_HELLO_ID, &h, sizeof(h), data, 5, 1);       /* address too short */
    data[0] = 0xA7;
    h = good(0, 300);
    raw_send(BFS_RPC_HELLO_ID, &h, sizeof(h), data, 300, 1);     /* not a UCX address */
    h = good(0, 300);
    h.secret = 0;
    raw_send(BFS_RPC_HELLO_ID, &h, sizeof(h), data, 300, 1);     /* ... and no secret */
    /* AM ids that are no RPC: the reply id, and ids past the RPC range
     * (UCX 1.13 itself crashed on some of these when nothing was registered) */
    static const unsigned stray[] = {BFS_RPC_REPLY_ID, BFS_RPC_MAX_ID, 100,   1000,  4096,
                                     16384,            50000,          65000, 65533, 65535};
    for (size_t i = 0; i < sizeof(stray) / sizeof(stray[0]); i++) {
        h = good(++id, 10);
        raw_send(stray[i], &h, sizeof(h), data, 10, 1);
    }
    h = good(++id, sizeof(data));
    raw_send(UINT16_MAX, &h, sizeof(h), data, sizeof(data), 1);

    /* the server is still fine: raw ... */
    h = good(++id, 10);
    raw_send(DEMO_ECHO, &h, sizeof(h), data, 10, 1);
    expect_reply("good raw ECHO after all that", id, 0);
    T_ASSERT(!find(noreply_id), "a request sent without a reply endpoint was answered");
    T_ASSERT(!find(0), "a reply with req_id 0 arrived");
    for (int i = 0; i < nseen; i++)
        for (int j = i + 1; j < nseen; j++)
            T_ASSERT(seen[i].req_id != seen[j].req_id, "req_id %llu answered twice",
                     (unsigned long long)seen[i].req_id);

    /* ... and from a normal client */
    bfs_rpc_client_t *c = t_client(0, 5000, SECRET);
    int srv = bfs_rpc_client_add_server(c, s.addr, s.alen);
    uint8_t back[4096];
    struct iovec in = {data, sizeof(back)}, out = {back, sizeof(back)};
    bfs_rpc_call_t call = {.server = srv, .rpc_id = DEMO_ECHO, .req_iov = &in, .req_iovcnt = 1,
                           .resp_iov = &out, .resp_iovcnt = 1};
    int rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == 0 && memcmp(back, data, sizeof(back)) == 0, "ECHO from a client: %d", rc);
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_DEFER, .arg0 = 10, .req_iov = &in,
                            .req_iovcnt = 1, .resp_iov = &out, .resp_iovcnt = 1};
    rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == 0, "DEFER from a client: %d", rc);
    bfs_rpc_client_destroy(c);

    ucp_request_param_t cp = {.op_attr_mask = 0};
    ucs_status_ptr_t r = ucp_ep_close_nbx(ep, &cp);
    uint64_t end = t_now_ms() + 1000;
    while (UCS_PTR_IS_PTR(r) && ucp_request_check_status(r) == UCS_INPROGRESS &&
           t_now_ms() < end)
        ucp_worker_progress(worker);
    if (UCS_PTR_IS_PTR(r))
        ucp_request_free(r);
    ucp_worker_destroy(worker);
    ucp_cleanup(ctx);
    t_server_stop(&s);
    t_pass();
}
