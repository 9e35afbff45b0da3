/* benchfsd: one BenchFS storage server. Usually one per node, started by
 * mpirun (or benchfs-run); runs standalone as rank 0 of 1 without mpirun. */
#include "bootstrap.h"
#include "open_refs.h"
#include "reaper.h"
#include "server.h"
#include "small_chunks.h"
#include "watchdog.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "../common/placement.h"
#include "../common/registry.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct options {
    const char *dir;
    const char *registry;
    uint64_t chunk_size;
    uint64_t small_max;
    uint64_t cache;
    int direct;
};

static void usage(FILE *f)
{
    fprintf(f,
            "usage: benchfsd --dir DIR --registry FILE [--chunk-size SIZE] [--io MODE]\n"
            "  --dir DIR          node-local directory for data and metadata (created)\n"
            "  --registry FILE    where server rank 0 publishes the servers' addresses\n"
            "  --chunk-size SIZE  bytes per chunk, with K/M/G suffix (default 4M)\n"
            "  --io MODE          chunk I/O: direct-write (default: O_DIRECT for aligned\n"
            "                     writes, reads through the page cache), direct (both),\n"
            "                     buffered (neither); --direct means --io direct\n"
            "  --small-max SIZE   chunks up to SIZE bytes are kept in the metadata store,\n"
            "                     not as files (default 16K, at most 256K; 0: never)\n"
            "  --cache SIZE       memory for copies of just-written chunk data, served to\n"
            "                     the reads that follow (O_DIRECT writes skip the page\n"
            "                     cache); taken as data is written; default 0 (none):\n"
            "                     on VMs it costs writes (docs/PERFORMANCE.md)\n"
            "Run under mpirun for several servers: mpirun -np N benchfsd ...\n"
            "Environment: BENCHFS_LOG=error|warn|info|debug, UCX_* for the transport\n"
            "  (cma is left out unless UCX_TLS is set or BENCHFS_CMA=1; tcp put lanes\n"
            "  are off and tcp connects non-blocking unless UCX_TCP_* say otherwise).\n");
}

static int parse_size(const char *s, uint64_t *out)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    switch (*end) {
    case 'k': case 'K': v <<= 10; end++; break;
    case 'm': case 'M': v <<= 20; end++; break;
    case 'g': case 'G': v <<= 30; end++; break;
    }
    if (*end || v == 0)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_args(int argc, char **argv, struct options *o)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"registry", required_argument, NULL, 'r'},
        {"chunk-size", required_argument, NULL, 'c'},
        {"direct", no_argument, NULL, 'D'},
        {"io", required_argument, NULL, 'I'},
        {"small-max", required_argument, NULL, 'S'},
        {"cache", required_argument, NULL, 'C'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    /* 4 MiB: every chunk is a file on the backing store, and creating
     * files is what a server's CPU goes to when chunks are small (ext4
     * inode allocation; docs/PERFORMANCE.md). */
    o->chunk_size = 4u << 20;
    o->direct = 1;
    o->small_max = BFS_SMALL_MAX_DEFAULT;
    /* Off by default: IOR reads of fresh data become 3x faster with it, but
     * on this VM its writes 0.65-0.8x in 2 of 3 rounds: the memory the copies
     * need is touched for the first time, which costs here even when done
     * ahead by an idle thread (docs/PERFORMANCE.md). */
    o->cache = 0;
    int c;
    while ((c = getopt_long(argc, argv, "d:r:c:DI:S:C:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'd': o->dir = optarg; break;
        case 'r': o->registry = optarg; break;
        case 'c':
            if (parse_size(optarg, &o->chunk_size) < 0 || o->chunk_size > (1u << 30)) {
                fprintf(stderr, "benchfsd: bad --chunk-size '%s' (4K .. 1G)\n", optarg);
                return -1;
            }
            break;
        case 'D': o->direct = 2; break;
        case 'S':
            if (!strcmp(optarg, "0"))
                o->small_max = 0;
            else if (parse_size(optarg, &o->small_max) < 0 || o->small_max > BFS_SMALL_MAX_LIMIT) {
                fprintf(stderr, "benchfsd: bad --small-max '%s' (0 .. 256K)\n", optarg);
                return -1;
            }
            break;
        case 'C':
            if (!strcmp(optarg, "0"))
                o->cache = 0;
            else if (parse_size(optarg, &o->cache) < 0) {
                fprintf(stderr, "benchfsd: bad --cache '%s'\n", optarg);
                return -1;
            }
            break;
        case 'I':
            if (!strcmp(optarg, "buffered"))
                o->direct = 0;
            else if (!strcmp(optarg, "direct-write"))
                o->direct = 1;
            else if (!strcmp(optarg, "direct"))
                o->direct = 2;
            else {
                fprintf(stderr, "benchfsd: bad --io '%s' (buffered, direct-write, direct)\n", optarg);
                return -1;
            }
            break;
        case 'h': usage(stdout); exit(0);
        default: usage(stderr); return -1;
        }
    }
    if (!o->dir || !o->registry) {
        usage(stderr);
        return -1;
    }
    if (o->chunk_size < 4096) {
        fprintf(stderr, "benchfsd: --chunk-size must be at least 4K\n");
        return -1;
    }
    return 0;
}

/* A restarted server must see the job layout it stored its data under. */
static int check_layout(const char *dir, unsigned nservers, uint64_t chunk_size)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/layout", dir);
    FILE *f = fopen(path, "r");
    if (f) {
        unsigned n = 0;
        uint64_t cs = 0;
        int ok = fscanf(f, "servers %u chunk_size %" SCNu64, &n, &cs) == 2;
        fclose(f);
        if (ok && (n != nservers || cs != chunk_size)) {
            bfs_error("%s holds data of a job with %u servers and chunk size %" PRIu64
                      "; this job has %u and %" PRIu64 ": use another --dir or the same layout",
                      dir, n, cs, nservers, chunk_size);
            return -EINVAL;
        }
        if (ok)
            return 0;
    }
    f = fopen(path, "w");
    if (!f)
        return -errno;
    fprintf(f, "servers %u chunk_size %" PRIu64 "\n", nservers, chunk_size);
    return fclose(f) == 0 ? 0 : -errno;
}

static void on_signal(int fd, void *arg)
{
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si))
        bfs_info("signal %u: shutting down", si.ssi_signo);
    bfs_evloop_stop(arg);
}

struct watch {
    pid_t ppid;
    bfs_evloop_t *loop;
};

/* No orphans: when the launcher is gone, so are we. */
static void on_tick(void *arg)
{
    struct watch *w = arg;
    if (getppid() != w->ppid) {
        bfs_warn("launcher (pid %d) is gone: shutting down", (int)w->ppid);
        bfs_evloop_stop(w->loop);
    }
}

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    size_t n = strnlen(dir, sizeof(tmp) - 1);
    memcpy(tmp, dir, n);
    tmp[n] = '\0';
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* Shutdown keeps what was acknowledged (docs/DESIGN.md, "Failure
 * behaviour"): stop taking requests, then finish every request already
 * received - its chunk I/O completes, its metadata batch commits, its reply
 * goes out - before anything is closed. Replies still leave only after what
 * they acknowledge is in the page cache (write_done, flush_pending); the
 * order here only makes sure that all of them get there, and that no
 * handler runs on a closed store. Bounded: a request whose client stopped
 * answering, or I/O the kernel does not finish, is left to the bounded
 * waits of the chunk store's and the RPC server's close. */
#define SHUTDOWN_DRAIN_NS (5 * 1000000000ull)
static void shutdown_drain(struct bfs_server *s)
{
    bfs_rpc_server_quiesce(s->rpc);
    uint64_t end = bfs_now_ns() + SHUTDOWN_DRAIN_NS;
    for (;;) {
        int n = bfs_rpc_server_progress(s->rpc);
        int r = bfs_chunk_store_reap(s->chunks);
        n += r > 0 ? r : 0;
        n += bfs_fs_commit(s);
        if (!bfs_chunk_store_inflight(s->chunks) && !s->pending &&
            !bfs_rpc_server_inflight(s->rpc))
            break;
        if (bfs_now_ns() >= end) {
            bfs_warn("shutdown: %u chunk operations and %u requests still unfinished after %llu s",
                     bfs_chunk_store_inflight(s->chunks), bfs_rpc_server_inflight(s->rpc),
                     SHUTDOWN_DRAIN_NS / 1000000000ull);
            break;
        }
        if (n == 0) {
            struct timespec ts = {0, 100000};
            nanosleep(&ts, NULL);
        }
    }
    int rc = bfs_meta_sync(s->meta);
    if (rc < 0)
        bfs_warn("shutdown: syncing the metadata store: %s", strerror(-rc));
    if ((rc = bfs_chunk_store_sync(s->chunks)) < 0)
        bfs_warn("shutdown: syncing the chunk files: %s", strerror(-rc));
}

/* The RPC server moved to a new worker: publish the registry again, with our
 * new address, where clients of this rank look (registry.h). */
struct moved {
    struct bfs_registry *reg;
    const char *registry;
    unsigned rank;
    int written;
    /* Our workers that stopped receiving, newest last: every moved file
     * names them, also after later rotations (registry.h). */
    uint64_t stuck[BFS_REGISTRY_MAX_STUCK];
    unsigned nstuck;
    char path[4200];
};

static void on_moved(const void *addr, size_t len, const void *old, size_t old_len, int stuck,
                     void *arg)
{
    struct moved *m = arg;
    if (stuck) {
        if (m->nstuck == BFS_REGISTRY_MAX_STUCK)
            memmove(m->stuck, m->stuck + 1, sizeof(m->stuck) - sizeof(m->stuck[0]));
        else
            m->nstuck++;
        m->stuck[m->nstuck - 1] = bfs_registry_addr_hash(old, old_len);
    }
    void *copy = malloc(len);
    if (!copy) {
        bfs_error("cannot publish the new address: out of memory");
        return;
    }
    memcpy(copy, addr, len);
    free(m->reg->servers[m->rank].addr);
    m->reg->servers[m->rank].addr = copy;
    m->reg->servers[m->rank].len = len;
    memcpy(m->reg->stuck, m->stuck, sizeof(m->stuck));
    m->reg->nstuck = m->nstuck;
    int rc = bfs_registry_write(m->path, m->reg);
    m->reg->nstuck = 0; /* the registry itself says nothing of moves */
    if (rc < 0) {
        bfs_error("cannot publish the new address in %s: %s", m->path, strerror(-rc));
        return;
    }
    m->written = 1;
    /* Also in the registry itself, for clients that start from now on, with
     * the other servers' latest addresses (their moved files): servers
     * rotate workers (rpc_server.c, rotate), and an old address put back
     * here would send every new client to a worker being drained. Two
     * servers writing at once may still put back the other's previous
     * address: their clients then find the moved file, a second later. */
    for (unsigned r = 0; r < m->reg->nservers; r++) {
        void *a;
        size_t n;
        if (r == m->rank || !bfs_registry_read_moved(m->registry, r, m->reg->nservers,
                                                     m->reg->secret, NULL, 0, &a, &n))
            continue;
        free(m->reg->servers[r].addr);
        m->reg->servers[r].addr = a;
        m->reg->servers[r].len = n;
    }
    if ((rc = bfs_registry_write(m->registry, m->reg)) < 0)
        bfs_warn("cannot update the registry %s: %s", m->registry, strerror(-rc));
    bfs_info("new address published in %s and %s", m->path, m->registry);
}

int main(int argc, char **argv)
{
    struct options o = {0};
    if (parse_args(argc, argv, &o) < 0)
        return 2;
    bfs_log_set_prefix("benchfsd");
    struct watch w = {.ppid = getppid()};
    prctl(PR_SET_PDEATHSIG, SIGTERM);

    sigset_t mask;
    sigemptyset(&mask);
    sigaddset(&mask, SIGINT);
    sigaddset(&mask, SIGTERM);
    sigaddset(&mask, SIGHUP);
    sigprocmask(SIG_BLOCK, &mask, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct bfs_boot boot;
    struct bfs_server s = {.chunk_size = o.chunk_size, .small_max = o.small_max};
    struct bfs_registry reg = {0};
    char mydir[4096], metadir[4200];
    int sfd = -1, rc, wrote_registry = 0;
    struct bfs_watchdog *wd = NULL;
    struct moved moved = {0};
    if ((rc = bfs_boot_init(&boot)) < 0)
        return 1;
    s.rank = boot.rank;
    s.nservers = boot.size;
    snprintf(mydir, sizeof(mydir), "%s/server-%u", o.dir, s.rank);
    snprintf(metadir, sizeof(metadir), "%s/meta", mydir);
    s.dir = mydir;
    bfs_rpc_bufpool_init(&s.pool);
    if ((rc = mkdir_p(metadir)) < 0) {
        bfs_error("cannot create %s: %s", metadir, strerror(-rc));
        goto out;
    }
    if ((rc = check_layout(mydir, s.nservers, s.chunk_size)) < 0)
        goto out;
    if ((rc = bfs_evloop_create(&s.loop)) < 0)
        goto out;
    w.loop = s.loop;
    /* No cma unless asked for (docs/DESIGN.md, "Transports"): a client
     * that dies in the middle of a large transfer must not take the server,
     * and everybody's data, down with it. */
    const char *cma = getenv("BENCHFS_CMA");
    struct bfs_rpc_server_opts ro = {.exclude_cma = !(cma && !strcmp(cma, "1"))};
    if ((rc = bfs_rpc_server_create(&s.rpc, &ro)) < 0)
        goto out;

    uint64_t secret = 0;
    if (s.rank == 0)
        while (secret == 0)
            if (getrandom(&secret, sizeof(secret), 0) != (ssize_t)sizeof(secret))
                secret = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL);
    reg.nservers = s.nservers;
    reg.chunk_size = s.chunk_size;
    reg.servers = calloc(s.nservers, sizeof(*reg.servers));
    if (!reg.servers) {
        rc = -ENOMEM;
        goto out;
    }
    const void *addr;
    size_t alen;
    bfs_rpc_server_address(s.rpc, &addr, &alen);
    if ((rc = bfs_boot_exchange(&boot, addr, alen, &secret, reg.servers)) < 0)
        goto out;
    reg.secret = secret;
    bfs_rpc_server_set_secret(s.rpc, secret);

    if ((rc = bfs_meta_open(&s.meta, metadir, s.rank,
                            bfs_place_meta("/", 1, s.nservers) == s.rank)) < 0) {
        bfs_error("cannot open the metadata store in %s: %s", metadir, strerror(-rc));
        goto out;
    }
    struct bfs_chunk_store_opts co = {
        .direct = o.direct, .owned = bfs_server_owns_chunk, .owned_arg = &s,
        .cache_bytes = (size_t)o.cache,
        .cache_chunk = (size_t)o.chunk_size,
    };
    if ((rc = bfs_chunk_store_open(&s.chunks, mydir, &co)) < 0) {
        bfs_error("cannot open the chunk store in %s: %s", mydir, strerror(-rc));
        goto out;
    }
    s.pending_tail = &s.pending;
    if ((rc = bfs_fs_handlers_register(&s)) < 0 || (rc = bfs_rpc_server_attach(s.rpc, s.loop)) < 0 ||
        (rc = bfs_chunk_store_attach(s.chunks, s.loop)) < 0 ||
        (rc = bfs_evloop_add_prepare(s.loop, bfs_fs_commit, &s)) < 0)
        goto out;
    /* Open files and the reaper of dead ones (after the commit hook: what
     * the reaper adds to the batch is committed in the next pass). */
    if ((rc = bfs_open_refs_create(&s.refs, &s)) < 0 ||
        (rc = bfs_reaper_start(&s, &reg, o.registry)) < 0) {
        bfs_error("cannot start the reaper: %s", strerror(-rc));
        goto out;
    }
    bfs_rpc_server_on_released(s.rpc, bfs_open_refs_released, s.refs);
    sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0 || (rc = bfs_evloop_add_fd(s.loop, sfd, on_signal, s.loop)) < 0) {
        rc = sfd < 0 ? -errno : rc;
        goto out;
    }
    bfs_evloop_set_tick(s.loop, 1000, on_tick, &w);

    /* A moved address of an earlier job on the same registry path is not ours. */
    if (bfs_registry_moved_path(moved.path, sizeof(moved.path), o.registry, s.rank) == 0)
        unlink(moved.path);
    moved.reg = &reg;
    moved.registry = o.registry;
    moved.rank = s.rank;
    bfs_rpc_server_on_moved(s.rpc, on_moved, &moved);

    /* Everyone serves before anyone can find us. */
    if ((rc = bfs_boot_barrier(&boot)) < 0)
        goto out;
    if (s.rank == 0) {
        if ((rc = bfs_registry_write(o.registry, &reg)) < 0) {
            bfs_error("cannot write the registry %s: %s", o.registry, strerror(-rc));
            goto out;
        }
        wrote_registry = 1;
        bfs_debug("registry %s written: %u servers, chunk size %" PRIu64 ", job secret set",
                  o.registry, reg.nservers, reg.chunk_size);
    }
    bfs_info("rank %u of %u serving %s (chunk size %" PRIu64 ")", s.rank, s.nservers, mydir,
             s.chunk_size);
    if (bfs_watchdog_start(&wd, s.rank, s.nservers, &reg, o.registry, boot.who) < 0)
        bfs_warn("cannot start the peer watchdog: peer failures will not be reported");
    rc = bfs_evloop_run(s.loop);
    bfs_watchdog_stop(wd);
    shutdown_drain(&s);

out:
    if (wrote_registry)
        unlink(o.registry);
    if (moved.written)
        unlink(moved.path);
    bfs_reaper_stop(&s); /* its entries stay: reaped after a restart */
    if (s.rpc)
        bfs_rpc_server_on_released(s.rpc, NULL, NULL);
    if (s.chunks)
        bfs_chunk_store_close(s.chunks);
    /* Answer what the last loop pass queued, and what completed in close
     * (after a drain that timed out); the RPC server refuses the rest. */
    if (s.meta && s.pending_tail)
        bfs_fs_commit(&s);
    bfs_rpc_server_destroy(s.rpc);
    bfs_open_refs_destroy(s.refs);
    if (s.meta)
        bfs_meta_close(s.meta);
    if (sfd >= 0)
        close(sfd);
    bfs_evloop_destroy(s.loop);
    bfs_rpc_bufpool_destroy(&s.pool);
    bfs_registry_free(&reg);
    bfs_boot_fini(&boot);
    if (rc < 0)
        bfs_error("rank %u exiting after an error: %s", s.rank, strerror(-rc));
    return rc < 0 ? 1 : 0;
}
