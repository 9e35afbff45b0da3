/* Buffers of memory touched before they are needed, for the chunk cache.
 *
 * On the VMs BenchFS is measured on, the first touch of fresh memory costs
 * as much as the device write a copy is meant to save: the host backs guest
 * pages lazily, and zeroing them ran at 0.5-1 GB/s (62% of the server's
 * time during IOR writes with a cache of copies, perf). A thread at idle
 * priority (SCHED_IDLE: it runs only on a core nobody else wants) touches
 * buffers ahead, up to a limit the cache sets from its budget, so the copies
 * of a write burst land in warm pages. Nothing is touched before the first
 * buffer is asked for; the reserve then starts small and doubles each time
 * the cache found it empty.
 *
 * Buffers are `size` bytes, page-aligned; from 2 MiB on they are aligned to
 * and asked to be transparent huge pages (one fault per 2 MiB, not 512). */
#ifndef BFS_WARM_POOL_H
#define BFS_WARM_POOL_H

#include <stddef.h>

typedef struct bfs_warm_pool bfs_warm_pool_t;

/* A pool of buffers of size bytes (size > 0), with its thread. NULL on
 * failure. */
bfs_warm_pool_t *bfs_warm_pool_new(size_t size);
/* Stops the thread and frees the buffers it holds. */
void bfs_warm_pool_free(bfs_warm_pool_t *p);

/* The size its buffers are made with (rounded up to huge pages), and the
 * page they are touched by (4 KiB or 2 MiB). */
size_t bfs_warm_pool_size(const bfs_warm_pool_t *p);
size_t bfs_warm_pool_page(const bfs_warm_pool_t *p);
/* A fresh buffer, touched by nobody yet, or NULL; and its release. */
char *bfs_warm_pool_alloc(const bfs_warm_pool_t *p);
void bfs_warm_pool_release(const bfs_warm_pool_t *p, char *buf);

/* A touched buffer, or NULL when none is ready (the reserve then grows,
 * within the limit). A buffer taken lowers the limit by one: the owner
 * counts it now. */
char *bfs_warm_pool_take(bfs_warm_pool_t *p);
/* Hold at most n ready buffers: ask for more, or give back the extra. */
void bfs_warm_pool_limit(bfs_warm_pool_t *p, size_t n);
/* Buffers ready now (for the owner's budget). */
size_t bfs_warm_pool_ready(bfs_warm_pool_t *p);

#endif
