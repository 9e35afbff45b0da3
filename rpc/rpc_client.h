/* The client side of the RPC layer.
 *
 * A client owns one UCX worker and knows a set of servers by their worker
 * addresses. It opens one endpoint per server, lazily on the first call, and
 * reuses it for every later call (connection pooling) - until it has been
 * idle for $BENCHFS_RPC_IDLE_MS (60 s) or the server rotated its worker
 * (then, with no call in flight to it, the endpoint is closed with a
 * GOODBYE and made again). After closing endpoints the client takes a new
 * worker once nothing is in flight (UCX keeps closed endpoints, and their
 * peers' shared memory, until the worker goes). bfs_rpc_client_destroy says
 * GOODBYE to every server. See docs/DESIGN.md, "Client lifecycle".
 *
 * A call is described by a struct bfs_rpc_call owned by the caller (no
 * allocation per call). Request payload is sent straight from the caller's
 * iovec (zero copy), and reply data is received straight into the caller's
 * response iovec (rendezvous receive into it; eager replies are copied).
 * Both iovec arrays and the buffers they point to must stay valid until the
 * call is complete.
 *
 * bfs_rpc_start() puts a call in flight; many calls to many servers can be in
 * flight at once; bfs_rpc_wait_all() waits for a set of them. Every call has
 * a deadline: a dead or unreachable server yields -ETIMEDOUT (or
 * -ECONNRESET / -EIO when UCX detects the failure first, -ECONNREFUSED when
 * no connection can be made), never a hang. After a failed connection
 * attempt, calls to that server fail with -ECONNREFUSED at once for
 * $BENCHFS_RPC_RECONNECT_MS (default 1000) before the next attempt. Deadlines are enforced while
 * the call is waited for (bfs_rpc_wait_all, bfs_rpc_call): bfs_rpc_done()
 * only reports. A waiting thread spins briefly, then sleeps on the worker's
 * event fd: at least spin_us, up to twice as long as recent waits took when
 * that is at most $BENCHFS_RPC_SPIN_MAX_US (default 1000; 0: always
 * spin_us), and it stops spinning when another task needs its core.
 *
 * Thread safe: calls may be started and waited for from several threads. */
#ifndef BFS_RPC_CLIENT_H
#define BFS_RPC_CLIENT_H

#include "rpc_wire.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct bfs_rpc_client bfs_rpc_client_t;
typedef struct bfs_rpc_call bfs_rpc_call_t;

struct bfs_rpc_client_opts {
    uint64_t secret;  /* sent in every request */
    int timeout_ms;   /* per-call deadline; 0: $BENCHFS_RPC_TIMEOUT_MS or 30000 */
    int peer_errors;  /* 1: UCP_ERR_HANDLING_MODE_PEER (tcp only, fast failure
                         detection); 0: none (shared memory usable); -1: from
                         $BENCHFS_RPC_PEER_ERRORS (default 0). With 0, UCX
                         1.13 aborts a process whose peer dies in the middle
                         of a rendezvous transfer over cma (the server when a
                         client dies sending a large request, the client
                         when the server dies sending a large reply);
                         UCX_TLS=^cma avoids it. */
    int spin_us;      /* busy-poll at least this long before sleeping;
                         0: $BENCHFS_RPC_SPIN_US or 20 */
    int server_peer;  /* 1: a server's own client (BFS_HELLO_F_SERVER) */
};

struct bfs_rpc_call {
    /* in */
    int server;                 /* index from bfs_rpc_client_add_server */
    unsigned rpc_id;
    uint64_t offset;
    uint32_t flags;
    uint64_t arg0, arg1;
    uint32_t arg2;
    const struct iovec *req_iov; /* request payload */
    int req_iovcnt;
    const struct iovec *resp_iov; /* where reply data lands */
    int resp_iovcnt;
    int timeout_ms;             /* 0: the client's default */
    /* out, valid once complete */
    int status;                 /* reply status (>= 0) or a negative errno */
    struct bfs_rpc_hdr reply;   /* the reply header */
    size_t resp_len;            /* reply data bytes received */
    /* private */
    struct bfs_rpc_hdr hdr_;
    uint64_t deadline_ns_;
    uint64_t sent_ns_;
    uint64_t req_id_;
    void *owner_;     /* the client */
    void *send_req_;  /* UCX requests in flight for the call */
    void *ep_;        /* the endpoint it was sent on */
    void *recv_req_;
    unsigned state_;
};

int bfs_rpc_client_create(bfs_rpc_client_t **out, const struct bfs_rpc_client_opts *opts);
/* Outstanding calls are abandoned (their endpoints closed first). */
void bfs_rpc_client_destroy(bfs_rpc_client_t *c);

/* The process is ending without a destroy (the preload's destructor): say
 * GOODBYE to every server and close the endpoints, so that each server
 * drops this process's connection and open references now instead of after
 * its idle limit (a process on another node cannot be watched). Frees
 * nothing (another thread may still hold the client); a later call fails
 * with -ESHUTDOWN, since UCX's own destructors come next and no endpoint
 * may be made then. Bounded (0.1 s for the lock, 0.3 s for replies still
 * due, 0.3 s for the closes); does nothing while any call is in flight
 * after that, or in a process that did not create the client (a forked
 * child). */
void bfs_rpc_client_farewell(bfs_rpc_client_t *c);
/* Calls started so far (each one request to one server). */
uint64_t bfs_rpc_client_calls(bfs_rpc_client_t *c);

/* Register a server by its worker address; returns its index (>= 0) or a
 * negative errno. No connection is made until the first call. */
int bfs_rpc_client_add_server(bfs_rpc_client_t *c, const void *addr, size_t len);
int bfs_rpc_client_nservers(const bfs_rpc_client_t *c);

/* Start a call. Returns 0; on an immediate failure the call is complete with
 * a negative status and that status is returned. */
int bfs_rpc_start(bfs_rpc_client_t *c, bfs_rpc_call_t *call);
/* Wait until every listed call is complete; returns 0, or the first
 * negative status among them. */
int bfs_rpc_wait_all(bfs_rpc_client_t *c, bfs_rpc_call_t *const *calls, int n);
/* Start and wait; returns call->status. */
int bfs_rpc_call(bfs_rpc_client_t *c, bfs_rpc_call_t *call);
int bfs_rpc_done(const bfs_rpc_call_t *call);

/* Where a server is now, asked while a call to it has waited more than a
 * second (at most once a second per server), and before a new endpoint to
 * an address learned more than half a second ago (the server may have
 * rotated workers meanwhile and destroyed the old one): returns a new
 * malloc'd address and 2 if the worker at sent_to (where the waiting calls
 * went) stopped receiving (rpc_server.c, check_stuck: they are sent again to
 * the new one, since the old worker never got them), 1 if the server has
 * another address but that worker still serves (a rotation: nothing is sent
 * again, which would run it twice; the client follows once idle), 0
 * otherwise. Called with the client's lock held. */
typedef int (*bfs_rpc_where_fn)(void *arg, int server, const void *sent_to, size_t sent_len,
                                void **addr, size_t *len);
void bfs_rpc_client_on_slow(bfs_rpc_client_t *c, bfs_rpc_where_fn fn, void *arg);

/* Forget the endpoint to a server (after it restarted at a new address, say). */
int bfs_rpc_client_set_server(bfs_rpc_client_t *c, int server, const void *addr, size_t len);

/* Close endpoints and drop UCX state without talking to anyone: for a forked
 * child, whose copy of the parent's UCX state must not be used. The child
 * then creates its own client. */
void bfs_rpc_client_abandon(bfs_rpc_client_t *c);

#endif
