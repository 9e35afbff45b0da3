/* Logging for servers and tools: one line per event, to stderr, with a level
 * threshold taken from BENCHFS_LOG (error|warn|info|debug). Library code
 * (client, preload) returns errors instead of printing them. */
#ifndef BFS_LOG_H
#define BFS_LOG_H

#include <stdint.h>

enum bfs_log_level { BFS_LOG_ERROR = 0, BFS_LOG_WARN, BFS_LOG_INFO, BFS_LOG_DEBUG };

void bfs_log_set_prefix(const char *prefix);
int bfs_log_enabled(enum bfs_log_level lvl);
void bfs_log(enum bfs_log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define bfs_error(...) bfs_log(BFS_LOG_ERROR, __VA_ARGS__)
#define bfs_warn(...) bfs_log(BFS_LOG_WARN, __VA_ARGS__)
#define bfs_info(...) bfs_log(BFS_LOG_INFO, __VA_ARGS__)
#define bfs_debug(...)                                                         \
    do {                                                                       \
        if (bfs_log_enabled(BFS_LOG_DEBUG))                                    \
            bfs_log(BFS_LOG_DEBUG, __VA_ARGS__);                               \
    } while (0)

/* Rate limit for warnings a peer can trigger at will (malformed requests):
 * returns 1 when a message of this class may be logged now (at most one per
 * second per class), 0 otherwise. */
int bfs_log_ratelimit(uint64_t *last_ns);

#endif
