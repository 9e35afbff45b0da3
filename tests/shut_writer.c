/* A writer for tests/fault_shutdown.sh, on the client API: what a server
 * acknowledged before it was told to shut down must still be there after
 * the restart.
 *
 *  shut_writer write ID LOG   write records to /shut.ID, one after the
 *                             other, and log the number of every record
 *                             whose write returned success (one line each,
 *                             written to the local file LOG before the next
 *                             write starts); "ready" on stdout after the
 *                             first; stops at the first failed call or after
 *                             60 s
 *  shut_writer check ID LOG   read back every logged record of /shut.ID and
 *                             compare it byte for byte
 *
 * Writer ID writes records of size[ID % 4] bytes (chunks of 64 KiB: records
 * that stay inside a small chunk in the metadata store, that fill chunk
 * files with O_DIRECT, and that cross chunk and server boundaries), each
 * with a pattern of its own (ID, record, position). Exit 0 on success, 1 on
 * a lost or wrong record, 2 on bad usage or setup. */
#include "client/benchfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const size_t sizes[4] = {3000, 65536, 20000, 300000};

static void fill(unsigned char *b, size_t len, unsigned id, uint64_t rec)
{
    uint64_t x = ((uint64_t)id << 56) ^ (rec * 0x9e3779b97f4a7c15ull);
    for (size_t i = 0; i < len; i++) {
        if (i % 8 == 0)
            x = x * 6364136223846793005ull + 1442695040888963407ull;
        b[i] = (unsigned char)(x >> (8 * (i % 8)));
    }
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int do_write(benchfs_t *fs, const char *path, unsigned id, size_t len, const char *log)
{
    FILE *lf = fopen(log, "w");
    unsigned char *b = malloc(len);
    benchfs_file_t *f = NULL;
    int rc = lf && b ? benchfs_open(fs, path, O_CREAT | O_RDWR | O_TRUNC, 0644, &f) : -ENOMEM;
    if (rc < 0) {
        fprintf(stderr, "shut_writer %u: open %s: %s\n", id, path, strerror(-rc));
        free(b);
        if (lf)
            fclose(lf);
        return 2;
    }
    double end = now_s() + 60;
    uint64_t rec;
    for (rec = 0; now_s() < end; rec++) {
        fill(b, len, id, rec);
        ssize_t n = benchfs_pwrite(f, b, len, (off_t)(rec * len));
        if (n != (ssize_t)len)
            break; /* the servers are going: what was logged must stay */
        fprintf(lf, "%llu\n", (unsigned long long)rec);
        fflush(lf);
        if (rec == 0) {
            printf("ready\n");
            fflush(stdout);
        }
    }
    fprintf(stderr, "shut_writer %u: %llu records acknowledged\n", id, (unsigned long long)rec);
    fclose(lf);
    free(b);
    /* No close and no finalize: the servers are gone. */
    _exit(0);
}

static int do_check(benchfs_t *fs, const char *path, unsigned id, size_t len, const char *log)
{
    FILE *lf = fopen(log, "r");
    unsigned char *want = malloc(len), *got = malloc(len);
    benchfs_file_t *f = NULL;
    int rc = lf && want && got ? benchfs_open(fs, path, O_RDONLY, 0, &f) : -ENOMEM;
    if (rc < 0) {
        fprintf(stderr, "shut_writer %u: open %s: %s\n", id, path, strerror(-rc));
        rc = 1;
        goto out;
    }
    unsigned long long rec;
    unsigned checked = 0, bad = 0;
    while (fscanf(lf, "%llu", &rec) == 1) {
        fill(want, len, id, rec);
        ssize_t n = benchfs_pread(f, got, len, (off_t)(rec * len));
        if (n != (ssize_t)len || memcmp(want, got, len) != 0) {
            if (bad++ < 5)
                fprintf(stderr, "shut_writer %u: acknowledged record %llu lost: %s\n", id, rec,
                        n < 0 ? strerror((int)-n) : n != (ssize_t)len ? "short read" : "wrong bytes");
        }
        checked++;
    }
    printf("writer %u: %u acknowledged records, %u lost\n", id, checked, bad);
    rc = bad ? 1 : 0;
    benchfs_close(f);
out:
    if (lf)
        fclose(lf);
    free(want);
    free(got);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "write") && strcmp(argv[1], "check"))) {
        fprintf(stderr, "usage: shut_writer write|check ID LOG\n");
        return 2;
    }
    unsigned id = (unsigned)atoi(argv[2]);
    size_t len = sizes[id % 4];
    char path[64];
    snprintf(path, sizeof(path), "/shut.%u", id);
    benchfs_t *fs;
    int rc = benchfs_init(&fs, NULL);
    if (rc < 0) {
        fprintf(stderr, "shut_writer: init: %s\n", strerror(-rc));
        return 2;
    }
    if (!strcmp(argv[1], "write"))
        return do_write(fs, path, id, len, argv[3]);
    rc = do_check(fs, path, id, len, argv[3]);
    benchfs_finalize(fs);
    return rc;
}
