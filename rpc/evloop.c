#include "evloop.h"
#include "../common/clock.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <unistd.h>

#define EV_MAX_FDS 16
#define EV_MAX_PREPARE 8

struct ev_fd {
    int fd;
    bfs_ev_fd_fn fn;
    void *arg;
};

struct bfs_evloop {
    int epfd;
    int stop;
    struct ev_fd fds[EV_MAX_FDS];
    int nfds;
    struct {
        bfs_ev_prepare_fn fn;
        void *arg;
    } prep[EV_MAX_PREPARE];
    int nprep;
    int tick_ms;
    bfs_ev_tick_fn tick_fn;
    void *tick_arg;
    uint64_t next_tick_ns;
};

int bfs_evloop_create(bfs_evloop_t **out)
{
    bfs_evloop_t *l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0) {
        int e = -errno;
        free(l);
        return e;
    }
    *out = l;
    return 0;
}

void bfs_evloop_destroy(bfs_evloop_t *l)
{
    if (!l)
        return;
    close(l->epfd);
    free(l);
}

int bfs_evloop_add_fd(bfs_evloop_t *l, int fd, bfs_ev_fd_fn fn, void *arg)
{
    if (l->nfds == EV_MAX_FDS)
        return -ENOSPC;
    struct ev_fd *e = &l->fds[l->nfds];
    e->fd = fd;
    e->fn = fn;
    e->arg = arg;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = e};
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
        return -errno;
    l->nfds++;
    return 0;
}

int bfs_evloop_del_fd(bfs_evloop_t *l, int fd)
{
    for (int i = 0; i < l->nfds; i++) {
        if (l->fds[i].fd != fd)
            continue;
        epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
        /* Entries are referenced by epoll data pointers: re-register the one
         * that moves into the hole. */
        l->nfds--;
        if (i != l->nfds) {
            l->fds[i] = l->fds[l->nfds];
            struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->fds[i]};
            epoll_ctl(l->epfd, EPOLL_CTL_MOD, l->fds[i].fd, &ev);
        }
        return 0;
    }
    return -ENOENT;
}

int bfs_evloop_add_prepare(bfs_evloop_t *l, bfs_ev_prepare_fn fn, void *arg)
{
    if (l->nprep == EV_MAX_PREPARE)
        return -ENOSPC;
    l->prep[l->nprep].fn = fn;
    l->prep[l->nprep].arg = arg;
    l->nprep++;
    return 0;
}

void bfs_evloop_set_tick(bfs_evloop_t *l, int tick_ms, bfs_ev_tick_fn fn, void *arg)
{
    l->tick_ms = tick_ms;
    l->tick_fn = fn;
    l->tick_arg = arg;
    l->next_tick_ns = bfs_now_ns() + (uint64_t)tick_ms * 1000000ull;
}

int bfs_evloop_run_once(bfs_evloop_t *l, int timeout_ms)
{
    int busy = 0;
    for (int i = 0; i < l->nprep; i++)
        busy |= l->prep[i].fn(l->prep[i].arg) != 0;
    if (busy || l->stop)
        timeout_ms = 0;
    if (l->tick_fn) {
        uint64_t now = bfs_now_ns();
        int until = now >= l->next_tick_ns ? 0 : (int)((l->next_tick_ns - now) / 1000000ull) + 1;
        if (timeout_ms < 0 || until < timeout_ms)
            timeout_ms = until;
    }
    struct epoll_event evs[EV_MAX_FDS];
    int n = epoll_wait(l->epfd, evs, EV_MAX_FDS, timeout_ms);
    if (n < 0 && errno != EINTR)
        return -errno;
    for (int i = 0; i < n; i++) {
        struct ev_fd *e = evs[i].data.ptr;
        e->fn(e->fd, e->arg);
    }
    if (l->tick_fn && bfs_now_ns() >= l->next_tick_ns) {
        l->next_tick_ns = bfs_now_ns() + (uint64_t)l->tick_ms * 1000000ull;
        l->tick_fn(l->tick_arg);
    }
    return n < 0 ? 0 : n;
}

int bfs_evloop_run(bfs_evloop_t *l)
{
    while (!l->stop) {
        int rc = bfs_evloop_run_once(l, -1);
        if (rc < 0)
            return rc;
    }
    return 0;
}

void bfs_evloop_stop(bfs_evloop_t *l) { l->stop = 1; }
int bfs_evloop_stopped(const bfs_evloop_t *l) { return l->stop; }
