/* Bytes just written, kept in memory for the reads that follow (IOR -w -r,
 * a job's next step reading its previous step's output): chunk writes go to
 * the device with O_DIRECT, which bypasses the page cache, so without this
 * every read of fresh data came from the device (issue 14).
 *
 * Write-through: the chunk file is always complete; the cache holds, per
 * chunk (fid, idx), a copy of its first `len` bytes (a valid prefix), filled
 * by writes that start inside or at the end of that prefix, after they
 * completed on the device. A read that lies wholly inside the prefix is
 * served from memory; anything else goes to the file. Entries are evicted
 * least recently used first once the byte budget is reached; an entry with
 * writes in flight stays (its writers' count must survive).
 *
 * Two writes to one chunk in flight at once may reach the device in either
 * order, so the copy could disagree with the file: such a chunk's prefix is
 * dropped, and rebuilt by later writes from its start.
 *
 * Cost on the write path (it was 3x slower with the first version, which
 * copied into fresh realloc'ed memory after each write completed): a write
 * that extends the prefix is copied while its device transfer is in flight
 * (write_early), into chunk-sized buffers touched ahead by an idle thread
 * (warm_pool.h: fresh memory is slow to touch on a VM) and recycled, not
 * freed, when entries go. The budget counts the bytes of each buffer that
 * were ever touched, and the reserve touched ahead.
 *
 * Called from one thread (the chunk store's event loop); only the warm
 * pool's thread runs beside it. No I/O, unit-tested by
 * tests/chunk_cache_test.c. */
#ifndef BFS_CHUNK_CACHE_H
#define BFS_CHUNK_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct bfs_chunk_cache bfs_chunk_cache_t;

/* budget: bytes of copies at most (0: no cache, every call does nothing);
 * chunk_size: the largest chunk (the size of each buffer). */
bfs_chunk_cache_t *bfs_chunk_cache_new(size_t budget, size_t chunk_size);
void bfs_chunk_cache_free(bfs_chunk_cache_t *c);

/* A write to chunk (fid, idx) was accepted (its device write follows). */
void bfs_chunk_cache_write_begin(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx);
/* Its device transfer was submitted and buf holds its len bytes at off: if
 * the write extends the cached prefix, copy them now (they count only once
 * write_end says they reached the file). Optional, at most once per write,
 * before its write_end. */
void bfs_chunk_cache_write_early(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx, uint64_t off,
                                 const void *buf, size_t len);
/* That write ended: ok when all len bytes at off reached the file. Every
 * write_begin is followed by exactly one write_end. */
void bfs_chunk_cache_write_end(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx, uint64_t off,
                               const void *buf, size_t len, int ok);
/* Copy [off, off + len) of chunk (fid, idx) into buf when it is cached:
 * 1 (all len bytes copied) or 0 (a miss: read the file). */
int bfs_chunk_cache_read(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx, uint64_t off, void *buf,
                         size_t len);
/* The chunk file was cut to len bytes / chunks [from, to) were removed or
 * replaced by other means: what the cache holds of them follows. */
void bfs_chunk_cache_truncate(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx, uint64_t len);
void bfs_chunk_cache_drop(bfs_chunk_cache_t *c, uint64_t fid, uint64_t from, uint64_t to);

struct bfs_chunk_cache_stats {
    uint64_t hits, misses, bytes, entries, evictions;
    uint64_t early;     /* writes copied while their transfer was in flight */
    uint64_t recycled;  /* buffers reused instead of allocated */
    uint64_t warm;      /* buffers taken touched ahead (warm_pool.h) */
};
void bfs_chunk_cache_stats(const bfs_chunk_cache_t *c, struct bfs_chunk_cache_stats *out);

#endif
