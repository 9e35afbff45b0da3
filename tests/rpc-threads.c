/* rpc-threads: 4 threads share one client and call one server at the same
 * time - single calls and batches (bfs_rpc_start + bfs_rpc_wait_all), ECHO
 * of per-thread payloads, SOURCE, SINK, deferred replies and rendezvous
 * sizes - and every call gets its own, correct reply. Over shared memory and
 * tcp. */
#include "tests/testlib.h"
#include "rpc/rpc_demo.h"

#include <errno.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define NTHREADS 4
#define NCALLS 400
#define BATCH 8
#define MAXLEN (256u << 10)

struct worker {
    bfs_rpc_client_t *c;
    int srv, id;
    char err[512];
};

static size_t size_for(int id, int i)
{
    if (i % 50 == 11)
        return MAXLEN;
    if (i % 10 == 3)
        return 64u << 10;
    return (size_t)((i * 977 + id * 131) % 4000) + 1;
}

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            snprintf(w->err, sizeof(w->err), __VA_ARGS__);                     \
            goto out;                                                          \
        }                                                                      \
    } while (0)

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    uint8_t *in[BATCH], *out[BATCH];
    for (int b = 0; b < BATCH; b++) {
        in[b] = t_xmalloc(MAXLEN);
        out[b] = t_xmalloc(MAXLEN);
    }
    int nbatch = 0, ndone = 0;
    for (int i = 0; i < NCALLS; i += nbatch, ndone += nbatch) {
        bfs_rpc_call_t calls[BATCH], *all[BATCH];
        struct iovec req[BATCH], resp[BATCH];
        size_t len[BATCH];
        uint64_t seed[BATCH];
        /* single calls and batches, alternating */
        int n = (nbatch == 1 && NCALLS - i >= BATCH) ? BATCH : 1;
        nbatch = n;
        for (int b = 0; b < n; b++) {
            int k = i + b;
            len[b] = size_for(w->id, k);
            seed[b] = (uint64_t)w->id << 40 | (uint64_t)k;
            req[b] = (struct iovec){in[b], len[b]};
            resp[b] = (struct iovec){out[b], len[b]};
            memset(out[b], 0, len[b]);
            calls[b] = (bfs_rpc_call_t){.server = w->srv, .req_iov = &req[b], .req_iovcnt = 1,
                                        .resp_iov = &resp[b], .resp_iovcnt = 1};
            switch (k % 4) {
            case 0:
                calls[b].rpc_id = DEMO_ECHO;
                t_fill_seed(in[b], len[b], seed[b]);
                break;
            case 1:
                calls[b].rpc_id = DEMO_DEFER;
                calls[b].arg0 = (uint64_t)(k % 3);
                t_fill_seed(in[b], len[b], seed[b]);
                break;
            case 2:
                calls[b].rpc_id = DEMO_SOURCE;
                calls[b].offset = seed[b];
                calls[b].arg0 = len[b];
                calls[b].req_iovcnt = 0;
                break;
            default:
                calls[b].rpc_id = DEMO_SINK;
                calls[b].flags = DEMO_VERIFY;
                calls[b].offset = seed[b];
                calls[b].resp_iovcnt = 0;
                demo_pattern_fill(in[b], seed[b], len[b]);
                break;
            }
            all[b] = &calls[b];
        }
        if (n == 1) {
            int rc = bfs_rpc_call(w->c, &calls[0]);
            CHECK(rc == 0, "thread %d call %d (rpc %u, %zu bytes): %d (%s)", w->id, i,
                  calls[0].rpc_id, len[0], rc, strerror(-rc));
        } else {
            for (int b = 0; b < n; b++)
                CHECK(bfs_rpc_start(w->c, &calls[b]) == 0, "thread %d: start failed: %d", w->id,
                      calls[b].status);
            int rc = bfs_rpc_wait_all(w->c, all, n);
            CHECK(rc == 0, "thread %d batch at %d: %d (%s)", w->id, i, rc, strerror(-rc));
        }
        for (int b = 0; b < n; b++) {
            bfs_rpc_call_t *x = &calls[b];
            CHECK(bfs_rpc_done(x) && x->status == 0, "thread %d call %d: status %d", w->id,
                  i + b, x->status);
            switch (x->rpc_id) {
            case DEMO_ECHO:
            case DEMO_DEFER:
                CHECK(x->resp_len == len[b] && t_check_seed(out[b], len[b], seed[b]) < 0,
                      "thread %d call %d: ECHO/DEFER of %zu bytes got %zu wrong bytes (another "
                      "call's reply?)", w->id, i + b, len[b], x->resp_len);
                break;
            case DEMO_SOURCE:
                CHECK(x->resp_len == len[b] && demo_pattern_check(out[b], seed[b], len[b]) < 0,
                      "thread %d call %d: SOURCE of %zu bytes wrong", w->id, i + b, len[b]);
                break;
            default:
                CHECK(x->reply.arg0 == len[b], "thread %d call %d: SINK saw %llu of %zu",
                      w->id, i + b, (unsigned long long)x->reply.arg0, len[b]);
                break;
            }
        }
    }
    if (ndone != NCALLS)
        snprintf(w->err, sizeof(w->err), "thread %d made %d calls", w->id, ndone);
out:
    for (int b = 0; b < BATCH; b++) {
        free(in[b]);
        free(out[b]);
    }
    return NULL;
}

int main(void)
{
    t_init("rpc-threads", 60);
    struct t_server s;
    t_server_start(&s, 0);
    for (int peer = 0; peer < 2; peer++) {
        uint64_t t0 = t_now_ms();
        bfs_rpc_client_t *c = t_client(peer, 20000, 0);
        int srv = bfs_rpc_client_add_server(c, s.addr, s.alen);
        struct worker w[NTHREADS];
        pthread_t th[NTHREADS];
        for (int i = 0; i < NTHREADS; i++) {
            w[i] = (struct worker){.c = c, .srv = srv, .id = i};
            T_ASSERT(pthread_create(&th[i], NULL, worker_main, &w[i]) == 0, "pthread_create");
        }
        for (int i = 0; i < NTHREADS; i++)
            pthread_join(th[i], NULL);
        for (int i = 0; i < NTHREADS; i++)
            T_ASSERT(w[i].err[0] == 0, "%s", w[i].err);
        bfs_rpc_client_destroy(c);
        t_log("peer_errors=%d: %d threads x %d calls verified in %llu ms", peer, NTHREADS, NCALLS,
              (unsigned long long)(t_now_ms() - t0));
    }
    t_server_stop(&s);
    t_pass();
}
