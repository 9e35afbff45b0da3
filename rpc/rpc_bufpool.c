#include "rpc_bufpool.h"

#include <stdlib.h>
#include <string.h>

static int size_class(size_t len)
{
    int c = 0;
    size_t sz = 4096;
    while (sz < len && c < BFS_BUFPOOL_CLASSES) {
        sz <<= 1;
        c++;
    }
    return c;
}

void bfs_rpc_bufpool_init(bfs_rpc_bufpool_t *p) { memset(p, 0, sizeof(*p)); }

void bfs_rpc_bufpool_destroy(bfs_rpc_bufpool_t *p)
{
    for (int c = 0; c < BFS_BUFPOOL_CLASSES; c++)
        while (p->nfree[c] > 0)
            free(p->free[c][--p->nfree[c]]);
}

void *bfs_rpc_bufpool_get(bfs_rpc_bufpool_t *p, size_t len)
{
    int c = size_class(len);
    if (c >= BFS_BUFPOOL_CLASSES)
        return NULL;
    if (p->nfree[c] > 0)
        return p->free[c][--p->nfree[c]];
    void *buf = NULL;
    if (posix_memalign(&buf, 4096, (size_t)4096 << c) != 0)
        return NULL;
    return buf;
}

void bfs_rpc_bufpool_put(bfs_rpc_bufpool_t *p, void *buf, size_t len)
{
    int c = size_class(len);
    if (c < BFS_BUFPOOL_CLASSES && p->nfree[c] < BFS_BUFPOOL_KEEP) {
        p->free[c][p->nfree[c]++] = buf;
        return;
    }
    free(buf);
}
