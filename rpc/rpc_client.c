/* RPC client: lazy pooled endpoints, zero-copy calls, deadlines. */
#define _GNU_SOURCE /* RUSAGE_THREAD (rpc_spin.h) */
#include "rpc_client.h"
#include "rpc_proc.h"
#include "../common/clock.h"
#include "rpc_spin.h"
#include "rpc_ucx.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <ucp/api/ucp.h>
#include <unistd.h>

enum {
    ST_STARTED = 1u << 0,
    ST_SENDING = 1u << 1,  /* UCX still reads the request payload */
    ST_RECVING = 1u << 2,  /* UCX still writes the reply data */
    ST_REPLIED = 1u << 3,  /* the outcome is known (reply or failure) */
    ST_DONE = 1u << 4,
};

/* Our part of every UCX send/receive request with a callback (the context's
 * request_size): the call it works for. A call given up while UCX still
 * holds the request (a timeout on an endpoint that cannot be force-closed)
 * is detached - call = NULL - so that the late completion, which may come
 * when the endpoint or the worker is closed, long after the caller freed
 * the call, touches nothing of it. */
struct req_priv {
    bfs_rpc_call_t *call;
    void *bounce; /* a receive's library-owned buffer (struct bounce) */
    size_t cap;   /* its size */
};

/* Rendezvous replies land in library-owned buffers, copied to the caller's
 * on completion: UCX cannot cancel a rendezvous receive (without peer error
 * handling not at all, with it only by a forced close that may take longer
 * than we wait), and a call that returned - timed out, say - must own
 * nothing of the caller's memory (docs/PROMISES.md, "A call that returned
 * owns nothing"). A late transfer then writes into a bounce buffer that is
 * released when UCX completes it. The cost is one memcpy of the reply
 * (docs/DESIGN.md, "Failure behaviour"). A few buffers are kept for reuse:
 * a fresh 4 MiB mapping costs more page faults than the copy. */
#define BOUNCE_KEEP 8
#define BOUNCE_KEEP_BYTES (64u << 20)
struct bounce {
    void *p;
    size_t cap;
};
/* In front of every bounce buffer: the list of those in use, so that the
 * ones UCX never completed (a server that never sent the rest) are freed
 * with the client, after its worker. */
struct bounce_hdr {
    struct bounce_hdr *next, *prev;
    char pad[64 - 2 * sizeof(void *)]; /* the data starts 64-byte aligned */
};

struct conn {
    void *addr;
    size_t len;
    ucp_ep_h ep;
    int failed;               /* UCX reported the peer dead */
    uint64_t retry_ns;        /* no new endpoint before this (last one failed) */
    uint64_t where_ns;        /* no new "where is it" question before this */
    uint64_t addr_ns;         /* when addr was last known current */
    struct bfs_rpc_client *c; /* for the error callback */
    struct bfs_rpc_hdr hello; /* header of the HELLO in flight on ep */
    struct bfs_rpc_hdr bye;   /* header of the GOODBYE in flight on ep */
    uint64_t last_ns;         /* last call sent on ep */
    unsigned busy;            /* calls to this server holding a slot */
    int moved;                /* a reply said the server moved (rotated) */
};

struct bfs_rpc_client {
    pthread_mutex_t mu;
    struct bfs_rpc_client *fnext, *fprev; /* every client, for fork */
    ucp_context_h ctx;
    ucp_worker_h worker;
    ucp_address_t *my_addr;   /* sent in every HELLO */
    size_t my_addr_len;
    int efd;
    int wakefd;
    int waiters;
    uint64_t secret;
    int timeout_ms;
    int peer_errors;
    int spin_us;
    uint64_t reconnect_ns;  /* after a failed connection attempt, wait this long */
    uint64_t idle_ns;       /* close an endpoint idle this long (0: never) */
    unsigned closed_eps;    /* endpoints closed since the worker was made */
    int farewell;           /* said GOODBYE at exit: no new endpoint */
    uint64_t started;       /* calls put in flight (BENCHFS_REPORT) */
    struct bfs_rpc_hdr ident; /* who we are, for every HELLO (BFS_HELLO_F_PROC) */
    /* Adaptive spinning (see bfs_rpc_wait_all). */
    uint64_t spin_max_ns;   /* longest spin; 0: never more than spin_us */
    uint64_t yield_ns;      /* sched_yield() this often while spinning; 0: never */
    uint64_t backoff_ns;    /* no extended spin this long after contention */
    uint64_t wait_avg_ns;   /* moving average of how long waits took */
    uint64_t backoff_until; /* contention seen: spin only spin_us until then */
    struct conn **conns;
    int nconns;
    bfs_rpc_where_fn where;
    void *where_arg;
    /* In-flight calls by slot; req_id = generation << 32 | slot, so a reply
     * that arrives after its call timed out finds a newer generation. */
    bfs_rpc_call_t **slots;
    uint32_t *gens;
    uint32_t *free_slots;
    uint32_t nslots, nfree;
    struct bounce bounce[BOUNCE_KEEP]; /* idle bounce buffers (cap 0: none) */
    size_t bounce_bytes;
    struct bounce_hdr *bounce_live;    /* in use */
};

static void bounce_link(bfs_rpc_client_t *c, struct bounce_hdr *h)
{
    h->prev = NULL;
    h->next = c->bounce_live;
    if (h->next)
        h->next->prev = h;
    c->bounce_live = h;
}

static void bounce_unlink(bfs_rpc_client_t *c, struct bounce_hdr *h)
{
    if (h->prev)
        h->prev->next = h->next;
    else
        c->bounce_live = h->next;
    if (h->next)
        h->next->prev = h->prev;
}

/* A bounce buffer of at least len bytes: the smallest idle one that fits. */
static void *bounce_get(bfs_rpc_client_t *c, size_t len, size_t *cap)
{
    int best = -1;
    for (int i = 0; i < BOUNCE_KEEP; i++)
        if (c->bounce[i].cap >= len && (best < 0 || c->bounce[i].cap < c->bounce[best].cap))
            best = i;
    struct bounce_hdr *h;
    if (best >= 0) {
        h = c->bounce[best].p;
        *cap = c->bounce[best].cap;
        c->bounce_bytes -= *cap;
        c->bounce[best] = (struct bounce){0};
    } else {
        *cap = len;
        if (!(h = malloc(sizeof(*h) + len)))
            return NULL;
    }
    bounce_link(c, h);
    return h + 1;
}

/* Keep it for reuse, or free it (taking the place of a smaller one). */
static void bounce_put(bfs_rpc_client_t *c, void *p, size_t cap)
{
    if (!p)
        return;
    struct bounce_hdr *h = (struct bounce_hdr *)p - 1;
    bounce_unlink(c, h);
    int slot = -1;
    for (int i = 0; i < BOUNCE_KEEP; i++)
        if (slot < 0 || c->bounce[i].cap < c->bounce[slot].cap)
            slot = i;
    if (c->bounce[slot].cap < cap && c->bounce_bytes - c->bounce[slot].cap + cap <= BOUNCE_KEEP_BYTES) {
        c->bounce_bytes -= c->bounce[slot].cap;
        free(c->bounce[slot].p);
        c->bounce[slot] = (struct bounce){h, cap};
        c->bounce_bytes += cap;
        return;
    }
    free(h);
}

/* After the worker is gone (no UCX request can complete any more). */
static void bounce_free_all(bfs_rpc_client_t *c)
{
    for (int i = 0; i < BOUNCE_KEEP; i++)
        free(c->bounce[i].p);
    memset(c->bounce, 0, sizeof(c->bounce));
    c->bounce_bytes = 0;
    while (c->bounce_live) {
        struct bounce_hdr *h = c->bounce_live;
        c->bounce_live = h->next;
        free(h);
    }
}

static ucs_status_t reply_cb(void *arg, const void *header, size_t header_length,
                             void *data, size_t length, const ucp_am_recv_param_t *param);

/* fork is safe in every order (docs/DESIGN.md, "Client lifecycle"): a fork
 * must never copy UCX's process-wide state (its async handler table and the
 * rwlock over it, memory hooks) while one of our threads is changing it -
 * the child would wait for good on a lock that nobody in it holds. So the
 * prepare handler waits until no thread is inside UCX for us: it takes
 * every client's lock (all progress, endpoint and worker changes of a
 * client happen under it) and then g_setup for writing, which creation and
 * destruction - the UCX calls made outside a registered client's lock -
 * hold for reading. Lock order: g_clients_mu, a client's mu, g_setup. The
 * child, alone in its process, initialises the locks afresh (an rwlock
 * cannot be unlocked by the child's thread, whose id changed). */
static pthread_rwlock_t g_setup = PTHREAD_RWLOCK_INITIALIZER;
static pthread_mutex_t g_clients_mu = PTHREAD_MUTEX_INITIALIZER;
static struct bfs_rpc_client *g_clients;

static void fork_prepare(void);
static void fork_parent(void);
static void fork_child(void);
/* Registered before any other constructor of the library runs (priority):
 * prepare handlers run in the reverse order of registration, so ours runs
 * last, after the preload library's (escape.c: before_fork may still call
 * into a client), and our child handler first. */
__attribute__((constructor(101))) static void fork_register(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
}

struct conn;
static void say_goodbye(bfs_rpc_client_t *c, struct conn *cn, int again);

static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    long x = strtol(v, &end, 10);
    return (*end || x < 0 || x > 1 << 30) ? dflt : (int)x;
}

static void fork_prepare(void)
{
    pthread_mutex_lock(&g_clients_mu);
    for (bfs_rpc_client_t *c = g_clients; c; c = c->fnext)
        pthread_mutex_lock(&c->mu);
    pthread_rwlock_wrlock(&g_setup);
}

static void fork_parent(void)
{
    pthread_rwlock_unlock(&g_setup);
    for (bfs_rpc_client_t *c = g_clients; c; c = c->fnext)
        pthread_mutex_unlock(&c->mu);
    pthread_mutex_unlock(&g_clients_mu);
}

/* libucs's own initialiser of its process-wide async state (exported, not
 * in UCX's headers; weak, so a UCX without it still links). */
extern void ucs_async_global_init(void) __attribute__((weak));

static void fork_child(void)
{
    /* UCX's async thread, which our prepare handler cannot hold back, may
     * have been dispatching an event at the fork: the child's copy of the
     * rwlock over UCX's handler table is then held by a thread the child
     * does not have, and the child's first worker waits for it for good
     * (ucs_async_set_event_handler; 4 of 1,500 forks right after a call
     * on a loaded machine, tests/fork_safety). Made afresh: a new lock and
     * an empty table (the parent's handlers belong to objects the child
     * abandons). */
    if (ucs_async_global_init)
        ucs_async_global_init();
    pthread_rwlock_init(&g_setup, NULL);
    for (bfs_rpc_client_t *c = g_clients; c; c = c->fnext)
        pthread_mutex_init(&c->mu, NULL);
    pthread_mutex_init(&g_clients_mu, NULL);
}

static void clients_add(bfs_rpc_client_t *c)
{
    pthread_mutex_lock(&g_clients_mu);
    c->fprev = NULL;
    c->fnext = g_clients;
    if (c->fnext)
        c->fnext->fprev = c;
    g_clients = c;
    pthread_mutex_unlock(&g_clients_mu);
}

/* Unlink c (if it was linked): no fork handler touches it any more. */
static void clients_remove(bfs_rpc_client_t *c)
{
    pthread_mutex_lock(&g_clients_mu);
    if (c->fprev)
        c->fprev->fnext = c->fnext;
    else if (g_clients == c)
        g_clients = c->fnext;
    if (c->fnext)
        c->fnext->fprev = c->fprev;
    c->fnext = c->fprev = NULL;
    pthread_mutex_unlock(&g_clients_mu);
}

static void worker_close(bfs_rpc_client_t *c)
{
    if (c->my_addr)
        ucp_worker_release_address(c->worker, c->my_addr);
    if (c->worker)
        ucp_worker_destroy(c->worker);
    c->my_addr = NULL;
    c->worker = NULL;
    c->efd = -1;
}

/* Our worker, its event fd and address, and the reply handler. */
static int worker_open(bfs_rpc_client_t *c)
{
    ucp_worker_params_t wp = {
        .field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE,
        .thread_mode = UCS_THREAD_MODE_SERIALIZED,
    };
    if (ucp_worker_create(c->ctx, &wp, &c->worker) != UCS_OK) {
        c->worker = NULL;
        return -EIO;
    }
    if (ucp_worker_get_efd(c->worker, &c->efd) != UCS_OK ||
        ucp_worker_get_address(c->worker, &c->my_addr, &c->my_addr_len) != UCS_OK)
        return -EIO;
    ucp_am_handler_param_t hp = {
        .field_mask = UCP_AM_HANDLER_PARAM_FIELD_ID | UCP_AM_HANDLER_PARAM_FIELD_CB |
                      UCP_AM_HANDLER_PARAM_FIELD_ARG | UCP_AM_HANDLER_PARAM_FIELD_FLAGS,
        .id = BFS_RPC_REPLY_ID,
        .cb = reply_cb,
        .arg = c,
        .flags = UCP_AM_FLAG_WHOLE_MSG,
    };
    return ucp_worker_set_am_recv_handler(c->worker, &hp) == UCS_OK ? 0 : -EIO;
}

int bfs_rpc_client_create(bfs_rpc_client_t **out, const struct bfs_rpc_client_opts *o)
{
    bfs_rpc_client_t *c = calloc(1, sizeof(*c));
    if (!c)
        return -ENOMEM;
    pthread_mutex_init(&c->mu, NULL);
    c->efd = -1;
    c->secret = o ? o->secret : 0;
    c->timeout_ms = (o && o->timeout_ms > 0) ? o->timeout_ms : env_int("BENCHFS_RPC_TIMEOUT_MS", 30000);
    if (c->timeout_ms <= 0)
        c->timeout_ms = 30000;
    c->peer_errors = (o && o->peer_errors >= 0) ? o->peer_errors : env_int("BENCHFS_RPC_PEER_ERRORS", 0);
    c->spin_us = (o && o->spin_us > 0) ? o->spin_us : env_int("BENCHFS_RPC_SPIN_US", 20);
    c->spin_max_ns = (uint64_t)env_int("BENCHFS_RPC_SPIN_MAX_US", 1000) * 1000ull;
    c->yield_ns = (uint64_t)env_int("BENCHFS_RPC_SPIN_YIELD_US", 5) * 1000ull;
    c->backoff_ns = (uint64_t)env_int("BENCHFS_RPC_SPIN_BACKOFF_US", 2000) * 1000ull;
    c->reconnect_ns = (uint64_t)env_int("BENCHFS_RPC_RECONNECT_MS", 1000) * 1000000ull;
    /* Below the servers' limit (BENCHFS_RPC_SERVER_IDLE_MS, 120 s), so that
     * we never send on an endpoint a server may have released. */
    c->idle_ns = (uint64_t)env_int("BENCHFS_RPC_IDLE_MS", 60000) * 1000000ull;
    /* Who we are: a server on this node watches our process (pidfd) and
     * releases our connection the moment it dies (rpc_wire.h). */
    c->ident.flags = BFS_HELLO_F_PROC | (o && o->server_peer ? BFS_HELLO_F_SERVER : 0);
    c->ident.arg1 = (uint64_t)getpid();
    c->ident.offset = bfs_rpc_proc_start((int)getpid());
    c->ident.arg2 = bfs_rpc_pidns();
    c->ident.rcap = bfs_rpc_boot_hash();
    c->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (c->wakefd < 0)
        goto fail;

    ucp_config_t *cfg;
    pthread_rwlock_rdlock(&g_setup);
    if (ucp_config_read(NULL, NULL, &cfg) != UCS_OK) {
        pthread_rwlock_unlock(&g_setup);
        goto fail;
    }
    bfs_rpc_ucx_defaults(cfg);
    ucp_params_t p = {
        .field_mask = UCP_PARAM_FIELD_FEATURES | UCP_PARAM_FIELD_REQUEST_SIZE,
        .features = UCP_FEATURE_AM | UCP_FEATURE_WAKEUP,
        .request_size = sizeof(struct req_priv),
    };
    ucs_status_t st = ucp_init(&p, cfg, &c->ctx);
    ucp_config_release(cfg);
    int ok = st == UCS_OK && worker_open(c) == 0;
    pthread_rwlock_unlock(&g_setup);
    if (!ok)
        goto fail;
    clients_add(c);
    *out = c;
    return 0;
fail:
    bfs_rpc_client_destroy(c);
    return -EIO;
}

/* Close the endpoint. force: cancel what is in flight on it - possible only
 * with peer error handling (UCX refuses a forced close otherwise, and the
 * endpoint is then closed gracefully). Returns 1 if it was force-closed. */
static int close_ep(bfs_rpc_client_t *c, struct conn *cn, int force)
{
    if (!cn->ep)
        return 0;
    if (!c->peer_errors)
        force = 0;
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
        .flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0,
    };
    ucs_status_ptr_t r = ucp_ep_close_nbx(cn->ep, &p);
    cn->ep = NULL;
    if (r == NULL || UCS_PTR_IS_ERR(r))
        return force;
    /* Bounded: a peer that is gone never confirms a graceful close. */
    uint64_t end = bfs_now_ns() + (force ? 1000000000ull : 200000000ull);
    while (ucp_request_check_status(r) == UCS_INPROGRESS && bfs_now_ns() < end)
        ucp_worker_progress(c->worker);
    if (ucp_request_check_status(r) == UCS_INPROGRESS)
        ucp_request_cancel(c->worker, r);
    ucp_request_free(r);
    return force;
}

/* Give up on UCX's requests of a call: their completions will not touch it. */
static void detach_call(bfs_rpc_call_t *call)
{
    if (call->send_req_) {
        ((struct req_priv *)call->send_req_)->call = NULL;
        call->send_req_ = NULL;
    }
    if (call->recv_req_) {
        /* UCX may still write the bounce buffer: recv_cb frees it. */
        ((struct req_priv *)call->recv_req_)->call = NULL;
        call->recv_req_ = NULL;
    }
    call->state_ &= ~(ST_SENDING | ST_RECVING);
}

void bfs_rpc_client_destroy(bfs_rpc_client_t *c)
{
    if (!c)
        return;
    clients_remove(c);
    pthread_rwlock_rdlock(&g_setup);
    /* Outstanding calls are abandoned: closing the endpoints and the worker
     * completes their requests, which must not touch them any more. */
    for (uint32_t s = 0; s < c->nslots; s++)
        if (c->slots[s])
            detach_call(c->slots[s]);
    for (int i = 0; i < c->nconns; i++) {
        if (c->worker) {
            say_goodbye(c, c->conns[i], 0);
            close_ep(c, c->conns[i], c->conns[i]->failed);
        }
        free(c->conns[i]->addr);
        free(c->conns[i]);
    }
    free(c->conns);
    if (c->my_addr)
        ucp_worker_release_address(c->worker, c->my_addr);
    if (c->worker)
        ucp_worker_destroy(c->worker);
    if (c->ctx)
        ucp_cleanup(c->ctx);
    pthread_rwlock_unlock(&g_setup);
    if (c->wakefd >= 0)
        close(c->wakefd);
    free(c->slots);
    free(c->gens);
    free(c->free_slots);
    bounce_free_all(c);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

/* How long an exiting process waits for its endpoints to close. */
#define FAREWELL_NS 300000000ull

uint64_t bfs_rpc_client_calls(bfs_rpc_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t n = c->started;
    pthread_mutex_unlock(&c->mu);
    return n;
}

void bfs_rpc_client_farewell(bfs_rpc_client_t *c)
{
    if (!c || c->ident.arg1 != (uint64_t)getpid())
        return;
    /* A thread may be inside a call at exit: wait for the lock a little,
     * never for good. */
    struct timespec ts = bfs_timespec_in(CLOCK_REALTIME, 100000000ull);
    if (pthread_mutex_timedlock(&c->mu, &ts) != 0)
        return;
    /* Only with nothing in flight, CLOSEs nobody waits for included (their
     * replies are taken in for a bounded time): a call whose endpoint went
     * would wait for its deadline, its reply dropped by the server. */
    uint64_t end = bfs_now_ns() + FAREWELL_NS;
    while (c->worker && !c->waiters && c->nfree != c->nslots && bfs_now_ns() < end)
        ucp_worker_progress(c->worker);
    if (!c->worker || c->waiters || c->nfree != c->nslots) {
        pthread_mutex_unlock(&c->mu);
        return;
    }
    /* Every endpoint closes at once (a close flushes the GOODBYE before it),
     * then one bounded wait for them all. */
    ucs_status_ptr_t *reqs = calloc((size_t)c->nconns, sizeof(*reqs));
    int n = 0;
    for (int i = 0; i < c->nconns; i++) {
        struct conn *cn = c->conns[i];
        if (!cn->ep)
            continue;
        say_goodbye(c, cn, 0);
        ucp_request_param_t p = {.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS,
                                 .flags = cn->failed && c->peer_errors ? UCP_EP_CLOSE_FLAG_FORCE : 0};
        ucs_status_ptr_t r = ucp_ep_close_nbx(cn->ep, &p);
        cn->ep = NULL;
        cn->failed = 0;
        if (UCS_PTR_IS_PTR(r)) {
            if (reqs)
                reqs[n++] = r;
            else
                ucp_request_free(r);
        }
    }
    end = bfs_now_ns() + FAREWELL_NS;
    for (int k = 0; k < n; k++) {
        while (ucp_request_check_status(reqs[k]) == UCS_INPROGRESS && bfs_now_ns() < end)
            ucp_worker_progress(c->worker);
        if (ucp_request_check_status(reqs[k]) == UCS_INPROGRESS)
            ucp_request_cancel(c->worker, reqs[k]);
        ucp_request_free(reqs[k]);
    }
    free(reqs);
    /* UCX's own destructors run after the library's: an endpoint made now
     * would register with UCX state being torn down. A later call fails. */
    c->farewell = 1;
    pthread_mutex_unlock(&c->mu);
}

void bfs_rpc_client_abandon(bfs_rpc_client_t *c)
{
    /* The UCX objects belong to the parent process; touching them here could
     * disturb its connections. Leak them on purpose. */
    if (!c)
        return;
    clients_remove(c);
    for (int i = 0; i < c->nconns; i++) {
        free(c->conns[i]->addr);
        free(c->conns[i]);
    }
    free(c->conns);
    if (c->wakefd >= 0)
        close(c->wakefd);
    free(c->slots);
    free(c->gens);
    free(c->free_slots);
    bounce_free_all(c); /* plain memory: no UCX request of ours runs here */
    free(c);
}

int bfs_rpc_client_add_server(bfs_rpc_client_t *c, const void *addr, size_t len)
{
    struct conn *cn = calloc(1, sizeof(*cn));
    if (!cn || !(cn->addr = malloc(len))) {
        free(cn);
        return -ENOMEM;
    }
    memcpy(cn->addr, addr, len);
    cn->len = len;
    cn->addr_ns = bfs_now_ns();
    cn->c = c;
    pthread_mutex_lock(&c->mu);
    struct conn **n = realloc(c->conns, sizeof(*n) * (size_t)(c->nconns + 1));
    if (!n) {
        pthread_mutex_unlock(&c->mu);
        free(cn->addr);
        free(cn);
        return -ENOMEM;
    }
    c->conns = n;
    int idx = c->nconns++;
    c->conns[idx] = cn;
    pthread_mutex_unlock(&c->mu);
    return idx;
}

int bfs_rpc_client_nservers(const bfs_rpc_client_t *c) { return c->nconns; }

/* Point cn at a new address (taken over); its next call connects anew. */
static void conn_readdress(bfs_rpc_client_t *c, struct conn *cn, void *addr, size_t len)
{
    close_ep(c, cn, 1);
    free(cn->addr);
    cn->addr = addr;
    cn->len = len;
    cn->addr_ns = bfs_now_ns();
    cn->failed = 0;
    cn->retry_ns = 0;
}

/* A server destroys a worker it rotated out of at its next sweep, a second
 * later at the earliest, once no connection is left on it (rpc_server.c,
 * rotate, drain_old). An address learned longer ago than this may name a
 * destroyed worker: a new endpoint to it fails at once with shared memory
 * (the segment is gone: ECONNREFUSED from a live server) or after the
 * handshake with tcp. A connection keeps the worker, so only a new endpoint
 * needs the newest address. */
#define ADDR_FRESH_NS 500000000ull

/* Ask where server i is now (c->where): 1 and a malloc'd address when it
 * is not the one we have, else 0 (ours is current, or nobody knows). */
static int new_address(bfs_rpc_client_t *c, int i, uint64_t now, void **addr, size_t *len)
{
    struct conn *cn = c->conns[i];
    *addr = NULL;
    *len = 0;
    int moved = c->where(c->where_arg, i, cn->addr, cn->len, addr, len);
    if (moved < 1)
        return 0;
    cn->addr_ns = now;
    if (*len == cn->len && memcmp(*addr, cn->addr, *len) == 0) {
        free(*addr);
        return 0;
    }
    return moved;
}

static void refresh_addr(bfs_rpc_client_t *c, struct conn *cn, int i, uint64_t now)
{
    void *addr;
    size_t len;
    if (c->where && now - cn->addr_ns >= ADDR_FRESH_NS && new_address(c, i, now, &addr, &len))
        conn_readdress(c, cn, addr, len);
}

int bfs_rpc_client_set_server(bfs_rpc_client_t *c, int server, const void *addr, size_t len)
{
    void *a = malloc(len);
    if (!a)
        return -ENOMEM;
    memcpy(a, addr, len);
    pthread_mutex_lock(&c->mu);
    if (server < 0 || server >= c->nconns) {
        pthread_mutex_unlock(&c->mu);
        free(a);
        return -EINVAL;
    }
    conn_readdress(c, c->conns[server], a, len);
    pthread_mutex_unlock(&c->mu);
    return 0;
}

/* ---- in-flight table ---- */

static int slot_alloc(bfs_rpc_client_t *c, bfs_rpc_call_t *call)
{
    if (c->nfree == 0) {
        uint32_t n = c->nslots ? c->nslots * 2 : 64;
        bfs_rpc_call_t **s = realloc(c->slots, sizeof(*s) * n);
        if (!s)
            return -ENOMEM;
        c->slots = s;
        uint32_t *g = realloc(c->gens, sizeof(*g) * n);
        if (!g)
            return -ENOMEM;
        c->gens = g;
        uint32_t *f = realloc(c->free_slots, sizeof(*f) * n);
        if (!f)
            return -ENOMEM;
        c->free_slots = f;
        for (uint32_t i = n; i > c->nslots; i--) {
            c->slots[i - 1] = NULL;
            c->gens[i - 1] = 1;
            c->free_slots[c->nfree++] = i - 1;
        }
        c->nslots = n;
    }
    uint32_t slot = c->free_slots[--c->nfree];
    c->slots[slot] = call;
    c->conns[call->server]->busy++;
    call->req_id_ = (uint64_t)c->gens[slot] << 32 | slot;
    return 0;
}

static void slot_release(bfs_rpc_client_t *c, bfs_rpc_call_t *call)
{
    uint32_t slot = (uint32_t)call->req_id_;
    if (!call->req_id_ || slot >= c->nslots || c->slots[slot] != call)
        return;
    c->slots[slot] = NULL;
    c->conns[call->server]->busy--;
    c->gens[slot]++;
    if (c->gens[slot] == 0)
        c->gens[slot] = 1; /* req_id 0 means "none" on the wire */
    c->free_slots[c->nfree++] = slot;
    call->req_id_ = 0;
}

static bfs_rpc_call_t *slot_lookup(bfs_rpc_client_t *c, uint64_t req_id)
{
    uint32_t slot = (uint32_t)req_id;
    if (slot >= c->nslots || c->gens[slot] != (uint32_t)(req_id >> 32))
        return NULL;
    return c->slots[slot];
}

/* Complete the call once its outcome is known and UCX no longer touches its
 * buffers. */
static void maybe_complete(bfs_rpc_client_t *c, bfs_rpc_call_t *call)
{
    if ((call->state_ & (ST_SENDING | ST_RECVING | ST_DONE)) || !(call->state_ & ST_REPLIED))
        return;
    slot_release(c, call);
    call->state_ |= ST_DONE;
    if (c->waiters) {
        uint64_t one = 1;
        ssize_t w = write(c->wakefd, &one, sizeof(one));
        (void)w;
    }
}

static void fail_call(bfs_rpc_client_t *c, bfs_rpc_call_t *call, int err)
{
    if (!(call->state_ & ST_REPLIED)) {
        call->status = err;
        call->state_ |= ST_REPLIED;
    }
    slot_release(c, call); /* a late reply must not find it */
    maybe_complete(c, call);
}

/* ---- UCX callbacks ---- */

static void ep_err_cb(void *arg, ucp_ep_h ep, ucs_status_t status)
{
    struct conn *cn = arg;
    (void)ep;
    (void)status;
    cn->failed = 1;
}

static void send_cb(void *request, ucs_status_t status, void *user_data)
{
    bfs_rpc_client_t *c = user_data;
    bfs_rpc_call_t *call = ((struct req_priv *)request)->call;
    ucp_request_free(request);
    if (!call)
        return; /* detached */
    call->send_req_ = NULL;
    call->state_ &= ~ST_SENDING;
    if (status != UCS_OK)
        fail_call(c, call, status == UCS_ERR_CANCELED ? -ECONNRESET : -EIO);
    else
        maybe_complete(c, call);
}

static size_t iov_total(const struct iovec *iov, int n);

/* Copy a reply's data to the caller's buffers. */
static void copy_out(bfs_rpc_call_t *call, const char *src, size_t left)
{
    for (int i = 0; left > 0 && i < call->resp_iovcnt; i++) {
        size_t n = call->resp_iov[i].iov_len < left ? call->resp_iov[i].iov_len : left;
        memcpy(call->resp_iov[i].iov_base, src, n);
        src += n;
        left -= n;
    }
}

static void recv_cb(void *request, ucs_status_t status, size_t length, void *user_data)
{
    bfs_rpc_client_t *c = user_data;
    struct req_priv *rp = request;
    bfs_rpc_call_t *call = rp->call;
    void *bounce = rp->bounce;
    size_t cap = rp->cap;
    ucp_request_free(request);
    if (!call) {
        bounce_put(c, bounce, cap); /* detached: the late data goes nowhere */
        return;
    }
    call->recv_req_ = NULL;
    call->state_ &= ~ST_RECVING;
    if (status != UCS_OK) {
        /* The reply header said success, but its data did not arrive. */
        bounce_put(c, bounce, cap);
        call->status = status == UCS_ERR_CANCELED ? -ECONNRESET : -EIO;
        fail_call(c, call, call->status);
        return;
    }
    copy_out(call, bounce, length);
    bounce_put(c, bounce, cap);
    call->resp_len = length;
    maybe_complete(c, call);
}

static size_t iov_total(const struct iovec *iov, int n)
{
    size_t t = 0;
    for (int i = 0; i < n; i++)
        t += iov[i].iov_len;
    return t;
}

static ucs_status_t reply_cb(void *arg, const void *header, size_t header_length,
                             void *data, size_t length, const ucp_am_recv_param_t *param)
{
    bfs_rpc_client_t *c = arg;
    struct bfs_rpc_hdr h;
    int rc = bfs_rpc_hdr_decode(header, header_length, length, BFS_RPC_KIND_REPLY, &h);
    bfs_rpc_call_t *call = h.req_id ? slot_lookup(c, h.req_id) : NULL;
    if (!call || (call->state_ & ST_REPLIED))
        return UCS_OK; /* stale (timed out) or duplicate: drop */
    call->reply = h;
    if (rc < 0 || length > iov_total(call->resp_iov, call->resp_iovcnt)) {
        fail_call(c, call, -EPROTO);
        return UCS_OK;
    }
    if (h.flags & BFS_RPC_REPLY_F_MOVED) {
        /* Follow once idle (get_ep); the flag is ours, not the RPC's. */
        c->conns[call->server]->moved = 1;
        call->reply.flags &= ~BFS_RPC_REPLY_F_MOVED;
    }
    call->status = h.status;
    call->state_ |= ST_REPLIED;
    if (length == 0) {
        maybe_complete(c, call);
        return UCS_OK;
    }
    if (!(param->recv_attr & UCP_AM_RECV_ATTR_FLAG_RNDV)) {
        copy_out(call, data, length);
        call->resp_len = length;
        maybe_complete(c, call);
        return UCS_OK;
    }
    /* Rendezvous: UCX fetches the data into a bounce buffer of ours (see
     * struct bounce), never into the caller's memory. */
    size_t cap;
    void *bounce = bounce_get(c, length, &cap);
    if (!bounce) {
        call->state_ &= ~ST_REPLIED;
        fail_call(c, call, -ENOMEM);
        return UCS_OK;
    }
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                        UCP_OP_ATTR_FIELD_DATATYPE,
        .cb.recv_am = recv_cb,
        .user_data = c,
        .datatype = ucp_dt_make_contig(1),
    };
    call->state_ |= ST_RECVING;
    ucs_status_ptr_t sp = ucp_am_recv_data_nbx(c->worker, data, bounce, length, &p);
    if (sp == NULL) {
        call->state_ &= ~ST_RECVING;
        copy_out(call, bounce, length);
        bounce_put(c, bounce, cap);
        call->resp_len = length;
        maybe_complete(c, call);
        return UCS_INPROGRESS;
    }
    if (UCS_PTR_IS_ERR(sp)) {
        bounce_put(c, bounce, cap);
        call->state_ &= ~(ST_RECVING | ST_REPLIED);
        fail_call(c, call, -EIO);
        return UCS_OK;
    }
    ((struct req_priv *)sp)->call = call;
    ((struct req_priv *)sp)->bounce = bounce;
    ((struct req_priv *)sp)->cap = cap;
    call->recv_req_ = sp;
    /* The request handle is not kept: cancelling goes through the ep. */
    return UCS_INPROGRESS;
}

/* ---- calls ---- */

/* Our last message on the endpoint (rpc_wire.h): the server releases what it
 * holds for us. The endpoint is closed gracefully after it, which lets the
 * GOODBYE leave first. */
static void say_goodbye(bfs_rpc_client_t *c, struct conn *cn, int again)
{
    if (!cn->ep || cn->failed)
        return;
    bfs_rpc_hdr_init(&cn->bye, BFS_RPC_KIND_REQ);
    cn->bye.secret = c->secret;
    cn->bye.flags = again ? BFS_GOODBYE_F_AGAIN : 0;
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FIELD_DATATYPE,
        .flags = UCP_AM_SEND_FLAG_REPLY,
        .datatype = ucp_dt_make_contig(1),
    };
    ucs_status_ptr_t sp = ucp_am_send_nbx(cn->ep, BFS_RPC_GOODBYE_ID, &cn->bye, sizeof(cn->bye),
                                          NULL, 0, &p);
    if (UCS_PTR_IS_PTR(sp))
        ucp_request_free(sp); /* completes on its own; cn->bye outlives the ep */
}

/* Ask where a slow server is after this long, and again this often. */
#define WHERE_AFTER_NS 1000000000ull

/* The server rotated to a new worker (rpc_server.c, rotate): with no call in
 * flight to it, move to where it is now. */
static void follow_rotation(bfs_rpc_client_t *c, int i, uint64_t now)
{
    struct conn *cn = c->conns[i];
    cn->moved = 0;
    if (!c->where || now < cn->where_ns)
        return;
    cn->where_ns = now + WHERE_AFTER_NS;
    void *addr;
    size_t len;
    if (!new_address(c, i, now, &addr, &len))
        return;
    say_goodbye(c, cn, 1);
    conn_readdress(c, cn, addr, len);
    c->closed_eps++;
}

/* UCX keeps a closed endpoint that its peer had connected to until the
 * worker is destroyed (see rotate in rpc_server.c), and with it the peer's
 * shared-memory segments, attached: a long-lived client that followed a
 * rotation or closed idle endpoints would pile them up (and keep the old
 * server workers' segments alive). So once endpoints were closed that way
 * and nothing at all is in flight or waited for, the client takes a new
 * worker; every endpoint is made again (with a HELLO) on its next use. */
#define RENEW_AFTER 1

static void renew_worker(bfs_rpc_client_t *c)
{
    for (int k = 0; k < c->nconns; k++) {
        say_goodbye(c, c->conns[k], 1);
        close_ep(c, c->conns[k], 0);
    }
    worker_close(c);
    c->closed_eps = 0;
    if (worker_open(c) < 0)
        worker_close(c); /* calls fail with ECONNREFUSED until it can be made */
}

static ucp_ep_h get_ep(bfs_rpc_client_t *c, int i)
{
    struct conn *cn = c->conns[i];
    uint64_t now = bfs_now_ns();
    if (c->farewell)
        return NULL;
    if (c->closed_eps >= RENEW_AFTER && c->nfree == c->nslots && !c->waiters)
        renew_worker(c);
    if (!c->worker && worker_open(c) < 0) {
        worker_close(c);
        return NULL;
    }
    /* Calls nobody waits for (CLOSE, client/close_refs.c) keep the endpoint
     * busy until their reply is taken in: take in what has arrived before
     * judging it busy, or it would never follow a rotation or close as
     * idle, and the server releases it after its own idle limit. */
    if (cn->ep && cn->busy && (cn->moved || (c->idle_ns && now - cn->last_ns > c->idle_ns)))
        while (c->worker && ucp_worker_progress(c->worker))
            ;
    if (cn->ep && cn->moved && !cn->busy)
        follow_rotation(c, i, now);
    if (cn->ep && !cn->failed && c->idle_ns && !cn->busy && now - cn->last_ns > c->idle_ns) {
        /* Idle too long: the server may release it any time after its own
         * (longer) limit. Say goodbye and make a new one. */
        say_goodbye(c, cn, 1);
        close_ep(c, cn, 0);
        c->closed_eps++;
    }
    if (cn->ep && !cn->failed) {
        cn->last_ns = now;
        return cn->ep;
    }
    if (cn->ep)
        close_ep(c, cn, 1);
    cn->failed = 0;
    /* A server that could not be reached a moment ago is not tried again
     * at once: each attempt costs UCX's own error lines on stderr (two per
     * attempt for a dead shared-memory peer), and a client hammering a dead
     * server would flood the application's output. */
    if (now < cn->retry_ns)
        return NULL;
    refresh_addr(c, cn, i, now);
    ucp_ep_params_t ep = {
        .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE,
        .address = cn->addr,
        .err_mode = c->peer_errors ? UCP_ERR_HANDLING_MODE_PEER : UCP_ERR_HANDLING_MODE_NONE,
    };
    if (c->peer_errors) {
        ep.field_mask |= UCP_EP_PARAM_FIELD_ERR_HANDLER;
        ep.err_handler.cb = ep_err_cb;
        ep.err_handler.arg = cn;
    }
    if (ucp_ep_create(c->worker, &ep, &cn->ep) != UCS_OK) {
        cn->ep = NULL;
        cn->retry_ns = now + c->reconnect_ns;
        return NULL;
    }
    /* HELLO first (see rpc_wire.h): our address, so that the server can
     * reply later on an endpoint of its own. Requests follow on the same
     * endpoint, behind it. */
    bfs_rpc_hdr_init(&cn->hello, BFS_RPC_KIND_REQ);
    cn->hello.len = c->my_addr_len;
    cn->hello.arg0 = c->peer_errors ? 1 : 0;
    cn->hello.secret = c->secret;
    cn->hello.flags = c->ident.flags;
    cn->hello.arg1 = c->ident.arg1;
    cn->hello.offset = c->ident.offset;
    cn->hello.arg2 = c->ident.arg2;
    cn->hello.rcap = c->ident.rcap;
    cn->last_ns = now;
    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FIELD_DATATYPE,
        .flags = UCP_AM_SEND_FLAG_REPLY,
        .datatype = ucp_dt_make_contig(1),
    };
    ucs_status_ptr_t sp = ucp_am_send_nbx(cn->ep, BFS_RPC_HELLO_ID, &cn->hello,
                                          sizeof(cn->hello), c->my_addr, c->my_addr_len, &p);
    if (UCS_PTR_IS_PTR(sp))
        ucp_request_free(sp); /* completes on its own; cn->hello outlives the ep */
    return cn->ep;
}

static int start_locked(bfs_rpc_client_t *c, bfs_rpc_call_t *call)
{
    c->started++;
    call->state_ = ST_STARTED;
    call->status = 0;
    call->resp_len = 0;
    call->owner_ = c;
    call->send_req_ = NULL;
    call->recv_req_ = NULL;
    call->req_id_ = 0;
    if (call->server < 0 || call->server >= c->nconns || call->rpc_id == BFS_RPC_REPLY_ID ||
        call->rpc_id >= BFS_RPC_HELLO_ID) {
        fail_call(c, call, -EINVAL);
        return call->status;
    }
    struct bfs_rpc_hdr *h = &call->hdr_;
    bfs_rpc_hdr_init(h, BFS_RPC_KIND_REQ);
    h->offset = call->offset;
    h->len = iov_total(call->req_iov, call->req_iovcnt);
    h->flags = call->flags;
    h->arg0 = call->arg0;
    h->arg1 = call->arg1;
    h->arg2 = call->arg2;
    h->rcap = iov_total(call->resp_iov, call->resp_iovcnt);
    h->secret = c->secret;
    int tmo = call->timeout_ms > 0 ? call->timeout_ms : c->timeout_ms;
    call->sent_ns_ = bfs_now_ns();
    call->deadline_ns_ = call->sent_ns_ + (uint64_t)tmo * 1000000ull;

    ucp_ep_h ep = get_ep(c, call->server);
    if (!ep) {
        fail_call(c, call, c->farewell ? -ESHUTDOWN : -ECONNREFUSED);
        return call->status;
    }
    if (slot_alloc(c, call) < 0) {
        fail_call(c, call, -ENOMEM);
        return call->status;
    }
    h->req_id = call->req_id_;

    ucp_request_param_t p = {
        .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA |
                        UCP_OP_ATTR_FIELD_FLAGS | UCP_OP_ATTR_FIELD_DATATYPE,
        .cb.send = send_cb,
        .user_data = c,
        .flags = UCP_AM_SEND_FLAG_REPLY,
        .datatype = ucp_dt_make_contig(1),
    };
    const void *buf = NULL;
    size_t count = 0;
    if (call->req_iovcnt == 1) {
        buf = call->req_iov[0].iov_base;
        count = call->req_iov[0].iov_len;
    } else if (call->req_iovcnt > 1) {
        p.datatype = UCP_DATATYPE_IOV; /* struct iovec == ucp_dt_iov_t */
        buf = call->req_iov;
        count = (size_t)call->req_iovcnt;
    }
    call->state_ |= ST_SENDING;
    call->ep_ = ep;
    ucs_status_ptr_t sp = ucp_am_send_nbx(ep, call->rpc_id, h, sizeof(*h), buf, count, &p);
    if (sp == NULL) {
        call->state_ &= ~ST_SENDING;
    } else if (UCS_PTR_IS_ERR(sp)) {
        call->state_ &= ~ST_SENDING;
        fail_call(c, call, -EIO);
        return call->status;
    } else {
        ((struct req_priv *)sp)->call = call;
        ((struct req_priv *)sp)->bounce = NULL;
        call->send_req_ = sp;
    }
    return 0;
}

int bfs_rpc_start(bfs_rpc_client_t *c, bfs_rpc_call_t *call)
{
    pthread_mutex_lock(&c->mu);
    int rc = start_locked(c, call);
    pthread_mutex_unlock(&c->mu);
    return rc;
}

int bfs_rpc_done(const bfs_rpc_call_t *call) { return (call->state_ & ST_DONE) != 0; }

/* The call's deadline passed. If UCX still uses its buffers, the only way to
 * take them back is to force-close the endpoint, which cancels everything on
 * it; the next call to that server reconnects. Without peer error handling
 * UCX cannot cancel: the endpoint is closed gracefully (bounded), the call is
 * detached from its UCX requests and reported complete rather than hang.
 * (Then a server that is alive but late may still get the request header
 * and payload from the call's memory after the call returned: UCX offers no
 * way to prevent it in that mode.) */
static void timeout_call(bfs_rpc_client_t *c, bfs_rpc_call_t *call)
{
    if (call->state_ & ST_RECVING)
        call->status = -ETIMEDOUT; /* the reply's data is not all there */
    fail_call(c, call, -ETIMEDOUT);
    if (!(call->state_ & (ST_SENDING | ST_RECVING)))
        return;
    struct conn *cn = c->conns[call->server];
    /* Only the endpoint the call went out on: a newer one (the server was
     * reconnected meanwhile) carries healthy calls. */
    if (cn->ep == call->ep_ && close_ep(c, cn, 1)) {
        /* Forced: the cancellations complete at the next progress. */
        uint64_t end = bfs_now_ns() + 1000000000ull;
        while ((call->state_ & (ST_SENDING | ST_RECVING)) && bfs_now_ns() < end)
            ucp_worker_progress(c->worker);
    }
    if (call->state_ & (ST_SENDING | ST_RECVING)) {
        detach_call(call);
        maybe_complete(c, call);
    }
}

void bfs_rpc_client_on_slow(bfs_rpc_client_t *c, bfs_rpc_where_fn fn, void *arg)
{
    pthread_mutex_lock(&c->mu);
    c->where = fn;
    c->where_arg = arg;
    pthread_mutex_unlock(&c->mu);
}

/* Server i moved to addr (taken over): every unfinished call to it is sent
 * again, to the new address, keeping its deadline. Calls whose reply has
 * arrived entirely are left to finish. */
static void follow_move(bfs_rpc_client_t *c, int i, void *addr, size_t len)
{
    struct conn *cn = c->conns[i];
    uint32_t n = 0;
    bfs_rpc_call_t **again = malloc(sizeof(*again) * (c->nslots ? c->nslots : 1));
    if (!again) {
        free(addr);
        return;
    }
    for (uint32_t s = 0; s < c->nslots; s++) {
        bfs_rpc_call_t *call = c->slots[s];
        if (!call || call->server != i || (call->state_ & ST_DONE))
            continue;
        int replied = (call->state_ & ST_REPLIED) && !(call->state_ & ST_RECVING);
        detach_call(call);
        if (replied) {
            maybe_complete(c, call);
            continue;
        }
        slot_release(c, call);
        again[n++] = call;
    }
    conn_readdress(c, cn, addr, len);
    for (uint32_t k = 0; k < n; k++) {
        uint64_t deadline = again[k]->deadline_ns_;
        if (start_locked(c, again[k]) == 0)
            again[k]->deadline_ns_ = deadline;
    }
    free(again);
}

static void ask_where(bfs_rpc_client_t *c, int i, uint64_t now)
{
    struct conn *cn = c->conns[i];
    if (now < cn->where_ns)
        return;
    cn->where_ns = now + WHERE_AFTER_NS;
    void *addr;
    size_t len;
    int moved = new_address(c, i, now, &addr, &len);
    /* Sent again only when the old worker stopped receiving: a rotated
     * one still serves what it got, and a copy sent to the new worker as
     * well would run twice (a second CREATE after the directory was
     * removed, a second UNREF, a second APPEND's range). Then the client
     * waits on and follows once nothing is in flight. */
    if (moved == 2) {
        follow_move(c, i, addr, len);
    } else if (moved == 1) {
        free(addr);
        cn->moved = 1;
    }
}

/* Peers that UCX reported dead: fail what waits on them. */
static void reap_failed(bfs_rpc_client_t *c)
{
    for (int i = 0; i < c->nconns; i++) {
        struct conn *cn = c->conns[i];
        if (!cn->failed || !cn->ep)
            continue;
        for (uint32_t s = 0; s < c->nslots; s++) {
            bfs_rpc_call_t *call = c->slots[s];
            if (call && call->server == i)
                fail_call(c, call, -ECONNRESET);
        }
        close_ep(c, cn, 1);
    }
}

/* How long a wait busy-polls before it sleeps on the event fd.
 *
 * Sleeping is expensive here: a sleeping peer must be woken with a syscall
 * from the sender (UCX signals the worker's event fd for every message that
 * arrives while it is armed) and the wake-up itself costs several
 * microseconds in a VM. So a wait spins at least spin_us, and longer when
 * recent waits were longer: up to twice their moving average, at most
 * spin_max. A wait expected to take longer than spin_max sleeps after
 * spin_us, since then the wake-up cost no longer matters.
 *
 * Spinning only pays when this thread has a core to itself. The spin
 * therefore yields the CPU every yield_ns; when the scheduler switched this
 * thread out for another task (rpc_spin.h), the wait stops spinning and
 * sleeps, and later waits spin no more than spin_us for backoff_ns. */
static uint64_t spin_budget(const bfs_rpc_client_t *c, uint64_t now)
{
    uint64_t spin = (uint64_t)c->spin_us * 1000ull;
    if (now < c->backoff_until || !c->wait_avg_ns || c->wait_avg_ns > c->spin_max_ns)
        return spin;
    uint64_t want = 2 * c->wait_avg_ns;
    if (want > c->spin_max_ns)
        want = c->spin_max_ns;
    return want > spin ? want : spin;
}

int bfs_rpc_wait_all(bfs_rpc_client_t *c, bfs_rpc_call_t *const *calls, int n)
{
    pthread_mutex_lock(&c->mu);
    uint64_t t_enter = bfs_now_ns();
    uint64_t spin_end = t_enter + spin_budget(c, t_enter);
    uint64_t next_yield = c->yield_ns ? t_enter + c->yield_ns : UINT64_MAX;
    long nivcsw = -1; /* per thread: several threads may wait at once */
    uint64_t near_ns = UINT64_MAX;
    uint64_t now = t_enter;
    for (;;) {
        while (c->worker && ucp_worker_progress(c->worker))
            ;
        if (c->peer_errors)
            reap_failed(c);
        /* Completion first, without reading the clock: this is the latency
         * path. The average below uses the previous round's time. */
        int pending = 0;
        for (int i = 0; i < n && !pending; i++)
            pending = !(calls[i]->state_ & ST_DONE);
        if (pending) {
            now = bfs_now_ns();
            uint64_t nearest = UINT64_MAX;
            pending = 0;
            for (int i = 0; i < n; i++) {
                bfs_rpc_call_t *call = calls[i];
                if (call->state_ & ST_DONE)
                    continue;
                if (now >= call->deadline_ns_)
                    timeout_call(c, call);
                else if (c->where && now - call->sent_ns_ > WHERE_AFTER_NS)
                    ask_where(c, call->server, now);
                if (call->state_ & ST_DONE)
                    continue;
                pending++;
                if (call->deadline_ns_ < nearest)
                    nearest = call->deadline_ns_;
            }
            near_ns = nearest;
        }
        if (!pending) {
            uint64_t took = now - t_enter;
            c->wait_avg_ns = c->wait_avg_ns ? (7 * c->wait_avg_ns + took) / 8 : took + 1;
            break;
        }
        uint64_t nearest = near_ns;
        if (now < spin_end) {
            if (now >= next_yield) {
                pthread_mutex_unlock(&c->mu);
                int contended = bfs_spin_yield_contended(&nivcsw);
                pthread_mutex_lock(&c->mu);
                uint64_t after = bfs_now_ns();
                if (contended) {
                    spin_end = 0; /* someone else wanted this core: sleep */
                    c->backoff_until = after + c->backoff_ns;
                }
                next_yield = after + c->yield_ns;
            }
            continue;
        }
        if (c->worker && ucp_worker_arm(c->worker) == UCS_ERR_BUSY)
            continue;
        c->waiters++;
        /* Another thread may progress our replies: then it pokes wakefd.
         * (Read under the lock: other threads change waiters.) */
        int cap = c->waiters > 1 ? 5 : 1000;
        pthread_mutex_unlock(&c->mu);
        uint64_t left_ms = (nearest - now) / 1000000ull + 1;
        int tmo = left_ms < (uint64_t)cap ? (int)left_ms : cap;
        struct pollfd pf[2] = {{.fd = c->efd, .events = POLLIN}, {.fd = c->wakefd, .events = POLLIN}};
        int pr = poll(pf, 2, tmo);
        if (pr > 0 && (pf[1].revents & POLLIN)) {
            uint64_t v;
            ssize_t r = read(c->wakefd, &v, sizeof(v));
            (void)r;
        }
        pthread_mutex_lock(&c->mu);
        c->waiters--;
        now = bfs_now_ns(); /* the wait's length must include the sleep */
    }
    pthread_mutex_unlock(&c->mu);
    for (int i = 0; i < n; i++)
        if (calls[i]->status < 0)
            return calls[i]->status;
    return 0;
}

int bfs_rpc_call(bfs_rpc_client_t *c, bfs_rpc_call_t *call)
{
    int rc = bfs_rpc_start(c, call);
    if (rc < 0)
        return rc;
    bfs_rpc_call_t *one = call;
    bfs_rpc_wait_all(c, &one, 1);
    return call->status;
}
