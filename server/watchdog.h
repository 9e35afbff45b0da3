/* Peer watchdog: reports (once, on stderr) a server of the job that stops
 * answering, and when it answers again. See watchdog.c. */
#ifndef BFS_WATCHDOG_H
#define BFS_WATCHDOG_H

#include "../common/registry.h"

struct bfs_watchdog;

/* Nothing is started for a single server, or with BENCHFS_WATCHDOG=0.
 * reg (servers and secret), registry (its path: peers that moved publish
 * beside it) and who (per rank "host pid N", may be NULL) must outlive the
 * watchdog. Interval: $BENCHFS_WATCHDOG_MS (1000). */
int bfs_watchdog_start(struct bfs_watchdog **w, unsigned rank, unsigned nservers,
                       const struct bfs_registry *reg, const char *registry, char **who);
void bfs_watchdog_stop(struct bfs_watchdog *w);

#endif
