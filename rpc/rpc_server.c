/* RPC server: UCX Active Message reception, validation, dispatch, replies. */
#define _GNU_SOURCE /* RUSAGE_THREAD (rpc_spin.h) */
#include "rpc_server.h"
#include "rpc_bufpool.h"
#include "rpc_proc.h"
#include "../common/clock.h"
#include "rpc_spin.h"
#include "rpc_ucx.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

/* A client connection, known from the client's HELLO (see rpc_wire.h).
 *
 * UCX gives a request's reply_ep, but when the client uses peer error
 * handling and goes away (crash, exit, endpoint closed), UCX destroys that
 * endpoint itself - it was created by UCX, not by us - and a reply sent on
 * it later is a use after free. So reply_ep is used only inside the AM
 * callback of its request; replies sent later go on an endpoint the server
 * created to the client's worker address and owns (UCX usually hands back
 * the same endpoint, now owned by us). */
struct srv_conn {
    ucp_ep_h key;             /* the reply_ep the client's requests come with */
    ucp_ep_h ep;              /* ours, to the client; NULL if creation failed */
    int peer_errors;          /* err mode of ep */
    int borrowed;             /* ep is UCX's reply_ep (no peer errors): not ours to close */
    int dead;                 /* UCX reported the client gone */
    int in_table;
    int gone;                 /* released (see conn_release): replies dropped */
    ucp_worker_h worker;      /* the worker it came to */
    int pidfd;                /* the client process (same node), or -1 */
    int from_server;          /* another server's client (BFS_HELLO_F_SERVER) */
    struct bfs_rpc_peer peer; /* who the HELLO named (bfs_rpc_req_peer) */
    uint64_t last_ns;         /* last request received or finished */
    unsigned refs;            /* the table's, the requests' and the gone list's */
    bfs_rpc_server_t *srv;
    struct srv_conn *next;    /* hash chain or reap list */
    struct srv_conn *next_gone;
};

#define CONN_BUCKETS 256

struct srv_req {
    bfs_rpc_req_t pub;      /* first: handlers see only this */
    ucp_ep_h ep;            /* reply_ep: valid only while it is srv->cb_req */
    struct srv_conn *conn;  /* where later replies go (NULL: unknown client) */
    void *ucx_data;         /* eager payload kept by UCX until released */
    ucp_worker_h worker;    /* the worker it came from (and ucx_data belongs to) */
    void *pool_buf;         /* our receive buffer, if any */
    size_t pool_len;        /* the size it was taken for (hdr.len may change) */
    unsigned rpc_id;
    int rndv_pending;       /* its payload is still being received */
    int sending;            /* its reply is being sent */
    struct srv_req *next_free;
    struct srv_req *prev_live, *next_live; /* in flight (s->live) */
};

struct handler_slot {
    bfs_rpc_handler_fn fn;
    void *arg;
    bfs_rpc_recv_buf_fn recv_buf;
    bfs_rpc_prefix_fn prefix;
};

/* The argument of a worker's AM handlers: which server, worker and RPC id. */
struct am_arg {
    bfs_rpc_server_t *srv;
    ucp_worker_h worker;
    unsigned id;
};

/* A worker given up because its shared-memory receive queue got stuck (see
 * check_stuck): kept until shutdown, progressed so that replies to what it
 * had received still go out. */
struct old_worker {
    ucp_worker_h worker;
    ucp_address_t *addr;
    struct am_arg *args;
    int efd;
    int watched;            /* efd in the loop (rotated away, not stuck) */
    unsigned inflight;      /* requests received on it, not finished */
    uint64_t drained_ns;    /* when it first had no connection left (0: has some) */
    struct old_worker *next;
};

struct bfs_rpc_server {
    ucp_context_h ctx;
    ucp_worker_h worker;
    struct am_arg *args;      /* the current worker's handler arguments */
    struct old_worker *old;
    bfs_evloop_t *loop;
    bfs_rpc_moved_fn on_moved;
    void *on_moved_arg;
    uint64_t am_count;        /* AM callbacks so far (progress of the receive side) */
    uint64_t stuck_since, stuck_am, stuck_rounds;
    /* Fault injection ($BENCHFS_FAULT_STALL_AFTER, tests/fault_server_move.sh):
     * after this many requests the current worker is no longer progressed,
     * like one whose receive queue got stuck. */
    uint64_t stall_after;
    ucp_worker_h stalled;
    ucp_address_t *addr;
    size_t addr_len;
    int efd;
    uint64_t secret;
    struct handler_slot slots[BFS_RPC_MAX_ID];
    struct srv_req *free_reqs;
    struct srv_req *live;   /* requests in flight */
    unsigned inflight;
    /* Shutdown (bfs_rpc_server_quiesce): 1, new requests are refused with
     * -ESHUTDOWN, those already received still run; 2 (destroy), requests
     * whose data arrives now are refused too: their handlers' state may be
     * gone. */
    int closing;
    unsigned cur_inflight;  /* ... received on the current worker */
    /* Worker rotation (see rotate): released connections on the current
     * worker, when it was opened, and the limits. */
    unsigned cur_released;
    uint64_t cur_born_ns, rotate_ns;
    unsigned rotate_after;
    struct bfs_rpc_server_stats stats;
    /* Rate limits of the refusal warnings, one per kind: each kind is
     * logged at most once a second, and one kind cannot hide another. */
    uint64_t log_stray_ns, log_hdr_ns, log_len_ns, log_secret_ns, log_unknown_ns, log_hello_ns,
        log_addr_ns, log_noreply_ns, log_drain_ns;
    bfs_rpc_bufpool_t pool;
    /* The request being dispatched from inside a UCX AM callback, and
     * whether it finished before the callback returned: then UCX keeps (and
     * frees) the eager data itself. */
    struct srv_req *in_cb;
    int in_cb_finished;
    /* The request whose AM callback is running: only its reply_ep is valid. */
    struct srv_req *cb_req;
    struct srv_conn *conns[CONN_BUCKETS];
    unsigned nconns;       /* connections in the table */
    struct srv_conn *reap; /* released connections whose endpoint to close */
    /* Connection lifecycle (see conn_release): gone clients' connections
     * whose endpoints to close, an epoll set of the clients' pidfds plus a
     * 1 s timer for the idle sweep (watched from the loop as one fd), the
     * idle limit, and this node's identity to compare HELLOs with. */
    struct srv_conn *gone_list;
    int lc_epfd, lc_timerfd;
    uint64_t idle_ns, next_sweep_ns;
    uint64_t boot_hash;
    uint32_t pidns;
    int shm;               /* shared-memory transports may be in use */
    struct bfs_rpc_server_conn_stats cstats;
    bfs_rpc_released_fn on_released; /* bfs_rpc_server_on_released */
    void *on_released_arg;
    /* Spinning after activity (see before_sleep). */
    uint64_t spin_ns, last_active_ns, next_yield_ns, backoff_until;
    long nivcsw;
};

/* Spin this long after the last activity before blocking
 * ($BENCHFS_RPC_SERVER_SPIN_US; 0 blocks at once as soon as idle). */
#define SERVER_SPIN_US_DEFAULT 100
/* While spinning, poll the worker alone this long between two passes of the
 * event loop (which checks the loop's other descriptors), and yield the CPU
 * this often. */
#define SPIN_SLICE_NS 5000ull
#define SPIN_YIELD_NS 5000ull
/* When another task wanted the core (rpc_spin.h), stop spinning, and do not
 * spin again for this long. */
#define SPIN_BACKOFF_NS 2000000ull

static ucs_status_t am_recv_cb(void *arg, const void *header, size_t header_length,
                               void *data, size_t length, const ucp_am_recv_param_t *param);
static ucs_status_t hello_cb(void *arg, const void *header, size_t header_length,
                             void *data, size_t length, const ucp_am_recv_param_t *param);
static ucs_status_t goodbye_cb(void *arg, const void *header, size_t header_length,
                               void *data, size_t length, const ucp_am_recv_param_t *param);
static void lc_sweep(bfs_rpc_server_t *s, uint64_t now);
static void on_lc_fd(int fd, void *arg);
static void close_gone(bfs_rpc_server_t *s);
static void move_worker(bfs_rpc_server_t *s, int stuck);
static void reap_conns(bfs_rpc_server_t *s, int force);

/* AM ids outside the RPC range. UCX 1.13 does not check the id of an
 * incoming AM against its handler table: a message for an id without a
 * handler reads past the table (or an uninitialised entry, id 0) and
 * crashes the process. So every id gets a handler: these drop the message. */
static ucs_status_t stray_cb(void *arg, const void *header, size_t header_length, void *data,
                             size_t length, const ucp_am_recv_param_t *param)
{
    bfs_rpc_server_t *s = arg;
    s->am_count++;
    s->stats.rejected++;
    if (bfs_log_ratelimit(&s->log_stray_ns))
        bfs_warn("rpc server: message for an AM id that is no RPC dropped (header %zu bytes, "
                 "payload %zu bytes)", header_length, length);
    return UCS_OK;
}

static ucs_status_t set_stray(bfs_rpc_server_t *s, ucp_worker_h w, unsigned id)
{
    ucp_am_handler_param_t hp = {
        .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                      UCP_AM_HANDLER_PARAM_FIELD_ARG | UCP_AM_HANDLER_PARAM_FIELD_FLAGS,
        .id = id,
        .cb = stray_cb,
        .arg = s,
        .flags = UCP_AM_FLAG_WHOLE_MSG,
    };
    return ucp_worker_set_am_recv_handler(w, &hp);
}

/* ---- client connections ---- */

static unsigned conn_hash(ucp_ep_h key)
{
    uintptr_t k = (uintptr_t)key;
    return (unsigned)((k >> 4) ^ (k >> 12)) % CONN_BUCKETS;
}

static struct srv_conn *conn_lookup(bfs_rpc_server_t *s, ucp_ep_h key)
{
    for (struct srv_conn *c = s->conns[conn_hash(key)]; c; c = c->next)
        if (c->key == key)
            return c;
    return NULL;
}

static void conn_put(struct srv_conn *c)
{
    if (--c->refs > 0)
        return;
    /* Closed later, outside UCX callbacks. */
    bfs_rpc_server_t *s = c->srv;
    c->next = s->reap;
    s->reap = c;
}

static void conn_unlink(struct srv_conn *c)
{
    if (!c->in_table)
        return;
    bfs_rpc_server_t *s = c->srv;
    struct srv_conn **pp = &s->conns[conn_hash(c->key)];
    while (*pp != c)
        pp = &(*pp)->next;
    *pp = c->next;
    c->in_table = 0;
    s->nconns--;
    conn_put(c);
}

static void conn_release(struct srv_conn *c, const char *why);

static void conn_err_cb(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    struct srv_conn *c = arg;
    (void)ep;
    (void)status;
    /* Released, not only unlinked: what the connection's process holds
     * (open references) goes with it, as after a process death. */
    c->srv->cstats.by_pid++;
    conn_release(c, "UCX reported the client gone");
}

/* ---- connection lifecycle ----
 *
 * A client that is gone must cost the server nothing: without peer error
 * handling UCX never reports a peer's death, and the endpoint UCX made for
 * the client keeps its shared-memory segments (2 SysV segments, ~4 MiB,
 * per client with the default transports) attached until it is closed. A
 * connection is released (conn_release) when:
 *  - the client says GOODBYE (it closes its endpoint: finalize, exit, idle);
 *  - its process dies (same node: a pidfd from the HELLO's identity, watched
 *    in lc_epfd; covers _exit, crashes, SIGKILL);
 *  - it has had no request in flight for idle_ns (BENCHFS_RPC_SERVER_IDLE_MS,
 *    default 120 s; covers exec, whose pid lives on, and remote clients that
 *    vanished). Clients close an endpoint idle for BENCHFS_RPC_IDLE_MS (60 s)
 *    themselves and make a new one, so a live client never uses one the
 *    server may have closed.
 * Released: out of the table (a late request on the endpoint finds no
 * connection), replies still owed are dropped, and its endpoint is closed
 * outside UCX callbacks (close_gone), which also cancels a rendezvous
 * receive left unfinished by a dead client. */

#define SERVER_IDLE_MS_DEFAULT 120000
#define ROTATE_MS_DEFAULT 30000
#define ROTATE_AFTER_DEFAULT 64

static void conn_release(struct srv_conn *c, const char *why)
{
    if (c->gone)
        return;
    bfs_rpc_server_t *s = c->srv;
    c->gone = 1;
    c->dead = 1;
    if (c->worker == s->worker)
        s->cur_released++;
    c->refs++; /* the gone list's */
    c->next_gone = s->gone_list;
    s->gone_list = c;
    conn_unlink(c);
    bfs_debug("rpc server: client connection released (%s, pid %llu), %u left", why,
              (unsigned long long)c->peer.pid, s->nconns);
    if (s->on_released && c->peer.key)
        s->on_released(&c->peer, s->on_released_arg);
}

static void conn_close_ep(struct srv_conn *c)
{
    if (!c->ep)
        return;
    if (c->borrowed && !c->srv->shm) {
        /* tcp only: closing UCX's reply_ep from our thread failed UCX 1.13's
         * async-lock assertion (ucp_ep.c:1608, signal.tid) in
         * lifecycle_clients.sh; there is no segment to free either. */
        c->ep = NULL;
        return;
    }
    /* With peer error handling the key is UCX's own reply_ep, which UCX
     * destroys itself when the client goes; ours is c->ep. Without it c->ep
     * is the borrowed reply_ep: closed here all the same, or it keeps the
     * client's segments attached for ever. Forced: a dead peer cannot
     * acknowledge a flush (UCX falls back when it refuses to force). */
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
        .flags = UCP_EP_CLOSE_FLAG_FORCE,
    };
    ucs_status_ptr_t r = ucp_ep_close_nbx(c->ep, &p);
    if (UCS_PTR_IS_ERR(r)) {
        p.flags = 0;
        r = ucp_ep_close_nbx(c->ep, &p);
    }
    bfs_debug("rpc server: closing a client endpoint: %s",
              r == NULL ? "done" : UCS_PTR_IS_ERR(r) ? ucs_status_string(UCS_PTR_STATUS(r)) : "in progress");
    if (UCS_PTR_IS_PTR(r))
        ucp_request_free(r); /* completes on its own */
    c->ep = NULL;
}

/* Close the endpoints of released connections; never from a UCX callback. */
static void close_gone(bfs_rpc_server_t *s)
{
    while (s->gone_list) {
        struct srv_conn *c = s->gone_list;
        s->gone_list = c->next_gone;
        if (c->pidfd >= 0) {
            close(c->pidfd); /* also leaves lc_epfd */
            c->pidfd = -1;
        }
        conn_close_ep(c);
        conn_put(c);
    }
}

/* Close the endpoints of released connections. */
static void reap_conns(bfs_rpc_server_t *s, int force)
{
    while (s->reap) {
        struct srv_conn *c = s->reap;
        s->reap = c->next;
        if (c->pidfd >= 0)
            close(c->pidfd);
        if (c->ep && !c->borrowed) {
            ucp_request_param_t p = {
                .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                .flags = c->peer_errors || force ? UCP_EP_CLOSE_FLAG_FORCE : 0,
            };
            ucs_status_ptr_t r = ucp_ep_close_nbx(c->ep, &p);
            if (UCS_PTR_IS_PTR(r))
                ucp_request_free(r); /* completes on its own */
        }
        free(c);
    }
}

/* Requests in flight per worker: an old worker is destroyed once it has
 * none (see drain_old). */
static void worker_inflight(bfs_rpc_server_t *s, ucp_worker_h w, int d)
{
    if (w == s->worker) {
        s->cur_inflight += (unsigned)d;
        return;
    }
    for (struct old_worker *o = s->old; o; o = o->next)
        if (o->worker == w) {
            o->inflight += (unsigned)d;
            return;
        }
}

static struct srv_req *req_get(bfs_rpc_server_t *s)
{
    struct srv_req *r = s->free_reqs;
    if (r)
        s->free_reqs = r->next_free;
    else if (!(r = malloc(sizeof(*r))))
        return NULL;
    memset(r, 0, sizeof(*r));
    r->pub.server = s;
    bfs_rpc_hdr_init(&r->pub.reply, BFS_RPC_KIND_REPLY);
    s->inflight++;
    r->next_live = s->live;
    if (s->live)
        s->live->prev_live = r;
    s->live = r;
    return r;
}

static void req_put(bfs_rpc_server_t *s, struct srv_req *r)
{
    if (r->pub.on_done)
        r->pub.on_done(&r->pub);
    if (r == s->in_cb)
        s->in_cb_finished = 1;
    else if (r->ucx_data)
        ucp_am_data_release(r->worker, r->ucx_data);
    if (r->pool_buf)
        bfs_rpc_bufpool_put(&s->pool, r->pool_buf, r->pool_len);
    if (r->conn) {
        r->conn->last_ns = bfs_now_ns();
        conn_put(r->conn);
    }
    if (r->worker)
        worker_inflight(s, r->worker, -1);
    if (r->prev_live)
        r->prev_live->next_live = r->next_live;
    else
        s->live = r->next_live;
    if (r->next_live)
        r->next_live->prev_live = r->prev_live;
    s->inflight--;
    r->next_free = s->free_reqs;
    s->free_reqs = r;
}

static ucs_status_t worker_open(bfs_rpc_server_t *s, ucp_worker_h *wout, ucp_address_t **aout,
                                size_t *alen, int *efd, struct am_arg **argsout)
{
    ucp_worker_h w = NULL;
    ucp_address_t *addr = NULL;
    struct am_arg *args = calloc(BFS_RPC_MAX_ID, sizeof(*args));
    if (!args)
        return UCS_ERR_NO_MEMORY;
    ucp_worker_params_t wp = {
        .field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
        .thread_mode = UCS_THREAD_MODE_SINGLE,
    };
    ucs_status_t st = ucp_worker_create(s->ctx, &wp, &w);
    if (st != UCS_OK)
        goto fail;
    if ((st = ucp_worker_get_address(w, &addr, alen)) != UCS_OK ||
        (st = ucp_worker_get_efd(w, efd)) != UCS_OK)
        goto fail;
    /* Every id gets our callback, so that an unregistered RPC is answered
     * with -ENOSYS instead of being dropped by UCX. */
    for (unsigned id = 1; id < BFS_RPC_MAX_ID; id++) {
        args[id] = (struct am_arg){.srv = s, .worker = w, .id = id};
        ucp_am_handler_param_t hp = {
            .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                          UCP_AM_HANDLER_PARAM_FIELD_ARG | UCP_AM_HANDLER_PARAM_FIELD_FLAGS,
            .id = id,
            .cb = id == BFS_RPC_HELLO_ID     ? hello_cb
                  : id == BFS_RPC_GOODBYE_ID ? goodbye_cb
                                             : am_recv_cb,
            .arg = &args[id],
            .flags = UCP_AM_FLAG_WHOLE_MSG | UCP_AM_FLAG_PERSISTENT_DATA,
        };
        if ((st = ucp_worker_set_am_recv_handler(w, &hp)) != UCS_OK)
            goto fail;
    }
    /* Highest first: the table grows once. */
    for (unsigned id = UINT16_MAX; id >= BFS_RPC_MAX_ID; id--)
        if ((st = set_stray(s, w, id)) != UCS_OK)
            goto fail;
    if ((st = set_stray(s, w, BFS_RPC_REPLY_ID)) != UCS_OK)
        goto fail;
    *wout = w;
    *aout = addr;
    *argsout = args;
    return UCS_OK;
fail:
    if (addr)
        ucp_worker_release_address(w, addr);
    if (w)
        ucp_worker_destroy(w);
    free(args);
    return st;
}

static unsigned long long env_ull(const char *name, unsigned long long dflt)
{
    const char *v = getenv(name);
    char *end;
    if (!v || !*v)
        return dflt;
    unsigned long long x = strtoull(v, &end, 10);
    return *end ? dflt : x;
}

int bfs_rpc_server_create(bfs_rpc_server_t **out, const struct bfs_rpc_server_opts *opts)
{
    bfs_rpc_server_t *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->secret = opts ? opts->secret : 0;
    s->nivcsw = -1;
    s->lc_epfd = s->lc_timerfd = -1;
    {
        const char *v = getenv("BENCHFS_RPC_SERVER_IDLE_MS");
        char *end;
        unsigned long long ms = v && *v ? strtoull(v, &end, 10) : SERVER_IDLE_MS_DEFAULT;
        if (v && *v && *end)
            ms = SERVER_IDLE_MS_DEFAULT;
        s->idle_ns = ms * 1000000ull; /* 0: never */
    }
    s->rotate_ns = (uint64_t)env_ull("BENCHFS_RPC_ROTATE_MS", ROTATE_MS_DEFAULT) * 1000000ull;
    s->rotate_after = (unsigned)env_ull("BENCHFS_RPC_ROTATE_AFTER", ROTATE_AFTER_DEFAULT);
    s->cur_born_ns = bfs_now_ns();
    {
        /* UCX_TLS as UCX reads it: unset, an exclusion list or "all" keep
         * shared memory; otherwise it must be named. */
        const char *t = getenv("UCX_TLS");
        s->shm = !t || !*t || t[0] == '^' || strstr(t, "all") || strstr(t, "sm") ||
                 strstr(t, "sysv") || strstr(t, "posix") || strstr(t, "mm");
    }
    s->boot_hash = bfs_rpc_boot_hash();
    s->pidns = bfs_rpc_pidns();
    s->lc_epfd = epoll_create1(EPOLL_CLOEXEC);
    s->lc_timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (s->lc_epfd >= 0 && s->lc_timerfd >= 0) {
        struct itimerspec its = {.it_interval = {1, 0}, .it_value = {1, 0}};
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
        if (timerfd_settime(s->lc_timerfd, 0, &its, NULL) < 0 ||
            epoll_ctl(s->lc_epfd, EPOLL_CTL_ADD, s->lc_timerfd, &ev) < 0)
            bfs_warn("rpc server: no idle timer: %s", strerror(errno));
    }
    bfs_rpc_bufpool_init(&s->pool);
    {
        const char *v = getenv("BENCHFS_RPC_SERVER_SPIN_US");
        char *end;
        unsigned long us = v && *v ? strtoul(v, &end, 10) : SERVER_SPIN_US_DEFAULT;
        if (v && *v && (*end || us > 1000000))
            us = SERVER_SPIN_US_DEFAULT;
        s->spin_ns = (uint64_t)us * 1000ull;
    }
    {
        const char *v = getenv("BENCHFS_FAULT_STALL_AFTER");
        s->stall_after = v && *v ? strtoull(v, NULL, 10) : 0;
    }

    ucp_config_t *cfg;
    ucs_status_t st = ucp_config_read(NULL, NULL, &cfg);
    if (st != UCS_OK)
        goto fail;
    bfs_rpc_ucx_defaults(cfg);
    if (opts && opts->exclude_cma && !getenv("UCX_TLS") &&
        (st = ucp_config_modify(cfg, "TLS", "^cma")) != UCS_OK) {
        ucp_config_release(cfg);
        goto fail;
    }
    ucp_params_t p = {
        .field_mask = UCP_PARAM_FIELD_FEATURES,
        .features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP,
    };
    st = ucp_init(&p, cfg, &s->ctx);
    ucp_config_release(cfg);
    if (st != UCS_OK)
        goto fail;
    st = worker_open(s, &s->worker, &s->addr, &s->addr_len, &s->efd, &s->args);
    if (st != UCS_OK)
        goto fail;
    *out = s;
    return 0;
fail:
    bfs_error("rpc server: UCX initialisation failed: %s", ucs_status_string(st));
    bfs_rpc_server_destroy(s);
    return -EIO;
}

void bfs_rpc_server_destroy(bfs_rpc_server_t *s)
{
    if (!s)
        return;
    s->closing = 2;
    if (s->worker) {
        uint64_t end = bfs_now_ns() + 1000000000ull;
        while (s->inflight && bfs_now_ns() < end)
            bfs_rpc_server_progress(s);
        if (s->inflight)
            bfs_warn("rpc server: %u requests still in flight at shutdown", s->inflight);
        close_gone(s);
        for (unsigned b = 0; b < CONN_BUCKETS; b++)
            while (s->conns[b])
                conn_unlink(s->conns[b]);
        /* Forced: without peer error handling the server never learns that
         * a client went away, and a graceful close of an endpoint to a
         * client long gone cannot flush - UCX then logs three "error during
         * flush: Endpoint timeout" lines per client at every shutdown. A
         * client still running when its servers stop sees them gone either
         * way. */
        reap_conns(s, 1);
        /* Let the closes go out (bounded: a dead peer never answers). */
        end = bfs_now_ns() + 100000000ull;
        while (bfs_now_ns() < end && ucp_worker_progress(s->worker))
            ;
        if (s->addr)
            ucp_worker_release_address(s->worker, s->addr);
        ucp_worker_destroy(s->worker);
    }
    while (s->old) {
        struct old_worker *o = s->old;
        s->old = o->next;
        ucp_worker_release_address(o->worker, o->addr);
        ucp_worker_destroy(o->worker);
        free(o->args);
        free(o);
    }
    free(s->args);
    if (s->ctx)
        ucp_cleanup(s->ctx);
    while (s->free_reqs) {
        struct srv_req *r = s->free_reqs;
        s->free_reqs = r->next_free;
        free(r);
    }
    bfs_rpc_bufpool_destroy(&s->pool);
    if (s->lc_epfd >= 0)
        close(s->lc_epfd);
    if (s->lc_timerfd >= 0)
        close(s->lc_timerfd);
    free(s);
}

void bfs_rpc_server_set_secret(bfs_rpc_server_t *s, uint64_t secret) { s->secret = secret; }

void bfs_rpc_server_on_moved(bfs_rpc_server_t *s, bfs_rpc_moved_fn fn, void *arg)
{
    s->on_moved = fn;
    s->on_moved_arg = arg;
}

void bfs_rpc_server_address(bfs_rpc_server_t *s, const void **addr, size_t *len)
{
    *addr = s->addr;
    *len = s->addr_len;
}

int bfs_rpc_server_progress(bfs_rpc_server_t *s)
{
    int n = 0;
    if (s->stall_after && !s->stalled && s->stats.requests >= s->stall_after)
        s->stalled = s->worker;
    while (s->worker != s->stalled && ucp_worker_progress(s->worker))
        n++;
    for (struct old_worker *o = s->old; o; o = o->next)
        if (o->worker != s->stalled)
            ucp_worker_progress(o->worker);
    if (s->gone_list)
        close_gone(s);
    if (s->reap)
        reap_conns(s, 0);
    if (n && s->spin_ns)
        s->last_active_ns = bfs_now_ns();
    return n;
}

static void on_efd(int fd, void *arg)
{
    (void)fd;
    bfs_rpc_server_progress(arg);
}

/* A stuck receive queue. UCX's shared-memory transport has one receive FIFO
 * per worker, shared by every sender on the node: a sender reserves an
 * element, writes it, then marks it complete. A client killed (or stopped)
 * between the reservation and the mark leaves an element that never
 * completes, and the worker reads its FIFO in order: nothing from anyone
 * on the node arrives any more, and the worker's event fd stays "busy"
 * (UCX 1.13; seen in tests/fault_client_kill.sh as a server that spins and
 * answers nobody). The FIFO cannot be repaired from outside UCX, so the
 * server moves: a new worker (a new FIFO) serves from then on, its address
 * is published (on_moved), and clients whose calls wait move to it. The old
 * worker is kept, still progressed, so that replies to what it received go
 * out. The sign: the worker stays busy without a single message callback
 * for STUCK_NS - a busy worker that does not deliver. */
#define STUCK_NS 3000000000ull
#define STUCK_ROUNDS 10000

/* stuck: the old worker's receive queue is stuck (check_stuck), so its
 * event fd leaves the loop (it would stay busy); otherwise (a rotation, see
 * rotate) the old worker is still watched and armed, and serves its clients
 * at full speed until they follow. */
static void move_worker(bfs_rpc_server_t *s, int stuck)
{
    uint64_t now = bfs_now_ns();
    ucp_worker_h w;
    ucp_address_t *addr;
    size_t alen;
    int efd;
    struct am_arg *args;
    struct old_worker *o = malloc(sizeof(*o));
    ucs_status_t st = o ? worker_open(s, &w, &addr, &alen, &efd, &args) : UCS_ERR_NO_MEMORY;
    if (st != UCS_OK) {
        bfs_error("rpc server: cannot open a new worker: %s", ucs_status_string(st));
        free(o);
        return;
    }
    int watched = 0;
    if (s->loop) {
        if (stuck)
            bfs_evloop_del_fd(s->loop, s->efd);
        else
            watched = 1;
        if (bfs_evloop_add_fd(s->loop, efd, on_efd, s) < 0)
            bfs_error("rpc server: cannot watch the new worker's event fd");
    }
    size_t old_len = s->addr_len;
    *o = (struct old_worker){.worker = s->worker, .addr = s->addr, .args = s->args,
                             .efd = s->efd, .watched = watched, .inflight = s->cur_inflight,
                             .next = s->old};
    s->old = o;
    s->cur_inflight = 0;
    s->cur_released = 0;
    s->cur_born_ns = now;
    s->worker = w;
    s->addr = addr;
    s->addr_len = alen;
    s->efd = efd;
    s->args = args;
    s->stats.moves++;
    if (s->on_moved)
        s->on_moved(addr, alen, o->addr, old_len, stuck, s->on_moved_arg);
}

static void check_stuck(bfs_rpc_server_t *s, uint64_t now)
{
    if (!s->stuck_since || s->am_count != s->stuck_am) {
        s->stuck_since = now;
        s->stuck_am = s->am_count;
        s->stuck_rounds = 0;
        return;
    }
    /* Also many rounds: a loop that was merely away for 3 s (a long
     * commit, a descheduled process) has gone round only a few times. */
    if (++s->stuck_rounds < STUCK_ROUNDS || now - s->stuck_since < STUCK_NS)
        return;
    bfs_error("rpc server: no message has arrived for %.0f s although UCX has some pending: "
              "the shared-memory receive queue is stuck (a client died or was stopped in the "
              "middle of a message); moving to a new UCX worker, clients follow",
              (double)(now - s->stuck_since) / 1e9);
    s->stuck_since = 0;
    move_worker(s, 1);
}

/* Before the loop blocks. Blocking costs every request that finds the
 * server asleep a wake-up: a syscall in the client (UCX signals the armed
 * worker's event fd) and several microseconds in the server. So after
 * activity the server keeps polling for spin_ns before it arms the worker
 * and blocks: back-to-back requests then find it awake, and an idle server
 * still uses no CPU. Spinning only pays when the server has a core to
 * itself (PLATFORM.md: a server that always busy-polls collapses on shared
 * cores), so it yields the CPU every few microseconds, and when a yield shows
 * that another task was waiting for the core it stops spinning and does not
 * spin again for a while. */
static int before_sleep(void *arg)
{
    bfs_rpc_server_t *s = arg;
    /* Whatever arrived goes back to the loop at once: its handlers' work
     * (a group commit and its replies, io_uring submissions) must not wait
     * for the end of a spin slice. */
    if (bfs_rpc_server_progress(s))
        return 1;
    uint64_t now = bfs_now_ns();
    if (s->spin_ns && now - s->last_active_ns < s->spin_ns && now >= s->backoff_until) {
        uint64_t until = now + SPIN_SLICE_NS;
        while ((now = bfs_now_ns()) < until)
            if (bfs_rpc_server_progress(s))
                return 1;
        if (now >= s->next_yield_ns) {
            int contended = bfs_spin_yield_contended(&s->nivcsw);
            uint64_t after = bfs_now_ns();
            s->next_yield_ns = after + SPIN_YIELD_NS;
            if (contended) {
                s->backoff_until = after + SPIN_BACKOFF_NS;
                return ucp_worker_arm(s->worker) == UCS_ERR_BUSY;
            }
        }
        return 1;
    }
    /* BUSY: events arrived since the last progress; go round again. */
    if (ucp_worker_arm(s->worker) != UCS_ERR_BUSY) {
        s->stuck_since = 0;
        for (struct old_worker *o = s->old; o; o = o->next)
            if (o->watched && ucp_worker_arm(o->worker) == UCS_ERR_BUSY)
                return 1;
        return 0;
    }
    check_stuck(s, now);
    return 1;
}

int bfs_rpc_server_attach(bfs_rpc_server_t *s, bfs_evloop_t *loop)
{
    s->loop = loop;
    int rc = bfs_evloop_add_fd(loop, s->efd, on_efd, s);
    if (rc == 0)
        rc = bfs_evloop_add_prepare(loop, before_sleep, s);
    if (rc == 0 && s->lc_epfd >= 0)
        rc = bfs_evloop_add_fd(loop, s->lc_epfd, on_lc_fd, s);
    return rc;
}

int bfs_rpc_server_register(bfs_rpc_server_t *s, unsigned id, bfs_rpc_handler_fn fn, void *arg)
{
    if (id == BFS_RPC_REPLY_ID || id >= BFS_RPC_GOODBYE_ID)
        return -EINVAL;
    s->slots[id].fn = fn;
    s->slots[id].arg = arg;
    return 0;
}

int bfs_rpc_server_set_recv_buf(bfs_rpc_server_t *s, unsigned id, bfs_rpc_recv_buf_fn fn)
{
    if (id == BFS_RPC_REPLY_ID || id >= BFS_RPC_HELLO_ID)
        return -EINVAL;
    s->slots[id].recv_buf = fn;
    return 0;
}

int bfs_rpc_server_set_data_prefix(bfs_rpc_server_t *s, unsigned id, bfs_rpc_prefix_fn fn)
{
    if (id == BFS_RPC_REPLY_ID || id >= BFS_RPC_HELLO_ID)
        return -EINVAL;
    s->slots[id].prefix = fn;
    return 0;
}

unsigned bfs_rpc_server_inflight(const bfs_rpc_server_t *s) { return s->inflight; }
void bfs_rpc_server_quiesce(bfs_rpc_server_t *s) { s->closing = s->closing > 1 ? s->closing : 1; }
unsigned bfs_rpc_server_conns(const bfs_rpc_server_t *s)
{
    unsigned n = 0;
    for (unsigned b = 0; b < CONN_BUCKETS; b++)
        for (const struct srv_conn *c = s->conns[b]; c; c = c->next)
            n += !c->from_server;
    return n;
}

void bfs_rpc_server_stats(const bfs_rpc_server_t *s, struct bfs_rpc_server_stats *st)
{
    *st = s->stats;
}

static void reply_sent_cb(void *request, ucs_status_t status, void *user_data)
{
    struct srv_req *r = user_data;
    bfs_rpc_server_t *s = r->pub.server;
    r->sending = 0;
    if (status != UCS_OK && bfs_log_ratelimit(&s->log_noreply_ns))
        bfs_warn("rpc server: reply to rpc %u failed: %s (client gone?)", r->rpc_id,
                 ucs_status_string(status));
    ucp_request_free(request);
    req_put(s, r);
}

int bfs_rpc_reply(bfs_rpc_req_t *pub, int32_t status, const struct iovec *iov, int iovcnt)
{
    struct srv_req *r = (struct srv_req *)pub;
    bfs_rpc_server_t *s = pub->server;
    struct bfs_rpc_hdr *h = &pub->reply;
    size_t len = 0;
    for (int i = 0; i < iovcnt; i++)
        len += iov[i].iov_len;
    if (len > pub->hdr.rcap) {
        /* The client has no room for more: never send it. */
        status = -EOVERFLOW;
        iovcnt = 0;
        len = 0;
    }
    h->magic = BFS_RPC_MAGIC;
    h->version = BFS_RPC_VERSION;
    h->kind = BFS_RPC_KIND_REPLY;
    h->req_id = pub->hdr.req_id;
    h->status = status;
    h->len = len;
    h->secret = 0;
    h->reserved = 0;
    h->pad = 0;
    /* From a worker we rotated away from: the client moves once idle. */
    if (r->worker && r->worker != s->worker)
        h->flags |= BFS_RPC_REPLY_F_MOVED;
    /* reply_ep only inside the request's own AM callback; later our own
     * endpoint to the client (see struct srv_conn). */
    ucp_ep_h ep = NULL;
    if (r == s->cb_req)
        ep = r->ep;
    else if (r->conn && !r->conn->dead)
        ep = r->conn->ep;
    if (!ep) {
        if (bfs_log_ratelimit(&s->log_noreply_ns))
            bfs_warn("rpc server: reply to rpc %u dropped: %s", r->rpc_id,
                     r->conn ? "the client is gone"
                             : r->ep ? "client did not say hello, cannot reply later"
                                     : "request without reply endpoint");
        req_put(s, r);
        return -ENOTCONN;
    }
    s->stats.replies++;
    s->stats.bytes_out += len;
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                        UCP_OP_ATTR_FIELD_DATATYPE,
        .cb.send = reply_sent_cb,
        .user_data = r,
        .datatype = ucp_dt_make_contig(1),
    };
    const void *buf = NULL;
    size_t count = 0;
    if (iovcnt == 1) {
        buf = iov[0].iov_base;
        count = iov[0].iov_len;
    } else if (iovcnt > 1) {
        /* struct iovec and ucp_dt_iov_t share one layout. */
        p.datatype = UCP_DATATYPE_IOV;
        buf = iov;
        count = (size_t)iovcnt;
    }
    ucs_status_ptr_t sp = ucp_am_send_nbx(ep, BFS_RPC_REPLY_ID, h, sizeof(*h), buf, count, &p);
    if (sp == NULL) {
        req_put(s, r);
        return 0;
    }
    if (UCS_PTR_IS_ERR(sp)) {
        if (bfs_log_ratelimit(&s->log_noreply_ns))
            bfs_warn("rpc server: sending reply failed: %s",
                     ucs_status_string(UCS_PTR_STATUS(sp)));
        req_put(s, r);
        return -EIO;
    }
    r->sending = 1;
    return 0;
}

unsigned bfs_rpc_req_id(const bfs_rpc_req_t *req) { return ((const struct srv_req *)req)->rpc_id; }

static void dispatch(struct srv_req *r)
{
    bfs_rpc_server_t *s = r->pub.server;
    struct handler_slot *slot = &s->slots[r->rpc_id];
    if (s->closing > 1) {
        bfs_rpc_reply(&r->pub, -ESHUTDOWN, NULL, 0);
        return;
    }
    /* Never the secret: logs end up in shared places. */
    bfs_debug("rpc %u req %llu: %llu payload bytes, arg0 %llu arg1 %llu offset %llu", r->rpc_id,
              (unsigned long long)r->pub.hdr.req_id, (unsigned long long)r->pub.hdr.len,
              (unsigned long long)r->pub.hdr.arg0, (unsigned long long)r->pub.hdr.arg1,
              (unsigned long long)r->pub.hdr.offset);
    s->stats.requests++;
    s->stats.bytes_in += r->pub.hdr.len;
    slot->fn(&r->pub, slot->arg);
}

static void rndv_recv_cb(void *request, ucs_status_t status, size_t length, void *user_data)
{
    struct srv_req *r = user_data;
    ucp_request_free(request);
    r->rndv_pending = 0;
    if (status != UCS_OK || length != r->pub.hdr.len) {
        bfs_rpc_reply(&r->pub, -EIO, NULL, 0);
        return;
    }
    dispatch(r);
}

/* Answer a request we refuse; returns the value the AM callback returns. */
static ucs_status_t refuse(bfs_rpc_server_t *s, ucp_ep_h ep, unsigned id,
                           const struct bfs_rpc_hdr *h, int err)
{
    s->stats.rejected++;
    if (!ep || h->req_id == 0)
        return UCS_OK;
    struct srv_req *r = req_get(s);
    if (!r)
        return UCS_OK;
    r->ep = ep;
    s->cb_req = r;
    r->rpc_id = id;
    r->pub.hdr = *h;
    r->pub.hdr.rcap = 0;
    bfs_rpc_reply(&r->pub, err, NULL, 0);
    return UCS_OK;
}

static ucs_status_t am_recv_req(void *arg, const void *header, size_t header_length,
                                void *data, size_t length, const ucp_am_recv_param_t *param)
{
    struct am_arg *aa = arg;
    bfs_rpc_server_t *s = aa->srv;
    struct handler_slot *slot = &s->slots[aa->id];
    ucp_ep_h ep = (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) ? param->reply_ep : NULL;
    int rndv = (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV) != 0;
    struct bfs_rpc_hdr h;

    int rc = bfs_rpc_hdr_decode(header, header_length, length, BFS_RPC_KIND_REQ, &h);
    if (rc < 0) {
        if (bfs_log_ratelimit(rc == -EMSGSIZE ? &s->log_len_ns : &s->log_hdr_ns))
            bfs_warn("rpc server: malformed request for rpc %u refused (header %zu bytes, "
                     "payload %zu bytes): %s", aa->id, header_length, length, strerror(-rc));
        return refuse(s, ep, aa->id, &h, rc);
    }
    if (s->secret && h.secret != s->secret) {
        if (bfs_log_ratelimit(&s->log_secret_ns))
            bfs_warn("rpc server: request for rpc %u with a wrong job secret refused",
                     aa->id);
        return refuse(s, ep, aa->id, &h, -EACCES);
    }
    if (!slot->fn) {
        if (bfs_log_ratelimit(&s->log_unknown_ns))
            bfs_warn("rpc server: request for unknown rpc %u refused", aa->id);
        return refuse(s, ep, aa->id, &h, -ENOSYS);
    }
    if (s->closing)
        return refuse(s, ep, aa->id, &h, -ESHUTDOWN);

    struct srv_req *r = req_get(s);
    if (!r)
        return refuse(s, ep, aa->id, &h, -ENOMEM);
    r->ep = ep;
    r->worker = aa->worker;
    worker_inflight(s, r->worker, 1);
    s->cb_req = r;
    if (ep && (r->conn = conn_lookup(s, ep)) != NULL) {
        r->conn->refs++;
        r->conn->last_ns = bfs_now_ns();
    }
    r->rpc_id = aa->id;
    r->pub.hdr = h;

    if (length == 0) {
        dispatch(r);
        return UCS_OK;
    }
    if (!rndv) {
        /* Eager data: keep UCX's buffer alive until the request finishes
         * when UCX lets us, otherwise copy it (the handler may defer). */
        if (param->recv_attr & UCP_AM_RECV_ATTR_FLAG_DATA) {
            r->pub.data = data;
            r->ucx_data = data;
            s->in_cb = r;
            s->in_cb_finished = 0;
            dispatch(r);
            s->in_cb = NULL;
            return s->in_cb_finished ? UCS_OK : UCS_INPROGRESS;
        }
        r->pool_buf = bfs_rpc_bufpool_get(&s->pool, length);
        r->pool_len = length;
        if (!r->pool_buf) {
            bfs_rpc_reply(&r->pub, -ENOMEM, NULL, 0);
            return UCS_OK;
        }
        memcpy(r->pool_buf, data, length);
        r->pub.data = r->pool_buf;
        dispatch(r);
        return UCS_OK;
    }

    void *buf = slot->recv_buf ? slot->recv_buf(&r->pub.hdr, slot->arg) : NULL;
    if (!buf) {
        /* Pool buffers start on a page: shift the payload so that the
         * part after the prefix does too. */
        size_t pre = slot->prefix ? slot->prefix(&r->pub.hdr) : 0;
        size_t skew = pre < length ? (4096 - pre % 4096) % 4096 : 0;
        r->pool_buf = bfs_rpc_bufpool_get(&s->pool, length + skew);
        r->pool_len = length + skew;
        if (!r->pool_buf) {
            bfs_rpc_reply(&r->pub, -ENOMEM, NULL, 0);
            return UCS_OK;
        }
        buf = (char *)r->pool_buf + skew;
    }
    r->pub.data = buf;
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                        UCP_OP_ATTR_FIELD_DATATYPE,
        .cb.recv_am = rndv_recv_cb,
        .user_data = r,
        .datatype = ucp_dt_make_contig(1),
    };
    ucs_status_ptr_t sp = ucp_am_recv_data_nbx(aa->worker, data, buf, length, &p);
    if (sp == NULL) {
        /* Completed at once: the callback will not run. */
        dispatch(r);
    } else if (UCS_PTR_IS_ERR(sp)) {
        bfs_rpc_reply(&r->pub, -EIO, NULL, 0);
        return UCS_OK;
    } else {
        r->rndv_pending = 1;
    }
    return UCS_INPROGRESS;
}

static ucs_status_t am_recv_cb(void *arg, const void *header, size_t header_length,
                               void *data, size_t length, const ucp_am_recv_param_t *param)
{
    struct am_arg *aa = arg;
    aa->srv->am_count++;
    ucs_status_t st = am_recv_req(arg, header, header_length, data, length, param);
    aa->srv->cb_req = NULL; /* its reply_ep is not ours to keep */
    return st;
}

/* ---- HELLO: a client's first message on a new endpoint ---- */

/* A client's worker address cannot really be validated: UCX trusts it and
 * aborts on a malformed one. A HELLO is therefore trusted once its secret
 * matches (a job member sends what UCX gave it); this only stops garbage
 * that does not even start like our own address (same build, same UCX). */
static int addr_plausible(bfs_rpc_server_t *s, const void *addr, size_t len)
{
    return len > 8 && len <= 65536 && s->addr_len > 0 &&
           *(const uint8_t *)addr == *(const uint8_t *)s->addr;
}

/* ---- the client's process: pidfd ---- */

/* Watch the client's process when it runs on this node, in our pid
 * namespace: its death releases the connection at once. Returns -1 if the
 * process named is already gone (release now), 0 otherwise. */
static int conn_watch_pid(bfs_rpc_server_t *s, struct srv_conn *c, const struct bfs_rpc_hdr *h)
{
    c->pidfd = -1;
    if (!(h->flags & BFS_HELLO_F_PROC) || s->lc_epfd < 0 || !s->boot_hash ||
        h->rcap != s->boot_hash || h->arg2 != s->pidns || h->arg1 == 0 || h->arg1 > INT32_MAX)
        return 0; /* another node or namespace: the idle limit covers it */
    int pid = (int)h->arg1;
    int fd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (fd < 0)
        return errno == ESRCH ? -1 : 0;
    /* Checked after the open: the pidfd now names whoever has the pid. */
    if (bfs_rpc_proc_start(pid) != h->offset) {
        close(fd);
        return -1; /* it is gone and the pid reused */
    }
    (void)fcntl(fd, F_SETFD, FD_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    if (epoll_ctl(s->lc_epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        close(fd);
        return 0;
    }
    c->pidfd = fd;
    return 0;
}

/* The client process a HELLO names (BFS_HELLO_F_PROC), for the layers
 * above that keep state per client process rather than per endpoint
 * (open files: server/open_refs.c). */
static void conn_peer(bfs_rpc_server_t *s, struct srv_conn *c, const struct bfs_rpc_hdr *h)
{
    memset(&c->peer, 0, sizeof(c->peer));
    if (!(h->flags & BFS_HELLO_F_PROC) || h->arg1 == 0)
        return;
    c->peer.pid = h->arg1;
    c->peer.start = h->offset;
    c->peer.pidns = h->arg2;
    c->peer.boot = h->rcap;
    c->peer.local = s->lc_epfd >= 0 && s->boot_hash && h->rcap == s->boot_hash &&
                    h->arg2 == s->pidns && h->arg1 <= INT32_MAX;
    uint64_t k = 0xcbf29ce484222325ull;
    const uint64_t v[4] = {h->arg1, h->offset, h->arg2, h->rcap};
    for (int i = 0; i < 4; i++)
        k = (k ^ v[i]) * 0x100000001b3ull, k ^= k >> 29;
    c->peer.key = k ? k : 1;
}

int bfs_rpc_req_peer(const bfs_rpc_req_t *req, struct bfs_rpc_peer *out)
{
    const struct srv_conn *c = ((const struct srv_req *)req)->conn;
    if (!c || !c->peer.key)
        return -ENOENT;
    *out = c->peer;
    return 0;
}

int bfs_rpc_server_has_peer(const bfs_rpc_server_t *s, uint64_t key)
{
    for (unsigned b = 0; b < CONN_BUCKETS; b++)
        for (const struct srv_conn *c = s->conns[b]; c; c = c->next)
            if (!c->gone && c->peer.key == key)
                return 1;
    return 0;
}

void bfs_rpc_server_on_released(bfs_rpc_server_t *s, bfs_rpc_released_fn fn, void *arg)
{
    s->on_released = fn;
    s->on_released_arg = arg;
}

/* Whether the HELLO h names the process that connection c was made for. */
static int same_process(const struct srv_conn *c, const struct bfs_rpc_hdr *h)
{
    if (!(h->flags & BFS_HELLO_F_PROC) || h->arg1 == 0)
        return !c->peer.key; /* neither says who it is */
    return c->peer.pid == h->arg1 && c->peer.start == h->offset && c->peer.pidns == h->arg2 &&
           c->peer.boot == h->rcap;
}

static void conn_connect(bfs_rpc_server_t *s, ucp_worker_h worker, ucp_ep_h key,
                         const struct bfs_rpc_hdr *hh, const void *addr, size_t len)
{
    int peer_errors = hh->arg0 != 0;
    if (!addr_plausible(s, addr, len)) {
        s->stats.rejected++;
        if (bfs_log_ratelimit(&s->log_addr_ns))
            bfs_warn("rpc server: hello with a malformed worker address (%zu bytes) refused",
                     len);
        return;
    }
    struct srv_conn *old = conn_lookup(s, key);
    if (old && !old->dead && same_process(old, hh)) {
        if (old->ep == key)
            return; /* a second hello on an endpoint we already own */
        /* The same process on a new endpoint of its (a new worker, with
         * peer errors): the new connection takes over, below. */
    } else if (old && !old->dead) {
        /* Another process on the endpoint of a connection we hold: UCX freed
         * the gone client's reply_ep (a tcp peer that closed its socket,
         * even without peer error handling) and made the new one in its
         * memory. A borrowed endpoint is the new client's now (our own, with
         * peer errors, is closed as usual); what the old connection held
         * for its process waits as after an idle release, since that
         * process may live on. */
        if (old->ep == key)
            old->ep = NULL;
        old->peer.again = 1;
        s->cstats.by_reuse++;
        conn_release(old, "its endpoint went to another client");
        old = NULL;
    }
    struct srv_conn *c = calloc(1, sizeof(*c));
    if (!c)
        return;
    c->srv = s;
    c->key = key;
    c->peer_errors = peer_errors;
    c->from_server = (hh->flags & BFS_HELLO_F_SERVER) != 0;
    c->refs = 1;
    c->pidfd = -1;
    c->last_ns = bfs_now_ns();
    c->worker = worker;
    if (!peer_errors) {
        /* Without peer error handling UCX never destroys the reply_ep on
         * its own: later replies can use it, and no connection back to the
         * client is made. Connecting back costs a wireup (over tcp lanes
         * when cma is left out) to a client that may be dying: UCX 1.13
         * then failed assertions in the server now and then
         * (ucp_am_rndv_process_rts: ep->worker == worker; ucp_request.c:
         * wireup message type) when clients were SIGKILLed right after
         * their HELLO. */
        c->ep = key;
        c->borrowed = 1;
    } else {
        ucp_ep_params_t ep = {
            .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                          UCP_EP_PARAM_FIELD_ERR_HANDLER,
            .address = addr,
            .err_mode = UCP_ERR_HANDLING_MODE_PEER,
            .err_handler = {.cb = conn_err_cb, .arg = c},
        };
        ucs_status_t st = ucp_ep_create(worker, &ep, &c->ep);
        if (st != UCS_OK) {
            c->ep = NULL;
            if (bfs_log_ratelimit(&s->log_noreply_ns))
                bfs_warn("rpc server: cannot connect back to a client: %s",
                         ucs_status_string(st));
        }
    }
    if (old)
        conn_unlink(old); /* the same process: what it holds stays */
    struct srv_conn **b = &s->conns[conn_hash(key)];
    c->next = *b;
    *b = c;
    c->in_table = 1;
    s->nconns++;
    s->cstats.opened++;
    conn_peer(s, c, hh);
    if (conn_watch_pid(s, c, hh) < 0) {
        s->cstats.by_pid++;
        conn_release(c, "client process already gone");
    }
}

struct hello_rndv {
    bfs_rpc_server_t *srv;
    ucp_worker_h worker;
    ucp_ep_h key;
    struct bfs_rpc_hdr h;
    size_t len;
    unsigned char addr[];
};

static void hello_rndv_cb(void *request, ucs_status_t status, size_t length, void *user_data)
{
    struct hello_rndv *x = user_data;
    ucp_request_free(request);
    if (status == UCS_OK)
        conn_connect(x->srv, x->worker, x->key, &x->h, x->addr, x->len);
    free(x);
}

static ucs_status_t hello_cb(void *arg, const void *header, size_t header_length,
                             void *data, size_t length, const ucp_am_recv_param_t *param)
{
    struct am_arg *aa = arg;
    bfs_rpc_server_t *s = aa->srv;
    s->am_count++;
    ucp_ep_h key = (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) ? param->reply_ep : NULL;
    struct bfs_rpc_hdr h;
    int rc = bfs_rpc_hdr_decode(header, header_length, length, BFS_RPC_KIND_REQ, &h);
    if (rc == 0 && s->secret && h.secret != s->secret)
        rc = -EACCES;
    if (rc == 0 && (!key || length == 0 || length > 65536))
        rc = -EINVAL;
    if (rc < 0) {
        s->stats.rejected++;
        if (bfs_log_ratelimit(&s->log_hello_ns))
            bfs_warn("rpc server: hello refused: %s", strerror(-rc));
        return UCS_OK;
    }
    bfs_debug("hello from a client (%s error handling, %zu-byte worker address, pid %llu)",
              h.arg0 ? "peer" : "no", length, (unsigned long long)h.arg1);
    if (!(param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV)) {
        conn_connect(s, aa->worker, key, &h, data, length);
        return UCS_OK;
    }
    /* A worker address sent by rendezvous (tiny UCX_RNDV_THRESH): fetch it.
     * key is only compared with other reply_eps, never used. */
    struct hello_rndv *x = malloc(sizeof(*x) + length);
    if (!x)
        return UCS_OK;
    x->srv = s;
    x->worker = aa->worker;
    x->key = key;
    x->h = h;
    x->len = length;
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                        UCP_OP_ATTR_FIELD_DATATYPE,
        .cb.recv_am = hello_rndv_cb,
        .user_data = x,
        .datatype = ucp_dt_make_contig(1),
    };
    ucs_status_ptr_t sp = ucp_am_recv_data_nbx(aa->worker, data, x->addr, length, &p);
    if (sp == NULL) {
        conn_connect(s, aa->worker, key, &x->h, x->addr, length);
        free(x);
    } else if (UCS_PTR_IS_ERR(sp)) {
        free(x);
        return UCS_OK;
    }
    return UCS_INPROGRESS;
}

/* ---- GOODBYE: a client's last message on an endpoint ---- */

static ucs_status_t goodbye_cb(void *arg, const void *header, size_t header_length,
                               void *data, size_t length, const ucp_am_recv_param_t *param)
{
    struct am_arg *aa = arg;
    bfs_rpc_server_t *s = aa->srv;
    struct bfs_rpc_hdr h;
    int rc = bfs_rpc_hdr_decode(header, header_length, length, BFS_RPC_KIND_REQ, &h);
    /* A GOODBYE has no req_id and no payload: anything else is a request
     * for an id no handler may have, answered like one (ENOSYS). */
    if (h.req_id != 0 || length != 0)
        return am_recv_cb(arg, header, header_length, data, length, param);
    s->am_count++;
    ucp_ep_h key = (param->recv_attr & UCP_AM_RECV_ATTR_FIELD_REPLY_EP) ? param->reply_ep : NULL;
    if (rc == 0 && s->secret && h.secret != s->secret)
        rc = -EACCES;
    struct srv_conn *c = rc == 0 && key ? conn_lookup(s, key) : NULL;
    if (!c) {
        if (rc < 0)
            s->stats.rejected++;
        return UCS_OK; /* refused, or a client we hold nothing for */
    }
    s->cstats.by_goodbye++;
    c->peer.again = (h.flags & BFS_GOODBYE_F_AGAIN) != 0;
    conn_release(c, "goodbye"); /* its endpoint is closed after this callback */
    return UCS_OK;
}

/* ---- worker rotation ----
 *
 * UCX 1.13 never destroys an endpoint that a peer connected to while the
 * worker lives ("destroyed only when the worker is destroyed ... TODO
 * negotiate disconnect", ucp_ep.c), and refuses a forced close without peer
 * error handling: closing a gone client's endpoint stops its use but keeps
 * its shared-memory segments attached. Only destroying the worker releases
 * them. So once the current worker has released connections and is older
 * than rotate_ns (BENCHFS_RPC_ROTATE_MS, default 30 s) - or has released
 * rotate_after (BENCHFS_RPC_ROTATE_AFTER, 64) - the server moves to a new
 * worker as after a stuck queue (move_worker; the registry names the new
 * address), and the old one keeps serving its live clients, which follow
 * once idle (replies from it carry BFS_RPC_REPLY_F_MOVED). An old worker
 * with no connection left is destroyed (drain_old), with everything UCX
 * kept for the gone clients. Only in a server that publishes its moves
 * (on_moved: benchfsd), and at most MAX_ROTATED old workers at a time. */
#define MAX_ROTATED 4
/* A dead client's unfinished rendezvous never completes: an old worker with
 * no connection and only such receives left is destroyed after this long. */
#define DRAIN_NS 5000000000ull

static void rotate(bfs_rpc_server_t *s, uint64_t now)
{
    if (!s->on_moved || !s->rotate_ns || !s->cur_released || s->stalled == s->worker || !s->shm)
        return;
    if (s->cur_released < s->rotate_after && now - s->cur_born_ns < s->rotate_ns)
        return;
    unsigned n = 0;
    for (struct old_worker *o = s->old; o; o = o->next)
        n++;
    if (n >= MAX_ROTATED)
        return;
    bfs_debug("rpc server: rotating to a new worker (%u connections released on this one)",
              s->cur_released);
    s->cstats.rotations++;
    move_worker(s, 0);
}

static void destroy_old(bfs_rpc_server_t *s, struct old_worker *o)
{
    if (o->watched && s->loop)
        bfs_evloop_del_fd(s->loop, o->efd);
    /* Requests of its own found in UCX callbacks during the destruction
     * must not count on it any more. */
    o->inflight = 0;
    for (struct srv_req *r = s->live; r; r = r->next_live)
        if (r->worker == o->worker)
            r->ucx_data = NULL; /* goes with the worker */
    ucp_worker_release_address(o->worker, o->addr);
    ucp_worker_destroy(o->worker);
    /* Receives that UCX dropped with the worker without a callback. */
    for (struct srv_req *r = s->live, *next; r; r = next) {
        next = r->next_live;
        if (r->worker != o->worker)
            continue;
        r->worker = NULL;
        r->rndv_pending = r->sending = 0;
        r->ucx_data = NULL; /* went with the worker */
        req_put(s, r);
    }
    free(o->args);
    free(o);
    s->cstats.workers_destroyed++;
    bfs_debug("rpc server: an old worker destroyed");
}

static void drain_old(bfs_rpc_server_t *s, uint64_t now)
{
    for (struct old_worker **pp = &s->old; *pp;) {
        struct old_worker *o = *pp;
        int conns = 0, busy = 0;
        for (unsigned b = 0; b < CONN_BUCKETS && !conns; b++)
            for (struct srv_conn *c = s->conns[b]; c && !conns; c = c->next)
                conns = c->worker == o->worker;
        if (o->worker == s->stalled || conns) {
            o->drained_ns = 0;
            pp = &o->next;
            continue;
        }
        if (!o->drained_ns)
            o->drained_ns = now;
        /* Requests waiting only for UCX (a payload or a reply in transit to
         * a client that is gone) do not keep it; one in a handler does. */
        for (struct srv_req *r = s->live; r && !busy; r = r->next_live)
            busy = r->worker == o->worker && !r->rndv_pending && !r->sending;
        if (busy || (o->inflight && now - o->drained_ns < DRAIN_NS)) {
            if (busy && now - o->drained_ns > 10 * DRAIN_NS && bfs_log_ratelimit(&s->log_drain_ns))
                bfs_debug("rpc server: an old worker waits for %u requests in handlers", o->inflight);
            pp = &o->next;
            continue;
        }
        *pp = o->next;
        destroy_old(s, o);
    }
}

/* Released connections: idle ones (the sweep) and dead processes (pidfds).
 * Runs from the loop, never from a UCX callback. */
static void lc_sweep(bfs_rpc_server_t *s, uint64_t now)
{
    if (s->lc_epfd >= 0) {
        struct epoll_event ev[64];
        int n;
        while ((n = epoll_wait(s->lc_epfd, ev, 64, 0)) > 0) {
            for (int i = 0; i < n; i++) {
                if (ev[i].data.ptr == NULL) {
                    uint64_t x;
                    ssize_t r = read(s->lc_timerfd, &x, sizeof(x));
                    (void)r;
                    continue;
                }
                struct srv_conn *c = ev[i].data.ptr;
                /* Out of the set now: a pidfd stays readable. */
                epoll_ctl(s->lc_epfd, EPOLL_CTL_DEL, c->pidfd, NULL);
                if (!c->gone) {
                    s->cstats.by_pid++;
                    conn_release(c, "client process exited");
                }
            }
            if (n < 64)
                break;
        }
    }
    if (now >= s->next_sweep_ns) {
        s->next_sweep_ns = now + 1000000000ull;
        for (unsigned b = 0; s->idle_ns && b < CONN_BUCKETS; b++) {
            struct srv_conn *c = s->conns[b];
            while (c) {
                struct srv_conn *next = c->next;
                /* Only the table's reference: no request in flight. */
                if (c->refs == 1 && now - c->last_ns > s->idle_ns) {
                    s->cstats.by_idle++;
                    /* Idle is not dead: the process may call again. */
                    c->peer.again = 1;
                    conn_release(c, "idle");
                }
                c = next;
            }
        }
        close_gone(s);
        if (s->reap)
            reap_conns(s, 0);
        drain_old(s, now);
        rotate(s, now);
    }
    close_gone(s);
}

static void on_lc_fd(int fd, void *arg)
{
    (void)fd;
    bfs_rpc_server_t *s = arg;
    lc_sweep(s, bfs_now_ns());
}

void bfs_rpc_server_conn_stats(const bfs_rpc_server_t *s, struct bfs_rpc_server_conn_stats *st)
{
    *st = s->cstats;
    st->open = s->nconns;
}
