/* benchfs tool: cp. Copies files and trees into, out of and within BenchFS.
 *
 * Two phases: the main thread walks the source, creates the directories and
 * makes a list of jobs (a whole small file, or a range of a large one); then
 * -j threads copy the jobs in parallel, each with its own buffer, so that
 * many files (and the ranges of a large file) move at once and a large
 * file's chunks reach all servers together. */
#include "tool.h"
#include "../common/clock.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct job {
    char *src, *dst;
    uint64_t off, len;
    mode_t mode;
    unsigned char src_bfs, dst_bfs, create;
};

struct copier {
    struct tool *t;
    struct job *v;
    size_t n, cap;
    uint64_t total;           /* bytes planned */
    size_t files;
    size_t buf_size;
    uint64_t range;           /* files larger than this are split */
    mode_t umask;
    int errors;               /* planning errors; workers add theirs atomically */
    size_t next;              /* next job (atomic) */
    uint64_t done_bytes;      /* atomic */
    size_t done_files;        /* atomic: first jobs of files finished */
    int running;              /* threads still working (under mu) */
    pthread_mutex_t mu;
    pthread_cond_t idle;      /* running reached 0 */
};

static void report(struct copier *cp, const struct tpath *p, const char *what, int err)
{
    char b[BFS_PATH_MAX + 64];
    fprintf(stderr, "benchfs cp: %s: %s%s%s\n", tpath_show(cp->t, p, b, sizeof(b)), what,
            err ? ": " : "", err ? strerror(-err) : "");
    __atomic_add_fetch(&cp->errors, 1, __ATOMIC_RELAXED);
}

static int add_job(struct copier *cp, const struct tpath *src, const struct tpath *dst, uint64_t off,
                   uint64_t len, mode_t mode, int create)
{
    if (cp->n == cp->cap) {
        size_t cap = cp->cap ? cp->cap * 2 : 256;
        struct job *v = realloc(cp->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        cp->v = v;
        cp->cap = cap;
    }
    struct job *j = &cp->v[cp->n];
    j->src = strdup(src->path);
    j->dst = strdup(dst->path);
    if (!j->src || !j->dst) {
        free(j->src);
        free(j->dst);
        return -ENOMEM;
    }
    j->off = off;
    j->len = len;
    j->mode = mode;
    j->src_bfs = (unsigned char)src->bfs;
    j->dst_bfs = (unsigned char)dst->bfs;
    j->create = (unsigned char)create;
    cp->n++;
    return 0;
}

static int plan_file(struct copier *cp, const struct tpath *src, const struct tpath *dst,
                     const struct stat *st)
{
    uint64_t size = (uint64_t)st->st_size;
    mode_t mode = st->st_mode & 0777 & ~cp->umask;
    int rc;
    cp->files++;
    cp->total += size;
    if (size <= cp->range)
        rc = add_job(cp, src, dst, 0, size, mode, 1);
    else {
        /* Create (and size) it now; the ranges are written by any thread. */
        struct tfile f;
        rc = t_open(cp->t, dst, O_CREAT | O_TRUNC | O_WRONLY, mode, &f);
        if (rc == 0 && !dst->bfs && ftruncate(f.fd, (off_t)size) < 0)
            rc = -errno;
        if (f.fd >= 0 || f.f) {
            int crc = t_close(&f);
            rc = rc ? rc : crc;
        }
        for (uint64_t off = 0; rc == 0 && off < size; off += cp->range)
            rc = add_job(cp, src, dst, off, size - off < cp->range ? size - off : cp->range, mode, 0);
    }
    if (rc < 0)
        report(cp, dst, "cannot create", rc);
    return rc;
}

static int plan(struct copier *cp, const struct tpath *src, const struct tpath *dst, int top);

static int plan_dir(struct copier *cp, const struct tpath *src, const struct tpath *dst,
                    const struct stat *st)
{
    if (src->bfs == dst->bfs && bfs_path_is_under(dst->path, strlen(dst->path), src->path,
                                                  strlen(src->path))) {
        report(cp, dst, "cannot copy a directory into itself", 0);
        return -EINVAL;
    }
    int rc = t_mkdir(cp->t, dst, (st->st_mode | 0700) & 0777 & ~cp->umask);
    if (rc == -EEXIST) {
        struct stat dt;
        rc = t_stat(cp->t, dst, &dt);
        if (rc == 0 && !S_ISDIR(dt.st_mode))
            rc = -ENOTDIR;
    }
    if (rc < 0) {
        report(cp, dst, "cannot create directory", rc);
        return rc;
    }
    /* List first, then recurse: no listing stays open during the walk. */
    struct names ns = {0};
    rc = t_list(cp->t, src, names_add, &ns);
    if (rc < 0)
        report(cp, src, "cannot list", rc);
    for (size_t i = 0; rc == 0 && i < ns.n; i++) {
        struct tpath s, d;
        if (tpath_join(src, ns.v[i], &s) < 0 || tpath_join(dst, ns.v[i], &d) < 0)
            report(cp, src, ns.v[i], -ENAMETOOLONG);
        else
            plan(cp, &s, &d, 0);
    }
    names_free(&ns);
    return rc;
}

static int plan(struct copier *cp, const struct tpath *src, const struct tpath *dst, int top)
{
    struct stat st;
    int rc;
    if (!src->bfs && !top) {
        /* Inside a local tree: follow links to files, not to directories
         * (no loops); skip what BenchFS cannot hold. */
        if (lstat(src->path, &st) < 0) {
            report(cp, src, "cannot stat", -errno);
            return -errno;
        }
        if (S_ISLNK(st.st_mode)) {
            if (stat(src->path, &st) < 0) {
                report(cp, src, "skipped: dangling symbolic link", -errno);
                return -errno;
            }
            if (S_ISDIR(st.st_mode)) {
                report(cp, src, "skipped: symbolic link to a directory", 0);
                return -ELOOP;
            }
        }
    } else if ((rc = t_stat(cp->t, src, &st)) < 0) {
        report(cp, src, "cannot stat", rc);
        return rc;
    }
    if (S_ISREG(st.st_mode))
        return plan_file(cp, src, dst, &st);
    if (S_ISDIR(st.st_mode))
        return plan_dir(cp, src, dst, &st);
    report(cp, src, "skipped: not a regular file or directory", 0);
    return -EINVAL;
}

static int run_job(struct copier *cp, const struct job *j, char *buf)
{
    struct tpath s = {.bfs = j->src_bfs}, d = {.bfs = j->dst_bfs};
    snprintf(s.path, sizeof(s.path), "%s", j->src);
    snprintf(d.path, sizeof(d.path), "%s", j->dst);
    struct tfile in, out;
    int rc = t_open(cp->t, &s, O_RDONLY, 0, &in);
    if (rc < 0) {
        report(cp, &s, "cannot open", rc);
        return rc;
    }
    rc = t_open(cp->t, &d, j->create ? O_CREAT | O_TRUNC | O_WRONLY : O_WRONLY, j->mode, &out);
    if (rc < 0) {
        report(cp, &d, "cannot create", rc);
        t_close(&in);
        return rc;
    }
    for (uint64_t off = j->off, end = j->off + j->len; off < end;) {
        size_t want = end - off < cp->buf_size ? (size_t)(end - off) : cp->buf_size;
        ssize_t n = t_pread(&in, buf, want, (off_t)off);
        if (n < 0) {
            report(cp, &s, "read error", (int)n);
            rc = (int)n;
            break;
        }
        if (n == 0) /* the source shrank while we copied */
            break;
        ssize_t w = t_pwrite(&out, buf, (size_t)n, (off_t)off);
        if (w != n) {
            report(cp, &d, "write error", w < 0 ? (int)w : -EIO);
            rc = w < 0 ? (int)w : -EIO;
            break;
        }
        off += (uint64_t)n;
        __atomic_add_fetch(&cp->done_bytes, (uint64_t)n, __ATOMIC_RELAXED);
    }
    t_close(&in);
    int crc = t_close(&out);
    if (rc == 0 && crc < 0) {
        report(cp, &d, "close", crc);
        rc = crc;
    }
    if (j->off == 0)
        __atomic_add_fetch(&cp->done_files, 1, __ATOMIC_RELAXED);
    return rc;
}

static void *worker(void *arg)
{
    struct copier *cp = arg;
    char *buf = malloc(cp->buf_size);
    for (;;) {
        size_t i = __atomic_fetch_add(&cp->next, 1, __ATOMIC_RELAXED);
        if (i >= cp->n)
            break;
        if (!buf) {
            report(cp, &(struct tpath){0}, "out of memory", -ENOMEM);
            continue;
        }
        run_job(cp, &cp->v[i], buf);
    }
    free(buf);
    pthread_mutex_lock(&cp->mu);
    if (--cp->running == 0)
        pthread_cond_signal(&cp->idle);
    pthread_mutex_unlock(&cp->mu);
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One line, rewritten in place: bytes, files, rate and the time left at
 * that rate (only on a terminal: copy_all). */
static void progress(struct copier *cp, double t0, int final)
{
    char a[32], b[32], r[32], eta[32] = "";
    uint64_t done = __atomic_load_n(&cp->done_bytes, __ATOMIC_RELAXED);
    double dt = now_s() - t0;
    double rate = dt > 0 ? (double)done / dt : 0;
    if (!final && rate > 0 && cp->total > done) {
        unsigned long left = (unsigned long)((double)(cp->total - done) / rate + 0.5);
        snprintf(eta, sizeof(eta), ", ETA %lu:%02lu", left / 60, left % 60);
    } else if (final) {
        snprintf(eta, sizeof(eta), " in %.1f s", dt);
    }
    fprintf(stderr, "\r%s of %s, %zu of %zu files, %s/s%s   %s",
            human_size(done, a, sizeof(a)), human_size(cp->total, b, sizeof(b)),
            __atomic_load_n(&cp->done_files, __ATOMIC_RELAXED), cp->files,
            human_size((uint64_t)rate, r, sizeof(r)), eta, final ? "\n" : "");
}

static int copy_all(struct copier *cp, int nthreads)
{
    if ((size_t)nthreads > cp->n)
        nthreads = cp->n ? (int)cp->n : 1;
    pthread_t *th = calloc((size_t)nthreads, sizeof(*th));
    if (!th)
        return -ENOMEM;
    double t0 = now_s();
    int started = 0;
    pthread_mutex_init(&cp->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&cp->idle, &ca);
    pthread_condattr_destroy(&ca);
    cp->running = nthreads;
    for (; started < nthreads; started++)
        if (pthread_create(&th[started], NULL, worker, cp) != 0)
            break;
    pthread_mutex_lock(&cp->mu);
    cp->running -= nthreads - started;
    pthread_mutex_unlock(&cp->mu);
    if (started == 0)
        worker(cp);
    /* Wake at the end at once (a copy of small files takes milliseconds),
     * and every 200 ms to redraw the progress line on a terminal. */
    int tty = isatty(STDERR_FILENO), shown = 0;
    pthread_mutex_lock(&cp->mu);
    while (cp->running > 0) {
        struct timespec ts = bfs_timespec_in(CLOCK_MONOTONIC, 200000000ull);
        pthread_cond_timedwait(&cp->idle, &cp->mu, &ts);
        if (cp->running > 0 && tty && now_s() - t0 > 1.0) {
            pthread_mutex_unlock(&cp->mu);
            progress(cp, t0, 0);
            shown = 1;
            pthread_mutex_lock(&cp->mu);
        }
    }
    pthread_mutex_unlock(&cp->mu);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    if (shown)
        progress(cp, t0, 1);
    pthread_cond_destroy(&cp->idle);
    pthread_mutex_destroy(&cp->mu);
    free(th);
    return 0;
}

int cmd_cp(struct tool *t, int argc, char **argv)
{
    int rec = 0, nthreads = 4, c;
    const char *use = "usage: benchfs cp [-r] [-j THREADS] SRC... DST\n";
    while ((c = getopt(argc, argv, "rRj:")) != -1) {
        switch (c) {
        case 'r': case 'R': rec = 1; break;
        case 'j':
            nthreads = atoi(optarg);
            if (nthreads < 1 || nthreads > 256) {
                fprintf(stderr, "benchfs cp: -j takes 1 .. 256\n");
                return 2;
            }
            break;
        default: fputs(use, stderr); return 2;
        }
    }
    if (argc - optind < 2) {
        fputs(use, stderr);
        return 2;
    }
    if (tool_connect(t) < 0)
        return 1;
    struct copier cp = {.t = t};
    cp.umask = umask(0);
    umask(cp.umask);
    uint64_t cs = benchfs_chunk_size(t->fs), ns = benchfs_nservers(t->fs);
    uint64_t bs = cs * (ns < 4 ? ns : 4);
    cp.buf_size = bs < (1u << 20) ? (1u << 20) : bs > (16u << 20) ? (16u << 20) : (size_t)bs;
    cp.range = 4 * (uint64_t)cp.buf_size < (64u << 20) ? (64u << 20) : 4 * (uint64_t)cp.buf_size;

    struct tpath dst;
    struct stat dst_st;
    int rc = tpath_parse(t, argv[argc - 1], &dst);
    if (rc < 0) {
        fprintf(stderr, "benchfs cp: %s: %s\n", argv[argc - 1], strerror(-rc));
        return 1;
    }
    int dst_is_dir = t_stat(t, &dst, &dst_st) == 0 && S_ISDIR(dst_st.st_mode);
    if (argc - optind > 2 && !dst_is_dir) {
        fprintf(stderr, "benchfs cp: target %s is not a directory\n", argv[argc - 1]);
        return 1;
    }
    for (int i = optind; i < argc - 1; i++) {
        struct tpath src, target;
        struct stat st;
        if ((rc = tpath_parse(t, argv[i], &src)) < 0 || (rc = t_stat(t, &src, &st)) < 0) {
            fprintf(stderr, "benchfs cp: %s: %s\n", argv[i], strerror(-rc));
            cp.errors++;
            continue;
        }
        if (S_ISDIR(st.st_mode) && !rec) {
            fprintf(stderr, "benchfs cp: -r not specified; omitting directory %s\n", argv[i]);
            cp.errors++;
            continue;
        }
        const char *base = tpath_base(&src);
        if (src.bfs && !*base)
            base = strrchr(t->mount, '/') + 1; /* the root copies as "benchfs" */
        if (dst_is_dir && *base)
            rc = tpath_join(&dst, base, &target);
        else
            target = dst;
        if (rc < 0) {
            fprintf(stderr, "benchfs cp: %s/%s: %s\n", argv[argc - 1], base, strerror(-rc));
            cp.errors++;
            continue;
        }
        /* Copying a file onto itself would truncate it first. */
        struct stat tst;
        if (src.bfs == target.bfs && t_stat(t, &target, &tst) == 0 && tst.st_dev == st.st_dev &&
            tst.st_ino == st.st_ino) {
            fprintf(stderr, "benchfs cp: %s and %s are the same file\n", argv[i], argv[argc - 1]);
            cp.errors++;
            continue;
        }
        plan(&cp, &src, &target, 1);
    }
    copy_all(&cp, nthreads);
    for (size_t i = 0; i < cp.n; i++) {
        free(cp.v[i].src);
        free(cp.v[i].dst);
    }
    free(cp.v);
    return cp.errors ? 1 : 0;
}
