/* The peer watchdog: each server of a job pings the next one (rank + 1, in a
 * ring) once a second and reports, once, when it stops answering (twice in
 * a row), and again when it answers again. A server that is found dead is skipped and the one
 * after it is watched too, so every death is reported by some survivor as
 * long as one is left.
 *
 * Why: the launcher must be able to say which server died. mpirun aborts
 * the whole job when one process dies, unless it runs with
 * --enable-recovery, and then it says nothing at all about the dead process
 * (Open MPI 4.1: its PMIx event notification fails with BAD-PARAM, so no
 * PMIx event handler learns about it either). The survivors' own report,
 * written to their stderr which the launcher collects, is the one source
 * that works under any launcher, on one node or many.
 *
 * The pings run in a thread of their own with their own RPC client (a UCX
 * context and worker of its own), so that a dead peer's deadline never
 * stalls the server's event loop. */
#include "watchdog.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "../common/proto.h"
#include "../rpc/rpc_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct bfs_watchdog {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    unsigned rank, n;
    int interval_ms, timeout_ms;
    uint64_t secret;
    const struct bfs_registry *reg;
    const char *registry;
    char **who;       /* "host pid N" of each rank, or NULL */
    unsigned char *down;
};

static int env_ms(const char *name, int dflt)
{
    const char *v = getenv(name);
    char *end;
    long x = v && *v ? strtol(v, &end, 10) : dflt;
    if (v && *v && (*end || x <= 0 || x > 3600000))
        x = dflt;
    return (int)x;
}

static const char *who_of(const struct bfs_watchdog *w, unsigned r)
{
    return w->who && w->who[r] ? w->who[r] : "unknown host";
}

/* Sleep interval_ms unless stopped; returns 1 when stopped. */
static int nap(struct bfs_watchdog *w)
{
    struct timespec ts = bfs_timespec_in(CLOCK_REALTIME, (uint64_t)w->interval_ms * 1000000ull);
    pthread_mutex_lock(&w->mu);
    while (!w->stop && pthread_cond_timedwait(&w->cv, &w->mu, &ts) == 0)
        ;
    int stop = w->stop;
    pthread_mutex_unlock(&w->mu);
    return stop;
}

/* A peer that moved to a new worker (rpc_server.c, check_stuck). */
static int where_moved(void *arg, int server, const void *sent_to, size_t sent_len, void **addr,
                       size_t *len)
{
    struct bfs_watchdog *w = arg;
    return bfs_registry_read_moved(w->registry, (unsigned)server, w->n, w->secret, sent_to,
                                   sent_len, addr, len);
}

static void *run(void *arg)
{
    struct bfs_watchdog *w = arg;
    struct bfs_rpc_client_opts o = {
        .secret = w->secret, .timeout_ms = w->timeout_ms, .peer_errors = -1, .server_peer = 1,
    };
    bfs_rpc_client_t *c = NULL;
    if (bfs_rpc_client_create(&c, &o) < 0) {
        bfs_warn("watchdog: no RPC client: peer failures will not be reported");
        return NULL;
    }
    for (unsigned i = 0; i < w->n; i++)
        bfs_rpc_client_add_server(c, w->reg->servers[i].addr, w->reg->servers[i].len);
    bfs_rpc_client_on_slow(c, where_moved, w);
    while (!nap(w)) {
        /* The successor, and past it every server already known dead up to
         * the first live one. */
        for (unsigned k = 1; k < w->n; k++) {
            unsigned r = (w->rank + k) % w->n;
            bfs_rpc_call_t call = {.server = (int)r, .rpc_id = BFS_OP_PING};
            int rc = bfs_rpc_call(c, &call);
            if (rc >= 0) {
                if (w->down[r] == 2)
                    bfs_warn("server rank %u (%s) answers again", r, who_of(w, r));
                w->down[r] = 0;
                break;
            }
            /* Twice in a row: peers that are shutting down together with us
             * are not reported (we stop before our second look). */
            if (w->down[r] == 0) {
                w->down[r] = 1;
                break;
            }
            if (w->down[r] == 1) {
                bfs_error("server rank %u of %u (%s) does not answer (%s): it died or cannot "
                          "be reached; files with metadata or chunks on it fail until it is "
                          "back", r, w->n, who_of(w, r), strerror(-rc));
                w->down[r] = 2;
            }
            pthread_mutex_lock(&w->mu);
            int stop = w->stop;
            pthread_mutex_unlock(&w->mu);
            if (stop)
                break;
        }
    }
    bfs_rpc_client_destroy(c);
    return NULL;
}

int bfs_watchdog_start(struct bfs_watchdog **out, unsigned rank, unsigned nservers,
                       const struct bfs_registry *reg, const char *registry, char **who)
{
    *out = NULL;
    if (nservers < 2 || env_ms("BENCHFS_WATCHDOG_MS", 1000) <= 0)
        return 0;
    const char *off = getenv("BENCHFS_WATCHDOG");
    if (off && !strcmp(off, "0"))
        return 0;
    struct bfs_watchdog *w = calloc(1, sizeof(*w));
    if (!w)
        return -ENOMEM;
    w->down = calloc(nservers, 1);
    if (!w->down) {
        free(w);
        return -ENOMEM;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    w->rank = rank;
    w->n = nservers;
    w->reg = reg;
    w->registry = registry;
    w->who = who;
    w->secret = reg->secret;
    w->interval_ms = env_ms("BENCHFS_WATCHDOG_MS", 1000);
    /* A live server answers a ping in microseconds, a loaded one in
     * milliseconds; a stop waits for a ping in flight. Capped by the
     * clients' own deadline. */
    int tmo = env_ms("BENCHFS_RPC_TIMEOUT_MS", 30000);
    w->timeout_ms = tmo < 2000 ? tmo : 2000;
    int rc = pthread_create(&w->thread, NULL, run, w);
    if (rc != 0) {
        free(w->down);
        free(w);
        return -rc;
    }
    *out = w;
    return 0;
}

void bfs_watchdog_stop(struct bfs_watchdog *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->down);
    free(w);
}
