/* A small epoll event loop: file descriptors with callbacks, "prepare" hooks
 * that run before the loop sleeps (and can veto the sleep when they still have
 * work), and a periodic tick. The server blocks here when idle, so an idle
 * server uses no CPU. */
#ifndef BFS_EVLOOP_H
#define BFS_EVLOOP_H

typedef struct bfs_evloop bfs_evloop_t;

/* Called when fd is readable. */
typedef void (*bfs_ev_fd_fn)(int fd, void *arg);
/* Called before sleeping: return 0 if the loop may block, non-zero when work
 * is pending and the loop must poll again without blocking. */
typedef int (*bfs_ev_prepare_fn)(void *arg);
/* Called about every tick_ms milliseconds. */
typedef void (*bfs_ev_tick_fn)(void *arg);

int bfs_evloop_create(bfs_evloop_t **out);
void bfs_evloop_destroy(bfs_evloop_t *loop);
int bfs_evloop_add_fd(bfs_evloop_t *loop, int fd, bfs_ev_fd_fn fn, void *arg);
int bfs_evloop_del_fd(bfs_evloop_t *loop, int fd);
int bfs_evloop_add_prepare(bfs_evloop_t *loop, bfs_ev_prepare_fn fn, void *arg);
void bfs_evloop_set_tick(bfs_evloop_t *loop, int tick_ms, bfs_ev_tick_fn fn, void *arg);

/* One iteration: run prepare hooks, wait up to timeout_ms (-1: until an
 * event or the next tick) unless a hook vetoed sleeping, dispatch events. */
int bfs_evloop_run_once(bfs_evloop_t *loop, int timeout_ms);
/* Iterate until bfs_evloop_stop(). */
int bfs_evloop_run(bfs_evloop_t *loop);
void bfs_evloop_stop(bfs_evloop_t *loop);
int bfs_evloop_stopped(const bfs_evloop_t *loop);

#endif
