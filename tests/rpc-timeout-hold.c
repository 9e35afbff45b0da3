/* rpc-timeout-hold: a call the server never answers (HOLD) ends with
 * -ETIMEDOUT at its deadline - the per-call timeout_ms, else the client's
 * timeout, else $BENCHFS_RPC_TIMEOUT_MS - not before and not much after; other
 * calls in flight at the same time are unaffected; a reply that arrives after
 * its call timed out is dropped, not delivered to the call that reuses the
 * slot; and the connection keeps working. */
#include "tests/testlib.h"
#include "rpc/rpc_demo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SLACK_MS 1500

static void expect_timeout(const char *what, bfs_rpc_call_t *call, uint64_t t0, int tmo)
{
    uint64_t el = t_now_ms() - t0;
    T_ASSERT(call->status == -ETIMEDOUT, "%s: status %d (%s), expected -ETIMEDOUT", what,
             call->status, strerror(-call->status));
    T_ASSERT(el + 1 >= (uint64_t)tmo && el <= (uint64_t)tmo + SLACK_MS,
             "%s: timed out after %llu ms, deadline was %d ms", what, (unsigned long long)el,
             tmo);
    T_ASSERT(bfs_rpc_done(call), "%s: not complete", what);
}

static void null_ok(bfs_rpc_client_t *c, int srv, const char *when)
{
    bfs_rpc_call_t call = {.server = srv, .rpc_id = DEMO_NULL};
    int rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == 0, "NULL call %s: %d (%s)", when, rc, strerror(-rc));
}

static void one_mode(const struct t_server *s, int peer)
{
    bfs_rpc_client_t *c = t_client(peer, 10000, 0);
    int srv = bfs_rpc_client_add_server(c, s->addr, s->alen);
    null_ok(c, srv, "before");

    /* 1. per-call timeout */
    bfs_rpc_call_t hold = {.server = srv, .rpc_id = DEMO_HOLD, .timeout_ms = 300};
    uint64_t t0 = t_now_ms();
    int rc = bfs_rpc_call(c, &hold);
    T_ASSERT(rc == -ETIMEDOUT, "HOLD returned %d", rc);
    expect_timeout("HOLD with timeout_ms 300", &hold, t0, 300);
    null_ok(c, srv, "after a timeout");

    /* 2. several HOLDs time out together while other calls succeed */
    enum { NH = 10 };
    bfs_rpc_call_t holds[NH], *all[NH + 2];
    t0 = t_now_ms();
    for (int i = 0; i < NH; i++) {
        holds[i] = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_HOLD, .timeout_ms = 200 + 20 * i};
        T_ASSERT(bfs_rpc_start(c, &holds[i]) == 0, "start HOLD %d", i);
        all[i] = &holds[i];
    }
    char msg[] = "not held", back[16] = {0};
    struct iovec in = {msg, sizeof(msg)}, out = {back, sizeof(back)};
    bfs_rpc_call_t echo = {.server = srv, .rpc_id = DEMO_ECHO, .req_iov = &in, .req_iovcnt = 1,
                           .resp_iov = &out, .resp_iovcnt = 1};
    bfs_rpc_call_t defer = {.server = srv, .rpc_id = DEMO_DEFER, .arg0 = 50};
    T_ASSERT(bfs_rpc_start(c, &echo) == 0 && bfs_rpc_start(c, &defer) == 0, "start");
    all[NH] = &echo;
    all[NH + 1] = &defer;
    rc = bfs_rpc_wait_all(c, all, NH + 2);
    T_ASSERT(rc == -ETIMEDOUT, "wait_all over timed-out calls returned %d", rc);
    T_ASSERT(echo.status == 0 && strcmp(back, msg) == 0, "ECHO among HOLDs: %d", echo.status);
    T_ASSERT(defer.status == 0, "DEFER among HOLDs: %d", defer.status);
    for (int i = 0; i < NH; i++)
        expect_timeout("HOLD among others", &holds[i], t0, 200 + 20 * (NH - 1));
    null_ok(c, srv, "after several timeouts");

    /* 3. a reply after the deadline is dropped: the late DEFER reply must not
     * complete the next call, which likely reuses the same slot. */
    uint8_t p1[64], p2[64], r2[64];
    t_fill_seed(p1, sizeof(p1), 1);
    t_fill_seed(p2, sizeof(p2), 2);
    memset(r2, 0, sizeof(r2));
    struct iovec i1 = {p1, sizeof(p1)}, i2 = {p2, sizeof(p2)}, o2 = {r2, sizeof(r2)};
    bfs_rpc_call_t late = {.server = srv, .rpc_id = DEMO_DEFER, .arg0 = 500, .timeout_ms = 150,
                           .req_iov = &i1, .req_iovcnt = 1, .resp_iov = &o2, .resp_iovcnt = 1};
    t0 = t_now_ms();
    rc = bfs_rpc_call(c, &late);
    expect_timeout("DEFER 500 ms with timeout_ms 150", &late, t0, 150);
    bfs_rpc_call_t next = {.server = srv, .rpc_id = DEMO_DEFER, .arg0 = 800, .req_iov = &i2,
                           .req_iovcnt = 1, .resp_iov = &o2, .resp_iovcnt = 1};
    t0 = t_now_ms();
    rc = bfs_rpc_call(c, &next);
    uint64_t el = t_now_ms() - t0;
    T_ASSERT(rc == 0, "DEFER after a late reply: %d", rc);
    T_ASSERT(el + 1 >= 800, "DEFER 800 ms completed after %llu ms: by the stale reply?",
             (unsigned long long)el);
    T_ASSERT(next.resp_len == sizeof(p2) && memcmp(r2, p2, sizeof(p2)) == 0,
             "the call got the stale reply's data");
    null_ok(c, srv, "after a late reply");
    bfs_rpc_client_destroy(c);

    /* 4. the client's own timeout applies when the call has none */
    c = t_client(peer, 400, 0);
    srv = bfs_rpc_client_add_server(c, s->addr, s->alen);
    hold = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_HOLD};
    t0 = t_now_ms();
    bfs_rpc_call(c, &hold);
    expect_timeout("HOLD with the client's timeout of 400 ms", &hold, t0, 400);
    bfs_rpc_client_destroy(c);

    /* 5. ... and $BENCHFS_RPC_TIMEOUT_MS when the client has none either */
    setenv("BENCHFS_RPC_TIMEOUT_MS", "250", 1);
    c = t_client(peer, 0, 0);
    unsetenv("BENCHFS_RPC_TIMEOUT_MS");
    srv = bfs_rpc_client_add_server(c, s->addr, s->alen);
    hold = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_HOLD};
    t0 = t_now_ms();
    bfs_rpc_call(c, &hold);
    expect_timeout("HOLD with BENCHFS_RPC_TIMEOUT_MS=250", &hold, t0, 250);
    null_ok(c, srv, "at the end");
    bfs_rpc_client_destroy(c);
    t_log("peer_errors=%d: all timeouts within bounds", peer);
}

int main(void)
{
    t_init("rpc-timeout-hold", 40);
    struct t_server s;
    t_server_start(&s, 0);
    one_mode(&s, 0);
    one_mode(&s, 1);
    t_server_stop(&s);
    t_pass();
}
