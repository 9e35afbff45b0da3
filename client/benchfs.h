/* BenchFS client API.
 *
 * Link with `pkg-config --libs benchfs`. Connects to the servers listed in a
 * registry file (written by benchfsd, see docs/DESIGN.md) and speaks to them
 * directly; the LD_PRELOAD library libbenchfs.so is built on this API.
 *
 * Paths are absolute within the file system ("/dir/file") and resolve as
 * POSIX says: symbolic links in the path are followed (ELOOP after 40),
 * ".." after a symlink goes to the parent of where the link led, a
 * trailing "/" or "/." needs a directory (ENOTDIR). The last component is
 * followed by benchfs_stat, benchfs_open (unless O_NOFOLLOW or
 * O_CREAT|O_EXCL), chmod, truncate, utimens, opendir, realpath; not by
 * benchfs_lstat, unlink, rmdir, rename, link, symlink, readlink, mkdir.
 * A relative symlink target is relative to the link's directory; an
 * absolute one is a host path: under the mount prefix (benchfs_set_mount)
 * it resolves in BenchFS, elsewhere the call returns -BENCHFS_EOUTSIDE and
 * benchfs_outside_path() gives the host path to use instead (without a
 * mount prefix absolute targets are BenchFS paths). Every call returns 0
 * (or a byte count) on success and a negative errno on failure; nothing is
 * printed.
 * All calls are thread safe; a benchfs_file_t may be used from several
 * threads at once. */
#ifndef BENCHFS_H
#define BENCHFS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct benchfs benchfs_t;
typedef struct benchfs_file benchfs_file_t;
typedef struct benchfs_dir benchfs_dir_t;

/* A path led out of BenchFS (a symlink's absolute target outside the
 * mount prefix, or ".." above the root): not an errno value. */
#define BENCHFS_EOUTSIDE 1000

struct benchfs_dirent {
    unsigned char type;  /* DT_REG, DT_DIR or DT_LNK */
    char name[256];
};

/* registry: path of the registry file; NULL: $BENCHFS_REGISTRY. */
int benchfs_init(benchfs_t **fs, const char *registry);
void benchfs_finalize(benchfs_t *fs);
/* In a child after fork(): drop the parent's connections (without touching
 * them) and connect anew. Open files stay usable. */
int benchfs_after_fork_child(benchfs_t *fs);
/* The process is exiting and fs may still be held by other threads (the
 * preload library's destructor): the servers drop this process's
 * connections and open references now, as after benchfs_finalize, but
 * nothing is freed; a later call fails with -ESHUTDOWN. A no-op while a
 * call is in flight and in a forked child that did not reconnect. */
void benchfs_exiting(benchfs_t *fs);
/* Requests this client sent to servers so far (one round trip each; a
 * forked child counts from its reconnection). */
unsigned long long benchfs_requests(benchfs_t *fs);
unsigned benchfs_nservers(const benchfs_t *fs);
/* The host directory where BenchFS appears to programs ("/benchfs" for the
 * preload and FUSE): absolute symlink targets under it resolve inside,
 * others (and ".." above the root) lead out (-BENCHFS_EOUTSIDE). NULL or
 * "": none (the default). */
int benchfs_set_mount(benchfs_t *fs, const char *prefix);
/* After -BENCHFS_EOUTSIDE: the host path the call should go to (this
 * thread's, until its next call). */
const char *benchfs_outside_path(void);
uint64_t benchfs_chunk_size(const benchfs_t *fs);
/* Diagnostics: how many client connections server (index) holds, from its
 * PING reply (tests count them to see that gone clients cost nothing; the
 * other servers' own connections are not counted), or a negative errno. */
int benchfs_server_conns(benchfs_t *fs, unsigned server);
/* Diagnostics: dead files whose chunks server (index) has not freed
 * everywhere yet, and files open at it (by any client), from its PING
 * reply (tests wait for space to come back). 0 or a negative errno. */
int benchfs_server_reclaim(benchfs_t *fs, unsigned server, unsigned *reaping,
                           unsigned *open_files);

/* flags: O_RDONLY/O_WRONLY/O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND,
 * O_DIRECTORY, O_NOFOLLOW (a symlink as the last component: -ELOOP);
 * other flags are ignored. O_CREAT through a dangling symlink creates its
 * target, as Linux does; O_CREAT|O_EXCL never follows (-EEXIST).
 *
 * Sizes are the servers': a write always makes the file at least as long as
 * its end, even after another process truncated the file (no cached size
 * is trusted), and a read is cut at the size the metadata server reports
 * at the time of the read. */
int benchfs_open(benchfs_t *fs, const char *path, int flags, mode_t mode, benchfs_file_t **f);
int benchfs_close(benchfs_file_t *f);
ssize_t benchfs_pwrite(benchfs_file_t *f, const void *buf, size_t len, off_t off);
ssize_t benchfs_pread(benchfs_file_t *f, void *buf, size_t len, off_t off);
ssize_t benchfs_pwritev(benchfs_file_t *f, const struct iovec *iov, int iovcnt, off_t off);
ssize_t benchfs_preadv(benchfs_file_t *f, const struct iovec *iov, int iovcnt, off_t off);
/* Append atomically across processes and nodes: the file's metadata
 * server reserves [size, size + len) in one transaction (size += len), then
 * the bytes are written there; *at (may be NULL) receives that offset.
 * Concurrent appenders never overlap or lose a record. len 0 writes
 * nothing and leaves *at alone. If the data write fails after the
 * reservation (a chunk server died), the error is returned and the range
 * stays in the file as zeros. Works on any file opened for writing, with or
 * without O_APPEND. On a file whose flags hold O_APPEND, benchfs_pwrite and
 * benchfs_pwritev append too and ignore off, as Linux's pwrite(2) does; use
 * benchfs_append to learn where the bytes went (a write(2) emulation sets
 * its file offset to *at + len). */
ssize_t benchfs_append(benchfs_file_t *f, const void *buf, size_t len, off_t *at);
ssize_t benchfs_appendv(benchfs_file_t *f, const struct iovec *iov, int iovcnt, off_t *at);
int benchfs_fstat(benchfs_file_t *f, struct stat *st);
int benchfs_ftruncate(benchfs_file_t *f, off_t size);
int benchfs_fsync(benchfs_file_t *f);
/* chmod / utimensat through an open file: by its id, so after a rename of
 * the file or of a directory above it they still reach that file. */
int benchfs_fchmod(benchfs_file_t *f, mode_t mode);
int benchfs_futimens(benchfs_file_t *f, const struct timespec times[2]);
/* The path the file was opened with, its flags, and its type and
 * permission bits (as st_mode) at open time. */
const char *benchfs_file_path(const benchfs_file_t *f);
int benchfs_file_flags(const benchfs_file_t *f);
mode_t benchfs_file_mode(const benchfs_file_t *f);
/* The file's id: stable for the file's life (rename keeps it), unique in
 * the job and across restarts; st_ino of benchfs_fstat. */
uint64_t benchfs_file_id(const benchfs_file_t *f);
/* Open an existing regular file by its id (flags as benchfs_open; O_CREAT,
 * O_EXCL are refused with -EINVAL): one RPC to the inode's home. -ESTALE
 * once the file is gone. benchfs_file_path of such a file is "". */
int benchfs_open_id(benchfs_t *fs, uint64_t id, int flags, benchfs_file_t **f);
/* fcntl(F_SETFL) of O_APPEND on an open file: whether benchfs_pwrite
 * appends from now on. Returns 0. */
int benchfs_file_set_append(benchfs_file_t *f, int on);

int benchfs_stat(benchfs_t *fs, const char *path, struct stat *st);
/* stat without following a last symlink: S_IFLNK, st_size = target length. */
int benchfs_lstat(benchfs_t *fs, const char *path, struct stat *st);
/* A symbolic link at linkpath holding target (1..4095 bytes, stored as
 * given, resolved when followed). -EEXIST when linkpath exists (even a
 * dangling symlink). */
int benchfs_symlink(benchfs_t *fs, const char *target, const char *linkpath);
/* mknod(2) without devices: S_IFIFO or S_IFSOCK (with permissions, umask
 * already applied) stores a FIFO or socket node, which BenchFS never opens:
 * benchfs_open of one gives -ENXIO, and the kernel of the node that opens
 * it on the FUSE mount makes the pipe or the connection, node-local (as on
 * NFS). S_IFREG or 0: an empty file. S_IFCHR, S_IFBLK: -EPERM; other
 * types -EINVAL; -EEXIST when path exists. */
int benchfs_mknod(benchfs_t *fs, const char *path, mode_t mode);
/* The target of the symlink at path into buf (no NUL added, cut at cap,
 * as readlink(2)): its length, -EINVAL when path is not a symlink. */
ssize_t benchfs_readlink(benchfs_t *fs, const char *path, char *buf, size_t cap);
/* The real path (every symlink followed, no ".", ".."; out of
 * BFS_PATH_MAX = 4096 bytes) of an existing path. */
int benchfs_realpath(benchfs_t *fs, const char *path, char *out);
int benchfs_truncate(benchfs_t *fs, const char *path, off_t size);
int benchfs_unlink(benchfs_t *fs, const char *path);
int benchfs_mkdir(benchfs_t *fs, const char *path, mode_t mode);
int benchfs_rmdir(benchfs_t *fs, const char *path);
/* Files and directories (a directory's whole subtree moves; not atomic). */
int benchfs_rename(benchfs_t *fs, const char *from, const char *to);
int benchfs_chmod(benchfs_t *fs, const char *path, mode_t mode);
/* A hard link: a second name for the file at from (not a directory:
 * -EPERM); st_nlink counts the names, data is shared, removing one name
 * keeps the other. A symlink at from is not followed (the new name is a
 * link to the symlink itself, as linkat without AT_SYMLINK_FOLLOW); to
 * follow, pass benchfs_realpath's result. */
int benchfs_link(benchfs_t *fs, const char *from, const char *to);
/* times[0] atime, times[1] mtime; UTIME_NOW / UTIME_OMIT honoured; NULL: now. */
int benchfs_utimens(benchfs_t *fs, const char *path, const struct timespec times[2]);
/* The same without following a last symlink (utimensat AT_SYMLINK_NOFOLLOW). */
int benchfs_lutimens(benchfs_t *fs, const char *path, const struct timespec times[2]);
/* Capacity and usage summed over all servers. */
int benchfs_statfs(benchfs_t *fs, struct statvfs *st);

int benchfs_opendir(benchfs_t *fs, const char *path, benchfs_dir_t **d);
/* 1 and *ent filled, 0 at the end, or a negative errno. */
int benchfs_readdir(benchfs_dir_t *d, struct benchfs_dirent *ent);
void benchfs_rewinddir(benchfs_dir_t *d);
int benchfs_closedir(benchfs_dir_t *d);

/* Round trip to every server; latencies in microseconds per server (may be
 * NULL). Returns the number of servers that answered. */
int benchfs_ping(benchfs_t *fs, double *latency_us);
/* Ask every server to shut down. */
int benchfs_shutdown_servers(benchfs_t *fs);

#ifdef __cplusplus
}
#endif
#endif
