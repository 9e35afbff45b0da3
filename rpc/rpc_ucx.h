/* UCX settings shared by the RPC client and server (internal). */
#ifndef BFS_RPC_UCX_H
#define BFS_RPC_UCX_H

#include <stdlib.h>
#include <ucp/api/ucp.h>

/* BenchFS's tcp defaults on top of the user's UCX_* environment (an explicit
 * UCX_TCP_* variable wins), for every BenchFS process, client or server:
 *  - no tcp put lanes (PUT_ENABLE=n): with them UCX 1.13 aborted servers
 *    whose clients died, and lost transfers under load together with
 *    non-blocking connects;
 *  - non-blocking connects (CONN_NB=y): UCX's blocking connect() waits for
 *    the kernel's SYN retries (134 s measured) when a host's link is cut,
 *    past any RPC deadline.
 * and the shared-memory receive queue deeper (FIFO_SIZE=256 elements of
 * 8 KiB instead of 64): a large message crosses it as a pipeline of 8 KiB
 * fragments, and with 64 the sender stalls whenever the receiver is not on
 * a core - on a node where servers and ranks outnumber the cores, 2 servers
 * with 2 writers on 2 cores wrote 0.52 GB/s, with 256 1.2 GB/s. A sender
 * indexes the receiver's queue with its own size, so every BenchFS process
 * must use the same (they do, unless UCX_{SYSV,POSIX,MM}_FIFO_SIZE say
 * otherwise for some of them). Cost: 24 KiB more shared memory per worker
 * for the queue, and up to 2 MiB of receive buffers in flight under load.
 * Keys are matched inside each transport's table, where its prefix is
 * stripped: "PUT_ENABLE" for UCX_TCP_PUT_ENABLE, "MM_FIFO_SIZE" for both
 * shared-memory transports (the table they share is "MM_"). Others are
 * accepted by ucp_config_modify and then applied to nothing ("TCP_CONN_NB",
 * "SYSV_FIFO_SIZE": UCX warns "invalid configuration" when a worker starts).
 * See docs/DESIGN.md, "Transports". */
#define BFS_RPC_MM_FIFO_SIZE "256"
static inline void bfs_rpc_ucx_defaults(ucp_config_t *cfg)
{
    if (!getenv("UCX_TCP_PUT_ENABLE"))
        (void)ucp_config_modify(cfg, "PUT_ENABLE", "n");
    if (!getenv("UCX_TCP_CONN_NB"))
        (void)ucp_config_modify(cfg, "CONN_NB", "y");
    if (!getenv("UCX_SYSV_FIFO_SIZE") && !getenv("UCX_POSIX_FIFO_SIZE") &&
        !getenv("UCX_MM_FIFO_SIZE"))
        (void)ucp_config_modify(cfg, "MM_FIFO_SIZE", BFS_RPC_MM_FIFO_SIZE);
}

#endif
