/* A call that returned owns nothing (tests/fault_timeout_buf.sh): 16 MiB
 * reads from a server that a thread of ours SIGSTOPs at a random moment of
 * the read, so that the read's deadline passes - often in the middle of the
 * reply's rendezvous transfer. Right after the read returned its error the
 * buffer is either filled with a pattern or freed (ASan then reports any
 * write into it), the server is let go on (SIGCONT), and the client is kept
 * busy for a while so that whatever the server still sends arrives. The
 * pattern must stay: nothing the library handed back to the application
 * may be written by it afterwards.
 *
 *  timeout_buf SERVER_PID ROUNDS
 *
 * Setup (one 16 MiB file) runs with the deadline of $BENCHFS_RPC_TIMEOUT_MS
 * at start; the reads with $TB_TIMEOUT_MS (default 300). Prints the number
 * of reads that timed out, and exits 1 when a buffer was written after its
 * read returned (or no read timed out at all: the test proved nothing). */
#include "client/benchfs.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define BIG (16u << 20)
#define PATTERN 0x5a

static pid_t server;
static unsigned stop_after_us;

static void sleep_us(unsigned us)
{
    struct timespec ts = {us / 1000000, (long)(us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

static void *stopper(void *arg)
{
    (void)arg;
    sleep_us(stop_after_us);
    kill(server, SIGSTOP);
    return NULL;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: timeout_buf SERVER_PID ROUNDS\n");
        return 2;
    }
    server = (pid_t)atoi(argv[1]);
    int rounds = atoi(argv[2]);
    benchfs_t *setup, *fs;
    benchfs_file_t *f;
    int rc = benchfs_init(&setup, NULL);
    if (rc < 0) {
        fprintf(stderr, "timeout_buf: init: %s\n", strerror(-rc));
        return 2;
    }
    char *w = malloc(BIG);
    if (!w)
        return 2;
    for (size_t i = 0; i < BIG; i++)
        w[i] = (char)(i * 13 + 7);
    if ((rc = benchfs_open(setup, "/tb", O_CREAT | O_RDWR | O_TRUNC, 0644, &f)) < 0 ||
        benchfs_pwrite(f, w, BIG, 0) != (ssize_t)BIG) {
        fprintf(stderr, "timeout_buf: writing /tb failed\n");
        return 2;
    }
    benchfs_close(f);
    const char *t = getenv("TB_TIMEOUT_MS");
    setenv("BENCHFS_RPC_TIMEOUT_MS", t ? t : "300", 1);
    if ((rc = benchfs_init(&fs, NULL)) < 0 || (rc = benchfs_open(fs, "/tb", O_RDONLY, 0, &f)) < 0) {
        fprintf(stderr, "timeout_buf: second client: %s\n", strerror(-rc));
        return 2;
    }
    srand((unsigned)getpid());
    int timeouts = 0, written = 0, ok = 0;
    double end = now_ms() + 40000;
    for (int r = 0; r < rounds && now_ms() < end; r++) {
        char *buf = malloc(BIG);
        if (!buf)
            return 2;
        /* The first reads are timed to find how long one takes; then the
         * stop lands somewhere inside a read. */
        stop_after_us = (unsigned)(rand() % 12000);
        pthread_t th;
        pthread_create(&th, NULL, stopper, NULL);
        ssize_t n = benchfs_pread(f, buf, BIG, 0);
        pthread_join(th, NULL);
        if (n == (ssize_t)BIG) {
            kill(server, SIGCONT);
            if (memcmp(buf, w, BIG) != 0) {
                fprintf(stderr, "timeout_buf: a successful read returned wrong bytes\n");
                return 1;
            }
            ok++;
            free(buf);
            continue;
        }
        timeouts++;
        int freed = r % 2;
        if (freed)
            free(buf); /* ASan: any write into it from now on is reported */
        else
            memset(buf, PATTERN, BIG);
        kill(server, SIGCONT);
        /* Let what the server still sends arrive: keep the client
         * progressing (every call progresses its worker). */
        double until = now_ms() + 400;
        while (now_ms() < until) {
            struct stat st;
            benchfs_fstat(f, &st);
        }
        if (!freed) {
            size_t bad = 0;
            for (size_t i = 0; i < BIG; i++)
                bad += (unsigned char)buf[i] != PATTERN;
            if (bad) {
                fprintf(stderr, "timeout_buf: round %d: %zu bytes of the buffer written after "
                        "the read returned %zd (%s)\n", r, bad, n, n < 0 ? strerror((int)-n) : "short");
                written++;
            }
            free(buf);
        }
    }
    kill(server, SIGCONT);
    printf("timeout_buf: %d reads timed out, %d succeeded, %d buffers written after return\n",
           timeouts, ok, written);
    benchfs_close(f);
    benchfs_finalize(fs);
    benchfs_finalize(setup);
    free(w);
    if (written)
        return 1;
    if (!timeouts) {
        fprintf(stderr, "timeout_buf: no read timed out: nothing was tested\n");
        return 1;
    }
    return 0;
}
