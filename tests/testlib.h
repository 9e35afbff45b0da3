/* Shared helpers for the RPC test programs.
 *
 * Every test program tests one behaviour and exits 0 (pass), 1 (fail) or 77
 * (skip), printing why. t_init() bounds its run time with alarm() and makes
 * sure that every process the test started (demo servers, client children)
 * is killed however the test ends: normal exit, failure, timeout, a crash or
 * a signal. Servers are rpc/rpc-example run by fork+exec, so tests may start
 * servers at any time, also after UCX is initialised in the test process. */
#ifndef BFS_TESTLIB_H
#define BFS_TESTLIB_H

#include "rpc/rpc_client.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define T_EXIT_PASS 0
#define T_EXIT_FAIL 1
#define T_EXIT_SKIP 77

/* Name the test, arm a timeout of timeout_s seconds, install the cleanup. */
void t_init(const char *name, unsigned timeout_s);

__attribute__((noreturn, format(printf, 1, 2))) void t_fail(const char *fmt, ...);
__attribute__((noreturn, format(printf, 1, 2))) void t_skip(const char *fmt, ...);
__attribute__((format(printf, 1, 2))) void t_log(const char *fmt, ...);
/* Exit 0 with a PASS line (after the cleanup). */
__attribute__((noreturn)) void t_pass(void);

#define T_ASSERT(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond))                                                           \
            t_fail_at(__FILE__, __LINE__, #cond, __VA_ARGS__);                 \
    } while (0)
__attribute__((noreturn, format(printf, 4, 5))) void
t_fail_at(const char *file, int line, const char *cond, const char *fmt, ...);

uint64_t t_now_ms(void);
void t_sleep_ms(unsigned ms);
void *t_xmalloc(size_t len);

/* Processes to kill at the end (clients forked by a test, say). */
void t_track_pid(pid_t pid);
void t_untrack_pid(pid_t pid);
/* In a forked child: forget the parent's cleanup duties (the parent kills
 * its own processes), die with the parent, arm our own timeout. */
void t_forked_child(unsigned timeout_s);
/* waitpid with a bound; returns the wait status, or -1 on timeout. */
int t_wait_pid(pid_t pid, unsigned timeout_ms);

/* A demo server (rpc/rpc-example server ADDRFILE) in a private temp dir. */
struct t_server {
    pid_t pid;
    uint64_t secret;
    size_t alen;
    unsigned char addr[4096];
    char dir[256];
    char addr_path[300];
};

/* Start a server (secret 0: no secret) and wait for its address; fails the
 * test if it does not come up within a few seconds. */
void t_server_start(struct t_server *s, uint64_t secret);
/* SIGTERM and wait (bounded, then SIGKILL): fails the test unless the
 * server shuts down cleanly (exit status 0) - a crash at shutdown, or one
 * that happened earlier, is a failure. */
void t_server_stop(struct t_server *s);
/* Send sig and reap the process (bounded). */
void t_server_kill(struct t_server *s, int sig);

/* A client for tests: timeout_ms per call, peer_errors 0/1. Skips the test
 * when UCX cannot be initialised at all. */
bfs_rpc_client_t *t_client(int peer_errors, int timeout_ms, uint64_t secret);

/* A per-call payload that cannot be mistaken for another call's: bytes from
 * a generator seeded by seed. check returns the first bad index or -1. */
void t_fill_seed(void *buf, size_t len, uint64_t seed);
long t_check_seed(const void *buf, size_t len, uint64_t seed);

#endif
