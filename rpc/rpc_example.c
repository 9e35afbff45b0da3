/* rpc-example: the smallest complete use of the RPC layer.
 *   rpc-example server [ADDRFILE]   serve; print (or write) the worker address
 *   rpc-example client ADDR|@FILE   make a few calls and print the results */
#include "rpc_client.h"
#include "rpc_demo.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int client(const char *addrarg)
{
    char addr[4096];
    ssize_t alen = demo_load_addr(addrarg, addr, sizeof(addr));
    if (alen < 0) {
        fprintf(stderr, "rpc-example: cannot read address %s: %s\n", addrarg, strerror((int)-alen));
        return 1;
    }
    bfs_rpc_client_t *c;
    struct bfs_rpc_client_opts o = {.secret = demo_secret_from_env(), .peer_errors = -1};
    if (bfs_rpc_client_create(&c, &o) < 0) {
        fprintf(stderr, "rpc-example: UCX initialisation failed\n");
        return 1;
    }
    int srv = bfs_rpc_client_add_server(c, addr, (size_t)alen);
    int fails = 0;

    bfs_rpc_call_t call = {.server = srv, .rpc_id = DEMO_NULL};
    int rc = bfs_rpc_call(c, &call);
    printf("null:   status %d\n", rc);
    fails += rc != 0;

    char msg[] = "hello, BenchFS", back[64] = {0};
    struct iovec in = {msg, sizeof(msg)}, out = {back, sizeof(back)};
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_ECHO, .req_iov = &in, .req_iovcnt = 1,
                            .resp_iov = &out, .resp_iovcnt = 1};
    rc = bfs_rpc_call(c, &call);
    printf("echo:   status %d, %zu bytes: \"%s\"\n", rc, call.resp_len, back);
    fails += rc != 0 || strcmp(msg, back) != 0;

    size_t big = 1 << 20;
    char *buf = malloc(big);
    demo_pattern_fill(buf, 0, big);
    struct iovec w = {buf, big};
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_SINK, .flags = DEMO_VERIFY,
                            .req_iov = &w, .req_iovcnt = 1};
    rc = bfs_rpc_call(c, &call);
    printf("write:  status %d, server received %llu bytes\n", rc, (unsigned long long)call.reply.arg0);
    fails += rc != 0 || call.reply.arg0 != big;

    memset(buf, 0, big);
    call = (bfs_rpc_call_t){.server = srv, .rpc_id = DEMO_SOURCE, .offset = 0, .arg0 = big,
                            .resp_iov = &w, .resp_iovcnt = 1};
    rc = bfs_rpc_call(c, &call);
    long bad = demo_pattern_check(buf, 0, big);
    printf("read:   status %d, %zu bytes, %s\n", rc, call.resp_len, bad < 0 ? "verified" : "CORRUPT");
    fails += rc != 0 || bad >= 0 || call.resp_len != big;

    free(buf);
    bfs_rpc_client_destroy(c);
    printf("%s\n", fails ? "FAILED" : "all calls succeeded");
    return fails ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "server"))
        return demo_server_main(argc >= 3 ? argv[2] : NULL, demo_secret_from_env());
    if (argc >= 3 && !strcmp(argv[1], "client"))
        return client(argv[2]);
    fprintf(stderr, "usage: rpc-example server [ADDRFILE]\n       rpc-example client ADDR|@ADDRFILE\n");
    return 2;
}
