/* Metadata store on LMDB: see meta_store.h for the contract. */
#define _GNU_SOURCE /* fallocate */
#include "meta_store.h"
#include "meta_txn.h"
#include "meta_keys.h"
#include "../common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <time.h>

/* Sparse file: LMDB only reserves address space, the file grows as used. */
#define META_MAP_SIZE (16ull << 30)
/* Commits write straight into the map (MDB_WRITEMAP): a commit with
 * pwrite() copied every dirty page and cost a third of the server's CPU per
 * create. A store into a hole of the map on a full disk would be SIGBUS,
 * though, so the file is allocated (fallocate) ahead of LMDB's last page,
 * in steps of SPACE_STEP, and a mutation that cannot get its room fails
 * with -ENOSPC before it touches the map. PAGES_PER_OP bounds the new pages
 * one mutation can take: copy-on-write of a root-to-leaf path with splits
 * in each of the tables plus its share of the free list, with keys of at
 * most 511 bytes and values of 56; larger values (small chunks) reserve
 * their overflow pages on top (bfs_meta_reserve). Copy-on-write file
 * systems (btrfs, ZFS, bcachefs) do not keep an fallocate'd block for the
 * next overwrite, so there the store does without the map. */
#define SPACE_STEP (4ull << 20)
#define PAGES_PER_OP 64u
#define PAGES_FIXED 256u
/* Fids are handed out from a persisted reservation so that a create writes
 * the counter only once per batch; a restart skips the unused rest of the
 * batch, which costs nothing against 2^48 ids. */
#define FID_BATCH 4096u
#define FID_COUNTER_MAX (1ull << 48)

static const char fid_key[] = "fid_reserved";

/* LMDB returns positive errno values or its own negative codes. */
int bfs_mdb_err(int rc)
{
    switch (rc) {
    case MDB_SUCCESS:
        return 0;
    case MDB_NOTFOUND:
        return -ENOENT;
    case MDB_KEYEXIST:
        return -EEXIST;
    case MDB_MAP_FULL:
    case MDB_TXN_FULL:
    case MDB_PAGE_FULL:
        return -ENOSPC;
    case MDB_BAD_VALSIZE:
        return -ENAMETOOLONG;
    case MDB_READERS_FULL:
        return -EAGAIN;
    default:
        return rc > 0 ? -rc : -EIO;
    }
}

/* The key of a directory's record (meta_keys.h): the path itself, without
 * a copy, while it fits; past that its digest, in m->pkbuf. */
static int path_key(const bfs_meta_t *m, const char *path, MDB_val *k)
{
    size_t len = strlen(path);
    if (len == 0)
        return -EINVAL;
    if (len <= BFS_KEY_MAX) {
        k->mv_data = (void *)path;
        k->mv_size = len;
        return 0;
    }
    int n = bfs_key_record(path, len, m->pkbuf);
    if (n < 0)
        return n;
    k->mv_data = m->pkbuf;
    k->mv_size = (size_t)n;
    return 0;
}

/* Builds the key of dir's entry name in buf (BFS_KEY_MAX bytes; meta_keys.h);
 * name may be "" for the start of dir's range. */
static int dirent_key(const bfs_meta_t *m, const char *dir, const char *name, char *buf,
                      MDB_val *k)
{
    (void)m;
    int n = bfs_key_dirent(dir, strlen(dir), name, strlen(name), buf);
    if (n < 0)
        return n;
    k->mv_data = buf;
    k->mv_size = (size_t)n;
    return 0;
}

static int rec_get(MDB_txn *txn, MDB_dbi dbi, const MDB_val *k, struct bfs_inode *ino)
{
    MDB_val v;
    int rc = mdb_get(txn, dbi, (MDB_val *)k, &v);
    if (rc != 0)
        return bfs_mdb_err(rc);
    if (v.mv_size != sizeof(*ino))
        return -EIO;
    /* LMDB values are not aligned. */
    memcpy(ino, v.mv_data, sizeof(*ino));
    return 0;
}

static int inode_get(const bfs_meta_t *m, MDB_txn *txn, const MDB_val *k, struct bfs_inode *ino)
{
    return rec_get(txn, m->inodes, k, ino);
}

static int rec_put(bfs_meta_t *m, MDB_txn *txn, MDB_dbi dbi, const MDB_val *k,
                   const struct bfs_inode *ino, unsigned flags)
{
    MDB_val v = { sizeof(*ino), (void *)ino };
    m->op_wrote = 1;
    return bfs_mdb_err(mdb_put(txn, dbi, (MDB_val *)k, &v, flags));
}

static int inode_put(bfs_meta_t *m, MDB_txn *txn, const MDB_val *k,
                     const struct bfs_inode *ino, unsigned flags)
{
    return rec_put(m, txn, m->inodes, k, ino, flags);
}

/* Keys of the files table: the fid big endian, so ids sort as numbers. */
struct fid_key {
    unsigned char b[8];
};

static MDB_val fid_val(uint64_t fid, struct fid_key *fk)
{
    for (int i = 0; i < 8; i++)
        fk->b[i] = (unsigned char)(fid >> (56 - 8 * i));
    MDB_val k = { sizeof(fk->b), fk->b };
    return k;
}

/* Room in the map for `pages` more new pages in the open transaction, on
 * top of the last committed page and what the transaction reserved before
 * (see MDB_WRITEMAP above). */
int bfs_meta_reserve(bfs_meta_t *m, uint64_t pages)
{
    if (!m->writemap)
        return 0;
    MDB_envinfo info;
    int rc = bfs_mdb_err(mdb_env_info(m->env, &info));
    if (rc < 0)
        return rc;
    uint64_t need = ((uint64_t)info.me_last_pgno + 1 + PAGES_FIXED + m->reserved + pages) *
                    m->psize;
    if (need > META_MAP_SIZE)
        need = META_MAP_SIZE;
    if (need > m->alloc_end) {
        uint64_t end = need + SPACE_STEP - need % SPACE_STEP;
        if (end > META_MAP_SIZE)
            end = META_MAP_SIZE;
        if (fallocate(m->fd, 0, (off_t)m->alloc_end, (off_t)(end - m->alloc_end)) < 0) {
            /* Not a whole step: at least what this mutation needs. */
            end = need;
            if (fallocate(m->fd, 0, (off_t)m->alloc_end, (off_t)(end - m->alloc_end)) < 0)
                return -errno;
        }
        m->alloc_end = end;
    }
    m->reserved += pages;
    return 0;
}

int bfs_meta_wtxn_begin(bfs_meta_t *m, MDB_txn **txn)
{
    m->op_wrote = 0;
    if (m->batch) {
        if (m->batch_err)
            return m->batch_err;
        int rc = bfs_meta_reserve(m, PAGES_PER_OP);
        if (rc < 0)
            return rc;
        m->batch_ops++;
        *txn = m->batch;
        return 0;
    }
    m->reserved = 0;
    int rc = bfs_meta_reserve(m, PAGES_PER_OP);
    return rc < 0 ? rc : bfs_mdb_err(mdb_txn_begin(m->env, NULL, 0, txn));
}

/* Outside a batch: commits when rc == 0, aborts otherwise; returns rc or the
 * commit error. In a batch: spoils it if the mutation failed after writing. */
int bfs_meta_wtxn_end(bfs_meta_t *m, MDB_txn *txn, int rc)
{
    if (txn == m->batch) {
        if (rc < 0 && m->op_wrote && !m->batch_err)
            m->batch_err = rc;
        return rc;
    }
    if (rc < 0) {
        mdb_txn_abort(txn);
        return rc;
    }
    int c = bfs_mdb_err(mdb_txn_commit(txn));
    return c < 0 ? c : rc;
}

/* The key of path and a write transaction for a mutation of it. */
static int wtxn_begin_path(bfs_meta_t *m, const char *path, MDB_val *k, MDB_txn **txn)
{
    int rc = path_key(m, path, k);
    return rc < 0 ? rc : bfs_meta_wtxn_begin(m, txn);
}

/* Give up a mutation that wrote nothing. */
void bfs_meta_wtxn_cancel(bfs_meta_t *m, MDB_txn *txn)
{
    if (txn != m->batch)
        mdb_txn_abort(txn);
}

int bfs_meta_rtxn_begin(bfs_meta_t *m, MDB_txn **txn)
{
    int rc = bfs_mdb_err(mdb_txn_renew(m->rtxn));
    *txn = m->rtxn;
    return rc;
}

void bfs_meta_rtxn_end(bfs_meta_t *m)
{
    mdb_txn_reset(m->rtxn);
}

int bfs_meta_view_begin(bfs_meta_t *m, MDB_txn **txn)
{
    /* A spoiled batch will be aborted: what stays is the committed data. */
    if (m->batch && !m->batch_err) {
        *txn = m->batch;
        return 0;
    }
    return bfs_meta_rtxn_begin(m, txn);
}

void bfs_meta_view_end(bfs_meta_t *m, MDB_txn *txn)
{
    if (txn == m->rtxn)
        bfs_meta_rtxn_end(m);
}

/* The first entry of dir's range, if any: 1 when dir has entries. */
static int dir_has_entries(const bfs_meta_t *m, MDB_txn *txn, const char *dir)
{
    char *buf = m->kbuf;
    MDB_val k, v;
    MDB_cursor *cur = NULL;
    int rc = dirent_key(m, dir, "", buf, &k);
    if (rc == 0)
        rc = bfs_mdb_err(mdb_cursor_open(txn, m->dirents, &cur));
    if (rc == 0) {
        size_t plen = k.mv_size;
        rc = bfs_mdb_err(mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE));
        if (rc == 0)
            rc = k.mv_size > plen && memcmp(k.mv_data, buf, plen) == 0;
        else if (rc == -ENOENT)
            rc = 0;
        mdb_cursor_close(cur);
    } else if (rc == -ENAMETOOLONG) {
        /* No entry key can be that long either. */
        rc = 0;
    }
    return rc;
}

/* dir must exist here as a directory inode. */
static int check_dir(const bfs_meta_t *m, MDB_txn *txn, const char *dir)
{
    MDB_val k;
    struct bfs_inode ino;
    int rc = path_key(m, dir, &k);
    if (rc == 0)
        rc = inode_get(m, txn, &k, &ino);
    if (rc == 0 && !S_ISDIR(ino.mode))
        rc = -ENOTDIR;
    return rc;
}

/* After a change of dir's entries, in the same transaction: the record of
 * dir (here, with its entries) gets mtime = ctime = now, as POSIX wants of
 * create, mkdir, unlink, rmdir, rename and link, and nlink += dnlink (a
 * subdirectory's name came or went: 2 + subdirectories, as ext4 shows).
 * One put of the 56-byte record in the open batch; none when nothing would
 * change. A missing record (never, with check_dir before) is left alone. */
static int dir_touch(bfs_meta_t *m, MDB_txn *txn, const char *dir, int dnlink, int64_t now)
{
    MDB_val k;
    struct bfs_inode ino;
    int rc = path_key(m, dir, &k);
    if (rc == 0)
        rc = inode_get(m, txn, &k, &ino);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    uint32_t nlink = ino.nlink;
    if (dnlink > 0)
        nlink = nlink < UINT32_MAX ? nlink + 1 : nlink;
    else if (dnlink < 0)
        nlink = nlink > 2 ? nlink - 1 : 2;
    if (nlink == ino.nlink && ino.mtime_ns == now && ino.ctime_ns == now)
        return 0;
    ino.nlink = nlink;
    ino.mtime_ns = ino.ctime_ns = now;
    return inode_put(m, txn, &k, &ino, 0);
}

static int fid_load(bfs_meta_t *m, MDB_txn *txn)
{
    MDB_val k = { sizeof(fid_key) - 1, (void *)fid_key }, v;
    int rc = mdb_get(txn, m->misc, &k, &v);
    if (rc == MDB_NOTFOUND) {
        m->fid_reserved = 0;
    } else if (rc != 0) {
        return bfs_mdb_err(rc);
    } else if (v.mv_size != sizeof(uint64_t)) {
        return -EIO;
    } else {
        memcpy(&m->fid_reserved, v.mv_data, sizeof(uint64_t));
    }
    m->fid_next = m->fid_reserved;
    return 0;
}

/* The next file id, not yet taken: -ENOSPC when the counter is used up. */
static int fid_peek(const bfs_meta_t *m, uint64_t *fid)
{
    if (m->fid_next >= FID_COUNTER_MAX)
        return -ENOSPC;
    *fid = m->fid_prefix | m->fid_next;
    return 0;
}

/* Persist a new reservation inside txn when the next id is not covered;
 * *reserved gets the reservation to adopt if txn commits. Call it after the
 * record that uses the id is written: a mutation that found its name taken
 * then wrote nothing. */
static int fid_reserve(bfs_meta_t *m, MDB_txn *txn, uint64_t *reserved)
{
    *reserved = m->fid_reserved;
    if (m->fid_next < m->fid_reserved)
        return 0;
    uint64_t r = m->fid_next + FID_BATCH;
    if (r > FID_COUNTER_MAX)
        r = FID_COUNTER_MAX;
    MDB_val k = { sizeof(fid_key) - 1, (void *)fid_key }, v = { sizeof(r), &r };
    m->op_wrote = 1;
    int rc = bfs_mdb_err(mdb_put(txn, m->misc, &k, &v, 0));
    if (rc == 0)
        *reserved = r;
    return rc;
}

static int make_root(bfs_meta_t *m, MDB_txn *txn)
{
    MDB_val k = { 1, (void *)"/" };
    struct bfs_inode ino;
    int rc = inode_get(m, txn, &k, &ino);
    if (rc != -ENOENT)
        return rc;
    uint64_t reserved;
    memset(&ino, 0, sizeof(ino));
    rc = fid_peek(m, &ino.fid);
    if (rc < 0)
        return rc;
    ino.mode = S_IFDIR | 0755;
    ino.nlink = 2;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ino.atime_ns = ino.mtime_ns = ino.ctime_ns =
        (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
    rc = inode_put(m, txn, &k, &ino, MDB_NOOVERWRITE);
    if (rc == 0)
        rc = fid_reserve(m, txn, &reserved);
    if (rc == 0) {
        /* The open transaction commits or the open fails as a whole. */
        m->fid_next++;
        m->fid_reserved = reserved;
    }
    return rc;
}

static int open_dbs(bfs_meta_t *m, int create_root)
{
    MDB_txn *txn;
    int rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = bfs_mdb_err(mdb_dbi_open(txn, "inodes", MDB_CREATE, &m->inodes));
    if (rc == 0)
        rc = bfs_mdb_err(mdb_dbi_open(txn, "dirents", MDB_CREATE, &m->dirents));
    if (rc == 0)
        rc = bfs_mdb_err(mdb_dbi_open(txn, "misc", MDB_CREATE, &m->misc));
    if (rc == 0)
        rc = bfs_mdb_err(mdb_dbi_open(txn, "chunks", MDB_CREATE, &m->chunks));
    if (rc == 0)
        rc = bfs_mdb_err(mdb_dbi_open(txn, "files", MDB_CREATE, &m->files));
    if (rc == 0)
        rc = bfs_mdb_err(mdb_dbi_open(txn, "links", MDB_CREATE, &m->links));
    if (rc == 0)
        rc = bfs_mdb_err(mdb_dbi_open(txn, "reap", MDB_CREATE, &m->reap));
    if (rc == 0)
        rc = bfs_mdb_err(mdb_dbi_open(txn, "dead", MDB_CREATE, &m->dead));
    if (rc == 0) {
        MDB_stat st;
        rc = bfs_mdb_err(mdb_stat(txn, m->dead, &st));
        m->dead_any = rc == 0 && st.ms_entries > 0;
    }
    if (rc == 0)
        rc = fid_load(m, txn);
    if (rc == 0 && create_root)
        rc = make_root(m, txn);
    return bfs_meta_wtxn_end(m, txn, rc);
}

/* btrfs, ZFS, bcachefs: an overwrite takes new blocks, fallocate or not. */
static int copy_on_write_fs(const char *dir)
{
    struct statfs st;
    if (statfs(dir, &st) < 0)
        return 0;
    switch ((unsigned long)st.f_type) {
    case 0x9123683eUL: /* btrfs */
    case 0x2fc12fc1UL: /* zfs */
    case 0xca451a4eUL: /* bcachefs */
        return 1;
    default:
        return 0;
    }
}

/* The LMDB environment in dir, written through its map (writemap) or not;
 * with the map, its first pages allocated (-EOPNOTSUPP: no fallocate). */
static int env_open(bfs_meta_t *m, const char *dir, int writemap)
{
    m->env = NULL;
    m->writemap = writemap;
    int rc = bfs_mdb_err(mdb_env_create(&m->env)); /* leaves m->env NULL on failure */
    if (rc < 0)
        return rc;
    rc = bfs_mdb_err(mdb_env_set_mapsize(m->env, META_MAP_SIZE));
    if (rc == 0)
        rc = bfs_mdb_err(mdb_env_set_maxdbs(m->env, 12));
    /* NOTLS: the reusable read txn is not tied to a thread's reader slot. */
    if (rc == 0)
        rc = bfs_mdb_err(mdb_env_open(m->env, dir,
                                      MDB_NOSYNC | MDB_NOTLS | (writemap ? MDB_WRITEMAP : 0),
                                      0644));
    if (rc == 0) {
        MDB_stat st;
        rc = bfs_mdb_err(mdb_env_stat(m->env, &st));
        m->psize = st.ms_psize;
        if (rc == 0)
            rc = bfs_mdb_err(mdb_env_get_fd(m->env, &m->fd));
        m->alloc_end = 0;
        if (rc == 0)
            rc = bfs_meta_reserve(m, PAGES_PER_OP);
        m->reserved = 0;
    }
    return rc;
}

int bfs_meta_open(bfs_meta_t **out, const char *dir, unsigned rank, int create_root)
{
    *out = NULL;
    /* rank + 1 must fit in the 16 bits above the counter. */
    if (rank >= 0xffff)
        return -EINVAL;
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return -errno;

    bfs_meta_t *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->fid_prefix = (uint64_t)(rank + 1) << 48;

    int rc = env_open(m, dir, !copy_on_write_fs(dir));
    if (rc == -EOPNOTSUPP) {
        /* No fallocate here (NFS, some FUSE file systems): without it the
         * map cannot be guarded against a full disk, so commits copy pages
         * with pwrite as LMDB does by default. */
        mdb_env_close(m->env);
        rc = env_open(m, dir, 0);
    }
    if (rc < 0) {
        if (m->env)
            mdb_env_close(m->env);
        free(m);
        return rc;
    }
    if (rc == 0) {
        m->max_key = (size_t)mdb_env_get_maxkeysize(m->env);
        /* The key format assumes LMDB's default limit (meta_keys.h). */
        m->kbuf = m->max_key >= BFS_KEY_MAX ? malloc(2 * BFS_KEY_MAX) : NULL;
        m->pkbuf = m->kbuf ? m->kbuf + BFS_KEY_MAX : NULL;
        rc = m->max_key < BFS_KEY_MAX ? -EINVAL : m->kbuf ? open_dbs(m, create_root) : -ENOMEM;
    }
    if (rc == 0)
        rc = bfs_mdb_err(mdb_txn_begin(m->env, NULL, MDB_RDONLY, &m->rtxn));
    if (rc < 0) {
        mdb_env_close(m->env);
        free(m->kbuf);
        free(m);
        return rc;
    }
    mdb_txn_reset(m->rtxn);
    *out = m;
    return 0;
}

void bfs_meta_close(bfs_meta_t *m)
{
    if (!m)
        return;
    mdb_txn_abort(m->rtxn);
    mdb_env_close(m->env);
    free(m->kbuf);
    free(m);
}

int bfs_meta_batch_begin(bfs_meta_t *m)
{
    if (m->batch)
        return 0;
    m->batch_ops = 0;
    m->batch_err = 0;
    m->reserved = 0;
    return bfs_mdb_err(mdb_txn_begin(m->env, NULL, 0, &m->batch));
}

int bfs_meta_batch_commit(bfs_meta_t *m)
{
    if (!m->batch)
        return 0;
    MDB_txn *t = m->batch;
    int rc = m->batch_err;
    m->batch = NULL;
    if (rc == 0)
        rc = bfs_mdb_err(mdb_txn_commit(t));
    else
        mdb_txn_abort(t);
    if (rc < 0) {
        /* The file-id reservation may not have reached the disk: make the
         * next create persist a new one. */
        m->fid_reserved = m->fid_next;
    }
    return rc;
}

unsigned bfs_meta_batch_size(const bfs_meta_t *m) { return m->batch ? m->batch_ops : 0; }

int bfs_meta_sync(bfs_meta_t *m)
{
    return bfs_mdb_err(mdb_env_sync(m->env, 1));
}

int bfs_meta_create(bfs_meta_t *m, const char *path, uint32_t mode, uint32_t uid,
                    uint32_t gid, int64_t now_ns, struct bfs_inode *out)
{
    if (!S_ISREG(mode) && !S_ISDIR(mode))
        return -EINVAL;
    MDB_val k;
    MDB_txn *txn;
    int rc = wtxn_begin_path(m, path, &k, &txn);
    if (rc < 0)
        return rc;

    struct bfs_inode ino = {
        .mode = mode, .uid = uid, .gid = gid,
        .nlink = S_ISDIR(mode) ? 2 : 1,
        .atime_ns = now_ns, .mtime_ns = now_ns, .ctime_ns = now_ns,
    };
    uint64_t reserved = m->fid_reserved;
    rc = fid_peek(m, &ino.fid);
    if (rc == 0) {
        /* NOOVERWRITE hands back the existing record: no separate lookup. */
        MDB_val v = { sizeof(ino), &ino };
        int lrc = mdb_put(txn, m->inodes, &k, &v, MDB_NOOVERWRITE);
        m->op_wrote |= lrc != MDB_KEYEXIST;
        if (lrc == MDB_KEYEXIST) {
            if (v.mv_size == sizeof(ino))
                memcpy(out, v.mv_data, sizeof(ino));
            rc = v.mv_size == sizeof(ino) ? -EEXIST : -EIO;
        } else {
            rc = bfs_mdb_err(lrc);
        }
        if (rc == 0)
            rc = fid_reserve(m, txn, &reserved);
    }
    rc = bfs_meta_wtxn_end(m, txn, rc);
    if (rc == 0) {
        m->fid_next++;
        m->fid_reserved = reserved;
        *out = ino;
    }
    return rc;
}

int bfs_meta_put(bfs_meta_t *m, const char *path, const struct bfs_inode *ino,
                 struct bfs_inode *old)
{
    MDB_val k;
    MDB_txn *txn;
    int rc = wtxn_begin_path(m, path, &k, &txn);
    if (rc < 0)
        return rc;

    struct bfs_inode cur;
    int existed = 0;
    rc = inode_get(m, txn, &k, &cur);
    if (rc == 0) {
        existed = 1;
        if (S_ISDIR(cur.mode) && !S_ISDIR(ino->mode))
            rc = -EISDIR;
        else if (!S_ISDIR(cur.mode) && S_ISDIR(ino->mode))
            rc = -ENOTDIR;
        else if (S_ISDIR(cur.mode)) {
            rc = dir_has_entries(m, txn, path);
            if (rc > 0)
                rc = -ENOTEMPTY;
        }
    } else if (rc == -ENOENT) {
        rc = 0;
    }
    /* A directory arrives here empty (a non-empty one is never replaced,
     * and entries need their record): 2 links, and each subdirectory whose
     * name is added from now on counts (dir_touch). */
    struct bfs_inode put = *ino;
    if (S_ISDIR(put.mode))
        put.nlink = 2;
    if (rc == 0)
        rc = inode_put(m, txn, &k, &put, 0);
    rc = bfs_meta_wtxn_end(m, txn, rc);
    if (rc < 0)
        return rc;
    if (existed && old)
        *old = cur;
    return existed;
}

int bfs_meta_get(bfs_meta_t *m, const char *path, struct bfs_inode *out)
{
    MDB_val k;
    int rc = path_key(m, path, &k);
    if (rc < 0)
        return rc;
    MDB_txn *txn;
    rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = inode_get(m, txn, &k, out);
    bfs_meta_rtxn_end(m);
    return rc;
}

int bfs_meta_remove(bfs_meta_t *m, const char *path, int must_be_dir, struct bfs_inode *out)
{
    return bfs_meta_remove_fid(m, path, must_be_dir, 0, out);
}

int bfs_meta_remove_fid(bfs_meta_t *m, const char *path, int must_be_dir, uint64_t fid,
                        struct bfs_inode *out)
{
    MDB_val k;
    MDB_txn *txn;
    int rc = wtxn_begin_path(m, path, &k, &txn);
    if (rc < 0)
        return rc;

    struct bfs_inode ino;
    rc = inode_get(m, txn, &k, &ino);
    if (rc == 0 && fid && ino.fid != fid)
        rc = -ENOENT; /* another object took the path meanwhile */
    if (rc == 0) {
        int isdir = S_ISDIR(ino.mode);
        if (must_be_dir == 1 && !isdir)
            rc = -ENOTDIR;
        else if (must_be_dir == 0 && isdir)
            rc = -EISDIR;
        else if (isdir && strcmp(path, "/") == 0)
            rc = -EBUSY; /* as rmdir("/") */
        else if (isdir) {
            rc = dir_has_entries(m, txn, path);
            if (rc > 0)
                rc = -ENOTEMPTY;
        }
    }
    if (rc == 0)
        m->op_wrote = 1, rc = bfs_mdb_err(mdb_del(txn, m->inodes, &k, NULL));
    rc = bfs_meta_wtxn_end(m, txn, rc);
    if (rc == 0 && out)
        *out = ino;
    return rc;
}

/* Read-modify-write of one inode. edit() returns < 0 to fail, 0 to leave the
 * record unchanged (no commit needed) and 1 to store it. */
typedef int (*inode_edit_fn)(struct bfs_inode *ino, const void *arg);

static int update_in(bfs_meta_t *m, MDB_dbi dbi, MDB_val k, inode_edit_fn edit, const void *arg,
                     struct bfs_inode *before, struct bfs_inode *after)
{
    MDB_txn *txn;
    int rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    struct bfs_inode old, ino;
    rc = rec_get(txn, dbi, &k, &old);
    if (rc < 0) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    ino = old;
    rc = edit(&ino, arg);
    if (rc == 0) {
        bfs_meta_wtxn_cancel(m, txn);
    } else {
        if (rc > 0)
            rc = rec_put(m, txn, dbi, &k, &ino, 0);
        rc = bfs_meta_wtxn_end(m, txn, rc);
        if (rc < 0)
            return rc;
    }
    if (before)
        *before = old;
    if (after)
        *after = ino;
    return 0;
}

static int inode_update(bfs_meta_t *m, const char *path, inode_edit_fn edit, const void *arg,
                        struct bfs_inode *before, struct bfs_inode *after)
{
    MDB_val k;
    int rc = path_key(m, path, &k);
    return rc < 0 ? rc : update_in(m, m->inodes, k, edit, arg, before, after);
}

/* The same edit of the inode of file fid (files table). */
static int file_update(bfs_meta_t *m, uint64_t fid, inode_edit_fn edit, const void *arg,
                       struct bfs_inode *before, struct bfs_inode *after)
{
    struct fid_key fk;
    return update_in(m, m->files, fid_val(fid, &fk), edit, arg, before, after);
}

struct size_arg {
    uint64_t size;
    int64_t now;
};

/* Only a regular file has a size of its own to change: a symlink's is its
 * target's length, a FIFO's or socket's is always 0. */
static int not_sized(const struct bfs_inode *ino)
{
    return S_ISREG(ino->mode) ? 0 : S_ISDIR(ino->mode) ? -EISDIR : -EINVAL;
}

static int edit_grow(struct bfs_inode *ino, const void *arg)
{
    const struct size_arg *a = arg;
    int err = not_sized(ino);
    if (err)
        return err;
    if (a->size <= ino->size)
        return 0;
    ino->size = a->size;
    ino->mtime_ns = ino->ctime_ns = a->now;
    return 1;
}

static int edit_set_size(struct bfs_inode *ino, const void *arg)
{
    const struct size_arg *a = arg;
    int err = not_sized(ino);
    if (err)
        return err;
    ino->size = a->size;
    ino->mtime_ns = ino->ctime_ns = a->now;
    return 1;
}

int bfs_meta_grow(bfs_meta_t *m, const char *path, uint64_t new_size, int64_t now_ns,
                  struct bfs_inode *out)
{
    struct size_arg a = { new_size, now_ns };
    return inode_update(m, path, edit_grow, &a, NULL, out);
}

int bfs_meta_set_size(bfs_meta_t *m, const char *path, uint64_t new_size, int64_t now_ns,
                      struct bfs_inode *before)
{
    struct size_arg a = { new_size, now_ns };
    return inode_update(m, path, edit_set_size, &a, before, NULL);
}

/* a->size is the length to reserve at the end. */
static int edit_append(struct bfs_inode *ino, const void *arg)
{
    const struct size_arg *a = arg;
    int err = not_sized(ino);
    if (err)
        return err;
    if (a->size > (uint64_t)INT64_MAX - ino->size)
        return -EFBIG;
    if (a->size == 0)
        return 0;
    ino->size += a->size;
    ino->mtime_ns = ino->ctime_ns = a->now;
    return 1;
}

int bfs_meta_append(bfs_meta_t *m, const char *path, uint64_t len, int64_t now_ns,
                    struct bfs_inode *before)
{
    struct size_arg a = { len, now_ns };
    return inode_update(m, path, edit_append, &a, before, NULL);
}

struct chmod_arg {
    uint32_t mode;
    int64_t now;
};

static int edit_chmod(struct bfs_inode *ino, const void *arg)
{
    const struct chmod_arg *a = arg;
    ino->mode = (ino->mode & S_IFMT) | (a->mode & 07777);
    ino->ctime_ns = a->now;
    return 1;
}

int bfs_meta_chmod(bfs_meta_t *m, const char *path, uint32_t mode, int64_t now_ns)
{
    struct chmod_arg a = { mode, now_ns };
    return inode_update(m, path, edit_chmod, &a, NULL, NULL);
}

struct times_arg {
    int64_t atime, mtime, now;
};

static int edit_utimens(struct bfs_inode *ino, const void *arg)
{
    const struct times_arg *a = arg;
    if (a->atime >= 0)
        ino->atime_ns = a->atime;
    if (a->mtime >= 0)
        ino->mtime_ns = a->mtime;
    ino->ctime_ns = a->now;
    return 1;
}

int bfs_meta_utimens(bfs_meta_t *m, const char *path, int64_t atime_ns, int64_t mtime_ns,
                     int64_t now_ns)
{
    struct times_arg a = { atime_ns, mtime_ns, now_ns };
    return inode_update(m, path, edit_utimens, &a, NULL, NULL);
}

int bfs_meta_dirent_add(bfs_meta_t *m, const char *dir, const char *name, uint8_t type)
{
    char *buf = m->kbuf;
    MDB_val k, v = { 1, &type };
    int rc = dirent_key(m, dir, name, buf, &k);
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc == 0) {
        rc = check_dir(m, txn, dir);
        /* Overwriting makes a retried add a no-op and lets a re-created
         * name of another type repair a stale entry. */
        if (rc == 0)
            m->op_wrote = 1, rc = bfs_mdb_err(mdb_put(txn, m->dirents, &k, &v, 0));
        rc = bfs_meta_wtxn_end(m, txn, rc);
    }
    return rc;
}

int bfs_meta_dirent_del(bfs_meta_t *m, const char *dir, const char *name)
{
    char *buf = m->kbuf;
    MDB_val k;
    int rc = dirent_key(m, dir, name, buf, &k);
    if (rc == -ENAMETOOLONG)
        rc = -ENOENT; /* could never have been added */
    MDB_txn *txn = NULL;
    if (rc == 0)
        rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc == 0) {
        /* An entry exists only under a directory: the directory is looked
         * up only to tell why there is none (ENOENT or ENOTDIR). A missing
         * entry wrote nothing and must not spoil the batch. */
        rc = bfs_mdb_err(mdb_del(txn, m->dirents, &k, NULL));
        if (rc == -ENOENT) {
            int d = check_dir(m, txn, dir);
            rc = d < 0 ? d : -ENOENT;
        } else {
            m->op_wrote = 1;
        }
        rc = bfs_meta_wtxn_end(m, txn, rc);
    }
    return rc;
}

int bfs_meta_dirent_count(bfs_meta_t *m, const char *dir, uint64_t *count)
{
    *count = 0;
    char *buf = m->kbuf;
    MDB_txn *txn;
    int rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    rc = check_dir(m, txn, dir);
    if (rc == 0)
        rc = dirent_key(m, dir, "", buf, &k);
    if (rc == 0)
        rc = bfs_mdb_err(mdb_cursor_open(txn, m->dirents, &cur));
    if (rc == 0) {
        size_t plen = k.mv_size;
        uint64_t n = 0;
        int c = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        while (c == 0 && k.mv_size > plen && memcmp(k.mv_data, buf, plen) == 0) {
            n++;
            c = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (c != 0 && c != MDB_NOTFOUND)
            rc = bfs_mdb_err(c);
        else
            *count = n;
        mdb_cursor_close(cur);
    }
    bfs_meta_rtxn_end(m);
    return rc;
}

ssize_t bfs_meta_readdir(bfs_meta_t *m, const char *dir, const char *after, void *buf,
                         size_t cap, int *more)
{
    *more = 0;
    char *kbuf = m->kbuf;
    MDB_txn *txn;
    int rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    MDB_cursor *cur = NULL;
    MDB_val k, v;
    ssize_t used = 0;
    rc = check_dir(m, txn, dir);
    if (rc == 0)
        rc = dirent_key(m, dir, after, kbuf, &k);
    if (rc == 0)
        rc = bfs_mdb_err(mdb_cursor_open(txn, m->dirents, &cur));
    if (rc == 0) {
        /* The range of dir: its key part and the NUL (meta_keys.h). */
        size_t plen = bfs_key_dirent_prefix(strlen(dir)), alen = k.mv_size;
        uint8_t *out = buf;
        int c = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
        /* Skip `after` itself: the caller has it from the previous page. */
        if (c == 0 && k.mv_size == alen && memcmp(k.mv_data, kbuf, alen) == 0)
            c = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        while (c == 0 && k.mv_size > plen && memcmp(k.mv_data, kbuf, plen) == 0) {
            size_t nl = k.mv_size - plen;
            if ((size_t)used + 3 + nl > cap) {
                *more = 1;
                break;
            }
            out[used] = v.mv_size >= 1 ? *(const uint8_t *)v.mv_data : 0;
            out[used + 1] = (uint8_t)(nl & 0xff);
            out[used + 2] = (uint8_t)(nl >> 8);
            memcpy(out + used + 3, (const char *)k.mv_data + plen, nl);
            used += (ssize_t)(3 + nl);
            c = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
        }
        if (c != 0 && c != MDB_NOTFOUND)
            rc = bfs_mdb_err(c);
        else if (*more && used == 0)
            rc = -EOVERFLOW; /* the caller's buffer cannot make progress */
        mdb_cursor_close(cur);
    }
    bfs_meta_rtxn_end(m);
    if (rc < 0) {
        *more = 0;
        return rc;
    }
    return used;
}

int bfs_meta_count(bfs_meta_t *m, uint64_t *inodes)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = bfs_mdb_err(mdb_stat(txn, m->inodes, &st));
    bfs_meta_rtxn_end(m);
    if (rc == 0)
        *inodes = st.ms_entries;
    return rc;
}

/* ---- files by id, and names ---- */

int bfs_meta_is_home(const bfs_meta_t *m, uint64_t fid)
{
    return (fid & ~(FID_COUNTER_MAX - 1)) == m->fid_prefix;
}

int bfs_meta_fid_get(bfs_meta_t *m, uint64_t fid, struct bfs_inode *out)
{
    struct fid_key fk;
    MDB_val k = fid_val(fid, &fk);
    MDB_txn *txn;
    int rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = rec_get(txn, m->files, &k, out);
    bfs_meta_rtxn_end(m);
    return rc;
}

int bfs_meta_fid_grow(bfs_meta_t *m, uint64_t fid, uint64_t new_size, int64_t now_ns,
                      struct bfs_inode *out)
{
    struct size_arg a = { new_size, now_ns };
    return file_update(m, fid, edit_grow, &a, NULL, out);
}

int bfs_meta_fid_set_size(bfs_meta_t *m, uint64_t fid, uint64_t new_size, int64_t now_ns,
                          struct bfs_inode *before)
{
    struct size_arg a = { new_size, now_ns };
    return file_update(m, fid, edit_set_size, &a, before, NULL);
}

int bfs_meta_fid_append(bfs_meta_t *m, uint64_t fid, uint64_t len, int64_t now_ns,
                        struct bfs_inode *before)
{
    struct size_arg a = { len, now_ns };
    return file_update(m, fid, edit_append, &a, before, NULL);
}

int bfs_meta_fid_chmod(bfs_meta_t *m, uint64_t fid, uint32_t mode, int64_t now_ns)
{
    struct chmod_arg a = { mode, now_ns };
    return file_update(m, fid, edit_chmod, &a, NULL, NULL);
}

int bfs_meta_fid_utimens(bfs_meta_t *m, uint64_t fid, int64_t atime_ns, int64_t mtime_ns,
                         int64_t now_ns)
{
    struct times_arg a = { atime_ns, mtime_ns, now_ns };
    return file_update(m, fid, edit_utimens, &a, NULL, NULL);
}

/* The entry dir/name in txn: -ENOENT when absent. Entries written before
 * names carried ids (1 byte: the type) read with fid 0. */
static int dent_get(const bfs_meta_t *m, MDB_txn *txn, const MDB_val *k, struct bfs_dent *d)
{
    MDB_val v;
    int rc = mdb_get(txn, m->dirents, (MDB_val *)k, &v);
    if (rc != 0)
        return bfs_mdb_err(rc);
    memset(d, 0, sizeof(*d));
    if (v.mv_size == sizeof(*d))
        memcpy(d, v.mv_data, sizeof(*d));
    else if (v.mv_size >= 1)
        d->type = *(const uint8_t *)v.mv_data;
    return 0;
}

static int dent_put(bfs_meta_t *m, MDB_txn *txn, const MDB_val *k, uint8_t type, uint64_t fid)
{
    struct bfs_dent d = { .type = type, .fid = fid };
    MDB_val v = { sizeof(d), &d };
    m->op_wrote = 1;
    return bfs_mdb_err(mdb_put(txn, m->dirents, (MDB_val *)k, &v, 0));
}

/* A symlink's target goes with its inode (unref_in). */
static int link_target_del(bfs_meta_t *m, MDB_txn *txn, MDB_val *k)
{
    int rc = bfs_mdb_err(mdb_del(txn, m->links, k, NULL));
    return rc == -ENOENT ? 0 : rc;
}

/* One link of file fid less, inside txn (fid's home is here): 1 and *dead
 * (the inode) when that was the last, 0 otherwise. A missing inode (already
 * gone) counts as 0. */
static int unref_in(bfs_meta_t *m, MDB_txn *txn, uint64_t fid, struct bfs_inode *dead)
{
    struct fid_key fk;
    MDB_val k = fid_val(fid, &fk);
    struct bfs_inode ino;
    int rc = rec_get(txn, m->files, &k, &ino);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    if (ino.nlink > 1) {
        ino.nlink--;
        return rec_put(m, txn, m->files, &k, &ino, 0);
    }
    if (ino.nlink == 0)
        return 0; /* an orphan already: its last close reaps it */
    if (S_ISLNK(ino.mode)) {
        /* A symlink is never open and has no chunks: it goes with its target. */
        m->op_wrote = 1;
        rc = bfs_mdb_err(mdb_del(txn, m->files, &k, NULL));
        if (rc == 0)
            rc = link_target_del(m, txn, &k);
    } else {
        /* The last link. Still open somewhere: an orphan (meta_reap.c). */
        rc = bfs_meta_file_dies(m, txn, &ino);
    }
    if (rc == 0 && dead)
        *dead = ino;
    return rc < 0 ? rc : 1;
}

/* What a name that is dropped (unlink, rename over) leaves to do: the
 * link count of its file here (BFS_LINK_*). */
static int drop_link(bfs_meta_t *m, MDB_txn *txn, uint64_t fid, struct bfs_inode *out)
{
    if (!bfs_meta_is_home(m, fid)) {
        memset(out, 0, sizeof(*out));
        out->fid = fid;
        out->mode = S_IFREG;
        return BFS_LINK_ELSEWHERE;
    }
    int rc = unref_in(m, txn, fid, out);
    return rc < 0 ? rc : rc ? BFS_LINK_DEAD : BFS_LINK_ALIVE;
}

int bfs_meta_file_create(bfs_meta_t *m, const char *dir, const char *name, uint32_t mode,
                         uint32_t uid, uint32_t gid, int64_t now_ns, int excl,
                         struct bfs_inode *out)
{
    MDB_val k;
    MDB_txn *txn;
    int rc = dirent_key(m, dir, name, m->kbuf, &k);
    if (rc == 0)
        rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    struct bfs_dent d;
    rc = check_dir(m, txn, dir);
    if (rc < 0) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    rc = dent_get(m, txn, &k, &d);
    if (rc == 0) {
        /* The name exists: its entry is left exactly as it was. Its inode
         * is read in the same transaction (the batch may hold both, not
         * committed yet). */
        if (excl)
            rc = -EEXIST;
        else if (d.type == BFS_DT_DIR)
            rc = -EISDIR;
        else if (!bfs_meta_is_home(m, d.fid)) {
            memset(out, 0, sizeof(*out));
            out->fid = d.fid;
            out->mode = bfs_mode_of_dt(d.type);
            rc = BFS_FOUND_ELSEWHERE;
        } else {
            struct fid_key fk;
            MDB_val fkv = fid_val(d.fid, &fk);
            rc = rec_get(txn, m->files, &fkv, out);
            rc = rc == -ENOENT ? -ESTALE : rc < 0 ? rc : BFS_FOUND;
        }
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    if (rc != -ENOENT) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    struct bfs_inode ino = {
        .mode = S_IFREG | (mode & 07777), .uid = uid, .gid = gid, .nlink = 1,
        .atime_ns = now_ns, .mtime_ns = now_ns, .ctime_ns = now_ns,
    };
    uint64_t reserved = m->fid_reserved;
    struct fid_key fk;
    rc = fid_peek(m, &ino.fid);
    if (rc == 0) {
        MDB_val fkv = fid_val(ino.fid, &fk);
        rc = rec_put(m, txn, m->files, &fkv, &ino, MDB_NOOVERWRITE);
    }
    if (rc == 0)
        rc = dent_put(m, txn, &k, BFS_DT_REG, ino.fid);
    if (rc == 0)
        rc = dir_touch(m, txn, dir, 0, bfs_wall_ns());
    if (rc == 0)
        rc = fid_reserve(m, txn, &reserved);
    rc = bfs_meta_wtxn_end(m, txn, rc);
    if (rc == 0) {
        m->fid_next++;
        m->fid_reserved = reserved;
        *out = ino;
    }
    return rc;
}

int bfs_meta_lookup(bfs_meta_t *m, const char *dir, const char *name, const char *path,
                    struct bfs_inode *out)
{
    MDB_val k;
    int rc = dirent_key(m, dir, name, m->kbuf, &k);
    if (rc == -ENAMETOOLONG)
        return -ENOENT;
    if (rc < 0)
        return rc;
    MDB_txn *txn;
    if ((rc = bfs_meta_rtxn_begin(m, &txn)) < 0)
        return rc;
    struct bfs_dent d;
    rc = dent_get(m, txn, &k, &d);
    if (rc == -ENOENT) {
        int c = check_dir(m, txn, dir);
        rc = c < 0 ? c : -ENOENT;
    }
    if (rc == 0 && d.type == BFS_DT_DIR) {
        /* A directory's record lives with its own path. */
        MDB_val pk;
        rc = path_key(m, path, &pk);
        if (rc == 0)
            rc = inode_get(m, txn, &pk, out);
        if (rc == -ENOENT) {
            memset(out, 0, sizeof(*out));
            out->fid = d.fid;
            out->mode = S_IFDIR;
            rc = BFS_FOUND_ELSEWHERE;
        }
    } else if (rc == 0) {
        if (bfs_meta_is_home(m, d.fid)) {
            struct fid_key fk;
            MDB_val fkv = fid_val(d.fid, &fk);
            rc = rec_get(txn, m->files, &fkv, out);
            if (rc == -ENOENT)
                rc = -ESTALE; /* a name without its inode: never handed out */
        } else {
            memset(out, 0, sizeof(*out));
            out->fid = d.fid;
            out->mode = bfs_mode_of_dt(d.type);
            rc = BFS_FOUND_ELSEWHERE;
        }
    }
    bfs_meta_rtxn_end(m);
    return rc;
}

int bfs_meta_unlink(bfs_meta_t *m, const char *dir, const char *name, struct bfs_inode *out)
{
    MDB_val k;
    MDB_txn *txn;
    int rc = dirent_key(m, dir, name, m->kbuf, &k);
    if (rc == -ENAMETOOLONG)
        return -ENOENT;
    if (rc == 0)
        rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    struct bfs_dent d;
    rc = dent_get(m, txn, &k, &d);
    if (rc == -ENOENT) {
        int c = check_dir(m, txn, dir);
        rc = c < 0 ? c : -ENOENT;
    } else if (rc == 0 && d.type == BFS_DT_DIR) {
        rc = -EISDIR;
    }
    if (rc < 0) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    m->op_wrote = 1;
    rc = bfs_mdb_err(mdb_del(txn, m->dirents, &k, NULL));
    if (rc == 0)
        rc = dir_touch(m, txn, dir, 0, bfs_wall_ns());
    if (rc == 0)
        rc = drop_link(m, txn, d.fid, out);
    return bfs_meta_wtxn_end(m, txn, rc);
}

int bfs_meta_fid_unref(bfs_meta_t *m, uint64_t fid, struct bfs_inode *dead)
{
    MDB_txn *txn;
    int rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = unref_in(m, txn, fid, dead);
    return bfs_meta_wtxn_end(m, txn, rc);
}

/* Put entry k -> (type, fid) under POSIX rename rules for what it replaces
 * (txn; dir checked by the caller): BFS_LINK_NONE (nothing was there),
 * _ALIVE/_DEAD/_ELSEWHERE for a replaced file (drop_link), -EISDIR /
 * -ENOTDIR for a type clash, -EEXIST over a directory (the caller removes an
 * empty one first), 0 with nothing changed when k already names fid. */
static int name_put_in(bfs_meta_t *m, MDB_txn *txn, const MDB_val *k, uint8_t type, uint64_t fid,
                       struct bfs_inode *out)
{
    struct bfs_dent d;
    int rc = dent_get(m, txn, k, &d);
    if (rc == -ENOENT) {
        rc = dent_put(m, txn, k, type, fid);
        return rc < 0 ? rc : BFS_LINK_NONE;
    }
    if (rc < 0)
        return rc;
    if (d.fid == fid && d.type == type)
        return BFS_LINK_SAME;
    if (d.type == BFS_DT_DIR)
        return type == BFS_DT_DIR ? -EEXIST : -EISDIR;
    if (type == BFS_DT_DIR)
        return -ENOTDIR;
    rc = dent_put(m, txn, k, type, fid);
    return rc < 0 ? rc : drop_link(m, txn, d.fid, out);
}

int bfs_meta_name_put(bfs_meta_t *m, const char *dir, const char *name, uint8_t type,
                      uint64_t fid, struct bfs_inode *out)
{
    MDB_val k;
    MDB_txn *txn;
    int rc = dirent_key(m, dir, name, m->kbuf, &k);
    if (rc == 0)
        rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = check_dir(m, txn, dir);
    if (rc == 0)
        rc = name_put_in(m, txn, &k, type, fid, out);
    if (rc >= 0 && rc != BFS_LINK_SAME) {
        int t = dir_touch(m, txn, dir, rc == BFS_LINK_NONE && type == BFS_DT_DIR, bfs_wall_ns());
        if (t < 0)
            rc = t;
    }
    return bfs_meta_wtxn_end(m, txn, rc);
}

int bfs_meta_name_add(bfs_meta_t *m, const char *dir, const char *name, uint8_t type,
                      uint64_t fid, struct bfs_dent *old)
{
    MDB_val k;
    MDB_txn *txn;
    int rc = dirent_key(m, dir, name, m->kbuf, &k);
    if (rc == 0)
        rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = check_dir(m, txn, dir);
    if (rc == 0) {
        rc = dent_get(m, txn, &k, old);
        if (rc == 0)
            rc = -EEXIST;
        else if (rc == -ENOENT)
            rc = dent_put(m, txn, &k, type, fid);
        if (rc == 0)
            rc = dir_touch(m, txn, dir, type == BFS_DT_DIR, bfs_wall_ns());
    }
    return bfs_meta_wtxn_end(m, txn, rc);
}

int bfs_meta_name_del(bfs_meta_t *m, const char *dir, const char *name, int want_type,
                      uint64_t fid, struct bfs_dent *got)
{
    MDB_val k;
    MDB_txn *txn;
    int rc = dirent_key(m, dir, name, m->kbuf, &k);
    if (rc == -ENAMETOOLONG)
        return -ENOENT;
    if (rc == 0)
        rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = dent_get(m, txn, &k, got);
    if (rc == -ENOENT) {
        int c = check_dir(m, txn, dir);
        rc = c < 0 ? c : -ENOENT;
    } else if (rc == 0 && want_type && got->type != want_type) {
        rc = want_type == BFS_DT_DIR ? -ENOTDIR : -EISDIR;
    } else if (rc == 0 && fid && got->fid != fid) {
        rc = -ENOENT; /* the name went to another file meanwhile */
    }
    if (rc == 0)
        m->op_wrote = 1, rc = bfs_mdb_err(mdb_del(txn, m->dirents, &k, NULL));
    if (rc == 0)
        rc = dir_touch(m, txn, dir, got->type == BFS_DT_DIR ? -1 : 0, bfs_wall_ns());
    if (rc < 0 && !m->op_wrote) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    return bfs_meta_wtxn_end(m, txn, rc);
}

int bfs_meta_rename_local(bfs_meta_t *m, const char *sdir, const char *sname, const char *ddir,
                          const char *dname, struct bfs_inode *out)
{
    /* Two keys at once: the second in its own buffer. */
    char dbuf[512];
    MDB_val sk, dk;
    MDB_txn *txn;
    int rc = dirent_key(m, sdir, sname, m->kbuf, &sk);
    if (rc == -ENAMETOOLONG)
        return -ENOENT;
    if (rc == 0)
        rc = m->max_key <= sizeof(dbuf) ? dirent_key(m, ddir, dname, dbuf, &dk) : -ENAMETOOLONG;
    if (rc == 0)
        rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    struct bfs_dent d;
    rc = dent_get(m, txn, &sk, &d);
    if (rc == -ENOENT) {
        int c = check_dir(m, txn, sdir);
        rc = c < 0 ? c : -ENOENT;
    } else if (rc == 0 && d.type == BFS_DT_DIR) {
        rc = -EXDEV; /* directories move by the client, entry by entry */
    }
    if (rc == 0)
        rc = check_dir(m, txn, ddir);
    if (rc == 0)
        rc = name_put_in(m, txn, &dk, d.type, d.fid, out);
    if (rc >= 0 && rc != BFS_LINK_SAME) {
        int r = bfs_mdb_err(mdb_del(txn, m->dirents, &sk, NULL));
        m->op_wrote = 1;
        /* Both parents; one time for both, so one put when they are one. */
        int64_t now = bfs_wall_ns();
        if (r == 0)
            r = dir_touch(m, txn, ddir, 0, now);
        if (r == 0)
            r = dir_touch(m, txn, sdir, 0, now);
        if (r < 0)
            rc = r;
    }
    if (rc < 0 && !m->op_wrote) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    return bfs_meta_wtxn_end(m, txn, rc);
}

int bfs_meta_files_count(bfs_meta_t *m, uint64_t *files)
{
    MDB_txn *txn;
    MDB_stat st;
    int rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = bfs_mdb_err(mdb_stat(txn, m->files, &st));
    bfs_meta_rtxn_end(m);
    if (rc == 0)
        *files = st.ms_entries;
    return rc;
}

static int edit_link(struct bfs_inode *ino, const void *arg)
{
    const int64_t *now = arg;
    if (S_ISDIR(ino->mode))
        return -EPERM; /* no hard links to directories */
    if (ino->nlink >= 0xffffu)
        return -EMLINK;
    if (ino->nlink == 0)
        return -ENOENT; /* an orphan (unlinked, still open) gets no new name */
    ino->nlink++;
    ino->ctime_ns = *now;
    return 1;
}

int bfs_meta_fid_link(bfs_meta_t *m, uint64_t fid, int64_t now_ns, struct bfs_inode *after)
{
    return file_update(m, fid, edit_link, &now_ns, NULL, after);
}

/* ---- Symbolic links (docs/DESIGN.md "Symbolic links and path resolution") ----
 * A symlink is an inode in `files` (S_IFLNK, size = target length) whose
 * target lives in `links` under the same key, so that the inode's edits
 * (update_in: link counts, times) never touch the target; a name of type
 * BFS_DT_LNK points to it. */

/* A node that is not a file or a directory (symlink: with its target),
 * inode and name in one transaction. */
static int node_create(bfs_meta_t *m, const char *dir, const char *name, uint32_t mode,
                       const char *target, size_t tlen, uint32_t uid, uint32_t gid,
                       int64_t now_ns, struct bfs_inode *out)
{
    MDB_val k;
    MDB_txn *txn;
    int rc = dirent_key(m, dir, name, m->kbuf, &k);
    if (rc == 0)
        rc = bfs_meta_wtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    /* The target takes overflow pages of its own. */
    rc = bfs_meta_reserve(m, tlen / m->psize + 2);
    if (rc == 0)
        rc = check_dir(m, txn, dir);
    struct bfs_dent d;
    if (rc == 0) {
        rc = dent_get(m, txn, &k, &d);
        rc = rc == 0 ? -EEXIST : rc == -ENOENT ? 0 : rc;
    }
    if (rc < 0) {
        bfs_meta_wtxn_cancel(m, txn);
        return rc;
    }
    struct bfs_inode ino = {
        .mode = mode, .uid = uid, .gid = gid, .nlink = 1, .size = tlen,
        .atime_ns = now_ns, .mtime_ns = now_ns, .ctime_ns = now_ns,
    };
    uint64_t reserved = m->fid_reserved;
    struct fid_key fk;
    rc = fid_peek(m, &ino.fid);
    if (rc == 0) {
        MDB_val fkv = fid_val(ino.fid, &fk);
        rc = rec_put(m, txn, m->files, &fkv, &ino, MDB_NOOVERWRITE);
        MDB_val tv = { tlen, (void *)target };
        if (rc == 0 && tlen)
            rc = bfs_mdb_err(mdb_put(txn, m->links, &fkv, &tv, 0));
    }
    if (rc == 0)
        rc = dent_put(m, txn, &k, bfs_dt_of_mode(mode), ino.fid);
    if (rc == 0)
        rc = dir_touch(m, txn, dir, 0, bfs_wall_ns());
    if (rc == 0)
        rc = fid_reserve(m, txn, &reserved);
    rc = bfs_meta_wtxn_end(m, txn, rc);
    if (rc == 0) {
        m->fid_next++;
        m->fid_reserved = reserved;
        *out = ino;
    }
    return rc;
}

int bfs_meta_symlink_create(bfs_meta_t *m, const char *dir, const char *name, const char *target,
                            size_t tlen, uint32_t uid, uint32_t gid, int64_t now_ns,
                            struct bfs_inode *out)
{
    if (tlen == 0 || tlen > BFS_TARGET_MAX || memchr(target, '\0', tlen))
        return tlen == 0 ? -ENOENT : -EINVAL;
    return node_create(m, dir, name, S_IFLNK | 0777, target, tlen, uid, gid, now_ns, out);
}

int bfs_meta_special_create(bfs_meta_t *m, const char *dir, const char *name, uint32_t mode,
                            uint32_t uid, uint32_t gid, int64_t now_ns, struct bfs_inode *out)
{
    if (!S_ISFIFO(mode) && !S_ISSOCK(mode))
        return -EINVAL;
    return node_create(m, dir, name, mode & (S_IFMT | 07777), NULL, 0, uid, gid, now_ns, out);
}

ssize_t bfs_meta_link_target(bfs_meta_t *m, uint64_t fid, void *buf, size_t cap)
{
    struct fid_key fk;
    MDB_val k = fid_val(fid, &fk), v;
    MDB_txn *txn;
    int rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = bfs_mdb_err(mdb_get(txn, m->links, &k, &v));
    ssize_t n = rc;
    if (rc == 0) {
        n = v.mv_size <= cap ? (ssize_t)v.mv_size : -ERANGE;
        if (n > 0)
            memcpy(buf, v.mv_data, (size_t)n);
    }
    bfs_meta_rtxn_end(m);
    return n;
}

int bfs_meta_is_dir(bfs_meta_t *m, const char *dir)
{
    MDB_txn *txn;
    int rc = bfs_meta_rtxn_begin(m, &txn);
    if (rc < 0)
        return rc;
    rc = check_dir(m, txn, dir);
    bfs_meta_rtxn_end(m);
    return rc == 0;
}
