/* What the FUSE path costs against the client API (docs/DESIGN.md, "The
 * FUSE mount"): the same work through POSIX calls on a directory (the FUSE
 * mount) or through benchfs.h directly.
 *   fuse_cost posix DIR [MIB] [FILES]   (DIR: a benchfs-fuse mount)
 *   fuse_cost api [MIB] [FILES]         ($BENCHFS_REGISTRY)
 * Sequential 1 MiB writes of MIB MiB (+ fsync) and reads back; FILES empty
 * files created, then stat'ed, then removed. One line per phase. */
#include "client/benchfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static benchfs_t *fs;
static const char *dir;

static int xopen(const char *p, int fl, void **h)
{
    if (!dir)
        return benchfs_open(fs, p, fl, 0644, (benchfs_file_t **)h);
    char full[4096];
    snprintf(full, sizeof(full), "%s%s", dir, p);
    int fd = open(full, fl, 0644);
    *h = (void *)(intptr_t)fd;
    return fd < 0 ? -1 : 0;
}
static ssize_t xrw(void *h, char *b, size_t n, off_t o, int wr)
{
    if (!dir)
        return wr ? benchfs_pwrite(h, b, n, o) : benchfs_pread(h, b, n, o);
    int fd = (int)(intptr_t)h;
    return wr ? pwrite(fd, b, n, o) : pread(fd, b, n, o);
}
static void xsync(void *h) { dir ? (void)fsync((int)(intptr_t)h) : (void)benchfs_fsync(h); }
static void xclose(void *h) { dir ? (void)close((int)(intptr_t)h) : (void)benchfs_close(h); }
static int xstat(const char *p, struct stat *st)
{
    if (!dir)
        return benchfs_stat(fs, p, st);
    char full[4096];
    snprintf(full, sizeof(full), "%s%s", dir, p);
    return stat(full, st);
}
static int xunlink(const char *p)
{
    if (!dir)
        return benchfs_unlink(fs, p);
    char full[4096];
    snprintf(full, sizeof(full), "%s%s", dir, p);
    return unlink(full);
}
static int xmkdir(const char *p)
{
    if (!dir)
        return benchfs_mkdir(fs, p, 0755);
    char full[4096];
    snprintf(full, sizeof(full), "%s%s", dir, p);
    return mkdir(full, 0755);
}

int main(int argc, char **argv)
{
    int a = 2;
    if (argc < 2 || (strcmp(argv[1], "api") && (strcmp(argv[1], "posix") || argc < 3))) {
        fprintf(stderr, "usage: fuse_cost posix DIR [MIB] [FILES] | api [MIB] [FILES]\n");
        return 2;
    }
    if (!strcmp(argv[1], "posix"))
        dir = argv[a++];
    else if (benchfs_init(&fs, NULL) < 0)
        return 1;
    size_t mib = argc > a ? strtoul(argv[a], NULL, 0) : 512;
    int files = argc > a + 1 ? atoi(argv[a + 1]) : 3000;
    const char *how = dir ? "fuse" : "api";
    char *buf = aligned_alloc(4096, 1 << 20);
    memset(buf, 'x', 1 << 20);
    void *h;
    if (xopen("/cost.big", O_CREAT | O_TRUNC | O_RDWR, &h) < 0)
        return perror("open"), 1;
    double t0 = now();
    for (size_t i = 0; i < mib; i++)
        if (xrw(h, buf, 1 << 20, (off_t)i << 20, 1) != 1 << 20)
            return fprintf(stderr, "write failed\n"), 1;
    xsync(h);
    double t1 = now();
    for (size_t i = 0; i < mib; i++)
        if (xrw(h, buf, 1 << 20, (off_t)i << 20, 0) != 1 << 20)
            return fprintf(stderr, "read failed\n"), 1;
    double t2 = now();
    xclose(h);
    xunlink("/cost.big");
    printf("%s write %zu MiB: %.0f MiB/s\n", how, mib, (double)mib / (t1 - t0));
    printf("%s read  %zu MiB: %.0f MiB/s\n", how, mib, (double)mib / (t2 - t1));
    xmkdir("/cost.d");
    char p[64];
    struct stat st;
    t0 = now();
    for (int i = 0; i < files; i++) {
        snprintf(p, sizeof(p), "/cost.d/f%d", i);
        if (xopen(p, O_CREAT | O_WRONLY, &h) < 0)
            return fprintf(stderr, "create %s failed\n", p), 1;
        xclose(h);
    }
    t1 = now();
    for (int i = 0; i < files; i++) {
        snprintf(p, sizeof(p), "/cost.d/f%d", i);
        if (xstat(p, &st) != 0)
            return fprintf(stderr, "stat %s failed\n", p), 1;
    }
    t2 = now();
    for (int i = 0; i < files; i++) {
        snprintf(p, sizeof(p), "/cost.d/f%d", i);
        xunlink(p);
    }
    double t3 = now();
    printf("%s create %d files: %.0f/s\n", how, files, files / (t1 - t0));
    printf("%s stat   %d files: %.0f/s\n", how, files, files / (t2 - t1));
    printf("%s unlink %d files: %.0f/s\n", how, files, files / (t3 - t2));
    if (fs)
        benchfs_finalize(fs);
    free(buf);
    return 0;
}
