#include "handles.h"

#include <stddef.h>

void bfs_pl_handles_add(struct bfs_pl_handles *set, struct bfs_pl_handle *h, const void *key)
{
    h->key = key;
    pthread_mutex_lock(&set->mu);
    h->next = set->head;
    set->head = h;
    __atomic_add_fetch(&set->n, 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&set->mu);
}

void bfs_pl_handles_remove(struct bfs_pl_handles *set, struct bfs_pl_handle *h)
{
    pthread_mutex_lock(&set->mu);
    struct bfs_pl_handle **pp = &set->head;
    while (*pp && *pp != h)
        pp = &(*pp)->next;
    if (*pp) {
        *pp = h->next;
        __atomic_sub_fetch(&set->n, 1, __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&set->mu);
}

struct bfs_pl_handle *bfs_pl_handles_find(struct bfs_pl_handles *set, const void *key)
{
    if (!__atomic_load_n(&set->n, __ATOMIC_RELAXED))
        return NULL;
    pthread_mutex_lock(&set->mu);
    struct bfs_pl_handle *h = set->head;
    while (h && h->key != key)
        h = h->next;
    pthread_mutex_unlock(&set->mu);
    return h;
}
