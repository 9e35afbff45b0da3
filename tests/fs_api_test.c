/* Every client API operation and its errors, against running servers
 * ($BENCHFS_REGISTRY). Data is verified byte for byte across chunk
 * boundaries, holes and unaligned offsets. */
#include "client/benchfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            failures++;                                                        \
        }                                                                      \
    } while (0)
#define CHECK_RC(expr, want)                                                   \
    do {                                                                       \
        long _r = (long)(expr);                                                \
        CHECK(_r == (long)(want), "%s = %ld (%s), want %ld", #expr, _r,        \
              _r < 0 ? strerror((int)-_r) : "ok", (long)(want));               \
    } while (0)

static unsigned char pat(uint64_t off, unsigned seed) { return (unsigned char)((off * 7 + seed) % 253); }

static void fill(unsigned char *b, uint64_t off, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = pat(off + i, seed);
}

static void test_namespace(benchfs_t *fs)
{
    CHECK_RC(benchfs_mkdir(fs, "/ns", 0755), 0);
    CHECK_RC(benchfs_mkdir(fs, "/ns", 0755), -EEXIST);
    CHECK_RC(benchfs_mkdir(fs, "/nope/x", 0755), -ENOENT);
    benchfs_file_t *f;
    CHECK_RC(benchfs_open(fs, "/ns/f", O_CREAT | O_EXCL | O_RDWR, 0640, &f), 0);
    CHECK_RC(benchfs_close(f), 0);
    CHECK_RC(benchfs_open(fs, "/ns/f", O_CREAT | O_EXCL | O_RDWR, 0640, &f), -EEXIST);
    CHECK_RC(benchfs_open(fs, "/ns/missing", O_RDONLY, 0, &f), -ENOENT);
    CHECK_RC(benchfs_open(fs, "/ns/f/x", O_CREAT | O_RDWR, 0640, &f), -ENOTDIR);
    CHECK_RC(benchfs_open(fs, "/ns", O_RDWR, 0, &f), -EISDIR);
    CHECK_RC(benchfs_open(fs, "/ns/f", O_RDONLY | O_DIRECTORY, 0, &f), -ENOTDIR);
    char longname[300];
    memset(longname, 'a', sizeof(longname));
    longname[0] = '/';
    longname[257] = '\0';
    CHECK_RC(benchfs_mkdir(fs, longname, 0755), -ENAMETOOLONG);

    struct stat st;
    CHECK_RC(benchfs_stat(fs, "/ns/f", &st), 0);
    CHECK(S_ISREG(st.st_mode) && (st.st_mode & 0777) == 0640, "mode %o", st.st_mode);
    CHECK(st.st_size == 0 && st.st_nlink == 1 && st.st_uid == geteuid(), "stat fields");
    /* A trailing slash needs a directory (POSIX; issue 11 part 8). */
    CHECK_RC(benchfs_stat(fs, "/ns/./f/", &st), -ENOTDIR);
    CHECK_RC(benchfs_stat(fs, "/ns/./f", &st), 0);
    CHECK_RC(benchfs_stat(fs, "/ns/../ns//f", &st), 0);
    CHECK_RC(benchfs_stat(fs, "/ns", &st), 0);
    CHECK(S_ISDIR(st.st_mode), "dir mode");
    CHECK_RC(benchfs_stat(fs, "/", &st), 0);
    CHECK(S_ISDIR(st.st_mode), "root is a dir");

    CHECK_RC(benchfs_chmod(fs, "/ns/f", 0600), 0);
    CHECK_RC(benchfs_stat(fs, "/ns/f", &st), 0);
    CHECK((st.st_mode & 07777) == 0600 && S_ISREG(st.st_mode), "chmod %o", st.st_mode);
    struct timespec ts[2] = {{1000, 5}, {2000, 7}};
    CHECK_RC(benchfs_utimens(fs, "/ns/f", ts), 0);
    CHECK_RC(benchfs_stat(fs, "/ns/f", &st), 0);
    CHECK(st.st_atim.tv_sec == 1000 && st.st_mtim.tv_sec == 2000 && st.st_mtim.tv_nsec == 7,
          "utimens");
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = 3000;
    CHECK_RC(benchfs_utimens(fs, "/ns/f", ts), 0);
    CHECK_RC(benchfs_stat(fs, "/ns/f", &st), 0);
    CHECK(st.st_atim.tv_sec == 1000 && st.st_mtim.tv_sec == 3000, "utimens omit");

    CHECK_RC(benchfs_rmdir(fs, "/ns"), -ENOTEMPTY);
    CHECK_RC(benchfs_rmdir(fs, "/ns/f"), -ENOTDIR);
    CHECK_RC(benchfs_unlink(fs, "/ns"), -EISDIR);
    CHECK_RC(benchfs_unlink(fs, "/ns/f"), 0);
    CHECK_RC(benchfs_unlink(fs, "/ns/f"), -ENOENT);
    CHECK_RC(benchfs_stat(fs, "/ns/f", &st), -ENOENT);
    CHECK_RC(benchfs_rmdir(fs, "/ns"), 0);
    CHECK_RC(benchfs_stat(fs, "/ns", &st), -ENOENT);
    CHECK_RC(benchfs_rmdir(fs, "/"), -EBUSY);
}

static void test_data(benchfs_t *fs)
{
    uint64_t cs = benchfs_chunk_size(fs);
    size_t n = 3 * cs + 12345;
    unsigned char *w = malloc(n), *r = malloc(n + 100);
    benchfs_file_t *f, *g = NULL;
    CHECK_RC(benchfs_open(fs, "/data", O_CREAT | O_RDWR, 0644, &f), 0);
    fill(w, 100, n, 1);
    CHECK_RC(benchfs_pwrite(f, w, n, 100), n);
    memset(r, 0xee, n + 100);
    CHECK_RC(benchfs_pread(f, r, n + 100, 0), n + 100);
    for (size_t i = 0; i < 100; i++)
        CHECK(r[i] == 0, "leading hole byte %zu", i);
    CHECK(memcmp(r + 100, w, n) == 0, "data across chunk boundaries");
    /* Past EOF: short, then 0. */
    CHECK_RC(benchfs_pread(f, r, 1000, (off_t)(n + 100 - 10)), 10);
    CHECK_RC(benchfs_pread(f, r, 1000, (off_t)(n + 100)), 0);
    struct stat st;
    CHECK_RC(benchfs_fstat(f, &st), 0);
    CHECK((size_t)st.st_size == n + 100, "size %ld", (long)st.st_size);

    /* A hole in the middle of the file, then an unaligned overwrite. */
    uint64_t far = 7 * cs + 3;
    unsigned char tail[10];
    fill(tail, far, sizeof(tail), 2);
    CHECK_RC(benchfs_pwrite(f, tail, sizeof(tail), (off_t)far), sizeof(tail));
    unsigned char *h = malloc(far + 10);
    CHECK_RC(benchfs_pread(f, h, far + 10, 0), far + 10);
    CHECK(memcmp(h + 100, w, n) == 0, "data before hole");
    int zeros = 1;
    for (uint64_t i = n + 100; i < far; i++)
        zeros &= h[i] == 0;
    CHECK(zeros, "hole reads as zeros");
    CHECK(memcmp(h + far, tail, sizeof(tail)) == 0, "data after hole");
    free(h);

    /* Scattered vectors: many small segments both ways. */
    struct iovec iov[20];
    unsigned char seg[20][37];
    for (int i = 0; i < 20; i++) {
        fill(seg[i], cs - 300 + (uint64_t)i * 37, 37, 3);
        iov[i].iov_base = seg[i];
        iov[i].iov_len = 37;
    }
    CHECK_RC(benchfs_pwritev(f, iov, 20, (off_t)(cs - 300)), 20 * 37);
    memset(seg, 0, sizeof(seg));
    CHECK_RC(benchfs_preadv(f, iov, 20, (off_t)(cs - 300)), 20 * 37);
    int ok = 1;
    for (int i = 0; i < 20; i++)
        for (int k = 0; k < 37; k++)
            ok &= seg[i][k] == pat(cs - 300 + (uint64_t)i * 37 + (uint64_t)k, 3);
    CHECK(ok, "vectored data across a chunk boundary");

    /* Truncate: shrink frees data (growing again shows zeros), grow. */
    CHECK_RC(benchfs_ftruncate(f, (off_t)(cs + 5)), 0);
    CHECK_RC(benchfs_fstat(f, &st), 0);
    CHECK((uint64_t)st.st_size == cs + 5, "size after shrink %ld", (long)st.st_size);
    CHECK_RC(benchfs_truncate(fs, "/data", (off_t)(2 * cs)), 0);
    CHECK_RC(benchfs_pread(f, r, 2 * cs, 0), 2 * cs);
    zeros = 1;
    for (uint64_t i = cs + 5; i < 2 * cs; i++)
        zeros &= r[i] == 0;
    CHECK(zeros, "bytes past a shrink read as zeros after growing");
    CHECK(memcmp(r + 100, w, cs - 300 - 100) == 0, "prefix kept by truncate");
    CHECK_RC(benchfs_fsync(f), 0);
    CHECK_RC(benchfs_close(f), 0);

    /* O_TRUNC, O_RDONLY writes, O_WRONLY reads. */
    CHECK_RC(benchfs_open(fs, "/data", O_RDWR | O_TRUNC, 0, &f), 0);
    CHECK_RC(benchfs_fstat(f, &st), 0);
    CHECK(st.st_size == 0, "O_TRUNC size %ld", (long)st.st_size);
    CHECK_RC(benchfs_close(f), 0);
    CHECK_RC(benchfs_open(fs, "/data", O_RDONLY, 0, &f), 0);
    CHECK_RC(benchfs_pwrite(f, w, 10, 0), -EBADF);
    CHECK_RC(benchfs_append(f, w, 10, NULL), -EBADF);
    CHECK_RC(benchfs_fstat(f, &st), 0);
    CHECK(benchfs_file_id(f) == (uint64_t)st.st_ino && st.st_ino != 0, "file id = st_ino");
    CHECK_RC(benchfs_open_id(fs, benchfs_file_id(f), O_RDWR | O_CREAT, &g), -EINVAL);
    CHECK_RC(benchfs_close(f), 0);

    /* O_APPEND: pwrite appends whatever its offset (as Linux's pwrite),
     * benchfs_append says where; F_SETFL through benchfs_file_set_append. */
    CHECK_RC(benchfs_open(fs, "/data", O_WRONLY | O_APPEND, 0, &f), 0);
    CHECK_RC(benchfs_pwrite(f, w, 10, 0), 10);
    CHECK_RC(benchfs_pwrite(f, w + 10, 5, 1000000), 5);
    off_t at = -1;
    CHECK_RC(benchfs_append(f, w + 15, cs, &at), (long)cs);
    CHECK(at == 15, "append at %ld, want 15", (long)at);
    CHECK_RC(benchfs_append(f, w, 0, &at), 0);
    CHECK(at == 15, "an empty append leaves *at");
    CHECK_RC(benchfs_file_set_append(f, 0), 0);
    CHECK(!(benchfs_file_flags(f) & O_APPEND), "O_APPEND cleared");
    CHECK_RC(benchfs_pwrite(f, w, 3, 0), 3); /* positional again */
    CHECK_RC(benchfs_fstat(f, &st), 0);
    CHECK((uint64_t)st.st_size == 15 + cs, "size after appends %ld", (long)st.st_size);
    CHECK_RC(benchfs_close(f), 0);
    CHECK_RC(benchfs_open(fs, "/data", O_RDONLY, 0, &f), 0);
    memset(r, 0, 15 + cs);
    CHECK_RC(benchfs_pread(f, r, 2 * cs, 0), (long)(15 + cs));
    CHECK(!memcmp(r, w, 3) && !memcmp(r + 3, w + 3, 12 + cs), "appended bytes in order");
    CHECK_RC(benchfs_close(f), 0);
    CHECK_RC(benchfs_unlink(fs, "/data"), 0);
    free(w);
    free(r);
}

static void test_bigdir(benchfs_t *fs, int nfiles)
{
    CHECK_RC(benchfs_mkdir(fs, "/big", 0755), 0);
    char p[64];
    for (int i = 0; i < nfiles; i++) {
        benchfs_file_t *f;
        snprintf(p, sizeof(p), "/big/file.%06d", i);
        int rc = benchfs_open(fs, p, O_CREAT | O_EXCL | O_WRONLY, 0644, &f);
        CHECK(rc == 0, "create %s: %d", p, rc);
        if (rc == 0)
            benchfs_close(f);
    }
    benchfs_dir_t *d;
    CHECK_RC(benchfs_opendir(fs, "/big", &d), 0);
    char *seen = calloc((size_t)nfiles, 1);
    struct benchfs_dirent e;
    int n = 0, rc;
    while ((rc = benchfs_readdir(d, &e)) == 1) {
        int idx;
        if (sscanf(e.name, "file.%d", &idx) == 1 && idx >= 0 && idx < nfiles && !seen[idx] &&
            e.type == DT_REG) {
            seen[idx] = 1;
            n++;
        } else {
            CHECK(0, "unexpected entry %s", e.name);
        }
    }
    CHECK(rc == 0, "readdir end %d", rc);
    CHECK(n == nfiles, "listed %d of %d", n, nfiles);
    benchfs_rewinddir(d);
    CHECK_RC(benchfs_readdir(d, &e), 1);
    benchfs_closedir(d);
    free(seen);
    CHECK_RC(benchfs_opendir(fs, "/big/file.000000", &d), -ENOTDIR);
    for (int i = 0; i < nfiles; i++) {
        snprintf(p, sizeof(p), "/big/file.%06d", i);
        CHECK_RC(benchfs_unlink(fs, p), 0);
    }
    CHECK_RC(benchfs_rmdir(fs, "/big"), 0);
}

static void write_file(benchfs_t *fs, const char *path, unsigned seed, size_t n)
{
    unsigned char *b = malloc(n);
    fill(b, 0, n, seed);
    benchfs_file_t *f;
    CHECK_RC(benchfs_open(fs, path, O_CREAT | O_WRONLY | O_TRUNC, 0644, &f), 0);
    CHECK_RC(benchfs_pwrite(f, b, n, 0), n);
    benchfs_close(f);
    free(b);
}

static void check_file(benchfs_t *fs, const char *path, unsigned seed, size_t n)
{
    unsigned char *b = malloc(n + 1), *w = malloc(n);
    fill(w, 0, n, seed);
    benchfs_file_t *f;
    int rc = benchfs_open(fs, path, O_RDONLY, 0, &f);
    CHECK(rc == 0, "open %s: %d", path, rc);
    if (rc == 0) {
        CHECK_RC(benchfs_pread(f, b, n + 1, 0), n);
        CHECK(memcmp(b, w, n) == 0, "content of %s", path);
        benchfs_close(f);
    }
    free(b);
    free(w);
}

/* Small files, whose chunks a server keeps in its metadata store until they
 * grow past its limit (16 KiB by default) and move to a chunk file:
 * contents survive every step of that life. */
static void test_small_files(benchfs_t *fs)
{
    enum { STEP = 1000, TOTAL = 100000 };
    unsigned char *w = malloc(TOTAL), *r = malloc(TOTAL + 1);
    fill(w, 0, TOTAL, 7);
    benchfs_file_t *f;
    /* Appends: small, then past the limit, verified along the way. */
    CHECK_RC(benchfs_open(fs, "/grow", O_CREAT | O_RDWR, 0644, &f), 0);
    for (size_t off = 0; off < TOTAL; off += STEP) {
        CHECK_RC(benchfs_pwrite(f, w + off, STEP, (off_t)off), STEP);
        if ((off / STEP) % 7 == 0 || off + STEP == TOTAL) {
            memset(r, 0xee, off + STEP + 1);
            CHECK_RC(benchfs_pread(f, r, off + STEP + 1, 0), off + STEP);
            CHECK(memcmp(r, w, off + STEP) == 0, "appended file at %zu bytes", off + STEP);
        }
    }
    CHECK_RC(benchfs_close(f), 0);
    /* An overwrite in the middle of a small file, and one that takes it
     * past the limit in one write. */
    CHECK_RC(benchfs_open(fs, "/mid", O_CREAT | O_RDWR, 0644, &f), 0);
    CHECK_RC(benchfs_pwrite(f, w, 3901, 0), 3901);
    CHECK_RC(benchfs_pwrite(f, w + 5000, 100, 1000), 100);
    CHECK_RC(benchfs_pread(f, r, 4000, 0), 3901);
    CHECK(memcmp(r, w, 1000) == 0 && memcmp(r + 1000, w + 5000, 100) == 0 &&
              memcmp(r + 1100, w + 1100, 3901 - 1100) == 0, "overwritten small file");
    CHECK_RC(benchfs_pwrite(f, w + 3000, 30000, 3000), 30000);
    CHECK_RC(benchfs_pread(f, r, 40000, 0), 33000);
    CHECK(memcmp(r, w, 1000) == 0 && memcmp(r + 1000, w + 5000, 100) == 0 &&
              memcmp(r + 1100, w + 1100, 33000 - 1100) == 0, "small file grown in one write");
    CHECK_RC(benchfs_close(f), 0);
    /* Truncate a small file, then grow it: zeros in between. */
    CHECK_RC(benchfs_open(fs, "/cut", O_CREAT | O_RDWR, 0644, &f), 0);
    CHECK_RC(benchfs_pwrite(f, w, 2000, 0), 2000);
    CHECK_RC(benchfs_ftruncate(f, 500), 0);
    CHECK_RC(benchfs_pwrite(f, w + 1500, 10, 1500), 10);
    CHECK_RC(benchfs_pread(f, r, 4000, 0), 1510);
    int zeros = 1;
    for (int i = 500; i < 1500; i++)
        zeros &= r[i] == 0;
    CHECK(memcmp(r, w, 500) == 0 && zeros && memcmp(r + 1500, w + 1500, 10) == 0,
          "truncated and regrown small file");
    CHECK_RC(benchfs_ftruncate(f, 0), 0);
    CHECK_RC(benchfs_pread(f, r, 4000, 0), 0);
    CHECK_RC(benchfs_close(f), 0);
    /* A chunk written first far into it is a chunk file; small writes to
     * its start then go there too. */
    CHECK_RC(benchfs_open(fs, "/far", O_CREAT | O_RDWR, 0644, &f), 0);
    CHECK_RC(benchfs_pwrite(f, w, 100, 60000), 100);
    CHECK_RC(benchfs_pwrite(f, w + 200, 50, 0), 50);
    CHECK_RC(benchfs_pread(f, r, 70000, 0), 60100);
    zeros = 1;
    for (int i = 50; i < 60000; i++)
        zeros &= r[i] == 0;
    CHECK(memcmp(r, w + 200, 50) == 0 && zeros && memcmp(r + 60000, w, 100) == 0,
          "small write into a chunk file");
    CHECK_RC(benchfs_close(f), 0);
    /* Many small files, removed and created again under the same names
     * with other contents: nothing of the old ones shows. */
    char name[64];
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 200; i++) {
            snprintf(name, sizeof(name), "/sm.%d", i);
            write_file(fs, name, 11 + (unsigned)(round * 200 + i), 3901 - (size_t)(round * 1000));
        }
        for (int i = 0; i < 200; i++) {
            snprintf(name, sizeof(name), "/sm.%d", i);
            check_file(fs, name, 11 + (unsigned)(round * 200 + i), 3901 - (size_t)(round * 1000));
            CHECK_RC(benchfs_unlink(fs, name), 0);
        }
    }
    struct stat st;
    CHECK_RC(benchfs_stat(fs, "/sm.0", &st), -ENOENT);
    CHECK_RC(benchfs_unlink(fs, "/grow"), 0);
    CHECK_RC(benchfs_unlink(fs, "/mid"), 0);
    CHECK_RC(benchfs_unlink(fs, "/cut"), 0);
    CHECK_RC(benchfs_unlink(fs, "/far"), 0);
    free(w);
    free(r);
}

static void test_rename(benchfs_t *fs)
{
    uint64_t cs = benchfs_chunk_size(fs);
    struct stat st;
    write_file(fs, "/r1", 5, 2 * cs + 7);
    CHECK_RC(benchfs_rename(fs, "/r1", "/r2"), 0);
    CHECK_RC(benchfs_stat(fs, "/r1", &st), -ENOENT);
    check_file(fs, "/r2", 5, 2 * cs + 7);
    write_file(fs, "/r3", 6, 100);
    CHECK_RC(benchfs_rename(fs, "/r3", "/r2"), 0); /* replaces */
    check_file(fs, "/r2", 6, 100);
    CHECK_RC(benchfs_rename(fs, "/missing", "/r9"), -ENOENT);
    CHECK_RC(benchfs_rename(fs, "/r2", "/nodir/r2"), -ENOENT);

    /* A populated tree moves whole. */
    CHECK_RC(benchfs_mkdir(fs, "/t", 0755), 0);
    CHECK_RC(benchfs_mkdir(fs, "/t/a", 0755), 0);
    CHECK_RC(benchfs_mkdir(fs, "/t/a/b", 0700), 0);
    write_file(fs, "/t/f0", 10, cs + 1);
    write_file(fs, "/t/a/f1", 11, 3000);
    write_file(fs, "/t/a/b/f2", 12, 2 * cs);
    CHECK_RC(benchfs_rename(fs, "/t", "/t/a/inside"), -EINVAL);
    CHECK_RC(benchfs_mkdir(fs, "/dst", 0755), 0);
    CHECK_RC(benchfs_rename(fs, "/t", "/dst/moved"), 0);
    CHECK_RC(benchfs_stat(fs, "/t", &st), -ENOENT);
    CHECK_RC(benchfs_stat(fs, "/t/a/b/f2", &st), -ENOENT);
    check_file(fs, "/dst/moved/f0", 10, cs + 1);
    check_file(fs, "/dst/moved/a/f1", 11, 3000);
    check_file(fs, "/dst/moved/a/b/f2", 12, 2 * cs);
    CHECK_RC(benchfs_stat(fs, "/dst/moved/a/b", &st), 0);
    CHECK((st.st_mode & 0777) == 0700 && S_ISDIR(st.st_mode), "moved dir mode %o", st.st_mode);
    benchfs_dir_t *d;
    struct benchfs_dirent e;
    int n = 0;
    CHECK_RC(benchfs_opendir(fs, "/dst/moved/a", &d), 0);
    while (benchfs_readdir(d, &e) == 1)
        n++;
    benchfs_closedir(d);
    CHECK(n == 2, "moved dir has %d entries", n);
    CHECK_RC(benchfs_opendir(fs, "/", &d), 0);
    int has_t = 0;
    while (benchfs_readdir(d, &e) == 1)
        has_t |= !strcmp(e.name, "t");
    benchfs_closedir(d);
    CHECK(!has_t, "old name still listed in /");
    /* Directory over a non-empty directory / a file over a directory. */
    CHECK_RC(benchfs_mkdir(fs, "/e", 0755), 0);
    CHECK_RC(benchfs_rename(fs, "/e", "/dst"), -ENOTEMPTY);
    CHECK_RC(benchfs_rename(fs, "/r2", "/dst"), -EISDIR);
    CHECK_RC(benchfs_rename(fs, "/e", "/r2"), -ENOTDIR);
}

static void test_statfs(benchfs_t *fs)
{
    struct statvfs v;
    CHECK_RC(benchfs_statfs(fs, &v), 0);
    CHECK(v.f_blocks > 0 && v.f_bavail <= v.f_blocks && v.f_bsize > 0, "statfs sums");
    double lat[64];
    CHECK((unsigned)benchfs_ping(fs, lat) == benchfs_nservers(fs), "every server answers ping");
}

int main(int argc, char **argv)
{
    int nfiles = argc > 1 ? atoi(argv[1]) : 10000;
    alarm(240);
    benchfs_t *fs;
    int rc = benchfs_init(&fs, NULL);
    if (rc < 0) {
        fprintf(stderr, "benchfs_init: %s\n", strerror(-rc));
        return 1;
    }
    test_namespace(fs);
    test_data(fs);
    test_small_files(fs);
    test_rename(fs);
    test_statfs(fs);
    test_bigdir(fs, nfiles);
    printf("fs_api_test: %u servers, %d failures\n", benchfs_nservers(fs), failures);
    benchfs_finalize(fs);
    return failures ? 1 : 0;
}
