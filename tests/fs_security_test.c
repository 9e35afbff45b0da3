/* Requests the servers must refuse, each while the server keeps serving:
 * another job's secret, paths that escape or are malformed, chunk ranges
 * outside a chunk. Against running servers ($BENCHFS_REGISTRY). */
#include "client/benchfs.h"
#include "common/proto.h"
#include "common/registry.h"
#include "rpc/rpc_client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures;

static int raw_stat(bfs_rpc_client_t *c, int srv, const char *path, size_t len)
{
    struct iovec iov = {(void *)path, len};
    char ino[56];
    struct iovec r = {ino, sizeof(ino)};
    bfs_rpc_call_t call = {.server = srv, .rpc_id = BFS_OP_STAT, .req_iov = &iov,
                           .req_iovcnt = 1, .resp_iov = &r, .resp_iovcnt = 1};
    return bfs_rpc_call(c, &call);
}

static void expect(const char *what, int got, int want)
{
    if (got != want) {
        fprintf(stderr, "FAIL: %s: got %d (%s), want %d\n", what, got, strerror(-got), want);
        failures++;
    }
}

int main(void)
{
    alarm(60);
    const char *regpath = getenv("BENCHFS_REGISTRY");
    struct bfs_registry reg;
    if (!regpath || bfs_registry_read(regpath, &reg) < 0) {
        fprintf(stderr, "cannot read the registry\n");
        return 1;
    }
    for (int pass = 0; pass < 2; pass++) {
        /* pass 0: another job's secret; pass 1: the right one. */
        struct bfs_rpc_client_opts o = {.secret = pass ? reg.secret : reg.secret ^ 0x5a5a,
                                        .peer_errors = -1};
        bfs_rpc_client_t *c;
        if (bfs_rpc_client_create(&c, &o) < 0)
            return 1;
        for (unsigned i = 0; i < reg.nservers; i++)
            bfs_rpc_client_add_server(c, reg.servers[i].addr, reg.servers[i].len);
        for (unsigned i = 0; i < reg.nservers; i++) {
            int rc = raw_stat(c, (int)i, "/", 1);
            if (pass == 0) {
                expect("wrong secret", rc, -EACCES);
                continue;
            }
            expect("path with ..", raw_stat(c, (int)i, "/../etc", 7), -EINVAL);
            expect("relative path", raw_stat(c, (int)i, "etc/passwd", 10), -EINVAL);
            expect("embedded NUL", raw_stat(c, (int)i, "/a\0b", 4), -EINVAL);
            expect("trailing slash", raw_stat(c, (int)i, "/a/", 3), -EINVAL);
            char *lng = malloc(5000);
            memset(lng, 'x', 5000);
            lng[0] = '/';
            expect("path longer than PATH_MAX", raw_stat(c, (int)i, lng, 5000), -ENAMETOOLONG);
            expect("name longer than NAME_MAX", raw_stat(c, (int)i, lng, 300), -ENAMETOOLONG);
            free(lng);
            char buf[16] = {0};
            struct iovec iov = {buf, sizeof(buf)};
            bfs_rpc_call_t w = {.server = (int)i, .rpc_id = BFS_OP_WRITE, .arg0 = 99,
                                .offset = reg.chunk_size - 8, .req_iov = &iov, .req_iovcnt = 1};
            expect("write past a chunk's end", bfs_rpc_call(c, &w), -EINVAL);
            bfs_rpc_call_t u = {.server = (int)i, .rpc_id = 62};
            expect("unknown rpc", bfs_rpc_call(c, &u), -ENOSYS);
            /* ...and the server still serves. */
            /* ...and the server still serves (the root lives on one of them). */
            rc = raw_stat(c, (int)i, "/", 1);
            expect("good request after bad ones", rc == -ENOENT ? 0 : rc, 0);
        }
        bfs_rpc_client_destroy(c);
    }
    benchfs_t *fs;
    struct stat st;
    if (benchfs_init(&fs, NULL) < 0 || benchfs_stat(fs, "/", &st) < 0) {
        fprintf(stderr, "FAIL: the file system does not answer after refused requests\n");
        failures++;
    } else {
        benchfs_finalize(fs);
    }
    bfs_registry_free(&reg);
    printf("fs_security_test: %d failures\n", failures);
    return failures ? 1 : 0;
}
