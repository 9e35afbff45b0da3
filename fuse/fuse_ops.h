/* benchfs-fuse: the FUSE operations, each one call (or a few) of the
 * client API benchfs.h. fuse_main.c mounts and runs the loop. */
#ifndef BFS_FUSE_OPS_H
#define BFS_FUSE_OPS_H

#define FUSE_USE_VERSION 32 /* libfuse >= 3.2 (RHEL 8 ships 3.2/3.3) */
#include <fuse.h>

#include "client/benchfs.h"

struct bfs_fuse {
    benchfs_t *fs;
    /* 0: direct I/O for every file (FOPEN_DIRECT_IO), no page cache, no
     * stale data; 1 (--page-cache): page cache, emptied at every open and
     * whenever a getattr sees another size or mtime; allows MAP_SHARED. */
    int page_cache;
};

extern const struct fuse_operations bfs_fuse_ops;

/* A value the client API returned, as FUSE wants it: >= 0 unchanged, a
 * negative errno unchanged, anything else -EIO. */
static inline int bfs_fuse_err(long r)
{
    if (r >= 0)
        return 0;
    return r > -4096 ? (int)r : -5 /* EIO */;
}

#endif
