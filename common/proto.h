/* The file-system protocol on top of the RPC layer: RPC ids and what each
 * carries in the generic header fields (rpc/rpc_wire.h). Paths travel in the
 * payload without a NUL; arg2 holds a path's length where a payload carries
 * more than the path.
 *
 * Metadata RPCs go to the path's metadata server (common/placement.h);
 * chunk RPCs go to the chunk's server. Replies carry status >= 0 or -errno;
 * RPCs that return an inode reply with a struct bfs_inode as data.
 *
 * Names live with their directory (place(parent)), a directory's record at
 * place(its path), a file's inode at home(fid) (common/placement.h,
 * docs/DESIGN.md "Namespace"). "target" = the fid (8 bytes, flags
 * BFS_F_BYFID: a file's inode at its home; ESTALE when gone) or a path (a
 * directory's record).
 *
 *  id  name           request                                 reply
 *  10  CREATE         path; arg0 mode, arg1 uid<<32|gid,      inode; status 0
 *                     offset now_ns. A file: at place(parent) new, BFS_FOUND*
 *                     (name + inode, one transaction; flags
 *                     BFS_F_EXCL); a directory: its record at
 *                     place(path), with BFS_F_DIRENT also its
 *                     name (the parent is on this server)
 *  11  STAT           target                                  inode (by id, a
 *                                                             symlink: + target
 *                                                             when rcap has room)
 *  12  CHMOD          target; arg0 mode                       -
 *  13  UTIMENS        target; arg0 atime ns, arg1 mtime ns    -
 *                     (-1: leave), offset now_ns
 *  14  SETSIZE        target; arg0 size, offset now_ns        inode before
 *  15  GROW           target; arg0 size, offset now_ns        -
 *  16  REMOVE         path; arg0 BFS_RM_FILE: the name at     inode; status
 *                     place(parent) and a link of its inode   BFS_LINK_*
 *                     if it is there; BFS_RM_DIR: the record
 *                     (arg1: only with that fid), with
 *                     BFS_F_DIRENT also its name
 *  17  PUT            dir path + inode (arg2 = path length),  inode replaced
 *                     flags BFS_F_DIRENT                      (status 1) or none
 *  18  DIRENT_ADD     dir path + name (arg2 = dir length);    BFS_F_EXCL: status
 *                     arg0 type, arg1 fid; BFS_F_EXCL: the    BFS_FOUND + entry
 *                     name must be free, else rename rules    when taken; else
 *                     (BFS_F_LINK, not with EXCL: fid's home  BFS_LINK_* + inode
 *                     is here, one more link of it in the
 *                     same transaction; none when the name
 *                     is not added)
 *  19  DIRENT_DEL     dir path + name (arg2 = dir length);    the entry (inode
 *                     arg0 type wanted, arg1 fid wanted (0:   with fid, type)
 *                     any); BFS_F_LINK: fid's home is here,
 *                     one link of it less in the same
 *                     transaction when the name went
 *  20  READDIR        dir path + last name returned           packed entries;
 *                     (arg2 = dir length)                     reply arg0 = more
 *  21  STATFS         -                                       struct bfs_statfs
 *  22  APPEND         target; arg0 length, offset now_ns      inode before:
 *                     (reserves [size, size + length): size   its size is where
 *                     += length in one transaction, so        the data goes
 *                     concurrent appenders never overlap)
 *  23  LOOKUP         path, at place(parent)                  inode, or status
 *                                                             BFS_FOUND_ELSEWHERE
 *                                                             + fid and type;
 *                                                             status BFS_NOT_HERE
 *                                                             when the parent is
 *                                                             no directory here;
 *                                                             a symlink's target
 *                                                             follows the inode
 *                                                             when rcap has room
 *  24  UNREF          fid (BFS_F_BYFID), at its home          status BFS_LINK_*
 *                                                             + inode if dead
 *  25  RENAME         source path + destination path (arg2 =  status BFS_LINK_*
 *                     source length), both parents here; a    + inode
 *                     file only (EXDEV for a directory)
 *  26  LINK           fid (BFS_F_BYFID), at its home; offset   inode after
 *                     now_ns: one more link (a hard link's
 *                     name is added next, with DIRENT_ADD
 *                     BFS_F_EXCL; UNREF undoes it)
 *  27  SYMLINK        path + target (arg2 = path length), at  inode; -EEXIST when
 *                     place(parent); arg1 uid<<32|gid, offset the name is taken
 *                     now_ns: a symlink inode (S_IFLNK, size
 *                     = target length, target stored with it
 *                     in table `links`) and its name
 *                     (BFS_DT_LNK), one transaction
 *  28  CLOSE          fid (BFS_F_BYFID), or without the flag    -
 *                     arg0 fids (<= 64, 8 bytes each, all
 *                     homed here): one open reference of the
 *                     caller less each (sent in batches, not
 *                     waited for); the last one of an
 *                     unlinked file frees it
 *  29  MKNOD          path, at place(parent); arg0 mode        inode; -EEXIST when
 *                     (S_IFIFO or S_IFSOCK | permissions),    the name is taken
 *                     arg1 uid<<32|gid, offset now_ns: a
 *                     FIFO or socket inode and its name
 *                     (BFS_DT_FIFO / BFS_DT_SOCK), one
 *                     transaction (opened by the kernel on
 *                     the FUSE mount, never through BenchFS)
 *  30  WRITE          [path] + data (arg2 = path length, 0    reply arg0 = bytes
 *                     when no path); arg0 fid, arg1 chunk
 *                     index, offset in chunk; flags
 *                     BFS_F_GROW: also grow file arg0 (its
 *                     home is this server) to the end of this
 *                     write (ESTALE, nothing written, when
 *                     the file is gone); a fid with a
 *                     tombstone here (TRUNC_CHUNKS
 *                     BFS_F_DEAD): ESTALE, nothing written
 *  31  READ           [path] (arg2 = path length, 0 when no   data (short at a
 *                     path); arg0 fid, arg1 index, offset in  chunk's end);
 *                     chunk, rcap = length; flags BFS_F_SIZE: with BFS_F_SIZE
 *                     also report the size of file arg0 (its  reply arg1 = the
 *                     home is this server)                    file's size
 *  32  TRUNC_CHUNKS   arg0 fid, offset new size, arg1 old     - (after the
 *                     size; BFS_F_DEAD: the file died (new    commit: a
 *                     size 0): a tombstone too, and later     tombstone is
 *                     WRITEs of it get ESTALE                 durable)
 *  33  FSYNC          arg0 fid, arg1 file size                -
 *  40  PING           -                                       reply arg0 rank,
 *                                                             arg1 inflight,
 *                                                             arg2 client
 *                                                             connections
 *  41  SHUTDOWN       -                                       -
 */
#ifndef BFS_PROTO_H
#define BFS_PROTO_H

#include <stddef.h>
#include <stdint.h>

enum bfs_op {
    BFS_OP_CREATE = 10,
    BFS_OP_STAT = 11,
    BFS_OP_CHMOD = 12,
    BFS_OP_UTIMENS = 13,
    BFS_OP_SETSIZE = 14,
    BFS_OP_GROW = 15,
    BFS_OP_REMOVE = 16,
    BFS_OP_PUT = 17,
    BFS_OP_DIRENT_ADD = 18,
    BFS_OP_DIRENT_DEL = 19,
    BFS_OP_READDIR = 20,
    BFS_OP_STATFS = 21,
    BFS_OP_APPEND = 22,
    BFS_OP_LOOKUP = 23,
    BFS_OP_UNREF = 24,
    BFS_OP_RENAME = 25,
    BFS_OP_LINK = 26,
    BFS_OP_SYMLINK = 27,
    BFS_OP_CLOSE = 28,
    BFS_OP_MKNOD = 29,
    BFS_OP_WRITE = 30,
    BFS_OP_READ = 31,
    BFS_OP_TRUNC_CHUNKS = 32,
    BFS_OP_FSYNC = 33,
    BFS_OP_PING = 40,
    BFS_OP_SHUTDOWN = 41,
};

/* Header flags */
#define BFS_F_DIRENT 0x1u /* also maintain the parent's entry (same server) */
#define BFS_F_EXCL 0x2u   /* CREATE: fail with EEXIST if it exists */
#define BFS_F_GROW 0x4u   /* WRITE: also grow the file size (same server) */
#define BFS_F_SIZE 0x8u   /* READ: also report the file size (same server) */
#define BFS_F_BYFID 0x10u /* the payload is a file id, not a path */
#define BFS_F_LINK 0x80u  /* DIRENT_ADD / DIRENT_DEL: also one link more / less
                           * of file arg1, whose home is this server (a
                           * rename across servers, client/meta_ops.c) */
#define BFS_F_DEAD 0x40u  /* TRUNC_CHUNKS: file arg0 is dead (its inode is gone
                           * for good): free every chunk and refuse any
                           * later write of it here (ESTALE) */
#define BFS_F_OPEN 0x20u  /* LOOKUP, CREATE of a file, STAT by id: the caller
                           * opens the file: one open reference at its home
                           * when the inode is there (CLOSE drops it), so an
                           * unlink leaves it to its holders (an orphan) */

/* Entry types (as d_type) */
#define BFS_DT_FIFO 1
#define BFS_DT_DIR 4
#define BFS_DT_REG 8
#define BFS_DT_LNK 10
#define BFS_DT_SOCK 12

/* The entry type of an inode's mode and back: every name has one, and
 * readdir's d_type must equal stat's type (anything else is a file). */
static inline uint8_t bfs_dt_of_mode(uint32_t mode)
{
    switch (mode & 0170000u) {
    case 0040000u: return BFS_DT_DIR;
    case 0120000u: return BFS_DT_LNK;
    case 0010000u: return BFS_DT_FIFO;
    case 0140000u: return BFS_DT_SOCK;
    default: return BFS_DT_REG;
    }
}

static inline uint32_t bfs_mode_of_dt(uint8_t type)
{
    switch (type) {
    case BFS_DT_DIR: return 0040000u;
    case BFS_DT_LNK: return 0120000u;
    case BFS_DT_FIFO: return 0010000u;
    case BFS_DT_SOCK: return 0140000u;
    default: return 0100000u;
    }
}

/* A symlink's target: at most this many bytes (as Linux: PATH_MAX - 1). */
#define BFS_TARGET_MAX 4095

/* Success statuses of name operations (CREATE of a file, LOOKUP): */
#define BFS_FOUND 1           /* the name existed: its inode in the reply */
#define BFS_FOUND_ELSEWHERE 2 /* the name existed; its inode lives on another
                               * server: reply inode has only fid and type
                               * (a file: ask home(fid) by id; a directory:
                               * STAT its path at place(path)) */
#define BFS_NOT_HERE 4        /* LOOKUP: the parent is not a directory on this
                               * server (no record, or a symlink or file of
                               * that name): the client walks the path
                               * component by component (docs/DESIGN.md
                               * "Symbolic links and path resolution"); a
                               * missing name in an existing directory is
                               * -ENOENT, so that costs no walk */
/* ... and of operations that drop a file's name (UNLINK, RENAME, NAME_PUT,
 * UNREF): */
#define BFS_LINK_NONE 0       /* nothing more to do */
#define BFS_LINK_ALIVE 0
#define BFS_LINK_DEAD 1       /* that was the last link: the reply inode is
                               * deleted (or an orphan while open); its
                               * home frees its chunks (server/reaper.c) */
#define BFS_LINK_ELSEWHERE 2  /* the file's inode lives elsewhere: the caller
                               * sends UNREF to home(fid) (reply inode.fid) */
#define BFS_LINK_SAME 3       /* RENAME: both names are the same file */

/* REMOVE arg0 */
#define BFS_RM_FILE 0
#define BFS_RM_DIR 1
#define BFS_RM_ANY 2

/* An inode as stored and as sent (reply data of CREATE, STAT, LOOKUP, ...,
 * PUT's payload). Little endian, the struct's bytes (rpc/rpc_wire.h). */
struct bfs_inode {
    uint64_t fid;      /* stable file id: chunks are keyed by it */
    uint64_t size;
    uint32_t mode;     /* type and permission bits, as st_mode */
    uint32_t uid, gid;
    uint32_t nlink;
    int64_t atime_ns, mtime_ns, ctime_ns;
};
_Static_assert(sizeof(struct bfs_inode) == 56, "bfs_inode crosses the network");
_Static_assert(offsetof(struct bfs_inode, size) == 8 && offsetof(struct bfs_inode, mode) == 16 &&
                   offsetof(struct bfs_inode, nlink) == 28 &&
                   offsetof(struct bfs_inode, atime_ns) == 32 &&
                   offsetof(struct bfs_inode, ctime_ns) == 48,
               "bfs_inode layout");

/* READDIR reply pages: entries of u8 type (BFS_DT_*), u16 little-endian
 * name length, the name's bytes (no NUL), in name order. */
#define BFS_DIRPAGE_ENTRY_HDR 3u

/* A server's backing file system. host (a hash of the node's boot id) and
 * dev (st_dev of the server's directory) name that file system, so that
 * servers sharing one disk count it once in a sum. */
struct bfs_statfs {
    uint64_t bsize;
    uint64_t blocks, bfree, bavail;
    uint64_t files, ffree;
    uint64_t inodes_used;
    uint64_t host, dev;
};
_Static_assert(sizeof(struct bfs_statfs) == 72, "bfs_statfs crosses the network");
_Static_assert(offsetof(struct bfs_statfs, inodes_used) == 48 && offsetof(struct bfs_statfs, host) == 56 &&
                   offsetof(struct bfs_statfs, dev) == 64,
               "bfs_statfs layout");

#endif
