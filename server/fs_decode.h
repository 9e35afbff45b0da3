/* Decoding of file-system RPC requests (common/proto.h): turn a request's
 * header and payload into validated arguments, or a negative errno.
 *
 * Pure functions: no server state, no I/O, no logging, no allocation. The
 * handlers in fs_handlers.c call them first, and the fuzz targets in
 * tests/fuzz/ call them on arbitrary bytes. `data` is the payload (h->len
 * bytes; NULL when empty). Nothing is read outside [data, data + h->len).
 *
 * Errors: -EINVAL for a malformed request (a length that does not fit the
 * payload, a bad path or name, a chunk range outside the chunk), and
 * -ENAMETOOLONG for an overlong path or name; a->bad_path is set when the
 * path itself was refused by bfs_path_check (the server logs those). */
#ifndef BFS_FS_DECODE_H
#define BFS_FS_DECODE_H

#include "../common/path.h"
#include "../rpc/rpc_wire.h"
#include "meta_store.h" /* struct bfs_inode: the wire form */

#include <stddef.h>
#include <stdint.h>

/* The largest READDIR reply a server builds, whatever rcap says. */
#define BFS_FS_READDIR_MAX_REPLY (1u << 20)
/* The smallest rcap a READDIR must give (room for one short entry). */
#define BFS_FS_READDIR_MIN_REPLY 16u

/* Why a request was refused, so that each kind is logged on its own. */
enum bfs_refusal {
    BFS_REFUSED_NONE,
    BFS_REFUSED_PATH,    /* bfs_path_check refused the path */
    BFS_REFUSED_NAME,    /* an invalid entry name */
    BFS_REFUSED_RANGE,   /* outside a chunk */
    BFS_REFUSED_LENGTHS, /* lengths that do not add up */
    BFS_REFUSED_KINDS
};

struct bfs_fs_args {
    char path[BFS_PATH_MAX];      /* the path (directory for DIRENT_*, READDIR), NUL terminated */
    size_t plen;                  /* its length */
    char name[BFS_NAME_MAX + 1];  /* DIRENT_*: the entry; READDIR: the cursor ("": first page) */
    struct bfs_inode ino;         /* PUT: the inode to store */
    const void *wdata;            /* WRITE: the bytes to write (inside the payload) */
    uint64_t wlen;                /* WRITE: their count; READ: bytes asked for */
    int has_path;                 /* WRITE, READ: a path came along (arg2 > 0) */
    uint64_t fid;                 /* BFS_F_BYFID: the file id (the payload) */
    int by_fid;                   /* the request names a file by id */
    char path2[BFS_PATH_MAX];     /* RENAME: the destination; SYMLINK: the target */
    size_t plen2;
    size_t rcap;                  /* READDIR: reply bytes to fill */
    int bad_path;                 /* the error is bfs_path_check refusing the path */
    enum bfs_refusal refused;     /* why the request was refused, if it was */
};

/* The whole payload is a path (CREATE, STAT, CHMOD, UTIMENS, SETSIZE, GROW,
 * REMOVE, APPEND). Returns the path's length. */
int bfs_fs_decode_path(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a);

/* A request on one object: by id (BFS_F_BYFID: the payload is the 8-byte
 * fid, into a->fid) or by path (the whole payload). Returns 0 for an id,
 * else the path's length. */
int bfs_fs_decode_target(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a);

/* RENAME: source path (arg2 bytes, > 0) + destination path (the rest).
 * Returns 0. */
int bfs_fs_decode_rename(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a);

/* PUT: path (arg2 bytes; the whole payload when 0) + struct bfs_inode.
 * Returns the path's length; -EBUSY for "/", -EINVAL unless the payload is
 * exactly path + inode. */
int bfs_fs_decode_put(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a);

/* SYMLINK: path (arg2 bytes, > 0) + target (the rest: 1..BFS_TARGET_MAX
 * bytes, no NUL) into a->path2 / a->plen2 (NUL terminated). Returns the
 * path's length; -EEXIST for "/". */
int bfs_fs_decode_symlink(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a);

/* DIRENT_ADD / DIRENT_DEL: directory path (arg2 bytes, > 0) + entry name
 * (non-empty, no '/' or NUL, not "." or ".."). Returns 0. */
int bfs_fs_decode_dirent(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a);

/* READDIR: directory path (arg2 bytes; the whole payload when 0) + the last
 * name returned (may be empty); rcap at least BFS_FS_READDIR_MIN_REPLY,
 * capped at BFS_FS_READDIR_MAX_REPLY into a->rcap. Returns 0. */
int bfs_fs_decode_readdir(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a);

/* WRITE: [path (arg2 bytes)] + data. The data
 * must lie inside the chunk: offset + length <= chunk_size. Returns 0. */
int bfs_fs_decode_write(const struct bfs_rpc_hdr *h, const void *data, uint64_t chunk_size,
                        struct bfs_fs_args *a);

/* READ: [path (arg2 bytes, the whole payload)].
 * rcap bytes at offset must lie inside the chunk. Returns 0. */
int bfs_fs_decode_read(const struct bfs_rpc_hdr *h, const void *data, uint64_t chunk_size,
                       struct bfs_fs_args *a);

#endif
