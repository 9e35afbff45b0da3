/* The registry file: how clients find a job's servers.
 *
 * Written by server rank 0 once every server has its UCX worker (after the
 * PMIx fence), atomically (temporary name, then rename) with mode 0600,
 * because it holds the job's secret. Text, one item per line:
 *
 *   benchfs-registry 1          format name and version
 *   servers N
 *   chunk_size BYTES
 *   secret HEX16                random per job; every request carries it
 *   server RANK HEXADDR         N lines, the UCX worker address of each rank
 *
 * Unknown keys are ignored by readers (room to grow within version 1). */
#ifndef BFS_REGISTRY_H
#define BFS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define BFS_REGISTRY_VERSION 1
#define BFS_REGISTRY_MAX_SERVERS 65536

struct bfs_registry_server {
    void *addr;
    size_t len;
};

struct bfs_registry {
    unsigned version;
    unsigned nservers;
    uint64_t chunk_size;
    uint64_t secret;
    /* A moved file's: the worker its new address replaces stopped
     * receiving (rpc_server.c, check_stuck), so what a client sent there
     * never arrives; 0 for a rotation, whose old worker still serves.
     * Written as "stuck 1" only when set. */
    unsigned stuck;
    struct bfs_registry_server *servers;
};

int bfs_registry_write(const char *path, const struct bfs_registry *r);

/* Where server RANK publishes the registry again after it moved to a new
 * UCX worker (rpc_server.c, check_stuck): "<registry>.moved.<rank>", the
 * same format, its own entry new. Clients whose calls to RANK wait read it.
 * 0, or -ENAMETOOLONG. */
int bfs_registry_moved_path(char *buf, size_t n, const char *registry, unsigned rank);
/* Server rank's published new address (malloc'd), if there is one for this
 * job (same server count and secret): 2 when its old worker stopped
 * receiving (calls waiting there must be sent again), 1 when it rotated
 * (the old worker still answers what it got), else 0. */
int bfs_registry_read_moved(const char *registry, unsigned rank, unsigned nservers,
                            uint64_t secret, void **addr, size_t *len);
/* 0, -ENOENT (not there yet), -EACCES, or -EBADMSG for a malformed file. */
int bfs_registry_read(const char *path, struct bfs_registry *r);
/* The same from len bytes in memory (the parser, fuzzed in tests/fuzz). */
int bfs_registry_parse(const void *buf, size_t len, struct bfs_registry *r);
void bfs_registry_free(struct bfs_registry *r);

#endif
