/* Shared helpers for the RPC test programs (see testlib.h). */
#include "tests/testlib.h"
#include "rpc/rpc_demo.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

#define T_MAX_PIDS 64
#define T_MAX_DIRS 16

static const char *g_name = "test";
static pid_t g_owner;                        /* the process that runs the test */
static volatile pid_t g_pids[T_MAX_PIDS];    /* processes to kill at the end */
static char g_dirs[T_MAX_DIRS][300];         /* temp dirs to remove */
static char g_files[T_MAX_DIRS][300];        /* address files in them */
static volatile int g_ndirs;

/* ---- cleanup (async-signal-safe parts) ---- */

static void put_str(const char *s)
{
    ssize_t w = write(STDERR_FILENO, s, strlen(s));
    (void)w;
}

static void kill_all(void)
{
    if (getpid() != g_owner)
        return;
    for (int i = 0; i < T_MAX_PIDS; i++) {
        pid_t p = g_pids[i];
        if (p > 0) {
            kill(p, SIGKILL);
            waitpid(p, NULL, 0);
            g_pids[i] = 0;
        }
    }
    for (int i = 0; i < g_ndirs; i++) {
        if (g_files[i][0])
            unlink(g_files[i]);
        if (g_dirs[i][0])
            rmdir(g_dirs[i]);
    }
}

static void on_fatal_signal(int sig)
{
    if (getpid() == g_owner) {
        if (sig == SIGALRM) {
            put_str("FAIL ");
            put_str(g_name);
            put_str(": timed out (alarm); killing the processes it started\n");
        } else {
            put_str("FAIL ");
            put_str(g_name);
            char num[4] = {(char)('0' + sig / 10 % 10), (char)('0' + sig % 10), 0};
            put_str(": killed by signal ");
            put_str(num);
            put_str("; killing the processes it started\n");
        }
        kill_all();
    }
    if (sig == SIGALRM || sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGPIPE)
        _exit(T_EXIT_FAIL);
    /* A crash: re-raise with the default action (core dump). */
    signal(sig, SIG_DFL);
    raise(sig);
    _exit(T_EXIT_FAIL);
}

static void at_exit(void) { kill_all(); }

void t_init(const char *name, unsigned timeout_s)
{
    g_name = name;
    g_owner = getpid();
    setvbuf(stdout, NULL, _IOLBF, 0);
    atexit(at_exit);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    int sigs[] = {SIGALRM, SIGINT, SIGTERM, SIGHUP, SIGSEGV, SIGBUS, SIGABRT, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    alarm(timeout_s);
    /* The servers and clients we start get their settings from the test,
     * not from whatever the caller's environment says. */
    unsetenv("BENCHFS_RPC_TIMEOUT_MS");
    unsetenv("BENCHFS_RPC_PEER_ERRORS");
}

static void vmsg(const char *what, const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    fflush(stdout);
    fprintf(stderr, "%s %s: %s\n", what, g_name, buf);
}

void t_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("FAIL", fmt, ap);
    va_end(ap);
    exit(T_EXIT_FAIL);
}

void t_fail_at(const char *file, int line, const char *cond, const char *fmt, ...)
{
    char buf[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    t_fail("%s:%d: check `%s' failed: %s", file, line, cond, buf);
}

void t_skip(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("SKIP", fmt, ap);
    va_end(ap);
    exit(T_EXIT_SKIP);
}

void t_log(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    printf("# %s: %s\n", g_name, buf);
}

void t_pass(void)
{
    printf("PASS %s\n", g_name);
    exit(T_EXIT_PASS);
}

uint64_t t_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void t_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

void *t_xmalloc(size_t len)
{
    void *p = malloc(len ? len : 1);
    if (!p)
        t_fail("out of memory (%zu bytes)", len);
    return p;
}

/* ---- processes ---- */

void t_track_pid(pid_t pid)
{
    for (int i = 0; i < T_MAX_PIDS; i++)
        if (g_pids[i] == 0) {
            g_pids[i] = pid;
            return;
        }
    kill(pid, SIGKILL);
    t_fail("too many child processes");
}

void t_untrack_pid(pid_t pid)
{
    for (int i = 0; i < T_MAX_PIDS; i++)
        if (g_pids[i] == pid)
            g_pids[i] = 0;
}

void t_forked_child(unsigned timeout_s)
{
    /* g_owner stays the parent's pid: our exit does not kill its processes. */
    for (int i = 0; i < T_MAX_PIDS; i++)
        g_pids[i] = 0;
    g_ndirs = 0;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != g_owner)
        _exit(T_EXIT_FAIL);
    alarm(timeout_s);
}

int t_wait_pid(pid_t pid, unsigned timeout_ms)
{
    uint64_t end = t_now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -1;
        if (t_now_ms() >= end)
            return -1;
        t_sleep_ms(2);
    }
}

static const char *server_binary(void)
{
    static char path[PATH_MAX];
    const char *env = getenv("BFS_RPC_EXAMPLE");
    if (env && *env)
        return env;
    /* Next to the test program: <builddir>/tests/x -> <builddir>/rpc/rpc-example */
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return "rpc/rpc-example";
    exe[n] = 0;
    snprintf(path, sizeof(path), "%s/../rpc/rpc-example", dirname(exe));
    return path;
}

void t_server_start(struct t_server *s, uint64_t secret)
{
    memset(s, 0, sizeof(*s));
    s->secret = secret;
    const char *bin = server_binary();
    if (access(bin, X_OK) < 0)
        t_fail("server program %s not found (set BFS_RPC_EXAMPLE)", bin);
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof(s->dir), "%s/bfs-rpctest.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir))
        t_fail("mkdtemp %s: %s", s->dir, strerror(errno));
    snprintf(s->addr_path, sizeof(s->addr_path), "%s/addr", s->dir);
    if (g_ndirs < T_MAX_DIRS) {
        snprintf(g_dirs[g_ndirs], sizeof(g_dirs[0]), "%s", s->dir);
        snprintf(g_files[g_ndirs], sizeof(g_files[0]), "%s", s->addr_path);
        g_ndirs++;
    }

    /* The environment for the server, built before fork: the child only
     * calls async-signal-safe functions before exec. */
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = t_xmalloc(sizeof(*env) * (n + 2));
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "BENCHFS_RPC_SECRET=", 19) != 0)
            env[k++] = environ[i];
    char secret_var[64];
    if (secret) {
        snprintf(secret_var, sizeof(secret_var), "BENCHFS_RPC_SECRET=%llx",
                 (unsigned long long)secret);
        env[k++] = secret_var;
    }
    env[k] = NULL;

    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0)
        t_fail("fork: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        /* Do not inherit the test's handlers or its alarm. */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        for (int sig = 1; sig < NSIG; sig++)
            sigaction(sig, &sa, NULL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        alarm(0);
        char *argv[] = {"rpc-example", "server", s->addr_path, NULL};
        execve(bin, argv, env);
        _exit(127);
    }
    free(env);
    s->pid = pid;
    t_track_pid(pid);

    uint64_t end = t_now_ms() + 15000;
    for (;;) {
        if (access(s->addr_path, R_OK) == 0) {
            char arg[320];
            snprintf(arg, sizeof(arg), "@%s", s->addr_path);
            ssize_t len = demo_load_addr(arg, s->addr, sizeof(s->addr));
            if (len <= 0)
                t_fail("bad address file %s: %s", s->addr_path, strerror((int)-len));
            s->alen = (size_t)len;
            return;
        }
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            t_untrack_pid(pid);
            s->pid = 0;
            t_fail("server exited before writing its address (status 0x%x)", st);
        }
        if (t_now_ms() > end)
            t_fail("server did not write its address within 15 s");
        t_sleep_ms(5);
    }
}

static void forget_addr(struct t_server *s)
{
    if (s->addr_path[0])
        unlink(s->addr_path);
    if (s->dir[0])
        rmdir(s->dir);
}

void t_server_kill(struct t_server *s, int sig)
{
    if (s->pid <= 0)
        return;
    kill(s->pid, sig);
    if (t_wait_pid(s->pid, 5000) == -1) {
        kill(s->pid, SIGKILL);
        t_wait_pid(s->pid, 5000);
    }
    t_untrack_pid(s->pid);
    s->pid = 0;
    forget_addr(s);
}

void t_server_stop(struct t_server *s)
{
    if (s->pid <= 0)
        return;
    pid_t pid = s->pid;
    kill(pid, SIGTERM);
    int st = t_wait_pid(pid, 5000);
    if (st == -1) {
        kill(pid, SIGKILL);
        t_wait_pid(pid, 5000);
    }
    t_untrack_pid(pid);
    s->pid = 0;
    forget_addr(s);
    if (st == -1)
        t_fail("server %d did not exit within 5 s of SIGTERM", (int)pid);
    if (WIFSIGNALED(st))
        t_fail("server %d died of signal %d (%s) at shutdown", (int)pid, WTERMSIG(st),
               strsignal(WTERMSIG(st)));
    if (WEXITSTATUS(st) != 0)
        t_fail("server %d exited with status %d at shutdown", (int)pid, WEXITSTATUS(st));
}

bfs_rpc_client_t *t_client(int peer_errors, int timeout_ms, uint64_t secret)
{
    bfs_rpc_client_t *c;
    struct bfs_rpc_client_opts o = {
        .secret = secret,
        .timeout_ms = timeout_ms,
        .peer_errors = peer_errors,
    };
    int rc = bfs_rpc_client_create(&c, &o);
    if (rc < 0)
        t_skip("UCX could not be initialised for a client (%s)", strerror(-rc));
    return c;
}

/* ---- payloads ---- */

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void t_fill_seed(void *buf, size_t len, uint64_t seed)
{
    uint8_t *p = buf;
    uint64_t st = seed;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix(&st);
        size_t n = len - i < 8 ? len - i : 8;
        memcpy(p + i, &v, n);
    }
}

long t_check_seed(const void *buf, size_t len, uint64_t seed)
{
    const uint8_t *p = buf;
    uint64_t st = seed;
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix(&st);
        size_t n = len - i < 8 ? len - i : 8;
        if (memcmp(p + i, &v, n) != 0) {
            const uint8_t *vb = (const uint8_t *)&v;
            for (size_t j = 0; j < n; j++)
                if (p[i + j] != vb[j])
                    return (long)(i + j);
        }
    }
    return -1;
}
