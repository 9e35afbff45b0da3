/* File offsets shared between processes.
 *
 * An open file description is shared by fork and survives exec: the shell's
 * `{ echo a; /bin/echo b; echo c; } > f` writes a, b and c one after the
 * other because the parent and the child move one kernel offset. BenchFS
 * keeps offsets in the library, so an offset that a child may use lives in
 * a table in shared memory: a memfd, mapped MAP_SHARED (a forked child
 * inherits the mapping) and passed by descriptor across exec (escape.c).
 * Slot 0 counts the slots handed out; slots are never reused (a table of
 * 128 Ki slots per process tree; when it is full, offsets stay private). */
#include "preload.h"

#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define TABLE_SLOTS (128 * 1024)
#define TABLE_BYTES (TABLE_SLOTS * sizeof(uint64_t))
#define MEMFD_NAME "benchfs-offsets"

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *g_table;
static int g_fd = -1;

static int map_fd(int fd)
{
    struct stat st;
    if (REAL(fstat)(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != TABLE_BYTES)
        return -EINVAL;
    void *p = REAL(mmap)(NULL, TABLE_BYTES, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return -errno;
    g_table = p;
    g_fd = fd;
    return 0;
}

static int table_create(void)
{
    int fd = memfd_create(MEMFD_NAME, MFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    /* Out of the way of the low numbers a program manages itself. */
    int high = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 100);
    if (high >= 0) {
        REAL(close)(fd);
        fd = high;
    }
    int rc = ftruncate(fd, (off_t)TABLE_BYTES) < 0 ? -errno : map_fd(fd);
    if (rc < 0)
        REAL(close)(fd);
    return rc;
}

int bfs_pl_shared_attach(int fd)
{
    char link[64], name[128];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, name, sizeof(name) - 1);
    if (n < 0)
        return -errno;
    name[n] = '\0';
    /* Only our own table, never a descriptor the program reused. */
    if (strncmp(name, "/memfd:" MEMFD_NAME, strlen("/memfd:" MEMFD_NAME)) != 0)
        return -EINVAL;
    pthread_mutex_lock(&g_mu);
    int rc = g_table ? -EEXIST : map_fd(fd);
    pthread_mutex_unlock(&g_mu);
    if (rc == 0)
        REAL(fcntl)(fd, F_SETFD, FD_CLOEXEC);
    return rc;
}

uint64_t *bfs_pl_shared_ptr(long slot)
{
    if (!g_table || slot <= 0 || slot >= TABLE_SLOTS)
        return NULL;
    return &g_table[slot];
}

int bfs_pl_shared_fd(void) { return g_fd; }

long bfs_pl_shared_slot(const struct bfs_ofile *of)
{
    if (!g_table || of->offp < g_table + 1 || of->offp >= g_table + TABLE_SLOTS)
        return 0;
    return of->offp - g_table;
}

int bfs_pl_share_offset(struct bfs_ofile *of)
{
    if (of->is_dir || bfs_pl_shared_slot(of) > 0)
        return 0;
    pthread_mutex_lock(&g_mu);
    int rc = g_table ? 0 : table_create();
    pthread_mutex_unlock(&g_mu);
    if (rc < 0)
        return rc;
    uint64_t slot = __atomic_add_fetch(&g_table[0], 1, __ATOMIC_RELAXED);
    if (slot >= TABLE_SLOTS)
        return -ENOSPC;
    pthread_mutex_lock(&of->mu);
    __atomic_store_n(&g_table[slot], __atomic_load_n(of->offp, __ATOMIC_RELAXED), __ATOMIC_RELAXED);
    __atomic_store_n(&of->offp, &g_table[slot], __ATOMIC_RELEASE);
    pthread_mutex_unlock(&of->mu);
    return 0;
}
