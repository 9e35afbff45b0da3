/* Small chunks in the metadata store: see small_chunks.h. Each call looks
 * first (bfs_meta_view_begin) and opens a write only when it has something
 * to change: most calls - every write to a chunk file, every unlink of a
 * file without small chunks - change nothing and must not take room in the
 * map (a full disk would refuse them). */
#include "small_chunks.h"
#include "meta_txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define REMOVE_ROOM_EVERY 256

/* Big-endian fid then index: LMDB's byte order keeps a file's chunks
 * together and in index order, so a range is one cursor walk. */
struct chunk_key {
    unsigned char b[16];
};

static void make_key(struct chunk_key *ck, uint64_t fid, uint64_t idx, MDB_val *k)
{
    for (int i = 0; i < 8; i++) {
        ck->b[i] = (unsigned char)(fid >> (56 - 8 * i));
        ck->b[8 + i] = (unsigned char)(idx >> (56 - 8 * i));
    }
    k->mv_data = ck->b;
    k->mv_size = sizeof(ck->b);
}

static void parse_key(const MDB_val *k, uint64_t *fid, uint64_t *idx)
{
    const unsigned char *b = k->mv_data;
    *fid = *idx = 0;
    for (int i = 0; i < 8; i++) {
        *fid = *fid << 8 | b[i];
        *idx = *idx << 8 | b[8 + i];
    }
}

/* The value of (fid, idx) as the batch sees it, in *v until the next write
 * or bfs_meta_view_end(m, *txn), which the caller does whatever the result.
 * -ENOENT when missing. */
static int view_get(bfs_meta_t *m, uint64_t fid, uint64_t idx, MDB_txn **txn, MDB_val *v)
{
    struct chunk_key ck;
    MDB_val k;
    make_key(&ck, fid, idx, &k);
    int rc = bfs_meta_view_begin(m, txn);
    return rc < 0 ? rc : bfs_mdb_err(mdb_get(*txn, m->chunks, &k, v));
}

/* The value as the batch sees it, copied into a new buffer (*out, *len its
 * length; the buffer is never empty). -ENOENT when missing. */
static int load(bfs_meta_t *m, uint64_t fid, uint64_t idx, unsigned char **out, size_t *len)
{
    MDB_txn *txn;
    MDB_val v;
    int rc = view_get(m, fid, idx, &txn, &v);
    if (rc == 0) {
        *len = v.mv_size;
        if ((*out = malloc(v.mv_size ? v.mv_size : 1)))
            memcpy(*out, v.mv_data, v.mv_size);
        else
            rc = -ENOMEM;
    }
    bfs_meta_view_end(m, txn);
    return rc;
}

/* Store a value of nlen bytes: old[0, cur), zeros up to off, data[0, len)
 * at off, old bytes after that. Built in LMDB's own space (MDB_RESERVE):
 * a new value costs no buffer and one copy. */
static int store(bfs_meta_t *m, uint64_t fid, uint64_t idx, const unsigned char *old,
                 size_t cur, uint64_t off, const void *data, size_t len, size_t nlen)
{
    MDB_txn *txn;
    struct chunk_key ck;
    MDB_val k, v = {nlen, NULL};
    make_key(&ck, fid, idx, &k);
    int rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    /* A value of more than half a page lives in overflow pages of its own,
     * new ones at every change. */
    rc = bfs_meta_reserve(m, nlen / m->psize + 2);
    if (rc < 0) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    m->op_wrote = 1;
    rc = bfs_mdb_err(mdb_put(txn, m->chunks, &k, &v, MDB_RESERVE));
    if (rc == 0) {
        unsigned char *dst = v.mv_data;
        size_t keep = cur < nlen ? cur : nlen;
        if (keep)
            memcpy(dst, old, keep);
        if (off > keep)
            memset(dst + keep, 0, (size_t)off - keep);
        if (len)
            memcpy(dst + off, data, len);
    }
    return bfs_meta_wtxn_end(m, txn, rc);
}

ssize_t bfs_small_write(bfs_meta_t *m, uint64_t fid, uint64_t idx, uint64_t off,
                        const void *data, size_t len, size_t max, int create)
{
    unsigned char *old = NULL;
    size_t cur = 0;
    int rc = load(m, fid, idx, &old, &cur);
    if (rc == -ENOENT && create)
        rc = 0;
    if (rc < 0)
        return rc;
    if (off > max || len > max - off || len == 0) {
        free(old);
        return len == 0 && off <= max ? (ssize_t)cur : -EFBIG;
    }
    size_t end = (size_t)off + len, nlen = end > cur ? end : cur;
    rc = store(m, fid, idx, old, cur, off, data, len, nlen);
    free(old);
    return rc < 0 ? rc : (ssize_t)nlen;
}

int bfs_small_exists(bfs_meta_t *m, uint64_t fid, uint64_t idx)
{
    MDB_txn *txn;
    MDB_val v;
    int rc = view_get(m, fid, idx, &txn, &v);
    bfs_meta_view_end(m, txn);
    return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

ssize_t bfs_small_read(bfs_meta_t *m, uint64_t fid, uint64_t idx, uint64_t off, void *buf,
                       size_t len)
{
    MDB_txn *txn;
    struct chunk_key ck;
    MDB_val k, v;
    make_key(&ck, fid, idx, &k);
    int rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    ssize_t n = bfs_mdb_err(mdb_get(txn, m->chunks, &k, &v));
    if (n == 0) {
        size_t avail = off < v.mv_size ? v.mv_size - (size_t)off : 0;
        n = (ssize_t)(avail < len ? avail : len);
        if (n)
            memcpy(buf, (const char *)v.mv_data + off, (size_t)n);
    }
    bfs_meta_rtxn_end(m);
    return n;
}

ssize_t bfs_small_load(bfs_meta_t *m, uint64_t fid, uint64_t idx, void **buf)
{
    unsigned char *val;
    size_t len;
    int rc = load(m, fid, idx, &val, &len);
    if (rc < 0)
        return rc;
    *buf = val;
    return (ssize_t)len;
}

int bfs_small_truncate(bfs_meta_t *m, uint64_t fid, uint64_t idx, uint64_t len)
{
    unsigned char *val;
    size_t cur;
    int rc = load(m, fid, idx, &val, &cur);
    if (rc < 0)
        return rc == -ENOENT ? 0 : rc;
    /* Shorter, never gone: an empty value still stands for the chunk (a
     * stale chunk file may exist, small_chunks.h). */
    if (cur > len)
        rc = store(m, fid, idx, val, cur, len, NULL, 0, (size_t)len);
    free(val);
    return rc < 0 ? rc : cur > len;
}

/* The index of the first value of fid at or after from, below to: 1 and
 * *idx, 0 when there is none. */
static int first_in_range(bfs_meta_t *m, MDB_txn *txn, uint64_t fid, uint64_t from,
                          uint64_t to, MDB_cursor **curp, uint64_t *idx)
{
    struct chunk_key ck;
    MDB_val k, v;
    make_key(&ck, fid, from, &k);
    int rc = bfs_mdb_err(mdb_cursor_open(txn, m->chunks, curp));
    if (rc == 0)
        rc = bfs_mdb_err(mdb_cursor_get(*curp, &k, &v, MDB_SET_RANGE));
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    uint64_t kf;
    parse_key(&k, &kf, idx);
    return k.mv_size == sizeof(ck.b) && kf == fid && *idx < to;
}

int bfs_small_remove(bfs_meta_t *m, uint64_t fid, uint64_t from, uint64_t to)
{
    if (from >= to)
        return 0;
    MDB_txn *txn;
    MDB_cursor *cur = NULL;
    uint64_t idx;
    int rc = bfs_meta_view_begin(m, &txn);
    if (rc == 0)
        rc = first_in_range(m, txn, fid, from, to, &cur, &idx);
    if (cur)
        mdb_cursor_close(cur);
    bfs_meta_view_end(m, txn);
    if (rc <= 0)
        return rc;

    cur = NULL;
    if ((rc = bfs_meta_wtxn_begin(m, &txn)) < 0)
        return rc;
    int n = 0;
    rc = first_in_range(m, txn, fid, idx, to, &cur, &idx);
    while (rc == 1) {
        /* A long range copies many leaf pages: more room as it goes. */
        if (n && n % REMOVE_ROOM_EVERY == 0 && (rc = bfs_meta_reserve(m, 64)) < 0)
            break;
        m->op_wrote = 1;
        rc = bfs_mdb_err(mdb_cursor_del(cur, 0));
        if (rc < 0)
            break;
        n++;
        /* After a delete, NEXT gives the entry that followed. */
        struct chunk_key ck;
        MDB_val k, v;
        rc = bfs_mdb_err(mdb_cursor_get(cur, &k, &v, MDB_NEXT));
        if (rc == 0) {
            uint64_t kf;
            parse_key(&k, &kf, &idx);
            rc = k.mv_size == sizeof(ck.b) && kf == fid && idx < to;
        }
    }
    if (cur)
        mdb_cursor_close(cur);
    if (rc == -ENOENT)
        rc = 0;
    rc = bfs_meta_wtxn_end(m, txn, rc);
    return rc < 0 ? rc : n;
}
