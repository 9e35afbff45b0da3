/* Small chunks: chunk data of at most a few KiB kept in the metadata store
 * (LMDB) instead of a chunk file.
 *
 * A file system full of small files (mdtest, source trees, job scripts)
 * otherwise costs one chunk file - an inode of the backing file system -
 * per file: creating it dominated the server's CPU (ext4 inode allocation),
 * and removing it is a second system call per unlink. Here such a chunk is
 * one LMDB value, written in the same group commit as the file's size.
 *
 * A chunk lives in one of two places: as a small value (key fid, index;
 * value the chunk's bytes from offset 0 up to its highest written byte) or
 * as a chunk file (chunk_store.h). A value, when there is one, is the
 * chunk; a chunk file of the same chunk is then stale (left by a failed
 * promotion) and is emptied before it is used again. fs_handlers.c decides:
 * a write to a chunk that has neither, ending within the small limit,
 * creates a value; a write that would take a value past the limit promotes
 * it to a chunk file first.
 *
 * Mutations join the metadata store's group commit (meta_store.h): their
 * callers acknowledge them only after the batch committed. Reads see
 * committed data. Callers commit a batch that deleted values (promotion,
 * truncate, unlink) before any write to those chunks' files can start, so
 * a value a write looks for is absent from the batch only when it is
 * absent, committed, too. Errors are negative errno values. */
#ifndef BFS_SMALL_CHUNKS_H
#define BFS_SMALL_CHUNKS_H

#include "meta_store.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Default limit of a small chunk, in bytes (benchfsd --small-max). */
#define BFS_SMALL_MAX_DEFAULT (16u * 1024)
/* Largest limit accepted: values above a few pages make every partial
 * update copy too much. */
#define BFS_SMALL_MAX_LIMIT (256u * 1024)

/* Write len bytes at off into the value of (fid, idx), within the open
 * batch (it sees the batch's own changes). A gap between the value's end
 * and off reads as zeros. Returns the value's new length, -ENOENT when the
 * chunk has no value and create is 0, -EFBIG when off + len > max (nothing
 * written: promote), -ENOSPC. */
ssize_t bfs_small_write(bfs_meta_t *m, uint64_t fid, uint64_t idx, uint64_t off,
                        const void *data, size_t len, size_t max, int create);
/* Whether (fid, idx) has a value as the open batch sees it: 1, 0, or a
 * negative errno. */
int bfs_small_exists(bfs_meta_t *m, uint64_t fid, uint64_t idx);
/* Copy up to len bytes from off of the committed value into buf. Returns
 * the count (0 at or past the value's end), or -ENOENT when the chunk has
 * no value (it may have a chunk file). */
ssize_t bfs_small_read(bfs_meta_t *m, uint64_t fid, uint64_t idx, uint64_t off, void *buf,
                       size_t len);
/* The value as the open batch sees it, for promotion: a copy in *buf (the
 * caller frees it). Returns its length or -ENOENT. */
ssize_t bfs_small_load(bfs_meta_t *m, uint64_t fid, uint64_t idx, void **buf);
/* Cut the value of (fid, idx) to len bytes (nothing when it is shorter or
 * missing); delete the values of chunks idx in [from, to) (to may be
 * UINT64_MAX). Return the number of values changed or deleted, >= 0. */
int bfs_small_truncate(bfs_meta_t *m, uint64_t fid, uint64_t idx, uint64_t len);
int bfs_small_remove(bfs_meta_t *m, uint64_t fid, uint64_t from, uint64_t to);

#endif
