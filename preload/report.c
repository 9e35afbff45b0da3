/* BENCHFS_REPORT=1: at exit, one line on stderr with how many calls of
 * each kind the library served, how many descriptors it handed to the FUSE
 * mount, carried across exec, or refused. It is how a user sees that
 * interception works for a program (a program whose calls bypass the
 * library shows no reads or writes). Counting costs one predictable
 * branch per call when off. */
#include "preload.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int bfs_pl_report_on;
unsigned long bfs_pl_counts[BFS_CNT_N];
/* stderr as it was at start: many programs (coreutils) close fd 2 at
 * exit, before our destructor runs. */
static int g_out = -1;

void bfs_pl_report_init(void)
{
    const char *rep = getenv("BENCHFS_REPORT");
    bfs_pl_report_on = rep && rep[0] && strcmp(rep, "0") != 0;
    if (bfs_pl_report_on)
        g_out = REAL(fcntl)(STDERR_FILENO, F_DUPFD_CLOEXEC, 200);
}

static const char *const names[BFS_CNT_N] = {
    [BFS_CNT_OPEN] = "open",        [BFS_CNT_READ] = "read",       [BFS_CNT_WRITE] = "write",
    [BFS_CNT_META] = "metadata",    [BFS_CNT_DIR] = "directory",   [BFS_CNT_OTHER] = "other",
    [BFS_CNT_FUSE] = "to-fuse",     [BFS_CNT_CARRIED] = "carried-across-exec",
    [BFS_CNT_REFUSED] = "refused",
};

__attribute__((destructor)) static void report_at_exit(void)
{
    if (!bfs_pl_report_on)
        return;
    char comm[64] = "?";
    FILE *f = REAL(fopen)("/proc/self/comm", "r");
    if (f) {
        if (fgets(comm, sizeof(comm), f))
            comm[strcspn(comm, "\n")] = '\0';
        fclose(f);
    }
    char line[768];
    int n = snprintf(line, sizeof(line), "benchfs report: pid %d (%s):", (int)getpid(), comm);
    for (int i = 0; i < BFS_CNT_N && n < (int)sizeof(line); i++)
        n += snprintf(line + n, sizeof(line) - (size_t)n, " %s %lu", names[i],
                      __atomic_load_n(&bfs_pl_counts[i], __ATOMIC_RELAXED));
    /* Round trips to the servers: calls per operation, when compared with
     * the program's own count (what mdtest and IOR cost per file). */
    benchfs_t *fs = bfs_pl_fs_connected();
    if (n < (int)sizeof(line))
        n += snprintf(line + n, sizeof(line) - (size_t)n, " requests %llu",
                      fs ? benchfs_requests(fs) : 0ull);
    if (n >= (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = g_out >= 0 ? REAL(write)(g_out, line, (size_t)n) : write(STDERR_FILENO, line, (size_t)n);
    (void)w;
}
