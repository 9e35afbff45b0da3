/* The state of one benchfsd process, shared by its parts. */
#ifndef BFS_SERVER_H
#define BFS_SERVER_H

#include "../rpc/evloop.h"
#include "../rpc/rpc_bufpool.h"
#include "../rpc/rpc_server.h"
#include "chunk_store.h"
#include "meta_store.h"

#include <stdint.h>

struct pending_reply;
struct bfs_open_refs;
struct bfs_reaper;

struct bfs_server {
    unsigned rank, nservers;
    uint64_t chunk_size;
    uint64_t small_max;     /* chunks up to this many bytes live in LMDB */
    const char *dir;        /* this server's own directory (DIR/server-RANK) */
    bfs_evloop_t *loop;
    bfs_rpc_server_t *rpc;
    bfs_meta_t *meta;
    bfs_chunk_store_t *chunks;
    bfs_rpc_bufpool_t pool; /* read and readdir reply buffers */
    uint64_t log_refused_ns[8]; /* rate limits of refusal warnings, per kind */
    /* Replies waiting for the metadata batch to commit (fs_handlers.c). */
    struct pending_reply *pending, **pending_tail;
    struct bfs_open_refs *refs;   /* open files by client (open_refs.c) */
    struct bfs_reaper *reaper;    /* dead files' chunks (reaper.c) */
};

/* Register every file-system RPC (common/proto.h) on s->rpc. */
int bfs_fs_handlers_register(struct bfs_server *s);

/* Event-loop prepare hook: commit the metadata batch and send the replies
 * that waited for it. Attach it last. */
int bfs_fs_commit(void *server);

/* Join the open metadata batch (or open one) for a mutation that no reply
 * waits for (open_refs.c, reaper.c): bfs_fs_commit commits it. */
void bfs_fs_meta_begin(struct bfs_server *s);

/* Whether chunk idx of fid is placed on this server. */
int bfs_server_owns_chunk(uint64_t fid, uint64_t idx, void *server);

#endif
