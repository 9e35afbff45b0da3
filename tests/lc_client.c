/* A short-lived client for tests/lifecycle_clients.sh, on the client API.
 * Each mode ends its process in another way, so that the servers meet every
 * way a client can go:
 *
 *  lc_client normal        init, ping every server, stat /, finalize, exit 0
 *  lc_client exit          the same without finalize, exit(0)
 *  lc_client _exit         the same without finalize, _exit(0)
 *  lc_client exec PROG ARG...  ping, then exec PROG (the pid lives on)
 *  lc_client loop          ping in a loop; "ready" once the first returned
 *                          (the test SIGKILLs it mid-call)
 *  lc_client big PATH      write 16 MiB to PATH and read it back in a loop;
 *                          "ready" once the first write returned (the test
 *                          SIGKILLs it mid-transfer); "big PATH once": one
 *                          round, then finalize
 *  lc_client idle MS       ping, sleep MS, ping again (the endpoint closed
 *                          while idle is made again), finalize
 *  lc_client conns         print the servers' client connection counts
 *                          ("conns N0 N1 ..."), finalize
 * Exit 0 on success, 1 on a failed call, 2 on bad usage. */
#include "client/benchfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BIG (16u << 20)

static int ping_all(benchfs_t *fs)
{
    unsigned n = benchfs_nservers(fs);
    double lat[64];
    int ok = benchfs_ping(fs, n <= 64 ? lat : NULL);
    if (ok != (int)n) {
        fprintf(stderr, "lc_client: %d of %u servers answered\n", ok, n);
        return -1;
    }
    return 0;
}

static int big_rounds(benchfs_t *fs, const char *path, int once, char *w, char *r)
{
    for (size_t i = 0; i < BIG; i++)
        w[i] = (char)(i * 7 + 1);
    for (int round = 0;; round++) {
        benchfs_file_t *f;
        int rc = benchfs_open(fs, path, O_CREAT | O_RDWR, 0644, &f);
        if (rc < 0) {
            fprintf(stderr, "lc_client: open %s: %s\n", path, strerror(-rc));
            return 1;
        }
        ssize_t n = benchfs_pwrite(f, w, BIG, 0);
        if (n != (ssize_t)BIG) {
            fprintf(stderr, "lc_client: write: %s\n", n < 0 ? strerror((int)-n) : "short");
            return 1;
        }
        if (round == 0) {
            printf("ready\n");
            fflush(stdout);
        }
        n = benchfs_pread(f, r, BIG, 0);
        if (n != (ssize_t)BIG || memcmp(r, w, BIG) != 0) {
            fprintf(stderr, "lc_client: read back: %s\n", n < 0 ? strerror((int)-n) : "mismatch");
            return 1;
        }
        benchfs_close(f);
        if (once) {
            benchfs_finalize(fs);
            return 0;
        }
    }
}

/* The buffers are freed on every way out (LeakSanitizer in the sanitized
 * build); a client killed in the middle frees nothing, as intended. */
static int big_loop(benchfs_t *fs, const char *path, int once)
{
    char *w = malloc(BIG), *r = malloc(BIG);
    int rc = w && r ? big_rounds(fs, path, once, w, r) : 1;
    free(w);
    free(r);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        goto usage;
    const char *mode = argv[1];
    benchfs_t *fs;
    int rc = benchfs_init(&fs, NULL);
    if (rc < 0) {
        fprintf(stderr, "lc_client: init: %s\n", strerror(-rc));
        return 1;
    }
    if (!strcmp(mode, "conns")) {
        printf("conns");
        for (unsigned i = 0; i < benchfs_nservers(fs); i++) {
            int n = benchfs_server_conns(fs, i);
            if (n < 0) {
                fprintf(stderr, "lc_client: conns of server %u: %s\n", i, strerror(-n));
                return 1;
            }
            printf(" %d", n);
        }
        printf("\n");
        benchfs_finalize(fs);
        return 0;
    }
    if (!strcmp(mode, "big")) {
        if (argc != 3 && !(argc == 4 && !strcmp(argv[3], "once")))
            goto usage;
        return big_loop(fs, argv[2], argc == 4);
    }
    if (ping_all(fs) < 0)
        return 1;
    if (!strcmp(mode, "loop")) {
        printf("ready\n");
        fflush(stdout);
        for (;;)
            if (ping_all(fs) < 0)
                return 1;
    }
    struct stat st;
    if ((rc = benchfs_stat(fs, "/", &st)) < 0) {
        fprintf(stderr, "lc_client: stat /: %s\n", strerror(-rc));
        return 1;
    }
    if (!strcmp(mode, "normal")) {
        benchfs_finalize(fs);
        return 0;
    }
    if (!strcmp(mode, "exit"))
        exit(0);
    if (!strcmp(mode, "_exit"))
        _exit(0);
    if (!strcmp(mode, "exec") && argc >= 3) {
        execv(argv[2], argv + 2);
        perror("lc_client: exec");
        return 1;
    }
    if (!strcmp(mode, "idle") && argc == 3) {
        long ms = atol(argv[2]);
        struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
        if (ping_all(fs) < 0 || (rc = benchfs_stat(fs, "/", &st)) < 0)
            return 1;
        benchfs_finalize(fs);
        return 0;
    }
usage:
    fprintf(stderr, "usage: lc_client normal|exit|_exit|exec PROG..|loop|big PATH|idle MS|conns\n");
    return 2;
}
