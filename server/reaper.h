/* The reaper: a server frees the chunks of the dead files whose home it is,
 * on every server, without any client (docs/DESIGN.md "Open files and
 * reclamation").
 *
 * A file dies in a metadata transaction (meta_reap.h: its entry in `reap`
 * is written with the inode's deletion). Once that commits, the home frees
 * its own chunks at once (from the event loop) and hands the other servers'
 * to the reaper thread, which sends them TRUNC_CHUNKS with an RPC client of
 * its own (blocking calls with a short deadline, off the event loop),
 * retries failed servers later (re-reading a moved server's address), and
 * reports back through an eventfd in the loop; the entry goes when every
 * server has confirmed. At start, orphans die (nothing is open after a
 * restart) and every entry left is reaped again (TRUNC_CHUNKS of a missing
 * chunk is a no-op). */
#ifndef BFS_REAPER_H
#define BFS_REAPER_H

#include "../common/registry.h"

#include <stdint.h>

struct bfs_server;
struct bfs_reaper;

/* After the metadata store and chunk store are open and the loop exists:
 * reaps orphans, loads pending entries, installs the metadata hooks and
 * the loop's hooks. reg: the servers' addresses (copied); registry: its
 * path (moved servers publish beside it). */
int bfs_reaper_start(struct bfs_server *s, const struct bfs_registry *reg, const char *registry);
void bfs_reaper_stop(struct bfs_server *s);
/* The metadata batch committed (rc 0) or failed: the files that died in
 * it are to be reaped, or not. From flush_pending. */
void bfs_reaper_committed(struct bfs_server *s, int rc);
/* File fid has no open reference left: an orphan dies (in the batch). */
void bfs_reaper_closed(struct bfs_server *s, uint64_t fid);
/* Dead files whose chunks are not freed everywhere yet (PING). */
unsigned bfs_reaper_pending(const struct bfs_server *s);

#endif
