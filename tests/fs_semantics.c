/* Multi-process file semantics against running servers ($BENCHFS_REGISTRY):
 * every process is a separate client (its own benchfs_init), as separate
 * programs or nodes would be.
 *
 *   fs_semantics size          a write after another process truncated the
 *                              file is recorded (size and bytes), and reads
 *                              see the shrunken size
 *   fs_semantics append [N]    8 processes x N appends (default 1000) of 1 B
 *                              to 100 KiB records into one O_APPEND file:
 *                              every record present once and whole
 *
 * Exit 0 when every check held; messages on stderr say which did not. */
#include "client/benchfs.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NPROC 8

static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                           \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

static benchfs_t *connect_fs(void)
{
    benchfs_t *fs;
    int rc = benchfs_init(&fs, NULL);
    if (rc < 0) {
        fprintf(stderr, "benchfs_init: %s\n", strerror(-rc));
        _exit(99);
    }
    return fs;
}

/* Run fn(arg) in a child process with its own client; its exit status. */
static int in_child(int (*fn)(benchfs_t *, void *), void *arg)
{
    pid_t p = fork();
    if (p < 0)
        return -1;
    if (p == 0) {
        benchfs_t *fs = connect_fs();
        int rc = fn(fs, arg);
        benchfs_finalize(fs);
        _exit(rc);
    }
    int st;
    if (waitpid(p, &st, 0) != p || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static void fill(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 9));
}

/* ---- size ---- */

struct trunc_arg {
    const char *path;
    off_t size;
    int via_fd;
};

static int do_truncate(benchfs_t *fs, void *a_)
{
    struct trunc_arg *a = a_;
    if (!a->via_fd)
        return benchfs_truncate(fs, a->path, a->size) == 0 ? 0 : 1;
    benchfs_file_t *f;
    if (benchfs_open(fs, a->path, O_WRONLY, 0, &f) < 0)
        return 2;
    int rc = benchfs_ftruncate(f, a->size);
    benchfs_close(f);
    return rc == 0 ? 0 : 3;
}

struct expect_arg {
    const char *path;
    off_t size;
    const unsigned char *want; /* size bytes */
};

/* Another process sees exactly the size and the bytes. */
static int do_expect(benchfs_t *fs, void *a_)
{
    struct expect_arg *a = a_;
    struct stat st;
    if (benchfs_stat(fs, a->path, &st) < 0 || st.st_size != a->size) {
        fprintf(stderr, "  %s: other process stats size %ld, want %ld\n", a->path,
                (long)st.st_size, (long)a->size);
        return 1;
    }
    benchfs_file_t *f;
    if (benchfs_open(fs, a->path, O_RDONLY, 0, &f) < 0)
        return 2;
    size_t cap = (size_t)a->size + 65536;
    unsigned char *b = malloc(cap);
    ssize_t r = benchfs_pread(f, b, cap, 0);
    int rc = 0;
    if (r != a->size || memcmp(b, a->want, (size_t)a->size)) {
        fprintf(stderr, "  %s: other process reads %zd bytes, want %ld%s\n", a->path, r,
                (long)a->size, r == a->size ? " (content differs)" : "");
        rc = 3;
    }
    free(b);
    benchfs_close(f);
    return rc;
}

static void size_case(benchfs_t *fs, const char *path, int via_fd)
{
    const size_t big = 1 << 20, small = 4096;
    unsigned char *b = malloc(big), *r = malloc(big);
    benchfs_file_t *f;
    int rc = benchfs_open(fs, path, O_CREAT | O_TRUNC | O_RDWR, 0644, &f);
    CHECK(rc == 0, "open %s: %d", path, rc);
    if (rc < 0)
        goto out;
    fill(b, big, 1);
    CHECK(benchfs_pwrite(f, b, big, 0) == (ssize_t)big, "%s: first write", path);
    CHECK(benchfs_pread(f, r, big, 0) == (ssize_t)big && !memcmp(r, b, big), "%s: read back", path);
    /* B truncates to 0 behind A's back. */
    struct trunc_arg ta = {path, 0, via_fd};
    CHECK(in_child(do_truncate, &ta) == 0, "%s: truncate by another process", path);
    /* A's reads see the new size, not the one A saw. */
    CHECK(benchfs_pread(f, r, small, (off_t)(big - small)) == 0, "%s: read past shrunk size", path);
    CHECK(benchfs_pread(f, r, big, 0) == 0, "%s: read of a file shrunk to 0", path);
    struct stat st;
    CHECK(benchfs_fstat(f, &st) == 0 && st.st_size == 0, "%s: fstat after truncate: %ld", path,
          (long)st.st_size);
    /* A writes 4 KiB at 0, below the size it saw before. */
    fill(b, small, 2);
    CHECK(benchfs_pwrite(f, b, small, 0) == (ssize_t)small, "%s: write after truncate", path);
    CHECK(benchfs_fstat(f, &st) == 0 && st.st_size == (off_t)small,
          "%s: size after the write: %ld, want 4096", path, (long)st.st_size);
    memset(r, 0xee, big);
    CHECK(benchfs_pread(f, r, big, 0) == (ssize_t)small && !memcmp(r, b, small),
          "%s: A reads its 4 KiB back", path);
    struct expect_arg ea = {path, (off_t)small, b};
    CHECK(in_child(do_expect, &ea) == 0, "%s: another process sees A's 4 KiB", path);

    /* Truncate to the middle, write inside and beyond. */
    fill(b, big, 3);
    CHECK(benchfs_pwrite(f, b, big, 0) == (ssize_t)big, "%s: rewrite", path);
    ta.size = 100000;
    CHECK(in_child(do_truncate, &ta) == 0, "%s: truncate to 100000", path);
    CHECK(benchfs_pread(f, r, big, 0) == 100000 && !memcmp(r, b, 100000),
          "%s: read cut at the new size", path);
    CHECK(benchfs_pwrite(f, b + 8192, small, 8192) == (ssize_t)small, "%s: write inside", path);
    CHECK(benchfs_fstat(f, &st) == 0 && st.st_size == 100000, "%s: size kept: %ld", path,
          (long)st.st_size);
    ea.size = 100000;
    CHECK(in_child(do_expect, &ea) == 0, "%s: another process sees 100000 bytes", path);
    benchfs_close(f);
    CHECK(benchfs_unlink(fs, path) == 0, "unlink %s", path);
out:
    free(b);
    free(r);
}

static int test_size(benchfs_t *fs)
{
    /* Several names: with 3 servers the last chunk's server is the
     * metadata server for some (the size rides on the write) and not for
     * others (a GROW alongside). */
    for (int i = 0; i < 6; i++) {
        char p[64];
        snprintf(p, sizeof(p), "/size%d", i);
        size_case(fs, p, i & 1);
    }
    return failures;
}

/* ---- append ---- */

struct rec {
    uint32_t magic, writer, seq, len; /* len: payload bytes after the header */
    uint64_t sum;
};
#define REC_MAGIC 0xA99E17D5u
#define MAX_PAYLOAD (100u << 10)

static uint64_t fnv(const unsigned char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

/* Payload length of record seq of writer w: 1 B to 100 KiB, log-uniform
 * (mostly small, some large), the same in the writer and the checker. */
static uint32_t rec_len(unsigned w, unsigned seq)
{
    uint64_t x = (uint64_t)(w + 1) * 0x9E3779B97F4A7C15ull ^ (uint64_t)(seq + 1) * 0xBF58476D1CE4E5B9ull;
    x ^= x >> 31;
    x *= 0x94D049BB133111EBull;
    x ^= x >> 29;
    double u = (double)(x >> 11) / (double)(1ull << 53);
    uint32_t n = (uint32_t)exp(u * log((double)MAX_PAYLOAD));
    return n < 1 ? 1 : n > MAX_PAYLOAD ? MAX_PAYLOAD : n;
}

struct app_arg {
    unsigned writer, n;
};

static int appender(benchfs_t *fs, void *a_)
{
    struct app_arg *a = a_;
    benchfs_file_t *f;
    if (benchfs_open(fs, "/append", O_WRONLY | O_APPEND, 0, &f) < 0)
        return 2;
    unsigned char *b = malloc(sizeof(struct rec) + MAX_PAYLOAD);
    off_t last = -1;
    int rc = 0;
    for (unsigned s = 0; s < a->n && rc == 0; s++) {
        struct rec h = {REC_MAGIC, a->writer, s, rec_len(a->writer, s), 0};
        unsigned char *pl = b + sizeof(h);
        fill(pl, h.len, a->writer * 100003u + s);
        h.sum = fnv(pl, h.len);
        memcpy(b, &h, sizeof(h));
        size_t tot = sizeof(h) + h.len;
        ssize_t w;
        off_t at = -1;
        switch ((a->writer + s) % 3) {
        case 0: /* positional write on an O_APPEND file: appends, as Linux */
            w = benchfs_pwrite(f, b, tot, 0);
            break;
        case 1:
            w = benchfs_append(f, b, tot, &at);
            break;
        default: {
            struct iovec iov[2] = {{b, sizeof(h)}, {pl, h.len}};
            w = benchfs_appendv(f, iov, 2, &at);
        }
        }
        if (w != (ssize_t)tot) {
            fprintf(stderr, "  writer %u: append %u of %zu bytes: %zd\n", a->writer, s, tot, w);
            rc = 3;
        } else if (at != -1) {
            if (at <= last) {
                fprintf(stderr, "  writer %u: append %u went to %ld, before %ld\n", a->writer, s,
                        (long)at, (long)last);
                rc = 4;
            }
            last = at;
        }
    }
    free(b);
    benchfs_close(f);
    return rc;
}

static int test_append(benchfs_t *fs, unsigned n)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, "/append", O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644, &f);
    CHECK(rc == 0, "create /append: %d", rc);
    if (rc < 0)
        return failures;
    benchfs_close(f);
    pid_t pids[NPROC];
    struct app_arg args[NPROC];
    for (unsigned w = 0; w < NPROC; w++) {
        args[w] = (struct app_arg){w, n};
        pids[w] = fork();
        if (pids[w] == 0) {
            benchfs_t *cfs = connect_fs();
            int r = appender(cfs, &args[w]);
            benchfs_finalize(cfs);
            _exit(r);
        }
    }
    for (unsigned w = 0; w < NPROC; w++) {
        int st;
        CHECK(waitpid(pids[w], &st, 0) == pids[w] && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "appender %u failed (status %d)", w, st);
    }
    uint64_t want = 0;
    for (unsigned w = 0; w < NPROC; w++)
        for (unsigned s = 0; s < n; s++)
            want += sizeof(struct rec) + rec_len(w, s);
    struct stat st;
    CHECK(benchfs_stat(fs, "/append", &st) == 0 && (uint64_t)st.st_size == want,
          "append file size %ld, want %lu", (long)st.st_size, (unsigned long)want);
    if (failures)
        return failures;
    unsigned char *all = malloc(want ? want : 1), *seen = calloc((size_t)NPROC * n, 1);
    rc = benchfs_open(fs, "/append", O_RDONLY, 0, &f);
    ssize_t got = rc == 0 ? benchfs_pread(f, all, want, 0) : rc;
    CHECK(got == (ssize_t)want, "read of the append file: %zd of %lu", got, (unsigned long)want);
    uint64_t pos = 0;
    unsigned bad = 0;
    while (got == (ssize_t)want && pos < want && bad < 10) {
        struct rec h;
        if (want - pos < sizeof(h)) {
            CHECK(0, "torn record header at %lu", (unsigned long)pos);
            break;
        }
        memcpy(&h, all + pos, sizeof(h));
        if (h.magic != REC_MAGIC || h.writer >= NPROC || h.seq >= n ||
            h.len != rec_len(h.writer, h.seq) || want - pos - sizeof(h) < h.len ||
            fnv(all + pos + sizeof(h), h.len) != h.sum) {
            CHECK(0, "bad record at %lu (magic %x writer %u seq %u len %u)", (unsigned long)pos,
                  h.magic, h.writer, h.seq, h.len);
            bad++;
            break; /* records are not self-synchronising: stop at the first */
        }
        unsigned char *sn = &seen[(size_t)h.writer * n + h.seq];
        CHECK(!*sn, "record %u/%u twice (second at %lu)", h.writer, h.seq, (unsigned long)pos);
        *sn = 1;
        pos += sizeof(h) + h.len;
    }
    unsigned missing = 0;
    for (size_t i = 0; i < (size_t)NPROC * n; i++)
        missing += !seen[i];
    CHECK(missing == 0, "%u of %u records missing", missing, NPROC * n);
    if (rc == 0)
        benchfs_close(f);
    free(all);
    free(seen);
    CHECK(benchfs_unlink(fs, "/append") == 0, "unlink /append");
    return failures;
}

int main(int argc, char **argv)
{
    alarm(600);
    if (argc < 2) {
        fprintf(stderr, "usage: fs_semantics size|append [N]\n");
        return 2;
    }
    benchfs_t *fs = connect_fs();
    int rc;
    if (!strcmp(argv[1], "size"))
        rc = test_size(fs);
    else if (!strcmp(argv[1], "append"))
        rc = test_append(fs, argc > 2 ? (unsigned)atoi(argv[2]) : 1000);
    else
        rc = (fprintf(stderr, "unknown test %s\n", argv[1]), 2);
    benchfs_finalize(fs);
    if (rc == 0)
        printf("PASS: fs_semantics %s\n", argv[1]);
    return rc ? 1 : 0;
}
