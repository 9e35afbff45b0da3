/* Hex encoding of binary blobs (UCX worker addresses in files and on the
 * command line). */
#ifndef BFS_HEX_H
#define BFS_HEX_H

#include <stddef.h>
#include <sys/types.h>

/* Writes 2*len hex digits and a NUL into out (size >= 2*len+1). */
void bfs_hex_encode(const void *in, size_t len, char *out);
/* Decodes hex digits into out (capacity cap); returns the byte count or
 * -EINVAL on odd length or a non-hex digit, -ENOSPC when it does not fit. */
ssize_t bfs_hex_decode(const char *in, size_t inlen, void *out, size_t cap);

#endif
