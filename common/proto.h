/* The file-system protocol on top of the RPC layer: RPC ids and what each
 * carries in the generic header fields (rpc/rpc_wire.h). Paths travel in the
 * payload without a NUL; arg2 holds a path's length where a payload carries
 * more than the path.
 *
 * Metadata RPCs go to the path's metadata server (common/placement.h);
 * chunk RPCs go to the chunk's server. Replies carry status >= 0 or -errno;
 * RPCs that return an inode reply with a struct bfs_inode as data.
 *
 *  id  name           request                                 reply
 *  10  CREATE         path; arg0 mode, arg1 uid<<32|gid,      inode
 *                     offset now_ns, flags BFS_F_DIRENT (also
 *                     add the entry in the parent, which is
 *                     on this server), BFS_F_EXCL
 *  11  STAT           path                                    inode
 *  12  CHMOD          path; arg0 mode                         -
 *  13  UTIMENS        path; arg0 atime ns, arg1 mtime ns      -
 *                     (-1: leave), offset now_ns
 *  14  SETSIZE        path; arg0 size, offset now_ns          inode before
 *  15  GROW           path; arg0 size, offset now_ns          -
 *  16  REMOVE         path; arg0 0 file / 1 dir / 2 any,      inode removed
 *                     flags BFS_F_DIRENT (also drop the entry
 *                     in the parent, which is on this server)
 *  17  PUT            path + inode (arg2 = path length),      inode replaced
 *                     flags BFS_F_DIRENT                      (status 1) or none
 *  18  DIRENT_ADD     dir path + name (arg2 = dir length);    -
 *                     arg0 type
 *  19  DIRENT_DEL     dir path + name (arg2 = dir length)     -
 *  20  READDIR        dir path + last name returned           packed entries;
 *                     (arg2 = dir length)                     reply arg0 = more
 *  21  STATFS         -                                       struct bfs_statfs
 *  30  WRITE          [path] + data (arg2 = path length, 0    reply arg0 = bytes
 *                     when no path); arg0 fid, arg1 chunk
 *                     index, offset in chunk; flags
 *                     BFS_F_GROW: also grow the size of the
 *                     file at path (its inode is on this
 *                     server) to the end of this write
 *  31  READ           arg0 fid, arg1 index, offset in chunk,  data (short at a
 *                     rcap = length                           chunk's end)
 *  32  TRUNC_CHUNKS   arg0 fid, offset new size, arg1 old     -
 *                     size
 *  33  FSYNC          arg0 fid, arg1 file size                -
 *  40  PING           -                                       reply arg0 rank,
 *                                                             arg1 inflight,
 *                                                             arg2 client
 *                                                             connections
 *  41  SHUTDOWN       -                                       -
 */
#ifndef BFS_PROTO_H
#define BFS_PROTO_H

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

/* REMOVE arg0 */
#define BFS_RM_FILE 0
#define BFS_RM_DIR 1
#define BFS_RM_ANY 2

struct bfs_statfs {
    uint64_t bsize;
    uint64_t blocks, bfree, bavail;
    uint64_t files, ffree;
    uint64_t inodes_used;
};
_Static_assert(sizeof(struct bfs_statfs) == 56, "bfs_statfs crosses the network");

#endif
