#include "rpc_demo.h"
#include "../common/clock.h"
#include "../common/hex.h"
#include "../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define PAT_SEG (251u * 66841u) /* < 16 MiB, a multiple of the period */
#define DEMO_MAX_SOURCE ((uint64_t)1 << 30)

struct deferred {
    bfs_rpc_req_t *req;
    uint64_t due_ns;
    struct deferred *next;
};

struct demo_service {
    bfs_rpc_server_t *srv;
    bfs_evloop_t *loop;
    uint8_t *pattern; /* PAT_SEG + 251 bytes of pattern from offset 0 */
    int tfd;
    struct deferred *deferred;
};

void demo_pattern_fill(void *buf, uint64_t offset, size_t len)
{
    uint8_t *p = buf;
    uint8_t v = demo_pattern_byte(offset);
    for (size_t i = 0; i < len; i++) {
        p[i] = v;
        v = v == 250 ? 0 : (uint8_t)(v + 1);
    }
}

long demo_pattern_check(const void *buf, uint64_t offset, size_t len)
{
    const uint8_t *p = buf;
    uint8_t v = demo_pattern_byte(offset);
    for (size_t i = 0; i < len; i++) {
        if (p[i] != v)
            return (long)i;
        v = v == 250 ? 0 : (uint8_t)(v + 1);
    }
    return -1;
}

static int h_null(bfs_rpc_req_t *req, void *arg)
{
    bfs_rpc_reply(req, 0, NULL, 0);
    return BFS_RPC_DONE;
}

static int h_echo(bfs_rpc_req_t *req, void *arg)
{
    struct iovec iov = {req->data, req->hdr.len};
    bfs_rpc_reply(req, 0, &iov, req->hdr.len ? 1 : 0);
    return BFS_RPC_DONE;
}

static int h_sink(bfs_rpc_req_t *req, void *arg)
{
    int st = 0;
    if ((req->hdr.flags & DEMO_VERIFY) &&
        demo_pattern_check(req->data, req->hdr.offset, req->hdr.len) >= 0)
        st = -EILSEQ;
    req->reply.arg0 = req->hdr.len;
    bfs_rpc_reply(req, st, NULL, 0);
    return BFS_RPC_DONE;
}

static void free_user(bfs_rpc_req_t *req) { free(req->user); }

static int h_source(bfs_rpc_req_t *req, void *arg)
{
    demo_service_t *d = arg;
    uint64_t len = req->hdr.arg0;
    if (len > DEMO_MAX_SOURCE) {
        bfs_rpc_reply(req, -EINVAL, NULL, 0);
        return BFS_RPC_DONE;
    }
    int n = (int)((len + PAT_SEG - 1) / PAT_SEG);
    if (n == 0) {
        bfs_rpc_reply(req, 0, NULL, 0);
        return BFS_RPC_DONE;
    }
    struct iovec *iov = malloc(sizeof(*iov) * (size_t)n);
    if (!iov) {
        bfs_rpc_reply(req, -ENOMEM, NULL, 0);
        return BFS_RPC_DONE;
    }
    uint8_t *base = d->pattern + req->hdr.offset % 251u;
    for (int i = 0; i < n; i++) {
        iov[i].iov_base = base;
        iov[i].iov_len = (i == n - 1) ? len - (uint64_t)i * PAT_SEG : PAT_SEG;
    }
    req->user = iov;
    req->on_done = free_user;
    bfs_rpc_reply(req, 0, iov, n);
    return BFS_RPC_DONE;
}

static void arm_timer(demo_service_t *d)
{
    struct itimerspec its = {0};
    if (d->deferred) {
        uint64_t due = d->deferred->due_ns, now = bfs_now_ns();
        uint64_t in = due > now ? due - now : 1;
        its.it_value.tv_sec = (time_t)(in / 1000000000ull);
        its.it_value.tv_nsec = (long)(in % 1000000000ull);
    }
    timerfd_settime(d->tfd, 0, &its, NULL);
}

static int h_defer(bfs_rpc_req_t *req, void *arg)
{
    demo_service_t *d = arg;
    struct deferred *x = malloc(sizeof(*x));
    if (!x) {
        bfs_rpc_reply(req, -ENOMEM, NULL, 0);
        return BFS_RPC_DONE;
    }
    x->req = req;
    x->due_ns = bfs_now_ns() + req->hdr.arg0 * 1000000ull;
    /* Keep the list sorted by due time. */
    struct deferred **pp = &d->deferred;
    while (*pp && (*pp)->due_ns <= x->due_ns)
        pp = &(*pp)->next;
    x->next = *pp;
    *pp = x;
    arm_timer(d);
    return BFS_RPC_DEFERRED;
}

static int h_hold(bfs_rpc_req_t *req, void *arg)
{
    demo_service_t *d = arg;
    struct deferred *x = malloc(sizeof(*x));
    if (!x) {
        bfs_rpc_reply(req, -ENOMEM, NULL, 0);
        return BFS_RPC_DONE;
    }
    x->req = req;
    x->due_ns = UINT64_MAX;
    struct deferred **pp = &d->deferred;
    while (*pp)
        pp = &(*pp)->next;
    x->next = NULL;
    *pp = x;
    return BFS_RPC_DEFERRED;
}

static int h_shutdown(bfs_rpc_req_t *req, void *arg)
{
    demo_service_t *d = arg;
    bfs_rpc_reply(req, 0, NULL, 0);
    bfs_evloop_stop(d->loop);
    return BFS_RPC_DONE;
}

static void on_timer(int fd, void *arg)
{
    demo_service_t *d = arg;
    uint64_t ticks;
    ssize_t r = read(fd, &ticks, sizeof(ticks));
    (void)r;
    uint64_t now = bfs_now_ns();
    while (d->deferred && d->deferred->due_ns <= now) {
        struct deferred *x = d->deferred;
        d->deferred = x->next;
        struct iovec iov = {x->req->data, x->req->hdr.len};
        bfs_rpc_reply(x->req, 0, &iov, x->req->hdr.len ? 1 : 0);
        free(x);
    }
    arm_timer(d);
}

int demo_service_create(demo_service_t **out, bfs_rpc_server_t *srv, bfs_evloop_t *loop)
{
    demo_service_t *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->srv = srv;
    d->loop = loop;
    d->pattern = malloc(PAT_SEG + 251u);
    d->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (!d->pattern || d->tfd < 0) {
        demo_service_destroy(d);
        return -ENOMEM;
    }
    demo_pattern_fill(d->pattern, 0, PAT_SEG + 251u);
    bfs_rpc_server_register(srv, DEMO_NULL, h_null, d);
    bfs_rpc_server_register(srv, DEMO_ECHO, h_echo, d);
    bfs_rpc_server_register(srv, DEMO_SINK, h_sink, d);
    bfs_rpc_server_register(srv, DEMO_SOURCE, h_source, d);
    bfs_rpc_server_register(srv, DEMO_DEFER, h_defer, d);
    bfs_rpc_server_register(srv, DEMO_HOLD, h_hold, d);
    bfs_rpc_server_register(srv, DEMO_SHUTDOWN, h_shutdown, d);
    int rc = bfs_evloop_add_fd(loop, d->tfd, on_timer, d);
    if (rc < 0) {
        demo_service_destroy(d);
        return rc;
    }
    *out = d;
    return 0;
}

void demo_service_destroy(demo_service_t *d)
{
    if (!d)
        return;
    while (d->deferred) {
        struct deferred *x = d->deferred;
        d->deferred = x->next;
        bfs_rpc_reply(x->req, -ESHUTDOWN, NULL, 0);
        free(x);
    }
    if (d->tfd >= 0) {
        bfs_evloop_del_fd(d->loop, d->tfd);
        close(d->tfd);
    }
    free(d->pattern);
    free(d);
}

static void on_signal(int fd, void *arg)
{
    struct signalfd_siginfo si;
    ssize_t r = read(fd, &si, sizeof(si));
    (void)r;
    bfs_evloop_stop(arg);
}

static int write_addr(const char *path, const void *addr, size_t len)
{
    char *hex = malloc(2 * len + 2);
    if (!hex)
        return -ENOMEM;
    bfs_hex_encode(addr, len, hex);
    strcat(hex, "\n");
    if (!path) {
        fputs(hex, stdout);
        fflush(stdout);
        free(hex);
        return 0;
    }
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0 || write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || rename(tmp, path) < 0)
        rc = -errno;
    if (fd >= 0)
        close(fd);
    free(hex);
    return rc;
}

int demo_server_main(const char *addr_path, uint64_t secret)
{
    bfs_evloop_t *loop = NULL;
    bfs_rpc_server_t *srv = NULL;
    demo_service_t *d = NULL;
    int sfd = -1, rc;
    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    struct bfs_rpc_server_opts so = {.secret = secret};
    if ((rc = bfs_evloop_create(&loop)) < 0 || (rc = bfs_rpc_server_create(&srv, &so)) < 0 ||
        (rc = demo_service_create(&d, srv, loop)) < 0)
        goto out;
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || (rc = bfs_evloop_add_fd(loop, sfd, on_signal, loop)) < 0)
        goto out;
    if ((rc = bfs_rpc_server_attach(srv, loop)) < 0)
        goto out;
    const void *addr;
    size_t alen;
    bfs_rpc_server_address(srv, &addr, &alen);
    if ((rc = write_addr(addr_path, addr, alen)) < 0)
        goto out;
    rc = bfs_evloop_run(loop);
out:
    if (rc < 0)
        bfs_error("demo server: %s", strerror(-rc));
    demo_service_destroy(d);
    bfs_rpc_server_destroy(srv);
    if (sfd >= 0)
        close(sfd);
    bfs_evloop_destroy(loop);
    return rc < 0 ? 1 : 0;
}

ssize_t demo_load_addr(const char *arg, void *buf, size_t cap)
{
    char text[8192];
    size_t n;
    if (arg[0] == '@') {
        FILE *f = fopen(arg + 1, "r");
        if (!f)
            return -errno;
        n = fread(text, 1, sizeof(text) - 1, f);
        fclose(f);
    } else {
        n = strnlen(arg, sizeof(text) - 1);
        memcpy(text, arg, n);
    }
    while (n > 0 && (text[n - 1] == '\n' || text[n - 1] == ' '))
        n--;
    return bfs_hex_decode(text, n, buf, cap);
}

uint64_t demo_secret_from_env(void)
{
    const char *s = getenv("BENCHFS_RPC_SECRET");
    return s ? strtoull(s, NULL, 16) : 0;
}
