/* Unit test of server/meta_store: the contract in meta_store.h, survival of a
 * restart (close + reopen), and a throughput measurement that is printed
 * but not asserted (BFS_META_BENCH_N entries, default 100000; 0 skips it). */
#define _GNU_SOURCE
#include "server/meta_store.h"
#include "server/meta_keys.h"
#include "server/meta_reap.h"
#include "common/path.h"
#include "unit_check.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* A file system without fallocate (NFS, some FUSE ones), for the second
 * pass: this definition takes the place of libc's for the store, which is
 * linked into this program. */
static int g_no_fallocate;
int fallocate(int fd, int mode, off_t off, off_t len)
{
    if (g_no_fallocate) {
        errno = EOPNOTSUPP;
        return -1;
    }
    return (int)syscall(SYS_fallocate, fd, mode, off, len);
}



#define RANK 5u
#define FID_PREFIX ((uint64_t)(RANK + 1) << 48)

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bfs_meta_t *reopen(bfs_meta_t *m, const char *dir)
{
    bfs_meta_close(m);
    bfs_meta_t *n = NULL;
    int rc = bfs_meta_open(&n, dir, RANK, 1);
    if (rc < 0) {
        fprintf(stderr, "reopen %s: %s\n", dir, strerror(-rc));
        exit(1); /* nothing after this can run */
    }
    return n;
}

static void test_create_get(bfs_meta_t *m)
{
    struct bfs_inode a, b;
    CHECK_EQ(bfs_meta_get(m, "/", &a), 0);
    CHECK_EQ(a.mode, S_IFDIR | 0755);

    CHECK_EQ(bfs_meta_create(m, "/f", S_IFREG | 0644, 10, 20, 1000, &a), 0);
    CHECK_EQ(a.fid >> 48, RANK + 1);
    CHECK_EQ(a.mode, S_IFREG | 0644);
    CHECK_EQ(a.uid, 10);
    CHECK_EQ(a.gid, 20);
    CHECK_EQ(a.size, 0);
    CHECK_EQ(a.nlink, 1);
    CHECK(a.atime_ns == 1000 && a.mtime_ns == 1000 && a.ctime_ns == 1000);
    CHECK_EQ(bfs_meta_get(m, "/f", &b), 0);
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);

    memset(&b, 0, sizeof(b));
    CHECK_EQ(bfs_meta_create(m, "/f", S_IFDIR | 0755, 0, 0, 2000, &b), -EEXIST);
    CHECK(memcmp(&a, &b, sizeof(a)) == 0);

    CHECK_EQ(bfs_meta_create(m, "/d", S_IFDIR | 0700, 0, 0, 1000, &b), 0);
    CHECK_EQ(b.mode, S_IFDIR | 0700);
    CHECK(b.fid != a.fid);
    CHECK_EQ(bfs_meta_create(m, "/l", S_IFLNK | 0777, 0, 0, 1000, &b), -EINVAL);
    CHECK_EQ(bfs_meta_get(m, "/nope", &b), -ENOENT);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Fids stay unique across restarts, which skip the unused reservation. */
static bfs_meta_t *test_fids(bfs_meta_t *m, const char *dir)
{
    enum { N = 300, ROUNDS = 3 };
    static uint64_t fids[N * ROUNDS];
    char path[64];
    size_t n = 0;
    for (int r = 0; r < ROUNDS; r++) {
        for (int i = 0; i < N; i++) {
            struct bfs_inode ino;
            snprintf(path, sizeof(path), "/fid%d_%d", r, i);
            CHECK_EQ(bfs_meta_create(m, path, S_IFREG | 0644, 0, 0, 1, &ino), 0);
            CHECK_EQ(ino.fid & ~((1ull << 48) - 1), FID_PREFIX);
            fids[n++] = ino.fid;
        }
        m = reopen(m, dir);
    }
    qsort(fids, n, sizeof(fids[0]), cmp_u64);
    for (size_t i = 1; i < n; i++)
        CHECK(fids[i] != fids[i - 1]);
    /* Just reopened: the next create must reserve ids anew. An existing
     * name at that moment wrote nothing: the batch stays good. */
    struct bfs_inode ino;
    CHECK_EQ(bfs_meta_batch_begin(m), 0);
    CHECK_EQ(bfs_meta_create(m, "/fid0_0", S_IFREG | 0644, 0, 0, 1, &ino), -EEXIST);
    CHECK_EQ(bfs_meta_create(m, "/fid-after", S_IFREG | 0644, 0, 0, 1, &ino), 0);
    CHECK_EQ(bfs_meta_batch_commit(m), 0);
    CHECK_EQ(bfs_meta_get(m, "/fid-after", &ino), 0);
    CHECK_EQ(bfs_meta_remove(m, "/fid-after", 0, &ino), 0);
    return m;
}

static void test_sizes_modes(bfs_meta_t *m)
{
    struct bfs_inode ino, before;
    CHECK_EQ(bfs_meta_create(m, "/s", S_IFREG | 0644, 0, 0, 1000, &ino), 0);

    CHECK_EQ(bfs_meta_grow(m, "/s", 100, 2000, &ino), 0);
    CHECK_EQ(ino.size, 100);
    CHECK(ino.mtime_ns == 2000 && ino.ctime_ns == 2000 && ino.atime_ns == 1000);
    CHECK_EQ(bfs_meta_grow(m, "/s", 50, 3000, &ino), 0);
    CHECK_EQ(ino.size, 100);
    CHECK_EQ(ino.mtime_ns, 2000); /* no growth, no time change */
    CHECK_EQ(bfs_meta_grow(m, "/s", 50, 3000, NULL), 0);
    CHECK_EQ(bfs_meta_get(m, "/s", &ino), 0);
    CHECK_EQ(ino.size, 100);
    CHECK_EQ(bfs_meta_grow(m, "/d", 50, 3000, NULL), -EISDIR);
    CHECK_EQ(bfs_meta_grow(m, "/nope", 50, 3000, NULL), -ENOENT);

    /* O_APPEND: each call gets the old size and moves it on. */
    CHECK_EQ(bfs_meta_append(m, "/s", 10, 3500, &before), 0);
    CHECK_EQ(before.size, 100);
    CHECK_EQ(bfs_meta_append(m, "/s", 5, 3600, &before), 0);
    CHECK_EQ(before.size, 110);
    CHECK_EQ(bfs_meta_get(m, "/s", &ino), 0);
    CHECK(ino.size == 115 && ino.mtime_ns == 3600 && ino.ctime_ns == 3600);
    CHECK_EQ(bfs_meta_append(m, "/s", 0, 3700, &before), 0);
    CHECK(before.size == 115 && before.mtime_ns == 3600); /* nothing reserved, nothing changed */
    CHECK_EQ(bfs_meta_append(m, "/s", UINT64_MAX - 10, 3700, &before), -EFBIG);
    CHECK_EQ(bfs_meta_append(m, "/d", 5, 3700, &before), -EISDIR);
    CHECK_EQ(bfs_meta_append(m, "/nope", 5, 3700, &before), -ENOENT);
    CHECK_EQ(bfs_meta_set_size(m, "/s", 100, 3800, &before), 0);
    CHECK_EQ(before.size, 115);

    CHECK_EQ(bfs_meta_set_size(m, "/s", 10, 4000, &before), 0);
    CHECK_EQ(before.size, 100);
    CHECK_EQ(before.mtime_ns, 3800);
    CHECK_EQ(bfs_meta_get(m, "/s", &ino), 0);
    CHECK_EQ(ino.size, 10);
    CHECK(ino.mtime_ns == 4000 && ino.ctime_ns == 4000);
    CHECK_EQ(bfs_meta_set_size(m, "/s", 1 << 20, 4500, &before), 0);
    CHECK_EQ(before.size, 10);
    CHECK_EQ(bfs_meta_set_size(m, "/d", 0, 4000, &before), -EISDIR);
    CHECK_EQ(bfs_meta_set_size(m, "/nope", 0, 4000, &before), -ENOENT);

    /* Type bits given to chmod are ignored. */
    CHECK_EQ(bfs_meta_chmod(m, "/s", S_IFDIR | 04600, 5000), 0);
    CHECK_EQ(bfs_meta_get(m, "/s", &ino), 0);
    CHECK_EQ(ino.mode, S_IFREG | 04600);
    CHECK_EQ(ino.ctime_ns, 5000);
    CHECK_EQ(bfs_meta_chmod(m, "/d", 0711, 5000), 0);
    CHECK_EQ(bfs_meta_get(m, "/d", &ino), 0);
    CHECK_EQ(ino.mode, S_IFDIR | 0711);
    CHECK_EQ(bfs_meta_chmod(m, "/nope", 0711, 5000), -ENOENT);

    CHECK_EQ(bfs_meta_utimens(m, "/s", -1, 7000, 6000), 0);
    CHECK_EQ(bfs_meta_get(m, "/s", &ino), 0);
    CHECK(ino.atime_ns == 1000 && ino.mtime_ns == 7000 && ino.ctime_ns == 6000);
    CHECK_EQ(bfs_meta_utimens(m, "/s", 8000, -1, 6500), 0);
    CHECK_EQ(bfs_meta_get(m, "/s", &ino), 0);
    CHECK(ino.atime_ns == 8000 && ino.mtime_ns == 7000 && ino.ctime_ns == 6500);
    CHECK_EQ(bfs_meta_utimens(m, "/nope", 1, 1, 1), -ENOENT);
}

/* Group commit: mutations join one batch, one that fails before writing
 * (EEXIST, ENOENT) leaves the batch intact, nothing is visible to readers
 * before the commit, everything after. */
static void test_batch(bfs_meta_t *m)
{
    struct bfs_inode a, b, got;
    CHECK(bfs_meta_batch_size(m) == 0);
    CHECK(bfs_meta_batch_begin(m) == 0);
    CHECK(bfs_meta_create(m, "/batch1", S_IFREG | 0644, 1, 2, 100, &a) == 0);
    CHECK(bfs_meta_create(m, "/batch2", S_IFREG | 0644, 1, 2, 100, &b) == 0);
    CHECK(bfs_meta_create(m, "/batch1", S_IFREG | 0644, 1, 2, 100, &got) == -EEXIST);
    CHECK(bfs_meta_grow(m, "/batch1", 4096, 200, NULL) == 0);
    CHECK(bfs_meta_grow(m, "/batch-missing", 4096, 200, NULL) == -ENOENT);
    /* A missing entry, or one under a missing directory, wrote nothing:
     * the batch stays good. */
    CHECK_EQ(bfs_meta_dirent_del(m, "/", "batch-missing"), -ENOENT);
    CHECK_EQ(bfs_meta_dirent_del(m, "/no-such-dir", "x"), -ENOENT);
    CHECK_EQ(bfs_meta_dirent_del(m, "/batch1", "x"), -ENOTDIR);
    CHECK(bfs_meta_batch_size(m) == 8);
    CHECK(bfs_meta_get(m, "/batch1", &got) == -ENOENT); /* not committed yet */
    CHECK(bfs_meta_batch_commit(m) == 0);
    CHECK(bfs_meta_batch_size(m) == 0);
    CHECK(bfs_meta_get(m, "/batch1", &got) == 0 && got.size == 4096 && got.fid == a.fid);
    CHECK(bfs_meta_get(m, "/batch2", &got) == 0 && got.fid == b.fid);
    CHECK(bfs_meta_batch_commit(m) == 0); /* nothing open: a no-op */
    CHECK(bfs_meta_remove(m, "/batch1", 0, &got) == 0);
    CHECK(bfs_meta_remove(m, "/batch2", 0, &got) == 0);
}

static void test_remove(bfs_meta_t *m)
{
    struct bfs_inode ino, got;
    CHECK_EQ(bfs_meta_create(m, "/rf", S_IFREG | 0644, 0, 0, 1, &ino), 0);
    CHECK_EQ(bfs_meta_create(m, "/rd", S_IFDIR | 0755, 0, 0, 1, &ino), 0);

    CHECK_EQ(bfs_meta_remove(m, "/rf", 1, &got), -ENOTDIR);
    CHECK_EQ(bfs_meta_remove(m, "/rd", 0, &got), -EISDIR);
    CHECK_EQ(bfs_meta_remove(m, "/nope", -1, &got), -ENOENT);
    CHECK_EQ(bfs_meta_remove(m, "/", 1, &got), -EBUSY);

    CHECK_EQ(bfs_meta_dirent_add(m, "/rd", "x", DT_REG), 0);
    CHECK_EQ(bfs_meta_remove(m, "/rd", 1, &got), -ENOTEMPTY);
    CHECK_EQ(bfs_meta_remove(m, "/rd", -1, &got), -ENOTEMPTY);
    CHECK_EQ(bfs_meta_dirent_del(m, "/rd", "x"), 0);
    CHECK_EQ(bfs_meta_remove(m, "/rd", 1, &got), 0);
    CHECK(S_ISDIR(got.mode));
    CHECK_EQ(bfs_meta_get(m, "/rd", &got), -ENOENT);

    CHECK_EQ(bfs_meta_get(m, "/rf", &ino), 0);
    CHECK_EQ(bfs_meta_remove(m, "/rf", 0, &got), 0);
    CHECK(memcmp(&ino, &got, sizeof(ino)) == 0);
    CHECK_EQ(bfs_meta_remove(m, "/rf", 0, NULL), -ENOENT);

    /* -1 takes either type; out may be NULL. */
    CHECK_EQ(bfs_meta_create(m, "/rf", S_IFREG | 0644, 0, 0, 1, &ino), 0);
    CHECK_EQ(bfs_meta_remove(m, "/rf", -1, NULL), 0);
    CHECK_EQ(bfs_meta_create(m, "/rd", S_IFDIR | 0755, 0, 0, 1, &ino), 0);
    CHECK_EQ(bfs_meta_remove(m, "/rd", -1, NULL), 0);
}

static void test_put(bfs_meta_t *m)
{
    struct bfs_inode f1 = { .fid = 111, .size = 5, .mode = S_IFREG | 0644, .nlink = 1 };
    struct bfs_inode f2 = { .fid = 222, .size = 7, .mode = S_IFREG | 0600, .nlink = 1 };
    struct bfs_inode d1 = { .fid = 333, .mode = S_IFDIR | 0755, .nlink = 2 };
    struct bfs_inode d2 = { .fid = 444, .mode = S_IFDIR | 0700, .nlink = 2 };
    struct bfs_inode old, got;

    CHECK_EQ(bfs_meta_put(m, "/pf", &f1, &old), 0);
    CHECK_EQ(bfs_meta_get(m, "/pf", &got), 0);
    CHECK(memcmp(&got, &f1, sizeof(got)) == 0);
    CHECK_EQ(bfs_meta_put(m, "/pf", &f2, &old), 1);
    CHECK(memcmp(&old, &f1, sizeof(old)) == 0);
    CHECK_EQ(bfs_meta_get(m, "/pf", &got), 0);
    CHECK(memcmp(&got, &f2, sizeof(got)) == 0);
    CHECK_EQ(bfs_meta_put(m, "/pf", &f1, NULL), 1);

    CHECK_EQ(bfs_meta_put(m, "/pf", &d1, &old), -ENOTDIR);
    CHECK_EQ(bfs_meta_put(m, "/pd", &d1, NULL), 0);
    CHECK_EQ(bfs_meta_put(m, "/pd", &f1, &old), -EISDIR);
    CHECK_EQ(bfs_meta_dirent_add(m, "/pd", "child", DT_REG), 0);
    CHECK_EQ(bfs_meta_put(m, "/pd", &d2, &old), -ENOTEMPTY);
    CHECK_EQ(bfs_meta_get(m, "/pd", &got), 0);
    CHECK(memcmp(&got, &d1, sizeof(got)) == 0); /* failed puts change nothing */
    CHECK_EQ(bfs_meta_dirent_del(m, "/pd", "child"), 0);
    CHECK_EQ(bfs_meta_put(m, "/pd", &d2, &old), 1);
    CHECK(memcmp(&old, &d1, sizeof(old)) == 0);
    CHECK_EQ(bfs_meta_get(m, "/pd", &got), 0);
    CHECK(memcmp(&got, &d2, sizeof(got)) == 0);
}

static void test_dirents(bfs_meta_t *m)
{
    uint64_t n = 99;
    struct bfs_inode ino;
    CHECK_EQ(bfs_meta_create(m, "/e", S_IFDIR | 0755, 0, 0, 1, &ino), 0);
    /* A sibling whose name extends "/e": its entries must not leak in. */
    CHECK_EQ(bfs_meta_create(m, "/e2", S_IFDIR | 0755, 0, 0, 1, &ino), 0);
    CHECK_EQ(bfs_meta_dirent_add(m, "/e2", "other", DT_REG), 0);

    CHECK_EQ(bfs_meta_dirent_count(m, "/e", &n), 0);
    CHECK_EQ(n, 0);
    CHECK_EQ(bfs_meta_dirent_add(m, "/e", "a", DT_REG), 0);
    CHECK_EQ(bfs_meta_dirent_add(m, "/e", "a", DT_REG), 0);
    CHECK_EQ(bfs_meta_dirent_add(m, "/e", "b", DT_DIR), 0);
    CHECK_EQ(bfs_meta_dirent_count(m, "/e", &n), 0);
    CHECK_EQ(n, 2);
    CHECK_EQ(bfs_meta_dirent_del(m, "/e", "a"), 0);
    CHECK_EQ(bfs_meta_dirent_del(m, "/e", "a"), -ENOENT);
    CHECK_EQ(bfs_meta_dirent_count(m, "/e", &n), 0);
    CHECK_EQ(n, 1);

    CHECK_EQ(bfs_meta_dirent_add(m, "/nope", "a", DT_REG), -ENOENT);
    CHECK_EQ(bfs_meta_dirent_add(m, "/f", "a", DT_REG), -ENOTDIR);
    CHECK_EQ(bfs_meta_dirent_del(m, "/nope", "a"), -ENOENT);
    CHECK_EQ(bfs_meta_dirent_del(m, "/f", "a"), -ENOTDIR);
    CHECK_EQ(bfs_meta_dirent_count(m, "/nope", &n), -ENOENT);
    CHECK_EQ(bfs_meta_dirent_count(m, "/f", &n), -ENOTDIR);

    /* Root entries have the key "/\0name". */
    CHECK_EQ(bfs_meta_dirent_add(m, "/", "e", DT_DIR), 0);
    CHECK_EQ(bfs_meta_dirent_count(m, "/", &n), 0);
    CHECK_EQ(n, 1);
}

/* Parses one packed entry; returns its size or 0 past the end. */
static size_t unpack(const uint8_t *p, size_t left, uint8_t *type, char *name)
{
    if (left < 3)
        return 0;
    size_t nl = (size_t)p[1] | (size_t)p[2] << 8;
    if (left < 3 + nl)
        return 0;
    *type = p[0];
    memcpy(name, p + 3, nl);
    name[nl] = '\0';
    return 3 + nl;
}

static void test_readdir(bfs_meta_t *m)
{
    enum { N = 10000 };
    struct bfs_inode ino;
    char name[300], prev[300] = "", after[300] = "";
    uint8_t buf[40], type;
    static unsigned char seen[N];
    int more;

    CHECK_EQ(bfs_meta_create(m, "/big", S_IFDIR | 0755, 0, 0, 1, &ino), 0);
    CHECK_EQ(bfs_meta_readdir(m, "/big", "", buf, sizeof(buf), &more), 0);
    CHECK_EQ(more, 0);
    /* Unpadded numbers: name order is not insertion order. */
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof(name), "n%d", i);
        CHECK_EQ(bfs_meta_dirent_add(m, "/big", name, i % 2 ? DT_DIR : DT_REG), 0);
    }

    size_t total = 0, pages = 0;
    for (;;) {
        ssize_t used = bfs_meta_readdir(m, "/big", after, buf, sizeof(buf), &more);
        CHECK(used > 0 || (used == 0 && !more));
        if (used < 0)
            break;
        pages++;
        size_t off = 0, sz;
        while ((sz = unpack(buf + off, (size_t)used - off, &type, name)) > 0) {
            off += sz;
            int i = atoi(name + 1);
            CHECK(name[0] == 'n' && i >= 0 && i < N);
            if (name[0] != 'n' || i < 0 || i >= N)
                continue;
            CHECK(!seen[i]);
            seen[i] = 1;
            CHECK(strcmp(prev, name) < 0);
            CHECK_EQ(type, i % 2 ? DT_DIR : DT_REG);
            snprintf(prev, sizeof(prev), "%s", name);
            total++;
        }
        CHECK_EQ(off, (size_t)used);
        /* A page that left room for the next entry would be a bug. */
        if (!more)
            break;
        snprintf(after, sizeof(after), "%s", prev);
    }
    CHECK_EQ(total, N);
    CHECK(pages > N / 8);
    for (int i = 0; i < N; i++)
        CHECK(seen[i]);

    /* Listing from the middle, and from after the last name. */
    CHECK_EQ(bfs_meta_readdir(m, "/big", "n5", buf, 3 + 4, &more), 3 + 3);
    CHECK_EQ(more, 1);
    CHECK(unpack(buf, 6, &type, name) == 6 && strcmp(name, "n50") == 0);
    CHECK_EQ(bfs_meta_readdir(m, "/big", "n9999", buf, sizeof(buf), &more), 0);
    CHECK_EQ(more, 0);
    /* An `after` that is not an entry starts at the next name. */
    CHECK_EQ(bfs_meta_readdir(m, "/big", "n9998a", buf, 3 + 5, &more), 8);
    CHECK(unpack(buf, 8, &type, name) == 8 && strcmp(name, "n9999") == 0);
    CHECK_EQ(more, 0);

    /* Not even the first entry fits. */
    CHECK_EQ(bfs_meta_readdir(m, "/big", "", buf, 4, &more), -EOVERFLOW);
    CHECK_EQ(bfs_meta_readdir(m, "/big", "", buf, 0, &more), -EOVERFLOW);

    CHECK_EQ(bfs_meta_readdir(m, "/nope", "", buf, sizeof(buf), &more), -ENOENT);
    CHECK_EQ(bfs_meta_readdir(m, "/f", "", buf, sizeof(buf), &more), -ENOTDIR);

    /* The sibling "/e2" is not listed with "/e". */
    CHECK_EQ(bfs_meta_readdir(m, "/e", "", buf, sizeof(buf), &more), 3 + 1);
    CHECK(unpack(buf, 4, &type, name) == 4 && strcmp(name, "b") == 0 && type == DT_DIR);
    CHECK_EQ(more, 0);
}

static void hex(const char *k, int n, char *out)
{
    for (int i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", (unsigned char)k[i]);
}

/* Golden vectors of the key format (an on-disk format, meta_keys.h): a
 * change here makes existing stores unreadable. The digests are SHA-256
 * as `sha256sum` prints them. */
static void test_keys(void)
{
    char k[BFS_KEY_MAX], h[2 * BFS_KEY_MAX + 1], p[BFS_PATH_MAX + 1];
    CHECK_EQ(bfs_key_record("/a/b", 4, k), 4);
    CHECK(memcmp(k, "/a/b", 4) == 0);
    p[0] = '/';
    memset(p + 1, 'x', 510);
    CHECK_EQ(bfs_key_record(p, 511, k), 511); /* the longest verbatim */
    CHECK(memcmp(k, p, 511) == 0);
    /* "/" + 600 'a': '#' + sha256 (printf '/%s' aaa... | sha256sum). */
    memset(p + 1, 'a', 600);
    CHECK_EQ(bfs_key_record(p, 601, k), 33);
    hex(k, 33, h);
    CHECK(strcmp(h, "23" "9cf4c1e117519f94781349dd606f3e073a156be0da49ea1789c442fd2f197ef1") == 0);
    memset(p + 1, 'a', BFS_PATH_MAX);
    CHECK_EQ(bfs_key_record(p, BFS_PATH_MAX - 1, k), 33);
    CHECK_EQ(bfs_key_record(p, BFS_PATH_MAX, k), -ENAMETOOLONG);
    /* Entries: the directory verbatim up to 255 bytes, then NUL, name. */
    CHECK_EQ(bfs_key_dirent("/d", 2, "n", 1, k), 4);
    CHECK(memcmp(k, "/d\0n", 4) == 0);
    CHECK_EQ(bfs_key_dirent("/", 1, "", 0, k), 2);
    CHECK(memcmp(k, "/\0", 2) == 0);
    memset(p + 1, 'd', 255);
    CHECK_EQ(bfs_key_dirent(p, 255, "n", 1, k), 257);
    CHECK(memcmp(k, p, 255) == 0 && k[255] == '\0' && k[256] == 'n');
    /* "/" + 255 'd' (256 bytes): digested, the name stays readable. */
    CHECK_EQ(bfs_key_dirent(p, 256, "name", 4, k), 38);
    hex(k, 38, h);
    CHECK(strcmp(h, "23" "1b1b49f64b7ed925ab67adad085ebb0a03ceafd0944e4b3dca45e88af7e20d33"
                    "00" "6e616d65") == 0);
    memset(p + 1, 'n', 255);
    CHECK_EQ(bfs_key_dirent(p, 256, p + 1, 255, k), 33 + 1 + 255);
    CHECK_EQ(bfs_key_dirent("/d", 2, p + 1, 256, k), -ENAMETOOLONG);
    CHECK_EQ(bfs_key_dirent_prefix(2), 3);
    CHECK_EQ(bfs_key_dirent_prefix(255), 256);
    CHECK_EQ(bfs_key_dirent_prefix(256), 34);
    CHECK_EQ(bfs_key_dirent(p, BFS_PATH_MAX, "n", 1, k), -ENAMETOOLONG);
}

/* Paths up to 4095 bytes and names up to 255 (LMDB keys are at most 511:
 * long ones are digested). */
static void test_limits(bfs_meta_t *m)
{
    char path[BFS_PATH_MAX + 1];
    struct bfs_inode ino;
    path[0] = '/';
    memset(path + 1, 'x', sizeof(path) - 2);
    path[sizeof(path) - 1] = '\0';
    CHECK_EQ(bfs_meta_create(m, path, S_IFDIR | 0755, 0, 0, 1, &ino), -ENAMETOOLONG);
    CHECK_EQ(bfs_meta_get(m, path, &ino), -ENAMETOOLONG);
    CHECK_EQ(bfs_meta_dirent_add(m, "/e", path + 1, DT_REG), -ENAMETOOLONG);
    path[257] = '\0'; /* a 256-byte name */
    CHECK_EQ(bfs_meta_dirent_add(m, "/e", path + 1, DT_REG), -ENAMETOOLONG);
    path[257] = 'x';
    path[511] = '\0';
    CHECK_EQ(bfs_meta_create(m, path, S_IFREG | 0644, 0, 0, 1, &ino), 0);
    CHECK_EQ(bfs_meta_remove(m, path, 0, NULL), 0);

    /* A chain of directories of 255-byte names down to 4095 bytes: each a
     * record and its parent's entry; readdir lists each one alone (no
     * sibling range mixes in), and the longest holds a file. */
    char dir[BFS_PATH_MAX] = "/";
    size_t dl = 1;
    int depth = 0;
    for (;;) {
        long room = (long)(BFS_PATH_MAX - 1) - (long)dl - (dl > 1);
        if (room <= 0)
            break;
        size_t nl = room < 255 ? (size_t)room : 255;
        char name[256];
        memset(name, 'a' + depth % 26, nl);
        name[nl] = '\0';
        char sub[BFS_PATH_MAX];
        snprintf(sub, sizeof(sub), "%s%s%s", dir, dl > 1 ? "/" : "", name);
        CHECK_EQ(bfs_meta_create(m, sub, S_IFDIR | 0755, 0, 0, 1, &ino), 0);
        CHECK_EQ(bfs_meta_name_add(m, dir, name, BFS_DT_DIR, ino.fid, &(struct bfs_dent){0}), 0);
        memcpy(dir, sub, strlen(sub) + 1);
        dl = strlen(dir);
        depth++;
    }
    CHECK_EQ(dl, BFS_PATH_MAX - 1);
    CHECK_EQ(bfs_meta_get(m, dir, &ino), 0);
    CHECK(S_ISDIR(ino.mode));
    /* The last directory holds no room for a child name: a file at 4095
     * bytes sits one level up. */
    char up[BFS_PATH_MAX];
    size_t ul = strrchr(dir, '/') - dir;
    memcpy(up, dir, ul);
    up[ul] = '\0';
    CHECK_EQ(bfs_meta_file_create(m, up, "f", 0644, 0, 0, 1, 1, &ino), 0);
    char buf[1024], name[300];
    uint8_t type;
    int more;
    ssize_t n = bfs_meta_readdir(m, up, "", buf, sizeof(buf), &more);
    CHECK(n > 0);
    /* Two entries: "f" and the last directory, in name order. */
    size_t first = unpack((uint8_t *)buf, (size_t)n, &type, name);
    CHECK(first == 4 && strcmp(name, "f") == 0 && type == BFS_DT_REG);
    CHECK(unpack((uint8_t *)buf + first, (size_t)n - first, &type, name) == (size_t)n - first &&
          strcmp(name, strrchr(dir, '/') + 1) == 0 && type == BFS_DT_DIR);
    CHECK_EQ(bfs_meta_lookup(m, up, "f", "", &ino), 0);
    CHECK_EQ(bfs_meta_get(m, up, &ino), 0);
    CHECK_EQ(ino.nlink, 3); /* one subdirectory */
    /* Take it all down again, deepest first. */
    CHECK_EQ(bfs_meta_unlink(m, up, "f", &ino), BFS_LINK_DEAD);
    while (strcmp(dir, "/") != 0) {
        char *slash = strrchr(dir, '/');
        char parent[BFS_PATH_MAX];
        size_t pl = slash == dir ? 1 : (size_t)(slash - dir);
        memcpy(parent, dir, pl);
        parent[pl] = '\0';
        struct bfs_dent d;
        CHECK_EQ(bfs_meta_remove(m, dir, 1, NULL), 0);
        CHECK_EQ(bfs_meta_name_del(m, parent, slash + 1, BFS_DT_DIR, 0, &d), 0);
        memcpy(dir, parent, pl + 1);
    }
}

/* The parent's mtime/ctime follow every change of its entries, and its
 * nlink counts its subdirectories. */
static void test_parent(bfs_meta_t *m)
{
    struct bfs_inode p0, p, ino, sub;
    struct bfs_dent d;
    CHECK_EQ(bfs_meta_create(m, "/par", S_IFDIR | 0755, 0, 0, 1, &p0), 0);
    CHECK_EQ(bfs_meta_get(m, "/par", &p0), 0);
    CHECK_EQ(p0.nlink, 2);
#define ADVANCED(before)                                                                        \
    (bfs_meta_get(m, "/par", &p) == 0 && p.mtime_ns > (before).mtime_ns &&                     \
     p.ctime_ns > (before).ctime_ns && p.mtime_ns == p.ctime_ns)
    CHECK_EQ(bfs_meta_file_create(m, "/par", "f", 0644, 0, 0, 1, 1, &ino), 0);
    CHECK(ADVANCED(p0));
    p0 = p;
    CHECK_EQ(bfs_meta_file_create(m, "/par", "f", 0644, 0, 0, 1, 1, &ino), -EEXIST);
    CHECK(bfs_meta_get(m, "/par", &p) == 0 && p.mtime_ns == p0.mtime_ns); /* failed: no change */
    CHECK_EQ(bfs_meta_create(m, "/par/s", S_IFDIR | 0755, 0, 0, 1, &sub), 0);
    CHECK_EQ(bfs_meta_name_add(m, "/par", "s", BFS_DT_DIR, sub.fid, &d), 0);
    CHECK(ADVANCED(p0));
    CHECK_EQ(p.nlink, 3);
    p0 = p;
    CHECK_EQ(bfs_meta_name_put(m, "/par", "t", BFS_DT_DIR, 77, &ino), BFS_LINK_NONE);
    CHECK(ADVANCED(p0));
    CHECK_EQ(p.nlink, 4);
    p0 = p;
    CHECK_EQ(bfs_meta_name_put(m, "/par", "t", BFS_DT_DIR, 77, &ino), BFS_LINK_SAME);
    CHECK(bfs_meta_get(m, "/par", &p) == 0 && p.mtime_ns == p0.mtime_ns && p.nlink == 4);
    CHECK_EQ(bfs_meta_name_del(m, "/par", "t", BFS_DT_DIR, 77, &d), 0);
    CHECK(ADVANCED(p0));
    CHECK_EQ(p.nlink, 3);
    p0 = p;
    CHECK_EQ(bfs_meta_rename_local(m, "/par", "f", "/par", "g", &ino), BFS_LINK_NONE);
    CHECK(ADVANCED(p0));
    p0 = p;
    CHECK_EQ(bfs_meta_rename_local(m, "/par", "g", "/par/s", "g", &ino), BFS_LINK_NONE);
    CHECK(ADVANCED(p0));
    CHECK_EQ(bfs_meta_get(m, "/par/s", &ino), 0);
    CHECK(ino.mtime_ns == p.mtime_ns && ino.nlink == 2); /* both parents, one time */
    p0 = p;
    CHECK_EQ(bfs_meta_unlink(m, "/par/s", "g", &ino), BFS_LINK_DEAD);
    CHECK_EQ(bfs_meta_remove(m, "/par/s", 1, NULL), 0);
    CHECK_EQ(bfs_meta_name_del(m, "/par", "s", BFS_DT_DIR, 0, &d), 0);
    CHECK(ADVANCED(p0));
    CHECK_EQ(p.nlink, 2);
    /* A directory record put elsewhere (rename) arrives empty: 2 links. */
    sub.nlink = 9;
    CHECK_EQ(bfs_meta_put(m, "/par/r", &sub, NULL), 0);
    CHECK_EQ(bfs_meta_get(m, "/par/r", &ino), 0);
    CHECK_EQ(ino.nlink, 2);
    CHECK_EQ(bfs_meta_remove(m, "/par/r", 1, NULL), 0);
    CHECK_EQ(bfs_meta_remove(m, "/par", 1, NULL), 0);
#undef ADVANCED
}

static void test_survives_restart(bfs_meta_t *m)
{
    struct bfs_inode ino;
    uint64_t n;
    CHECK_EQ(bfs_meta_get(m, "/s", &ino), 0);
    CHECK_EQ(ino.size, 1 << 20);
    CHECK_EQ(ino.mode, S_IFREG | 04600);
    CHECK(ino.atime_ns == 8000 && ino.mtime_ns == 7000 && ino.ctime_ns == 6500);
    CHECK_EQ(bfs_meta_get(m, "/pd", &ino), 0);
    CHECK_EQ(ino.fid, 444);
    CHECK_EQ(bfs_meta_dirent_count(m, "/big", &n), 0);
    CHECK_EQ(n, 10000);
    CHECK_EQ(bfs_meta_dirent_count(m, "/e", &n), 0);
    CHECK_EQ(n, 1);
    CHECK_EQ(bfs_meta_count(m, &n), 0);
    /* "/", f, d, fids, s, pf, pd, e, e2, big */
    CHECK_EQ(n, 1 + 2 + 900 + 1 + 2 + 3);
    CHECK_EQ(bfs_meta_sync(m), 0);
}

static void report(const char *what, int n, double t)
{
    printf("  %-28s %8d ops %8.3f s %10.0f ops/s\n", what, n, t, n / t);
}

static void bench(bfs_meta_t *m, int n)
{
    struct bfs_inode ino;
    char path[64];
    int bad = 0;
    double t0, t;

    printf("meta_store throughput, %d entries in one directory:\n", n);
    bad |= bfs_meta_create(m, "/bench", S_IFDIR | 0755, 0, 0, 1, &ino) != 0;

    t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/bench/file.%d", i);
        bad |= bfs_meta_create(m, path, S_IFREG | 0644, 0, 0, 1, &ino) != 0;
    }
    double tc = now_s() - t0;
    report("create", n, tc);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "file.%d", i);
        bad |= bfs_meta_dirent_add(m, "/bench", path, DT_REG) != 0;
    }
    double td = now_s() - t0;
    report("dirent_add", n, td);
    report("create + dirent_add (pairs)", n, tc + td);

    t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/bench/file.%d", (int)((i * 7919ull) % (unsigned)n));
        bad |= bfs_meta_get(m, path, &ino) != 0;
    }
    report("get (scattered)", n, now_s() - t0);

    uint8_t buf[64 << 10];
    char after[256] = "";
    int more = 1, pages = 0;
    t0 = now_s();
    while (more) {
        ssize_t used = bfs_meta_readdir(m, "/bench", after, buf, sizeof(buf), &more);
        if (used <= 0) {
            bad |= used < 0;
            break;
        }
        /* The last entry of the page becomes `after`. */
        size_t off = 0, last = 0;
        while (off < (size_t)used) {
            last = off;
            off += 3 + ((size_t)buf[off + 1] | (size_t)buf[off + 2] << 8);
        }
        size_t nl = (size_t)buf[last + 1] | (size_t)buf[last + 2] << 8;
        memcpy(after, buf + last + 3, nl);
        after[nl] = '\0';
        pages++;
    }
    t = now_s() - t0;
    printf("  %-28s %8d entries in %d pages of 64 KiB: %.3f s\n", "readdir", n, pages, t);

    t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "/bench/file.%d", i);
        bad |= bfs_meta_remove(m, path, 0, &ino) != 0;
    }
    double tr = now_s() - t0;
    report("remove", n, tr);
    t0 = now_s();
    for (int i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "file.%d", i);
        bad |= bfs_meta_dirent_del(m, "/bench", path) != 0;
    }
    double tdd = now_s() - t0;
    report("dirent_del", n, tdd);
    report("remove + dirent_del (pairs)", n, tr + tdd);

    t0 = now_s();
    bad |= bfs_meta_sync(m) != 0;
    printf("  %-28s %.3f s\n", "sync", now_s() - t0);
    CHECK(!bad);
}

/* Tombstones of dead files: marked, seen in the open batch and after a
 * restart, and dropped by age in bounded steps that go round the table. */
static bfs_meta_t *test_tombstones(bfs_meta_t *m, const char *dir)
{
    unsigned dropped = 99;
    CHECK_EQ(bfs_meta_dead_is(m, 7), 0);
    CHECK_EQ(bfs_meta_dead_expire(m, 1000, 10, &dropped), 0);
    CHECK_EQ(dropped, 0);
    /* 25 fids: odd ones died at time 100 + fid, even ones at 10000. */
    for (uint64_t fid = 1; fid <= 25; fid++)
        CHECK_EQ(bfs_meta_dead_mark(m, fid << 8, fid % 2 ? 100 + fid : 10000), 0);
    CHECK_EQ(bfs_meta_dead_is(m, 3 << 8), 1);
    CHECK_EQ(bfs_meta_dead_is(m, (3 << 8) + 1), 0);
    m = reopen(m, dir);
    CHECK_EQ(bfs_meta_dead_is(m, 25 << 8), 1);
    /* Older than 1000: the 13 odd ones, 10 entries looked at per step. */
    unsigned total = 0, steps = 0;
    do {
        CHECK_EQ(bfs_meta_dead_expire(m, 1000, 10, &dropped), 0);
        total += dropped;
    } while (++steps < 3);
    CHECK_EQ(total, 13);
    for (uint64_t fid = 1; fid <= 25; fid++)
        CHECK_EQ(bfs_meta_dead_is(m, fid << 8), fid % 2 == 0);
    /* Everything older than 20000: all go, and the table is empty. */
    total = 0;
    for (steps = 0; steps < 3; steps++) {
        CHECK_EQ(bfs_meta_dead_expire(m, 20000, 10, &dropped), 0);
        total += dropped;
    }
    CHECK_EQ(total, 12);
    CHECK_EQ(bfs_meta_dead_is(m, 2 << 8), 0);
    m = reopen(m, dir);
    CHECK_EQ(bfs_meta_dead_is(m, 2 << 8), 0);
    return m;
}

int main(void)
{
    char root[4096], dir[4200];
    if (unit_scratch(root, sizeof(root), "bfs-meta-test") < 0)
        return 1;
    /* The store creates its own directory, as DIR/meta for a server. */
    snprintf(dir, sizeof(dir), "%s/meta", root);

    bfs_meta_t *m = NULL;
    int rc = bfs_meta_open(&m, dir, RANK, 1);
    if (rc < 0) {
        fprintf(stderr, "open %s: %s\n", dir, strerror(-rc));
        unit_rm_rf(root);
        return 1;
    }
    CHECK_EQ(bfs_meta_open(&(bfs_meta_t *){ NULL }, dir, 0xffff, 1), -EINVAL);

    test_create_get(m);
    m = test_fids(m, dir);
    test_sizes_modes(m);
    test_batch(m);
    test_remove(m);
    test_put(m);
    test_dirents(m);
    test_readdir(m);
    test_keys();
    test_limits(m);
    test_parent(m);
    m = test_tombstones(m, dir);
    m = reopen(m, dir);
    test_survives_restart(m);

    const char *nenv = getenv("BFS_META_BENCH_N");
    int n = nenv ? atoi(nenv) : 100000;
    if (n > 0 && !failures)
        bench(m, n);

    bfs_meta_close(m);

    /* Without fallocate the store still opens (commits through pwrite,
     * not the map) and works, across a restart. */
    g_no_fallocate = 1;
    snprintf(dir, sizeof(dir), "%s/meta-nofallocate", root);
    m = NULL;
    CHECK_EQ(bfs_meta_open(&m, dir, RANK, 1), 0);
    if (m) {
        test_create_get(m);
        test_batch(m);
        m = reopen(m, dir);
        struct bfs_inode ino;
        CHECK_EQ(bfs_meta_get(m, "/f", &ino), 0);
        bfs_meta_close(m);
    }
    unit_rm_rf(root);
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    return failures ? 1 : 0;
}
