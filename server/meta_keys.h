/* LMDB keys of the metadata store's path-keyed tables: an on-disk format
 * (golden vectors: tests/meta_store_test.c "keys"; docs/DESIGN.md
 * "Metadata: keys of long paths").
 *
 * LMDB keys are at most 511 bytes, paths up to 4095 and names up to 255.
 *   record of directory P (table inodes):
 *     P itself when |P| <= 511, else '#' + SHA-256(P)           (33 bytes)
 *   entry name N of directory D (table dirents):
 *     dirpart(D) + NUL + N, where dirpart(D) is D itself when |D| <= 255,
 *     else '#' + SHA-256(D)                          (at most 255 + 1 + 255)
 * A path always starts with '/', a digest with '#': a digest key never
 * equals a verbatim one. dirpart depends on D alone, so the entries of one
 * directory stay one contiguous range (dirpart + NUL) and readdir pages
 * through them by name as before; the name part is kept readable. */
#ifndef BFS_META_KEYS_H
#define BFS_META_KEYS_H

#include <stddef.h>

#define BFS_KEY_MAX 511     /* LMDB's limit: the format must not depend on a build */
#define BFS_KEY_DIR_MAX 255 /* a longer directory is digested in entry keys */
#define BFS_KEY_DIGEST '#'
#define BFS_KEY_DIGEST_LEN 33

/* Key of the record of path (plen bytes) into out (BFS_KEY_MAX bytes):
 * its length, or -ENAMETOOLONG past 4095 bytes. */
int bfs_key_record(const char *path, size_t plen, char *out);
/* Key of entry name (nlen bytes, "" for the start of dir's range) of dir
 * into out (BFS_KEY_MAX bytes): its length; the range prefix is the first
 * bfs_key_dirent(dir, dlen, "", 0, out) bytes. -ENAMETOOLONG for a dir past
 * 4095 bytes or a name past 255. */
int bfs_key_dirent(const char *dir, size_t dlen, const char *name, size_t nlen, char *out);
/* Length of the range prefix of a directory of dlen bytes (dirpart + NUL). */
size_t bfs_key_dirent_prefix(size_t dlen);

#endif
