/* Inside the metadata store: the LMDB environment and the transaction
 * helpers that meta_store.c and the modules keeping their own tables in it
 * (small_chunks.c) share. Not for other callers: they use meta_store.h. */
#ifndef BFS_META_TXN_H
#define BFS_META_TXN_H

#include "meta_store.h"

#include <lmdb.h>

struct bfs_meta {
    MDB_env *env;
    MDB_dbi inodes, dirents, misc;
    MDB_dbi files;          /* fid -> inode of the regular files whose home is here */
    MDB_dbi chunks;         /* small chunks (small_chunks.c) */
    MDB_dbi links;          /* fid -> target bytes of a symlink (its inode in files) */
    MDB_dbi reap;           /* fid -> size of dead files whose chunks to free (meta_reap.c) */
    MDB_dbi dead;           /* fid -> death time (ns): no chunk of it is made here again */
    int dead_any;           /* `dead` may hold an entry (0: a write need not look) */
    uint64_t dead_sweep;    /* the expiry sweep goes on from this fid */
    /* Open references (server/open_refs.c): whether file fid is open, and
     * who learns of a dead file once its transaction commits (reaper.c). */
    int (*is_open)(void *arg, uint64_t fid);
    void (*on_reap)(void *arg, uint64_t fid, uint64_t size);
    void *hook_arg;
    /* Kept reset between reads: renewing is cheaper than begin/abort. */
    MDB_txn *rtxn;
    uint64_t fid_prefix;
    uint64_t fid_next;      /* next counter to hand out */
    uint64_t fid_reserved;  /* counters below this are persisted as used */
    size_t max_key;
    char *kbuf;             /* BFS_KEY_MAX bytes for building dirent keys */
    char *pkbuf;            /* a record key that is a digest (meta_keys.h) */
    /* Group commit: while a batch is open, every mutation runs in it and one
     * commit ends them all. A mutation that fails before it wrote anything
     * leaves the batch as it was; one that fails after writing (out of
     * space, say) spoils the batch, which is then aborted whole and every
     * mutation in it fails with that error. (LMDB nested transactions would
     * undo one alone, but each costs a 2 MiB allocation.) */
    MDB_txn *batch;
    unsigned batch_ops;
    int batch_err;
    int op_wrote;           /* the current mutation has written */
    int fd;                 /* data.mdb */
    size_t psize;
    uint64_t alloc_end;     /* bytes [0, alloc_end) of data.mdb are allocated */
    int writemap;           /* MDB_WRITEMAP, guarded by bfs_meta_reserve */
    uint64_t reserved;      /* pages reserved by the open transaction */
};

/* The last link of file *ino (home here, in txn) is gone: while it is
 * open (is_open) it stays as an orphan with nlink 0; otherwise it is
 * deleted and, when it has data, recorded in `reap` in the same txn
 * (meta_reap.c). 0 or -errno. */
int bfs_meta_file_dies(bfs_meta_t *m, MDB_txn *txn, struct bfs_inode *ino);

/* LMDB's result as 0 or a negative errno. */
int bfs_mdb_err(int rc);
/* A write transaction for one mutation: the open batch when there is one
 * (with room in the map ensured for it: -ENOSPC otherwise), else a new
 * transaction. End it with bfs_meta_wtxn_end (rc < 0: the mutation failed;
 * set m->op_wrote before writing so that a failure after a write spoils the
 * batch) or, when it wrote nothing, bfs_meta_wtxn_cancel. */
int bfs_meta_wtxn_begin(bfs_meta_t *m, MDB_txn **txn);
int bfs_meta_wtxn_end(bfs_meta_t *m, MDB_txn *txn, int rc);
void bfs_meta_wtxn_cancel(bfs_meta_t *m, MDB_txn *txn);
/* Room in the map for `pages` more pages than the open transaction has
 * reserved (each bfs_meta_wtxn_begin reserves what a metadata mutation
 * needs): for values of several pages, or many changes in one mutation.
 * -ENOSPC (or another errno) when the disk cannot give it: write nothing
 * then. */
int bfs_meta_reserve(bfs_meta_t *m, uint64_t pages);
/* The reusable read transaction: committed data only. */
int bfs_meta_rtxn_begin(bfs_meta_t *m, MDB_txn **txn);
void bfs_meta_rtxn_end(bfs_meta_t *m);
/* A look before a mutation: the open batch (it sees the batch's own
 * changes), or the read transaction when no batch is open or the open one
 * is spoiled (its abort will leave the committed data). Writes nothing,
 * takes no room in the map; what it returned is valid until the next write
 * or bfs_meta_view_end. */
int bfs_meta_view_begin(bfs_meta_t *m, MDB_txn **txn);
void bfs_meta_view_end(bfs_meta_t *m, MDB_txn *txn);

#endif
