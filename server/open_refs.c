/* Open references per (file, client process): see open_refs.h. */
#define _GNU_SOURCE
#include "open_refs.h"
#include "reaper.h"
#include "server.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "../rpc/rpc_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define BUCKETS 4096u
/* How long a process elsewhere that said it comes back (GOODBYE with
 * BFS_GOODBYE_F_AGAIN: a worker rotation followed, an idle endpoint closed)
 * keeps its references with no connection here: BENCHFS_REMOTE_HOLD_MS. */
#define HOLD_MS_DEFAULT 600000ull

struct client {
    uint64_t key;
    int pidfd;          /* a process on this node, watched; else -1 */
    uint64_t away_ns;   /* elsewhere, no connection since (0: connected) */
    unsigned refs;      /* entries of this client */
    bfs_open_refs_t *o;
    struct client *next;
};

struct ref {
    uint64_t fid;
    struct client *c;
    unsigned count;     /* opens minus closes */
    struct ref *next;   /* hash chain (by fid) */
};

struct bfs_open_refs {
    struct bfs_server *s;
    struct ref *b[BUCKETS];
    struct client *clients;
    unsigned files;     /* distinct fids with references */
    int epfd;           /* the watched clients' pidfds: one fd in the loop */
    int tfd;            /* timerfd: the next away client's hold ends */
    uint64_t hold_ns;
};

static unsigned bucket(uint64_t fid)
{
    fid *= 0x9e3779b97f4a7c15ull;
    return (unsigned)(fid >> 52) % BUCKETS;
}

static void on_pidfds(int fd, void *arg);
static void on_hold_timer(int fd, void *arg);

int bfs_open_refs_create(bfs_open_refs_t **out, struct bfs_server *s)
{
    bfs_open_refs_t *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->s = s;
    const char *e = getenv("BENCHFS_REMOTE_HOLD_MS");
    o->hold_ns = (e && *e ? strtoull(e, NULL, 10) : HOLD_MS_DEFAULT) * 1000000ull;
    o->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    o->epfd = epoll_create1(EPOLL_CLOEXEC);
    int rc = o->epfd < 0 || o->tfd < 0 ? -errno : bfs_evloop_add_fd(s->loop, o->epfd, on_pidfds, o);
    if (rc == 0 && (rc = bfs_evloop_add_fd(s->loop, o->tfd, on_hold_timer, o)) < 0)
        bfs_evloop_del_fd(s->loop, o->epfd);
    if (rc < 0) {
        if (o->epfd >= 0)
            close(o->epfd);
        if (o->tfd >= 0)
            close(o->tfd);
        free(o);
        return rc;
    }
    *out = o;
    return 0;
}

static void client_free(bfs_open_refs_t *o, struct client *c)
{
    for (struct client **p = &o->clients; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    if (c->pidfd >= 0)
        close(c->pidfd); /* also leaves epfd */
    free(c);
}

void bfs_open_refs_destroy(bfs_open_refs_t *o)
{
    if (!o)
        return;
    for (unsigned i = 0; i < BUCKETS; i++)
        for (struct ref *r = o->b[i], *n; r; r = n) {
            n = r->next;
            free(r);
        }
    while (o->clients)
        client_free(o, o->clients);
    bfs_evloop_del_fd(o->s->loop, o->epfd);
    close(o->epfd);
    bfs_evloop_del_fd(o->s->loop, o->tfd);
    close(o->tfd);
    free(o);
}

static int fid_held(const bfs_open_refs_t *o, uint64_t fid)
{
    for (const struct ref *r = o->b[bucket(fid)]; r; r = r->next)
        if (r->fid == fid)
            return 1;
    return 0;
}

int bfs_open_refs_held(void *arg, uint64_t fid) { return fid_held(arg, fid); }

unsigned bfs_open_refs_files(const bfs_open_refs_t *o) { return o->files; }

/* Every reference of client c goes (its process is gone); orphans whose
 * last reference that was die. */
static void client_gone(bfs_open_refs_t *o, struct client *c)
{
    for (unsigned i = 0; i < BUCKETS && c->refs; i++) {
        for (struct ref **p = &o->b[i]; *p;) {
            struct ref *r = *p;
            if (r->c != c) {
                p = &r->next;
                continue;
            }
            *p = r->next;
            uint64_t fid = r->fid;
            free(r);
            c->refs--;
            if (!fid_held(o, fid)) {
                o->files--;
                bfs_reaper_closed(o->s, fid);
            }
        }
    }
    client_free(o, c);
}

static void on_pidfds(int fd, void *arg)
{
    struct epoll_event ev[32];
    int n = epoll_wait(fd, ev, 32, 0);
    for (int i = 0; i < n; i++) {
        struct client *c = ev[i].data.ptr;
        bfs_debug("open files: a client process holding %u exited", c->refs);
        client_gone(c->o, c);
    }
}

static struct client *client_get(bfs_open_refs_t *o, const struct bfs_rpc_peer *p)
{
    for (struct client *c = o->clients; c; c = c->next)
        if (c->key == p->key) {
            c->away_ns = 0; /* it is back */
            return c;
        }
    struct client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->key = p->key;
    c->o = o;
    c->pidfd = -1;
    if (p->local) {
        /* Our own pidfd: the RPC layer closes its own with the connection
         * (idle, rotation), and the references outlive that. */
        int fd = (int)syscall(SYS_pidfd_open, (int)p->pid, 0);
        if (fd < 0 || bfs_rpc_proc_start((int)p->pid) != p->start) {
            if (fd >= 0)
                close(fd);
            free(c);
            return NULL; /* gone already: nothing to hold */
        }
        (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(o->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
            return NULL;
        }
        c->pidfd = fd;
    }
    c->next = o->clients;
    o->clients = c;
    return c;
}

int bfs_open_refs_add(bfs_open_refs_t *o, const bfs_rpc_req_t *req, uint64_t fid)
{
    struct bfs_rpc_peer p;
    if (bfs_rpc_req_peer(req, &p) < 0)
        return -ENOENT;
    struct client *c = client_get(o, &p);
    if (!c)
        return -ENOENT;
    unsigned b = bucket(fid);
    for (struct ref *r = o->b[b]; r; r = r->next)
        if (r->fid == fid && r->c == c) {
            r->count++;
            return 0;
        }
    struct ref *r = malloc(sizeof(*r));
    if (!r) {
        if (!c->refs)
            client_free(o, c);
        return -ENOMEM;
    }
    if (!fid_held(o, fid))
        o->files++;
    r->fid = fid;
    r->c = c;
    r->count = 1;
    r->next = o->b[b];
    o->b[b] = r;
    c->refs++;
    return 0;
}

void bfs_open_refs_drop(bfs_open_refs_t *o, const bfs_rpc_req_t *req, uint64_t fid)
{
    struct bfs_rpc_peer p;
    if (bfs_rpc_req_peer(req, &p) < 0)
        return;
    for (struct ref **pp = &o->b[bucket(fid)]; *pp; pp = &(*pp)->next) {
        struct ref *r = *pp;
        if (r->fid != fid || r->c->key != p.key)
            continue;
        if (--r->count)
            return;
        struct client *c = r->c;
        *pp = r->next;
        free(r);
        if (--c->refs == 0)
            client_free(o, c);
        if (!fid_held(o, fid)) {
            o->files--;
            bfs_reaper_closed(o->s, fid);
        }
        return;
    }
}

/* Arm the timer for the earliest end of a hold (none: disarmed). */
static void hold_arm(bfs_open_refs_t *o)
{
    uint64_t first = 0;
    for (struct client *c = o->clients; c; c = c->next)
        if (c->away_ns && (!first || c->away_ns < first))
            first = c->away_ns;
    struct itimerspec its = {0};
    if (first) {
        uint64_t now = bfs_now_ns(), at = first + o->hold_ns;
        uint64_t in = at > now ? at - now : 1;
        its.it_value.tv_sec = (time_t)(in / 1000000000ull);
        its.it_value.tv_nsec = (long)(in % 1000000000ull);
    }
    timerfd_settime(o->tfd, 0, &its, NULL);
}

/* Holds that ended: a process that connected again keeps its references,
 * one that did not lets them go. */
static void on_hold_timer(int fd, void *arg)
{
    bfs_open_refs_t *o = arg;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    uint64_t now = bfs_now_ns();
    for (struct client *c = o->clients, *next; c; c = next) {
        next = c->next;
        if (!c->away_ns || now - c->away_ns < o->hold_ns)
            continue;
        if (o->s->rpc && bfs_rpc_server_has_peer(o->s->rpc, c->key)) {
            c->away_ns = 0;
            continue;
        }
        bfs_debug("open files: a process elsewhere holding %u did not come back", c->refs);
        client_gone(o, c);
    }
    hold_arm(o);
}

void bfs_open_refs_released(const struct bfs_rpc_peer *peer, void *arg)
{
    bfs_open_refs_t *o = arg;
    if (peer->local)
        return; /* its pidfd tells when it is gone */
    for (struct client *c = o->clients; c; c = c->next)
        if (c->key == peer->key) {
            if (o->s->rpc && bfs_rpc_server_has_peer(o->s->rpc, c->key))
                return; /* still connected another way */
            if (peer->again) {
                /* Following a rotation or closing an idle endpoint: it
                 * comes back, with a new connection, when it needs us. */
                c->away_ns = bfs_now_ns(); /* its latest departure */
                hold_arm(o);
                return;
            }
            client_gone(o, c);
            return;
        }
}
