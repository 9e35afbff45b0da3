/* Paths inside BenchFS: absolute, normalized ("/a/b": no ".", "..", empty
 * components or trailing slash; "/" is the root). Clients normalize; servers
 * check, and refuse anything else, so no request can name a file outside the
 * server's directory. */
#ifndef BFS_PATH_H
#define BFS_PATH_H

#include <stddef.h>
#include <sys/types.h>

#define BFS_PATH_MAX 4096  /* including the NUL, as PATH_MAX */
#define BFS_NAME_MAX 255

/* Normalize an absolute path lexically ("/a/./b//../c" -> "/a/c"; ".." at the
 * root stays at the root). Returns the length written to out (NUL
 * terminated), -EINVAL if in is not absolute, -ENAMETOOLONG if a component
 * exceeds BFS_NAME_MAX or the result does not fit in cap or BFS_PATH_MAX. */
ssize_t bfs_path_normalize(const char *in, char *out, size_t cap);

/* Validate a path received from the network (len bytes, no NUL required).
 * Returns 0 if it is normalized and absolute; -EINVAL for an embedded NUL,
 * a relative path, ".", "..", empty components or a trailing slash;
 * -ENAMETOOLONG for an overlong name or path. */
int bfs_path_check(const char *p, size_t len);

/* Length of the parent of a normalized path ("/a/b" -> 2 for "/a", "/a" -> 1
 * for "/", "/" -> 1). */
size_t bfs_path_parent_len(const char *p, size_t len);
/* The last component ("/a/b" -> "b"; "/" -> ""). */
const char *bfs_path_base(const char *p, size_t len);

/* 1 if p equals dir or lies below it ("/a/b" is under "/a", "/ab" is not). */
int bfs_path_is_under(const char *p, size_t plen, const char *dir, size_t dlen);

#endif
