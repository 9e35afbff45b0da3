/* An IO500-style MPI benchmark. It uses plain POSIX calls, so it runs the
 * same on any directory: on BenchFS through libbenchfs.so, or directly on
 * a local file system for reference. Every phase verifies what it reads.
 *
 *   bfs_io500 [--dir D] [--easy-mib N] [--hard-count N] [--md-files N]
 *             [--phases easy,hard,mdeasy,mdhard]   (default: all four)
 *
 * Phases (as IO500):
 *   easy write/read  file per process, 1 MiB transfers, fsync before close
 *   hard write/read  one shared file, 47008-byte transfers interleaved
 *   md easy          a directory per rank: create/stat/delete empty files
 *   md hard          one shared directory: create 3901-byte files, stat,
 *                    read, delete
 * Rank 0 prints one JSON object per phase on stdout:
 *   {"phase":"easy_write","bytes":...,"ops":...,"seconds":...,"ranks":...}
 * Time = from a barrier before the phase to a barrier after it. With
 * BFS_SERVER_PIDS="pid ..." (servers on rank 0's node), rank 0 also reports
 * the CPU seconds those processes used during each phase ("server_cpu_s").
 * For profiling, BFS_IO500_HOOK="command" is run by rank 0 (through the
 * shell) inside the timed window: "command start PHASE" after the phase's
 * first barrier, "command end PHASE" before its last one (it is timed too:
 * keep it quick, e.g. start or stop a perf record). */
#include <errno.h>
#include <fcntl.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EASY_XFER (1 << 20)
#define HARD_XFER 47008
#define MD_HARD_BYTES 3901

static int rank, nranks, failures;
static const char *dir = "/benchfs/io500";

static void die_if(int cond, const char *what, const char *path)
{
    if (cond) {
        fprintf(stderr, "rank %d: %s %s: %s\n", rank, what, path, strerror(errno));
        MPI_Abort(MPI_COMM_WORLD, 2);
    }
}

static void fill(char *b, size_t n, long seed)
{
    uint64_t x = (uint64_t)seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i + 8 <= n; i += 8) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        memcpy(b + i, &x, 8);
    }
    for (size_t i = n & ~(size_t)7; i < n; i++)
        b[i] = (char)(seed + (long)i);
}

static void verify(const char *got, size_t n, long seed, const char *what)
{
    static char *want;
    static size_t cap;
    if (cap < n) {
        free(want);
        want = malloc(n);
        cap = n;
    }
    fill(want, n, seed);
    if (memcmp(got, want, n) != 0) {
        if (failures++ < 5)
            fprintf(stderr, "rank %d: verification failed: %s\n", rank, what);
    }
}

/* CPU seconds (user + system) used so far by the listed server processes. */
static double server_cpu(void)
{
    const char *pids = getenv("BFS_SERVER_PIDS");
    if (!pids || rank != 0)
        return 0;
    double total = 0;
    long hz = sysconf(_SC_CLK_TCK);
    char *copy = strdup(pids), *save = NULL;
    for (char *p = strtok_r(copy, " ,", &save); p; p = strtok_r(NULL, " ,", &save)) {
        char path[64], line[1024];
        snprintf(path, sizeof(path), "/proc/%s/stat", p);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        if (fgets(line, sizeof(line), f)) {
            /* Fields after the command name, which ends with the last ')'. */
            char *q = strrchr(line, ')');
            unsigned long ut = 0, st = 0;
            if (q && sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2)
                total += (double)(ut + st) / (double)hz;
        }
        fclose(f);
    }
    free(copy);
    return total;
}

static double g_cpu0;

static void hook(const char *what, const char *phase)
{
    const char *cmd = getenv("BFS_IO500_HOOK");
    if (!cmd || rank != 0)
        return;
    char line[1024];
    snprintf(line, sizeof(line), "%s %s %s", cmd, what, phase);
    if (system(line) != 0)
        fprintf(stderr, "bfs_io500: hook '%s' failed\n", line);
}

static double phase_start(const char *name)
{
    MPI_Barrier(MPI_COMM_WORLD);
    g_cpu0 = server_cpu();
    hook("start", name);
    return MPI_Wtime();
}

static void phase_end(const char *name, double t0, double bytes, double ops)
{
    hook("end", name);
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime() - t0, tb = 0, to = 0;
    MPI_Reduce(&bytes, &tb, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    MPI_Reduce(&ops, &to, 1, MPI_DOUBLE, MPI_SUM, 0, MPI_COMM_WORLD);
    if (rank == 0) {
        double cpu = server_cpu() - g_cpu0;
        printf("{\"phase\":\"%s\",\"bytes\":%.0f,\"ops\":%.0f,\"seconds\":%.6f,\"ranks\":%d,"
               "\"server_cpu_s\":%.2f}\n", name, tb, to, t, nranks, cpu);
        fflush(stdout);
    }
}

static void easy(long mib)
{
    char path[512], *buf = malloc(EASY_XFER);
    snprintf(path, sizeof(path), "%s/easy.%d", dir, rank);
    double t0 = phase_start("easy_write");
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
    die_if(fd < 0, "open", path);
    for (long i = 0; i < mib; i++) {
        fill(buf, 64, rank * 1000003L + i); /* cheap: only the head varies */
        die_if(write(fd, buf, EASY_XFER) != EASY_XFER, "write", path);
    }
    die_if(fsync(fd) != 0, "fsync", path);
    close(fd);
    phase_end("easy_write", t0, (double)mib * EASY_XFER, (double)mib);

    int peer = (rank + 1) % nranks;
    snprintf(path, sizeof(path), "%s/easy.%d", dir, peer);
    char *want = malloc(EASY_XFER);
    t0 = phase_start("easy_read");
    fd = open(path, O_RDONLY);
    die_if(fd < 0, "open", path);
    for (long i = 0; i < mib; i++) {
        die_if(read(fd, buf, EASY_XFER) != EASY_XFER, "read", path);
        fill(want, 64, peer * 1000003L + i);
        if (memcmp(buf, want, 64) != 0 && failures++ < 5)
            fprintf(stderr, "rank %d: easy read of %s block %ld differs\n", rank, path, i);
    }
    close(fd);
    phase_end("easy_read", t0, (double)mib * EASY_XFER, (double)mib);
    free(want);
    free(buf);
}

static void hard(long count)
{
    char path[512], *buf = malloc(HARD_XFER);
    snprintf(path, sizeof(path), "%s/hard", dir);
    if (rank == 0) {
        int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
        die_if(fd < 0, "create", path);
        close(fd);
    }
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = phase_start("hard_write");
    int fd = open(path, O_WRONLY);
    die_if(fd < 0, "open", path);
    for (long i = 0; i < count; i++) {
        fill(buf, HARD_XFER, (i * nranks + rank) * 7 + 1);
        off_t off = (off_t)(i * nranks + rank) * HARD_XFER;
        die_if(pwrite(fd, buf, HARD_XFER, off) != HARD_XFER, "pwrite", path);
    }
    die_if(fsync(fd) != 0, "fsync", path);
    close(fd);
    phase_end("hard_write", t0, (double)count * HARD_XFER, (double)count);

    int peer = (rank + 1) % nranks;
    t0 = phase_start("hard_read");
    fd = open(path, O_RDONLY);
    die_if(fd < 0, "open", path);
    for (long i = 0; i < count; i++) {
        off_t off = (off_t)(i * nranks + peer) * HARD_XFER;
        die_if(pread(fd, buf, HARD_XFER, off) != HARD_XFER, "pread", path);
        verify(buf, HARD_XFER, (i * nranks + peer) * 7 + 1, "hard read");
    }
    close(fd);
    phase_end("hard_read", t0, (double)count * HARD_XFER, (double)count);
    free(buf);
}

static void md(const char *kind, long files, size_t bytes, int shared)
{
    char d[512], path[600], name[64];
    char *buf = malloc(bytes + 1), *got = malloc(bytes + 1);
    if (shared)
        snprintf(d, sizeof(d), "%s/md_%s", dir, kind);
    else
        snprintf(d, sizeof(d), "%s/md_%s.%d", dir, kind, rank);
    if (!shared || rank == 0)
        die_if(mkdir(d, 0755) != 0 && errno != EEXIST, "mkdir", d);
    MPI_Barrier(MPI_COMM_WORLD);
    char ph[64];

    snprintf(ph, sizeof(ph), "md_%s_create", kind);
    double t0 = phase_start(ph);
    for (long i = 0; i < files; i++) {
        snprintf(name, sizeof(name), "f.%d.%ld", rank, i);
        snprintf(path, sizeof(path), "%s/%s", d, name);
        int fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0644);
        die_if(fd < 0, "create", path);
        if (bytes) {
            fill(buf, bytes, rank * 7919L + i);
            die_if(write(fd, buf, bytes) != (ssize_t)bytes, "write", path);
        }
        close(fd);
    }
    phase_end(ph, t0, (double)files * (double)bytes, (double)files);

    int peer = shared ? (rank + 1) % nranks : rank;
    snprintf(ph, sizeof(ph), "md_%s_stat", kind);
    t0 = phase_start(ph);
    for (long i = 0; i < files; i++) {
        struct stat st;
        snprintf(path, sizeof(path), "%s/f.%d.%ld", d, peer, i);
        die_if(stat(path, &st) != 0, "stat", path);
        if ((size_t)st.st_size != bytes && failures++ < 5)
            fprintf(stderr, "rank %d: %s has size %ld\n", rank, path, (long)st.st_size);
    }
    phase_end(ph, t0, 0, (double)files);

    if (bytes) {
        snprintf(ph, sizeof(ph), "md_%s_read", kind);
        t0 = phase_start(ph);
        for (long i = 0; i < files; i++) {
            snprintf(path, sizeof(path), "%s/f.%d.%ld", d, peer, i);
            int fd = open(path, O_RDONLY);
            die_if(fd < 0, "open", path);
            die_if(read(fd, got, bytes + 1) != (ssize_t)bytes, "read", path);
            verify(got, bytes, peer * 7919L + i, "md read");
            close(fd);
        }
        phase_end(ph, t0, (double)files * (double)bytes, (double)files);
    }

    snprintf(ph, sizeof(ph), "md_%s_delete", kind);
    t0 = phase_start(ph);
    for (long i = 0; i < files; i++) {
        snprintf(path, sizeof(path), "%s/f.%d.%ld", d, rank, i);
        die_if(unlink(path) != 0, "unlink", path);
    }
    phase_end(ph, t0, 0, (double)files);
    MPI_Barrier(MPI_COMM_WORLD);
    if (!shared || rank == 0)
        rmdir(d);
    free(buf);
    free(got);
}

/* Is `name` one of the comma-separated words of `list`? */
static int has_phase(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        size_t w = strcspn(p, ",");
        if (w == n && !strncmp(p, name, n))
            return 1;
        p += w + (p[w] == ',');
    }
    return 0;
}

int main(int argc, char **argv)
{
    long easy_mib = 64, hard_count = 2000, md_files = 2000;
    const char *phases = "easy,hard,mdeasy,mdhard";
    MPI_Init(&argc, &argv);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &nranks);
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--dir"))
            dir = argv[i + 1];
        else if (!strcmp(argv[i], "--easy-mib"))
            easy_mib = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--hard-count"))
            hard_count = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--md-files"))
            md_files = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--phases"))
            phases = argv[i + 1];
    }
    if (rank == 0)
        die_if(mkdir(dir, 0755) != 0 && errno != EEXIST, "mkdir", dir);
    MPI_Barrier(MPI_COMM_WORLD);
    if (has_phase(phases, "easy"))
        easy(easy_mib);
    if (has_phase(phases, "hard"))
        hard(hard_count);
    if (has_phase(phases, "mdeasy"))
        md("easy", md_files, 0, 0);
    if (has_phase(phases, "mdhard"))
        md("hard", md_files, MD_HARD_BYTES, 1);
    char path[512];
    snprintf(path, sizeof(path), "%s/easy.%d", dir, rank);
    unlink(path);
    MPI_Barrier(MPI_COMM_WORLD);
    if (rank == 0) {
        snprintf(path, sizeof(path), "%s/hard", dir);
        unlink(path);
        rmdir(dir);
    }
    int total = 0;
    MPI_Allreduce(&failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0 && total)
        fprintf(stderr, "bfs_io500: %d verification failures\n", total);
    MPI_Finalize();
    return total ? 1 : 0;
}
