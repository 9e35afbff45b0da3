/* rpc-deferred: replies the server defers (DEFER: echo after arg0 ms) are in
 * flight together with immediate ones, arrive in the order of their delays -
 * not the order the calls were made - and each reply is matched to its own
 * call (payload, length, never earlier than its delay). */
#include "tests/testlib.h"
#include "rpc/rpc_demo.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Calls in start order: delay (ms, -1: an immediate ECHO) and payload size. */
static const struct {
    int delay;
    size_t len;
} plan[] = {
    {700, 100}, {100, 4096}, {500, 65536}, {0, 1}, {300, 0},  {600, 1u << 20},
    {200, 8192}, {400, 100}, {300, 777},   {-1, 100}, {-1, 65536}, {100, 3},
};
#define NCALLS ((int)(sizeof(plan) / sizeof(plan[0])))
#define SLACK_MS 3000

static void one_mode(const struct t_server *s, int peer)
{
    bfs_rpc_client_t *c = t_client(peer, 10000, 0);
    int srv = bfs_rpc_client_add_server(c, s->addr, s->alen);
    /* A completed call: bfs_rpc_wait_all on it progresses without blocking. */
    bfs_rpc_call_t pump = {.server = srv, .rpc_id = DEMO_NULL};
    T_ASSERT(bfs_rpc_call(c, &pump) == 0, "NULL call");
    bfs_rpc_call_t *pumpp = &pump;

    bfs_rpc_call_t calls[NCALLS];
    struct iovec req[NCALLS], resp[NCALLS];
    uint8_t *in[NCALLS], *out[NCALLS];
    uint64_t done_ms[NCALLS];
    uint64_t t0 = t_now_ms();
    for (int i = 0; i < NCALLS; i++) {
        size_t len = plan[i].len;
        in[i] = t_xmalloc(len);
        out[i] = t_xmalloc(len + 16);
        memset(out[i], 0, len + 16);
        t_fill_seed(in[i], len, 1000u + (unsigned)i);
        req[i] = (struct iovec){in[i], len};
        resp[i] = (struct iovec){out[i], len + 16};
        calls[i] = (bfs_rpc_call_t){
            .server = srv,
            .rpc_id = plan[i].delay < 0 ? DEMO_ECHO : DEMO_DEFER,
            .arg0 = plan[i].delay < 0 ? 0 : (uint64_t)plan[i].delay,
            .req_iov = &req[i],
            .req_iovcnt = 1,
            .resp_iov = &resp[i],
            .resp_iovcnt = 1,
        };
        done_ms[i] = 0;
        int rc = bfs_rpc_start(c, &calls[i]);
        T_ASSERT(rc == 0, "start call %d: %d", i, rc);
    }
    /* Watch completions as they happen. */
    int left = NCALLS;
    while (left > 0) {
        bfs_rpc_wait_all(c, &pumpp, 1);
        uint64_t now = t_now_ms();
        for (int i = 0; i < NCALLS; i++)
            if (!done_ms[i] && bfs_rpc_done(&calls[i])) {
                done_ms[i] = now;
                left--;
            }
        T_ASSERT(now - t0 < 700 + SLACK_MS, "%d calls still not complete after %llu ms", left,
                 (unsigned long long)(now - t0));
        t_sleep_ms(1);
    }
    for (int i = 0; i < NCALLS; i++) {
        size_t len = plan[i].len;
        uint64_t el = done_ms[i] - t0;
        T_ASSERT(calls[i].status == 0, "call %d (delay %d): status %d", i, plan[i].delay,
                 calls[i].status);
        T_ASSERT(calls[i].resp_len == len && t_check_seed(out[i], len, 1000u + (unsigned)i) < 0,
                 "call %d (delay %d): reply of %zu bytes is not its own payload of %zu", i,
                 plan[i].delay, calls[i].resp_len, len);
        T_ASSERT(plan[i].delay < 0 || el + 1 >= (uint64_t)plan[i].delay,
                 "call %d: reply after %llu ms, before its delay of %d ms", i,
                 (unsigned long long)el, plan[i].delay);
        for (int j = 0; j < NCALLS; j++)
            if (plan[i].delay + 100 <= plan[j].delay)
                T_ASSERT(done_ms[i] <= done_ms[j],
                         "call %d (delay %d) completed at %llu ms, after call %d (delay %d) at "
                         "%llu ms", i, plan[i].delay, (unsigned long long)el, j, plan[j].delay,
                         (unsigned long long)(done_ms[j] - t0));
    }
    char line[512];
    int n = 0;
    for (int i = 0; i < NCALLS; i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %d:%llu", plan[i].delay,
                      (unsigned long long)(done_ms[i] - t0));
    t_log("peer_errors=%d: delay:completed-at (ms)%s", peer, line);
    for (int i = 0; i < NCALLS; i++) {
        free(in[i]);
        free(out[i]);
    }
    bfs_rpc_client_destroy(c);
}

int main(void)
{
    t_init("rpc-deferred", 30);
    struct t_server s;
    t_server_start(&s, 0);
    one_mode(&s, 0);
    one_mode(&s, 1);
    t_server_stop(&s);
    t_pass();
}
