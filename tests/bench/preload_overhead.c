/* What libbenchfs.so costs a process on paths that are not BenchFS: a stat
 * loop, an open/close loop and a small read/write loop on a local file.
 * Prints nanoseconds per call for each loop; run_preload_overhead.sh runs it
 * with and without LD_PRELOAD and reports the ratio. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/benchfs-overhead.dat";
    int n = argc > 2 ? atoi(argv[2]) : 200000;
    int fd = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    char buf[4096] = {1};
    struct stat st;
    double t0 = now();
    for (int i = 0; i < n; i++)
        stat(path, &st);
    double t1 = now();
    for (int i = 0; i < n / 4; i++)
        close(open(path, O_RDONLY));
    double t2 = now();
    for (int i = 0; i < n; i++) {
        pwrite(fd, buf, sizeof(buf), (off_t)(i % 256) * 4096);
        pread(fd, buf, sizeof(buf), (off_t)(i % 256) * 4096);
    }
    double t3 = now();
    close(fd);
    unlink(path);
    printf("stat %.1f open_close %.1f pwrite_pread_4k %.1f\n", (t1 - t0) / n, (t2 - t1) / (n / 4),
           (t3 - t2) / n);
    return 0;
}
