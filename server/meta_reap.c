/* The metadata side of reclaiming dead files (docs/DESIGN.md "Open files
 * and reclamation"): orphans (nlink 0, still open) in `files`, and the
 * `reap` table of dead files whose chunks the servers still have to free.
 * The reaper (reaper.c) drives it; meta_store.c calls bfs_meta_file_dies
 * when a file's last link goes. The `dead` tombstones that keep late
 * writes of dead files out are here too. */
#include "meta_reap.h"
#include "meta_txn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static MDB_val key_of(uint64_t fid, unsigned char b[8])
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(fid >> (56 - 8 * i));
    MDB_val k = {8, b};
    return k;
}

static uint64_t fid_of(const MDB_val *k)
{
    uint64_t fid = 0;
    const unsigned char *b = k->mv_data;
    for (int i = 0; i < 8 && i < (int)k->mv_size; i++)
        fid = fid << 8 | b[i];
    return fid;
}

int bfs_meta_file_dies(bfs_meta_t *m, MDB_txn *txn, struct bfs_inode *ino)
{
    unsigned char b[8];
    MDB_val k = key_of(ino->fid, b);
    m->op_wrote = 1;
    if (m->is_open && m->is_open(m->hook_arg, ino->fid)) {
        /* Unlinked while open: the holders keep it (POSIX); the inode
         * stays, with its chunks, until the last close. */
        struct bfs_inode o = *ino;
        o.nlink = 0;
        MDB_val v = {sizeof(o), &o};
        return bfs_mdb_err(mdb_put(txn, m->files, &k, &v, 0));
    }
    int rc = bfs_mdb_err(mdb_del(txn, m->files, &k, NULL));
    if (rc < 0 || ino->size == 0)
        return rc; /* no data: nothing to reclaim */
    /* In the transaction that deleted the inode: a dead file's chunks are
     * freed even if every client and this server die right after. */
    uint64_t size = ino->size;
    MDB_val v = {sizeof(size), &size};
    rc = bfs_mdb_err(mdb_put(txn, m->reap, &k, &v, 0));
    if (rc == 0 && m->on_reap)
        m->on_reap(m->hook_arg, ino->fid, size);
    return rc;
}

void bfs_meta_reap_hooks(bfs_meta_t *m, int (*is_open)(void *, uint64_t),
                         void (*on_reap)(void *, uint64_t, uint64_t), void *arg)
{
    m->is_open = is_open;
    m->on_reap = on_reap;
    m->hook_arg = arg;
}

int bfs_meta_fid_release(bfs_meta_t *m, uint64_t fid, struct bfs_inode *dead)
{
    MDB_txn *txn;
    int rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    unsigned char b[8];
    MDB_val k = key_of(fid, b), v;
    rc = bfs_mdb_err(mdb_get(txn, m->files, &k, &v));
    if (rc < 0 || v.mv_size != sizeof(*dead)) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc == -ENOENT || rc == 0 ? 0 : rc;
    }
    memcpy(dead, v.mv_data, sizeof(*dead));
    if (dead->nlink != 0) {
        bfs_meta_wtxn_cancel(m, txn);
        return 0; /* still named */
    }
    rc = bfs_meta_file_dies(m, txn, dead);
    rc = bfs_meta_wtxn_end(m, txn, rc);
    return rc < 0 ? rc : 1;
}

int bfs_meta_reap_orphans(bfs_meta_t *m, unsigned *count)
{
    /* The fids first (committed view), then one transaction each. */
    uint64_t *fids = NULL;
    size_t n = 0, cap = 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    *count = 0;
    int rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = bfs_mdb_err(mdb_cursor_open(txn, m->files, &cur));
    if (rc == 0) {
        MDB_val k, v;
        int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        for (; r == 0; r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            struct bfs_inode ino;
            if (v.mv_size != sizeof(ino))
                continue;
            memcpy(&ino, v.mv_data, sizeof(ino));
            if (ino.nlink != 0)
                continue;
            if (n == cap) {
                size_t nc = cap ? 2 * cap : 64;
                uint64_t *nf = realloc(fids, nc * sizeof(*nf));
                if (!nf) {
                    rc = -ENOMEM;
                    break;
                }
                fids = nf;
                cap = nc;
            }
            fids[n++] = fid_of(&k);
        }
        mdb_cursor_close(cur);
    }
    bfs_meta_rtxn_end(m);
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct bfs_inode dead;
        int r = bfs_meta_fid_release(m, fids[i], &dead);
        if (r < 0)
            rc = r;
        else
            *count += (unsigned)r;
    }
    free(fids);
    return rc;
}

int bfs_meta_reap_each(bfs_meta_t *m, void (*fn)(void *, uint64_t, uint64_t), void *arg)
{
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = bfs_mdb_err(mdb_cursor_open(txn, m->reap, &cur));
    if (rc == 0) {
        MDB_val k, v;
        int r = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
        for (; r == 0; r = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
            uint64_t size = 0;
            if (v.mv_size == sizeof(size))
                memcpy(&size, v.mv_data, sizeof(size));
            fn(arg, fid_of(&k), size);
        }
        mdb_cursor_close(cur);
    }
    bfs_meta_rtxn_end(m);
    return rc;
}

int bfs_meta_reap_done(bfs_meta_t *m, uint64_t fid)
{
    MDB_txn *txn;
    int rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    unsigned char b[8];
    MDB_val k = key_of(fid, b);
    m->op_wrote = 1;
    rc = bfs_mdb_err(mdb_del(txn, m->reap, &k, NULL));
    if (rc == -ENOENT) {
        m->op_wrote = 0;
        rc = 0;
    }
    return bfs_meta_wtxn_end(m, txn, rc);
}

int bfs_meta_fid_alive(bfs_meta_t *m, uint64_t fid)
{
    MDB_txn *txn;
    int rc = bfs_meta_view_begin(m, &txn);
    if (rc < 0)
        return rc;
    unsigned char b[8];
    MDB_val k = key_of(fid, b), v;
    rc = bfs_mdb_err(mdb_get(txn, m->files, &k, &v));
    bfs_meta_view_end(m, txn);
    return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

int bfs_meta_fid_orphan(bfs_meta_t *m, uint64_t fid)
{
    MDB_txn *txn;
    int rc = bfs_meta_view_begin(m, &txn);
    if (rc < 0)
        return rc;
    unsigned char b[8];
    MDB_val k = key_of(fid, b), v;
    rc = bfs_mdb_err(mdb_get(txn, m->files, &k, &v));
    int orphan = 0;
    if (rc == 0 && v.mv_size == sizeof(struct bfs_inode)) {
        struct bfs_inode ino;
        memcpy(&ino, v.mv_data, sizeof(ino));
        orphan = ino.nlink == 0;
    }
    bfs_meta_view_end(m, txn);
    return rc == 0 ? orphan : rc == -ENOENT ? 0 : rc;
}

int bfs_meta_dead_mark(bfs_meta_t *m, uint64_t fid, uint64_t now_ns)
{
    MDB_txn *txn;
    int rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    unsigned char b[8];
    MDB_val k = key_of(fid, b), v = {sizeof(now_ns), &now_ns};
    m->op_wrote = 1;
    rc = bfs_mdb_err(mdb_put(txn, m->dead, &k, &v, 0));
    if (rc == 0)
        m->dead_any = 1;
    return bfs_meta_wtxn_end(m, txn, rc);
}

int bfs_meta_dead_is(bfs_meta_t *m, uint64_t fid)
{
    if (!m->dead_any)
        return 0; /* the common case: no file died here, no lookup */
    MDB_txn *txn;
    int rc = bfs_meta_view_begin(m, &txn);
    if (rc < 0)
        return rc;
    unsigned char b[8];
    MDB_val k = key_of(fid, b), v;
    rc = bfs_mdb_err(mdb_get(txn, m->dead, &k, &v));
    bfs_meta_view_end(m, txn);
    return rc == 0 ? 1 : rc == -ENOENT ? 0 : rc;
}

int bfs_meta_dead_expire(bfs_meta_t *m, uint64_t before_ns, unsigned max, unsigned *dropped)
{
    *dropped = 0;
    if (!m->dead_any)
        return 0;
    MDB_txn *txn;
    MDB_cursor *cur;
    int rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = bfs_mdb_err(mdb_cursor_open(txn, m->dead, &cur));
    if (rc < 0) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    unsigned char b[8];
    MDB_val k = key_of(m->dead_sweep, b), v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    unsigned seen = 0;
    for (; r == 0 && seen < max; seen++) {
        uint64_t t = 0;
        if (v.mv_size == sizeof(t))
            memcpy(&t, v.mv_data, sizeof(t));
        m->dead_sweep = fid_of(&k) + 1;
        if (t < before_ns) {
            m->op_wrote = 1;
            if ((rc = bfs_mdb_err(mdb_cursor_del(cur, 0))) < 0)
                break;
            ++*dropped;
        }
        /* After a delete, LMDB's NEXT is the entry that followed it. */
        r = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
    }
    if (rc == 0 && r == MDB_NOTFOUND) {
        /* Went round: start over next time; an empty table needs no look. */
        m->dead_sweep = 0;
        MDB_stat st;
        if (mdb_stat(txn, m->dead, &st) == 0 && st.ms_entries == 0)
            m->dead_any = 0;
    }
    mdb_cursor_close(cur);
    if (!m->op_wrote) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    return bfs_meta_wtxn_end(m, txn, rc);
}
