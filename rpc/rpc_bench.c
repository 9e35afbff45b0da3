/* benchfs-rpc-bench: the RPC layer's latency and throughput between two
 * processes on this machine.
 *
 * It forks a demo server (before any UCX initialisation in this process),
 * waits for the server's worker address file, then measures as the client:
 *   - null-RPC round trip (DEMO_NULL): median and p99 of single calls;
 *   - throughput of writes (DEMO_SINK, payload client -> server) and reads
 *     (DEMO_SOURCE, reply data server -> client) for each request size and
 *     number of requests in flight (a sliding window of calls). By default
 *     the calls in flight share one client buffer, as ucx_perftest's do;
 *     --buffer-per-call gives each its own (colder caches).
 * Every measurement is repeated (--reps) and the median of the repetitions is
 * reported, because the machine is shared and noisy. The server child is
 * always terminated and reaped: at normal exit, on error, on SIGINT/SIGTERM/
 * SIGHUP, and by a watchdog alarm (--max-seconds).
 *
 * Output: a table on stdout, or with --json one JSON object (one result per
 * line, so that shell scripts can pick values out with grep/sed). */
#include "rpc_client.h"
#include "rpc_demo.h"
#include "../common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_LIST 16
#define MAX_REPS 64

/* ---- options ---- */

static struct {
    int peer_errors;
    const char *server_addr; /* external server: ADDR or @FILE */
    size_t sizes[MAX_LIST];
    int nsizes;
    int depths[MAX_LIST];
    int ndepths;
    int do_write, do_read, do_lat;
    int reps;
    int lat_iters;
    int rep_ms;
    int min_calls;
    int spin_us;
    int verify;
    int json;
    int quick;
    int shared_buf;
    int max_seconds;
    int wait_quiet_s;
} opt = {
    .peer_errors = 0,
    .do_write = 1,
    .do_read = 1,
    .do_lat = 1,
    .reps = 0,
    .lat_iters = 0,
    .rep_ms = 0,
    .min_calls = 8,
    .max_seconds = 600,
    .shared_buf = 1,
};

static void usage(FILE *f)
{
    fprintf(f,
"usage: benchfs-rpc-bench [OPTIONS]\n"
"Measures BenchFS RPC round-trip latency and payload throughput between this\n"
"process and a demo server it forks (or an external one).\n"
"\n"
"  --peer-errors        endpoints with UCP_ERR_HANDLING_MODE_PEER (tcp only);\n"
"                       default: error handling none (shared memory allowed)\n"
"  --server-addr A      use a running demo server (hex address or @FILE)\n"
"                       instead of forking one; its secret comes from\n"
"                       $BENCHFS_RPC_SECRET\n"
"  --sizes LIST         request sizes, e.g. 4k,64k,1m,16m (default)\n"
"  --depths LIST        requests in flight, e.g. 1,16 (default)\n"
"  --ops LIST           any of lat,write,read (default: all)\n"
"  --reps N             repetitions of each measurement (default 5, quick 3)\n"
"  --lat-iters N        null calls per latency repetition (default 20000,\n"
"                       quick 4000)\n"
"  --rep-ms MS          least duration of a throughput repetition (default 100,\n"
"                       quick 40)\n"
"  --min-calls N        least calls in a throughput repetition (default 8)\n"
"  --spin-us US         client busy-poll time before sleeping (default: the\n"
"                       client's own, $BENCHFS_RPC_SPIN_US or 20)\n"
"  --buffer-per-call    each call in flight has its own client buffer (cold\n"
"                       caches at large sizes); default: one buffer shared by\n"
"                       all calls, as ucx_perftest does\n"
"  --verify             check the data pattern of every transfer (slower;\n"
"                       each size is always checked once before timing)\n"
"  --quick              fewer repetitions and shorter runs\n"
"  --json               print one JSON object instead of the table\n"
"  --wait-quiet S       before each measurement wait until the rest of the\n"
"                       machine is idle (at most 3 s each, S s in all)\n"
"  --max-seconds S      give up (and stop the server) after S seconds (600)\n"
"  -h, --help           this text\n");
}

static int parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    default: break;
    }
    if (*end == 'i' || *end == 'I')
        end++;
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end || v == 0 || v > (1ull << 30))
        return -1;
    *out = (size_t)v;
    return 0;
}

static int parse_list(const char *arg, const char *what, int is_size, void *out, int *n)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", arg);
    *n = 0;
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (*n == MAX_LIST) {
            fprintf(stderr, "benchfs-rpc-bench: too many %s (at most %d)\n", what, MAX_LIST);
            return -1;
        }
        if (is_size) {
            if (parse_size(t, &((size_t *)out)[*n]) < 0)
                goto bad;
        } else {
            char *end;
            long v = strtol(t, &end, 10);
            if (*end || v < 1 || v > 1024)
                goto bad;
            ((int *)out)[*n] = (int)v;
        }
        (*n)++;
        continue;
    bad:
        fprintf(stderr, "benchfs-rpc-bench: bad %s value '%s'\n", what, t);
        return -1;
    }
    if (*n == 0) {
        fprintf(stderr, "benchfs-rpc-bench: empty %s list\n", what);
        return -1;
    }
    return 0;
}

static int parse_int(const char *s, const char *what, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*end || end == s || v < lo || v > hi) {
        fprintf(stderr, "benchfs-rpc-bench: bad %s '%s' (%d..%d)\n", what, s, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv)
{
    enum { O_PEER = 256, O_ADDR, O_SIZES, O_DEPTHS, O_OPS, O_REPS, O_LATIT, O_REPMS, O_MINC,
           O_SPIN, O_SHARED, O_VERIFY, O_QUICK, O_JSON, O_MAXS, O_QUIET };
    static const struct option lo[] = {
        {"peer-errors", no_argument, NULL, O_PEER},
        {"server-addr", required_argument, NULL, O_ADDR},
        {"sizes", required_argument, NULL, O_SIZES},
        {"depths", required_argument, NULL, O_DEPTHS},
        {"ops", required_argument, NULL, O_OPS},
        {"reps", required_argument, NULL, O_REPS},
        {"lat-iters", required_argument, NULL, O_LATIT},
        {"rep-ms", required_argument, NULL, O_REPMS},
        {"min-calls", required_argument, NULL, O_MINC},
        {"spin-us", required_argument, NULL, O_SPIN},
        {"buffer-per-call", no_argument, NULL, O_SHARED},
        {"verify", no_argument, NULL, O_VERIFY},
        {"quick", no_argument, NULL, O_QUICK},
        {"json", no_argument, NULL, O_JSON},
        {"max-seconds", required_argument, NULL, O_MAXS},
        {"wait-quiet", required_argument, NULL, O_QUIET},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case O_PEER: opt.peer_errors = 1; break;
        case O_ADDR: opt.server_addr = optarg; break;
        case O_SIZES:
            if (parse_list(optarg, "size", 1, opt.sizes, &opt.nsizes) < 0)
                return -1;
            break;
        case O_DEPTHS:
            if (parse_list(optarg, "depth", 0, opt.depths, &opt.ndepths) < 0)
                return -1;
            break;
        case O_OPS: {
            char buf[128];
            snprintf(buf, sizeof(buf), "%s", optarg);
            opt.do_lat = opt.do_write = opt.do_read = 0;
            for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
                if (!strcmp(t, "lat"))
                    opt.do_lat = 1;
                else if (!strcmp(t, "write"))
                    opt.do_write = 1;
                else if (!strcmp(t, "read"))
                    opt.do_read = 1;
                else {
                    fprintf(stderr, "benchfs-rpc-bench: unknown op '%s' (lat, write, read)\n", t);
                    return -1;
                }
            }
            break;
        }
        case O_REPS:
            if (parse_int(optarg, "--reps", 1, MAX_REPS, &opt.reps) < 0)
                return -1;
            break;
        case O_LATIT:
            if (parse_int(optarg, "--lat-iters", 10, 100000000, &opt.lat_iters) < 0)
                return -1;
            break;
        case O_REPMS:
            if (parse_int(optarg, "--rep-ms", 1, 60000, &opt.rep_ms) < 0)
                return -1;
            break;
        case O_MINC:
            if (parse_int(optarg, "--min-calls", 1, 100000000, &opt.min_calls) < 0)
                return -1;
            break;
        case O_SPIN:
            if (parse_int(optarg, "--spin-us", 0, 10000000, &opt.spin_us) < 0)
                return -1;
            break;
        case O_SHARED: opt.shared_buf = 0; break;
        case O_VERIFY: opt.verify = 1; break;
        case O_QUICK: opt.quick = 1; break;
        case O_JSON: opt.json = 1; break;
        case O_MAXS:
            if (parse_int(optarg, "--max-seconds", 1, 86400, &opt.max_seconds) < 0)
                return -1;
            break;
        case O_QUIET:
            if (parse_int(optarg, "--wait-quiet", 0, 3600, &opt.wait_quiet_s) < 0)
                return -1;
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "benchfs-rpc-bench: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return -1;
    }
    if (!opt.nsizes) {
        static const size_t dflt[] = {4096, 65536, 1 << 20, 16 << 20};
        memcpy(opt.sizes, dflt, sizeof(dflt));
        opt.nsizes = 4;
    }
    if (!opt.ndepths) {
        opt.depths[0] = 1;
        opt.depths[1] = 16;
        opt.ndepths = 2;
    }
    if (!opt.reps)
        opt.reps = opt.quick ? 3 : 5;
    if (!opt.lat_iters)
        opt.lat_iters = opt.quick ? 4000 : 20000;
    if (!opt.rep_ms)
        opt.rep_ms = opt.quick ? 40 : 100;
    return 0;
}

/* ---- the server child and its cleanup ---- */

static volatile pid_t server_pid = -1;
static char tmpdir[256];
static char addr_path[300];

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

/* Async-signal-safe: SIGTERM, up to ~2 s for a clean exit, then SIGKILL;
 * always reaps. Returns the wait status, or -1. */
static int stop_server(void)
{
    pid_t pid = server_pid;
    int status = -1;
    if (pid <= 0)
        return -1;
    kill(pid, SIGTERM);
    for (int i = 0; i < 200; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD))
            goto reaped;
        sleep_ms(10);
    }
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
reaped:
    server_pid = -1;
    return status;
}

static void remove_tmp(void)
{
    if (addr_path[0])
        unlink(addr_path);
    if (tmpdir[0])
        rmdir(tmpdir);
}

static void cleanup_atexit(void)
{
    stop_server();
    remove_tmp();
}

static void on_fatal_signal(int sig)
{
    static const char msg[] = "benchfs-rpc-bench: interrupted, stopping the server\n";
    ssize_t w = write(2, msg, sizeof(msg) - 1);
    (void)w;
    stop_server();
    remove_tmp();
    _exit(128 + sig);
}

/* abort() (a failed assertion, glibc's stack protector, UCX): clean up, then
 * die of the signal as before. */
static void on_abort(int sig)
{
    stop_server();
    remove_tmp();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGALRM, &sa, NULL);
    sa.sa_handler = on_abort;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGABRT, &sa, NULL);
}

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("benchfs-rpc-bench: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(1); /* atexit stops the server */
}

static void start_server(uint64_t secret)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof(tmpdir), "%s/benchfs-rpc-bench.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmpdir)) {
        tmpdir[0] = 0;
        die("cannot create a temporary directory: %s", strerror(errno));
    }
    snprintf(addr_path, sizeof(addr_path), "%s/server.addr", tmpdir);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        /* The child: default signal handling (demo_server_main takes SIGINT
         * and SIGTERM through a signalfd), and die with the parent. */
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_handler = SIG_DFL;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGHUP, &sa, NULL);
        sigaction(SIGALRM, &sa, NULL);
        sigaction(SIGABRT, &sa, NULL);
        alarm(0);
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        _exit(demo_server_main(addr_path, secret));
    }
    server_pid = pid;
}

static ssize_t wait_server_addr(void *buf, size_t cap)
{
    char arg[320];
    snprintf(arg, sizeof(arg), "@%s", addr_path);
    uint64_t end = bfs_now_ns() + 15000000000ull;
    while (bfs_now_ns() < end) {
        struct stat st;
        if (stat(addr_path, &st) == 0) {
            ssize_t n = demo_load_addr(arg, buf, cap);
            if (n > 0)
                return n;
        }
        int status;
        if (waitpid(server_pid, &status, WNOHANG) == server_pid) {
            server_pid = -1;
            die("the server exited before publishing its address (status %d)", status);
        }
        sleep_ms(5);
    }
    die("the server did not publish its address within 15 s");
}

/* ---- statistics ---- */

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median_dbl(const double *v, int n)
{
    double t[MAX_REPS];
    memcpy(t, v, sizeof(double) * (size_t)n);
    qsort(t, (size_t)n, sizeof(double), cmp_dbl);
    return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

static double min_dbl(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] < m)
            m = v[i];
    return m;
}

static double max_dbl(const double *v, int n)
{
    double m = v[0];
    for (int i = 1; i < n; i++)
        if (v[i] > m)
            m = v[i];
    return m;
}

/* CPU time in seconds: this process, and the forked server (from /proc, in
 * clock ticks: coarse, good enough over a whole measurement). */
static double self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double server_cpu(void)
{
    if (server_pid <= 0)
        return -1;
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)server_pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    const char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut, st;
    /* after ") ": state ppid pgrp session tty_nr tpgid flags minflt cminflt
     * majflt cmajflt utime stime */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* Busy CPU time of the whole machine in seconds (/proc/stat: user, nice,
 * system, irq, softirq, steal). Minus our own two processes, it tells how
 * much of the machine someone else used during a measurement. */
static double machine_busy(void)
{
    char buf[256];
    int fd = open("/proc/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    unsigned long long u, ni, sy, id, io, irq, sirq, st;
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &u, &ni, &sy, &id, &io, &irq,
               &sirq, &st) != 8)
        return -1;
    return (double)(u + ni + sy + irq + sirq + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A snapshot of CPU counters around a measurement. */
struct cpu_snap {
    uint64_t t;
    double self, server, machine;
};

static void snap(struct cpu_snap *s)
{
    s->t = bfs_now_ns();
    s->self = self_cpu();
    s->server = server_cpu();
    s->machine = machine_busy();
}

/* Cores used by the client, the server and everything else between a and b
 * (-1 when unknown). */
static void cpu_use(const struct cpu_snap *a, const struct cpu_snap *b, double *cli,
                    double *srv, double *other)
{
    double wall = (b->t - a->t) / 1e9;
    *cli = (b->self - a->self) / wall;
    *srv = a->server >= 0 && b->server >= 0 ? (b->server - a->server) / wall : -1;
    if (a->machine < 0 || b->machine < 0) {
        *other = -1;
        return;
    }
    double o = (b->machine - a->machine) / wall - *cli - (*srv > 0 ? *srv : 0);
    *other = o < 0 ? 0 : o;
}

/* With --wait-quiet: before a measurement, wait (a bounded time) until the
 * rest of the machine is nearly idle, so that the two benchmark processes
 * each have a core. Returns the load seen last (cores). */
static double quiet_budget_s;
static double quiet_waited_s;

static double wait_quiet(void)
{
    double load = -1;
    uint64_t start = bfs_now_ns();
    for (;;) {
        double m0 = machine_busy();
        uint64_t t0 = bfs_now_ns();
        sleep_ms(100);
        double m1 = machine_busy();
        if (m0 < 0 || m1 < 0)
            return -1;
        load = (m1 - m0) / ((bfs_now_ns() - t0) / 1e9);
        double waited = (bfs_now_ns() - start) / 1e9;
        if (load < 0.25 || quiet_waited_s + waited >= quiet_budget_s || waited >= 3.0) {
            quiet_waited_s += waited;
            return load;
        }
    }
}

/* ---- measurements ---- */

/* Timestamps of single calls: the TSC where there is one (about 9 ns to read
 * here against 21 ns for clock_gettime, and ucx_perftest times with it too),
 * converted with a rate calibrated against CLOCK_MONOTONIC over the run. */
#if defined(__x86_64__)
#include <x86intrin.h>
static inline uint64_t stamp(void) { return __rdtsc(); }
#else
static inline uint64_t stamp(void) { return bfs_now_ns(); }
#endif

static bfs_rpc_client_t *cli;
static int srv_idx;

static const char *fmt_size(size_t s, char *buf, size_t cap)
{
    if (s >= (1u << 20) && s % (1u << 20) == 0)
        snprintf(buf, cap, "%zu MiB", s >> 20);
    else if (s >= 1024 && s % 1024 == 0)
        snprintf(buf, cap, "%zu KiB", s >> 10);
    else
        snprintf(buf, cap, "%zu B", s);
    return buf;
}

struct lat_result {
    double p50[MAX_REPS], p99[MAX_REPS], min[MAX_REPS];
    double med_p50, med_p99, min_all;
    double cli_cpu, srv_cpu, other_cpu; /* cores busy */
};

static void measure_latency(struct lat_result *res)
{
    int n = opt.lat_iters;
    uint64_t *t = malloc(sizeof(*t) * (size_t)n);
    if (!t)
        die("out of memory");
    bfs_rpc_call_t call;
    /* Warm up: connection set-up, caches, the server's request pool. */
    int warm = n / 10 < 1000 ? 1000 : n / 10;
    for (int i = 0; i < warm; i++) {
        call = (bfs_rpc_call_t){.server = srv_idx, .rpc_id = DEMO_NULL};
        int rc = bfs_rpc_call(cli, &call);
        if (rc != 0)
            die("null RPC failed: %s", strerror(-rc));
    }
    struct cpu_snap a, b;
    snap(&a);
    for (int r = 0; r < opt.reps; r++) {
        uint64_t ns0 = bfs_now_ns(), tsc0 = stamp();
        for (int i = 0; i < n; i++) {
            call = (bfs_rpc_call_t){.server = srv_idx, .rpc_id = DEMO_NULL};
            uint64_t t0 = stamp();
            int rc = bfs_rpc_call(cli, &call);
            uint64_t t1 = stamp();
            if (rc != 0)
                die("null RPC failed: %s", strerror(-rc));
            t[i] = t1 - t0;
        }
        double ns_per_tick = (double)(bfs_now_ns() - ns0) / (double)(stamp() - tsc0);
        qsort(t, (size_t)n, sizeof(*t), cmp_u64);
        res->p50[r] = t[n / 2] * ns_per_tick / 1e3;
        res->p99[r] = t[(size_t)n * 99 / 100] * ns_per_tick / 1e3;
        res->min[r] = t[0] * ns_per_tick / 1e3;
    }
    snap(&b);
    cpu_use(&a, &b, &res->cli_cpu, &res->srv_cpu, &res->other_cpu);
    res->med_p50 = median_dbl(res->p50, opt.reps);
    res->med_p99 = median_dbl(res->p99, opt.reps);
    res->min_all = min_dbl(res->min, opt.reps);
    free(t);
}

enum { DIR_WRITE = 0, DIR_READ = 1 };
static const char *dir_name[] = {"write", "read"};

struct bw_result {
    int dir;
    size_t size;
    int depth;
    double mbps[MAX_REPS]; /* 1e6 bytes per second */
    double med, lo, hi;
    double calls_per_s;
    uint64_t calls;
    double cli_cpu, srv_cpu, other_cpu;
};

struct slot {
    bfs_rpc_call_t call;
    struct iovec iov;
};

static uint8_t *bufs;     /* max_depth buffers of max_size bytes */
static size_t buf_stride; /* bytes between two slots' buffers */

static void prep_call(struct slot *s, int dir, size_t size, int verify)
{
    s->call = (bfs_rpc_call_t){.server = srv_idx};
    s->iov.iov_len = size;
    if (dir == DIR_WRITE) {
        s->call.rpc_id = DEMO_SINK;
        s->call.flags = verify ? DEMO_VERIFY : 0;
        s->call.offset = 0;
        s->call.req_iov = &s->iov;
        s->call.req_iovcnt = 1;
    } else {
        s->call.rpc_id = DEMO_SOURCE;
        s->call.offset = 0;
        s->call.arg0 = size;
        s->call.resp_iov = &s->iov;
        s->call.resp_iovcnt = 1;
    }
}

static void check_done(struct slot *s, int dir, size_t size, int verify)
{
    bfs_rpc_call_t *c = &s->call;
    if (c->status != 0)
        die("%s of %zu bytes failed: %s", dir_name[dir], size, strerror(-c->status));
    if (dir == DIR_WRITE) {
        if (c->reply.arg0 != size)
            die("write of %zu bytes: the server received %llu", size,
                (unsigned long long)c->reply.arg0);
    } else {
        if (c->resp_len != size)
            die("read of %zu bytes returned %zu", size, c->resp_len);
        if (verify) {
            long bad = demo_pattern_check(s->iov.iov_base, 0, size);
            if (bad >= 0)
                die("read of %zu bytes: wrong data at byte %ld", size, bad);
        }
    }
}

/* One correctness check per direction and size before timing anything. */
static void verify_once(int dir, size_t size)
{
    struct slot s;
    s.iov.iov_base = bufs;
    prep_call(&s, dir, size, 1);
    if (dir == DIR_READ)
        memset(bufs, 0, size);
    int rc = bfs_rpc_call(cli, &s.call);
    (void)rc;
    check_done(&s, dir, size, 1);
    if (dir == DIR_READ)
        demo_pattern_fill(bufs, 0, size); /* writes send the pattern */
}

/* A sliding window of `depth` calls: as the oldest completes it is started
 * again. After a warm-up, each repetition runs from one completion to a later
 * one (steady state, no ramp-up or drain) and counts the bytes completed in
 * between. */
static void measure_bw(struct bw_result *res, int dir, size_t size, int depth)
{
    struct slot *sl = calloc((size_t)depth, sizeof(*sl));
    if (!sl)
        die("out of memory");
    res->dir = dir;
    res->size = size;
    res->depth = depth;
    for (int i = 0; i < depth; i++) {
        sl[i].iov.iov_base = bufs + (opt.shared_buf ? 0 : (size_t)i * buf_stride);
        prep_call(&sl[i], dir, size, opt.verify);
        int rc = bfs_rpc_start(cli, &sl[i].call);
        if (rc < 0)
            die("%s: starting a call failed: %s", dir_name[dir], strerror(-rc));
    }
    int idx = 0;
    uint64_t total_calls = 0;
    /* Warm-up: a tenth of a repetition's time, at least 2 windows. */
    uint64_t warm_end = bfs_now_ns() + (uint64_t)opt.rep_ms * 100000ull;
    uint64_t warm_calls = 0, t_prev = 0, t_meas = 0;
    struct cpu_snap a, b;
    for (int r = -1; r < opt.reps; r++) {
        uint64_t calls = 0;
        uint64_t t_start = t_prev;
        for (;;) {
            bfs_rpc_call_t *one = &sl[idx].call;
            bfs_rpc_wait_all(cli, &one, 1);
            uint64_t now = bfs_now_ns();
            check_done(&sl[idx], dir, size, opt.verify);
            prep_call(&sl[idx], dir, size, opt.verify);
            int rc = bfs_rpc_start(cli, &sl[idx].call);
            if (rc < 0)
                die("%s: starting a call failed: %s", dir_name[dir], strerror(-rc));
            idx = (idx + 1) % depth;
            calls++;
            t_prev = now;
            if (r < 0) {
                warm_calls++;
                if (now >= warm_end && warm_calls >= (uint64_t)(2 * depth))
                    break;
            } else if (calls >= (uint64_t)opt.min_calls &&
                       now - t_start >= (uint64_t)opt.rep_ms * 1000000ull) {
                break;
            }
        }
        if (r < 0) {
            snap(&a);
            t_meas = t_prev;
            continue;
        }
        total_calls += calls;
        res->mbps[r] = (double)calls * (double)size / ((t_prev - t_start) / 1e9) / 1e6;
    }
    snap(&b);
    double wall = (t_prev - t_meas) / 1e9;
    /* Drain. */
    for (int i = 0; i < depth; i++) {
        bfs_rpc_call_t *one = &sl[(idx + i) % depth].call;
        bfs_rpc_wait_all(cli, &one, 1);
        check_done(&sl[(idx + i) % depth], dir, size, opt.verify);
    }
    res->calls = total_calls;
    res->calls_per_s = total_calls / wall;
    cpu_use(&a, &b, &res->cli_cpu, &res->srv_cpu, &res->other_cpu);
    res->med = median_dbl(res->mbps, opt.reps);
    res->lo = min_dbl(res->mbps, opt.reps);
    res->hi = max_dbl(res->mbps, opt.reps);
    free(sl);
}

/* ---- output ---- */

static void json_reps(FILE *f, const double *v, int n)
{
    fputc('[', f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s%.3f", i ? "," : "", v[i]);
    fputc(']', f);
}

static void json_num(FILE *f, double v)
{
    if (v < 0)
        fputs("null", f);
    else
        fprintf(f, "%.3f", v);
}

int main(int argc, char **argv)
{
    if (parse_args(argc, argv) < 0)
        return 2;
    uint64_t secret;
    if (opt.server_addr) {
        secret = demo_secret_from_env();
    } else {
        /* Fork the server before anything initialises UCX here. */
        secret = (bfs_now_ns() ^ ((uint64_t)getpid() << 32) ^ 0x9e3779b97f4a7c15ull) | 1;
        install_signals();
        atexit(cleanup_atexit);
        start_server(secret);
    }
    /* Watchdog: with a forked server SIGALRM stops it and exits. */
    alarm((unsigned)opt.max_seconds);

    static char addr[8192];
    ssize_t alen;
    if (opt.server_addr) {
        alen = demo_load_addr(opt.server_addr, addr, sizeof(addr));
        if (alen <= 0)
            die("cannot read the server address '%s': %s", opt.server_addr,
                strerror(alen < 0 ? (int)-alen : EINVAL));
    } else {
        alen = wait_server_addr(addr, sizeof(addr));
    }

    struct bfs_rpc_client_opts co = {
        .secret = secret,
        .timeout_ms = 20000,
        .peer_errors = opt.peer_errors,
        .spin_us = opt.spin_us,
    };
    if (bfs_rpc_client_create(&cli, &co) < 0)
        die("UCX client initialisation failed");
    srv_idx = bfs_rpc_client_add_server(cli, addr, (size_t)alen);
    if (srv_idx < 0)
        die("adding the server failed: %s", strerror(-srv_idx));
    {
        bfs_rpc_call_t call = {.server = srv_idx, .rpc_id = DEMO_NULL};
        int rc = bfs_rpc_call(cli, &call);
        if (rc != 0)
            die("cannot reach the server: %s", strerror(-rc));
    }

    size_t max_size = 0;
    int max_depth = 1;
    for (int i = 0; i < opt.nsizes; i++)
        if (opt.sizes[i] > max_size)
            max_size = opt.sizes[i];
    for (int i = 0; i < opt.ndepths; i++)
        if (opt.depths[i] > max_depth)
            max_depth = opt.depths[i];
    if (opt.shared_buf)
        max_depth = 1;
    if (!opt.do_write && !opt.do_read)
        max_size = 4096;
    /* Page-aligned, and offset a little between slots so that buffers do not
     * all start on the same cache sets. */
    buf_stride = (max_size + 4096 + 4095) & ~(size_t)4095;
    void *b = NULL;
    if (posix_memalign(&b, 4096, buf_stride * (size_t)max_depth) != 0)
        die("cannot allocate %zu bytes of buffers", buf_stride * (size_t)max_depth);
    bufs = b;
    demo_pattern_fill(bufs, 0, max_size);
    for (int i = 1; i < max_depth; i++)
        memcpy(bufs + (size_t)i * buf_stride, bufs, max_size);

    const char *tls = getenv("UCX_TLS");
    uint64_t t_begin = bfs_now_ns();
    struct lat_result lat;
    memset(&lat, 0, sizeof(lat));
    quiet_budget_s = opt.wait_quiet_s;
    if (opt.do_lat) {
        if (opt.wait_quiet_s)
            wait_quiet();
        measure_latency(&lat);
    }

    int nres = 0;
    struct bw_result *res = calloc((size_t)(2 * opt.nsizes * opt.ndepths), sizeof(*res));
    if (!res)
        die("out of memory");
    for (int dir = DIR_WRITE; dir <= DIR_READ; dir++) {
        if ((dir == DIR_WRITE && !opt.do_write) || (dir == DIR_READ && !opt.do_read))
            continue;
        for (int si = 0; si < opt.nsizes; si++) {
            verify_once(dir, opt.sizes[si]);
            for (int di = 0; di < opt.ndepths; di++) {
                if (opt.wait_quiet_s)
                    wait_quiet();
                measure_bw(&res[nres++], dir, opt.sizes[si], opt.depths[di]);
            }
        }
    }
    double elapsed = (bfs_now_ns() - t_begin) / 1e9;

    bfs_rpc_client_destroy(cli);
    cli = NULL;
    int sstatus = opt.server_addr ? 0 : stop_server();
    remove_tmp();
    if (!opt.server_addr && !(WIFEXITED(sstatus) && WEXITSTATUS(sstatus) == 0) &&
        !(WIFSIGNALED(sstatus) && WTERMSIG(sstatus) == SIGTERM))
        fprintf(stderr, "benchfs-rpc-bench: warning: the server ended with status 0x%x\n", sstatus);

    const char *mode = opt.peer_errors ? "peer" : "none";
    if (opt.json) {
        FILE *f = stdout;
        fprintf(f, "{\"tool\":\"benchfs-rpc-bench\",\"format\":1,\n");
        fprintf(f, "\"config\":{\"peer_errors\":%d,\"err_mode\":\"%s\",\"ucx_tls\":\"%s\",\"server\":\"%s\","
                   "\"reps\":%d,\"lat_iters\":%d,\"rep_ms\":%d,\"min_calls\":%d,\"spin_us\":%d,"
                   "\"shared_buffer\":%s,\"verify\":%s,\"quick\":%s,\"wait_quiet_s\":%d,"
                   "\"quiet_waited_s\":%.1f,\"elapsed_s\":%.2f},\n",
                opt.peer_errors, mode, tls ? tls : "", opt.server_addr ? "external" : "forked",
                opt.reps, opt.lat_iters, opt.rep_ms, opt.min_calls, opt.spin_us,
                opt.shared_buf ? "true" : "false", opt.verify ? "true" : "false",
                opt.quick ? "true" : "false", opt.wait_quiet_s, quiet_waited_s, elapsed);
        if (opt.do_lat) {
            fprintf(f, "\"latency\":{\"op\":\"null\",\"p50_us\":%.3f,\"p99_us\":%.3f,\"min_us\":%.3f,"
                       "\"calls_per_rep\":%d,\"cli_cpu\":",
                    lat.med_p50, lat.med_p99, lat.min_all, opt.lat_iters);
            json_num(f, lat.cli_cpu);
            fputs(",\"srv_cpu\":", f);
            json_num(f, lat.srv_cpu);
            fputs(",\"other_cpu\":", f);
            json_num(f, lat.other_cpu);
            fputs(",\"reps_p50_us\":", f);
            json_reps(f, lat.p50, opt.reps);
            fputs(",\"reps_p99_us\":", f);
            json_reps(f, lat.p99, opt.reps);
            fputs("},\n", f);
        }
        fputs("\"throughput\":[\n", f);
        for (int i = 0; i < nres; i++) {
            struct bw_result *r = &res[i];
            fprintf(f, "{\"dir\":\"%s\",\"size\":%zu,\"depth\":%d,\"mbps\":%.1f,\"min_mbps\":%.1f,"
                       "\"max_mbps\":%.1f,\"calls_per_s\":%.0f,\"calls\":%llu,\"cli_cpu\":",
                    dir_name[r->dir], r->size, r->depth, r->med, r->lo, r->hi, r->calls_per_s,
                    (unsigned long long)r->calls);
            json_num(f, r->cli_cpu);
            fputs(",\"srv_cpu\":", f);
            json_num(f, r->srv_cpu);
            fputs(",\"other_cpu\":", f);
            json_num(f, r->other_cpu);
            fputs(",\"reps_mbps\":", f);
            json_reps(f, r->mbps, opt.reps);
            fprintf(f, "}%s\n", i + 1 < nres ? "," : "");
        }
        fputs("]}\n", f);
    } else {
        printf("benchfs-rpc-bench: error handling %s (peer_errors=%d%s), UCX_TLS=%s, server %s\n",
               mode, opt.peer_errors, opt.peer_errors ? ": tcp only" : ": shared memory allowed",
               tls ? tls : "(default)", opt.server_addr ? "external" : "forked");
        printf("client buffers: %s\n", opt.shared_buf ? "one shared by the calls in flight (as ucx_perftest)"
                                                     : "one per call in flight");
        printf("medians of %d repetitions; MB/s = 10^6 bytes/s; cpu: cores busy in the client,\n"
               "the server, and other processes on the machine (noise: over ~0.2 means contention)\n\n",
               opt.reps);
        if (opt.do_lat)
            printf("null RPC round trip: p50 %.2f us   p99 %.2f us   min %.2f us   "
                   "(%d calls x %d reps; cpu %.2f / %.2f / other %.2f)\n\n",
                   lat.med_p50, lat.med_p99, lat.min_all, opt.lat_iters, opt.reps, lat.cli_cpu,
                   lat.srv_cpu, lat.other_cpu);
        if (nres) {
            printf("%-6s %9s %6s %10s %10s %10s %10s %6s %6s %6s\n", "op", "size", "depth",
                   "MB/s", "min", "max", "calls/s", "c-cpu", "s-cpu", "other");
            for (int i = 0; i < nres; i++) {
                struct bw_result *r = &res[i];
                char sb[32];
                printf("%-6s %9s %6d %10.1f %10.1f %10.1f %10.0f %6.2f %6.2f %6.2f\n",
                       dir_name[r->dir], fmt_size(r->size, sb, sizeof(sb)), r->depth, r->med, r->lo,
                       r->hi, r->calls_per_s, r->cli_cpu, r->srv_cpu, r->other_cpu);
            }
        }
        printf("\n(%.1f s", elapsed);
        if (opt.wait_quiet_s)
            printf(", %.1f s of it waiting for a quiet machine", quiet_waited_s);
        printf(")\n");
    }
    free(res);
    free(bufs);
    return 0;
}
