/* Keys of long paths: see meta_keys.h (an on-disk format). */
#include "meta_keys.h"
#include "../common/path.h"
#include "sha256.h"

#include <errno.h>
#include <string.h>

_Static_assert(BFS_KEY_DIR_MAX + 1 + BFS_NAME_MAX <= BFS_KEY_MAX, "an entry key fits LMDB");
_Static_assert(BFS_KEY_DIGEST_LEN == 1 + BFS_SHA256_LEN, "digest key layout");

static size_t digest(const char *path, size_t len, char *out)
{
    out[0] = BFS_KEY_DIGEST;
    bfs_sha256(path, len, (unsigned char *)out + 1);
    return BFS_KEY_DIGEST_LEN;
}

int bfs_key_record(const char *path, size_t plen, char *out)
{
    if (plen >= BFS_PATH_MAX)
        return -ENAMETOOLONG;
    if (plen <= BFS_KEY_MAX) {
        memcpy(out, path, plen);
        return (int)plen;
    }
    return (int)digest(path, plen, out);
}

int bfs_key_dirent(const char *dir, size_t dlen, const char *name, size_t nlen, char *out)
{
    if (dlen >= BFS_PATH_MAX || nlen > BFS_NAME_MAX)
        return -ENAMETOOLONG;
    size_t n;
    if (dlen <= BFS_KEY_DIR_MAX) {
        memcpy(out, dir, dlen);
        n = dlen;
    } else {
        n = digest(dir, dlen, out);
    }
    out[n++] = '\0';
    memcpy(out + n, name, nlen);
    return (int)(n + nlen);
}

size_t bfs_key_dirent_prefix(size_t dlen)
{
    return (dlen <= BFS_KEY_DIR_MAX ? dlen : BFS_KEY_DIGEST_LEN) + 1;
}
