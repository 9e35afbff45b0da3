/* Symbolic links and POSIX path resolution through the client API, against
 * running servers ($BENCHFS_REGISTRY):
 *
 *   fs_symlinks api        symlink/readlink/lstat/stat, relative and
 *                          absolute targets, ELOOP, O_NOFOLLOW, O_CREAT
 *                          through a dangling link, ".." after a symlink,
 *                          ENOTDIR/EINVAL rules of trailing "/", "/." and
 *                          "..", names ops on links (unlink, rename, hard
 *                          link to a symlink), targets out of the mount
 *   fs_symlinks race [S]   one process replaces a symlink (rename over it)
 *                          between two directories for S seconds (default
 *                          3) while 3 others open files through it: every
 *                          open reaches one of the two files, whole
 *   fs_symlinks special    FIFOs and sockets (benchfs_mknod): typed in
 *                          stat and readdir on every server, never opened
 *                          (ENXIO) or sized (truncate: EINVAL), renamed,
 *                          hard-linked, removed; devices
 *                          EPERM, other types EINVAL, taken names EEXIST
 *
 * Exit 0 when every check held; messages on stderr say which did not. */
#include "client/benchfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
        exit(2);
    }
    return fs;
}

static int put(benchfs_t *fs, const char *path, const char *data)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, path, O_CREAT | O_TRUNC | O_WRONLY, 0644, &f);
    if (rc < 0)
        return rc;
    ssize_t n = benchfs_pwrite(f, data, strlen(data), 0);
    benchfs_close(f);
    return n == (ssize_t)strlen(data) ? 0 : -EIO;
}

/* The content of path (opened with flags) into buf, NUL terminated:
 * length or -errno. */
static ssize_t get(benchfs_t *fs, const char *path, int flags, char *buf, size_t cap)
{
    benchfs_file_t *f;
    int rc = benchfs_open(fs, path, O_RDONLY | flags, 0, &f);
    if (rc < 0)
        return rc;
    ssize_t n = benchfs_pread(f, buf, cap - 1, 0);
    benchfs_close(f);
    if (n >= 0)
        buf[n] = '\0';
    return n;
}

static int is_link(benchfs_t *fs, const char *p, const char *target)
{
    struct stat st;
    char buf[4096];
    if (benchfs_lstat(fs, p, &st) < 0 || !S_ISLNK(st.st_mode) ||
        st.st_size != (off_t)strlen(target))
        return 0;
    ssize_t n = benchfs_readlink(fs, p, buf, sizeof(buf));
    return n == (ssize_t)strlen(target) && !memcmp(buf, target, (size_t)n);
}

static int test_api(benchfs_t *fs)
{
    char buf[4096];
    struct stat st;
    CHECK(benchfs_mkdir(fs, "/s", 0755) == 0 && benchfs_mkdir(fs, "/s/a", 0755) == 0 &&
              benchfs_mkdir(fs, "/s/a/b", 0755) == 0,
          "mkdir /s/a/b");
    CHECK(put(fs, "/s/a/b/f", "hello") == 0 && put(fs, "/s/a/g", "gee") == 0, "files");

    /* Relative and absolute targets, followed in the prefix and at the end. */
    CHECK(benchfs_symlink(fs, "a/b", "/s/rel") == 0, "symlink relative");
    CHECK(benchfs_symlink(fs, "/s/a/b/f", "/s/abs") == 0, "symlink absolute");
    CHECK(is_link(fs, "/s/rel", "a/b") && is_link(fs, "/s/abs", "/s/a/b/f"),
          "lstat/readlink give the link and its target");
    CHECK(benchfs_stat(fs, "/s/rel", &st) == 0 && S_ISDIR(st.st_mode), "stat follows to the dir");
    CHECK(get(fs, "/s/rel/f", 0, buf, sizeof(buf)) == 5 && !strcmp(buf, "hello"),
          "open through a symlink in the prefix");
    CHECK(get(fs, "/s/abs", 0, buf, sizeof(buf)) == 5, "open through an absolute target");
    CHECK(benchfs_symlink(fs, "x", "/s/rel") == -EEXIST, "symlink over a link: EEXIST");
    CHECK(benchfs_mkdir(fs, "/s/rel", 0755) == -EEXIST, "mkdir over a link: EEXIST");
    CHECK(benchfs_readlink(fs, "/s/a/g", buf, sizeof(buf)) == -EINVAL, "readlink of a file");

    /* ".." after a symlink goes to the parent of where it led. */
    CHECK(benchfs_stat(fs, "/s/rel/../g", &st) == 0 && st.st_size == 3,
          "/s/rel/../g is /s/a/g (not /s/g)");
    CHECK(benchfs_realpath(fs, "/s/rel/../b/./f", buf) == 0 && !strcmp(buf, "/s/a/b/f"),
          "realpath: %s", buf);

    /* ELOOP, O_NOFOLLOW. */
    CHECK(benchfs_symlink(fs, "l2", "/s/l1") == 0 && benchfs_symlink(fs, "l1", "/s/l2") == 0,
          "loop links");
    CHECK(benchfs_stat(fs, "/s/l1", &st) == -ELOOP, "stat of a loop: ELOOP");
    CHECK(get(fs, "/s/l1/x", 0, buf, sizeof(buf)) == -ELOOP, "a loop in the prefix: ELOOP");
    CHECK(get(fs, "/s/abs", O_NOFOLLOW, buf, sizeof(buf)) == -ELOOP, "O_NOFOLLOW: ELOOP");
    CHECK(get(fs, "/s/rel/f", O_NOFOLLOW, buf, sizeof(buf)) == 5, "O_NOFOLLOW is for the last");
    /* 40 links are followed, the 41st is not (Linux's MAXSYMLINKS). */
    char a[64], b[64];
    CHECK(benchfs_symlink(fs, "a/g", "/s/c0") == 0, "chain start");
    for (int i = 1; i <= 40; i++) {
        snprintf(a, sizeof(a), "c%d", i - 1);
        snprintf(b, sizeof(b), "/s/c%d", i);
        CHECK(benchfs_symlink(fs, a, b) == 0, "chain %d", i);
    }
    CHECK(benchfs_stat(fs, "/s/c39", &st) == 0 && st.st_size == 3, "40 links followed");
    CHECK(benchfs_stat(fs, "/s/c40", &st) == -ELOOP, "41 links: ELOOP");

    /* O_CREAT through a dangling link creates its target; O_EXCL does not. */
    CHECK(benchfs_symlink(fs, "a/new", "/s/dang") == 0, "dangling");
    CHECK(benchfs_stat(fs, "/s/dang", &st) == -ENOENT, "stat of a dangling link: ENOENT");
    benchfs_file_t *f;
    CHECK(benchfs_open(fs, "/s/dang", O_CREAT | O_EXCL | O_WRONLY, 0644, &f) == -EEXIST,
          "O_EXCL on a dangling link: EEXIST");
    CHECK(put(fs, "/s/dang", "new") == 0 && benchfs_stat(fs, "/s/a/new", &st) == 0 &&
              st.st_size == 3 && is_link(fs, "/s/dang", "a/new"),
          "O_CREAT through a dangling link created the target");

    /* Part 8: trailing "/", "/.", "..", rmdir/rename of "." and "..". */
    CHECK(get(fs, "/s/a/g/.", 0, buf, sizeof(buf)) == -ENOTDIR, "open file/.: ENOTDIR");
    CHECK(benchfs_stat(fs, "/s/a/g/", &st) == -ENOTDIR, "stat file/: ENOTDIR");
    CHECK(benchfs_unlink(fs, "/s/a/g/") == -ENOTDIR, "unlink file/: ENOTDIR");
    CHECK(benchfs_stat(fs, "/s/a/g/../g", &st) == -ENOTDIR, "..  through a file: ENOTDIR");
    CHECK(benchfs_stat(fs, "/s/a/g/x", &st) == -ENOTDIR, "a file in the middle: ENOTDIR");
    CHECK(benchfs_open(fs, "/s/a/g/x", O_CREAT | O_WRONLY, 0644, &f) == -ENOTDIR,
          "create under a file: ENOTDIR");
    CHECK(benchfs_mkdir(fs, "/s/a/g/x", 0755) == -ENOTDIR, "mkdir under a file: ENOTDIR");
    CHECK(benchfs_stat(fs, "/s/rel/", &st) == 0 && S_ISDIR(st.st_mode), "link/ follows");
    CHECK(benchfs_lstat(fs, "/s/rel/", &st) == 0 && S_ISDIR(st.st_mode), "lstat link/ follows");
    CHECK(benchfs_rmdir(fs, "/s/rel/") == -ENOTDIR, "rmdir link/: ENOTDIR");
    CHECK(benchfs_mkdir(fs, "/s/z", 0755) == 0 && benchfs_mkdir(fs, "/s/z/w", 0755) == 0, "z/w");
    CHECK(benchfs_rmdir(fs, "/s/z/w/.") == -EINVAL, "rmdir dir/.: EINVAL");
    CHECK(benchfs_rmdir(fs, "/s/z/w/..") == -ENOTEMPTY, "rmdir dir/..: ENOTEMPTY (as Linux)");
    CHECK(benchfs_rename(fs, "/s/z/w/..", "/s/zz") == -EINVAL, "rename z/w/..: EINVAL");
    CHECK(benchfs_stat(fs, "/s/z/w", &st) == 0 && benchfs_stat(fs, "/s/zz", &st) == -ENOENT,
          "neither removed nor renamed");
    CHECK(benchfs_rmdir(fs, "/s/z/w/") == 0 && benchfs_rmdir(fs, "/s/z") == 0, "rmdir dir/");

    /* Operations on names act on the link itself. */
    CHECK(benchfs_rename(fs, "/s/abs", "/s/a/b/moved") == 0 &&
              is_link(fs, "/s/a/b/moved", "/s/a/b/f"),
          "rename of a link (to another directory, maybe another server)");
    CHECK(benchfs_link(fs, "/s/a/b/moved", "/s/hard") == 0 && is_link(fs, "/s/hard", "/s/a/b/f") &&
              benchfs_lstat(fs, "/s/hard", &st) == 0 && st.st_nlink == 2,
          "a hard link to a symlink is a symlink, nlink 2");
    CHECK(benchfs_unlink(fs, "/s/a/b/moved") == 0 && is_link(fs, "/s/hard", "/s/a/b/f") &&
              benchfs_lstat(fs, "/s/hard", &st) == 0 && st.st_nlink == 1,
          "unlink one name keeps the other");
    CHECK(benchfs_rename(fs, "/s/a/g", "/s/hard") == 0 && benchfs_lstat(fs, "/s/hard", &st) == 0 &&
              S_ISREG(st.st_mode),
          "rename of a file over a link replaces the link");
    CHECK(benchfs_unlink(fs, "/s/rel") == 0 && benchfs_stat(fs, "/s/a/b/f", &st) == 0,
          "unlink of a link keeps its target");
    benchfs_dir_t *d;
    struct benchfs_dirent e;
    int lnk = 0;
    CHECK(benchfs_opendir(fs, "/s", &d) == 0, "opendir");
    while (benchfs_readdir(d, &e) == 1)
        lnk += e.type == DT_LNK && !strcmp(e.name, "dang");
    benchfs_closedir(d);
    CHECK(lnk == 1, "readdir says DT_LNK");
    CHECK(benchfs_symlink(fs, "a", "/s/toa") == 0 && benchfs_opendir(fs, "/s/toa/b", &d) == 0,
          "opendir through a link");
    if (!failures) {
        int n = 0;
        while (benchfs_readdir(d, &e) == 1)
            n++;
        benchfs_closedir(d);
        CHECK(n == 1, "listing through a link: %d entries", n);
    }

    /* Out of the mount: absolute targets elsewhere, ".." above the root. */
    CHECK(benchfs_set_mount(fs, "/mnt/bfs") == 0, "set_mount");
    CHECK(benchfs_symlink(fs, "/etc/hostname", "/s/out") == 0 &&
              benchfs_symlink(fs, "/mnt/bfs/s/a/b", "/s/in") == 0,
          "symlinks out and in");
    CHECK(benchfs_stat(fs, "/s/out", &st) == -BENCHFS_EOUTSIDE &&
              !strcmp(benchfs_outside_path(), "/etc/hostname"),
          "out of the mount: %s", benchfs_outside_path());
    CHECK(benchfs_stat(fs, "/s/in/f", &st) == 0 && st.st_size == 5, "inside by the mount prefix");
    CHECK(benchfs_stat(fs, "/s/../../etc", &st) == -BENCHFS_EOUTSIDE &&
              !strcmp(benchfs_outside_path(), "/mnt/etc"),
          ".. above the root: %s", benchfs_outside_path());
    CHECK(benchfs_lstat(fs, "/s/out", &st) == 0 && S_ISLNK(st.st_mode), "lstat of out");
    benchfs_set_mount(fs, NULL);

    /* Clean up: everything goes (make check compares the tables after). */
    const char *names[] = {"/s/l1", "/s/l2", "/s/dang", "/s/a/new", "/s/hard", "/s/out",
                           "/s/in", "/s/toa", "/s/a/b/f"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        CHECK(benchfs_unlink(fs, names[i]) == 0, "unlink %s", names[i]);
    for (int i = 0; i <= 40; i++) {
        snprintf(b, sizeof(b), "/s/c%d", i);
        CHECK(benchfs_unlink(fs, b) == 0, "unlink %s", b);
    }
    CHECK(benchfs_rmdir(fs, "/s/a/b") == 0 && benchfs_rmdir(fs, "/s/a") == 0 &&
              benchfs_rmdir(fs, "/s") == 0,
          "rmdir");
    return failures;
}

/* ---- race ---- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int swapper(double secs)
{
    benchfs_t *fs = connect_fs();
    int bad = 0;
    unsigned n = 0;
    for (double end = now_s() + secs; now_s() < end; n++) {
        /* A new link beside, renamed over the old one: one step to readers. */
        const char *t = n % 2 ? "/r/A" : "/r/B";
        int rc = benchfs_symlink(fs, t, "/r/tmp");
        if (rc == 0)
            rc = benchfs_rename(fs, "/r/tmp", "/r/l");
        if (rc < 0) {
            fprintf(stderr, "swapper: %s\n", strerror(-rc));
            bad++;
            break;
        }
    }
    benchfs_finalize(fs);
    return bad;
}

static int reader(double secs)
{
    benchfs_t *fs = connect_fs();
    int bad = 0;
    char buf[256];
    unsigned n = 0;
    for (double end = now_s() + secs; now_s() < end && bad < 5; n++) {
        ssize_t got = get(fs, "/r/l/f", 0, buf, sizeof(buf));
        if (got < 0 || (strcmp(buf, "file in A") && strcmp(buf, "file in B"))) {
            fprintf(stderr, "reader: %zd %s\n", got, got < 0 ? strerror((int)-got) : buf);
            bad++;
        }
    }
    benchfs_finalize(fs);
    return bad;
}

static int test_race(benchfs_t *fs, double secs)
{
    CHECK(benchfs_mkdir(fs, "/r", 0755) == 0 && benchfs_mkdir(fs, "/r/A", 0755) == 0 &&
              benchfs_mkdir(fs, "/r/B", 0755) == 0,
          "dirs");
    CHECK(put(fs, "/r/A/f", "file in A") == 0 && put(fs, "/r/B/f", "file in B") == 0, "files");
    CHECK(benchfs_symlink(fs, "/r/A", "/r/l") == 0, "link");
    pid_t pids[4];
    /* Fresh processes, not forks of this one: a fork of a process whose
     * UCX async thread held libucs's handler lock hangs in the child's
     * first UCX call (issue 13, seen under ASan on 3 servers). */
    char sa[32];
    snprintf(sa, sizeof(sa), "%g", secs);
    for (int i = 0; i < 4; i++) {
        pids[i] = fork();
        if (pids[i] == 0) {
            execl("/proc/self/exe", "fs_symlinks", i == 0 ? "swapper" : "reader", sa, (char *)NULL);
            _exit(98);
        }
    }
    for (int i = 0; i < 4; i++) {
        int st;
        CHECK(pids[i] > 0 && waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) &&
                  WEXITSTATUS(st) == 0,
              "process %d (%s) failed", i, i ? "reader" : "swapper");
    }
    CHECK(benchfs_unlink(fs, "/r/l") == 0 && benchfs_unlink(fs, "/r/A/f") == 0 &&
              benchfs_unlink(fs, "/r/B/f") == 0 && benchfs_rmdir(fs, "/r/A") == 0 &&
              benchfs_rmdir(fs, "/r/B") == 0 && benchfs_rmdir(fs, "/r") == 0,
          "clean up");
    return failures;
}

/* The type readdir gives for name in dir, or -1. */
static int dtype_of(benchfs_t *fs, const char *dir, const char *name)
{
    benchfs_dir_t *d;
    struct benchfs_dirent e;
    int t = -1;
    if (benchfs_opendir(fs, dir, &d) < 0)
        return -1;
    while (benchfs_readdir(d, &e) == 1)
        if (!strcmp(e.name, name))
            t = e.type;
    benchfs_closedir(d);
    return t;
}

static int test_special(benchfs_t *fs)
{
    struct stat st;
    char p[64], q[64], n[16];
    CHECK(benchfs_mkdir(fs, "/sp", 0755) == 0 && benchfs_mkdir(fs, "/sp2", 0755) == 0, "mkdir");
    /* 12 names: on every server of a 3-server job. */
    for (int i = 0; i < 12; i++) {
        snprintf(p, sizeof(p), "/sp/n%d", i);
        snprintf(n, sizeof(n), "n%d", i);
        mode_t type = i % 2 ? S_IFSOCK : S_IFIFO;
        CHECK(benchfs_mknod(fs, p, type | 0640) == 0, "mknod %s", p);
        CHECK(benchfs_mknod(fs, p, type | 0640) == -EEXIST, "mknod %s again: EEXIST", p);
        CHECK(benchfs_lstat(fs, p, &st) == 0 && (st.st_mode & S_IFMT) == type &&
                  (st.st_mode & 07777) == 0640 && st.st_size == 0 && st.st_nlink == 1,
              "lstat %s: mode %o", p, st.st_mode);
        CHECK(dtype_of(fs, "/sp", n) == (i % 2 ? DT_SOCK : DT_FIFO), "readdir type of %s", p);
        benchfs_file_t *f;
        CHECK(benchfs_open(fs, p, O_RDONLY, 0, &f) == -ENXIO, "open %s: ENXIO", p);
        CHECK(benchfs_open(fs, p, O_WRONLY | O_CREAT, 0644, &f) == -ENXIO, "open(O_CREAT) %s: ENXIO", p);
        CHECK(benchfs_truncate(fs, p, 100) == -EINVAL && benchfs_lstat(fs, p, &st) == 0 &&
                  st.st_size == 0,
              "truncate of %s: EINVAL, size stays 0", p);
        snprintf(q, sizeof(q), "/sp2/m%d", i);
        CHECK(benchfs_rename(fs, p, q) == 0 && benchfs_lstat(fs, q, &st) == 0 &&
                  (st.st_mode & S_IFMT) == type && benchfs_lstat(fs, p, &st) == -ENOENT,
              "rename %s -> %s keeps the type", p, q);
        snprintf(n, sizeof(n), "m%d", i);
        CHECK(dtype_of(fs, "/sp2", n) == (i % 2 ? DT_SOCK : DT_FIFO), "readdir type of %s", q);
        CHECK(benchfs_link(fs, q, p) == 0 && benchfs_lstat(fs, p, &st) == 0 && st.st_nlink == 2 &&
                  (st.st_mode & S_IFMT) == type,
              "hard link of %s", q);
        CHECK(benchfs_unlink(fs, q) == 0 && benchfs_unlink(fs, p) == 0 &&
                  benchfs_lstat(fs, p, &st) == -ENOENT,
              "unlink both names of %s", q);
    }
    CHECK(benchfs_mknod(fs, "/sp/c", S_IFCHR | 0600) == -EPERM, "character device: EPERM");
    CHECK(benchfs_mknod(fs, "/sp/b", S_IFBLK | 0600) == -EPERM, "block device: EPERM");
    CHECK(benchfs_mknod(fs, "/sp/d", S_IFDIR | 0700) == -EINVAL, "S_IFDIR: EINVAL");
    CHECK(benchfs_mknod(fs, "/sp2", S_IFIFO | 0600) == -EEXIST, "over a directory: EEXIST");
    CHECK(benchfs_mknod(fs, "/nodir/f", S_IFIFO | 0600) == -ENOENT, "in no directory: ENOENT");
    CHECK(benchfs_mknod(fs, "/sp/r", S_IFREG | 0600) == 0 && benchfs_stat(fs, "/sp/r", &st) == 0 &&
              S_ISREG(st.st_mode) && st.st_size == 0 && benchfs_unlink(fs, "/sp/r") == 0,
          "S_IFREG: an empty file");
    CHECK(dtype_of(fs, "/sp", "c") == -1 && dtype_of(fs, "/sp", "d") == -1, "failed mknods left names");
    CHECK(benchfs_rmdir(fs, "/sp") == 0 && benchfs_rmdir(fs, "/sp2") == 0, "clean up");
    return failures;
}

int main(int argc, char **argv)
{
    alarm(300);
    if (argc < 2) {
        fprintf(stderr, "usage: fs_symlinks api|special|race [S]\n");
        return 2;
    }
    if (!strcmp(argv[1], "swapper") && argc > 2)
        return swapper(atof(argv[2]));
    if (!strcmp(argv[1], "reader") && argc > 2)
        return reader(atof(argv[2]));
    benchfs_t *fs = connect_fs();
    int rc;
    if (!strcmp(argv[1], "api"))
        rc = test_api(fs);
    else if (!strcmp(argv[1], "special"))
        rc = test_special(fs);
    else if (!strcmp(argv[1], "race"))
        rc = test_race(fs, argc > 2 ? atof(argv[2]) : 3.0);
    else
        rc = (fprintf(stderr, "unknown test %s\n", argv[1]), 2);
    benchfs_finalize(fs);
    if (rc == 0)
        printf("PASS: fs_symlinks %s\n", argv[1]);
    return rc ? 1 : 0;
}
