/* POSIX behaviour of libbenchfs.so, run under LD_PRELOAD against running
 * servers with BENCHFS_MOUNT=/benchfs: descriptors, dup/fcntl, offsets,
 * O_APPEND, fork, threads, exec with O_CLOEXEC, mmap, directories, cwd,
 * *at calls, statx, stdio. */
#define _GNU_SOURCE
#include <dirent.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/statvfs.h>
#include <sys/wait.h>
#include <unistd.h>

static int failures;
#define CHECK(c, ...)                                                          \
    do {                                                                       \
        if (!(c)) {                                                            \
            fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);               \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, " (errno %s)\n", strerror(errno));                 \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static void test_fds(void)
{
    int local = open("/dev/null", O_RDONLY);
    int fd = open("/benchfs/p/fds", O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0 && fd != local, "BenchFS fd %d collides with local fd %d", fd, local);
    CHECK(write(fd, "hello world", 11) == 11, "write");
    CHECK(lseek(fd, 0, SEEK_CUR) == 11, "offset after write");
    CHECK(lseek(fd, 6, SEEK_SET) == 6, "lseek set");
    char b[32] = {0};
    CHECK(read(fd, b, 5) == 5 && !memcmp(b, "world", 5), "read at offset: %s", b);
    CHECK(read(fd, b, 5) == 0, "read at EOF");
    CHECK(lseek(fd, -5, SEEK_END) == 6, "lseek end");
    CHECK(lseek(fd, -100, SEEK_SET) == -1 && errno == EINVAL, "negative lseek");
    int d = dup(fd);
    CHECK(d >= 0 && d != fd, "dup");
    CHECK(lseek(d, 0, SEEK_CUR) == 6, "dup shares the offset");
    CHECK(lseek(fd, 1, SEEK_SET) == 1 && lseek(d, 0, SEEK_CUR) == 1, "offset shared both ways");
    int d2 = dup2(fd, 100);
    CHECK(d2 == 100, "dup2 to 100");
    CHECK(pread(100, b, 5, 0) == 5 && !memcmp(b, "hello", 5), "read through dup2");
    int d3 = fcntl(fd, F_DUPFD_CLOEXEC, 200);
    CHECK(d3 >= 200, "F_DUPFD_CLOEXEC");
    CHECK(fcntl(d3, F_GETFD) == FD_CLOEXEC, "cloexec flag on dup");
    CHECK((fcntl(fd, F_GETFL) & O_ACCMODE) == O_RDWR, "F_GETFL");
    CHECK(fcntl(fd, F_SETFL, O_APPEND) == 0 && (fcntl(fd, F_GETFL) & O_APPEND), "F_SETFL O_APPEND");
    CHECK(write(fd, "!", 1) == 1, "append write");
    struct stat st;
    CHECK(fstat(d, &st) == 0 && st.st_size == 12, "size after append %ld", (long)st.st_size);
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    CHECK(fcntl(fd, F_SETLK, &fl) == -1 && errno == ENOTSUP, "record locks are refused clearly");
    CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENODEV, "mmap refused");
    CHECK(close(d) == 0 && close(100) == 0 && close(d3) == 0, "close dups");
    CHECK(pread(fd, b, 1, 0) == 1, "original still open after closing dups");
    struct timespec ts[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1200000000, .tv_nsec = 5}};
    CHECK(futimens(fd, ts) == 0 && fstat(fd, &st) == 0 && st.st_mtim.tv_sec == 1200000000 &&
              st.st_mtim.tv_nsec == 5 && st.st_atim.tv_sec == 1000000000, "futimens");
    struct timeval tv[2] = {{.tv_sec = 1100000000}, {.tv_sec = 1300000000, .tv_usec = 7}};
    CHECK(futimes(fd, tv) == 0 && fstat(fd, &st) == 0 && st.st_mtim.tv_sec == 1300000000 &&
              st.st_mtim.tv_nsec == 7000, "futimes");
    CHECK(close(fd) == 0, "close");
    CHECK(read(fd, b, 1) == -1 && errno == EBADF, "closed fd gives EBADF");
    close(local);
    CHECK(open("/benchfs/p/none", O_RDONLY) == -1 && errno == ENOENT, "ENOENT");
    CHECK(open("/benchfs/p/fds", O_CREAT | O_EXCL | O_WRONLY, 0600) == -1 && errno == EEXIST, "O_EXCL");
    CHECK(access("/benchfs/p/fds", R_OK | W_OK) == 0, "access");
    CHECK(access("/benchfs/p/none", F_OK) == -1 && errno == ENOENT, "access ENOENT");
    CHECK(truncate("/benchfs/p/fds", 3) == 0 && stat("/benchfs/p/fds", &st) == 0 && st.st_size == 3, "truncate");
    struct statvfs v;
    CHECK(statvfs("/benchfs/p", &v) == 0 && v.f_blocks > 0, "statvfs");
    char rp[PATH_MAX];
    CHECK(realpath("/benchfs/p/../p//fds", rp) && !strcmp(rp, "/benchfs/p/fds"), "realpath %s", rp);
    struct statx sx;
    CHECK(statx(AT_FDCWD, "/benchfs/p/fds", 0, STATX_BASIC_STATS, &sx) == 0 && sx.stx_size == 3, "statx");
}

/* A program that closes or replaces descriptors it does not know of (as
 * closefrom or a dup2 to a fixed number do), behind the library's back:
 * BenchFS files opened afterwards still hold /dev/null for the kernel,
 * never one of the program's files. The library keeps its /dev/null at 64
 * or above; UCX's own descriptors are below. */
static void test_foreign_close(void)
{
    int keep = open("/benchfs/p/cf1", O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(keep >= 0 && keep < 64, "open before: fd %d", keep);
    for (int fd = 64; fd < 100; fd++)
        syscall(SYS_close, fd); /* the kernel's close: not seen by the library */
    int mine = open("/proc/self/stat", O_RDONLY);
    for (int fd = 64; fd < 100; fd++)
        dup2(mine, fd);
    int fd = open("/benchfs/p/cf2", O_CREAT | O_RDWR | O_TRUNC, 0600);
    CHECK(fd >= 0, "open after");
    struct stat st;
    CHECK(syscall(SYS_fstat, fd, &st) == 0 && S_ISCHR(st.st_mode) && st.st_rdev == makedev(1, 3),
          "BenchFS fd %d holds /dev/null for the kernel", fd);
    CHECK(write(fd, "xyz", 3) == 3 && write(keep, "ab", 2) == 2, "writes after");
    char b[4] = {0};
    CHECK(pread(fd, b, 3, 0) == 3 && !memcmp(b, "xyz", 3), "read back");
    close(fd);
    close(keep);
    close(mine);
    for (int d = 64; d < 100; d++)
        close(d);
}

static void *thread_writer(void *arg)
{
    long t = (long)arg;
    int fd = open("/benchfs/p/threads", O_WRONLY);
    char buf[10000];
    memset(buf, 'a' + (int)t, sizeof(buf));
    for (int i = 0; i < 20; i++)
        if (pwrite(fd, buf, sizeof(buf), (off_t)((t * 20 + i) * sizeof(buf))) != sizeof(buf))
            return (void *)1;
    close(fd);
    return NULL;
}

static void test_threads(void)
{
    int fd = open("/benchfs/p/threads", O_CREAT | O_RDWR | O_TRUNC, 0644);
    pthread_t th[4];
    for (long t = 0; t < 4; t++)
        pthread_create(&th[t], NULL, thread_writer, (void *)t);
    for (int t = 0; t < 4; t++) {
        void *r;
        pthread_join(th[t], &r);
        CHECK(r == NULL, "thread %d failed", t);
    }
    char buf[10000];
    for (long t = 0; t < 4; t++)
        for (int i = 0; i < 20; i++) {
            CHECK(pread(fd, buf, sizeof(buf), (off_t)((t * 20 + i) * sizeof(buf))) == sizeof(buf) &&
                      buf[0] == 'a' + t && buf[9999] == 'a' + t, "thread %ld block %d", t, i);
        }
    close(fd);
}

static void test_fork_exec(void)
{
    int fd = open("/benchfs/p/forked", O_CREAT | O_RDWR | O_TRUNC, 0644);
    int cfd = open("/benchfs/p/cloexec", O_CREAT | O_RDWR | O_CLOEXEC, 0644);
    CHECK(write(fd, "parent;", 7) == 7, "parent write");
    pid_t pid = fork();
    if (pid == 0) {
        /* The child uses the inherited descriptor and opens new files. */
        int ok = pwrite(fd, "child;", 6, 7) == 6;
        int nfd = open("/benchfs/p/from-child", O_CREAT | O_WRONLY, 0644);
        ok &= nfd >= 0 && write(nfd, "x", 1) == 1 && close(nfd) == 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child failed");
    char b[32] = {0};
    CHECK(pread(fd, b, 13, 0) == 13 && !memcmp(b, "parent;child;", 13), "parent sees the child's write: %s", b);
    struct stat sb;
    CHECK(stat("/benchfs/p/from-child", &sb) == 0 && sb.st_size == 1, "file created by the child");
    CHECK(write(fd, "again", 5) == 5, "parent keeps working after fork");
    /* exec: the O_CLOEXEC descriptor is gone, the other one remains. */
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "test -e /proc/self/fd/%d && test ! -e /proc/self/fd/%d", fd, cfd);
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "O_CLOEXEC not honoured across exec");
    /* exec: the library comes along and sees BenchFS. */
    pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", "test -f /benchfs/p/forked", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "an exec'd program does not see BenchFS");
    close(fd);
    close(cfd);
}

static void test_dirs(void)
{
    CHECK(mkdir("/benchfs/p/d", 0755) == 0, "mkdir");
    CHECK(mkdir("/benchfs/p/d", 0755) == -1 && errno == EEXIST, "mkdir EEXIST");
    CHECK(chdir("/benchfs/p/d") == 0, "chdir into BenchFS");
    char cwd[PATH_MAX];
    CHECK(getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, "/benchfs/p/d"), "getcwd %s", cwd);
    int fd = open("rel", O_CREAT | O_WRONLY, 0644);
    CHECK(fd >= 0, "relative open after chdir");
    close(fd);
    CHECK(access("/benchfs/p/d/rel", F_OK) == 0, "relative file landed in BenchFS");
    CHECK(mkdir("sub", 0700) == 0 && rename("rel", "sub/rel2") == 0, "relative mkdir/rename");
    int dfd = open("/benchfs/p/d/sub", O_RDONLY | O_DIRECTORY);
    CHECK(dfd >= 0, "open a directory");
    int afd = openat(dfd, "at-file", O_CREAT | O_WRONLY, 0644);
    CHECK(afd >= 0, "openat relative to a BenchFS directory");
    close(afd);
    struct stat st;
    CHECK(fstatat(dfd, "rel2", &st, 0) == 0 && S_ISREG(st.st_mode), "fstatat");
    CHECK(fstatat(dfd, "", &st, AT_EMPTY_PATH) == 0 && S_ISDIR(st.st_mode), "fstatat AT_EMPTY_PATH");
    CHECK(unlinkat(dfd, "at-file", 0) == 0, "unlinkat");
    CHECK(read(dfd, cwd, 1) == -1 && errno == EISDIR, "read of a directory");
    DIR *d = fdopendir(dfd);
    CHECK(d != NULL, "fdopendir");
    int n = 0, dots = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        n++, dots += e->d_name[0] == '.';
    CHECK(n == 3 && dots == 2, "readdir of sub: %d entries", n);
    if (d)
        closedir(d);
    CHECK(chdir("..") == 0 && getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, "/benchfs/p"), "chdir .. %s", cwd);
    CHECK(chdir("/tmp") == 0 && getcwd(cwd, sizeof(cwd)) && !strcmp(cwd, "/tmp"), "chdir out");
    CHECK(rmdir("/benchfs/p/d") == -1 && errno == ENOTEMPTY, "rmdir ENOTEMPTY");

    /* getdents64 with a buffer that holds a few entries at a time: every
     * entry exactly once, including the ones that did not fit a call. */
    CHECK(mkdir("/benchfs/p/many", 0755) == 0, "mkdir many");
    char p[96];
    for (int i = 0; i < 60; i++) {
        snprintf(p, sizeof(p), "/benchfs/p/many/entry-with-a-longer-name-%02d", i);
        close(open(p, O_CREAT | O_WRONLY, 0644));
    }
    int mfd = open("/benchfs/p/many", O_RDONLY | O_DIRECTORY);
    char gbuf[160];
    int seen = 0;
    ssize_t gr;
    while ((gr = getdents64(mfd, gbuf, sizeof(gbuf))) > 0)
        for (ssize_t o = 0; o < gr; seen++) {
            unsigned short reclen;
            memcpy(&reclen, gbuf + o + offsetof(struct dirent64, d_reclen), sizeof(reclen));
            o += reclen;
        }
    CHECK(gr == 0 && seen == 62, "getdents64 in small pieces saw %d of 62", seen);
    close(mfd);
}

static void test_stdio(void)
{
    FILE *f = fopen("/benchfs/p/stdio.txt", "w+");
    CHECK(f != NULL, "fopen");
    if (!f)
        return;
    for (int i = 0; i < 500; i++)
        fprintf(f, "%d %s\n", i, "line");
    fputs("last\n", f);
    CHECK(fflush(f) == 0, "fflush");
    struct stat st;
    CHECK(fstat(fileno(f), &st) == 0 && st.st_size > 3000, "fileno + fstat: %ld", (long)st.st_size);
    rewind(f);
    int a;
    char w[16];
    CHECK(fscanf(f, "%d %15s", &a, w) == 2 && a == 0 && !strcmp(w, "line"), "fscanf");
    CHECK(fseek(f, 0, SEEK_END) == 0 && ftell(f) == st.st_size, "fseek/ftell");
    fseeko(f, 0, SEEK_SET);
    char line[64];
    int lines = 0;
    while (fgets(line, sizeof(line), f))
        lines++;
    CHECK(lines == 501 && feof(f) && !ferror(f), "fgets lines %d", lines);
    CHECK(fclose(f) == 0, "fclose");
    f = fopen("/benchfs/p/stdio.txt", "a");
    fputs("appended\n", f);
    fclose(f);
    f = fopen("/benchfs/p/stdio.txt", "r");
    char buf[8192];
    size_t n = fread(buf, 1, sizeof(buf), f);
    CHECK(n > 9 && !memcmp(buf + n - 9, "appended\n", 9), "append mode");
    fclose(f);
    int fd = open("/benchfs/p/stdio.txt", O_RDONLY);
    f = fdopen(fd, "r");
    CHECK(f && fgets(line, sizeof(line), f) && !strcmp(line, "0 line\n"), "fdopen");
    if (f)
        fclose(f);
    CHECK(fopen("/benchfs/p/none/x", "r") == NULL && errno == ENOENT, "fopen ENOENT");
}

/* A stream left unflushed at exit: the library's destructor writes it out
 * before its GOODBYE (preload_exit_remote.sh checks what lands). */
static int exit_flush(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return 1;
    fputs("flushed at exit\n", f);
    exit(0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "exitflush"))
        return exit_flush(argv[2]);
    alarm(120);
    CHECK(mkdir("/benchfs/p", 0755) == 0, "mkdir /benchfs/p");
    test_fds();
    test_foreign_close();
    test_threads();
    test_fork_exec();
    test_dirs();
    test_stdio();
    printf("preload_posix_test: %d failures\n", failures);
    return failures ? 1 : 0;
}
