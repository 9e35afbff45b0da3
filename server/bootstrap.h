/* Server bootstrap: which rank am I, how many servers are there, and what
 * are their UCX worker addresses. Under mpirun this is PMIx (Put, Commit,
 * Fence with data collection, Get of every peer); started by hand, PMIx_Init
 * fails and the server is rank 0 of 1. */
#ifndef BFS_BOOTSTRAP_H
#define BFS_BOOTSTRAP_H

#include "../common/registry.h"

#include <stdint.h>

struct bfs_boot {
    unsigned rank, size;
    int pmix; /* 1 when running under a PMIx server (mpirun) */
    char **who; /* after bfs_boot_exchange: "host H pid P" of every rank */
};

int bfs_boot_init(struct bfs_boot *b);
/* Publish our address, wait for everyone, collect all addresses into
 * peers[size] (caller frees each addr). Rank 0's *secret is distributed to
 * all: on entry rank 0 supplies it, on return every rank has it. */
int bfs_boot_exchange(struct bfs_boot *b, const void *addr, size_t len, uint64_t *secret,
                      struct bfs_registry_server *peers);
/* Wait until every server reached this point (no-op without PMIx). */
int bfs_boot_barrier(struct bfs_boot *b);
void bfs_boot_fini(struct bfs_boot *b);

#endif
