/* libFuzzer target: the registry file parser (common/registry.c), which
 * every client and the preload library run on a file written by a server.
 * Input: the file's bytes. */
#include "common/registry.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bfs_registry r;
    int rc = bfs_registry_parse(data, size, &r);
    if (rc == 0) {
        /* What a client goes on to use must be there. */
        if (r.nservers == 0 || r.nservers > BFS_REGISTRY_MAX_SERVERS || !r.servers ||
            r.chunk_size == 0 || r.version != BFS_REGISTRY_VERSION)
            abort();
        for (unsigned i = 0; i < r.nservers; i++) {
            if (!r.servers[i].addr || r.servers[i].len == 0)
                abort();
            /* Touch every byte: ASan checks the length is real. */
            volatile uint8_t x = 0;
            for (size_t j = 0; j < r.servers[i].len; j++)
                x ^= ((const uint8_t *)r.servers[i].addr)[j];
            (void)x;
        }
        bfs_registry_free(&r);
    } else {
        if (rc != -EBADMSG && rc != -EPROTO && rc != -ENOMEM)
            abort();
        if (r.servers || r.nservers)
            abort(); /* nothing is left allocated on failure */
    }
    return 0;
}
