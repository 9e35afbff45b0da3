/* Chunk data of one server: one file per chunk under DIR/data, I/O through
 * io_uring with many requests in flight - except buffered writes of up to
 * 64 KiB, done at once with pwrite (io_uring would hand them to a kernel
 * worker thread, which costs more than the copy); their callbacks still run
 * from bfs_chunk_store_reap().
 *
 * A chunk is identified by (fid, index); its file holds the chunk's bytes
 * from chunk offset 0. A missing chunk file or a short one is a hole: reads
 * return fewer bytes (the caller fills zeros up to the file size).
 *
 * Asynchronous operations take a completion callback, called exactly once
 * from bfs_chunk_store_reap() (never from inside the submitting call) with
 * the result: bytes transferred (>= 0) or a negative errno.
 * They return 0 when the operation was accepted (the callback will run), or
 * a negative errno when it was not (the callback will not run): -EINVAL,
 * -ENOMEM, -ESHUTDOWN once close has begun, or the error of opening the
 * chunk file (-EACCES, -EMFILE, ...). Errors of the I/O itself (-ENOSPC,
 * -EIO) arrive through the callback.
 * Operations in flight are not ordered among themselves: a read issued
 * while a write to the same bytes is in flight may see either contents.
 *
 * On disk: DIR/data/XX/<fid as 16 hex digits>.<idx in decimal>, XX being
 * two hex digits of a hash of fid, so all chunks of a file share one
 * subdirectory.
 *
 * The store submits queued SQEs before the event loop sleeps and reaps
 * completions when the ring's eventfd fires, so it needs no thread of its
 * own. Single-threaded. */
#ifndef BFS_CHUNK_STORE_H
#define BFS_CHUNK_STORE_H

#include "../rpc/evloop.h"

#include <stddef.h>
#include <stdint.h>

typedef struct bfs_chunk_store bfs_chunk_store_t;
typedef void (*bfs_chunk_cb)(int64_t result, void *arg);

struct bfs_chunk_store_opts {
    unsigned queue_depth;   /* io_uring entries; 0: 256 */
    unsigned max_open;      /* cached open chunk fds; 0: 1024. Operations in
                               flight keep evicted fds open until they
                               complete, and direct adds a second fd per
                               chunk: RLIMIT_NOFILE should allow
                               2 * max_open + queue_depth. On EMFILE idle
                               fds are closed and the open retried. */
    int direct;             /* 1: O_DIRECT for writes, 2: for reads and
                               writes, when buffer, offset and length are
                               4 KiB aligned (per request: others stay
                               buffered). Where the file system refuses
                               O_DIRECT (EINVAL) the store silently goes
                               buffered. Writes bypass the page cache
                               (several times faster on ext4 here); reads
                               of cached data are faster buffered. */
    /* Whether chunk idx of fid is placed on this server (NULL: all are), so
     * that fsync and remove over a range skip other servers' chunks without
     * a system call. */
    int (*owned)(uint64_t fid, uint64_t idx, void *arg);
    void *owned_arg;
    /* Bytes of just-written chunk data kept in memory for the reads that
     * follow (chunk_cache.h), when writes go around the page cache
     * (direct): 0 none. cache_chunk: the largest chunk written. */
    size_t cache_bytes, cache_chunk;
};

/* dir: the server's directory; chunk files go to dir/data/XX/. */
int bfs_chunk_store_open(bfs_chunk_store_t **out, const char *dir,
                         const struct bfs_chunk_store_opts *opts);
/* Waits (bounded: 5 s, then cancels and waits 1 s more) for in-flight
 * operations, running their callbacks; operations submitted meanwhile fail
 * with -ESHUTDOWN. Operations still unfinished then get -ECANCELED (logged:
 * the kernel may still touch their buffers). Closes files.
 * When attached, close before destroying the loop and do not run the loop
 * afterwards: close removes the eventfd, but the loop cannot remove the
 * prepare hook. */
void bfs_chunk_store_close(bfs_chunk_store_t *cs);

/* Register the ring's eventfd and a prepare hook (submit before sleeping)
 * with the loop. Attach after the RPC server so that SQEs prepared by RPC
 * handlers during the loop's prepare phase are submitted before it sleeps. */
int bfs_chunk_store_attach(bfs_chunk_store_t *cs, bfs_evloop_t *loop);

/* Write len bytes at offset off of chunk (fid, idx), creating the chunk file.
 * buf must stay valid until cb runs. Short writes are continued: the result
 * is len, or a negative errno (then some bytes may have been written). */
int bfs_chunk_write(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, uint64_t off,
                    const void *buf, size_t len, bfs_chunk_cb cb, void *arg);
/* Read up to len bytes; result is the count (short or 0 in holes; a missing
 * chunk file is a hole, not an error). */
int bfs_chunk_read(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, uint64_t off,
                   void *buf, size_t len, bfs_chunk_cb cb, void *arg);
/* fsync every chunk file of fid with index < nchunks that is owned and
 * exists here, and their directory (new files' entries); result 0 or the
 * first error. Runs them in parallel, a bounded number at a time. */
int bfs_chunk_fsync(bfs_chunk_store_t *cs, uint64_t fid, uint64_t nchunks,
                    bfs_chunk_cb cb, void *arg);

/* Synchronous (metadata-like, rare): cut chunk idx to len bytes (0 removes
 * nothing, the file stays as an empty hole; a missing chunk is not created).
 * Closes the chunk's cached fd; operations still in flight on it keep their
 * fd and finish. */
int bfs_chunk_truncate(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, uint64_t len);
/* Remove the owned chunk files with index in [from, to) (to may be
 * UINT64_MAX: long ranges list the directory); missing files are not
 * errors. From the call on, every access through the store treats those
 * chunks as holes: a read sees none, a write makes a new file that the
 * removal leaves alone. Each chunk file is renamed into dir/data/trash
 * (which frees no blocks) a slice at a time, at most 1 ms per
 * bfs_chunk_store_reap() (the event loop's turn) - a chunk accessed before
 * its turn is renamed right then - and unlinked later the same way, so
 * that removing a large file never stalls other clients. cb(0 or the first
 * error, arg) runs from the loop once every rename is done: from then on a
 * crash leaves none of them in place (open empties a killed server's
 * trash). Cached fds go at once; operations already in flight on those
 * chunks finish on the old files (a write racing a remove is lost: the
 * caller orders them if it cares). Close finishes pending removals. 0 (cb
 * later) or -errno (nothing done, no cb). Until unlinked, trashed blocks
 * still count as used on the file system. */
int bfs_chunk_remove(bfs_chunk_store_t *cs, uint64_t fid, uint64_t from, uint64_t to,
                     bfs_chunk_cb cb, void *arg);
/* Every pending removal done now, their callbacks run (shutdown). */
void bfs_chunk_store_finish_removals(bfs_chunk_store_t *cs);
/* Whether chunk (fid, idx) has a chunk file here: 1, 0, or a negative
 * errno. */
int bfs_chunk_exists(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx);
/* Synchronous (promotion of a small chunk, small_chunks.h): make the chunk
 * file hold exactly these len bytes, creating it or emptying it first.
 * Returns 0 or a negative errno (-ENOSPC). */
int bfs_chunk_replace(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, const void *buf,
                      size_t len);

/* Submit queued SQEs and process completions now (also called from the
 * loop). Returns the number of callbacks run. */
int bfs_chunk_store_reap(bfs_chunk_store_t *cs);
/* Operations submitted or queued and not yet completed. */
unsigned bfs_chunk_store_inflight(const bfs_chunk_store_t *cs);
/* Flush the chunk files' file system (syncfs): shutdown, after the last
 * write completed. Returns 0 or a negative errno. */
int bfs_chunk_store_sync(bfs_chunk_store_t *cs);

#endif
