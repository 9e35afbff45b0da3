/* Encoding and validation of the RPC wire header (see rpc_wire.h). */
#include "rpc_wire.h"

#include <errno.h>
#include <string.h>

void bfs_rpc_hdr_init(struct bfs_rpc_hdr *h, unsigned kind)
{
    memset(h, 0, sizeof(*h));
    h->magic = BFS_RPC_MAGIC;
    h->version = BFS_RPC_VERSION;
    h->kind = (uint8_t)kind;
}

int bfs_rpc_hdr_decode(const void *buf, size_t hdr_len, size_t data_len,
                       unsigned expect_kind, struct bfs_rpc_hdr *out)
{
    memset(out, 0, sizeof(*out));
    if (buf == NULL)
        return -EBADMSG;
    /* Copy what there is, so that even a malformed request can be answered
     * under its req_id when the header reaches that far. */
    memcpy(out, buf, hdr_len < sizeof(*out) ? hdr_len : sizeof(*out));
    if (hdr_len < offsetof(struct bfs_rpc_hdr, arg0))
        out->req_id = 0;
    if (hdr_len != sizeof(*out))
        return -EBADMSG;
    if (out->magic != BFS_RPC_MAGIC || out->version != BFS_RPC_VERSION ||
        out->kind != expect_kind || out->reserved != 0 || out->pad != 0)
        return -EBADMSG;
    if (out->len > BFS_RPC_MAX_PAYLOAD || out->len != data_len)
        return -EMSGSIZE;
    return 0;
}
