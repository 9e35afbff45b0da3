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
 * Keys are matched inside the tcp transport's table, where the "TCP_"
 * prefix is stripped ("TCP_CONN_NB" is accepted by ucp_config_modify but
 * applied to nothing). See docs/DESIGN.md, "Transports". */
static inline void bfs_rpc_ucx_defaults(ucp_config_t *cfg)
{
    if (!getenv("UCX_TCP_PUT_ENABLE"))
        (void)ucp_config_modify(cfg, "PUT_ENABLE", "n");
    if (!getenv("UCX_TCP_CONN_NB"))
        (void)ucp_config_modify(cfg, "CONN_NB", "y");
}

#endif
