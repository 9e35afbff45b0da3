/* Dead and orphaned files in the metadata store (meta_reap.c).
 *
 * A file whose last link goes while it is open somewhere (is_open) stays in
 * `files` with nlink 0: an orphan, reachable by id only. A file that dies
 * (last link gone and not open, or an orphan's last close) is deleted and,
 * when it had data, recorded in table `reap` (fid -> size, 8 bytes each) in
 * the same transaction; on_reap then tells the reaper (reaper.c), which
 * frees its chunks on every server and deletes the entry. Mutations join
 * the open batch (meta_store.h). */
#ifndef BFS_META_REAP_H
#define BFS_META_REAP_H

#include "meta_store.h"

#include <stdint.h>

/* is_open(arg, fid): 1 while fid has open references (open_refs.c).
 * on_reap(arg, fid, size): a reap entry was written in the open
 * transaction (not committed yet). */
void bfs_meta_reap_hooks(bfs_meta_t *m, int (*is_open)(void *, uint64_t),
                         void (*on_reap)(void *, uint64_t, uint64_t), void *arg);
/* The last reference of file fid closed: an orphan dies (1 and *dead),
 * anything else stays (0). */
int bfs_meta_fid_release(bfs_meta_t *m, uint64_t fid, struct bfs_inode *dead);
/* 1 when file fid is an orphan (nlink 0) in the open batch's view: a
 * close of a named file then costs no write transaction. */
int bfs_meta_fid_orphan(bfs_meta_t *m, uint64_t fid);
/* At start no file is open: every orphan dies. *count: how many. */
int bfs_meta_reap_orphans(bfs_meta_t *m, unsigned *count);
/* fn(arg, fid, size) for every committed reap entry. */
int bfs_meta_reap_each(bfs_meta_t *m, void (*fn)(void *, uint64_t, uint64_t), void *arg);
/* Every server freed fid's chunks: its entry goes. */
int bfs_meta_reap_done(bfs_meta_t *m, uint64_t fid);
/* Tombstones (table `dead`, fid -> death time): fids are never reused,
 * so "fid died" is final. A chunk server that freed a dead file's chunks
 * writes one in the same batch (bfs_meta_dead_mark), and a write of a
 * marked fid is refused (bfs_meta_dead_is): a piece of a write still on
 * its way when the file died cannot leave a chunk that no file names
 * (docs/DESIGN.md, "Closing the write/unlink race"). */
int bfs_meta_dead_mark(bfs_meta_t *m, uint64_t fid, uint64_t now_ns);
/* 1 when fid is marked dead in the open batch's view, else 0 (or -errno). */
int bfs_meta_dead_is(bfs_meta_t *m, uint64_t fid);
/* Drop tombstones that died before `before_ns` (no write of them can still
 * be in flight), looking at `max` entries at most, going on from where the
 * last call stopped: bounded work per call. *dropped: how many went. */
int bfs_meta_dead_expire(bfs_meta_t *m, uint64_t before_ns, unsigned max, unsigned *dropped);

/* Whether file fid's inode exists in the open batch's view (1/0): an
 * unlink earlier in the batch counts. */
int bfs_meta_fid_alive(bfs_meta_t *m, uint64_t fid);

#endif
