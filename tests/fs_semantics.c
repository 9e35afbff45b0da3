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
 *   fs_semantics fd            an open descriptor names its file: after
 *                              another process renamed it or its parent,
 *                              every call through it acts on that file; once
 *                              another process unlinked it, ESTALE (and a new
 *                              file of that name is never touched)
 *   fs_semantics unlinked      a file unlinked (and its name re-created) by
 *                              another process while 5 processes hold it: they
 *                              keep reading and writing it (nlink 0), one
 *                              holder SIGKILLed; a rename over an open file
 *                              keeps it for its holder; after the last close the
 *                              servers reclaim it; a client SIGKILLed right
 *                              after unlinking a 12 MiB file: reclaimed too
 *   fs_semantics late          pieces of a write still on their way when
 *                              the file died (raw WRITEs of its id to every
 *                              chunk server, small and chunk-sized, inside
 *                              and past its old size, after the servers freed
 *                              it): each refused with ESTALE, nothing made
 *                              (fs_semantics.sh then finds no chunk left)
 *   fs_semantics renamekill [N] a file renamed back and forth between two
 *                              directories on different servers by a process
 *                              SIGKILLed at a random moment, N rounds (30):
 *                              afterwards it has one or two names, never a
 *                              name of a dead inode: two names mean nlink 2,
 *                              and the other name still reads after one of
 *                              them is unlinked; prints "# leaked L" (one name
 *                              with nlink 2: the inode will outlive its names)
 *   fs_semantics reclaimed [S] wait (S seconds, default 30) until no server
 *                              has a dead file to reap or a file open
 *   fs_semantics idle [MS]     a create after MS (1500) idle milliseconds
 *                              behind a CLOSE nobody waited for answers at
 *                              once (BENCHFS_RPC_IDLE_MS below the servers'
 *                              limit: the endpoint is closed as idle)
 *   fs_semantics link          hard links: nlink, shared data, one name
 *                              removed keeps the others
 *   fs_semantics types [N]     mkdir over a file and O_CREAT over a directory
 *                              fail (EEXIST, EISDIR) and leave every entry's
 *                              d_type equal to its stat type (N rounds)
 *   fs_semantics excl [N]      8 processes O_CREAT|O_EXCL one name, N rounds:
 *                              exactly one wins each
 *   fs_semantics storm [S]     8 processes create/unlink/rename/mkdir/rmdir
 *                              50 names for S seconds (default 10): then every
 *                              listed entry can be stat'ed, with its type, and
 *                              every name that can be stat'ed is listed
 *
 * Exit 0 when every check held; messages on stderr say which did not. */
#include "client/benchfs.h"
#include "client/client_internal.h" /* late: raw WRITEs, as pieces in flight */
#include "common/placement.h"
#include "common/proto.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
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

/* Run fn(arg) in another process with its own client; its exit status.
 * The child is this program again (fork + exec at once, arguments as
 * hex): a forked child that starts UCX itself hung now and then on a lock
 * UCX's async thread held in the parent at the fork. So every arg struct
 * holds values, never pointers. */
typedef int (*child_fn)(benchfs_t *, void *);
static int in_child_(child_fn fn, const void *arg, size_t len);
#define in_child(fn, arg) in_child_(fn, arg, sizeof(*(arg)))

static void fill(unsigned char *b, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++)
        b[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 9));
}

/* ---- size ---- */

struct trunc_arg {
    char path[64];
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
    char path[64];
    off_t size;
    unsigned seed; /* the bytes are fill(size, seed) */
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
    unsigned char *b = malloc(cap), *want = malloc(cap);
    fill(want, (size_t)a->size, a->seed);
    ssize_t r = benchfs_pread(f, b, cap, 0);
    int rc = 0;
    if (r != a->size || memcmp(b, want, (size_t)a->size)) {
        fprintf(stderr, "  %s: other process reads %zd bytes, want %ld%s\n", a->path, r,
                (long)a->size, r == a->size ? " (content differs)" : "");
        rc = 3;
    }
    free(b);
    free(want);
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
    struct trunc_arg ta = {.size = 0, .via_fd = via_fd};
    snprintf(ta.path, sizeof(ta.path), "%s", path);
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
    struct expect_arg ea = {.size = (off_t)small, .seed = 2};
    snprintf(ea.path, sizeof(ea.path), "%s", path);
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
    ea.seed = 3;
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

static pid_t spawn_self(const char *what, const char *path, unsigned idx, int doomed, int ready,
                        int go);

static int test_append(benchfs_t *fs, unsigned n)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, "/append", O_CREAT | O_TRUNC | O_WRONLY | O_APPEND, 0644, &f);
    CHECK(rc == 0, "create /append: %d", rc);
    if (rc < 0)
        return failures;
    benchfs_close(f);
    pid_t pids[NPROC];
    for (unsigned w = 0; w < NPROC; w++) {
        /* A fresh process, not a fork of this one that holds a client
         * (see spawn_self). */
        pids[w] = spawn_self("append", "-", w, (int)n, -1, -1);
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

/* ---- fd ---- */

struct op_arg {
    char a[64], b[64];
    int op; /* 0 rename a->b, 1 unlink a, 2 create a, 3 mkdir a */
};

static int do_op(benchfs_t *fs, void *a_)
{
    struct op_arg *a = a_;
    benchfs_file_t *f;
    int rc;
    switch (a->op) {
    case 0: rc = benchfs_rename(fs, a->a, a->b); break;
    case 1: rc = benchfs_unlink(fs, a->a); break;
    case 2:
        rc = benchfs_open(fs, a->a, O_CREAT | O_EXCL | O_RDWR, 0644, &f);
        if (rc == 0)
            benchfs_close(f);
        break;
    default: rc = benchfs_mkdir(fs, a->a, 0755); break;
    }
    if (rc < 0)
        fprintf(stderr, "  other process: op %d on %s: %s\n", a->op, a->a, strerror(-rc));
    return rc < 0;
}

static int other(int op, const char *a, const char *b)
{
    struct op_arg x = {.op = op};
    snprintf(x.a, sizeof(x.a), "%s", a);
    snprintf(x.b, sizeof(x.b), "%s", b ? b : "");
    return in_child(do_op, &x);
}

struct fdcheck_arg {
    char path[64];
    off_t size;
    mode_t perm;
    int64_t mtime;
    unsigned head; /* nonzero: the first 64 bytes are fill(64, head) */
};

static int do_fdcheck(benchfs_t *fs, void *a_)
{
    struct fdcheck_arg *a = a_;
    struct stat st;
    int rc = benchfs_stat(fs, a->path, &st);
    if (rc < 0 || st.st_size != a->size || (a->perm && (st.st_mode & 07777) != a->perm) ||
        (a->mtime && st.st_mtim.tv_sec != a->mtime)) {
        fprintf(stderr, "  %s seen by another process: rc %d size %ld mode %o mtime %ld\n", a->path,
                rc, (long)st.st_size, st.st_mode, (long)st.st_mtim.tv_sec);
        return 1;
    }
    if (!a->head)
        return 0;
    benchfs_file_t *f;
    unsigned char b[64], want[64];
    fill(want, 64, a->head);
    if (benchfs_open(fs, a->path, O_RDONLY, 0, &f) < 0)
        return 2;
    rc = benchfs_pread(f, b, 64, 0) == 64 && !memcmp(b, want, 64) ? 0 : 3;
    benchfs_close(f);
    return rc;
}

/* Every call through f acts on the file now at `now`. */
static void fd_ops(benchfs_t *fs, benchfs_file_t *f, const char *now, unsigned seed)
{
    (void)fs;
    unsigned char w[64], r[64];
    fill(w, sizeof(w), seed);
    CHECK(benchfs_pwrite(f, w, 64, 0) == 64, "%s: pwrite through the fd", now);
    CHECK(benchfs_pread(f, r, 64, 0) == 64 && !memcmp(r, w, 64), "%s: pread through the fd", now);
    CHECK(benchfs_fsync(f) == 0, "%s: fsync through the fd", now);
    CHECK(benchfs_ftruncate(f, 100000 + seed) == 0, "%s: ftruncate through the fd", now);
    struct stat st;
    CHECK(benchfs_fstat(f, &st) == 0 && st.st_size == 100000 + seed, "%s: fstat through the fd",
          now);
    CHECK(benchfs_fchmod(f, 0600 + seed % 8) == 0, "%s: fchmod through the fd", now);
    struct timespec ts[2] = {{.tv_sec = 1000}, {.tv_sec = 2000 + seed}};
    CHECK(benchfs_futimens(f, ts) == 0, "%s: futimens through the fd", now);
    struct fdcheck_arg c = {.size = 100000 + seed, .perm = 0600 + seed % 8, .mtime = 2000 + seed,
                            .head = seed};
    snprintf(c.path, sizeof(c.path), "%s", now);
    CHECK(in_child(do_fdcheck, &c) == 0, "%s: another process sees what the fd did", now);
}

/* This client's queued closes reach the servers (benchfs_server_reclaim
 * sends them first). */
static void flush_closes(benchfs_t *fs)
{
    unsigned r, o;
    benchfs_server_reclaim(fs, 0, &r, &o);
}

static int test_fd(benchfs_t *fs)
{
    benchfs_file_t *f;
    benchfs_mkdir(fs, "/fdd", 0755);
    CHECK(benchfs_open(fs, "/fdd/f", O_CREAT | O_EXCL | O_RDWR, 0644, &f) == 0, "create /fdd/f");
    unsigned char big[200000];
    fill(big, sizeof(big), 7);
    CHECK(benchfs_pwrite(f, big, sizeof(big), 0) == (ssize_t)sizeof(big), "first write");
    CHECK(other(0, "/fdd/f", "/fdd/g") == 0, "rename of the file by another process");
    fd_ops(fs, f, "/fdd/g", 1);
    CHECK(other(0, "/fdd", "/fdd2") == 0, "rename of the parent by another process");
    fd_ops(fs, f, "/fdd2/g", 2);
    /* A new file under the old names is never touched by the fd. */
    CHECK(other(3, "/fdd", NULL) == 0 && other(2, "/fdd/f", NULL) == 0, "new /fdd/f");
    fd_ops(fs, f, "/fdd2/g", 3);
    struct fdcheck_arg empty = {.path = "/fdd/f"};
    CHECK(in_child(do_fdcheck, &empty) == 0, "the new /fdd/f is untouched");
    /* Unlinked by another process, a new file created under its name: the
     * fd keeps its own file (unlinked while open: POSIX) and the new file
     * stays empty. */
    CHECK(other(1, "/fdd2/g", NULL) == 0 && other(2, "/fdd2/g", NULL) == 0,
          "unlink and re-create by another process");
    unsigned char w[16] = {1}, r16[16];
    struct stat st;
    CHECK(benchfs_pwrite(f, w, 16, 0) == 16, "write through an unlinked fd");
    CHECK(benchfs_pread(f, r16, 16, 0) == 16 && !memcmp(r16, w, 16), "read through an unlinked fd");
    CHECK(benchfs_fstat(f, &st) == 0 && st.st_nlink == 0, "fstat through an unlinked fd: nlink 0");
    CHECK(benchfs_ftruncate(f, 0) == 0, "ftruncate through an unlinked fd");
    CHECK(benchfs_append(f, w, 16, NULL) == 16, "append through an unlinked fd");
    CHECK(benchfs_fstat(f, &st) == 0 && st.st_size == 16, "size through an unlinked fd");
    struct fdcheck_arg empty2 = {.path = "/fdd2/g"};
    CHECK(in_child(do_fdcheck, &empty2) == 0, "the new /fdd2/g is untouched");
    uint64_t orphan = benchfs_file_id(f);
    benchfs_close(f);
    flush_closes(fs);
    /* The last close: the orphan is gone (after the close arrived). */
    benchfs_file_t *o = NULL;
    int orc = 0;
    for (int i = 0; i < 200; i++) {
        if ((orc = benchfs_open_id(fs, orphan, O_RDONLY, &o)) < 0)
            break;
        benchfs_close(o);
        flush_closes(fs);
        usleep(10000);
    }
    CHECK(orc == -ESTALE, "an unlinked file is gone after its last close (%d)", orc);
    /* Open by id: the same file; ESTALE once it is gone. */
    CHECK(benchfs_open(fs, "/fdd2/g", O_RDWR, 0, &f) == 0, "open /fdd2/g");
    uint64_t id = benchfs_file_id(f);
    benchfs_file_t *g;
    CHECK(benchfs_open_id(fs, id, O_RDWR, &g) == 0, "open by id");
    CHECK(benchfs_pwrite(g, w, 16, 0) == 16 && benchfs_fstat(f, &st) == 0 && st.st_size == 16,
          "a write by id shows through the path's fd");
    benchfs_close(g);
    benchfs_close(f);
    flush_closes(fs); /* closes travel in batches (client/close_refs.c) */
    CHECK(other(1, "/fdd2/g", NULL) == 0, "unlink /fdd2/g");
    CHECK(benchfs_open_id(fs, id, O_RDONLY, &g) == -ESTALE, "open of a gone id");
    benchfs_unlink(fs, "/fdd/f");
    CHECK(benchfs_rmdir(fs, "/fdd") == 0 && benchfs_rmdir(fs, "/fdd2") == 0, "clean up");
    return failures;
}

/* ---- unlinked while open ---- */

#define UL_BIG 1500000   /* spans many 64 KiB chunks on every server */
#define UL_REGION 100000 /* each holder's own bytes beyond UL_BIG */
#define UL_HOLDERS 4

struct holder_arg {
    const char *path;
    int ready, go;   /* pipes: "opened" to the parent, "unlinked" from it */
    unsigned idx;
    int doomed;      /* SIGKILLed by the parent while holding the file */
};

/* Open, say so, wait for the unlink, then use the unlinked file. */
static int holder(benchfs_t *fs, void *a_)
{
    struct holder_arg *a = a_;
    benchfs_file_t *f;
    char c = 'r';
    if (benchfs_open(fs, a->path, O_RDWR, 0, &f) < 0)
        return 10;
    uint64_t id = benchfs_file_id(f);
    if (write(a->ready, &c, 1) != 1 || read(a->go, &c, 1) != 1)
        return 11;
    if (a->doomed)
        for (;;)
            pause();
    static unsigned char want[UL_BIG], got[UL_BIG];
    fill(want, UL_BIG, 3);
    int bad = 0;
    struct stat st;
    if (benchfs_fstat(f, &st) < 0 || st.st_nlink != 0 || st.st_size < UL_BIG)
        bad |= 1;
    if (benchfs_pread(f, got, UL_BIG, 0) != UL_BIG || memcmp(got, want, UL_BIG))
        bad |= 2;
    fill(want, UL_REGION, 20 + a->idx);
    off_t at = UL_BIG + (off_t)a->idx * UL_REGION;
    if (benchfs_pwrite(f, want, UL_REGION, at) != UL_REGION || benchfs_fsync(f) < 0)
        bad |= 4;
    if (benchfs_pread(f, got, UL_REGION, at) != UL_REGION || memcmp(got, want, UL_REGION))
        bad |= 8;
    /* The name now names another file, never this one. */
    benchfs_file_t *g;
    if (benchfs_open(fs, a->path, O_RDONLY, 0, &g) == 0) {
        if (benchfs_file_id(g) == id)
            bad |= 16;
        benchfs_close(g);
    }
    benchfs_close(f);
    return bad;
}

/* A child that runs this program again: fork + exec at once. A forked
 * child that starts UCX itself hung now and then on a lock UCX's async
 * thread held in the parent at the fork. */
static pid_t spawn_self(const char *what, const char *path, unsigned idx, int doomed, int ready,
                        int go)
{
    char a[4][24];
    snprintf(a[0], sizeof(a[0]), "%u", idx);
    snprintf(a[1], sizeof(a[1]), "%d", doomed);
    snprintf(a[2], sizeof(a[2]), "%d", ready);
    snprintf(a[3], sizeof(a[3]), "%d", go);
    pid_t p = fork();
    if (p == 0) {
        execl("/proc/self/exe", "fs_semantics", "child", what, path, a[0], a[1], a[2], a[3],
              (char *)NULL);
        _exit(98);
    }
    return p;
}

static int run_self(const char *what, const char *path)
{
    pid_t p = spawn_self(what, path, 0, 0, -1, -1);
    int st;
    if (p < 0 || waitpid(p, &st, 0) != p)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int reaped_st(pid_t p)
{
    int st;
    if (waitpid(p, &st, 0) != p)
        return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Wait until no server has a dead file left to reap (and, with no_open,
 * no open file): the seconds it took, or -1 after limit seconds. */
static double wait_reclaimed(benchfs_t *fs, int no_open, double limit)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        unsigned busy = 0;
        for (unsigned i = 0; i < benchfs_nservers(fs); i++) {
            unsigned reaping = 1, open_files = 1;
            if (benchfs_server_reclaim(fs, i, &reaping, &open_files) < 0)
                busy++;
            busy += reaping + (no_open ? open_files : 0);
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        double el = (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;
        if (!busy)
            return el;
        if (el > limit)
            return -1;
        usleep(20000);
    }
}

/* A write that was on its way when its file died: the pieces reach the
 * chunk servers after the unlink freed the chunks (a writer the home did not
 * count as a holder, or a piece delayed in the network). Sent here as raw
 * WRITEs of the dead id, which is what such pieces are. */
static int test_late(benchfs_t *fs)
{
    unsigned ns = benchfs_nservers(fs);
    uint64_t cs = benchfs_chunk_size(fs), nchunks = 2 * (uint64_t)ns + 1;
    unsigned char *b = malloc(cs);
    benchfs_file_t *f;
    struct stat st;
    if (!b)
        return 1;
    fill(b, cs, 11);
    CHECK(benchfs_open(fs, "/late.f", O_CREAT | O_EXCL | O_RDWR, 0644, &f) == 0, "create /late.f");
    for (uint64_t i = 0; i < nchunks; i++)
        CHECK(benchfs_pwrite(f, b, cs, (off_t)(i * cs)) == (ssize_t)cs, "write chunk %llu",
              (unsigned long long)i);
    CHECK(benchfs_fstat(f, &st) == 0, "fstat /late.f");
    uint64_t fid = (uint64_t)st.st_ino;
    benchfs_close(f);
    CHECK(benchfs_unlink(fs, "/late.f") == 0, "unlink /late.f");
    CHECK(wait_reclaimed(fs, 1, 15) >= 0, "/late.f was not reclaimed within 15 s");
    /* Every chunk the file had and some past it (a write that was
     * extending it), small values and chunk files alike. */
    unsigned refused = 0, sent = 0;
    for (uint64_t i = 0; i < nchunks + ns; i++) {
        size_t lens[2] = {100, (size_t)cs};
        for (int k = 0; k < 2; k++) {
            struct iovec iov = {b, lens[k]};
            bfs_rpc_call_t c = {.server = (int)bfs_place_chunk(fid, i, ns),
                                .rpc_id = BFS_OP_WRITE, .arg0 = fid, .arg1 = i,
                                .req_iov = &iov, .req_iovcnt = 1};
            int rc = bfs_rpc_call(fs->rpc, &c);
            sent++;
            refused += rc == -ESTALE;
            CHECK(rc == -ESTALE, "late write of %zu bytes to chunk %llu of the dead file: %d",
                  lens[k], (unsigned long long)i, rc);
        }
    }
    printf("# late pieces of a dead file: %u of %u refused with ESTALE\n", refused, sent);
    free(b);
    return failures != 0;
}

/* Two directories whose entries live on different servers (any two on 1
 * server). */
static void rk_dirs(benchfs_t *fs, char a[16], char b[16])
{
    snprintf(a, 16, "/rk0");
    snprintf(b, 16, "/rk1");
    char fa[32];
    snprintf(fa, sizeof(fa), "%s/f", a);
    unsigned sa = bfs_cl_parent_server(fs, fa, strlen(fa));
    for (int i = 1; i < 64; i++) {
        char fb[32];
        snprintf(b, 16, "/rk%d", i);
        snprintf(fb, sizeof(fb), "%s/f", b);
        if (bfs_cl_parent_server(fs, fb, strlen(fb)) != sa)
            return;
    }
}

/* The renamer: A/f -> B/f -> A/f ... until killed (bounded). */
static int renamer(benchfs_t *fs, int ready)
{
    char a[16], b[16], fa[32], fb[32];
    rk_dirs(fs, a, b);
    snprintf(fa, sizeof(fa), "%s/f", a);
    snprintf(fb, sizeof(fb), "%s/f", b);
    struct stat st;
    benchfs_stat(fs, fa, &st); /* connected: now the kill can come */
    if (write(ready, "r", 1) != 1)
        return 1;
    for (int i = 0; i < 200000; i++)
        if (benchfs_rename(fs, i % 2 ? fb : fa, i % 2 ? fa : fb) < 0)
            return 2;
    return 0;
}

/* The names after the renamer died. Its last request may still be on its
 * way to a server when waitpid returns (the kill does not recall a sent
 * message), so two stats could straddle it: look until two looks 10 ms
 * apart agree (bounded: 2 s). */
static void rk_settled(benchfs_t *fs, const char *fa, const char *fb, int *ha, struct stat *sa,
                       int *hb, struct stat *sb)
{
    for (int i = 0; i < 200; i++) {
        *ha = benchfs_stat(fs, fa, sa) == 0;
        *hb = benchfs_stat(fs, fb, sb) == 0;
        usleep(10000);
        struct stat ta, tb;
        int ga = benchfs_stat(fs, fa, &ta) == 0, gb = benchfs_stat(fs, fb, &tb) == 0;
        if (ga == *ha && gb == *hb && (!ga || (ta.st_ino == sa->st_ino && ta.st_nlink == sa->st_nlink)) &&
            (!gb || (tb.st_ino == sb->st_ino && tb.st_nlink == sb->st_nlink)))
            return;
    }
}

static int test_renamekill(benchfs_t *fs, unsigned rounds)
{
    char a[16], b[16], fa[32], fb[32];
    unsigned char data[4096], got[4096];
    rk_dirs(fs, a, b);
    snprintf(fa, sizeof(fa), "%s/f", a);
    snprintf(fb, sizeof(fb), "%s/f", b);
    CHECK(benchfs_mkdir(fs, a, 0755) == 0 && benchfs_mkdir(fs, b, 0755) == 0, "mkdir %s %s", a, b);
    unsigned both = 0, leaked = 0;
    srand((unsigned)getpid());
    for (unsigned r = 0; r < rounds && !failures; r++) {
        benchfs_file_t *f;
        fill(data, sizeof(data), r);
        CHECK(benchfs_open(fs, fa, O_CREAT | O_EXCL | O_RDWR, 0644, &f) == 0, "create %s", fa);
        CHECK(benchfs_pwrite(f, data, sizeof(data), 0) == (ssize_t)sizeof(data), "write %s", fa);
        benchfs_close(f);
        int ready[2];
        if (pipe(ready) < 0)
            return 1;
        pid_t kid = spawn_self("renamer", "-", r, 0, ready[1], -1);
        close(ready[1]);
        char c;
        CHECK(read(ready[0], &c, 1) == 1, "renamer %u ready", r);
        close(ready[0]);
        usleep((useconds_t)(rand() % 20000));
        kill(kid, SIGKILL);
        waitpid(kid, NULL, 0);
        struct stat sa, sb;
        int ha, hb;
        rk_settled(fs, fa, fb, &ha, &sa, &hb, &sb);
        CHECK(ha || hb, "round %u: the file has no name left", r);
        if (ha && hb) {
            both++;
            CHECK(sa.st_ino == sb.st_ino && sa.st_nlink == 2 && sb.st_nlink == 2,
                  "round %u: two names, nlink %ld/%ld (must be 2: one unlink would leave a "
                  "name of a dead file)", r, (long)sa.st_nlink, (long)sb.st_nlink);
            CHECK(benchfs_unlink(fs, fb) == 0, "unlink %s", fb);
            hb = 0;
        }
        const char *left = ha ? fa : fb;
        struct stat sl;
        CHECK(benchfs_stat(fs, left, &sl) == 0, "round %u: %s after the other name went", r, left);
        if (sl.st_nlink == 2)
            leaked++; /* one name, two links: killed between a link and its name */
        else
            CHECK(sl.st_nlink == 1, "round %u: %s has nlink %ld", r, left, (long)sl.st_nlink);
        memset(got, 0, sizeof(got));
        f = NULL; /* benchfs_open leaves it alone when it fails */
        CHECK(benchfs_open(fs, left, O_RDONLY, 0, &f) == 0 &&
                  benchfs_pread(f, got, sizeof(got), 0) == (ssize_t)sizeof(got) &&
                  !memcmp(got, data, sizeof(data)),
              "round %u: %s reads its data", r, left);
        if (f)
            benchfs_close(f);
        CHECK(benchfs_unlink(fs, left) == 0, "unlink %s", left);
    }
    CHECK(benchfs_rmdir(fs, a) == 0 && benchfs_rmdir(fs, b) == 0, "rmdir %s %s", a, b);
    printf("# renamekill: %u rounds, %u killed with two names, leaked %u\n", rounds, both, leaked);
    return failures != 0;
}

/* Unlink a big file and die at once (SIGKILL): the servers free it. */
static int unlink_and_die(benchfs_t *fs, void *path)
{
    static unsigned char b[4 << 20];
    benchfs_file_t *f;
    fill(b, sizeof(b), 9);
    if (benchfs_open(fs, path, O_CREAT | O_RDWR, 0644, &f) < 0)
        return 1;
    for (int i = 0; i < 3; i++)
        if (benchfs_pwrite(f, b, sizeof(b), (off_t)i * (off_t)sizeof(b)) != (ssize_t)sizeof(b))
            return 2;
    benchfs_close(f);
    if (benchfs_unlink(fs, path) < 0)
        return 3;
    raise(SIGKILL);
    return 4;
}

static int test_unlinked(benchfs_t *fs)
{
    static unsigned char big[UL_BIG], got[UL_BIG];
    benchfs_file_t *f, *mine;
    fill(big, UL_BIG, 3);
    CHECK(benchfs_mkdir(fs, "/ul", 0755) == 0, "mkdir /ul");
    CHECK(benchfs_open(fs, "/ul/f", O_CREAT | O_EXCL | O_RDWR, 0644, &f) == 0, "create /ul/f");
    CHECK(benchfs_pwrite(f, big, UL_BIG, 0) == UL_BIG, "write /ul/f");
    benchfs_close(f);
    /* This process holds it too: the scratch-file pattern in one process. */
    CHECK(benchfs_open(fs, "/ul/f", O_RDWR, 0, &mine) == 0, "open /ul/f");
    int ready[2], go[2];
    if (pipe(ready) < 0 || pipe(go) < 0)
        return 1;
    pid_t kids[UL_HOLDERS + 1];
    for (unsigned i = 0; i <= UL_HOLDERS; i++)
        kids[i] = spawn_self("holder", "/ul/f", i, i == UL_HOLDERS, ready[1], go[0]);
    char c;
    for (unsigned i = 0; i <= UL_HOLDERS; i++)
        CHECK(read(ready[0], &c, 1) == 1, "holder %u ready", i);
    /* Unlinked by another process, and a new file under the name. */
    CHECK(run_self("unlink", "/ul/f") == 0, "unlink /ul/f by another process");
    CHECK(run_self("create", "/ul/f") == 0, "new /ul/f");
    for (unsigned i = 0; i <= UL_HOLDERS; i++)
        CHECK(write(go[1], "g", 1) == 1, "go");
    kill(kids[UL_HOLDERS], SIGKILL);
    for (unsigned i = 0; i <= UL_HOLDERS; i++) {
        int st = reaped_st(kids[i]);
        if (i < UL_HOLDERS)
            CHECK(st == 0, "holder %u used the unlinked file (status %d)", i, st);
    }
    /* Every holder's bytes are in the one file, seen here. */
    struct stat st;
    CHECK(benchfs_fstat(mine, &st) == 0 && st.st_nlink == 0 &&
              st.st_size == UL_BIG + UL_HOLDERS * UL_REGION,
          "fstat of the unlinked file here: nlink %ld size %ld", (long)st.st_nlink,
          (long)st.st_size);
    CHECK(benchfs_pread(mine, got, UL_BIG, 0) == UL_BIG && !memcmp(got, big, UL_BIG),
          "read the unlinked file here");
    for (unsigned i = 0; i < UL_HOLDERS; i++) {
        unsigned char w[UL_REGION];
        fill(w, UL_REGION, 20 + i);
        CHECK(benchfs_pread(mine, got, UL_REGION, UL_BIG + (off_t)i * UL_REGION) == UL_REGION &&
                  !memcmp(got, w, UL_REGION),
              "holder %u's bytes", i);
    }
    CHECK(benchfs_pwrite(mine, big, 4096, 0) == 4096, "write the unlinked file here");
    CHECK(run_self("empty", "/ul/f") == 0, "the new /ul/f is untouched");
    unsigned opened = 0;
    for (unsigned i = 0; i < benchfs_nservers(fs); i++) {
        unsigned r, o;
        if (benchfs_server_reclaim(fs, i, &r, &o) == 0)
            opened += o;
    }
    CHECK(opened >= 1, "the servers count the open file");
    benchfs_close(mine);
    /* The last close (the SIGKILLed holder's reference goes with its
     * process): the file dies and its chunks are freed. */
    double t = wait_reclaimed(fs, 1, 15);
    CHECK(t >= 0, "the unlinked file was not reclaimed within 15 s of its last close");
    printf("# unlinked file reclaimed %.2f s after the last close\n", t);
    /* A client SIGKILLed right after unlinking a 12 MiB file. */
    int kst = run_self("unlink-die", "/ul/big");
    CHECK(kst == 128 + SIGKILL, "unlink_and_die: status %d", kst);
    t = wait_reclaimed(fs, 1, 15);
    CHECK(t >= 0, "a big file unlinked by a killed client was not reclaimed within 15 s");
    printf("# big file unlinked by a killed client reclaimed after %.2f s\n", t);
    /* A rename over an open file: the replaced file stays for its holder. */
    benchfs_file_t *r;
    unsigned char rb[70000];
    fill(rb, sizeof(rb), 5);
    CHECK(benchfs_open(fs, "/ul/r", O_CREAT | O_EXCL | O_RDWR, 0644, &r) == 0 &&
              benchfs_pwrite(r, rb, sizeof(rb), 0) == (ssize_t)sizeof(rb),
          "create /ul/r");
    CHECK(run_self("create", "/ul/x") == 0 && run_self("rename-x-over", "/ul/r") == 0,
          "rename /ul/x over the open /ul/r by another process");
    CHECK(benchfs_pread(r, got, sizeof(rb), 0) == (ssize_t)sizeof(rb) &&
              !memcmp(got, rb, sizeof(rb)) && benchfs_fstat(r, &st) == 0 && st.st_nlink == 0,
          "the replaced file stays for its holder");
    CHECK(run_self("empty", "/ul/r") == 0, "/ul/r names the renamed (empty) file");
    benchfs_close(r);
    CHECK(benchfs_unlink(fs, "/ul/r") == 0, "unlink /ul/r");
    CHECK(benchfs_unlink(fs, "/ul/f") == 0 && benchfs_rmdir(fs, "/ul") == 0, "clean up /ul");
    CHECK(wait_reclaimed(fs, 1, 15) >= 0, "reclaimed after clean-up");
    return failures;
}

/* A CLOSE nobody waited for must not keep an endpoint from its idle
 * close: run with BENCHFS_RPC_IDLE_MS below the servers'
 * BENCHFS_RPC_SERVER_IDLE_MS, and sleep past both. */
static int test_idle(benchfs_t *fs, unsigned ms)
{
    benchfs_file_t *f;
    CHECK(benchfs_open(fs, "/idle", O_CREAT | O_RDWR, 0644, &f) == 0, "create /idle");
    benchfs_close(f); /* its CLOSE stays in flight: nothing waits for it */
    usleep(ms * 1000u);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    int rc = benchfs_open(fs, "/idle2", O_CREAT | O_RDWR, 0644, &f);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double el = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    CHECK(rc == 0 && el < 2.0, "a create after idling: %d in %.2f s", rc, el);
    if (rc == 0)
        benchfs_close(f);
    benchfs_unlink(fs, "/idle");
    benchfs_unlink(fs, "/idle2");
    return failures;
}

/* ---- link ---- */

static int test_link(benchfs_t *fs)
{
    benchfs_file_t *f;
    struct stat a, b;
    unsigned char w[5000], r[5000];
    fill(w, sizeof(w), 9);
    CHECK(benchfs_mkdir(fs, "/ln", 0755) == 0 && benchfs_mkdir(fs, "/ln2", 0755) == 0, "mkdirs");
    CHECK(benchfs_open(fs, "/ln/a", O_CREAT | O_EXCL | O_RDWR, 0644, &f) == 0, "create /ln/a");
    CHECK(benchfs_pwrite(f, w, sizeof(w), 0) == (ssize_t)sizeof(w), "write /ln/a");
    benchfs_close(f);
    CHECK(benchfs_link(fs, "/ln/a", "/ln/b") == 0, "link in the same directory");
    CHECK(benchfs_link(fs, "/ln/a", "/ln2/c") == 0, "link in another directory");
    CHECK(benchfs_stat(fs, "/ln/a", &a) == 0 && benchfs_stat(fs, "/ln2/c", &b) == 0 &&
              a.st_ino == b.st_ino && a.st_nlink == 3 && b.st_nlink == 3 && b.st_size == 5000,
          "three names, one inode: nlink %ld", (long)a.st_nlink);
    CHECK(benchfs_link(fs, "/ln/a", "/ln/b") == -EEXIST, "link over a name: EEXIST");
    CHECK(benchfs_link(fs, "/ln", "/ln2/d") == -EPERM, "link of a directory: EPERM");
    CHECK(benchfs_link(fs, "/ln/none", "/ln2/d") == -ENOENT, "link of nothing: ENOENT");
    CHECK(benchfs_unlink(fs, "/ln/a") == 0, "unlink the first name");
    CHECK(benchfs_open(fs, "/ln2/c", O_RDONLY, 0, &f) == 0, "open another name");
    CHECK(benchfs_pread(f, r, sizeof(r), 0) == (ssize_t)sizeof(r) && !memcmp(r, w, sizeof(r)),
          "the data is still there");
    CHECK(benchfs_fstat(f, &b) == 0 && b.st_nlink == 2, "nlink 2 after one unlink: %ld",
          (long)b.st_nlink);
    benchfs_close(f);
    CHECK(benchfs_rename(fs, "/ln/b", "/ln2/c") == 0, "rename onto another name of the same file");
    CHECK(benchfs_stat(fs, "/ln/b", &b) == 0, "rename of two names of one file does nothing");
    CHECK(benchfs_unlink(fs, "/ln/b") == 0 && benchfs_unlink(fs, "/ln2/c") == 0, "unlink the rest");
    CHECK(benchfs_rmdir(fs, "/ln") == 0 && benchfs_rmdir(fs, "/ln2") == 0, "rmdirs");
    return failures;
}

/* ---- types ---- */

/* Every entry of dir has the type stat says (another process looks). */
static int do_types_check(benchfs_t *fs, void *dir_)
{
    const char *dir = dir_;
    benchfs_dir_t *d;
    if (benchfs_opendir(fs, dir, &d) < 0)
        return 1;
    struct benchfs_dirent e;
    int rc, bad = 0;
    while ((rc = benchfs_readdir(d, &e)) == 1) {
        char p[600];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", dir, e.name);
        int s2 = benchfs_stat(fs, p, &st);
        if (s2 < 0 || (e.type == DT_DIR) != S_ISDIR(st.st_mode)) {
            fprintf(stderr, "  %s: d_type %d, stat %d mode %o\n", p, e.type, s2, st.st_mode);
            bad++;
        }
    }
    benchfs_closedir(d);
    return rc < 0 ? 2 : bad ? 3 : 0;
}

static int test_types(benchfs_t *fs, unsigned n)
{
    CHECK(benchfs_mkdir(fs, "/ty", 0755) == 0, "mkdir /ty");
    for (unsigned i = 0; i < n && failures < 10; i++) {
        char fp[64], dp[64];
        snprintf(fp, sizeof(fp), "/ty/f%u", i);
        snprintf(dp, sizeof(dp), "/ty/d%u", i);
        benchfs_file_t *f;
        CHECK(benchfs_open(fs, fp, O_CREAT | O_EXCL | O_WRONLY, 0644, &f) == 0, "create %s", fp);
        benchfs_close(f);
        CHECK(benchfs_mkdir(fs, dp, 0755) == 0, "mkdir %s", dp);
        int rc = benchfs_mkdir(fs, fp, 0755);
        CHECK(rc == -EEXIST, "mkdir over a file: %d", rc);
        rc = benchfs_open(fs, dp, O_CREAT | O_RDWR, 0644, &f);
        CHECK(rc == -EISDIR, "O_CREAT over a directory: %d", rc);
        rc = benchfs_open(fs, dp, O_CREAT | O_EXCL | O_RDWR, 0644, &f);
        CHECK(rc == -EEXIST, "O_CREAT|O_EXCL over a directory: %d", rc);
        struct stat st;
        CHECK(benchfs_stat(fs, fp, &st) == 0 && S_ISREG(st.st_mode), "%s still a file", fp);
        CHECK(benchfs_stat(fs, dp, &st) == 0 && S_ISDIR(st.st_mode), "%s still a dir", dp);
    }
    char ty[64] = "/ty";
    CHECK(in_child(do_types_check, &ty) == 0, "d_type equals stat's type for every entry");
    for (unsigned i = 0; i < n; i++) {
        char p[64];
        snprintf(p, sizeof(p), "/ty/f%u", i);
        benchfs_unlink(fs, p);
        snprintf(p, sizeof(p), "/ty/d%u", i);
        benchfs_rmdir(fs, p);
    }
    CHECK(benchfs_rmdir(fs, "/ty") == 0, "rmdir /ty (empty)");
    return failures;
}

/* ---- excl ---- */

static volatile int *shared_arena(size_t n)
{
    void *p = mmap(NULL, n * sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static int test_excl(benchfs_t *fs, unsigned rounds)
{
    /* [0]: processes ready for the round; [1 + r]: winners of round r. */
    volatile int *sh = shared_arena(2 + rounds);
    CHECK(sh != NULL, "mmap");
    if (!sh)
        return failures;
    CHECK(benchfs_mkdir(fs, "/ex", 0755) == 0, "mkdir /ex");
    pid_t pids[NPROC];
    for (int w = 0; w < NPROC; w++) {
        if ((pids[w] = fork()) == 0) {
            benchfs_t *cfs = connect_fs();
            int bad = 0;
            for (unsigned r = 0; r < rounds; r++) {
                /* A barrier per round, so that all race for the name. */
                __atomic_add_fetch(&sh[0], 1, __ATOMIC_SEQ_CST);
                time_t t0 = time(NULL);
                while (__atomic_load_n(&sh[0], __ATOMIC_SEQ_CST) < (int)((r + 1) * NPROC) &&
                       time(NULL) - t0 < 30)
                    usleep(100);
                char p[64];
                snprintf(p, sizeof(p), "/ex/r%u", r);
                benchfs_file_t *f;
                int rc = benchfs_open(cfs, p, O_CREAT | O_EXCL | O_WRONLY, 0644, &f);
                if (rc == 0) {
                    __atomic_add_fetch(&sh[1 + r], 1, __ATOMIC_SEQ_CST);
                    benchfs_close(f);
                } else if (rc != -EEXIST) {
                    bad = 1;
                }
            }
            benchfs_finalize(cfs);
            _exit(bad);
        }
    }
    for (int w = 0; w < NPROC; w++) {
        int st;
        CHECK(waitpid(pids[w], &st, 0) == pids[w] && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "O_EXCL racer %d failed otherwise than EEXIST", w);
    }
    for (unsigned r = 0; r < rounds; r++) {
        CHECK(sh[1 + r] == 1, "round %u: %d winners", r, sh[1 + r]);
        char p[64];
        snprintf(p, sizeof(p), "/ex/r%u", r);
        CHECK(benchfs_unlink(fs, p) == 0, "unlink %s", p);
    }
    CHECK(benchfs_rmdir(fs, "/ex") == 0, "rmdir /ex");
    return failures;
}

/* ---- storm ---- */

#define STORM_NAMES 50

static int storm_worker(benchfs_t *fs, unsigned w, unsigned secs)
{
    unsigned x = 0x9e3779b9u * (w + 1);
    time_t end = time(NULL) + secs;
    unsigned long ops = 0;
    const char *mask_s = getenv("FS_STORM_OPS"); /* debugging: a mask of the 5 operations */
    unsigned mask = mask_s ? (unsigned)strtoul(mask_s, NULL, 0) : 31;
    /* debugging: FS_STORM_TRACE=DIR writes DIR/wN: start/end ns, op, names, result */
    const char *trace_dir = getenv("FS_STORM_TRACE");
    FILE *trace = NULL;
    if (trace_dir) {
        char tp[512];
        snprintf(tp, sizeof(tp), "%s/w%u", trace_dir, w);
        trace = fopen(tp, "w");
    }
    while (time(NULL) < end) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        char a[32], b[32];
        snprintf(a, sizeof(a), "/st/n%u", x % STORM_NAMES);
        snprintf(b, sizeof(b), "/st/n%u", (x >> 8) % STORM_NAMES);
        int rc = 0;
        benchfs_file_t *f;
        if (!(mask & (1u << ((x >> 16) % 5))))
            continue;
        struct timespec t0, t1;
        clock_gettime(CLOCK_REALTIME, &t0);
        switch ((x >> 16) % 5) {
        case 0:
            rc = benchfs_open(fs, a, O_CREAT | O_WRONLY, 0644, &f);
            if (rc == 0)
                benchfs_close(f);
            break;
        case 1: rc = benchfs_unlink(fs, a); break;
        case 2: rc = benchfs_rename(fs, a, b); break;
        case 3: rc = benchfs_mkdir(fs, a, 0755); break;
        default: rc = benchfs_rmdir(fs, a); break;
        }
        if (trace) {
            clock_gettime(CLOCK_REALTIME, &t1);
            fprintf(trace, "%lld %lld w%u op%u %s %s %d\n",
                    (long long)t0.tv_sec * 1000000000 + t0.tv_nsec,
                    (long long)t1.tv_sec * 1000000000 + t1.tv_nsec, w, (x >> 16) % 5, a, b, rc);
        }
        /* What races of these calls may answer; anything else is a bug. */
        if (rc < 0 && rc != -EEXIST && rc != -ENOENT && rc != -EISDIR && rc != -ENOTDIR &&
            rc != -ENOTEMPTY) {
            fprintf(stderr, "  storm worker %u: op %u on %s: %s\n", w, (x >> 16) % 5, a,
                    strerror(-rc));
            return 1;
        }
        ops++;
    }
    if (trace)
        fclose(trace);
    fprintf(stderr, "# storm worker %u: %lu operations\n", w, ops);
    return 0;
}

static int storm_check(benchfs_t *fs, void *unused)
{
    (void)unused;
    unsigned char listed[STORM_NAMES] = {0};
    int bad = do_types_check(fs, "/st");
    benchfs_dir_t *d;
    if (benchfs_opendir(fs, "/st", &d) < 0)
        return 1;
    struct benchfs_dirent e;
    while (benchfs_readdir(d, &e) == 1) {
        unsigned k;
        if (sscanf(e.name, "n%u", &k) == 1 && k < STORM_NAMES)
            listed[k] = 1;
    }
    benchfs_closedir(d);
    for (unsigned k = 0; k < STORM_NAMES; k++) {
        char p[32];
        struct stat st;
        snprintf(p, sizeof(p), "/st/n%u", k);
        int ok = benchfs_stat(fs, p, &st) == 0;
        if (ok != listed[k]) {
            fprintf(stderr, "  %s: stat %s, listed %s\n", p, ok ? "works" : "fails",
                    listed[k] ? "yes" : "no");
            bad = 4;
        }
    }
    return bad;
}

static int test_storm(benchfs_t *fs, unsigned secs)
{
    CHECK(benchfs_mkdir(fs, "/st", 0755) == 0, "mkdir /st");
    pid_t pids[NPROC];
    for (int w = 0; w < NPROC; w++) {
        /* Fresh processes (spawn_self), not forks of this one that holds a
         * client: see spawn_self. */
        pids[w] = spawn_self("storm", "-", (unsigned)w, (int)secs, -1, -1);
    }
    for (int w = 0; w < NPROC; w++) {
        int st;
        CHECK(waitpid(pids[w], &st, 0) == pids[w] && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "storm worker %d", w);
    }
    CHECK(run_self("storm-check", "-") == 0, "after the storm: listed = stat-able, types agree");
    for (unsigned k = 0; k < STORM_NAMES; k++) {
        char p[32];
        snprintf(p, sizeof(p), "/st/n%u", k);
        if (benchfs_unlink(fs, p) == -EISDIR)
            benchfs_rmdir(fs, p);
    }
    CHECK(benchfs_rmdir(fs, "/st") == 0, "rmdir /st after removing every name");
    return failures;
}

/* The functions in_child runs, by index: fs_semantics call IDX HEX. */
static const child_fn child_fns[] = {do_truncate, do_expect, do_op, do_fdcheck, do_types_check};
#define ARG_MAX_BYTES 512

static int in_child_(child_fn fn, const void *arg, size_t len)
{
    unsigned idx = 0;
    while (idx < sizeof(child_fns) / sizeof(child_fns[0]) && child_fns[idx] != fn)
        idx++;
    if (idx == sizeof(child_fns) / sizeof(child_fns[0]) || len > ARG_MAX_BYTES)
        return -1;
    char hex[2 * ARG_MAX_BYTES + 1], ix[12];
    for (size_t i = 0; i < len; i++)
        snprintf(hex + 2 * i, 3, "%02x", ((const unsigned char *)arg)[i]);
    hex[2 * len] = 0;
    snprintf(ix, sizeof(ix), "%u", idx);
    fflush(NULL);
    pid_t p = fork();
    if (p == 0) {
        execl("/proc/self/exe", "fs_semantics", "call", ix, hex, (char *)NULL);
        _exit(98);
    }
    int st;
    if (p < 0 || waitpid(p, &st, 0) != p || !WIFEXITED(st))
        return -1;
    return WEXITSTATUS(st);
}

static int call_main(const char *ix, const char *hex)
{
    unsigned idx = (unsigned)atoi(ix);
    size_t len = strlen(hex) / 2;
    if (idx >= sizeof(child_fns) / sizeof(child_fns[0]) || len > ARG_MAX_BYTES)
        return 97;
    _Alignas(max_align_t) unsigned char arg[ARG_MAX_BYTES];
    for (size_t i = 0; i < len; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1)
            return 97;
        arg[i] = (unsigned char)v;
    }
    benchfs_t *fs = connect_fs();
    int rc = child_fns[idx](fs, arg);
    benchfs_finalize(fs);
    return rc;
}

/* The children of test_unlinked: fs_semantics child WHAT PATH IDX DOOMED
 * READY GO. */
static int child_main(int argc, char **argv)
{
    if (argc < 8)
        return 97;
    benchfs_t *fs = connect_fs();
    const char *what = argv[2], *path = argv[3];
    int rc = 96;
    if (!strcmp(what, "holder")) {
        struct holder_arg a = {path, atoi(argv[6]), atoi(argv[7]), (unsigned)atoi(argv[4]),
                               atoi(argv[5])};
        rc = holder(fs, &a);
    } else if (!strcmp(what, "unlink")) {
        rc = benchfs_unlink(fs, path) < 0;
    } else if (!strcmp(what, "create")) {
        benchfs_file_t *f;
        rc = benchfs_open(fs, path, O_CREAT | O_EXCL | O_RDWR, 0644, &f) < 0;
        if (!rc)
            benchfs_close(f);
    } else if (!strcmp(what, "empty")) {
        struct fdcheck_arg empty = {0};
        snprintf(empty.path, sizeof(empty.path), "%s", path);
        rc = do_fdcheck(fs, &empty);
    } else if (!strcmp(what, "rename-x-over")) {
        rc = benchfs_rename(fs, "/ul/x", path) < 0;
    } else if (!strcmp(what, "append")) {
        struct app_arg a = {(unsigned)atoi(argv[4]), (unsigned)atoi(argv[5])};
        rc = appender(fs, &a);
    } else if (!strcmp(what, "storm")) {
        rc = storm_worker(fs, (unsigned)atoi(argv[4]), (unsigned)atoi(argv[5]));
    } else if (!strcmp(what, "storm-check")) {
        rc = storm_check(fs, NULL);
    } else if (!strcmp(what, "renamer")) {
        rc = renamer(fs, atoi(argv[6]));
    } else if (!strcmp(what, "unlink-die")) {
        rc = unlink_and_die(fs, (void *)path);
    }
    benchfs_finalize(fs);
    return rc;
}

int main(int argc, char **argv)
{
    alarm(600);
    if (argc > 1 && !strcmp(argv[1], "child"))
        return child_main(argc, argv);
    if (argc == 4 && !strcmp(argv[1], "call"))
        return call_main(argv[2], argv[3]);
    if (argc < 2) {
        fprintf(stderr, "usage: fs_semantics size|append|fd|unlinked|late|renamekill|link|types|excl|storm [N]\n");
        return 2;
    }
    benchfs_t *fs = connect_fs();
    int rc;
    if (!strcmp(argv[1], "size"))
        rc = test_size(fs);
    else if (!strcmp(argv[1], "append"))
        rc = test_append(fs, argc > 2 ? (unsigned)atoi(argv[2]) : 1000);
    else if (!strcmp(argv[1], "fd"))
        rc = test_fd(fs);
    else if (!strcmp(argv[1], "link"))
        rc = test_link(fs);
    else if (!strcmp(argv[1], "unlinked"))
        rc = test_unlinked(fs);
    else if (!strcmp(argv[1], "idle"))
        rc = test_idle(fs, argc > 2 ? (unsigned)atoi(argv[2]) : 1500);
    else if (!strcmp(argv[1], "renamekill"))
        rc = test_renamekill(fs, argc > 2 ? (unsigned)atoi(argv[2]) : 30);
    else if (!strcmp(argv[1], "late"))
        rc = test_late(fs);
    else if (!strcmp(argv[1], "reclaimed"))
        rc = wait_reclaimed(fs, 1, argc > 2 ? atof(argv[2]) : 30) < 0;
    else if (!strcmp(argv[1], "types"))
        rc = test_types(fs, argc > 2 ? (unsigned)atoi(argv[2]) : 200);
    else if (!strcmp(argv[1], "excl"))
        rc = test_excl(fs, argc > 2 ? (unsigned)atoi(argv[2]) : 20);
    else if (!strcmp(argv[1], "storm"))
        rc = test_storm(fs, argc > 2 ? (unsigned)atoi(argv[2]) : 10);
    else
        rc = (fprintf(stderr, "unknown test %s\n", argv[1]), 2);
    benchfs_finalize(fs);
    if (rc == 0)
        printf("PASS: fs_semantics %s\n", argv[1]);
    return rc ? 1 : 0;
}
