/* benchfs tool: commands about the servers (df, ping, shutdown). */
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

int cmd_df(struct tool *t, int argc, char **argv)
{
    if (tool_flag(argc, argv, 0, "benchfs df") < 0)
        return 2;
    if (tool_connect(t) < 0)
        return 1;
    struct statvfs sv;
    int rc = benchfs_statfs(t->fs, &sv);
    if (rc < 0) {
        fprintf(stderr, "benchfs df: %s\n", strerror(-rc));
        return 1;
    }
    uint64_t size = (uint64_t)sv.f_blocks * sv.f_frsize;
    uint64_t avail = (uint64_t)sv.f_bavail * sv.f_frsize;
    uint64_t used = size - (uint64_t)sv.f_bfree * sv.f_frsize;
    char a[32], b[32], d[32];
    printf("%-10s %14s %14s %14s %5s %12s %12s\n", "servers", "size", "used", "avail", "use%",
           "inodes", "ifree");
    printf("%-10u %14s %14s %14s %4.0f%% %12llu %12llu\n", benchfs_nservers(t->fs),
           human_size(size, a, sizeof(a)), human_size(used, b, sizeof(b)),
           human_size(avail, d, sizeof(d)), size ? 100.0 * (double)used / (double)size : 0.0,
           (unsigned long long)sv.f_files, (unsigned long long)sv.f_ffree);
    printf("(summed over the file systems holding the servers' directories, each counted once; "
           "chunk size %llu)\n",
           (unsigned long long)benchfs_chunk_size(t->fs));
    return 0;
}

int cmd_ping(struct tool *t, int argc, char **argv)
{
    int quiet = tool_flag(argc, argv, 'q', "benchfs ping [-q]");
    if (quiet < 0)
        return 2;
    /* A down server should not hold us for the default 30 s. */
    setenv("BENCHFS_RPC_TIMEOUT_MS", "5000", 0);
    if (tool_connect(t) < 0)
        return 1;
    unsigned n = benchfs_nservers(t->fs);
    double *lat = calloc(n, sizeof(*lat));
    if (!lat)
        return 1;
    int up = benchfs_ping(t->fs, lat);
    for (unsigned i = 0; i < n && !quiet; i++) {
        if (lat[i] < 0)
            printf("server %u: DOWN (no answer)\n", i);
        else
            printf("server %u: up, %.1f us\n", i, lat[i]);
    }
    if (!quiet || up != (int)n)
        fprintf(up == (int)n ? stdout : stderr, "%d of %u servers answered\n", up, n);
    free(lat);
    return up == (int)n ? 0 : 1;
}

int cmd_shutdown(struct tool *t, int argc, char **argv)
{
    if (argc != 1) {
        fprintf(stderr, "usage: benchfs shutdown\n");
        return 2;
    }
    setenv("BENCHFS_RPC_TIMEOUT_MS", "5000", 0);
    if (tool_connect(t) < 0)
        return 1;
    unsigned n = benchfs_nservers(t->fs);
    int rc = benchfs_shutdown_servers(t->fs);
    if (rc < 0) {
        fprintf(stderr, "benchfs shutdown: %s (some servers may still run)\n", strerror(-rc));
        return 1;
    }
    /* Rank 0 removes the registry as it exits: wait for that (bounded) so
     * that a script can rely on the servers being gone. */
    const char *reg = t->registry ? t->registry : getenv("BENCHFS_REGISTRY");
    for (int i = 0; i < 100 && access(reg, F_OK) == 0; i++)
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    printf("asked %u servers to shut down\n", n);
    return 0;
}
