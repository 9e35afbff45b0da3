/* Shared mappings of direct-I/O files (MAP_SHARED), which libfuse 3.14
 * cannot ask the kernel for.
 *
 * Since Linux 6.6 the kernel maps FOPEN_DIRECT_IO files shared only when
 * the daemon answered FUSE_INIT with FUSE_DIRECT_IO_ALLOW_MMAP (bit 36, in
 * the reply's flags2, read by the kernel only when the reply's flags hold
 * FUSE_INIT_EXT). libfuse 3.14 (Debian 12) has no capability for it and
 * leaves flags2 alone, so git, sqlite, Python's mmap and numpy memmap got
 * ENODEV on our direct-I/O mount. Direct I/O stays (no page cache that
 * could show another client's stale data to read(2)); with the flag the
 * kernel writes a mapping's dirty pages back before each direct read or
 * write of the range and drops them after a direct write.
 *
 * How: this executable defines read(2) and writev(2), which libfuse's
 * calls on /dev/fuse reach before libc's (the executable comes first in
 * the symbol search). read() notes the kernel's FUSE_INIT request (its
 * unique id and whether it offers the flag); writev() adds the flag to the
 * reply with that unique id. Every other call goes straight to libc.
 * Kernels that do not offer the flag get the reply unchanged (MAP_SHARED
 * stays ENODEV there, as documented). */
#define _GNU_SOURCE
#include "init_flags.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

/* The FUSE protocol pieces used here (linux/fuse.h of the kernel;
 * Debian 12's headers predate FUSE_DIRECT_IO_ALLOW_MMAP). */
#define K_FUSE_INIT 26
#define K_INIT_EXT (1u << 30)
#define K_ALLOW_MMAP_HI (1u << (36 - 32))
#define K_IN_HDR 40  /* struct fuse_in_header */
#define K_OUT_HDR 16 /* struct fuse_out_header */
#define K_INIT_IN_MIN 16 /* major, minor, max_readahead, flags */
#define K_INIT_IN_FLAGS2 16
#define K_INIT_OUT 64 /* struct fuse_init_out since protocol 7.23 */
#define K_INIT_OUT_FLAGS 12
#define K_INIT_OUT_FLAGS2 32

static atomic_int armed_fd = -1;
static atomic_int state = BFS_INIT_FLAGS_PENDING;
static uint64_t init_unique; /* written by read() before the reply's writev */
static int offered;

static ssize_t (*libc_read)(int, void *, size_t);
static ssize_t (*libc_writev)(int, const struct iovec *, int);

static void resolve(void)
{
    /* libc's own functions: cancellation points, as libfuse's worker
     * threads (cancelled at unmount) expect. */
    if (!libc_read)
        libc_read = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
    if (!libc_writev)
        libc_writev = (ssize_t(*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
}

void bfs_fuse_init_flags_arm(int fd)
{
    resolve();
    atomic_store(&armed_fd, fd);
}

int bfs_fuse_init_flags_state(void) { return atomic_load(&state); }

static uint32_t rd32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

ssize_t read(int fd, void *buf, size_t n)
{
    if (!libc_read)
        resolve();
    ssize_t r = libc_read ? libc_read(fd, buf, n) : syscall(SYS_read, fd, buf, n);
    if (r >= K_IN_HDR + K_INIT_IN_MIN && fd == atomic_load(&armed_fd) &&
        atomic_load(&state) == BFS_INIT_FLAGS_PENDING) {
        const unsigned char *p = buf;
        if (rd32(p + 4) == K_FUSE_INIT) {
            memcpy(&init_unique, p + 8, 8);
            uint32_t flags = rd32(p + K_IN_HDR + 12);
            uint32_t flags2 = r >= K_IN_HDR + K_INIT_IN_FLAGS2 + 4 ? rd32(p + K_IN_HDR + K_INIT_IN_FLAGS2) : 0;
            offered = (flags & K_INIT_EXT) && (flags2 & K_ALLOW_MMAP_HI);
            if (!offered)
                atomic_store(&state, BFS_INIT_FLAGS_NOT_OFFERED);
        }
    }
    return r;
}

/* The reply to the INIT request with the flag added, into out; 1 if iov
 * is that reply. */
static int patched_init_reply(const struct iovec *iov, int cnt, unsigned char *out)
{
    size_t total = 0;
    for (int i = 0; i < cnt; i++) {
        if (total + iov[i].iov_len > K_OUT_HDR + K_INIT_OUT)
            return 0;
        memcpy(out + total, iov[i].iov_base, iov[i].iov_len);
        total += iov[i].iov_len;
    }
    uint64_t unique;
    memcpy(&unique, out + 8, 8);
    int32_t error;
    memcpy(&error, out + 4, 4);
    if (total != K_OUT_HDR + K_INIT_OUT || rd32(out) != total || error != 0 || unique != init_unique)
        return 0;
    unsigned char *init = out + K_OUT_HDR;
    uint32_t flags = rd32(init + K_INIT_OUT_FLAGS) | K_INIT_EXT;
    uint32_t flags2 = rd32(init + K_INIT_OUT_FLAGS2) | K_ALLOW_MMAP_HI;
    memcpy(init + K_INIT_OUT_FLAGS, &flags, 4);
    memcpy(init + K_INIT_OUT_FLAGS2, &flags2, 4);
    return 1;
}

ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
    if (!libc_writev)
        resolve();
    if (fd == atomic_load(&armed_fd) && offered && atomic_load(&state) == BFS_INIT_FLAGS_PENDING) {
        unsigned char msg[K_OUT_HDR + K_INIT_OUT];
        if (cnt > 0 && patched_init_reply(iov, cnt, msg)) {
            struct iovec one = {.iov_base = msg, .iov_len = sizeof(msg)};
            ssize_t r = libc_writev ? libc_writev(fd, &one, 1) : syscall(SYS_writev, fd, &one, 1);
            if (r == (ssize_t)sizeof(msg))
                atomic_store(&state, BFS_INIT_FLAGS_ASKED);
            return r;
        }
    }
    return libc_writev ? libc_writev(fd, iov, cnt) : syscall(SYS_writev, fd, iov, cnt);
}
