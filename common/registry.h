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
 *   stuck HEX16                 moved files only: a worker of this rank that
 *                               stopped receiving (see struct bfs_registry)
 *
 * Unknown keys are ignored by readers (room to grow within version 1). */
#ifndef BFS_REGISTRY_H
#define BFS_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#define BFS_REGISTRY_VERSION 1
#define BFS_REGISTRY_MAX_SERVERS 65536
#define BFS_REGISTRY_MAX_STUCK 8

struct bfs_registry_server {
    void *addr;
    size_t len;
};

struct bfs_registry {
    unsigned version;
    unsigned nservers;
    uint64_t chunk_size;
    uint64_t secret;
    /* A moved file's: the workers of this server that stopped receiving
     * (rpc_server.c, check_stuck), by bfs_registry_addr_hash of their
     * address, newest last. What a client sent to one of them never
     * arrives; a rotated worker (not listed) still serves what it got.
     * Kept across later rotations: a client whose call waits on a stuck
     * worker may ask only after the server rotated again. One "stuck HEX16"
     * line each. */
    uint64_t stuck[BFS_REGISTRY_MAX_STUCK];
    unsigned nstuck;
    struct bfs_registry_server *servers;
};

int bfs_registry_write(const char *path, const struct bfs_registry *r);

/* Where server RANK publishes the registry again after it moved to a new
 * UCX worker (rpc_server.c, check_stuck): "<registry>.moved.<rank>", the
 * same format, its own entry new. Clients whose calls to RANK wait read it.
 * 0, or -ENAMETOOLONG. */
int bfs_registry_moved_path(char *buf, size_t n, const char *registry, unsigned rank);
/* Server rank's published new address (malloc'd), if there is one for this
 * job (same server count and secret): 2 when the worker at sent_to (the
 * address the caller's waiting calls went to; NULL: none) stopped
 * receiving (they must be sent again), 1 otherwise (a rotated worker still
 * answers what it got), else 0. */
int bfs_registry_read_moved(const char *registry, unsigned rank, unsigned nservers,
                            uint64_t secret, const void *sent_to, size_t sent_len, void **addr,
                            size_t *len);
/* Names a worker address in a moved file's stuck list (FNV-1a, 64 bits). */
uint64_t bfs_registry_addr_hash(const void *addr, size_t len);
/* 0, -ENOENT (not there yet), -EACCES, or -EBADMSG for a malformed file. */
int bfs_registry_read(const char *path, struct bfs_registry *r);
/* The same from len bytes in memory (the parser, fuzzed in tests/fuzz). */
int bfs_registry_parse(const void *buf, size_t len, struct bfs_registry *r);
void bfs_registry_free(struct bfs_registry *r);

#endif
