/* libFuzzer target: bfs_rpc_hdr_decode (rpc/rpc_hdr.c), run by the server on
 * every AM header and by the client on every reply header.
 * Input: [8 bytes: AM data length as seen by UCX][1 byte: kind expected][AM
 * header bytes, any length]. */
#include "rpc/rpc_wire.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 9)
        return 0;
    uint64_t data_len;
    memcpy(&data_len, data, 8);
    unsigned kind = data[8] & 1 ? BFS_RPC_KIND_REPLY : BFS_RPC_KIND_REQ;
    size_t hlen = size - 9;
    /* An exact-size copy, so that ASan sees any read past the header; NULL
     * when there is no header at all (UCX may pass that). */
    uint8_t *hdr = hlen ? malloc(hlen) : NULL;
    if (hlen)
        memcpy(hdr, data + 9, hlen);
    struct bfs_rpc_hdr h;
    int rc = bfs_rpc_hdr_decode(hdr, hlen, (size_t)data_len, kind, &h);
    if (rc == 0) {
        /* Whatever was accepted is well framed. */
        if (hlen != sizeof(h) || h.magic != BFS_RPC_MAGIC || h.version != BFS_RPC_VERSION ||
            h.kind != kind || h.reserved || h.pad || h.len != data_len ||
            h.len > BFS_RPC_MAX_PAYLOAD)
            abort();
    } else if (rc != -EBADMSG && rc != -EMSGSIZE) {
        abort();
    }
    /* req_id is recovered only from a header that reaches it. */
    if (hlen < offsetof(struct bfs_rpc_hdr, arg0) && h.req_id != 0)
        abort();
    free(hdr);
    return 0;
}
