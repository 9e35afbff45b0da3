/* Unit test of server/small_chunks: small chunk values in the metadata store
 * (the contract in small_chunks.h), their ranges across many LMDB pages,
 * their place in a group-commit batch, and their survival of a restart. */
#define _GNU_SOURCE
#include "server/small_chunks.h"
#include "unit_check.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>



#define MAX 4096u
#define FID 0x0001000000000042ull

/* Bytes [off, off + n) of (fid, idx) read back equal want. */
static void expect(bfs_meta_t *m, uint64_t fid, uint64_t idx, uint64_t off, const void *want,
                   size_t n)
{
    char got[MAX * 2];
    CHECK_EQ(bfs_small_read(m, fid, idx, off, got, n), n);
    CHECK_EQ(memcmp(got, want, n), 0);
}

static void test_write_read(bfs_meta_t *m)
{
    char zeros[64] = {0}, buf[64];
    CHECK_EQ(bfs_small_write(m, FID, 0, 0, "abc", 3, MAX, 0), -ENOENT);
    CHECK_EQ(bfs_small_read(m, FID, 0, 0, buf, sizeof(buf)), -ENOENT);
    /* A value starting past 0: the gap reads as zeros. */
    CHECK_EQ(bfs_small_write(m, FID, 0, 10, "hello", 5, MAX, 1), 15);
    expect(m, FID, 0, 0, zeros, 10);
    expect(m, FID, 0, 10, "hello", 5);
    CHECK_EQ(bfs_small_read(m, FID, 0, 0, buf, sizeof(buf)), 15);
    CHECK_EQ(bfs_small_read(m, FID, 0, 15, buf, sizeof(buf)), 0);
    CHECK_EQ(bfs_small_read(m, FID, 0, 1000, buf, sizeof(buf)), 0);
    /* Overwrite inside, then extend; create = 0 finds the value. */
    CHECK_EQ(bfs_small_write(m, FID, 0, 11, "EL", 2, MAX, 0), 15);
    expect(m, FID, 0, 10, "hELlo", 5);
    CHECK_EQ(bfs_small_write(m, FID, 0, 13, "LO world", 8, MAX, 0), 21);
    expect(m, FID, 0, 10, "hELLO world", 11);
    /* Past the limit: nothing written, the caller promotes. */
    CHECK_EQ(bfs_small_write(m, FID, 0, MAX - 2, "xyz", 3, MAX, 0), -EFBIG);
    CHECK_EQ(bfs_small_write(m, FID, 0, UINT64_MAX - 1, "xyz", 3, MAX, 0), -EFBIG);
    CHECK_EQ(bfs_small_read(m, FID, 0, 0, buf, sizeof(buf)), 21);
    /* Up to the limit exactly. */
    CHECK_EQ(bfs_small_write(m, FID, 0, MAX - 3, "xyz", 3, MAX, 0), MAX);
    expect(m, FID, 0, MAX - 3, "xyz", 3);
    expect(m, FID, 0, 21, zeros, 64);
    /* Load hands back a copy of the whole value. */
    void *whole = NULL;
    CHECK_EQ(bfs_small_load(m, FID, 0, &whole), MAX);
    CHECK_EQ(whole ? memcmp((char *)whole + 10, "hELLO world", 11) : -1, 0);
    free(whole);
    CHECK_EQ(bfs_small_load(m, FID, 1, &whole), -ENOENT);
    CHECK_EQ(bfs_small_exists(m, FID, 0), 1);
    CHECK_EQ(bfs_small_exists(m, FID, 1), 0);
}

static void test_truncate(bfs_meta_t *m)
{
    char buf[64];
    CHECK_EQ(bfs_small_write(m, FID, 1, 0, "0123456789", 10, MAX, 1), 10);
    CHECK_EQ(bfs_small_truncate(m, FID, 1, 20), 0); /* longer: unchanged */
    CHECK_EQ(bfs_small_read(m, FID, 1, 0, buf, sizeof(buf)), 10);
    CHECK_EQ(bfs_small_truncate(m, FID, 1, 4), 1);
    CHECK_EQ(bfs_small_read(m, FID, 1, 0, buf, sizeof(buf)), 4);
    expect(m, FID, 1, 0, "0123", 4);
    /* Cut to nothing: the value stays, empty (not a missing chunk). */
    CHECK_EQ(bfs_small_truncate(m, FID, 1, 0), 1);
    CHECK_EQ(bfs_small_read(m, FID, 1, 0, buf, sizeof(buf)), 0);
    CHECK_EQ(bfs_small_write(m, FID, 1, 2, "ab", 2, MAX, 0), 4);
    expect(m, FID, 1, 0, "\0\0ab", 4);
    CHECK_EQ(bfs_small_truncate(m, FID, 99, 0), 0); /* missing: nothing */
}

static void test_ranges(bfs_meta_t *m)
{
    /* Enough values to fill many LMDB pages, between two neighbours that
     * must survive every removal. */
    enum { N = 3000 };
    char buf[16];
    const uint64_t f = FID + 1;
    CHECK_EQ(bfs_small_write(m, f - 1, 7, 0, "before", 6, MAX, 1), 6);
    CHECK_EQ(bfs_small_write(m, f + 1, 0, 0, "after", 5, MAX, 1), 5);
    CHECK_EQ(bfs_meta_batch_begin(m), 0);
    for (uint64_t i = 0; i < N; i++) {
        snprintf(buf, sizeof(buf), "%llu", (unsigned long long)i);
        CHECK_EQ(bfs_small_write(m, f, i, 0, buf, strlen(buf), MAX, 1), strlen(buf));
    }
    CHECK_EQ(bfs_meta_batch_commit(m), 0);
    CHECK_EQ(bfs_small_remove(m, f, 100, 2000), 1900);
    CHECK_EQ(bfs_small_read(m, f, 99, 0, buf, sizeof(buf)), 2);
    CHECK_EQ(bfs_small_read(m, f, 100, 0, buf, sizeof(buf)), -ENOENT);
    CHECK_EQ(bfs_small_read(m, f, 1999, 0, buf, sizeof(buf)), -ENOENT);
    CHECK_EQ(bfs_small_read(m, f, 2000, 0, buf, sizeof(buf)), 4);
    CHECK_EQ(bfs_small_remove(m, f, 100, 2000), 0); /* nothing left there */
    CHECK_EQ(bfs_small_remove(m, f, 5, 5), 0);
    CHECK_EQ(bfs_small_remove(m, f, 0, UINT64_MAX), N - 1900);
    CHECK_EQ(bfs_small_read(m, f, 0, 0, buf, sizeof(buf)), -ENOENT);
    CHECK_EQ(bfs_small_read(m, f, N - 1, 0, buf, sizeof(buf)), -ENOENT);
    expect(m, f - 1, 7, 0, "before", 6);
    expect(m, f + 1, 0, 0, "after", 5);
    CHECK_EQ(bfs_small_remove(m, f + 1, 1, UINT64_MAX), 0);
    expect(m, f + 1, 0, 0, "after", 5);
}

static void test_batch(bfs_meta_t *m)
{
    char buf[16];
    const uint64_t f = FID + 10;
    CHECK_EQ(bfs_meta_batch_begin(m), 0);
    CHECK_EQ(bfs_small_write(m, f, 0, 0, "one", 3, MAX, 1), 3);
    /* The batch's own writes see it; readers see committed data only. */
    CHECK_EQ(bfs_small_write(m, f, 0, 3, "two", 3, MAX, 0), 6);
    CHECK_EQ(bfs_small_read(m, f, 0, 0, buf, sizeof(buf)), -ENOENT);
    CHECK_EQ(bfs_small_exists(m, f, 0), 1);
    void *v = NULL;
    CHECK_EQ(bfs_small_load(m, f, 0, &v), 6);
    CHECK_EQ(v ? memcmp(v, "onetwo", 6) : -1, 0);
    free(v);
    CHECK_EQ(bfs_small_remove(m, f, 0, 1), 1);
    CHECK_EQ(bfs_small_exists(m, f, 0), 0);
    CHECK_EQ(bfs_small_write(m, f, 1, 0, "three", 5, MAX, 1), 5);
    CHECK_EQ(bfs_meta_batch_commit(m), 0);
    CHECK_EQ(bfs_small_read(m, f, 0, 0, buf, sizeof(buf)), -ENOENT);
    expect(m, f, 1, 0, "three", 5);
}

int main(void)
{
    char root[4096], dir[4200];
    if (unit_scratch(root, sizeof(root), "bfs-small-test") < 0)
        return 1;
    snprintf(dir, sizeof(dir), "%s/meta", root);
    bfs_meta_t *m = NULL;
    int rc = bfs_meta_open(&m, dir, 0, 1);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s\n", dir, strerror(-rc));
        unit_rm_rf(root);
        return 1;
    }
    test_write_read(m);
    test_truncate(m);
    test_ranges(m);
    test_batch(m);
    /* Everything committed is there after a restart. */
    bfs_meta_close(m);
    m = NULL;
    CHECK_EQ(bfs_meta_open(&m, dir, 0, 1), 0);
    if (m) {
        expect(m, FID, 0, 10, "hELLO world", 11);
        expect(m, FID, 1, 0, "\0\0ab", 4);
        expect(m, FID + 10, 1, 0, "three", 5);
        bfs_meta_close(m);
    }
    unit_rm_rf(root);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
