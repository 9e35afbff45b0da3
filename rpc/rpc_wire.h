/* The BenchFS RPC wire format: the fixed-size header carried in every UCX
 * Active Message's header, requests and replies alike.
 *
 * A request is one Active Message: AM id = RPC id (1 .. BFS_RPC_HELLO_ID-1),
 * AM header = struct bfs_rpc_hdr, AM data = the payload (an iovec on the
 * sender, received eagerly or by rendezvous). A reply is one Active Message
 * with AM id BFS_RPC_REPLY_ID sent back on the request's reply endpoint, the
 * same header layout (kind = BFS_RPC_KIND_REPLY, req_id echoed, status set),
 * and the reply data as AM data.
 *
 * Before its first request on a new endpoint, a client sends a HELLO: AM id
 * BFS_RPC_HELLO_ID with UCP_AM_SEND_FLAG_REPLY, a request header (len =
 * payload length, arg0 = 1 if the client's endpoint uses peer error
 * handling, secret = the job's secret, req_id 0) and the client's UCX worker
 * address as payload. It is not answered. The server connects back to that
 * address with an endpoint it owns, and sends every reply that leaves after
 * the request's AM callback returned (deferred replies) on it: UCX destroys
 * the reply_ep it created for a peer-error-handling client when that client
 * goes away, so a reply_ep must not be kept beyond the callback. A client
 * that sends no HELLO gets replies only from within the callback. UCX cannot
 * validate a worker address (it aborts on a malformed one), so a HELLO is
 * trusted once its secret matches: set a job secret. The HELLO also names
 * the client process (BFS_HELLO_F_PROC below).
 *
 * A GOODBYE (AM id BFS_RPC_GOODBYE_ID, UCP_AM_SEND_FLAG_REPLY, a request
 * header with the secret, no payload, not answered) is a client's last
 * message on an endpoint, sent when it closes it (benchfs_finalize, process
 * exit, or an endpoint idle too long): the server then releases everything
 * it holds for that connection. A client never sends on an endpoint after
 * its GOODBYE; it makes a new one (with a new HELLO).
 *
 * Byte order: little endian (x86_64, aarch64). Both ends of a job run the same
 * build on the same architecture, so the header is sent as the struct's bytes.
 *
 *  offset size field     meaning
 *   0      8   offset    operation offset (file offset, chunk offset, cookie)
 *   8      8   len       number of payload bytes in the AM data (exact)
 *  16      4   flags     operation-specific flags
 *  20      4   reserved  must be 0 (refused otherwise; room to grow)
 *  24      8   req_id    chosen by the client, echoed in the reply
 *  32      8   arg0      operation-specific argument (file id, mode, ...)
 *  40      8   arg1      operation-specific argument (chunk index, ...)
 *  48      8   rcap      request: most reply-data bytes the client accepts
 *  56      8   secret    the job's secret (requests); 0 in replies
 *  64      4   status    reply: >= 0 success value, < 0 a negative errno
 *  68      4   arg2      operation-specific argument (e.g. a path length)
 *  72      2   magic     BFS_RPC_MAGIC
 *  74      1   version   BFS_RPC_VERSION
 *  75      1   kind      BFS_RPC_KIND_REQ or BFS_RPC_KIND_REPLY
 *  76      4   pad       must be 0
 *  80          (size)
 */
#ifndef BFS_RPC_WIRE_H
#define BFS_RPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#define BFS_RPC_MAGIC 0xBF5Au
#define BFS_RPC_VERSION 1u
#define BFS_RPC_KIND_REQ 1u
#define BFS_RPC_KIND_REPLY 2u

/* AM id 0 carries replies to clients; request ids are 1 .. BFS_RPC_GOODBYE_ID-1;
 * BFS_RPC_HELLO_ID carries a client's HELLO, BFS_RPC_GOODBYE_ID its GOODBYE
 * (req_id 0, no payload; a request sent to that id is answered ENOSYS). */
#define BFS_RPC_REPLY_ID 0u
#define BFS_RPC_MAX_ID 64u
#define BFS_RPC_HELLO_ID (BFS_RPC_MAX_ID - 1u)
#define BFS_RPC_GOODBYE_ID (BFS_RPC_MAX_ID - 2u)

/* HELLO header flags. BFS_HELLO_F_PROC: the header identifies the client
 * process, so that a server on the same node can watch it (pidfd) and
 * release the connection the moment it dies: arg1 = pid, offset = its start
 * time (field 22 of /proc/PID/stat, clock ticks since boot: a reused pid has
 * another), arg2 = the inode of its pid namespace (/proc/self/ns/pid), rcap =
 * a 64-bit hash of /proc/sys/kernel/random/boot_id (the node's boot). */
#define BFS_HELLO_F_PROC 0x1u
/* BFS_HELLO_F_SERVER: the client is another server of the job (its
 * watchdog, its reaper): not counted among the client connections that
 * PING reports, which tests compare with a baseline, while these come and
 * go with their own idle endpoints. */
#define BFS_HELLO_F_SERVER 0x2u
/* GOODBYE header flags. BFS_GOODBYE_F_AGAIN: the process lives on and will
 * connect again (it follows a worker rotation, closes an idle endpoint or
 * renews its worker), so what the server holds for the process itself (open
 * references of a holder on another node) waits for it; without the flag
 * the process is done (finalize, exit). */
#define BFS_GOODBYE_F_AGAIN 0x1u

/* Reply header flag (the other bits are the RPC's): the server has moved to
 * a new worker (rotation, rpc_server.c); the client makes a new endpoint to
 * where the server is now once it has no call in flight to it. */
#define BFS_RPC_REPLY_F_MOVED 0x80000000u

/* Largest payload one request or reply may carry (a chunk plus a path). */
#define BFS_RPC_MAX_PAYLOAD ((uint64_t)1 << 30)

struct bfs_rpc_hdr {
    uint64_t offset;
    uint64_t len;
    uint32_t flags;
    uint32_t reserved;
    uint64_t req_id;
    uint64_t arg0;
    uint64_t arg1;
    uint64_t rcap;
    uint64_t secret;
    int32_t status;
    uint32_t arg2;
    uint16_t magic;
    uint8_t version;
    uint8_t kind;
    uint32_t pad;
};

_Static_assert(sizeof(struct bfs_rpc_hdr) == 80, "wire header size");
_Static_assert(offsetof(struct bfs_rpc_hdr, offset) == 0, "offset");
_Static_assert(offsetof(struct bfs_rpc_hdr, len) == 8, "len");
_Static_assert(offsetof(struct bfs_rpc_hdr, flags) == 16, "flags");
_Static_assert(offsetof(struct bfs_rpc_hdr, reserved) == 20, "reserved");
_Static_assert(offsetof(struct bfs_rpc_hdr, req_id) == 24, "req_id");
_Static_assert(offsetof(struct bfs_rpc_hdr, arg0) == 32, "arg0");
_Static_assert(offsetof(struct bfs_rpc_hdr, arg1) == 40, "arg1");
_Static_assert(offsetof(struct bfs_rpc_hdr, rcap) == 48, "rcap");
_Static_assert(offsetof(struct bfs_rpc_hdr, secret) == 56, "secret");
_Static_assert(offsetof(struct bfs_rpc_hdr, status) == 64, "status");
_Static_assert(offsetof(struct bfs_rpc_hdr, arg2) == 68, "arg2");
_Static_assert(offsetof(struct bfs_rpc_hdr, magic) == 72, "magic");
_Static_assert(offsetof(struct bfs_rpc_hdr, version) == 74, "version");
_Static_assert(offsetof(struct bfs_rpc_hdr, kind) == 75, "kind");
_Static_assert(offsetof(struct bfs_rpc_hdr, pad) == 76, "pad");

/* Fill the framing fields of a header (magic, version, kind); zero the rest. */
void bfs_rpc_hdr_init(struct bfs_rpc_hdr *h, unsigned kind);

/* Decode and validate a header received as AM header bytes.
 * hdr_len is the AM header length; data_len the AM data length actually
 * received. Returns 0 and fills *out, or a negative errno:
 *   -EBADMSG  wrong header size, magic, version, kind or non-zero padding
 *   -EMSGSIZE header len does not match data_len, or exceeds the maximum
 * *out is filled whenever hdr_len is large enough to read req_id, so that an
 * error reply can still be matched by the client. */
int bfs_rpc_hdr_decode(const void *buf, size_t hdr_len, size_t data_len,
                       unsigned expect_kind, struct bfs_rpc_hdr *out);

#endif
