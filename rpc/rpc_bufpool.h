/* Page-aligned receive buffers, recycled by power-of-two size class so that
 * a steady stream of chunk-sized requests allocates nothing. Page alignment
 * lets the storage layer use O_DIRECT on them. Single-threaded. */
#ifndef BFS_RPC_BUFPOOL_H
#define BFS_RPC_BUFPOOL_H

#include <stddef.h>

#define BFS_BUFPOOL_CLASSES 20   /* 4 KiB .. 2 GiB */
#define BFS_BUFPOOL_KEEP 32      /* cached buffers per class */

typedef struct bfs_rpc_bufpool {
    void *free[BFS_BUFPOOL_CLASSES][BFS_BUFPOOL_KEEP];
    int nfree[BFS_BUFPOOL_CLASSES];
} bfs_rpc_bufpool_t;

void bfs_rpc_bufpool_init(bfs_rpc_bufpool_t *p);
void bfs_rpc_bufpool_destroy(bfs_rpc_bufpool_t *p);
/* A buffer of at least len bytes (len > 0), or NULL. */
void *bfs_rpc_bufpool_get(bfs_rpc_bufpool_t *p, size_t len);
/* Give back a buffer obtained with the same len. */
void bfs_rpc_bufpool_put(bfs_rpc_bufpool_t *p, void *buf, size_t len);

#endif
