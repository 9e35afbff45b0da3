/* SHA-256 (FIPS 180-4), for keys that must not collide: the metadata
 * store's digest of a path too long to be an LMDB key (server/meta_keys.c).
 * Not for anything secret: no constant-time promise. */
#ifndef BFS_SHA256_H
#define BFS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define BFS_SHA256_LEN 32

void bfs_sha256(const void *data, size_t len, uint8_t out[BFS_SHA256_LEN]);

#endif
