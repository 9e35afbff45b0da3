/* Who a process is, for a server on the same node (rpc_wire.h,
 * BFS_HELLO_F_PROC): the node's boot, the pid namespace, a process's start
 * time. */
#include "rpc_proc.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static uint64_t fnv64(const char *p, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
    return h;
}

uint64_t bfs_rpc_boot_hash(void)
{
    char b[64];
    int fd = open("/proc/sys/kernel/random/boot_id", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, b, sizeof(b));
    close(fd);
    return n > 0 ? fnv64(b, (size_t)n) : 0;
}

uint32_t bfs_rpc_pidns(void)
{
    struct stat st;
    return stat("/proc/self/ns/pid", &st) == 0 ? (uint32_t)st.st_ino : 0;
}

uint64_t bfs_rpc_proc_start(int pid)
{
    char path[64], b[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, b, sizeof(b) - 1);
    close(fd);
    if (n <= 0)
        return 0;
    b[n] = 0;
    /* Fields after the command name, which may hold spaces and ')'. */
    char *p = strrchr(b, ')');
    if (!p)
        return 0;
    /* Field 3 (state) follows; starttime is field 22. */
    for (int field = 2; field < 22 && p; field++)
        p = strchr(p + 1, ' ');
    return p ? strtoull(p + 1, NULL, 10) : 0;
}

