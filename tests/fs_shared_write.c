/* 8 processes write one shared file: disjoint ranges (each verified), and
 * overlapping ranges (every byte comes from one of the writers, the size is
 * the largest end written). Against running servers ($BENCHFS_REGISTRY). */
#include "client/benchfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPROC 8

static int child(int i, size_t region)
{
    benchfs_t *fs;
    if (benchfs_init(&fs, NULL) < 0)
        return 1;
    benchfs_file_t *f, *g;
    if (benchfs_open(fs, "/shared", O_CREAT | O_RDWR, 0644, &f) < 0 ||
        benchfs_open(fs, "/overlap", O_CREAT | O_RDWR, 0644, &g) < 0)
        return 2;
    unsigned char *b = malloc(region);
    for (size_t k = 0; k < region; k++)
        b[k] = (unsigned char)(i * 31 + k % 251);
    /* Unaligned pieces, written back to front to stress the size logic. */
    size_t piece = region / 4 + 17;
    for (size_t end = region; end > 0;) {
        size_t start = end > piece ? end - piece : 0;
        ssize_t w_ = benchfs_pwrite(f, b + start, end - start, (off_t)(i * region + start));
        if (w_ != (ssize_t)(end - start)) {
            fprintf(stderr, "writer %d: pwrite %zu at %zu: %zd (%s)\n", i, end - start, i * region + start, w_, strerror((int)-w_));
            return 3;
        }
        end = start;
    }
    memset(b, i + 1, region);
    for (size_t off = (size_t)i * 1000; off < 2 * region; off += region / 2)
        if (benchfs_pwrite(g, b, region / 2, (off_t)off) != (ssize_t)(region / 2))
            return 4;
    benchfs_close(f);
    benchfs_close(g);
    benchfs_finalize(fs);
    free(b);
    return 0;
}

int main(void)
{
    alarm(120);
    benchfs_t *fs;
    if (benchfs_init(&fs, NULL) < 0) {
        fprintf(stderr, "benchfs_init failed\n");
        return 1;
    }
    size_t region = (size_t)benchfs_chunk_size(fs) * 2 + 4097;
    pid_t pids[NPROC];
    for (int i = 0; i < NPROC; i++) {
        pids[i] = fork();
        if (pids[i] == 0)
            _exit(child(i, region));
    }
    int failures = 0;
    for (int i = 0; i < NPROC; i++) {
        int st;
        waitpid(pids[i], &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            fprintf(stderr, "FAIL: writer %d exited with %d\n", i, st);
            failures++;
        }
    }
    benchfs_file_t *f;
    struct stat st;
    unsigned char *b = malloc(NPROC * region);
    if (benchfs_open(fs, "/shared", O_RDONLY, 0, &f) < 0 || benchfs_fstat(f, &st) < 0) {
        fprintf(stderr, "FAIL: cannot open /shared\n");
        return 1;
    }
    if ((size_t)st.st_size != NPROC * region) {
        fprintf(stderr, "FAIL: shared size %ld, want %zu\n", (long)st.st_size, NPROC * region);
        failures++;
    }
    if (benchfs_pread(f, b, NPROC * region, 0) != (ssize_t)(NPROC * region)) {
        fprintf(stderr, "FAIL: short read of /shared\n");
        failures++;
    }
    for (int i = 0; i < NPROC; i++)
        for (size_t k = 0; k < region; k++)
            if (b[(size_t)i * region + k] != (unsigned char)(i * 31 + k % 251)) {
                fprintf(stderr, "FAIL: /shared byte %zu of writer %d\n", k, i);
                failures++;
                break;
            }
    benchfs_close(f);
    if (benchfs_open(fs, "/overlap", O_RDONLY, 0, &f) < 0 || benchfs_fstat(f, &st) < 0) {
        fprintf(stderr, "FAIL: cannot open /overlap\n");
        return 1;
    }
    /* The largest end any writer wrote. */
    size_t want = 0;
    for (int i = 0; i < NPROC; i++) {
        size_t last = 0;
        for (size_t off = (size_t)i * 1000; off < 2 * region; off += region / 2)
            last = off + region / 2;
        if (last > want)
            want = last;
    }
    if ((size_t)st.st_size != want) {
        fprintf(stderr, "FAIL: overlap size %ld, want %zu\n", (long)st.st_size, want);
        failures++;
    }
    ssize_t got = benchfs_pread(f, b, want, 0);
    if (got != (ssize_t)want) {
        fprintf(stderr, "FAIL: overlap read %zd\n", got);
        failures++;
    }
    for (size_t k = 0; k < want && got == (ssize_t)want; k++)
        if (b[k] < 1 || b[k] > NPROC) {
            fprintf(stderr, "FAIL: overlap byte %zu is %u, not from any writer\n", k, b[k]);
            failures++;
            break;
        }
    benchfs_close(f);
    benchfs_unlink(fs, "/shared");
    benchfs_unlink(fs, "/overlap");
    benchfs_finalize(fs);
    free(b);
    printf("fs_shared_write: %d failures\n", failures);
    return failures ? 1 : 0;
}
