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

/* The time ns from now on clock clk, for the timed waits of pthreads
 * (pthread_cond_timedwait, pthread_mutex_timedlock). */
static inline struct timespec bfs_timespec_in(clockid_t clk, uint64_t ns)
{
    struct timespec ts;
    clock_gettime(clk, &ts);
    ts.tv_sec += (time_t)(ns / 1000000000ull);
    ts.tv_nsec += (long)(ns % 1000000000ull);
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

#endif
