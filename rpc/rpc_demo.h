/* A demonstration service on the RPC layer, shared by rpc-example, the RPC
 * tests and benchfs-rpc-bench: every RPC a test of the layer needs, and
 * nothing of the file system. */
#ifndef BFS_RPC_DEMO_H
#define BFS_RPC_DEMO_H

#include "rpc_server.h"

#include <stdint.h>
#include <sys/types.h>

enum {
    DEMO_NULL = 1,   /* reply status 0, nothing else */
    DEMO_ECHO = 2,   /* reply data = request payload */
    DEMO_SINK = 3,   /* consume payload; flags DEMO_VERIFY: check the pattern
                        at hdr.offset, status -EILSEQ on mismatch; reply.arg0 = len */
    DEMO_SOURCE = 4, /* reply with hdr.arg0 pattern bytes starting at hdr.offset */
    DEMO_DEFER = 5,  /* echo, but reply hdr.arg0 milliseconds later */
    DEMO_HOLD = 6,   /* never reply (until shutdown): for timeout tests */
    DEMO_SHUTDOWN = 7, /* reply, then stop the server's loop */
};
#define DEMO_VERIFY 1u

/* The test pattern: byte at absolute offset i. Period 251 (a prime), so a
 * buffer of it can be served zero-copy from any offset. */
static inline uint8_t demo_pattern_byte(uint64_t i) { return (uint8_t)(i % 251u); }
void demo_pattern_fill(void *buf, uint64_t offset, size_t len);
/* Returns the index of the first wrong byte, or -1 if all match. */
long demo_pattern_check(const void *buf, uint64_t offset, size_t len);

typedef struct demo_service demo_service_t;
/* Registers the demo RPCs on srv and its timer on loop. */
int demo_service_create(demo_service_t **out, bfs_rpc_server_t *srv, bfs_evloop_t *loop);
void demo_service_destroy(demo_service_t *d);

/* Run a demo server until SIGINT/SIGTERM or DEMO_SHUTDOWN. The worker address
 * is written as hex to addr_path (atomically) or to stdout when NULL. */
int demo_server_main(const char *addr_path, uint64_t secret);

/* A worker address given as hex digits or as @FILE holding them. Returns its
 * length or a negative errno. */
ssize_t demo_load_addr(const char *arg, void *buf, size_t cap);
/* The job secret for demo programs: $BENCHFS_RPC_SECRET (hex), or 0. */
uint64_t demo_secret_from_env(void);

#endif
