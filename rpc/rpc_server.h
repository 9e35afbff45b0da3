/* The server side of the RPC layer: a UCX worker that receives requests as
 * Active Messages and dispatches them through a handler table.
 *
 * A new RPC needs only bfs_rpc_server_register(). A handler receives the
 * validated header and the whole payload, and either replies at once
 * (bfs_rpc_reply) and returns BFS_RPC_DONE, or keeps the request and returns
 * BFS_RPC_DEFERRED to reply later (after an io_uring completion, say). The
 * payload stays valid until the reply has been sent.
 *
 * Client connections are released when a client says GOODBYE, when its
 * process dies (pidfd, same node) or after $BENCHFS_RPC_SERVER_IDLE_MS
 * without a request; once some were released a server with on_moved set
 * rotates to a new UCX worker and destroys the old one when it has drained
 * (docs/DESIGN.md, "Client lifecycle"). The idle sweep and pidfds need
 * bfs_rpc_server_attach.
 *
 * Everything runs on the thread that drives the event loop the server is
 * attached to; nothing here is thread safe. */
#ifndef BFS_RPC_SERVER_H
#define BFS_RPC_SERVER_H

#include "evloop.h"
#include "rpc_wire.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct bfs_rpc_server bfs_rpc_server_t;
typedef struct bfs_rpc_req bfs_rpc_req_t;

enum { BFS_RPC_DONE = 0, BFS_RPC_DEFERRED = 1 };

struct bfs_rpc_req {
    struct bfs_rpc_hdr hdr;   /* the request header, validated */
    void *data;               /* payload (hdr.len bytes), or NULL when empty */
    struct bfs_rpc_hdr reply; /* reply header: set offset/arg0/arg1/arg2/flags
                                 before bfs_rpc_reply; framing is filled in */
    void *user;               /* free for the handler */
    /* Called once the reply has left (or failed), before the request is
     * recycled: release reply buffers here. */
    void (*on_done)(bfs_rpc_req_t *req);
    bfs_rpc_server_t *server;
};

/* Returns BFS_RPC_DONE (replied) or BFS_RPC_DEFERRED (will reply later). */
typedef int (*bfs_rpc_handler_fn)(bfs_rpc_req_t *req, void *arg);

/* Chooses where a rendezvous payload of len bytes is received. Return NULL to
 * fall back to the server's own buffer. The handler owns the buffer it gave
 * (release it in on_done). */
typedef void *(*bfs_rpc_recv_buf_fn)(const struct bfs_rpc_hdr *hdr, void *arg);

struct bfs_rpc_server_opts {
    uint64_t secret;   /* requests must carry it; 0 accepts any */
    int peer_errors;   /* 1: UCP_ERR_HANDLING_MODE_PEER on reply endpoints */
    int exclude_cma;   /* 1: leave out cma (UCX_TLS=^cma, unless UCX_TLS is
                          set): UCX 1.13 aborts a process whose peer dies in
                          the middle of a cma transfer. The worker address
                          then offers no cma, so no lane to this server uses
                          it, in either direction. (Every BenchFS process
                          also leaves out tcp put lanes: rpc_ucx.h.) See
                          docs/DESIGN.md, "Transports". */
};

int bfs_rpc_server_create(bfs_rpc_server_t **out, const struct bfs_rpc_server_opts *opts);
/* Replies still in flight are given a bounded time to leave. */
void bfs_rpc_server_destroy(bfs_rpc_server_t *srv);

/* Set the job secret after creation (servers learn it during bootstrap,
 * which needs the worker address first). 0 accepts any. */
void bfs_rpc_server_set_secret(bfs_rpc_server_t *srv, uint64_t secret);

/* The worker address clients connect to (valid until destroy; a new one
 * after a move). */
void bfs_rpc_server_address(bfs_rpc_server_t *srv, const void **addr, size_t *len);

/* The server moved to a new UCX worker; addr is where clients find it now,
 * old the address it leaves. stuck: the old worker stopped receiving
 * (check_stuck in rpc_server.c: clients must send again what waits there);
 * else a rotation (rotate: the old worker still serves what it got). */
typedef void (*bfs_rpc_moved_fn)(const void *addr, size_t len, const void *old, size_t old_len,
                                 int stuck, void *arg);
void bfs_rpc_server_on_moved(bfs_rpc_server_t *srv, bfs_rpc_moved_fn fn, void *arg);

/* Watch the worker's event fd from loop; the loop then blocks when idle.
 * After activity the server keeps polling for $BENCHFS_RPC_SERVER_SPIN_US
 * microseconds (default 100; 0: block at once) before it blocks, unless
 * another task needs its core. */
int bfs_rpc_server_attach(bfs_rpc_server_t *srv, bfs_evloop_t *loop);

int bfs_rpc_server_register(bfs_rpc_server_t *srv, unsigned rpc_id,
                            bfs_rpc_handler_fn fn, void *arg);
int bfs_rpc_server_set_recv_buf(bfs_rpc_server_t *srv, unsigned rpc_id,
                                bfs_rpc_recv_buf_fn fn);
/* How many bytes of a request's payload precede data that the handler will
 * hand to O_DIRECT I/O (a write's path, say): a rendezvous payload received
 * into the server's own buffer is then placed so that this data starts on a
 * 4 KiB boundary. A value >= the payload length is ignored. */
typedef size_t (*bfs_rpc_prefix_fn)(const struct bfs_rpc_hdr *hdr);
int bfs_rpc_server_set_data_prefix(bfs_rpc_server_t *srv, unsigned rpc_id, bfs_rpc_prefix_fn fn);

/* Reply with status and data (iov may be NULL). The data must stay valid
 * until req->on_done runs. The request is recycled after on_done: do not
 * touch it after this call except from on_done. Returns 0 or -errno (the
 * request is recycled either way). */
int bfs_rpc_reply(bfs_rpc_req_t *req, int32_t status, const struct iovec *iov, int iovcnt);

/* The client process behind a request, from its connection's HELLO
 * (rpc_wire.h, BFS_HELLO_F_PROC): key is a hash of pid, start time, pid
 * namespace and boot id, the same for every connection the process makes
 * (endpoints closed as idle and made again, new workers, exec); local: the
 * process runs on this node in this pid namespace (a pidfd can watch it).
 * -ENOENT for a request without a known connection. */
struct bfs_rpc_peer {
    uint64_t key;
    uint64_t pid, start, pidns, boot;
    int local;
    int again;  /* released by a GOODBYE that says the process comes back,
                 * or as idle: not known to be gone */
};
int bfs_rpc_req_peer(const bfs_rpc_req_t *req, struct bfs_rpc_peer *out);
/* Called when a connection is released (GOODBYE, process death, idle), with
 * the process its HELLO named. */
typedef void (*bfs_rpc_released_fn)(const struct bfs_rpc_peer *peer, void *arg);
void bfs_rpc_server_on_released(bfs_rpc_server_t *srv, bfs_rpc_released_fn fn, void *arg);
/* Whether a live connection names the process of peer key (its HELLO). */
int bfs_rpc_server_has_peer(const bfs_rpc_server_t *srv, uint64_t key);

/* The RPC id the request came for. */
unsigned bfs_rpc_req_id(const bfs_rpc_req_t *req);

/* Progress the worker until it has nothing more to do right now. */
int bfs_rpc_server_progress(bfs_rpc_server_t *srv);

/* Requests accepted but not yet finished (tests, shutdown). */
unsigned bfs_rpc_server_inflight(const bfs_rpc_server_t *srv);
/* Shutdown, first step: from now on every new request is answered
 * -ESHUTDOWN without reaching its handler; requests already received
 * (rendezvous data still arriving included) run and are answered as usual.
 * Keep progressing until bfs_rpc_server_inflight() is 0. Destroy refuses
 * the rest. */
void bfs_rpc_server_quiesce(bfs_rpc_server_t *srv);
/* Client connections known (from their HELLOs) and not yet released, the
 * other servers' own (BFS_HELLO_F_SERVER) not counted. */
unsigned bfs_rpc_server_conns(const bfs_rpc_server_t *srv);

struct bfs_rpc_server_stats {
    uint64_t requests, replies, rejected, bytes_in, bytes_out;
    uint64_t moves; /* times the server moved to a new worker */
};
void bfs_rpc_server_stats(const bfs_rpc_server_t *srv, struct bfs_rpc_server_stats *st);

/* Client connections: open now, opened so far, and released so far by why
 * (see conn_release in rpc_server.c). */
struct bfs_rpc_server_conn_stats {
    uint64_t open, opened, by_goodbye, by_pid, by_idle, by_reuse;
    uint64_t rotations, workers_destroyed; /* see rotate in rpc_server.c */
};
void bfs_rpc_server_conn_stats(const bfs_rpc_server_t *srv, struct bfs_rpc_server_conn_stats *st);

#endif
