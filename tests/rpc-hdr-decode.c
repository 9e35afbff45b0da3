/* rpc-hdr-decode: bfs_rpc_hdr_init / bfs_rpc_hdr_decode accept exactly the
 * headers rpc_wire.h describes and refuse everything else with the right
 * errno, filling req_id whenever the header reaches that far, and never read
 * beyond the header bytes they were given. */
#include "tests/testlib.h"
#include "rpc/rpc_wire.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static struct bfs_rpc_hdr good_req(void)
{
    struct bfs_rpc_hdr h;
    bfs_rpc_hdr_init(&h, BFS_RPC_KIND_REQ);
    h.offset = 0x1122334455667788ull;
    h.len = 4096;
    h.flags = 0xA5A5A5A5u;
    h.req_id = 0x0000000700000003ull;
    h.arg0 = 0xDEADBEEFCAFEF00Dull;
    h.arg1 = 42;
    h.rcap = 1u << 20;
    h.secret = 0x5EC2E7ull;
    h.status = -17;
    h.arg2 = 0x01020304u;
    return h;
}

/* Decode n bytes of buf and check the result. */
static void expect(const char *what, const void *buf, size_t n, size_t data_len,
                   unsigned kind, int want, uint64_t want_req_id)
{
    struct bfs_rpc_hdr out;
    memset(&out, 0xCC, sizeof(out));
    int rc = bfs_rpc_hdr_decode(buf, n, data_len, kind, &out);
    T_ASSERT(rc == want, "%s: decode returned %d (%s), expected %d (%s)", what, rc,
             rc < 0 ? strerror(-rc) : "ok", want, want < 0 ? strerror(-want) : "ok");
    T_ASSERT(out.req_id == want_req_id, "%s: req_id 0x%llx, expected 0x%llx", what,
             (unsigned long long)out.req_id, (unsigned long long)want_req_id);
}

int main(void)
{
    t_init("rpc-hdr-decode", 10);

    /* init: framing set, everything else zero */
    struct bfs_rpc_hdr h;
    memset(&h, 0xFF, sizeof(h));
    bfs_rpc_hdr_init(&h, BFS_RPC_KIND_REPLY);
    T_ASSERT(h.magic == BFS_RPC_MAGIC && h.version == BFS_RPC_VERSION &&
             h.kind == BFS_RPC_KIND_REPLY, "init framing");
    {
        struct bfs_rpc_hdr z;
        memset(&z, 0, sizeof(z));
        z.magic = BFS_RPC_MAGIC;
        z.version = BFS_RPC_VERSION;
        z.kind = BFS_RPC_KIND_REPLY;
        T_ASSERT(memcmp(&z, &h, sizeof(h)) == 0, "init leaves non-framing bytes non-zero");
    }
    /* wire layout: magic at 72 little endian, version 74, kind 75 */
    const uint8_t *b = (const uint8_t *)&h;
    T_ASSERT(b[72] == 0x5A && b[73] == 0xBF && b[74] == 1 && b[75] == 2,
             "framing bytes on the wire: %02x %02x %02x %02x", b[72], b[73], b[74], b[75]);

    /* good request: every field survives the round trip */
    struct bfs_rpc_hdr g = good_req(), out;
    int rc = bfs_rpc_hdr_decode(&g, sizeof(g), 4096, BFS_RPC_KIND_REQ, &out);
    T_ASSERT(rc == 0, "good header refused: %d", rc);
    T_ASSERT(memcmp(&g, &out, sizeof(g)) == 0, "good header not decoded field for field");
    /* good reply */
    struct bfs_rpc_hdr r;
    bfs_rpc_hdr_init(&r, BFS_RPC_KIND_REPLY);
    r.req_id = 99;
    r.status = -ENOENT;
    expect("good reply", &r, sizeof(r), 0, BFS_RPC_KIND_REPLY, 0, 99);
    /* zero-length payload */
    g.len = 0;
    expect("good empty request", &g, sizeof(g), 0, BFS_RPC_KIND_REQ, 0, g.req_id);
    g = good_req();

    /* short headers: refused; req_id present only if the bytes reach it */
    size_t shorts[] = {0, 1, 8, 24, 28, 31, 32, 40, 64, 79};
    for (size_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++) {
        size_t n = shorts[i];
        uint64_t want = n >= offsetof(struct bfs_rpc_hdr, req_id) + 8 ? g.req_id : 0;
        char what[64];
        snprintf(what, sizeof(what), "short header of %zu bytes", n);
        expect(what, &g, n, 4096, BFS_RPC_KIND_REQ, -EBADMSG, want);
    }
    expect("NULL header", NULL, 0, 0, BFS_RPC_KIND_REQ, -EBADMSG, 0);
    expect("NULL header with a length", NULL, 80, 0, BFS_RPC_KIND_REQ, -EBADMSG, 0);

    /* oversized headers: refused, req_id still known */
    uint8_t big[256];
    memset(big, 0, sizeof(big));
    memcpy(big, &g, sizeof(g));
    expect("header of 81 bytes", big, 81, 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);
    expect("header of 96 bytes", big, 96, 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);
    expect("header of 256 bytes", big, 256, 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);

    /* framing */
    struct bfs_rpc_hdr x;
    x = g; x.magic = 0x5ABF;
    expect("byte-swapped magic", &x, sizeof(x), 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);
    x = g; x.magic = 0;
    expect("zero magic", &x, sizeof(x), 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);
    x = g; x.version = 0;
    expect("version 0", &x, sizeof(x), 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);
    x = g; x.version = BFS_RPC_VERSION + 1;
    expect("version 2", &x, sizeof(x), 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);
    x = g; x.kind = 0;
    expect("kind 0", &x, sizeof(x), 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);
    x = g; x.kind = 3;
    expect("kind 3", &x, sizeof(x), 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);
    expect("request decoded as reply", &g, sizeof(g), 4096, BFS_RPC_KIND_REPLY, -EBADMSG,
           g.req_id);
    expect("reply decoded as request", &r, sizeof(r), 0, BFS_RPC_KIND_REQ, -EBADMSG, 99);

    /* every byte of reserved and pad must be zero */
    for (int i = 0; i < 4; i++) {
        char what[64];
        x = g;
        ((uint8_t *)&x)[offsetof(struct bfs_rpc_hdr, reserved) + i] = 0x80;
        snprintf(what, sizeof(what), "reserved byte %d set", i);
        expect(what, &x, sizeof(x), 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);
        x = g;
        ((uint8_t *)&x)[offsetof(struct bfs_rpc_hdr, pad) + i] = 1;
        snprintf(what, sizeof(what), "pad byte %d set", i);
        expect(what, &x, sizeof(x), 4096, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);
    }

    /* len must match the data exactly and stay within the maximum */
    expect("len > data", &g, sizeof(g), 4095, BFS_RPC_KIND_REQ, -EMSGSIZE, g.req_id);
    expect("len < data", &g, sizeof(g), 4097, BFS_RPC_KIND_REQ, -EMSGSIZE, g.req_id);
    expect("len with no data", &g, sizeof(g), 0, BFS_RPC_KIND_REQ, -EMSGSIZE, g.req_id);
    x = g; x.len = 0;
    expect("data with len 0", &x, sizeof(x), 1, BFS_RPC_KIND_REQ, -EMSGSIZE, g.req_id);
    x = g; x.len = BFS_RPC_MAX_PAYLOAD;
    expect("len at the maximum", &x, sizeof(x), BFS_RPC_MAX_PAYLOAD, BFS_RPC_KIND_REQ, 0,
           g.req_id);
    x = g; x.len = BFS_RPC_MAX_PAYLOAD + 1;
    expect("len over the maximum", &x, sizeof(x), BFS_RPC_MAX_PAYLOAD + 1, BFS_RPC_KIND_REQ,
           -EMSGSIZE, g.req_id);
    x = g; x.len = UINT64_MAX;
    expect("len UINT64_MAX", &x, sizeof(x), SIZE_MAX, BFS_RPC_KIND_REQ, -EMSGSIZE, g.req_id);
    /* framing errors take precedence over length errors */
    x = g; x.magic = 0; x.len = 1;
    expect("bad magic and bad len", &x, sizeof(x), 5, BFS_RPC_KIND_REQ, -EBADMSG, g.req_id);

    /* Short headers that end at an unreadable page: decode must read only the
     * bytes it was given. */
    long pg = sysconf(_SC_PAGESIZE);
    uint8_t *map = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T_ASSERT(map != MAP_FAILED, "mmap");
    T_ASSERT(mprotect(map + pg, (size_t)pg, PROT_NONE) == 0, "mprotect");
    for (size_t n = 0; n < sizeof(g); n++) {
        uint8_t *p = map + pg - n;
        memcpy(p, &g, n);
        uint64_t want = n >= offsetof(struct bfs_rpc_hdr, req_id) + 8 ? g.req_id : 0;
        char what[64];
        snprintf(what, sizeof(what), "%zu-byte header at a page end", n);
        expect(what, p, n, 4096, BFS_RPC_KIND_REQ, -EBADMSG, want);
    }
    memcpy(map + pg - sizeof(g), &g, sizeof(g));
    expect("full header at a page end", map + pg - sizeof(g), sizeof(g), 4096,
           BFS_RPC_KIND_REQ, 0, g.req_id);
    munmap(map, (size_t)pg * 2);

    t_pass();
}
