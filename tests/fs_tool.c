/* A small client for test scripts:
 *   fs_tool put PATH SIZE SEED   write SIZE pattern bytes, fsync, close
 *   fs_tool check PATH SIZE SEED read back and verify (exit 1 on mismatch)
 *   fs_tool shutdown             ask every server to shut down */
#include "client/benchfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "shutdown")) {
        benchfs_t *fs;
        int rc = benchfs_init(&fs, NULL);
        if (rc == 0) {
            rc = benchfs_shutdown_servers(fs);
            benchfs_finalize(fs);
        }
        if (rc < 0)
            fprintf(stderr, "fs_tool: shutdown: %s\n", strerror(-rc));
        return rc < 0;
    }
    if (argc != 5) {
        fprintf(stderr, "usage: fs_tool put|check PATH SIZE SEED\n");
        return 2;
    }
    size_t n = strtoull(argv[3], NULL, 0);
    unsigned seed = (unsigned)atoi(argv[4]);
    unsigned char *b = malloc(n + 1), *w = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        w[i] = (unsigned char)((i * 13 + seed) % 249);
    benchfs_t *fs;
    int rc = benchfs_init(&fs, NULL);
    if (rc < 0) {
        fprintf(stderr, "fs_tool: init: %s\n", strerror(-rc));
        return 1;
    }
    benchfs_file_t *f;
    if (!strcmp(argv[1], "put")) {
        rc = benchfs_open(fs, argv[2], O_CREAT | O_TRUNC | O_WRONLY, 0644, &f);
        if (rc == 0 && benchfs_pwrite(f, w, n, 0) != (ssize_t)n)
            rc = -1;
        if (rc == 0)
            rc = benchfs_fsync(f);
        if (rc == 0)
            rc = benchfs_close(f);
    } else {
        rc = benchfs_open(fs, argv[2], O_RDONLY, 0, &f);
        if (rc == 0) {
            ssize_t got = benchfs_pread(f, b, n + 1, 0);
            if (got != (ssize_t)n || memcmp(b, w, n) != 0) {
                fprintf(stderr, "fs_tool: %s: content differs (read %zd of %zu)\n", argv[2], got, n);
                rc = -1;
            }
            benchfs_close(f);
        }
    }
    if (rc < 0 && rc != -1)
        fprintf(stderr, "fs_tool: %s %s: %s\n", argv[1], argv[2], strerror(-rc));
    benchfs_finalize(fs);
    free(b);
    free(w);
    return rc < 0 ? 1 : 0;
}
