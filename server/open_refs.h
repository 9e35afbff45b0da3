/* Open references of the files whose home is this server, per client
 * process (docs/DESIGN.md "Open files and reclamation").
 *
 * An open that reaches the home (LOOKUP, CREATE or STAT by id with
 * BFS_F_OPEN) adds one reference of (file, client process); CLOSE drops
 * one. A file unlinked while it has references stays as an orphan
 * (meta_reap.h) until the last goes. References belong to the client
 * process (bfs_rpc_peer key), not to an endpoint, so an endpoint closed as
 * idle or a worker rotation keeps them. They go with the process: for one
 * on this node a pidfd watched from the event loop; for one elsewhere (no
 * pidfd) the release of its connection, unless that was a GOODBYE saying
 * it comes back (BFS_GOODBYE_F_AGAIN: a rotation followed, an idle endpoint
 * closed) or a release as idle by this server: then the references wait
 * BENCHFS_REMOTE_HOLD_MS (10 min) for a new connection of the process, and
 * go if none came. A remote holder whose calls come later than that, or
 * whose connection died (UCX peer errors), gets ESTALE on a file reaped
 * meanwhile.
 * Memory only: after a restart nothing is open. */
#ifndef BFS_OPEN_REFS_H
#define BFS_OPEN_REFS_H

#include "../rpc/rpc_server.h"

#include <stdint.h>

struct bfs_server;
typedef struct bfs_open_refs bfs_open_refs_t;

int bfs_open_refs_create(bfs_open_refs_t **out, struct bfs_server *s);
void bfs_open_refs_destroy(bfs_open_refs_t *o);

/* One more reference of fid by the request's client: 0, or -ENOENT when
 * the request names no client process (nothing is counted then). */
int bfs_open_refs_add(bfs_open_refs_t *o, const bfs_rpc_req_t *req, uint64_t fid);
/* One less; when fid has none left its orphan, if any, dies (reaper). */
void bfs_open_refs_drop(bfs_open_refs_t *o, const bfs_rpc_req_t *req, uint64_t fid);
/* 1 while fid has references. */
int bfs_open_refs_held(void *o, uint64_t fid);
/* Files with references (PING). */
unsigned bfs_open_refs_files(const bfs_open_refs_t *o);
/* bfs_rpc_server_on_released: a remote client's connection went. */
void bfs_open_refs_released(const struct bfs_rpc_peer *peer, void *o);

#endif
