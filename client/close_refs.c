/* Client API: dropping open references without a round trip. An open
 * registers a reference at the file's home in the request it sends anyway
 * (BFS_F_OPEN); close sends CLOSE and does not wait: the call's slot is
 * collected by a later close, or by finalize. A client that dies first
 * loses nothing: its home drops a dead process's references
 * (server/open_refs.c), and benchfs_finalize does not wait for CLOSEs in
 * flight either. */
#include "client_internal.h"
#include "../common/placement.h"

#include <stdlib.h>
#include <string.h>

/* CLOSEs in flight at most: the next close waits for these. */
#define MAX_CLOSING 64

struct bfs_cl_close {
    bfs_rpc_call_t call;
    struct iovec iov[3];
    uint64_t fid;
    int busy;
};

/* Every slot becomes free once its call completed (close_mu held). Slots
 * are taken in turn and collected all at once when none is left: a wait
 * for calls that completed long ago returns at once, and the calls' state
 * is only read through the RPC client (under its lock). */
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

void bfs_cl_closes_reap(benchfs_t *fs)
{
    pthread_mutex_lock(&fs->close_mu);
    collect(fs);
    pthread_mutex_unlock(&fs->close_mu);
}

void bfs_cl_close_ref(benchfs_t *fs, uint64_t fid)
{
    if (bfs_place_home(fid, fs->nservers) >= fs->nservers)
        return;
    pthread_mutex_lock(&fs->close_mu);
    if (!fs->closes && !(fs->closes = calloc(MAX_CLOSING, sizeof(*fs->closes)))) {
        pthread_mutex_unlock(&fs->close_mu);
        return; /* the reference stays until this process exits */
    }
    if (fs->nclosing == MAX_CLOSING)
        collect(fs);
    for (int i = 0; i < MAX_CLOSING; i++) {
        struct bfs_cl_close *c = &fs->closes[i];
        if (c->busy)
            continue;
        memset(&c->call, 0, sizeof(c->call));
        c->fid = fid;
        struct bfs_cl_meta m = {.op = BFS_OP_CLOSE};
        bfs_cl_fid_prep(fs, &c->call, c->iov, &c->fid, &m);
        c->busy = 1;
        fs->nclosing++;
        bfs_rpc_start(fs->rpc, &c->call); /* a failure completes it at once */
        break;
    }
    pthread_mutex_unlock(&fs->close_mu);
}
