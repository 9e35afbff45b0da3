/* rpc-payload-sizes: request payloads and reply data of every size class
 * (0, 1, 100 B, 4, 8, 64 KiB, 1, 16 MiB: eager and rendezvous) arrive intact
 * in both directions, from and into single and multi-entry iovecs, over
 * shared memory (peer_errors 0) and tcp (peer_errors 1). Every byte is
 * verified: requests by the server (SINK with DEMO_VERIFY), replies by the
 * client (SOURCE pattern, ECHO of a per-call payload), and nothing is
 * written past the reply. */
#include "tests/testlib.h"
#include "rpc/rpc_demo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define GUARD 64
#define GUARD_BYTE 0xE7
#define MAXPIECES 4

static const size_t sizes[] = {0, 1, 100, 4096, 8192, 65536, 1u << 20, 16u << 20};
static bfs_rpc_client_t *c;
static int srv;

/* Split len into up to MAXPIECES non-empty pieces; returns the count. */
static int split(size_t len, size_t *piece)
{
    size_t cuts[] = {len / 5, len / 2, len * 4 / 5};
    size_t prev = 0;
    int n = 0;
    for (int i = 0; i < 3; i++)
        if (cuts[i] > prev && cuts[i] < len) {
            piece[n++] = cuts[i] - prev;
            prev = cuts[i];
        }
    if (len > prev || n == 0)
        piece[n++] = len - prev;
    return n;
}

/* Buffers of the given sizes, each followed by a guard. */
static int make_bufs(int n, const size_t *piece, uint8_t **buf, struct iovec *iov)
{
    for (int i = 0; i < n; i++) {
        buf[i] = t_xmalloc(piece[i] + GUARD);
        memset(buf[i], GUARD_BYTE, piece[i] + GUARD);
        iov[i].iov_base = buf[i];
        iov[i].iov_len = piece[i];
    }
    return n;
}

static void check_guards(const char *what, int n, uint8_t **buf, const size_t *piece,
                         const size_t *written)
{
    for (int i = 0; i < n; i++) {
        size_t from = written ? written[i] : piece[i];
        for (size_t j = from; j < piece[i] + GUARD; j++)
            T_ASSERT(buf[i][j] == GUARD_BYTE, "%s: piece %d byte %zu written beyond the reply",
                     what, i, j);
    }
}

static void free_bufs(int n, uint8_t **buf)
{
    for (int i = 0; i < n; i++)
        free(buf[i]);
}

/* Client -> server: the server verifies the pattern. */
static void to_server(size_t len, int multi)
{
    size_t piece[MAXPIECES];
    uint8_t *buf[MAXPIECES];
    struct iovec iov[MAXPIECES];
    uint64_t off = len * 3 + 7;
    int n = multi ? split(len, piece) : (piece[0] = len, 1);
    make_bufs(n, piece, buf, iov);
    uint64_t pos = off;
    for (int i = 0; i < n; i++) {
        demo_pattern_fill(buf[i], pos, piece[i]);
        pos += piece[i];
    }
    bfs_rpc_call_t call = {.server = srv, .rpc_id = DEMO_SINK, .flags = DEMO_VERIFY,
                           .offset = off, .req_iov = iov, .req_iovcnt = n};
    int rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == 0, "SINK of %zu bytes in %d pieces: status %d (%s)", len, n, rc,
             strerror(-rc));
    T_ASSERT(call.reply.arg0 == len, "SINK of %zu bytes: server saw %llu", len,
             (unsigned long long)call.reply.arg0);
    if (len > 0) {
        /* The server really compares: flip the last byte, expect -EILSEQ. */
        buf[n - 1][piece[n - 1] - 1] ^= 0xFF;
        rc = bfs_rpc_call(c, &call);
        T_ASSERT(rc == -EILSEQ, "SINK of %zu corrupted bytes: status %d, expected -EILSEQ",
                 len, rc);
    }
    free_bufs(n, buf);
}

/* Server -> client: pattern data lands exactly in the response iovec. */
static void from_server(size_t len, int multi)
{
    size_t piece[MAXPIECES];
    uint8_t *buf[MAXPIECES];
    struct iovec iov[MAXPIECES];
    uint64_t off = len * 5 + 3;
    int n = multi ? split(len, piece) : (piece[0] = len, 1);
    make_bufs(n, piece, buf, iov);
    bfs_rpc_call_t call = {.server = srv, .rpc_id = DEMO_SOURCE, .offset = off, .arg0 = len,
                           .resp_iov = iov, .resp_iovcnt = n};
    int rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == 0, "SOURCE of %zu bytes into %d pieces: status %d (%s)", len, n, rc,
             strerror(-rc));
    T_ASSERT(call.resp_len == len, "SOURCE of %zu bytes: resp_len %zu", len, call.resp_len);
    T_ASSERT(call.reply.len == len, "SOURCE of %zu bytes: reply.len %llu", len,
             (unsigned long long)call.reply.len);
    uint64_t pos = off;
    for (int i = 0; i < n; i++) {
        long bad = demo_pattern_check(buf[i], pos, piece[i]);
        T_ASSERT(bad < 0, "SOURCE of %zu bytes: piece %d wrong at byte %ld", len, i, bad);
        pos += piece[i];
    }
    check_guards("SOURCE", n, buf, piece, NULL);
    free_bufs(n, buf);
}

/* Both ways: ECHO of a payload unique to this call, reply into buffers
 * bigger than needed (the guard is part of the response iovec). */
static void echo(size_t len, int multi_req, int multi_resp, uint64_t seed)
{
    size_t rpiece[MAXPIECES], spiece[MAXPIECES];
    uint8_t *rbuf[MAXPIECES], *sbuf[MAXPIECES];
    struct iovec riov[MAXPIECES], siov[MAXPIECES];
    uint8_t *src = t_xmalloc(len);
    t_fill_seed(src, len, seed);
    int rn = multi_req ? split(len, rpiece) : (rpiece[0] = len, 1);
    make_bufs(rn, rpiece, rbuf, riov);
    size_t pos = 0;
    for (int i = 0; i < rn; i++) {
        memcpy(rbuf[i], src + pos, rpiece[i]);
        pos += rpiece[i];
    }
    /* response: pieces of a different split, the last one GUARD larger */
    int sn = multi_resp ? split(len + GUARD, spiece) : (spiece[0] = len + GUARD, 1);
    make_bufs(sn, spiece, sbuf, siov);
    bfs_rpc_call_t call = {.server = srv, .rpc_id = DEMO_ECHO, .req_iov = riov,
                           .req_iovcnt = rn, .resp_iov = siov, .resp_iovcnt = sn};
    int rc = bfs_rpc_call(c, &call);
    T_ASSERT(rc == 0, "ECHO of %zu bytes (%d -> %d pieces): status %d (%s)", len, rn, sn, rc,
             strerror(-rc));
    T_ASSERT(call.resp_len == len, "ECHO of %zu bytes: resp_len %zu", len, call.resp_len);
    size_t written[MAXPIECES] = {0};
    pos = 0;
    for (int i = 0; i < sn; i++) {
        size_t n = len - pos < spiece[i] ? len - pos : spiece[i];
        T_ASSERT(memcmp(sbuf[i], src + pos, n) == 0,
                 "ECHO of %zu bytes (%d -> %d pieces): reply piece %d differs", len, rn, sn, i);
        written[i] = n;
        pos += n;
    }
    check_guards("ECHO", sn, sbuf, spiece, written);
    free_bufs(rn, rbuf);
    free_bufs(sn, sbuf);
    free(src);
}

static void one_mode(const struct t_server *s, int peer, const char *what)
{
    uint64_t t0 = t_now_ms();
    c = t_client(peer, 20000, 0);
    srv = bfs_rpc_client_add_server(c, s->addr, s->alen);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        size_t len = sizes[i];
        to_server(len, 0);
        to_server(len, 1);
        from_server(len, 0);
        from_server(len, 1);
        echo(len, 0, 0, len * 4 + 1);
        echo(len, 1, 0, len * 4 + 2);
        echo(len, 0, 1, len * 4 + 3);
        echo(len, 1, 1, len * 4 + 4);
    }
    /* An empty ECHO with no iovecs at all */
    bfs_rpc_call_t call = {.server = srv, .rpc_id = DEMO_ECHO};
    T_ASSERT(bfs_rpc_call(c, &call) == 0 && call.resp_len == 0, "empty ECHO");
    bfs_rpc_client_destroy(c);
    t_log("%s: all sizes verified in %llu ms", what, (unsigned long long)(t_now_ms() - t0));
}

int main(void)
{
    t_init("rpc-payload-sizes", 60);
    struct t_server s;
    t_server_start(&s, 0);
    one_mode(&s, 0, "shared memory (peer_errors=0)");
    one_mode(&s, 1, "tcp (peer_errors=1)");
    t_server_stop(&s);
    /* Rendezvous from 1 KiB on, in both processes: the 4 and 8 KiB sizes and
     * the small multi-entry pieces take the rendezvous path too. */
    setenv("UCX_RNDV_THRESH", "1024", 1);
    t_server_start(&s, 0);
    one_mode(&s, 0, "shared memory, UCX_RNDV_THRESH=1024");
    one_mode(&s, 1, "tcp, UCX_RNDV_THRESH=1024");
    t_server_stop(&s);
    t_pass();
}
