/* Monotonic time in nanoseconds, for deadlines. */
#ifndef BFS_CLOCK_H
#define BFS_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t bfs_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Wall-clock time in nanoseconds since the epoch, for file times. */
static inline int64_t bfs_wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000ll + ts.tv_nsec;
}

#endif
