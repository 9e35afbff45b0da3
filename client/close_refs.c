/* Client API: dropping open references without a round trip. An open
 * registers a reference at the file's home in the request it sends anyway
 * (BFS_F_OPEN); close only queues the fid. The queue of a server goes out
 * as one CLOSE (up to CLOSE_BATCH fids) when it is full, before this
 * client unlinks or renames anything, when benchfs_server_reclaim asks and
 * at finalize; nothing waits for its reply (the call's slot is collected
 * once all slots are used). A separate message per close cost every
 * create+close a wake-up of the server: on a loaded node 2-3x the time of
 * the create. Until its CLOSE arrives a closed file counts as open: a file
 * another process unlinked meanwhile is freed a little later, never lost.
 * A client that dies loses nothing either: its home drops a dead process's
 * references (server/open_refs.c). */
#include "client_internal.h"
#include "../common/placement.h"

#include <stdlib.h>
#include <string.h>

#define CLOSE_BATCH 32 /* fids per CLOSE (the server takes up to 64) */
#define MAX_CLOSING 16 /* CLOSEs in flight: the next waits for these */

struct bfs_cl_close {
    bfs_rpc_call_t call;
    struct iovec iov[3];
    uint64_t fids[CLOSE_BATCH];
    int busy;
};

struct bfs_cl_closeq {
    uint64_t fids[CLOSE_BATCH];
    unsigned n;
};

/* Every slot becomes free once its call completed (close_mu held). Slots
 * are collected all at once when none is left: a wait for calls that
 * completed long ago returns at once, and the calls' state is only read
 * through the RPC client (under its lock). */
static void collect(benchfs_t *fs)
{
    if (!fs->closes || !fs->nclosing)
        return;
    bfs_rpc_call_t *ptrs[MAX_CLOSING];
    int n = 0;
    for (int i = 0; i < MAX_CLOSING; i++)
        if (fs->closes[i].busy)
            ptrs[n++] = &fs->closes[i].call;
    bfs_rpc_wait_all(fs->rpc, ptrs, n);
    for (int i = 0; i < MAX_CLOSING; i++)
        fs->closes[i].busy = 0;
    fs->nclosing = 0;
}

/* Send server's queue as one CLOSE (close_mu held). */
static void send_queue(benchfs_t *fs, unsigned server)
{
    struct bfs_cl_closeq *q = &fs->closeq[server];
    if (!q->n)
        return;
    if (fs->nclosing == MAX_CLOSING)
        collect(fs);
    for (int i = 0; i < MAX_CLOSING; i++) {
        struct bfs_cl_close *c = &fs->closes[i];
        if (c->busy)
            continue;
        memcpy(c->fids, q->fids, q->n * sizeof(q->fids[0]));
        struct bfs_cl_meta m = {.op = BFS_OP_CLOSE, .arg0 = q->n};
        bfs_cl_meta_prep(fs, &c->call, c->iov, (const char *)c->fids,
                         q->n * sizeof(q->fids[0]), &m);
        c->call.server = (int)server;
        c->busy = 1;
        fs->nclosing++;
        bfs_rpc_start(fs->rpc, &c->call); /* a failure completes it at once */
        break;
    }
    q->n = 0;
}

static int queues_ready(benchfs_t *fs)
{
    if (!fs->closes)
        fs->closes = calloc(MAX_CLOSING, sizeof(*fs->closes));
    if (!fs->closeq)
        fs->closeq = calloc(fs->nservers, sizeof(*fs->closeq));
    return fs->closes && fs->closeq;
}

void bfs_cl_closes_flush(benchfs_t *fs, int wait)
{
    pthread_mutex_lock(&fs->close_mu);
    if (fs->closeq && fs->closes)
        for (unsigned i = 0; i < fs->nservers; i++)
            send_queue(fs, i);
    if (wait)
        collect(fs);
    pthread_mutex_unlock(&fs->close_mu);
}

void bfs_cl_close_ref(benchfs_t *fs, uint64_t fid)
{
    unsigned home = bfs_place_home(fid, fs->nservers);
    if (home >= fs->nservers)
        return;
    pthread_mutex_lock(&fs->close_mu);
    if (queues_ready(fs)) {
        struct bfs_cl_closeq *q = &fs->closeq[home];
        q->fids[q->n++] = fid;
        if (q->n == CLOSE_BATCH)
            send_queue(fs, home);
    } /* else the reference stays until this process exits */
    pthread_mutex_unlock(&fs->close_mu);
}
