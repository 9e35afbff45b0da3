/* Bytes just written, for the reads that follow (chunk_cache.h). */
#define _GNU_SOURCE
#include "chunk_cache.h"
#include "warm_pool.h"

#include <stdlib.h>
#include <string.h>

#define CC_BUCKETS 4096u            /* chains by fid: a file's chunks share one */
#define CC_GRAIN (64u * 1024)       /* least budget unit: pages are touched in runs */

struct entry {
    uint64_t fid, idx;
    char *data;                 /* a buffer of c->cap bytes, or NULL */
    size_t touched;             /* bytes of data counted in the budget */
    size_t len;                 /* [0, len) of the chunk is in data */
    unsigned writers;           /* writes in flight */
    int conflict;               /* two of them overlapped: copy dropped */
    int early;                  /* the one writer's bytes are in data already */
    struct entry *hnext;
    struct entry *prev, *next;  /* LRU, head most recent */
};

/* A buffer kept for reuse: its touched pages are warm. */
struct spare {
    char *data;
    size_t touched;
    struct spare *next;
};

struct bfs_chunk_cache {
    size_t budget, bytes;       /* bytes: touched bytes of every buffer, spares too */
    size_t cap, grain;
    bfs_warm_pool_t *pool;      /* buffers: fresh, or touched ahead */
    struct entry *table[CC_BUCKETS];
    struct entry *head, *tail;
    struct spare *spares;
    struct bfs_chunk_cache_stats st;
};

static unsigned bucket(uint64_t fid)
{
    fid ^= fid >> 33;
    fid *= 0xff51afd7ed558ccdull;
    fid ^= fid >> 33;
    return (unsigned)(fid & (CC_BUCKETS - 1));
}

static size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

bfs_chunk_cache_t *bfs_chunk_cache_new(size_t budget, size_t chunk_size)
{
    bfs_chunk_cache_t *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    if (chunk_size && budget && (c->pool = bfs_warm_pool_new(chunk_size))) {
        c->budget = budget;
        c->cap = bfs_warm_pool_size(c->pool);
        size_t page = bfs_warm_pool_page(c->pool);
        c->grain = page > CC_GRAIN ? page : CC_GRAIN;
        if (c->grain > c->cap)
            c->grain = c->cap;
    }
    return c;
}

static size_t ready_bytes(bfs_chunk_cache_t *c) { return bfs_warm_pool_ready(c->pool) * c->cap; }

/* The reserve may hold what the budget leaves (need bytes more kept free). */
static void pool_limit(bfs_chunk_cache_t *c, size_t need)
{
    size_t used = c->bytes + need;
    bfs_warm_pool_limit(c->pool, used < c->budget ? (c->budget - used) / c->cap : 0);
}

static void buf_free(bfs_chunk_cache_t *c, char *p) { bfs_warm_pool_release(c->pool, p); }

static void spare_put(bfs_chunk_cache_t *c, char *data, size_t touched)
{
    struct spare *s = touched ? malloc(sizeof(*s)) : NULL;
    if (!s) {
        c->bytes -= touched;
        buf_free(c, data);
        return;
    }
    s->data = data;
    s->touched = touched;
    s->next = c->spares;
    c->spares = s;
}

static void spare_free_one(bfs_chunk_cache_t *c)
{
    struct spare *s = c->spares;
    c->spares = s->next;
    c->bytes -= s->touched;
    buf_free(c, s->data);
    free(s);
}

static void lru_out(bfs_chunk_cache_t *c, struct entry *e)
{
    if (e->prev)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_front(bfs_chunk_cache_t *c, struct entry *e)
{
    e->next = c->head;
    e->prev = NULL;
    if (c->head)
        c->head->prev = e;
    c->head = e;
    if (!c->tail)
        c->tail = e;
}

static void detach_data(struct entry *e)
{
    e->data = NULL;
    e->touched = e->len = 0;
    e->early = 0;
}

/* The copy is no longer valid: keep its buffer for the next entry. */
static void clear_data(bfs_chunk_cache_t *c, struct entry *e)
{
    if (e->data)
        spare_put(c, e->data, e->touched);
    detach_data(e);
}

/* Give the memory back (room is needed). */
static void release_data(bfs_chunk_cache_t *c, struct entry *e)
{
    if (e->data) {
        c->bytes -= e->touched;
        buf_free(c, e->data);
    }
    detach_data(e);
}

static struct entry **find(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx)
{
    struct entry **p = &c->table[bucket(fid)];
    while (*p && ((*p)->fid != fid || (*p)->idx != idx))
        p = &(*p)->hnext;
    return p;
}

/* Remove *p from the table (no writer may hold it); its buffer is kept as a
 * spare unless release. */
static void entry_free(bfs_chunk_cache_t *c, struct entry **p, int release)
{
    struct entry *e = *p;
    *p = e->hnext;
    lru_out(c, e);
    if (release)
        release_data(c, e);
    else
        clear_data(c, e);
    c->st.entries--;
    free(e);
}

void bfs_chunk_cache_free(bfs_chunk_cache_t *c)
{
    if (!c)
        return;
    for (unsigned b = 0; b < CC_BUCKETS; b++)
        while (c->table[b])
            entry_free(c, &c->table[b], 1);
    while (c->spares)
        spare_free_one(c);
    bfs_warm_pool_free(c->pool);
    free(c);
}

/* Free spares, shrink the reserve, then evict entries, oldest first, until
 * need more bytes fit; keep is never evicted. 1 when they fit. */
static int make_room(bfs_chunk_cache_t *c, size_t need, const struct entry *keep)
{
    while (c->bytes + ready_bytes(c) + need > c->budget && c->spares)
        spare_free_one(c);
    pool_limit(c, need);
    struct entry *e = c->tail;
    while (c->bytes + need > c->budget && e) {
        struct entry *prev = e->prev;
        if (e != keep && e->data) {
            c->st.evictions++;
            if (e->writers)
                release_data(c, e);
            else
                entry_free(c, find(c, e->fid, e->idx), 1);
        }
        e = prev;
    }
    return c->bytes + need <= c->budget;
}

/* A buffer for e: a spare, one touched ahead, or when no whole buffer more
 * fits, the oldest idle entry's (warm memory, not fresh), else a new one. */
static void take_buffer(bfs_chunk_cache_t *c, struct entry *e)
{
    char *warm = c->spares ? NULL : bfs_warm_pool_take(c->pool);
    if (warm) {
        e->data = warm;
        e->touched = c->cap;
        c->bytes += c->cap; /* was counted as ready */
        c->st.warm++;
        return;
    }
    if (c->spares) {
        struct spare *s = c->spares;
        c->spares = s->next;
        e->data = s->data;
        e->touched = s->touched;
        free(s);
        c->st.recycled++;
        return;
    }
    if (c->bytes + c->cap > c->budget) {
        for (struct entry *v = c->tail; v; v = v->prev) {
            if (v == e || !v->data || v->writers)
                continue;
            e->data = v->data;
            e->touched = v->touched;
            detach_data(v);
            entry_free(c, find(c, v->fid, v->idx), 1);
            c->st.evictions++;
            c->st.recycled++;
            return;
        }
    }
    e->data = bfs_warm_pool_alloc(c->pool);
    e->touched = 0;
}

/* Put len bytes at off into e's copy (not yet counted as valid). */
static int put(bfs_chunk_cache_t *c, struct entry *e, uint64_t off, const void *buf, size_t len)
{
    if (off > c->cap || len > c->cap - off)
        return 0;
    size_t end = (size_t)off + len;
    if (!e->data)
        take_buffer(c, e);
    if (!e->data)
        return 0;
    size_t want = round_up(end, c->grain);
    if (want > c->cap)
        want = c->cap;
    if (want > e->touched) {
        if (!make_room(c, want - e->touched, e) || !e->data)
            return 0;
        c->bytes += want - e->touched;
        e->touched = want;
        pool_limit(c, 0);
    }
    memcpy(e->data + off, buf, len);
    return 1;
}

void bfs_chunk_cache_write_begin(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx)
{
    if (!c || !c->budget)
        return;
    struct entry **p = find(c, fid, idx), *e = *p;
    if (!e) {
        if (!(e = calloc(1, sizeof(*e))))
            return; /* no entry: write_end finds none and caches nothing */
        e->fid = fid;
        e->idx = idx;
        *p = e;
        lru_front(c, e);
        c->st.entries++;
    }
    if (e->writers++ > 0 && !e->conflict) {
        e->conflict = 1;
        clear_data(c, e);
    }
}

void bfs_chunk_cache_write_early(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx, uint64_t off,
                                 const void *buf, size_t len)
{
    if (!c || !c->budget)
        return;
    struct entry *e = *find(c, fid, idx);
    /* Only past the valid prefix: a read meanwhile must not see bytes that
     * have not reached the file. */
    if (!e || e->writers != 1 || e->conflict || e->early || off != e->len || !len)
        return;
    if (put(c, e, off, buf, len)) {
        e->early = 1; /* the one writer's: its write_end has these off and len */
        c->st.early++;
    }
}

void bfs_chunk_cache_write_end(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx, uint64_t off,
                               const void *buf, size_t len, int ok)
{
    if (!c || !c->budget)
        return;
    struct entry **p = find(c, fid, idx), *e = *p;
    if (!e || !e->writers)
        return; /* its write_begin found no memory */
    e->writers--;
    int early = e->early;
    e->early = 0;
    if (e->conflict) {
        if (!e->writers)
            e->conflict = 0;
    } else if (!ok) {
        if (e->len > off)
            e->len = (size_t)off; /* what lies from off on is unknown */
    } else if (off <= e->len && len) {
        if (early || put(c, e, off, buf, len)) {
            if (off + len > e->len)
                e->len = (size_t)off + len;
        } else {
            e->len = (size_t)off; /* no room: the prefix stops where this write began */
        }
    }
    /* (a write past the prefix leaves the prefix as it is) */
    if (!e->writers && !e->len)
        entry_free(c, find(c, fid, idx), 0); /* make_room may have moved p */
    else if (e != c->head) {
        lru_out(c, e);
        lru_front(c, e);
    }
}

int bfs_chunk_cache_read(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx, uint64_t off, void *buf,
                         size_t len)
{
    if (!c || !c->budget)
        return 0;
    struct entry *e = *find(c, fid, idx);
    if (!e || off > e->len || len > e->len - off || !len) {
        c->st.misses++;
        return 0;
    }
    memcpy(buf, e->data + off, len);
    c->st.hits++;
    if (e != c->head) {
        lru_out(c, e);
        lru_front(c, e);
    }
    return 1;
}

/* A chunk changed underneath its writers in flight: their ends must not
 * cache what they wrote (it may have landed before the change). */
static void changed(bfs_chunk_cache_t *c, struct entry **p, uint64_t keep)
{
    struct entry *e = *p;
    if (e->writers) {
        e->conflict = 1;
        clear_data(c, e);
    } else if (keep < e->len) {
        e->len = (size_t)keep;
        if (!e->len)
            entry_free(c, p, 0);
    }
}

void bfs_chunk_cache_truncate(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx, uint64_t len)
{
    if (!c || !c->budget)
        return;
    struct entry **p = find(c, fid, idx);
    if (*p)
        changed(c, p, len);
}

void bfs_chunk_cache_drop(bfs_chunk_cache_t *c, uint64_t fid, uint64_t from, uint64_t to)
{
    if (!c || !c->budget)
        return;
    struct entry **p = &c->table[bucket(fid)];
    while (*p) {
        struct entry *e = *p;
        if (e->fid == fid && e->idx >= from && e->idx < to) {
            changed(c, p, 0);
            if (*p != e)
                continue; /* freed: *p is the next one */
        }
        p = &e->hnext;
    }
}

void bfs_chunk_cache_stats(const bfs_chunk_cache_t *c, struct bfs_chunk_cache_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (c) {
        *out = c->st;
        out->bytes = c->bytes;
    }
}
