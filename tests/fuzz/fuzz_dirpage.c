/* libFuzzer target: the client's parser of READDIR reply pages
 * (bfs_cl_dirpage_next, client/dirpage.c), run on data from a server.
 * Input: [1 byte: cursor length n][n bytes: the previous name][page]. */
#include "client/client_internal.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t cl = data[0];
    if (cl > size - 1)
        return 0;
    char prev[BFS_NAME_MAX + 1];
    memcpy(prev, data + 1, cl);
    prev[cl] = '\0';
    size_t len = size - 1 - cl;
    uint8_t *page = malloc(len ? len : 1);
    memcpy(page, data + 1 + cl, len);

    size_t pos = 0;
    struct benchfs_dirent ent;
    int rc;
    while ((rc = bfs_cl_dirpage_next(page, len, &pos, prev, &ent)) == 1) {
        size_t n = strlen(ent.name);
        /* A returned entry is a valid name that sorts after the last one. */
        if (n == 0 || n > BFS_NAME_MAX || strchr(ent.name, '/') || !strcmp(ent.name, ".") ||
            !strcmp(ent.name, "..") || (prev[0] && strcmp(ent.name, prev) <= 0) || pos > len)
            abort();
        memcpy(prev, ent.name, n + 1);
    }
    if (rc != 0 && rc != -EPROTO)
        abort();
    if (rc == 0 && pos != len)
        abort(); /* the end means every byte was used */
    free(page);
    return 0;
}
