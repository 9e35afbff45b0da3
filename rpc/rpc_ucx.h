/* UCX settings shared by the RPC client and server (internal). */
#ifndef BFS_RPC_UCX_H
#define BFS_RPC_UCX_H

#include <ucp/api/ucp.h>

/* Our defaults on top of the user's UCX_* environment (which wins): see
 * rpc_client.c. */
void bfs_rpc_ucx_defaults(ucp_config_t *cfg);

#endif
