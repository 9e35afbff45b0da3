/* A set of the library's stream handles (our DIR streams, our FILE
 * streams), so that readdir() or fileno() can tell them from libc's. Empty
 * in processes that never open one, and then tested without a lock. */
#ifndef BFS_PRELOAD_HANDLES_H
#define BFS_PRELOAD_HANDLES_H

#include <pthread.h>

struct bfs_pl_handle {
    const void *key;            /* the DIR * or FILE * handed out */
    struct bfs_pl_handle *next;
};

struct bfs_pl_handles {
    pthread_mutex_t mu;
    struct bfs_pl_handle *head;
    int n;
};
#define BFS_PL_HANDLES_INIT {PTHREAD_MUTEX_INITIALIZER, NULL, 0}

void bfs_pl_handles_add(struct bfs_pl_handles *set, struct bfs_pl_handle *h, const void *key);
void bfs_pl_handles_remove(struct bfs_pl_handles *set, struct bfs_pl_handle *h);
struct bfs_pl_handle *bfs_pl_handles_find(struct bfs_pl_handles *set, const void *key);

#endif
