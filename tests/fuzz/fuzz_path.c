/* libFuzzer target: bfs_path_check (every path a server receives) and
 * bfs_path_normalize (every path a client is given), common/path.c, with
 * their contracts checked against each other.
 * Input: [1 byte: output capacity selector][path bytes]. */
#include "common/path.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    /* Capacities: tiny ones exercise the "does not fit" paths. */
    static const size_t caps[] = {0, 1, 2, 3, 8, 64, 256, BFS_PATH_MAX, BFS_PATH_MAX + 100};
    size_t cap = caps[data[0] % (sizeof(caps) / sizeof(caps[0]))];
    const char *p = (const char *)data + 1;
    size_t len = size - 1;

    /* check: on the exact bytes, no NUL needed. */
    char *raw = malloc(len ? len : 1);
    memcpy(raw, p, len);
    int chk = bfs_path_check(raw, len);
    if (chk != 0 && chk != -EINVAL && chk != -ENAMETOOLONG)
        abort();
    if (chk == 0) {
        /* A valid path: its parent and base are consistent and valid too. */
        size_t pl = bfs_path_parent_len(raw, len);
        const char *base = bfs_path_base(raw, len);
        if (pl < 1 || pl > len || base < raw || base > raw + len)
            abort();
        if (bfs_path_check(raw, pl) != 0)
            abort();
        if (len > 1 && (size_t)(raw + len - base) > BFS_NAME_MAX)
            abort();
        if (!bfs_path_is_under(raw, len, raw, pl))
            abort();
    }

    /* normalize: on a NUL-terminated copy. */
    char *in = malloc(len + 1);
    memcpy(in, p, len);
    in[len] = '\0';
    char *out = malloc(cap ? cap : 1);
    ssize_t n = bfs_path_normalize(in, out, cap);
    if (n >= 0) {
        size_t eff = cap > BFS_PATH_MAX ? BFS_PATH_MAX : cap;
        if ((size_t)n >= eff || strlen(out) != (size_t)n)
            abort();
        /* The result is what servers accept, and normalizing is idempotent. */
        if (bfs_path_check(out, (size_t)n) != 0)
            abort();
        char *again = malloc(BFS_PATH_MAX);
        if (bfs_path_normalize(out, again, BFS_PATH_MAX) != n || memcmp(out, again, (size_t)n))
            abort();
        free(again);
    } else if (n != -EINVAL && n != -ENAMETOOLONG) {
        abort();
    }
    /* A valid path without a NUL is its own normal form. */
    if (chk == 0 && !memchr(p, '\0', len) && cap >= BFS_PATH_MAX &&
        (n != (ssize_t)len || memcmp(out, raw, len)))
        abort();
    free(out);
    free(in);
    free(raw);
    return 0;
}
