/* UCX settings shared by the RPC client and server (internal). */
#ifndef BFS_RPC_UCX_H
#define BFS_RPC_UCX_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucp/api/ucp.h>

/* BenchFS's UCX defaults on top of the user's UCX_* environment (an explicit
 * variable wins), for every BenchFS process, client or server:
 *  - no tcp put lanes (PUT_ENABLE=n): with them UCX 1.13 aborted servers
 *    whose clients died, and lost transfers under load together with
 *    non-blocking connects;
 *  - non-blocking connects (CONN_NB=y): UCX's blocking connect() waits for
 *    the kernel's SYN retries (134 s measured) when a host's link is cut,
 *    past any RPC deadline;
 *  - shared-memory fragments of 32 KiB instead of 8 KiB (MM_SEG_SIZE): a
 *    large message crosses the receiver's queue (64 elements) as a pipeline
 *    of fragments, and with 8 KiB ones a 1 MiB write does not fit in it, so
 *    the sender stalls whenever the receiver is not on a core. On a node
 *    where servers and ranks outnumber the cores (2 servers, 2 writers, 2
 *    cores) that was 0.52 GB/s, with 32 KiB 1.0-1.2 GB/s. A deeper queue
 *    (FIFO_SIZE 256) did as well for writes but cost small messages a fifth
 *    (more buffers cycled through the caches). The receive pool grows 128
 *    buffers at a time (MM_RX_BUFS_GROW), 4 MiB as before, not 16.
 *    A sender copies into the receiver's buffers with its own fragment size,
 *    so every BenchFS process must use the same (they do, unless
 *    UCX_{SYSV,POSIX,MM}_SEG_SIZE say otherwise for some of them).
 * Keys are matched inside each transport's table, where its prefix is
 * stripped: "PUT_ENABLE" for UCX_TCP_PUT_ENABLE, "MM_SEG_SIZE" for both
 * shared-memory transports (the table they share is "MM_"). Others are
 * accepted by ucp_config_modify and then applied to nothing ("TCP_CONN_NB",
 * "SYSV_SEG_SIZE": UCX warns "invalid configuration" when a worker starts).
 * See docs/DESIGN.md, "Transports". */
/* Whether the user set a shared-memory setting for either transport. */
static inline int bfs_rpc_mm_env_set(const char *name)
{
    static const char *const tl[] = {"UCX_SYSV_", "UCX_POSIX_", "UCX_MM_"};
    char var[64];
    for (unsigned i = 0; i < sizeof(tl) / sizeof(tl[0]); i++) {
        snprintf(var, sizeof(var), "%s%s", tl[i], name);
        if (getenv(var))
            return 1;
    }
    return 0;
}

/* Whether UCX_TLS can leave a shared-memory (mm) transport in: when it
 * cannot ("tcp,self", as between nodes), the MM_ settings apply to nothing
 * and UCX warns "invalid configurations" on every process's stderr. When in
 * doubt, in: a process that used mm with other settings than the servers'
 * would corrupt its messages (see above). */
static inline int bfs_rpc_tls_has_mm(void)
{
    const char *tls = getenv("UCX_TLS");
    if (!tls || !*tls)
        return 1;
    int exclude = tls[0] == '^', all = 0, posix = 0, sysv = 0;
    for (const char *p = tls + exclude; *p;) {
        size_t n = strcspn(p, ",:"); /* a name, then ":aux" or the next */
#define BFS_TL_IS(x) (n == sizeof(x) - 1 && !strncmp(p, x, n))
        if (BFS_TL_IS("sm") || BFS_TL_IS("shm") || BFS_TL_IS("mm") || BFS_TL_IS("all"))
            all = 1;
        else if (BFS_TL_IS("posix"))
            posix = 1;
        else if (BFS_TL_IS("sysv"))
            sysv = 1;
        else if (BFS_TL_IS("xpmem") && !exclude)
            all = 1;
#undef BFS_TL_IS
        p += strcspn(p, ",");
        p += *p == ',';
    }
    if (exclude)
        return !(all || (posix && sysv));
    return all || posix || sysv;
}

static inline void bfs_rpc_ucx_defaults(ucp_config_t *cfg)
{
    if (!getenv("UCX_TCP_PUT_ENABLE"))
        (void)ucp_config_modify(cfg, "PUT_ENABLE", "n");
    if (!getenv("UCX_TCP_CONN_NB"))
        (void)ucp_config_modify(cfg, "CONN_NB", "y");
    if (!bfs_rpc_tls_has_mm())
        return;
    if (!bfs_rpc_mm_env_set("SEG_SIZE"))
        (void)ucp_config_modify(cfg, "MM_SEG_SIZE", "32K");
    if (!bfs_rpc_mm_env_set("RX_BUFS_GROW"))
        (void)ucp_config_modify(cfg, "MM_RX_BUFS_GROW", "128");
}

#endif
