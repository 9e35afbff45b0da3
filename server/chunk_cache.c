/* Bytes just written, for the reads that follow (chunk_cache.h). */
#include "chunk_cache.h"

#include <stdlib.h>
#include <string.h>

#define CC_BUCKETS 4096u          /* chains by fid: a file's chunks share one */
#define CC_MIN_CAP (64u * 1024)   /* copies grow in powers of two from here */

struct entry {
    uint64_t fid, idx;
    char *data;
    size_t cap, len;              /* [0, len) of the chunk is in data */
    unsigned writers;             /* writes in flight */
    int conflict;                 /* two of them overlapped: copy dropped */
    struct entry *hnext;
    struct entry *prev, *next;    /* LRU, head most recent */
};

struct bfs_chunk_cache {
    size_t budget, bytes;
    struct entry *table[CC_BUCKETS];
    struct entry *head, *tail;
    struct bfs_chunk_cache_stats st;
};

static unsigned bucket(uint64_t fid)
{
    fid ^= fid >> 33;
    fid *= 0xff51afd7ed558ccdull;
    fid ^= fid >> 33;
    return (unsigned)(fid & (CC_BUCKETS - 1));
}

bfs_chunk_cache_t *bfs_chunk_cache_new(size_t budget)
{
    bfs_chunk_cache_t *c = calloc(1, sizeof(*c));
    if (c)
        c->budget = budget;
    return c;
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

static void clear_data(bfs_chunk_cache_t *c, struct entry *e)
{
    c->bytes -= e->cap;
    free(e->data);
    e->data = NULL;
    e->cap = e->len = 0;
}

static struct entry **find(bfs_chunk_cache_t *c, uint64_t fid, uint64_t idx)
{
    struct entry **p = &c->table[bucket(fid)];
    while (*p && ((*p)->fid != fid || (*p)->idx != idx))
        p = &(*p)->hnext;
    return p;
}

/* Remove *p from the table and free it (no writer may hold it). */
static void entry_free(bfs_chunk_cache_t *c, struct entry **p)
{
    struct entry *e = *p;
    *p = e->hnext;
    lru_out(c, e);
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
            entry_free(c, &c->table[b]);
    free(c);
}

/* Evict idle entries, oldest first, until need more bytes fit; keep is
 * never evicted. 1 when they fit. */
static int make_room(bfs_chunk_cache_t *c, size_t need, const struct entry *keep)
{
    struct entry *e = c->tail;
    while (c->bytes + need > c->budget && e) {
        struct entry *prev = e->prev;
        if (e != keep && e->cap) {
            c->st.evictions++;
            if (e->writers)
                clear_data(c, e);
            else
                entry_free(c, find(c, e->fid, e->idx));
        }
        e = prev;
    }
    return c->bytes + need <= c->budget;
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

static size_t grown_cap(size_t cap, size_t need)
{
    size_t n = cap ? cap : CC_MIN_CAP;
    while (n < need)
        n *= 2;
    return n;
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
    if (e->conflict) {
        if (!e->writers)
            e->conflict = 0;
    } else if (!ok) {
        if (e->len > off)
            e->len = (size_t)off; /* what lies from off on is unknown */
    } else if (off <= e->len && len) {
        size_t end = (size_t)off + len;
        if (end > e->cap) {
            size_t cap = grown_cap(e->cap, end);
            char *d = NULL;
            if (cap <= c->budget && make_room(c, cap - e->cap, e))
                d = realloc(e->data, cap);
            if (d) {
                c->bytes += cap - e->cap;
                e->data = d;
                e->cap = cap;
            } else {
                end = 0; /* no room: the prefix stops where this write began */
                e->len = (size_t)off;
            }
        }
        if (end) {
            memcpy(e->data + off, buf, len);
            if (end > e->len)
                e->len = end;
        }
    }
    /* (a write past the prefix leaves the prefix as it is) */
    if (!e->writers && !e->len)
        entry_free(c, find(c, fid, idx)); /* make_room may have moved p */
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
            entry_free(c, p);
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
