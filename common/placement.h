/* Data placement: the one place that decides which server holds what. Every
 * other part of BenchFS asks here.
 *
 * - A file's or directory's metadata lives on the server chosen by a hash of
 *   its normalized absolute path; a directory's entries live with the
 *   directory (so readdir asks one server).
 * - Chunk i of a file lives on the server chosen by a hash of (file id, i),
 *   so one large file spreads over all servers, and renaming a file moves no
 *   data (chunks are keyed by the file id, not the path). */
#ifndef BFS_PLACEMENT_H
#define BFS_PLACEMENT_H

#include <stddef.h>
#include <stdint.h>

uint64_t bfs_hash64(const void *data, size_t len, uint64_t seed);

unsigned bfs_place_meta(const char *path, size_t len, unsigned nservers);
unsigned bfs_place_chunk(uint64_t fid, uint64_t idx, unsigned nservers);
/* The home of a file's inode: the server that allocated its id, whose rank
 * the id carries ((rank + 1) << 48 | counter). nservers (an id of no server
 * of this job: 0 or a rank out of range) means none. */
unsigned bfs_place_home(uint64_t fid, unsigned nservers);

#endif
