/* Buffers touched ahead by an idle-priority thread (warm_pool.h). */
#define _GNU_SOURCE
#include "warm_pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define WP_HUGE (2u * 1024 * 1024)
#define WP_FIRST 4u   /* buffers in the first reserve, once one was wanted */

struct bfs_warm_pool {
    size_t size;
    int huge;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *ready;        /* a stack linked through each buffer's first word */
    size_t nready;
    size_t limit;       /* the owner's */
    size_t target;      /* the reserve wanted now, <= limit */
    int stop;
};

size_t bfs_warm_pool_size(const bfs_warm_pool_t *p) { return p->size; }
size_t bfs_warm_pool_page(const bfs_warm_pool_t *p) { return p->huge ? WP_HUGE : 4096; }

char *bfs_warm_pool_alloc(const bfs_warm_pool_t *p)
{
    if (!p->huge) {
        void *b = NULL;
        return posix_memalign(&b, 4096, p->size) == 0 ? b : NULL;
    }
    size_t len = p->size + WP_HUGE;
    char *m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        return NULL;
    char *a = (char *)(((uintptr_t)m + WP_HUGE - 1) & ~(uintptr_t)(WP_HUGE - 1));
    if (a > m)
        munmap(m, (size_t)(a - m));
    if (a + p->size < m + len)
        munmap(a + p->size, (size_t)(m + len - (a + p->size)));
    madvise(a, p->size, MADV_HUGEPAGE); /* advice: without THP, small pages */
    return a;
}

void bfs_warm_pool_release(const bfs_warm_pool_t *p, char *buf)
{
    if (!buf)
        return;
    if (p->huge)
        munmap(buf, p->size);
    else
        free(buf);
}

static void touch(const bfs_warm_pool_t *p, char *b)
{
#ifdef MADV_POPULATE_WRITE
    if (madvise(b, p->size, MADV_POPULATE_WRITE) == 0)
        return;
#endif
    for (size_t off = 0; off < p->size; off += 4096)
        ((volatile char *)b)[off] = 0;
}

static size_t wanted(const bfs_warm_pool_t *p) { return p->target < p->limit ? p->target : p->limit; }

static void *warm_main(void *arg)
{
    bfs_warm_pool_t *p = arg;
    struct sched_param sp = {0};
    pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp);
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        if (p->nready >= wanted(p)) {
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        pthread_mutex_unlock(&p->mu);
        char *b = bfs_warm_pool_alloc(p);
        if (b)
            touch(p, b);
        pthread_mutex_lock(&p->mu);
        if (!b) {
            p->target = p->nready; /* no memory: grow no further */
            continue;
        }
        if (p->stop || p->nready >= wanted(p)) {
            bfs_warm_pool_release(p, b);
            continue;
        }
        *(char **)b = p->ready;
        p->ready = b;
        p->nready++;
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

bfs_warm_pool_t *bfs_warm_pool_new(size_t size)
{
    bfs_warm_pool_t *p = calloc(1, sizeof(*p));
    if (!p || !size) {
        free(p);
        return NULL;
    }
    p->huge = size >= WP_HUGE;
    p->size = p->huge ? (size + WP_HUGE - 1) / WP_HUGE * WP_HUGE : (size + 4095) / 4096 * 4096;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->thread, NULL, warm_main, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    pthread_setname_np(p->thread, "bfs-warm");
    return p;
}

void bfs_warm_pool_free(bfs_warm_pool_t *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->thread, NULL);
    while (p->ready) {
        char *b = p->ready;
        p->ready = *(char **)b;
        bfs_warm_pool_release(p, b);
    }
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}

char *bfs_warm_pool_take(bfs_warm_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    char *b = p->ready;
    if (b) {
        p->ready = *(char **)b;
        p->nready--;
        p->limit--; /* the owner's budget counts it now (limit >= nready + 1) */
    } else if (p->target < p->limit) {
        /* found empty: demand outran the reserve (none is made before) */
        p->target = p->target ? p->target * 2 : WP_FIRST;
    }
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return b;
}

void bfs_warm_pool_limit(bfs_warm_pool_t *p, size_t n)
{
    char *extra = NULL;
    pthread_mutex_lock(&p->mu);
    if (n == p->limit) {
        pthread_mutex_unlock(&p->mu);
        return;
    }
    p->limit = n;
    while (p->nready > n) {
        char *b = p->ready;
        p->ready = *(char **)b;
        p->nready--;
        *(char **)b = extra;
        extra = b;
    }
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    while (extra) {
        char *b = extra;
        extra = *(char **)b;
        bfs_warm_pool_release(p, b);
    }
}

size_t bfs_warm_pool_ready(bfs_warm_pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    size_t n = p->nready;
    pthread_mutex_unlock(&p->mu);
    return n;
}
