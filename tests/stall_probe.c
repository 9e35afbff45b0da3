/* One client never stalls the others (tests/fault_stall.sh): while client A
 * does a heavy operation, client B (another benchfs_t, its own UCX worker,
 * in another thread) stats a file in a loop; B's stat latencies during A's
 * operation are collected and their p99 and maximum printed per case:
 *
 *  fsync     fsync of a file of STALL_FSYNC_MB (64) MiB written unaligned
 *            (buffered on the server: the fsync has work to do)
 *  unlink    unlink of a 4 GiB file of 1,000 chunks (STALL_CHUNK_KB per
 *            4 MiB chunk written, default: one byte, a sparse file), until
 *            the server has freed its chunks (its reaper, after the reply)
 *  truncate  truncate to 0 of another such file
 *  freeing   the second after both: the servers unlink the chunk files
 *            (their blocks freed) from the trash
 *  readdir   a full listing of a directory of STALL_ENTRIES (100,000)
 *            entries
 *
 *  stall_probe BOUND_MS   exit 1 when a case's p99 exceeds BOUND_MS (a
 *                         correctness bound, not a benchmark: generous)
 * Chunks of 4 MiB expected (the servers' --chunk-size). */
#include "client/benchfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES 200000

static benchfs_t *fa, *fb;
static atomic_int active, quit;
static double *lat;
static atomic_int nlat;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *prober(void *arg)
{
    (void)arg;
    while (!atomic_load(&quit)) {
        int was = atomic_load(&active);
        double t0 = now_ms();
        struct stat st;
        int rc = benchfs_stat(fb, "/probe", &st);
        double el = now_ms() - t0;
        if (rc < 0) {
            fprintf(stderr, "stall_probe: stat: %s\n", strerror(-rc));
            exit(1);
        }
        if ((was || atomic_load(&active)) && atomic_load(&nlat) < MAX_SAMPLES)
            lat[atomic_fetch_add(&nlat, 1)] = el;
    }
    return NULL;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int check(const char *what, double op_ms, double bound)
{
    int n = atomic_load(&nlat);
    if (n == 0) {
        printf("%-9s op %.0f ms: no stat completed during it (p99 >= %.0f ms)\n", what, op_ms,
               op_ms);
        return op_ms > bound;
    }
    qsort(lat, (size_t)n, sizeof(*lat), cmp);
    /* The sample at or above 99 % of them (the maximum for fewer than 100). */
    size_t i99 = (size_t)((99 * (size_t)n + 99) / 100) - 1;
    double p99 = lat[i99 < (size_t)n ? i99 : (size_t)n - 1], mx = lat[n - 1];
    printf("%-9s op %.0f ms: %d stats, p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", what, op_ms, n,
           lat[n / 2], p99, mx);
    return p99 > bound;
}

static void begin(void)
{
    atomic_store(&nlat, 0);
    atomic_store(&active, 1);
}

static double end(double t0)
{
    atomic_store(&active, 0);
    return now_ms() - t0;
}

static benchfs_file_t *sparse(const char *path, uint64_t cs)
{
    benchfs_file_t *f;
    if (benchfs_open(fa, path, O_CREAT | O_RDWR | O_TRUNC, 0644, &f) < 0)
        return NULL;
    /* STALL_CHUNK_KB: bytes per chunk instead of one (by hand: full
     * chunks make the 4 GiB real) */
    const char *e = getenv("STALL_CHUNK_KB");
    size_t n = e ? (size_t)atoi(e) << 10 : 1;
    if (n == 0)
        n = 1; /* 0: one byte per chunk, a sparse file */
    char *b = calloc(1, n);
    for (uint64_t i = 0; b && i < 1000; i++)
        if (benchfs_pwrite(f, b, n, (off_t)(i * cs)) != (ssize_t)n) {
            free(b);
            return NULL;
        }
    free(b);
    return f;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: stall_probe BOUND_MS\n");
        return 2;
    }
    double bound = atof(argv[1]);
    lat = malloc(sizeof(*lat) * MAX_SAMPLES);
    if (!lat || benchfs_init(&fa, NULL) < 0 || benchfs_init(&fb, NULL) < 0) {
        fprintf(stderr, "stall_probe: init failed\n");
        return 2;
    }
    uint64_t cs = benchfs_chunk_size(fa);
    benchfs_file_t *f;
    if (benchfs_open(fa, "/probe", O_CREAT | O_RDWR, 0644, &f) < 0)
        return 2;
    benchfs_close(f);
    pthread_t th;
    pthread_create(&th, NULL, prober, NULL);
    int bad = 0;

    /* fsync */
    const char *e = getenv("STALL_FSYNC_MB");
    size_t mb = e ? (size_t)atoi(e) : 64, piece = (1u << 20) - 1;
    char *buf = malloc(piece);
    memset(buf, 'f', piece);
    if (benchfs_open(fa, "/big", O_CREAT | O_RDWR | O_TRUNC, 0644, &f) < 0)
        return 2;
    for (size_t i = 0; i < mb; i++)
        if (benchfs_pwrite(f, buf, piece, (off_t)(i * piece + 1)) != (ssize_t)piece)
            return 2;
    double t0 = now_ms();
    begin();
    int rc = benchfs_fsync(f);
    bad |= check("fsync", end(t0), bound) || rc < 0;
    benchfs_close(f);
    free(buf);

    /* unlink and truncate of 1,000-chunk sparse files */
    benchfs_file_t *u = sparse("/sparse-u", cs), *t = sparse("/sparse-t", cs);
    if (!u || !t) {
        fprintf(stderr, "stall_probe: sparse files\n");
        return 2;
    }
    benchfs_close(u);
    t0 = now_ms();
    begin();
    rc = benchfs_unlink(fa, "/sparse-u");
    /* The server frees the chunks after the reply (its reaper): the window
     * lasts until it says nothing is left to free (10 s at most). */
    for (unsigned reaping = 1, open = 0; rc == 0 && reaping && now_ms() - t0 < 10000;) {
        if (benchfs_server_reclaim(fa, 0, &reaping, &open) < 0)
            break;
        if (reaping)
            usleep(1000);
    }
    bad |= check("unlink", end(t0), bound) || rc < 0;
    t0 = now_ms();
    begin();
    rc = benchfs_ftruncate(t, 0);
    bad |= check("truncate", end(t0), bound) || rc < 0;
    /* Both files' chunk files are unlinked from the trash after that (the
     * blocks freed a slice per loop turn): one more second of stats. */
    t0 = now_ms();
    begin();
    usleep(1000000);
    bad |= check("freeing", end(t0), bound);
    benchfs_close(t);
    benchfs_unlink(fa, "/sparse-t");

    /* readdir */
    e = getenv("STALL_ENTRIES");
    int entries = e ? atoi(e) : 100000;
    benchfs_mkdir(fa, "/d", 0755);
    char path[64];
    for (int i = 0; i < entries; i++) {
        snprintf(path, sizeof(path), "/d/%d", i);
        if (benchfs_mkdir(fa, path, 0755) < 0 && errno != EEXIST)
            return 2;
    }
    benchfs_dir_t *d;
    struct benchfs_dirent ent;
    int seen = 0;
    t0 = now_ms();
    begin();
    if (benchfs_opendir(fa, "/d", &d) == 0) {
        while (benchfs_readdir(d, &ent) > 0)
            seen++;
        benchfs_closedir(d);
    }
    bad |= check("readdir", end(t0), bound);
    printf("readdir   %d entries listed\n", seen);
    if (seen < entries) {
        fprintf(stderr, "stall_probe: readdir saw %d of %d entries\n", seen, entries);
        bad = 1;
    }
    atomic_store(&quit, 1);
    pthread_join(th, NULL);
    benchfs_finalize(fb);
    benchfs_finalize(fa);
    free(lat);
    return bad;
}
