/* The reaper: see reaper.h. */
#define _GNU_SOURCE
#include "reaper.h"
#include "meta_reap.h"
#include "open_refs.h"
#include "server.h"
#include "small_chunks.h"
#include "../common/clock.h"
#include "../common/log.h"
#include "../common/placement.h"
#include "../common/proto.h"
#include "../rpc/rpc_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

/* Calls of the reaper thread: short, so that a dead peer delays a
 * shutdown by this much at most; a timed-out free is retried. */
#define CALL_TIMEOUT_MS 5000
/* Retry of a server that failed: 1 s, doubling up to 16 s. */
#define RETRY_MIN_NS 1000000000ull
#define RETRY_MAX_NS 16000000000ull
/* The thread's RPC client goes when idle this long (its connections
 * would otherwise count as clients of every server for ever). */
#define CLIENT_IDLE_NS 2000000000ull
/* Jobs whose calls are in flight at once. */
#define BATCH 64
/* Tombstones of dead files (meta_reap.h) are kept this long: far beyond any
 * time a write can still be on its way (the RPC deadline, 30 s by default,
 * and its resend to a moved server). Swept a bounded step at a time. */
#define DEAD_KEEP_NS (3600 * 1000000000ull)
#define DEAD_SWEEP_EVERY_NS (60 * 1000000000ull)
#define DEAD_SWEEP_STEP 4096

struct job {
    uint64_t fid, size;
    unsigned char *todo;   /* per server: TRUNC_CHUNKS not confirmed yet */
    struct bfs_server *s;
    int local;             /* our own chunk files are still being renamed */
    int remote;            /* with the thread: other servers to confirm */
    uint64_t retry_ns, backoff_ns;
    struct job *next;
};

struct bfs_reaper {
    struct bfs_server *s;
    struct job *fresh;      /* died in the open batch (not committed) */
    struct job *ready;      /* committed: chunks to free */
    unsigned pending;       /* committed, not confirmed everywhere */
    int efd;                /* the thread's reports */
    /* Shared with the thread, under mu. */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct job *queue;      /* to the thread */
    struct job *done;       /* from the thread */
    uint64_t next_sweep_ns; /* of the tombstones (loop only) */
    int stop;
    pthread_t th;
    int th_started;
    /* The thread's own. */
    struct bfs_registry reg;
    char *registry;
};

static struct job *job_new(struct bfs_server *s, uint64_t fid, uint64_t size)
{
    struct job *j = calloc(1, sizeof(*j));
    if (j && !(j->todo = calloc(s->nservers, 1))) {
        free(j);
        return NULL;
    }
    if (j) {
        j->fid = fid;
        j->size = size;
        j->s = s;
    }
    return j;
}

static void job_free(struct job *j)
{
    if (j) {
        free(j->todo);
        free(j);
    }
}

static void list_free(struct job *j)
{
    while (j) {
        struct job *n = j->next;
        job_free(j);
        j = n;
    }
}

/* meta_reap.h's on_reap: a file died in the open batch. */
static void on_reap(void *arg, uint64_t fid, uint64_t size)
{
    struct bfs_server *s = arg;
    struct job *j = job_new(s, fid, size);
    if (!j) {
        bfs_warn("reaper: out of memory: file %016llx is reaped at the next start",
                 (unsigned long long)fid);
        return;
    }
    j->next = s->reaper->fresh;
    s->reaper->fresh = j;
}

static int is_open(void *arg, uint64_t fid)
{
    struct bfs_server *s = arg;
    return bfs_open_refs_held(s->refs, fid);
}

void bfs_reaper_committed(struct bfs_server *s, int rc)
{
    struct bfs_reaper *r = s->reaper;
    if (!r || !r->fresh)
        return;
    struct job *j = r->fresh;
    r->fresh = NULL;
    if (rc < 0) {
        list_free(j); /* the files did not die */
        return;
    }
    while (j) {
        struct job *n = j->next;
        j->next = r->ready;
        r->ready = j;
        r->pending++;
        j = n;
    }
}

void bfs_reaper_closed(struct bfs_server *s, uint64_t fid)
{
    struct bfs_inode dead;
    if (bfs_meta_fid_orphan(s->meta, fid) <= 0)
        return; /* still named (the common close): nothing to write */
    bfs_fs_meta_begin(s);
    int rc = bfs_meta_fid_release(s->meta, fid, &dead);
    if (rc < 0)
        bfs_warn("reaper: releasing closed file %016llx: %s", (unsigned long long)fid,
                 strerror(-rc));
}

unsigned bfs_reaper_pending(const struct bfs_server *s)
{
    return s->reaper ? s->reaper->pending : 0;
}

static void finish(struct bfs_server *s, struct job *j)
{
    bfs_fs_meta_begin(s);
    int rc = bfs_meta_reap_done(s->meta, j->fid);
    if (rc < 0)
        bfs_warn("reaper: dropping the entry of %016llx: %s", (unsigned long long)j->fid,
                 strerror(-rc));
    s->reaper->pending--;
    job_free(j);
}

static void local_removed(int64_t res, void *arg);

/* Loop: free our own chunks of the committed dead files, hand the rest to
 * the thread. Runs after the commit hook; work it adds to the batch is
 * committed in the next pass (returns 1 then). */
/* Loop: old tombstones go, DEAD_SWEEP_STEP entries per turn while there
 * are old ones, else once a minute. 1: the batch holds the deletions. */
static int sweep_tombstones(struct bfs_server *s, struct bfs_reaper *r)
{
    uint64_t now = bfs_now_ns();
    if (now < r->next_sweep_ns)
        return 0;
    uint64_t wall = (uint64_t)bfs_wall_ns();
    unsigned dropped = 0;
    /* Joins the open batch if there is one, else commits on its own. */
    int rc = wall > DEAD_KEEP_NS
                 ? bfs_meta_dead_expire(s->meta, wall - DEAD_KEEP_NS, DEAD_SWEEP_STEP, &dropped)
                 : 0;
    if (rc < 0)
        bfs_warn("reaper: dropping old tombstones: %s", strerror(-rc));
    r->next_sweep_ns = now + (dropped == DEAD_SWEEP_STEP ? 0 : DEAD_SWEEP_EVERY_NS);
    return dropped > 0;
}

static int reaper_prepare(void *arg)
{
    struct bfs_server *s = arg;
    struct bfs_reaper *r = s->reaper;
    int swept = sweep_tombstones(s, r);
    if (!r->ready)
        return swept;
    struct job *j = r->ready, *remote = NULL;
    r->ready = NULL;
    uint64_t cs = s->chunk_size;
    while (j) {
        struct job *n = j->next;
        uint64_t had = (j->size + cs - 1) / cs;
        int any = 0, mine = 0;
        if (had >= s->nservers) {
            memset(j->todo, 1, s->nservers);
        } else {
            for (uint64_t i = 0; i < had; i++)
                j->todo[bfs_place_chunk(j->fid, i, s->nservers)] = 1;
        }
        mine = j->todo[s->rank];
        j->todo[s->rank] = 0;
        for (unsigned i = 0; i < s->nservers; i++)
            any |= j->todo[i];
        if (mine) {
            bfs_fs_meta_begin(s);
            int dead = bfs_meta_dead_mark(s->meta, j->fid, bfs_wall_ns());
            if (dead < 0)
                bfs_warn("reaper: tombstone of %016llx: %s", (unsigned long long)j->fid,
                         strerror(-dead));
            int dropped = bfs_small_remove(s->meta, j->fid, 0, had);
            int rc = bfs_chunk_remove(s->chunks, j->fid, 0, had, local_removed, j);
            j->local = rc == 0;
            if (rc < 0 || dropped < 0)
                bfs_warn("reaper: freeing the chunks of %016llx here: %s",
                         (unsigned long long)j->fid, strerror(rc < 0 ? -rc : -dropped));
        }
        if (any) {
            j->remote = 1;
            j->next = remote;
            remote = j;
        } else if (!j->local) {
            finish(s, j);
        }
        j = n;
    }
    if (remote) {
        pthread_mutex_lock(&r->mu);
        struct job **t = &remote;
        while (*t)
            t = &(*t)->next;
        *t = r->queue;
        r->queue = remote;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
    }
    return 1;
}

/* Our chunk files of a dead file are renamed away (bfs_chunk_remove,
 * a slice per loop turn): the job is done here once the other servers
 * confirmed too. */
static void local_removed(int64_t res, void *arg)
{
    struct job *j = arg;
    if (res < 0)
        bfs_warn("reaper: freeing the chunks of %016llx here: %s", (unsigned long long)j->fid,
                 strerror((int)-res));
    j->local = 0;
    if (!j->remote)
        finish(j->s, j);
}

/* Loop: the thread confirmed jobs. */
static void on_done(int fd, void *arg)
{
    struct bfs_server *s = arg;
    struct bfs_reaper *r = s->reaper;
    uint64_t v;
    if (read(fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&r->mu);
    struct job *j = r->done;
    r->done = NULL;
    pthread_mutex_unlock(&r->mu);
    while (j) {
        struct job *n = j->next;
        j->remote = 0;
        if (!j->local)
            finish(s, j);
        j = n;
    }
}

/* ---- the thread ---- */

static bfs_rpc_client_t *client_make(struct bfs_reaper *r)
{
    bfs_rpc_client_t *c;
    struct bfs_rpc_client_opts o = {.secret = r->reg.secret, .timeout_ms = CALL_TIMEOUT_MS,
                                    .peer_errors = -1, .server_peer = 1};
    if (bfs_rpc_client_create(&c, &o) < 0)
        return NULL;
    for (unsigned i = 0; i < r->reg.nservers; i++) {
        void *a;
        size_t n;
        if (r->registry && bfs_registry_read_moved(r->registry, i, r->reg.nservers,
                                                   r->reg.secret, NULL, 0, &a, &n)) {
            free(r->reg.servers[i].addr);
            r->reg.servers[i].addr = a;
            r->reg.servers[i].len = n;
        }
        if (bfs_rpc_client_add_server(c, r->reg.servers[i].addr, r->reg.servers[i].len) < 0) {
            bfs_rpc_client_destroy(c);
            return NULL;
        }
    }
    return c;
}

/* A server that did not answer may have moved (rotation): its newest
 * address for the next try. */
static void refresh(struct bfs_reaper *r, bfs_rpc_client_t *c, unsigned i)
{
    void *a;
    size_t n;
    if (!r->registry ||
        !bfs_registry_read_moved(r->registry, i, r->reg.nservers, r->reg.secret, NULL, 0, &a, &n))
        return;
    if (n == r->reg.servers[i].len && !memcmp(a, r->reg.servers[i].addr, n)) {
        free(a);
        return;
    }
    free(r->reg.servers[i].addr);
    r->reg.servers[i].addr = a;
    r->reg.servers[i].len = n;
    bfs_rpc_client_set_server(c, (int)i, a, n);
}

/* TRUNC_CHUNKS to every server a job still needs, for up to BATCH jobs at
 * once. */
static void run_batch(struct bfs_reaper *r, bfs_rpc_client_t *c, struct job **jobs, int nj)
{
    unsigned ns = r->reg.nservers;
    size_t max = (size_t)nj * ns;
    bfs_rpc_call_t *calls = calloc(max, sizeof(*calls));
    bfs_rpc_call_t **ptrs = calloc(max, sizeof(*ptrs));
    int *owner = calloc(max, sizeof(*owner));
    int n = 0;
    if (calls && ptrs && owner) {
        for (int k = 0; k < nj; k++)
            for (unsigned i = 0; i < ns; i++) {
                if (!jobs[k]->todo[i])
                    continue;
                bfs_rpc_call_t *call = &calls[n];
                call->server = (int)i;
                call->rpc_id = BFS_OP_TRUNC_CHUNKS;
                call->flags = BFS_F_DEAD; /* and no late piece makes one again */
                call->arg0 = jobs[k]->fid;
                call->offset = 0;
                call->arg1 = jobs[k]->size;
                owner[n] = k;
                ptrs[n] = call;
                bfs_rpc_start(c, call);
                n++;
            }
        bfs_rpc_wait_all(c, ptrs, n);
        for (int q = 0; q < n; q++) {
            if (calls[q].status >= 0)
                jobs[owner[q]]->todo[calls[q].server] = 0;
            else
                refresh(r, c, (unsigned)calls[q].server);
        }
    }
    free(calls);
    free(ptrs);
    free(owner);
}

static int job_left(const struct job *j, unsigned ns)
{
    for (unsigned i = 0; i < ns; i++)
        if (j->todo[i])
            return 1;
    return 0;
}

static void *reaper_thread(void *arg)
{
    struct bfs_reaper *r = arg;
    bfs_rpc_client_t *c = NULL;
    struct job *work = NULL; /* waiting for a retry */
    uint64_t idle_since = bfs_now_ns();
    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        struct job *q = r->queue;
        r->queue = NULL;
        pthread_mutex_unlock(&r->mu);
        while (q) {
            struct job *n = q->next;
            q->next = work;
            work = q;
            q = n;
        }
        uint64_t now = bfs_now_ns(), next = now + RETRY_MAX_NS;
        struct job *due[BATCH];
        int nd = 0;
        for (struct job *j = work; j && nd < BATCH; j = j->next)
            if (j->retry_ns <= now)
                due[nd++] = j;
        if (nd && !c)
            c = client_make(r);
        if (nd && c) {
            run_batch(r, c, due, nd);
            idle_since = bfs_now_ns();
        }
        /* Confirmed jobs go back to the loop; the others wait. */
        struct job *done = NULL, **pp = &work;
        now = bfs_now_ns();
        while (*pp) {
            struct job *j = *pp;
            if (!job_left(j, r->reg.nservers)) {
                *pp = j->next;
                j->next = done;
                done = j;
                continue;
            }
            int was_due = 0;
            for (int k = 0; k < nd; k++)
                was_due |= due[k] == j;
            if (was_due || (nd && !c)) {
                j->backoff_ns = j->backoff_ns ? j->backoff_ns * 2 : RETRY_MIN_NS;
                if (j->backoff_ns > RETRY_MAX_NS)
                    j->backoff_ns = RETRY_MAX_NS;
                j->retry_ns = now + j->backoff_ns;
            }
            if (j->retry_ns < next)
                next = j->retry_ns;
            pp = &j->next;
        }
        if (!work && c && now - idle_since >= CLIENT_IDLE_NS) {
            bfs_rpc_client_destroy(c);
            c = NULL;
        }
        pthread_mutex_lock(&r->mu);
        if (done) {
            struct job **t = &done;
            while (*t)
                t = &(*t)->next;
            *t = r->done;
            r->done = done;
            uint64_t one = 1;
            if (write(r->efd, &one, sizeof(one)) < 0)
                bfs_warn("reaper: cannot wake the event loop");
        }
        if (r->queue || r->stop)
            continue;
        if (work && next <= now)
            continue;
        if (!work && c)
            next = idle_since + CLIENT_IDLE_NS;
        if (!work && !c) {
            pthread_cond_wait(&r->cv, &r->mu);
            continue;
        }
        struct timespec ts = bfs_timespec_in(CLOCK_MONOTONIC, next > now ? next - now : 0);
        pthread_cond_timedwait(&r->cv, &r->mu, &ts);
    }
    pthread_mutex_unlock(&r->mu);
    list_free(work); /* their entries stay: reaped after the restart */
    if (c)
        bfs_rpc_client_destroy(c);
    return NULL;
}

/* ---- start and stop ---- */

static void load_entry(void *arg, uint64_t fid, uint64_t size)
{
    struct bfs_server *s = arg;
    struct job *j = job_new(s, fid, size);
    if (!j)
        return;
    j->next = s->reaper->ready;
    s->reaper->ready = j;
    s->reaper->pending++;
}

int bfs_reaper_start(struct bfs_server *s, const struct bfs_registry *reg, const char *registry)
{
    struct bfs_reaper *r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    s->reaper = r;
    r->s = s;
    r->efd = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cv, &ca);
    pthread_condattr_destroy(&ca);
    r->reg.nservers = reg->nservers;
    r->reg.chunk_size = reg->chunk_size;
    r->reg.secret = reg->secret;
    r->reg.servers = calloc(reg->nservers, sizeof(*r->reg.servers));
    if (!r->reg.servers || (registry && !(r->registry = strdup(registry))))
        return -ENOMEM;
    for (unsigned i = 0; i < reg->nservers; i++) {
        if (!(r->reg.servers[i].addr = malloc(reg->servers[i].len)))
            return -ENOMEM;
        memcpy(r->reg.servers[i].addr, reg->servers[i].addr, reg->servers[i].len);
        r->reg.servers[i].len = reg->servers[i].len;
    }
    /* Nothing is open after a start: every orphan dies now. */
    unsigned orphans = 0;
    int rc = bfs_meta_reap_orphans(s->meta, &orphans);
    if (rc < 0)
        bfs_warn("reaper: orphans left from before the restart: %s", strerror(-rc));
    if ((rc = bfs_meta_reap_each(s->meta, load_entry, s)) < 0)
        return rc;
    if (orphans || r->pending)
        bfs_info("reaper: %u orphans from before the restart died; %u dead files to reap",
                 orphans, r->pending);
    bfs_meta_reap_hooks(s->meta, is_open, on_reap, s);
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->efd < 0)
        return -errno;
    if ((rc = bfs_evloop_add_fd(s->loop, r->efd, on_done, s)) < 0 ||
        (rc = bfs_evloop_add_prepare(s->loop, reaper_prepare, s)) < 0)
        return rc;
    if ((rc = pthread_create(&r->th, NULL, reaper_thread, r)) != 0)
        return -rc;
    r->th_started = 1;
    return 0;
}

void bfs_reaper_stop(struct bfs_server *s)
{
    struct bfs_reaper *r = s->reaper;
    if (!r)
        return;
    /* Our renames of dead files' chunks end here (their jobs may sit in
     * the lists freed below). */
    if (s->chunks)
        bfs_chunk_store_finish_removals(s->chunks);
    if (r->th_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_signal(&r->cv);
        pthread_mutex_unlock(&r->mu);
        pthread_join(r->th, NULL);
    }
    if (s->meta)
        bfs_meta_reap_hooks(s->meta, NULL, NULL, NULL);
    list_free(r->fresh);
    list_free(r->ready);
    list_free(r->queue);
    list_free(r->done);
    if (r->efd >= 0) {
        bfs_evloop_del_fd(s->loop, r->efd);
        close(r->efd);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    bfs_registry_free(&r->reg);
    free(r->registry);
    free(r);
    s->reaper = NULL;
}
