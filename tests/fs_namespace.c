/* Directory semantics against running servers ($BENCHFS_REGISTRY), each
 * process its own client (issue 11 part 9):
 *
 * *   fs_namespace emptydir [N]  4 processes x N rounds (default 300) of mkdir,
 *                              opendir + readdir + closedir, rmdir of a
 *                              directory of their own: every readdir of the
 *                              empty directory ends with 0 entries, never an
 *                              error
 *   fs_namespace longpath      a tree down to a 4095-byte path (255-byte
 *                              names): created, stat'ed, listed, a file at
 *                              the deepest level written and read, the tree
 *                              renamed, listed under the new name, removed
 *   fs_namespace parent        the parent's mtime and ctime, stat'ed by
 *                              another process, advance after create, mkdir,
 *                              unlink, rmdir, rename (both parents) and link
 *   fs_namespace nlink         a directory's nlink is 2 + its subdirectories
 *                              after mkdir, rmdir and rename of directories
 *                              between parents, seen by another process
 *   fs_namespace cost [N]      prints us per create and per unlink of N
 *                              files (default 4000) in one directory: a
 *                              measurement, not a check
 *
 * Names are chosen so that on several servers both the "parent on the same
 * server" and the "across servers" paths of each call run. Exit 0 when
 * every check held. */
#include "client/benchfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;

#define CHECK(cond, ...)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                           \
            fprintf(stderr, __VA_ARGS__);                                                  \
            fprintf(stderr, "\n");                                                         \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

static benchfs_t *connect_fs(void)
{
    benchfs_t *fs;
    int rc = benchfs_init(&fs, NULL);
    if (rc < 0) {
        fprintf(stderr, "benchfs_init: %s\n", strerror(-rc));
        _exit(99);
    }
    return fs;
}

/* Entries of dir (not "." / ".."), or a negative errno. */
static long count_entries(benchfs_t *fs, const char *dir)
{
    benchfs_dir_t *d;
    int rc = benchfs_opendir(fs, dir, &d);
    if (rc < 0)
        return rc;
    struct benchfs_dirent e;
    long n = 0;
    while ((rc = benchfs_readdir(d, &e)) == 1)
        n++;
    benchfs_closedir(d);
    return rc < 0 ? rc : n;
}

/* ---- emptydir ---- */

#define EMPTY_PROCS 4

static int empty_worker(unsigned w, unsigned rounds)
{
    benchfs_t *fs = connect_fs();
    int bad = 0;
    char path[64];
    for (unsigned r = 0; r < rounds; r++) {
        /* A new name each round: a new placement each time. */
        snprintf(path, sizeof(path), "/emptydir/w%u.%u", w, r);
        int rc = benchfs_mkdir(fs, path, 0755);
        if (rc < 0) {
            fprintf(stderr, "FAIL mkdir %s: %s\n", path, strerror(-rc));
            bad++;
            continue;
        }
        long n = count_entries(fs, path);
        if (n != 0) {
            fprintf(stderr, "FAIL readdir of empty %s: %s\n", path,
                    n < 0 ? strerror((int)-n) : "entries listed");
            bad++;
        }
        if ((rc = benchfs_rmdir(fs, path)) < 0) {
            fprintf(stderr, "FAIL rmdir %s: %s\n", path, strerror(-rc));
            bad++;
        }
    }
    benchfs_finalize(fs);
    return bad ? 1 : 0;
}

static int test_emptydir(benchfs_t *fs, unsigned rounds)
{
    int rc = benchfs_mkdir(fs, "/emptydir", 0755);
    CHECK(rc == 0, "mkdir /emptydir: %s", strerror(-rc));
    pid_t pids[EMPTY_PROCS];
    for (unsigned w = 0; w < EMPTY_PROCS; w++) {
        if ((pids[w] = fork()) == 0)
            _exit(empty_worker(w, rounds));
    }
    for (unsigned w = 0; w < EMPTY_PROCS; w++) {
        int st;
        CHECK(waitpid(pids[w], &st, 0) == pids[w] && WIFEXITED(st) && WEXITSTATUS(st) == 0,
              "worker %u failed", w);
    }
    CHECK(count_entries(fs, "/emptydir") == 0, "/emptydir not empty");
    rc = benchfs_rmdir(fs, "/emptydir");
    CHECK(rc == 0, "rmdir /emptydir: %s", strerror(-rc));
    return failures;
}

/* stat of path by another process (its own client): 0 or a negative errno. */
static int other_stat(const char *path, struct stat *st)
{
    int fd[2];
    if (pipe(fd) < 0)
        return -errno;
    pid_t p = fork();
    if (p == 0) {
        /* A fresh program, not a fork of this one: a client made in a fork
         * of a process that has one hung now and then (seen here). */
        close(fd[0]);
        alarm(60); /* a hung client becomes a failure with a message, not a hang */
        if (dup2(fd[1], 1) < 0)
            _exit(1);
        execl("/proc/self/exe", "fs_namespace", "statone", path, (char *)NULL);
        _exit(1);
    }
    close(fd[1]);
    int rc = -EIO;
    if (p > 0 && (read(fd[0], &rc, sizeof(rc)) != sizeof(rc) || read(fd[0], st, sizeof(*st)) != sizeof(*st))) {
        fprintf(stderr, "other_stat %s: the child gave no answer\n", path);
        rc = -EIO;
    }
    close(fd[0]);
    if (p > 0)
        waitpid(p, NULL, 0);
    return rc;
}

static int64_t ns(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

static int create_file(benchfs_t *fs, const char *path, const char *data)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, path, O_CREAT | O_EXCL | O_WRONLY, 0644, &f);
    if (rc < 0)
        return rc;
    size_t n = strlen(data);
    ssize_t w = n ? benchfs_pwrite(f, data, n, 0) : 0;
    benchfs_close(f);
    return w == (ssize_t)n ? 0 : w < 0 ? (int)w : -EIO;
}

static int read_file(benchfs_t *fs, const char *path, char *buf, size_t cap)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, path, O_RDONLY, 0, &f);
    if (rc < 0)
        return rc;
    ssize_t r = benchfs_pread(f, buf, cap - 1, 0);
    benchfs_close(f);
    if (r < 0)
        return (int)r;
    buf[r] = '\0';
    return 0;
}

/* ---- longpath ---- */

#define PMAX 4096 /* PATH_MAX: the longest path is 4095 bytes */

/* dir/name into out; -ENAMETOOLONG when it would not fit in PMAX. */
static int join(char *out, const char *dir, const char *name)
{
    int n = snprintf(out, PMAX + 8, "%s/%s", dir, name);
    return n >= PMAX ? -ENAMETOOLONG : 0;
}

/* A chain under top of 255-byte names ending in a directory of 4093 bytes
 * (room for "/f"); its path in deep. Returns the depth. */
static int make_chain(benchfs_t *fs, const char *top, char *deep)
{
    strcpy(deep, top);
    int depth = 0;
    for (;;) {
        size_t len = strlen(deep);
        size_t room = PMAX - 1 - 2 - len - 1; /* the final "/f", the "/" */
        if ((long)PMAX - 1 - 2 - (long)len - 1 <= 0)
            break;
        size_t nl = room < 255 ? room : 255;
        char name[256];
        memset(name, 'a' + depth % 26, nl);
        name[nl] = '\0';
        char sub[PMAX + 8];
        if (join(sub, deep, name) < 0)
            break;
        int rc = benchfs_mkdir(fs, sub, 0755);
        CHECK(rc == 0, "mkdir of a %zu-byte path: %s", strlen(sub), strerror(-rc));
        if (rc < 0)
            return -1;
        strcpy(deep, sub);
        depth++;
    }
    return depth;
}

static int test_longpath(benchfs_t *fs)
{
    char deep[PMAX + 8], p[PMAX + 8], buf[64];
    struct stat st;
    int rc = benchfs_mkdir(fs, "/lp", 0755);
    CHECK(rc == 0, "mkdir /lp: %s", strerror(-rc));
    int depth = make_chain(fs, "/lp", deep);
    CHECK(strlen(deep) == PMAX - 3, "deepest directory is %zu bytes", strlen(deep));
    /* A file and a directory of 4095 bytes; one byte more is too long. */
    join(p, deep, "f");
    CHECK(strlen(p) == PMAX - 1, "%zu", strlen(p));
    rc = create_file(fs, p, "deep data");
    CHECK(rc == 0, "create a 4095-byte path: %s", strerror(-rc));
    join(p, deep, "g");
    rc = benchfs_mkdir(fs, p, 0700);
    CHECK(rc == 0, "mkdir a 4095-byte path: %s", strerror(-rc));
    rc = other_stat(p, &st);
    CHECK(rc == 0 && S_ISDIR(st.st_mode) && st.st_nlink == 2, "stat 4095 bytes: %s",
          strerror(-rc));
    char *end = deep + strlen(deep);
    strcpy(end, "/gg");
    rc = benchfs_mkdir(fs, deep, 0700);
    CHECK(rc == -ENAMETOOLONG, "mkdir of 4096 bytes: %s", strerror(-rc));
    *end = '\0';
    /* Listed, stat'ed, read by another process. */
    CHECK(count_entries(fs, deep) == 2, "entries of the deepest directory");
    join(p, deep, "f");
    rc = other_stat(p, &st);
    CHECK(rc == 0 && S_ISREG(st.st_mode) && st.st_size == 9, "stat: %s", strerror(-rc));
    rc = read_file(fs, p, buf, sizeof(buf));
    CHECK(rc == 0 && strcmp(buf, "deep data") == 0, "read: %s", strerror(-rc));
    rc = other_stat(deep, &st);
    CHECK(rc == 0 && st.st_nlink == 3, "deepest dir: %s nlink %lu", strerror(-rc),
          (unsigned long)st.st_nlink);
    /* A rename at the bottom, then of the whole tree (same length). */
    char q[PMAX + 8];
    join(q, deep, "h");
    rc = benchfs_rename(fs, p, q);
    CHECK(rc == 0, "rename at 4095 bytes: %s", strerror(-rc));
    CHECK(benchfs_stat(fs, p, &st) == -ENOENT, "old name stays");
    rc = benchfs_rename(fs, "/lp", "/lq");
    CHECK(rc == 0, "rename of the tree: %s", strerror(-rc));
    CHECK(benchfs_stat(fs, deep, &st) == -ENOENT, "old tree stays");
    deep[2] = 'q';
    join(q, deep, "h");
    rc = read_file(fs, q, buf, sizeof(buf));
    CHECK(rc == 0 && strcmp(buf, "deep data") == 0, "read after the tree's rename: %s",
          strerror(-rc));
    CHECK(count_entries(fs, deep) == 2, "entries after the rename");
    /* Down again, deepest first. */
    CHECK(benchfs_unlink(fs, q) == 0, "unlink");
    join(q, deep, "g");
    CHECK(benchfs_rmdir(fs, q) == 0, "rmdir at 4095 bytes");
    for (int i = 0; i <= depth; i++) {
        rc = benchfs_rmdir(fs, deep);
        CHECK(rc == 0, "rmdir of %zu bytes: %s", strlen(deep), strerror(-rc));
        *strrchr(deep, '/') = '\0';
    }
    CHECK(benchfs_stat(fs, "/lq", &st) == -ENOENT, "/lq left");
    return failures;
}

/* ---- parent ---- */

/* mtime and ctime of dir, seen by another process, moved past before. */
static void check_advanced(const char *what, const char *dir, const struct stat *before)
{
    struct stat st;
    int rc = other_stat(dir, &st);
    CHECK(rc == 0 && ns(st.st_mtim) > ns(before->st_mtim) && ns(st.st_ctim) > ns(before->st_ctim),
          "%s: %s mtime %lld -> %lld, ctime %lld -> %lld", what, dir, (long long)ns(before->st_mtim),
          (long long)ns(st.st_mtim), (long long)ns(before->st_ctim), (long long)ns(st.st_ctim));
}

static int test_parent(benchfs_t *fs)
{
    /* Several parents and names: across 3 servers each call meets both its
     * one-server and its across-servers path. */
    static const char *const dirs[] = {"/pa", "/pb", "/pc", "/pd"};
    enum { ND = 4, NN = 6 };
    char a[64], b[64], c[64];
    struct stat s1, s2;
    for (int d = 0; d < ND; d++)
        CHECK(benchfs_mkdir(fs, dirs[d], 0755) == 0, "mkdir %s", dirs[d]);
#define BEFORE(dir, st) CHECK(other_stat(dir, st) == 0, "stat %s", dir)
    for (int i = 0; i < NN; i++) {
        const char *p = dirs[i % ND], *q = dirs[(i + 1) % ND];
        snprintf(a, sizeof(a), "%s/f%d", p, i);
        BEFORE(p, &s1);
        CHECK(create_file(fs, a, "") == 0, "create %s", a);
        check_advanced("create", p, &s1);

        snprintf(b, sizeof(b), "%s/d%d", p, i);
        BEFORE(p, &s1);
        CHECK(benchfs_mkdir(fs, b, 0755) == 0, "mkdir %s", b);
        check_advanced("mkdir", p, &s1);

        snprintf(c, sizeof(c), "%s/l%d", q, i);
        BEFORE(q, &s1);
        CHECK(benchfs_link(fs, a, c) == 0, "link %s %s", a, c);
        check_advanced("link", q, &s1);

        snprintf(c, sizeof(c), "%s/g%d", p, i);
        BEFORE(p, &s1);
        CHECK(benchfs_rename(fs, a, c) == 0, "rename %s %s", a, c);
        check_advanced("rename in one directory", p, &s1);

        snprintf(a, sizeof(a), "%s/g%d", q, i);
        BEFORE(p, &s1);
        BEFORE(q, &s2);
        CHECK(benchfs_rename(fs, c, a) == 0, "rename %s %s", c, a);
        check_advanced("rename of a file, source", p, &s1);
        check_advanced("rename of a file, destination", q, &s2);

        BEFORE(q, &s1);
        CHECK(benchfs_unlink(fs, a) == 0, "unlink %s", a);
        check_advanced("unlink", q, &s1);
        snprintf(a, sizeof(a), "%s/l%d", q, i);
        CHECK(benchfs_unlink(fs, a) == 0, "unlink %s", a);

        snprintf(a, sizeof(a), "%s/e%d", q, i);
        BEFORE(p, &s1);
        BEFORE(q, &s2);
        CHECK(benchfs_rename(fs, b, a) == 0, "rename %s %s", b, a);
        check_advanced("rename of a directory, source", p, &s1);
        check_advanced("rename of a directory, destination", q, &s2);

        BEFORE(q, &s1);
        CHECK(benchfs_rmdir(fs, a) == 0, "rmdir %s", a);
        check_advanced("rmdir", q, &s1);
    }
#undef BEFORE
    for (int d = 0; d < ND; d++) {
        CHECK(count_entries(fs, dirs[d]) == 0, "%s not empty", dirs[d]);
        CHECK(benchfs_rmdir(fs, dirs[d]) == 0, "rmdir %s", dirs[d]);
    }
    return failures;
}

/* ---- nlink ---- */

static void check_nlink(const char *dir, nlink_t want)
{
    struct stat st;
    int rc = other_stat(dir, &st);
    CHECK(rc == 0 && st.st_nlink == want, "%s: nlink %lu, expected %lu (%s)", dir,
          (unsigned long)st.st_nlink, (unsigned long)want, strerror(-rc));
}

static int test_nlink(benchfs_t *fs)
{
    char a[64], b[64];
    enum { NS = 8 };
    CHECK(benchfs_mkdir(fs, "/na", 0755) == 0, "mkdir /na");
    CHECK(benchfs_mkdir(fs, "/nb", 0755) == 0, "mkdir /nb");
    check_nlink("/na", 2);
    for (int i = 0; i < NS; i++) {
        snprintf(a, sizeof(a), "/na/s%d", i);
        CHECK(benchfs_mkdir(fs, a, 0755) == 0, "mkdir %s", a);
        /* A failed mkdir counts nothing. */
        CHECK(benchfs_mkdir(fs, a, 0755) == -EEXIST, "mkdir %s again", a);
    }
    CHECK(create_file(fs, "/na/file", "x") == 0, "create /na/file");
    check_nlink("/na", 2 + NS);
    CHECK(benchfs_mkdir(fs, "/na/s0/x", 0755) == 0, "mkdir /na/s0/x");
    check_nlink("/na/s0", 3);
    /* Subdirectories move to /nb (names spread over the servers), one
     * with a child of its own, one over an empty directory there. */
    CHECK(benchfs_mkdir(fs, "/nb/s1", 0755) == 0, "mkdir /nb/s1");
    check_nlink("/nb", 3);
    for (int i = 0; i < NS / 2; i++) {
        snprintf(a, sizeof(a), "/na/s%d", i);
        snprintf(b, sizeof(b), "/nb/s%d", i);
        int rc = benchfs_rename(fs, a, b);
        CHECK(rc == 0, "rename %s %s: %s", a, b, strerror(-rc));
        check_nlink("/na", 2 + NS - 1 - i);
        /* s1 lands on the empty /nb/s1 (replaced: no new link). */
        check_nlink("/nb", 2 + (i == 0 ? 2 : i + 1));
    }
    check_nlink("/nb/s0", 3);
    CHECK(benchfs_rename(fs, "/na/file", "/nb/file") == 0, "rename file");
    check_nlink("/na", 2 + NS / 2);
    check_nlink("/nb", 2 + NS / 2);
    /* rmdir everywhere. */
    CHECK(benchfs_rmdir(fs, "/nb/s0") == -ENOTEMPTY, "rmdir of a non-empty directory");
    check_nlink("/nb", 2 + NS / 2);
    CHECK(benchfs_rmdir(fs, "/nb/s0/x") == 0, "rmdir /nb/s0/x");
    check_nlink("/nb/s0", 2);
    for (int i = 0; i < NS; i++) {
        snprintf(a, sizeof(a), i < NS / 2 ? "/nb/s%d" : "/na/s%d", i);
        CHECK(benchfs_rmdir(fs, a) == 0, "rmdir %s", a);
    }
    check_nlink("/na", 2);
    check_nlink("/nb", 2);
    CHECK(benchfs_unlink(fs, "/nb/file") == 0, "unlink");
    CHECK(benchfs_rmdir(fs, "/na") == 0 && benchfs_rmdir(fs, "/nb") == 0, "rmdir /na /nb");
    return failures;
}

/* ---- cost (a measurement, not a check) ---- */

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* n creates then n unlinks in one directory, one process: us per call. */
static int cost(benchfs_t *fs, unsigned n)
{
    char p[64];
    int bad = benchfs_mkdir(fs, "/cost", 0755) != 0;
    double t0 = mono();
    for (unsigned i = 0; i < n; i++) {
        snprintf(p, sizeof(p), "/cost/f%u", i);
        bad |= create_file(fs, p, "") != 0;
    }
    double tc = mono() - t0;
    t0 = mono();
    for (unsigned i = 0; i < n; i++) {
        snprintf(p, sizeof(p), "/cost/f%u", i);
        bad |= benchfs_unlink(fs, p) != 0;
    }
    double tu = mono() - t0;
    bad |= benchfs_rmdir(fs, "/cost") != 0;
    printf("cost: %u creates %.1f us each, %u unlinks %.1f us each\n", n, tc / n * 1e6, n,
           tu / n * 1e6);
    CHECK(!bad, "a call failed");
    return failures;
}

/* The child of other_stat: rc and struct stat on stdout. */
static int statone(const char *path)
{
    benchfs_t *fs = connect_fs();
    struct stat s;
    memset(&s, 0, sizeof(s));
    int rc = benchfs_stat(fs, path, &s);
    benchfs_finalize(fs);
    return write(1, &rc, sizeof(rc)) == sizeof(rc) && write(1, &s, sizeof(s)) == sizeof(s) ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "statone"))
        return statone(argv[2]);
    if (argc < 2) {
        fprintf(stderr, "usage: fs_namespace emptydir|longpath|parent|nlink|cost [N]\n");
        return 2;
    }
    unsigned n = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 0;
    benchfs_t *fs = connect_fs();
    int rc;
    if (!strcmp(argv[1], "emptydir"))
        rc = test_emptydir(fs, n ? n : 300);
    else if (!strcmp(argv[1], "longpath"))
        rc = test_longpath(fs);
    else if (!strcmp(argv[1], "parent"))
        rc = test_parent(fs);
    else if (!strcmp(argv[1], "nlink"))
        rc = test_nlink(fs);
    else if (!strcmp(argv[1], "cost"))
        rc = cost(fs, n ? n : 4000);
    else
        rc = (fprintf(stderr, "unknown test %s\n", argv[1]), 2);
    benchfs_finalize(fs);
    if (rc == 0)
        printf("PASS: fs_namespace %s\n", argv[1]);
    return rc ? 1 : 0;
}
