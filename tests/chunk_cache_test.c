/* server/chunk_cache.c on its own: what it serves is exactly what the writes
 * that completed put there, and nothing it cannot vouch for. A model (one
 * byte array per chunk, as the file would hold it) checks every hit of a
 * random sequence of writes, failed writes, overlapping writes in flight,
 * truncates and drops under a small budget, with and without copies taken
 * while a write is in flight. */
#define _GNU_SOURCE
#include "server/chunk_cache.h"
#include "unit_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNK (256u * 1024)
#define NCHUNKS 8

static void basics(void)
{
    bfs_chunk_cache_t *c = bfs_chunk_cache_new(1 << 20, CHUNK);
    static char a[CHUNK], b[CHUNK];
    for (unsigned i = 0; i < CHUNK; i++)
        a[i] = (char)(i * 7 + 1);
    /* A sequential fill: every prefix read hits. */
    for (unsigned off = 0; off < CHUNK; off += 65536) {
        bfs_chunk_cache_write_begin(c, 1, 0);
        CHECK(!bfs_chunk_cache_read(c, 1, 0, off, b, 65536));
        bfs_chunk_cache_write_end(c, 1, 0, off, a + off, 65536, 1);
    }
    CHECK(bfs_chunk_cache_read(c, 1, 0, 0, b, CHUNK) && !memcmp(a, b, CHUNK));
    CHECK(!bfs_chunk_cache_read(c, 1, 0, 1, b, CHUNK));
    CHECK(!bfs_chunk_cache_read(c, 1, 1, 0, b, 10));
    CHECK(!bfs_chunk_cache_read(c, 2, 0, 0, b, 10));
    /* A write past the prefix is not cached; one from its end is. */
    bfs_chunk_cache_write_begin(c, 3, 0);
    bfs_chunk_cache_write_end(c, 3, 0, 4096, a, 4096, 1);
    CHECK(!bfs_chunk_cache_read(c, 3, 0, 4096, b, 4096));
    /* A failed write: nothing from its offset on. */
    bfs_chunk_cache_write_begin(c, 1, 0);
    bfs_chunk_cache_write_end(c, 1, 0, 1000, a, 5000, 0);
    CHECK(bfs_chunk_cache_read(c, 1, 0, 0, b, 1000));
    CHECK(!bfs_chunk_cache_read(c, 1, 0, 0, b, 1001));
    /* Two writes in flight at once: neither is cached, later ones are. */
    bfs_chunk_cache_write_begin(c, 4, 0);
    bfs_chunk_cache_write_begin(c, 4, 0);
    bfs_chunk_cache_write_end(c, 4, 0, 0, a, 100, 1);
    bfs_chunk_cache_write_end(c, 4, 0, 0, a + 1, 100, 1);
    CHECK(!bfs_chunk_cache_read(c, 4, 0, 0, b, 100));
    bfs_chunk_cache_write_begin(c, 4, 0);
    bfs_chunk_cache_write_end(c, 4, 0, 0, a + 2, 100, 1);
    CHECK(bfs_chunk_cache_read(c, 4, 0, 0, b, 100) && !memcmp(b, a + 2, 100));
    /* A drop while a write is in flight: that write caches nothing. */
    bfs_chunk_cache_write_begin(c, 4, 0);
    bfs_chunk_cache_drop(c, 4, 0, UINT64_MAX);
    CHECK(!bfs_chunk_cache_read(c, 4, 0, 0, b, 100));
    bfs_chunk_cache_write_end(c, 4, 0, 0, a, 100, 1);
    CHECK(!bfs_chunk_cache_read(c, 4, 0, 0, b, 100));
    /* Truncate cuts the prefix. */
    bfs_chunk_cache_truncate(c, 1, 0, 10);
    CHECK(bfs_chunk_cache_read(c, 1, 0, 0, b, 10) && !bfs_chunk_cache_read(c, 1, 0, 0, b, 11));
    /* The budget: 1 MiB holds four 256 KiB chunks; the oldest go. */
    for (uint64_t f = 10; f < 16; f++) {
        bfs_chunk_cache_write_begin(c, f, 0);
        bfs_chunk_cache_write_end(c, f, 0, 0, a, CHUNK, 1);
    }
    struct bfs_chunk_cache_stats st;
    bfs_chunk_cache_stats(c, &st);
    CHECK(st.bytes <= 1 << 20);
    CHECK(bfs_chunk_cache_read(c, 15, 0, 0, b, CHUNK) && !memcmp(a, b, CHUNK));
    CHECK(!bfs_chunk_cache_read(c, 10, 0, 0, b, 1));
    CHECK(st.recycled > 0); /* later chunks took the evicted ones' buffers */
    /* An early copy counts only once its write ended well: invisible
     * before, gone after a failure, dropped by a second writer. */
    bfs_chunk_cache_write_begin(c, 20, 0);
    bfs_chunk_cache_write_early(c, 20, 0, 0, a, 8192);
    CHECK(!bfs_chunk_cache_read(c, 20, 0, 0, b, 1));
    bfs_chunk_cache_write_end(c, 20, 0, 0, a, 8192, 1);
    CHECK(bfs_chunk_cache_read(c, 20, 0, 0, b, 8192) && !memcmp(a, b, 8192));
    bfs_chunk_cache_write_begin(c, 20, 0);
    bfs_chunk_cache_write_early(c, 20, 0, 8192, a + 1, 4096);
    bfs_chunk_cache_write_end(c, 20, 0, 8192, a + 1, 4096, 0);
    CHECK(!bfs_chunk_cache_read(c, 20, 0, 8192, b, 1));
    CHECK(bfs_chunk_cache_read(c, 20, 0, 0, b, 8192) && !memcmp(a, b, 8192));
    bfs_chunk_cache_write_begin(c, 20, 0);
    bfs_chunk_cache_write_early(c, 20, 0, 8192, a + 2, 4096);
    bfs_chunk_cache_write_begin(c, 20, 0);
    bfs_chunk_cache_write_end(c, 20, 0, 8192, a + 2, 4096, 1);
    bfs_chunk_cache_write_end(c, 20, 0, 0, a + 3, 100, 1);
    CHECK(!bfs_chunk_cache_read(c, 20, 0, 0, b, 1));
    /* Inside the prefix no early copy is taken (a read meanwhile would see
     * bytes not yet in the file): the old bytes stay until the end. */
    bfs_chunk_cache_write_begin(c, 21, 0);
    bfs_chunk_cache_write_end(c, 21, 0, 0, a, 8192, 1);
    bfs_chunk_cache_write_begin(c, 21, 0);
    bfs_chunk_cache_write_early(c, 21, 0, 0, a + 5, 4096);
    CHECK(bfs_chunk_cache_read(c, 21, 0, 0, b, 4096) && !memcmp(a, b, 4096));
    bfs_chunk_cache_write_end(c, 21, 0, 0, a + 5, 4096, 1);
    CHECK(bfs_chunk_cache_read(c, 21, 0, 0, b, 4096) && !memcmp(a + 5, b, 4096));
    bfs_chunk_cache_stats(c, &st);
    CHECK(st.bytes <= 1 << 20 && st.early == 3);
    bfs_chunk_cache_free(c);
    /* No budget: nothing ever hits. */
    c = bfs_chunk_cache_new(0, CHUNK);
    bfs_chunk_cache_write_begin(c, 1, 0);
    bfs_chunk_cache_write_end(c, 1, 0, 0, a, 100, 1);
    CHECK(!bfs_chunk_cache_read(c, 1, 0, 0, b, 100));
    bfs_chunk_cache_free(c);
}

/* Random operations against a model of the chunk files. Writes are begun
 * and ended out of order (up to 3 in flight); the model applies a write
 * when it ends, as the device may. A hit must equal the model wherever no
 * write overlapping the read is in flight. */
struct pending {
    uint64_t idx, off;
    size_t len;
    char *data;
    int ok;
};

static void model_run(unsigned seed)
{
    static char file[NCHUNKS][CHUNK];
    static size_t flen[NCHUNKS];
    memset(file, 0, sizeof(file));
    memset(flen, 0, sizeof(flen));
    bfs_chunk_cache_t *c = bfs_chunk_cache_new(3 * CHUNK / 2, CHUNK);
    struct pending pend[3];
    unsigned np = 0;
    srand(seed);
    static char noise[2 * CHUNK];
    for (size_t i = 0; i < sizeof(noise); i++)
        noise[i] = (char)rand();
    static char buf[CHUNK];
    unsigned hits = 0;
    for (int step = 0; step < 20000 && !failures; step++) {
        int what = rand() % 10;
        uint64_t idx = (uint64_t)(rand() % NCHUNKS);
        if (what < 4 && np < 3) {
            struct pending *p = &pend[np++];
            p->idx = idx;
            p->off = (uint64_t)(rand() % 4 ? flen[idx] / 4096 * 4096 : (size_t)(rand() % CHUNK));
            if (p->off >= CHUNK)
                p->off = 0;
            p->len = 1 + (size_t)rand() % (CHUNK - p->off);
            p->data = malloc(p->len);
            /* Random bytes from a random place of a random pool (a byte at a
             * time took most of the test's time). */
            memcpy(p->data, noise + rand() % CHUNK, p->len);
            p->ok = rand() % 20 != 0;
            bfs_chunk_cache_write_begin(c, 1, p->idx);
            if (rand() % 2)
                bfs_chunk_cache_write_early(c, 1, p->idx, p->off, p->data, p->len);
        } else if (what < 7 && np) {
            unsigned k = (unsigned)rand() % np;
            struct pending p = pend[k];
            pend[k] = pend[--np];
            /* A failed write may have put any part of its bytes there. */
            size_t n = p.ok ? p.len : (size_t)rand() % (p.len + 1);
            memcpy(file[p.idx] + p.off, p.data, n);
            if (p.off + n > flen[p.idx])
                flen[p.idx] = p.off + n;
            bfs_chunk_cache_write_end(c, 1, p.idx, p.off, p.data, p.len, p.ok);
            free(p.data);
        } else if (what < 9) {
            size_t off = (size_t)rand() % CHUNK, len = 1 + (size_t)rand() % (CHUNK - off);
            int busy = 0;
            for (unsigned k = 0; k < np; k++)
                busy |= pend[k].idx == idx;
            if (bfs_chunk_cache_read(c, 1, idx, off, buf, len)) {
                hits++;
                CHECK(off + len <= flen[idx]);
                CHECK(busy || !memcmp(buf, file[idx] + off, len));
            }
        } else if (rand() % 2) {
            size_t to = (size_t)rand() % CHUNK;
            if (to < flen[idx]) {
                memset(file[idx] + to, 0, CHUNK - to);
                flen[idx] = to;
            }
            bfs_chunk_cache_truncate(c, 1, idx, to);
        } else {
            memset(file[idx], 0, CHUNK);
            flen[idx] = 0;
            bfs_chunk_cache_drop(c, 1, idx, idx + 1);
        }
    }
    while (np)
        free(pend[--np].data);
    CHECK(hits > 100);
    struct bfs_chunk_cache_stats st;
    bfs_chunk_cache_stats(c, &st);
    CHECK(st.bytes <= 3 * CHUNK / 2 && st.early > 0);
    bfs_chunk_cache_free(c);
}

int main(void)
{
    basics();
    for (unsigned s = 1; s <= 20 && !failures; s++)
        model_run(s);
    if (!failures)
        printf("PASS: chunk_cache\n");
    return failures ? 1 : 0;
}
