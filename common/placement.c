#include "placement.h"

#include <string.h>

/* 64-bit FNV-1a followed by a murmur3 finalizer: fast on short paths, and the
 * finalizer spreads sequential names ("file.1", "file.2") evenly. */
static uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return h;
}

uint64_t bfs_hash64(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ull ^ seed;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return mix64(h);
}

unsigned bfs_place_meta(const char *path, size_t len, unsigned nservers)
{
    if (nservers <= 1)
        return 0;
    return (unsigned)(bfs_hash64(path, len, 0) % nservers);
}

unsigned bfs_place_chunk(uint64_t fid, uint64_t idx, unsigned nservers)
{
    if (nservers <= 1)
        return 0;
    /* Consecutive chunks of one file go round-robin from a per-file start, so
     * that a large sequential transfer touches every server equally. */
    uint64_t start = mix64(fid);
    return (unsigned)((start + idx) % nservers);
}

unsigned bfs_place_home(uint64_t fid, unsigned nservers)
{
    uint64_t r = fid >> 48;
    return r == 0 || r > nservers ? nservers : (unsigned)(r - 1);
}
