/* rpc-multi-client: 16 client processes call one server at the same time,
 * each making a few hundred verified calls (ECHO of per-process payloads,
 * SOURCE, SINK with server-side verification, a few rendezvous sizes); half
 * of them over shared memory, half over tcp. Every client must succeed and
 * the server must still answer afterwards. */
#include "tests/testlib.h"
#include "rpc/rpc_demo.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NCLIENTS 16
#define NCALLS 300

static size_t size_for(int id, int i)
{
    if (i % 100 == 42)
        return 256u << 10;
    if (i % 20 == 7)
        return 64u << 10;
    return (size_t)((i * 131 + id * 17) % 8192) + 1;
}

static int client_main(int id, const struct t_server *s)
{
    bfs_rpc_client_t *c = t_client(id & 1, 20000, 0);
    int srv = bfs_rpc_client_add_server(c, s->addr, s->alen);
    uint8_t *buf = t_xmalloc(256u << 10), *out = t_xmalloc(256u << 10);
    for (int i = 0; i < NCALLS; i++) {
        size_t len = size_for(id, i);
        uint64_t seed = (uint64_t)id << 32 | (uint64_t)i;
        struct iovec req = {buf, len}, resp = {out, len};
        bfs_rpc_call_t call = {.server = srv};
        int rc;
        memset(out, 0, len);
        switch (i % 3) {
        case 0:
            t_fill_seed(buf, len, seed);
            call.rpc_id = DEMO_ECHO;
            call.req_iov = &req;
            call.req_iovcnt = 1;
            call.resp_iov = &resp;
            call.resp_iovcnt = 1;
            rc = bfs_rpc_call(c, &call);
            T_ASSERT(rc == 0, "client %d call %d ECHO %zu: status %d", id, i, len, rc);
            T_ASSERT(call.resp_len == len && t_check_seed(out, len, seed) < 0,
                     "client %d call %d: ECHO of %zu bytes came back wrong (%zu bytes)", id, i,
                     len, call.resp_len);
            break;
        case 1:
            call.rpc_id = DEMO_SOURCE;
            call.offset = seed;
            call.arg0 = len;
            call.resp_iov = &resp;
            call.resp_iovcnt = 1;
            rc = bfs_rpc_call(c, &call);
            T_ASSERT(rc == 0, "client %d call %d SOURCE %zu: status %d", id, i, len, rc);
            T_ASSERT(call.resp_len == len && demo_pattern_check(out, seed, len) < 0,
                     "client %d call %d: SOURCE of %zu bytes came back wrong", id, i, len);
            break;
        default:
            demo_pattern_fill(buf, seed, len);
            call.rpc_id = DEMO_SINK;
            call.flags = DEMO_VERIFY;
            call.offset = seed;
            call.req_iov = &req;
            call.req_iovcnt = 1;
            rc = bfs_rpc_call(c, &call);
            T_ASSERT(rc == 0 && call.reply.arg0 == len,
                     "client %d call %d SINK %zu: status %d, server saw %llu", id, i, len, rc,
                     (unsigned long long)call.reply.arg0);
            break;
        }
    }
    free(buf);
    free(out);
    bfs_rpc_client_destroy(c);
    return 0;
}

int main(void)
{
    t_init("rpc-multi-client", 60);
    struct t_server s;
    t_server_start(&s, 0);

    /* All clients start calling together: they wait for the pipe to close. */
    int go[2];
    T_ASSERT(pipe(go) == 0, "pipe");
    pid_t pids[NCLIENTS];
    uint64_t t0 = t_now_ms();
    for (int id = 0; id < NCLIENTS; id++) {
        pid_t pid = fork();
        T_ASSERT(pid >= 0, "fork: %s", strerror(errno));
        if (pid == 0) {
            t_forked_child(50);
            close(go[1]);
            char ch;
            ssize_t r = read(go[0], &ch, 1);
            (void)r;
            exit(client_main(id, &s));
        }
        pids[id] = pid;
        t_track_pid(pid);
    }
    close(go[0]);
    close(go[1]);

    int failed = 0;
    for (int id = 0; id < NCLIENTS; id++) {
        int st = t_wait_pid(pids[id], 50000);
        t_untrack_pid(pids[id]);
        if (st == -1) {
            kill(pids[id], SIGKILL);
            t_wait_pid(pids[id], 5000);
            t_log("client %d did not finish in time", id);
            failed++;
        } else if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            t_log("client %d failed (%s %d)", id, WIFEXITED(st) ? "exit" : "signal",
                  WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
            failed++;
        }
    }
    t_log("%d clients x %d calls in %llu ms", NCLIENTS, NCALLS,
          (unsigned long long)(t_now_ms() - t0));
    T_ASSERT(failed == 0, "%d of %d clients failed", failed, NCLIENTS);

    /* The server is still fine. */
    bfs_rpc_client_t *c = t_client(0, 5000, 0);
    int srv = bfs_rpc_client_add_server(c, s.addr, s.alen);
    bfs_rpc_call_t call = {.server = srv, .rpc_id = DEMO_NULL};
    T_ASSERT(bfs_rpc_call(c, &call) == 0, "server does not answer after the clients: %d",
             call.status);
    bfs_rpc_client_destroy(c);
    t_server_stop(&s);
    t_pass();
}
