/* Unit test of the chunk store, driven by a real event loop in temporary
 * directories (/tmp, /dev/shm, a tiny tmpfs for ENOSPC), plus a printed
 * buffered-vs-O_DIRECT throughput comparison (BFS_CHUNK_BENCH_MB, default
 * 256, 0 skips it). */
#define _GNU_SOURCE
#include "server/chunk_store.h"
#include "rpc/evloop.h"
#include "common/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define KiB 1024u
#define MiB (1024u * 1024u)

#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #c); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)
#define CHECK_RC(e)                                                            \
    do {                                                                       \
        long long rc_ = (e);                                                   \
        if (rc_ < 0) {                                                         \
            fprintf(stderr, "%s:%d: %s: %s\n", __FILE__, __LINE__, #e, strerror((int)-rc_)); \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Cleanup at exit, also after a failed CHECK. */
static char g_root[64], g_shm[64];
static char g_mnt[2][96];
static int g_mounted[2];

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st; (void)flag; (void)ftw;
    remove(p);
    return 0;
}

static void cleanup(void)
{
    for (int i = 0; i < 2; i++)
        if (g_mounted[i])
            umount2(g_mnt[i], MNT_DETACH);
    if (g_shm[0])
        nftw(g_shm, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    if (g_root[0])
        nftw(g_root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- completions -------------------------------------------------------- */

struct req {
    int calls;
    int64_t res;
};

static int g_in_submit;
static unsigned g_completed;

static void req_cb(int64_t res, void *arg)
{
    struct req *r = arg;
    CHECK(!g_in_submit);    /* never from inside the submitting call */
    r->calls++;
    r->res = res;
    g_completed++;
}

static int do_write(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, uint64_t off,
                    const void *buf, size_t len, struct req *r)
{
    memset(r, 0, sizeof(*r));
    g_in_submit = 1;
    int rc = bfs_chunk_write(cs, fid, idx, off, buf, len, req_cb, r);
    g_in_submit = 0;
    return rc;
}

static int do_read(bfs_chunk_store_t *cs, uint64_t fid, uint64_t idx, uint64_t off,
                   void *buf, size_t len, struct req *r)
{
    memset(r, 0, sizeof(*r));
    g_in_submit = 1;
    int rc = bfs_chunk_read(cs, fid, idx, off, buf, len, req_cb, r);
    g_in_submit = 0;
    return rc;
}

static int do_fsync(bfs_chunk_store_t *cs, uint64_t fid, uint64_t n, struct req *r)
{
    memset(r, 0, sizeof(*r));
    g_in_submit = 1;
    int rc = bfs_chunk_fsync(cs, fid, n, req_cb, r);
    g_in_submit = 0;
    return rc;
}

static int do_remove(bfs_chunk_store_t *cs, uint64_t fid, uint64_t from, uint64_t to,
                     struct req *r)
{
    memset(r, 0, sizeof(*r));
    g_in_submit = 1;
    int rc = bfs_chunk_remove(cs, fid, from, to, req_cb, r);
    g_in_submit = 0;
    return rc;
}

/* Run the loop until g_completed reaches target (10 s at most). */
static void wait_done(bfs_evloop_t *loop, unsigned target)
{
    uint64_t deadline = bfs_now_ns() + 10000000000ull;
    while (g_completed < target && bfs_now_ns() < deadline)
        CHECK_RC(bfs_evloop_run_once(loop, 50));
    if (g_completed < target)
        fprintf(stderr, "timeout: %u of %u completions\n", g_completed, target);
    CHECK(g_completed == target);
}

/* One request, waited for; returns its result. */
static int64_t wait_one(bfs_evloop_t *loop, struct req *r)
{
    wait_done(loop, g_completed + 1);
    CHECK(r->calls == 1);
    return r->res;
}

/* A removal started and waited for alone; its result. */
static int64_t remove_wait(bfs_evloop_t *loop, bfs_chunk_store_t *cs, uint64_t fid,
                           uint64_t from, uint64_t to)
{
    struct req r;
    int rc = do_remove(cs, fid, from, to, &r);
    return rc < 0 ? rc : wait_one(loop, &r);
}

/* ---- helpers ------------------------------------------------------------ */

static uint8_t pat(uint64_t fid, uint64_t idx, uint64_t pos, unsigned gen)
{
    uint64_t x = (fid * 0x9e3779b97f4a7c15ull) ^ (idx * 0xc2b2ae3d27d4eb4full) ^ (pos >> 8) ^ gen;
    return (uint8_t)(x ^ (x >> 29) ^ pos);
}

static void fill(uint8_t *b, size_t len, uint64_t fid, uint64_t idx, uint64_t off, unsigned gen)
{
    for (size_t i = 0; i < len; i++)
        b[i] = pat(fid, idx, off + i, gen);
}

static void *xalloc(size_t len)
{
    void *p = NULL;
    CHECK(posix_memalign(&p, 4096, len) == 0);
    memset(p, 0, len);
    return p;
}

/* The chunk file's path, if it exists in any subdirectory (checks the
 * layout without knowing the hash). Returns 1 and fills st when found. */
static int chunk_stat(const char *dir, uint64_t fid, uint64_t idx, struct stat *st)
{
    int found = 0;
    char p[512];
    for (unsigned i = 0; i < 256; i++) {
        snprintf(p, sizeof(p), "%s/data/%02x/%016" PRIx64 ".%" PRIu64, dir, i, fid, idx);
        if (stat(p, st) == 0) {
            CHECK(!found);
            found = 1;
        }
    }
    return found;
}

static unsigned count_fds(void)
{
    unsigned n = 0;
    DIR *d = opendir("/proc/self/fd");
    CHECK(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

struct env {
    char dir[256];
    bfs_evloop_t *loop;
    bfs_chunk_store_t *cs;
};

static void env_open(struct env *e, const char *base, const char *name,
                     const struct bfs_chunk_store_opts *o)
{
    snprintf(e->dir, sizeof(e->dir), "%s/%s", base, name);
    CHECK_RC(bfs_evloop_create(&e->loop));
    CHECK_RC(bfs_chunk_store_open(&e->cs, e->dir, o));
    CHECK_RC(bfs_chunk_store_attach(e->cs, e->loop));
}

static void env_close(struct env *e)
{
    CHECK(bfs_chunk_store_inflight(e->cs) == 0);
    bfs_chunk_store_close(e->cs);
    bfs_evloop_destroy(e->loop);
}

/* ---- tests -------------------------------------------------------------- */

/* Writes at chunk offsets 0, unaligned and aligned against a model of the
 * chunk, holes and reads past the end. */
static void test_basic(const char *base, const char *label, int direct)
{
    struct bfs_chunk_store_opts o = {.direct = direct};
    struct env e;
    env_open(&e, base, direct ? "basic-direct" : "basic", &o);
    const size_t csz = 4 * MiB;
    uint8_t *model = xalloc(csz), *buf = xalloc(csz), *rd = xalloc(csz);
    size_t size = 0;
    struct req r;
    static const struct { size_t off, len; } w[] = {
        {0, MiB}, {12345, 100000}, {40960, 65536}, {3 * MiB + 7, 5000}, {2 * MiB, MiB},
    };
    for (unsigned i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
        fill(buf, w[i].len, 1, 0, w[i].off, i);
        memcpy(model + w[i].off, buf, w[i].len);
        if (w[i].off + w[i].len > size)
            size = w[i].off + w[i].len;
        CHECK_RC(do_write(e.cs, 1, 0, w[i].off, buf, w[i].len, &r));
        CHECK(r.calls == 0);
        CHECK(bfs_chunk_store_inflight(e.cs) == 1);
        CHECK(wait_one(e.loop, &r) == (int64_t)w[i].len);
    }
    struct stat st;
    CHECK(chunk_stat(e.dir, 1, 0, &st) && (size_t)st.st_size == size);
    /* Whole chunk, then pieces at aligned and unaligned offsets. */
    static const struct { size_t off, len; } rr[] = {
        {0, 4 * MiB}, {0, 4096}, {12345, 100000}, {8192, 64 * KiB}, {MiB - 1, 3}, {2 * MiB, MiB},
    };
    for (unsigned i = 0; i < sizeof(rr) / sizeof(rr[0]); i++) {
        memset(rd, 0xee, csz);
        CHECK_RC(do_read(e.cs, 1, 0, rr[i].off, rd, rr[i].len, &r));
        size_t want = rr[i].off >= size ? 0
                    : rr[i].off + rr[i].len > size ? size - rr[i].off : rr[i].len;
        CHECK(wait_one(e.loop, &r) == (int64_t)want);
        CHECK(memcmp(rd, model + rr[i].off, want) == 0);
    }
    /* Past the end: short, then nothing. */
    CHECK_RC(do_read(e.cs, 1, 0, size - 10, rd, 4096, &r));
    CHECK(wait_one(e.loop, &r) == 10);
    CHECK(memcmp(rd, model + size - 10, 10) == 0);
    CHECK_RC(do_read(e.cs, 1, 0, size + 100, rd, 4096, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    /* A missing chunk is a hole, and reading it creates nothing. */
    CHECK_RC(do_read(e.cs, 1, 5, 0, rd, MiB, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    CHECK(!chunk_stat(e.dir, 1, 5, &st));
    /* Zero lengths complete with 0, through the loop. */
    CHECK_RC(do_write(e.cs, 1, 6, 0, buf, 0, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    CHECK_RC(do_read(e.cs, 1, 0, 0, rd, 0, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    /* Large fid and index survive the naming. */
    fill(buf, 777, UINT64_MAX, UINT64_MAX - 1, 0, 9);
    CHECK_RC(do_write(e.cs, UINT64_MAX, UINT64_MAX - 1, 0, buf, 777, &r));
    CHECK(wait_one(e.loop, &r) == 777);
    CHECK(chunk_stat(e.dir, UINT64_MAX, UINT64_MAX - 1, &st) && st.st_size == 777);
    CHECK_RC(do_read(e.cs, UINT64_MAX, UINT64_MAX - 1, 0, rd, MiB, &r));
    CHECK(wait_one(e.loop, &r) == 777 && memcmp(rd, buf, 777) == 0);
    /* Offsets beyond what a file can hold are refused up front. */
    CHECK(do_write(e.cs, 1, 0, UINT64_MAX - 10, buf, 100, &r) == -EINVAL);
    free(model);
    free(buf);
    free(rd);
    env_close(&e);
    printf("basic %s%s: ok\n", label, direct ? " (direct)" : "");
}

/* 256 writes in flight over 64 chunks, then 256 reads in flight, with a
 * small ring (SQ full, waiting queue) and max_open below the working set
 * (evictions while operations hold fds). */
static void test_concurrent(const char *base, unsigned max_open, unsigned qd, int direct)
{
    struct bfs_chunk_store_opts o = {.max_open = max_open, .queue_depth = qd, .direct = direct};
    struct env e;
    char name[64];
    snprintf(name, sizeof(name), "conc-%u-%u-%d", max_open, qd, direct);
    unsigned fds0 = count_fds();
    env_open(&e, base, name, &o);
    enum { N = 256, LEN = 64 * 1024 };
    uint8_t *w = xalloc((size_t)N * LEN), *rd = xalloc((size_t)N * LEN);
    static struct req wr[N], rr[N];
    for (unsigned i = 0; i < N; i++) {
        uint64_t idx = i % 64, off = (uint64_t)(i / 64) * LEN;
        fill(w + (size_t)i * LEN, LEN, 3, idx, off, 1);
    }
    unsigned base_done = g_completed;
    for (unsigned i = 0; i < N; i++)
        CHECK_RC(do_write(e.cs, 3, i % 64, (uint64_t)(i / 64) * LEN, w + (size_t)i * LEN, LEN, &wr[i]));
    CHECK(bfs_chunk_store_inflight(e.cs) == N);
    CHECK(g_completed == base_done);
    wait_done(e.loop, base_done + N);
    for (unsigned i = 0; i < N; i++)
        CHECK(wr[i].calls == 1 && wr[i].res == LEN);
    /* Reads in flight while more writes (to other chunks) are in flight. */
    base_done = g_completed;
    for (unsigned i = 0; i < N; i++) {
        CHECK_RC(do_read(e.cs, 3, i % 64, (uint64_t)(i / 64) * LEN, rd + (size_t)i * LEN, LEN, &rr[i]));
        CHECK_RC(do_write(e.cs, 4, i % 32, (uint64_t)(i / 32) * LEN, w + (size_t)i * LEN, LEN, &wr[i]));
    }
    CHECK(bfs_chunk_store_inflight(e.cs) == 2 * N);
    wait_done(e.loop, base_done + 2 * N);
    for (unsigned i = 0; i < N; i++) {
        CHECK(rr[i].calls == 1 && rr[i].res == LEN && wr[i].calls == 1 && wr[i].res == LEN);
    }
    CHECK(memcmp(w, rd, (size_t)N * LEN) == 0);
    /* Evicted fds were closed once their operations finished. */
    unsigned fds = count_fds();
    CHECK(fds <= fds0 + 5 + (direct ? 2 : 1) * max_open); /* + the trash directory */
    free(w);
    free(rd);
    env_close(&e);
    CHECK(count_fds() == fds0);
    printf("concurrent (max_open %u, queue %u%s): ok, %u fds open at rest\n", max_open, qd,
           direct ? ", direct" : "", fds - fds0);
}

static int even_only(uint64_t fid, uint64_t idx, void *arg)
{
    (void)fid;
    (*(unsigned *)arg)++;
    return idx % 2 == 0;
}

/* fsync, truncate and remove with an owned() that keeps even indices, and
 * fds kept open by in-flight operations across truncate/remove. */
static void test_meta_ops(const char *base)
{
    unsigned owned_calls = 0;
    struct bfs_chunk_store_opts o = {.owned = even_only, .owned_arg = &owned_calls};
    struct env e;
    env_open(&e, base, "meta", &o);
    uint8_t *buf = xalloc(MiB), *rd = xalloc(MiB);
    struct req r, r2;
    struct stat st;
    fill(buf, MiB, 7, 0, 0, 0);
    /* Chunks 0..9 of fid 7 exist here, odd ones included (not owned: range
     * operations must leave them alone). */
    for (uint64_t i = 0; i < 10; i++) {
        CHECK_RC(do_write(e.cs, 7, i, 0, buf, 1000 + i, &r));
        CHECK(wait_one(e.loop, &r) == (int64_t)(1000 + i));
    }
    CHECK_RC(do_fsync(e.cs, 7, 10, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    CHECK(owned_calls >= 10);
    /* Long range: lists the directory. Also a file with no chunks. */
    CHECK_RC(do_fsync(e.cs, 7, UINT64_MAX, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    CHECK_RC(do_fsync(e.cs, 99, 10, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    CHECK_RC(do_fsync(e.cs, 7, 0, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    /* fsync in parallel with writes to the same file. */
    CHECK_RC(do_write(e.cs, 7, 0, 0, buf, MiB, &r2));
    CHECK_RC(do_fsync(e.cs, 7, 10, &r));
    wait_done(e.loop, g_completed + 2);
    CHECK(r.calls == 1 && r.res == 0 && r2.calls == 1 && r2.res == MiB);

    /* Truncate: shorter, to 0 (file stays), missing (not created). */
    CHECK_RC(bfs_chunk_truncate(e.cs, 7, 0, 100));
    CHECK_RC(do_read(e.cs, 7, 0, 0, rd, MiB, &r));
    CHECK(wait_one(e.loop, &r) == 100 && memcmp(rd, buf, 100) == 0);
    CHECK_RC(bfs_chunk_truncate(e.cs, 7, 0, 0));
    CHECK(chunk_stat(e.dir, 7, 0, &st) && st.st_size == 0);
    CHECK_RC(do_read(e.cs, 7, 0, 0, rd, MiB, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    CHECK_RC(bfs_chunk_truncate(e.cs, 7, 50, 10));
    CHECK(!chunk_stat(e.dir, 7, 50, &st));
    /* Truncate while a read and a write hold the fd. */
    CHECK_RC(do_write(e.cs, 7, 4, 0, buf, MiB, &r));
    CHECK_RC(do_read(e.cs, 7, 4, 0, rd, MiB, &r2));
    CHECK_RC(bfs_chunk_truncate(e.cs, 7, 4, 10));
    wait_done(e.loop, g_completed + 2);
    CHECK(r.calls == 1 && r.res == MiB && r2.calls == 1 && r2.res >= 0);
    CHECK(chunk_stat(e.dir, 7, 4, &st));

    /* Remove while a write holds the fd: the write completes on the old
     * file; the chunk is a hole afterwards. */
    CHECK_RC(do_write(e.cs, 7, 2, 0, buf, MiB, &r));
    CHECK_RC(do_remove(e.cs, 7, 2, 3, &r2));
    wait_done(e.loop, g_completed + 2);
    CHECK(r.calls == 1 && r.res == MiB && r2.calls == 1 && r2.res == 0);
    CHECK(!chunk_stat(e.dir, 7, 2, &st));
    CHECK_RC(do_read(e.cs, 7, 2, 0, rd, MiB, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    /* Range: owned (even) chunks go, odd ones stay. */
    CHECK(remove_wait(e.loop, e.cs, 7, 0, 10) == 0);
    for (uint64_t i = 0; i < 10; i++)
        CHECK(chunk_stat(e.dir, 7, i, &st) == (int)(i % 2));
    CHECK(remove_wait(e.loop, e.cs, 7, 5, 5) == 0);
    /* A new write after remove creates a fresh file (the cached fd went). */
    CHECK_RC(do_write(e.cs, 7, 6, 0, buf, 10, &r));
    CHECK(wait_one(e.loop, &r) == 10);
    CHECK(chunk_stat(e.dir, 7, 6, &st) && st.st_size == 10);

    /* Long range (directory listing), up to UINT64_MAX. */
    static const uint64_t ix[] = {0, 1, 2, 3, 4, 5000, 5001, UINT64_MAX - 1};
    for (unsigned i = 0; i < sizeof(ix) / sizeof(ix[0]); i++) {
        CHECK_RC(do_write(e.cs, 8, ix[i], 0, buf, 10, &r));
        CHECK(wait_one(e.loop, &r) == 10);
    }
    CHECK_RC(do_fsync(e.cs, 8, UINT64_MAX, &r));
    CHECK(wait_one(e.loop, &r) == 0);
    CHECK(remove_wait(e.loop, e.cs, 8, 2, UINT64_MAX) == 0);
    for (unsigned i = 0; i < sizeof(ix) / sizeof(ix[0]); i++) {
        int gone = ix[i] >= 2 && ix[i] % 2 == 0;
        CHECK(chunk_stat(e.dir, 8, ix[i], &st) == !gone);
    }
    /* fid 7 was untouched by removing fid 8. */
    CHECK(chunk_stat(e.dir, 7, 1, &st));
    free(buf);
    free(rd);
    env_close(&e);
    printf("fsync/truncate/remove: ok\n");
}

struct resubmit {
    bfs_chunk_store_t *cs;
    int calls, rc;
    uint8_t buf[16];
};

/* A callback that tries to submit more work: refused once close began. */
static void resubmit_cb(int64_t res, void *arg)
{
    struct resubmit *rs = arg;
    CHECK(res == (int64_t)sizeof(rs->buf));
    rs->calls++;
    rs->rc = bfs_chunk_write(rs->cs, 11, 99, 0, rs->buf, sizeof(rs->buf), resubmit_cb, rs);
}

/* A removal of many chunks is renamed away a slice per loop turn
 * (bfs_chunk_remove): before a slice reaches a chunk, a read of it must see
 * a hole, and a write must land in a new file that the removal then leaves
 * alone (without the claim the slice takes the new file and the write is
 * lost). Chunks of 4 KiB, 600 of them: more than one slice on any machine
 * is not guaranteed, so the accesses come before the loop runs at all. */
static void test_remove_sliced(const char *base)
{
    struct bfs_chunk_store_opts o = {0};
    struct env e;
    env_open(&e, base, "sliced", &o);
    uint8_t buf[4096], rd[4096];
    struct req r, rm, rw, rr, rt;
    struct stat st;
    for (uint64_t i = 0; i < 600; i++) {
        memset(buf, (int)(i & 0xff), sizeof(buf));
        CHECK_RC(do_write(e.cs, 31, i, 0, buf, sizeof(buf), &r));
        CHECK(wait_one(e.loop, &r) == (int64_t)sizeof(buf));
    }
    CHECK_RC(do_remove(e.cs, 31, 0, 600, &rm));
    CHECK(rm.calls == 0);       /* asynchronous: reported from the loop */
    /* Before any slice: chunk 500 reads as a hole, 400 is rewritten, 300
     * is cut (a truncate of a removed chunk does not create it). */
    CHECK_RC(do_read(e.cs, 31, 500, 0, rd, sizeof(rd), &rr));
    memset(buf, 0xab, sizeof(buf));
    CHECK_RC(do_write(e.cs, 31, 400, 0, buf, 100, &rw));
    CHECK_RC(bfs_chunk_truncate(e.cs, 31, 300, 10));
    CHECK(bfs_chunk_exists(e.cs, 31, 200) == 0);
    wait_done(e.loop, g_completed + 3);
    CHECK(rr.calls == 1 && rr.res == 0);
    CHECK(rw.calls == 1 && rw.res == 100);
    CHECK(rm.calls == 1 && rm.res == 0);
    CHECK(chunk_stat(e.dir, 31, 400, &st) && st.st_size == 100);
    CHECK_RC(do_read(e.cs, 31, 400, 0, rd, sizeof(rd), &rt));
    CHECK(wait_one(e.loop, &rt) == 100 && rd[0] == 0xab && rd[99] == 0xab);
    unsigned left = 0;
    for (uint64_t i = 0; i < 600; i++)
        left += chunk_stat(e.dir, 31, i, &st);
    CHECK(left == 1);           /* only the rewritten chunk */
    CHECK(remove_wait(e.loop, e.cs, 31, 0, UINT64_MAX) == 0);
    /* Closing with a removal pending finishes it. */
    for (uint64_t i = 0; i < 50; i++) {
        CHECK_RC(do_write(e.cs, 32, i, 0, buf, 10, &r));
        CHECK(wait_one(e.loop, &r) == 10);
    }
    CHECK_RC(do_remove(e.cs, 32, 0, 50, &rm));
    bfs_chunk_store_close(e.cs);
    bfs_evloop_destroy(e.loop);
    CHECK(rm.calls == 1 && rm.res == 0);
    left = 0;
    for (uint64_t i = 0; i < 50; i++)
        left += chunk_stat(e.dir, 32, i, &st);
    CHECK(left == 0);
}

/* Close with operations in flight: close runs them to completion. */
static void test_close_inflight(const char *base)
{
    struct env e;
    env_open(&e, base, "close", NULL);
    enum { N = 32 };
    uint8_t *buf = xalloc(MiB);
    static struct req r[N], rf;
    struct resubmit rs = {.cs = e.cs};
    unsigned done0 = g_completed;
    for (unsigned i = 0; i < N; i++)
        CHECK_RC(do_write(e.cs, 11, i, 0, buf, MiB, &r[i]));
    CHECK_RC(do_fsync(e.cs, 11, N, &rf));
    CHECK_RC(bfs_chunk_write(e.cs, 11, 98, 0, rs.buf, sizeof(rs.buf), resubmit_cb, &rs));
    bfs_chunk_store_close(e.cs);
    bfs_evloop_destroy(e.loop);
    CHECK(g_completed == done0 + N + 1);
    for (unsigned i = 0; i < N; i++)
        CHECK(r[i].calls == 1 && r[i].res == MiB);
    CHECK(rf.calls == 1 && rf.res == 0);
    CHECK(rs.calls == 1 && rs.rc == -ESHUTDOWN);
    free(buf);
    printf("close with %u operations in flight: ok\n", N + 2);
}

/* Close with an operation that never finishes by itself (a FIFO where a
 * chunk file should be): close gives up after its bound, cancels, and the
 * callback still runs exactly once. */
static void test_close_stuck(const char *base)
{
    struct env e;
    env_open(&e, base, "stuck", NULL);
    uint8_t buf[64] = {0};
    struct req r;
    struct stat st;
    CHECK_RC(do_write(e.cs, 14, 0, 0, buf, sizeof(buf), &r));
    CHECK(wait_one(e.loop, &r) == (int64_t)sizeof(buf));
    /* Same fid, same subdirectory: find it through chunk 0. */
    char p[512];
    unsigned sub = 256;
    for (unsigned i = 0; i < 256 && sub == 256; i++) {
        snprintf(p, sizeof(p), "%s/data/%02x/%016" PRIx64 ".0", e.dir, i, (uint64_t)14);
        if (stat(p, &st) == 0)
            sub = i;
    }
    CHECK(sub < 256);
    snprintf(p, sizeof(p), "%s/data/%02x/%016" PRIx64 ".1", e.dir, sub, (uint64_t)14);
    CHECK(mkfifo(p, 0600) == 0);
    /* A FIFO cannot be fsynced: the error of one chunk is the result. */
    CHECK_RC(do_fsync(e.cs, 14, 3, &r));
    CHECK(wait_one(e.loop, &r) == -EINVAL);
    CHECK_RC(do_read(e.cs, 14, 1, 0, buf, sizeof(buf), &r));
    bfs_evloop_run_once(e.loop, 10);
    CHECK(r.calls == 0 && bfs_chunk_store_inflight(e.cs) == 1);
    printf("close with a stuck read: waits 5 s, the cancel warning below is expected\n");
    uint64_t t0 = bfs_now_ns();
    bfs_chunk_store_close(e.cs);
    double s = (double)(bfs_now_ns() - t0) / 1e9;
    bfs_evloop_destroy(e.loop);
    printf("close with a stuck read: %.2f s, result %s\n", s, strerror((int)-r.res));
    CHECK(r.calls == 1 && r.res == -ECANCELED);
    CHECK(s >= 4.9 && s < 7);
}

/* Out of descriptors: idle cached fds are closed and the open retried; with
 * every fd busy, submissions fail up front and their callbacks never run. */
static void test_emfile(const char *base)
{
    struct env e;
    env_open(&e, base, "emfile", NULL);     /* max_open 1024 */
    struct rlimit rl0, rl;
    CHECK(getrlimit(RLIMIT_NOFILE, &rl0) == 0);
    rl = rl0;
    rl.rlim_cur = count_fds() + 8;
    CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
    enum { N = 64 };
    static uint8_t buf[N][512], rd[512];
    static struct req r[N];
    for (unsigned i = 0; i < N; i++) {
        fill(buf[i], sizeof(buf[i]), 15, i, 0, 0);
        CHECK_RC(do_write(e.cs, 15, i, 0, buf[i], sizeof(buf[i]), &r[i]));
        CHECK(wait_one(e.loop, &r[i]) == (int64_t)sizeof(buf[i]));
    }
    for (unsigned i = 0; i < N; i++) {
        CHECK_RC(do_read(e.cs, 15, i, 0, rd, sizeof(rd), &r[i]));
        CHECK(wait_one(e.loop, &r[i]) == (int64_t)sizeof(rd));
        CHECK(memcmp(rd, buf[i], sizeof(rd)) == 0);
    }
    /* Writes larger than the store does at once (pwrite of up to 64 KiB),
     * so that each stays in flight and keeps its fd busy. */
    static uint8_t big[128 * 1024];
    unsigned accepted = 0, refused = 0, done0 = g_completed;
    for (unsigned i = 0; i < N; i++) {
        int rc = do_write(e.cs, 16, i, 0, big, sizeof(big), &r[i]);
        CHECK(rc == 0 || rc == -EMFILE);
        rc == 0 ? accepted++ : refused++;
    }
    wait_done(e.loop, done0 + accepted);
    bfs_evloop_run_once(e.loop, 10);
    CHECK(g_completed == done0 + accepted);
    for (unsigned i = 0; i < N; i++)
        CHECK(r[i].calls == (i < accepted) && (i >= accepted || r[i].res == (int64_t)sizeof(big)));
    CHECK(setrlimit(RLIMIT_NOFILE, &rl0) == 0);
    env_close(&e);
    printf("EMFILE: ok (%u accepted, %u refused with every fd busy)\n", accepted, refused);
    CHECK(accepted > 0 && refused > 0);
}

/* An idle store lets the loop sleep. */
static void test_idle(const char *base)
{
    struct env e;
    env_open(&e, base, "idle", NULL);
    uint8_t buf[100] = {1};
    struct req r;
    CHECK_RC(do_write(e.cs, 12, 0, 0, buf, sizeof(buf), &r));
    CHECK(wait_one(e.loop, &r) == (int64_t)sizeof(buf));
    /* Let any late eventfd signal go by, then measure. A ring torn down
     * earlier (previous tests) interrupts a sleep once with task work
     * (epoll_wait EINTR: 0 events, early); the usleep usually absorbs it,
     * and the checks allow one early return. */
    bfs_evloop_run_once(e.loop, 0);
    usleep(50000);
    struct rusage ru0, ru1;
    getrusage(RUSAGE_SELF, &ru0);
    uint64_t start = bfs_now_ns();
    for (int i = 0; i < 5; i++) {
        uint64_t t0 = bfs_now_ns();
        int n = bfs_evloop_run_once(e.loop, 100);
        printf("idle: run_once(100 ms) -> %d events in %.1f ms\n", n,
               (double)(bfs_now_ns() - t0) / 1e6);
        CHECK(n == 0);
    }
    double ms = (double)(bfs_now_ns() - start) / 1e6;
    getrusage(RUSAGE_SELF, &ru1);
    double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                          ru0.ru_stime.tv_sec) * 1e3 +
                 (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec + ru1.ru_stime.tv_usec -
                          ru0.ru_stime.tv_usec) / 1e3;
    printf("idle: 5 iterations in %.1f ms, %.2f ms CPU\n", ms, cpu);
    CHECK(ms >= 390 && ms < 1000);
    CHECK(cpu < 20);
    env_close(&e);
}

/* Mounts a scratch file system in slot m; NULL when that is not allowed. */
static const char *mount_scratch(int m, const char *type, const char *opts)
{
    snprintf(g_mnt[m], sizeof(g_mnt[m]), "%s/mnt-%s", g_root, type);
    CHECK(mkdir(g_mnt[m], 0700) == 0);
    if (mount(type, g_mnt[m], type, 0, opts) < 0) {
        printf("mount %s: %s\n", type, strerror(errno));
        return NULL;
    }
    g_mounted[m] = 1;
    return g_mnt[m];
}

static void unmount_scratch(int m)
{
    CHECK(umount2(g_mnt[m], 0) == 0);
    g_mounted[m] = 0;
}

/* ramfs refuses O_DIRECT: the store goes buffered without an error. */
static void test_no_direct(void)
{
    const char *mnt = mount_scratch(1, "ramfs", NULL);
    if (!mnt) {
        printf("O_DIRECT fallback: skipped\n");
        return;
    }
    test_basic(mnt, "ramfs", 1);
    test_concurrent(mnt, 3, 4, 1);
    unmount_scratch(1);
}

/* ENOSPC from a 1 MiB tmpfs. */
static void test_enospc(void)
{
    const char *mnt = mount_scratch(0, "tmpfs", "size=1m");
    if (!mnt) {
        printf("ENOSPC: skipped\n");
        return;
    }
    struct env e;
    env_open(&e, mnt, "srv", NULL);
    uint8_t *buf = xalloc(2 * MiB);
    struct req r;
    CHECK_RC(do_write(e.cs, 13, 0, 0, buf, 2 * MiB, &r));
    int64_t res = wait_one(e.loop, &r);
    CHECK(res == -ENOSPC);
    /* Partly written before it filled: the next write fails outright. */
    CHECK_RC(do_write(e.cs, 13, 1, 0, buf, MiB, &r));
    CHECK(wait_one(e.loop, &r) == -ENOSPC);
    /* Reads still work. */
    CHECK_RC(do_read(e.cs, 13, 0, 0, buf, 4096, &r));
    CHECK(wait_one(e.loop, &r) == 4096);
    env_close(&e);
    free(buf);
    unmount_scratch(0);
    printf("ENOSPC: ok\n");
}

/* ---- throughput --------------------------------------------------------- */

static void drop_cache(const char *dir)
{
    char p[512];
    for (unsigned i = 0; i < 256; i++) {
        snprintf(p, sizeof(p), "%s/data/%02x", dir, i);
        DIR *d = opendir(p);
        struct dirent *de;
        while (d && (de = readdir(d))) {
            if (de->d_name[0] == '.')
                continue;
            char f[800];
            snprintf(f, sizeof(f), "%s/%s", p, de->d_name);
            int fd = open(f, O_RDONLY);
            if (fd >= 0) {
                posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
                close(fd);
            }
        }
        if (d)
            closedir(d);
    }
}

/* n 1 MiB requests, 4 per 4 MiB chunk, 32 in flight. */
static double pass(struct env *e, int write, uint8_t **bufs, unsigned n)
{
    enum { QD = 32 };
    static struct req r[QD];
    int busy[QD] = {0};
    unsigned issued = 0, base = g_completed;
    uint64_t t0 = bfs_now_ns(), deadline = t0 + 120000000000ull;
    while (g_completed - base < n && bfs_now_ns() < deadline) {
        for (unsigned s = 0; s < QD && issued < n; s++) {
            if (busy[s])
                continue;
            uint64_t idx = issued / 4, off = (uint64_t)(issued % 4) * MiB;
            if (write)
                CHECK_RC(do_write(e->cs, 21, idx, off, bufs[s], MiB, &r[s]));
            else
                CHECK_RC(do_read(e->cs, 21, idx, off, bufs[s], MiB, &r[s]));
            busy[s] = 1;
            issued++;
        }
        CHECK_RC(bfs_evloop_run_once(e->loop, 50));
        for (unsigned s = 0; s < QD; s++) {
            if (busy[s] && r[s].calls) {
                CHECK(r[s].calls == 1 && r[s].res == MiB);
                busy[s] = 0;
            }
        }
    }
    CHECK(g_completed - base == n);
    return (double)(bfs_now_ns() - t0) / 1e9;
}

static void bench(const char *base, const char *label, unsigned mb)
{
    enum { QD = 32 };
    uint8_t *bufs[QD];
    for (unsigned i = 0; i < QD; i++) {
        bufs[i] = xalloc(MiB);
        fill(bufs[i], MiB, 21, i, 0, 0);
    }
    for (int direct = 0; direct < 2; direct++) {
        struct bfs_chunk_store_opts o = {.direct = direct, .queue_depth = 64};
        struct env e;
        char name[32];
        snprintf(name, sizeof(name), "bench-%d", direct);
        env_open(&e, base, name, &o);
        double tw = pass(&e, 1, bufs, mb);
        struct req r;
        uint64_t t0 = bfs_now_ns();
        CHECK_RC(do_fsync(e.cs, 21, (mb + 3) / 4, &r));
        CHECK(wait_one(e.loop, &r) == 0);
        double tf = (double)(bfs_now_ns() - t0) / 1e9;
        double thot = pass(&e, 0, bufs, mb);
        drop_cache(e.dir);
        double tcold = pass(&e, 0, bufs, mb);
        printf("bench %s %-8s %u MiB in 1 MiB requests, 32 in flight: write %6.0f MB/s, "
               "write+fsync %6.0f MB/s, read %6.0f MB/s, read after dropping cache %6.0f MB/s\n",
               label, direct ? "O_DIRECT" : "buffered", mb, mb * 1.048576 / tw,
               mb * 1.048576 / (tw + tf), mb * 1.048576 / thot, mb * 1.048576 / tcold);
        CHECK(remove_wait(e.loop, e.cs, 21, 0, UINT64_MAX) == 0);
        env_close(&e);
    }
    for (unsigned i = 0; i < QD; i++)
        free(bufs[i]);
}

int main(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    strcpy(g_root, "/tmp/bfs-chunk-test-XXXXXX");
    CHECK(mkdtemp(g_root));
    atexit(cleanup);
    strcpy(g_shm, "/dev/shm/bfs-chunk-test-XXXXXX");
    if (!mkdtemp(g_shm))
        g_shm[0] = 0;

    test_basic(g_root, "/tmp", 0);
    test_basic(g_root, "/tmp", 1);
    if (g_shm[0])
        test_basic(g_shm, "/dev/shm", 1);
    test_concurrent(g_root, 1024, 256, 0);
    test_concurrent(g_root, 8, 16, 0);
    test_concurrent(g_root, 3, 4, 1);
    test_meta_ops(g_root);
    test_remove_sliced(g_root);
    test_close_inflight(g_root);
    test_close_stuck(g_root);
    test_emfile(g_root);
    test_idle(g_root);
    test_enospc();
    test_no_direct();

    const char *s = getenv("BFS_CHUNK_BENCH_MB");
    unsigned mb = s ? (unsigned)strtoul(s, NULL, 10) : 256;
    if (mb) {
        bench(g_root, "/tmp    ", mb);
        if (g_shm[0])
            bench(g_shm, "/dev/shm", mb);
    }
    printf("chunk_store_test: all ok\n");
    return 0;
}
