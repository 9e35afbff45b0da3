/* Several threads share one benchfs_t (client/benchfs.h says every call is
 * thread safe) against a real server: each thread makes its own directory
 * and files, writes them across chunk boundaries, reads them back, stats and
 * lists them; all threads also add entries to one shared directory and write
 * disjoint ranges of one shared benchfs_file_t. Everything is verified.
 *
 * Built with -fsanitize=thread (tests/sanitizers.mk, outside libtool) and run
 * by tests/tsan_client.sh: ThreadSanitizer then reports any data race in the
 * client API and the RPC client. Also runs without TSan.
 *   BENCHFS_REGISTRY=... tests/tsan_client_test [threads] [files per thread] [dir] */
#define _GNU_SOURCE
#include "client/benchfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static benchfs_t *fs;
static benchfs_file_t *shared_file;
static int nthreads = 6, nfiles = 12;
static char top[64] = "/tsan";
static const size_t shared_slice = 150000; /* per thread in the shared file */

#define FAILT(t, ...)                                                          \
    do {                                                                       \
        fprintf(stderr, "FAIL thread %d: ", t);                                \
        fprintf(stderr, __VA_ARGS__);                                          \
        fprintf(stderr, "\n");                                                 \
        return (void *)1;                                                      \
    } while (0)

static uint8_t pattern(int t, int i, size_t off) { return (uint8_t)(t * 31 + i * 7 + off * 13 + (off >> 8)); }

static size_t file_size(int t, int i)
{
    /* 0 .. ~200 KB: across several 64 KiB chunks, unaligned. */
    return (size_t)((t * 7919 + i * 104729) % 200000);
}

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    char dir[64], path[128];
    snprintf(dir, sizeof(dir), "%s/t%d", top, t);
    int rc = benchfs_mkdir(fs, dir, 0755);
    if (rc < 0)
        FAILT(t, "mkdir %s: %s", dir, strerror(-rc));
    uint8_t *buf = malloc(200000), *back = malloc(200000);
    if (!buf || !back)
        FAILT(t, "out of memory");
    for (int i = 0; i < nfiles; i++) {
        size_t n = file_size(t, i);
        for (size_t k = 0; k < n; k++)
            buf[k] = pattern(t, i, k);
        snprintf(path, sizeof(path), "%s/f%d", dir, i);
        benchfs_file_t *f;
        if ((rc = benchfs_open(fs, path, O_CREAT | O_RDWR | O_EXCL, 0644, &f)) < 0)
            FAILT(t, "create %s: %s", path, strerror(-rc));
        /* Two writes, the second one first: a hole filled later. */
        size_t half = n / 2;
        ssize_t w = benchfs_pwrite(f, buf + half, n - half, (off_t)half);
        if (w != (ssize_t)(n - half))
            FAILT(t, "pwrite %s: %zd", path, w);
        if ((w = benchfs_pwrite(f, buf, half, 0)) != (ssize_t)half)
            FAILT(t, "pwrite %s at 0: %zd", path, w);
        memset(back, 0, n);
        ssize_t r = benchfs_pread(f, back, n + 100, 0);
        if (r != (ssize_t)n || memcmp(buf, back, n))
            FAILT(t, "pread %s: %zd of %zu bytes, %s", path, r, n,
                  r == (ssize_t)n ? "content differs" : "wrong length");
        struct stat st;
        if ((rc = benchfs_fstat(f, &st)) < 0 || st.st_size != (off_t)n)
            FAILT(t, "fstat %s: %s, size %ld of %zu", path, strerror(-rc), (long)st.st_size, n);
        benchfs_close(f);
        if ((rc = benchfs_stat(fs, path, &st)) < 0 || st.st_size != (off_t)n || !S_ISREG(st.st_mode))
            FAILT(t, "stat %s: %s", path, strerror(-rc));
        /* An entry in the directory every thread adds to. */
        snprintf(path, sizeof(path), "%s/shared/t%d-f%d", top, t, i);
        if ((rc = benchfs_open(fs, path, O_CREAT | O_WRONLY, 0600, &f)) < 0)
            FAILT(t, "create %s: %s", path, strerror(-rc));
        benchfs_close(f);
        if (i % 4 == 3) {
            snprintf(path, sizeof(path), "%s/sub%d", dir, i);
            if ((rc = benchfs_mkdir(fs, path, 0700)) < 0)
                FAILT(t, "mkdir %s: %s", path, strerror(-rc));
        }
    }
    /* Our slice of the shared file, through the one shared handle. */
    for (size_t k = 0; k < shared_slice; k++)
        buf[k] = pattern(t, 1000, k);
    off_t base = (off_t)(t * shared_slice);
    ssize_t w = benchfs_pwrite(shared_file, buf, shared_slice, base);
    if (w != (ssize_t)shared_slice)
        FAILT(t, "pwrite shared: %zd", w);
    ssize_t r = benchfs_pread(shared_file, back, shared_slice, base);
    if (r != (ssize_t)shared_slice || memcmp(buf, back, shared_slice))
        FAILT(t, "pread shared: %zd", r);

    /* List our directory: exactly our files and subdirectories, sorted. */
    benchfs_dir_t *d;
    if ((rc = benchfs_opendir(fs, dir, &d)) < 0)
        FAILT(t, "opendir %s: %s", dir, strerror(-rc));
    struct benchfs_dirent e;
    int files = 0, dirs = 0;
    char last[256] = "";
    while ((rc = benchfs_readdir(d, &e)) == 1) {
        if (strcmp(e.name, last) <= 0)
            FAILT(t, "readdir %s: %s after %s", dir, e.name, last);
        snprintf(last, sizeof(last), "%s", e.name);
        if (e.type == DT_DIR && !strncmp(e.name, "sub", 3))
            dirs++;
        else if (e.type == DT_REG && e.name[0] == 'f')
            files++;
        else
            FAILT(t, "readdir %s: unexpected %s (type %d)", dir, e.name, e.type);
    }
    benchfs_closedir(d);
    if (rc < 0 || files != nfiles || dirs != nfiles / 4)
        FAILT(t, "readdir %s: %s, %d files, %d dirs", dir, strerror(rc < 0 ? -rc : 0), files, dirs);
    free(buf);
    free(back);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        nthreads = atoi(argv[1]);
    if (argc > 2)
        nfiles = atoi(argv[2]);
    if (argc > 3)
        snprintf(top, sizeof(top), "%s", argv[3]);
    if (nthreads < 1 || nthreads > 64 || nfiles < 1) {
        fprintf(stderr, "usage: %s [threads 1..64] [files per thread] [top directory]\n", argv[0]);
        return 2;
    }
    alarm(240);
    int rc = benchfs_init(&fs, NULL);
    if (rc < 0) {
        fprintf(stderr, "benchfs_init: %s\n", strerror(-rc));
        return 1;
    }
    char shared_dir[80], common[80];
    snprintf(shared_dir, sizeof(shared_dir), "%s/shared", top);
    snprintf(common, sizeof(common), "%s/common", top);
    if ((rc = benchfs_mkdir(fs, top, 0755)) < 0 ||
        (rc = benchfs_mkdir(fs, shared_dir, 0755)) < 0 ||
        (rc = benchfs_open(fs, common, O_CREAT | O_RDWR, 0644, &shared_file)) < 0) {
        fprintf(stderr, "setup: %s\n", strerror(-rc));
        benchfs_finalize(fs); /* exiting with UCX alive races in UCX's destructors */
        return 1;
    }
    printf("# %d threads x %d files in %s on one benchfs_t, %u server(s)\n", nthreads, nfiles,
           top, benchfs_nservers(fs));
    pthread_t th[64];
    for (int t = 0; t < nthreads; t++)
        if (pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t) != 0) {
            fprintf(stderr, "pthread_create failed\n");
            exit(1);
        }
    int failures = 0;
    for (int t = 0; t < nthreads; t++) {
        void *res;
        pthread_join(th[t], &res);
        failures += res != NULL;
    }
    /* Everyone's entries in the shared directory, and the shared file. */
    benchfs_dir_t *d;
    struct benchfs_dirent e;
    int n = 0;
    if ((rc = benchfs_opendir(fs, shared_dir, &d)) == 0) {
        while ((rc = benchfs_readdir(d, &e)) == 1)
            n++;
        benchfs_closedir(d);
    }
    if (rc < 0 || n != nthreads * nfiles) {
        fprintf(stderr, "FAIL: %s lists %d of %d entries (%s)\n", shared_dir, n, nthreads * nfiles,
                rc < 0 ? strerror(-rc) : "ok");
        failures++;
    }
    struct stat st;
    if ((rc = benchfs_fstat(shared_file, &st)) < 0 || st.st_size != (off_t)(nthreads * shared_slice)) {
        fprintf(stderr, "FAIL: shared file size %ld, expected %zu\n", (long)st.st_size,
                nthreads * shared_slice);
        failures++;
    }
    uint8_t *all = malloc(nthreads * shared_slice);
    ssize_t r = benchfs_pread(shared_file, all, nthreads * shared_slice, 0);
    if (r != (ssize_t)(nthreads * shared_slice)) {
        fprintf(stderr, "FAIL: shared file read %zd\n", r);
        failures++;
    } else {
        for (int t = 0; t < nthreads; t++)
            for (size_t k = 0; k < shared_slice; k++)
                if (all[t * shared_slice + k] != pattern(t, 1000, k)) {
                    fprintf(stderr, "FAIL: shared file byte %zu of thread %d\n", k, t);
                    failures++;
                    t = nthreads;
                    break;
                }
    }
    free(all);
    benchfs_close(shared_file);
    benchfs_finalize(fs);
    printf("# %d failures\n", failures);
    return failures ? 1 : 0;
}
