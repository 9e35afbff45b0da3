/* Persistent metadata of one server, in LMDB under DIR/meta.
 *
 * Two tables:
 *   inodes:  normalized absolute path -> struct bfs_inode
 *   dirents: parent path + '\0' + name -> entry type (DT_REG / DT_DIR)
 * Paths are placed on servers by a hash of the path (see common/placement.h),
 * and a directory's entries are stored on the server that holds the directory
 * itself, so listing a directory asks one server.
 *
 * Every mutating call is one LMDB write transaction, committed before it
 * returns (MDB_NOSYNC: durable against a server crash because the data is in
 * the kernel's page cache; bfs_meta_sync() makes it durable against a machine
 * crash). Errors are negative errno values. Single-threaded.
 *
 * LMDB keys are at most 511 bytes: a long path is replaced in the keys by
 * its digest (meta_keys.h), so every path up to 4095 bytes and every name
 * up to 255 has a key. */
#ifndef BFS_META_STORE_H
#define BFS_META_STORE_H

#include "../common/proto.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* struct bfs_inode: common/proto.h (it crosses the network). */

typedef struct bfs_meta bfs_meta_t;

/* Open (creating if needed) the store in directory dir; dir itself is created
 * when missing, its parent must exist. rank is this server's rank (< 65535,
 * else -EINVAL): new file ids are (rank + 1) << 48 | counter, unique across
 * the job and across restarts (a restart may skip some counters). Creates the
 * root directory "/" (0755) when create_root and it is missing. */
int bfs_meta_open(bfs_meta_t **out, const char *dir, unsigned rank, int create_root);
void bfs_meta_close(bfs_meta_t *m);
int bfs_meta_sync(bfs_meta_t *m);

/* Group commit. Between begin and commit every mutating call joins one
 * write transaction and nothing is committed until bfs_meta_batch_commit,
 * which commits them all at once and returns the commit's result. A call
 * that fails before changing anything (EEXIST, ENOENT, ...) leaves the batch
 * intact; one that fails half-way (ENOSPC) makes the whole batch fail at
 * commit. Reads (get, readdir, counts) see only committed data meanwhile.
 * Callers must not acknowledge a mutation before its batch committed. */
int bfs_meta_batch_begin(bfs_meta_t *m);
int bfs_meta_batch_commit(bfs_meta_t *m);
/* Mutations in the open batch (0 when none is open). */
unsigned bfs_meta_batch_size(const bfs_meta_t *m);

/* Create an inode at path. mode includes S_IFREG or S_IFDIR (else -EINVAL).
 * A new fid is assigned (returned in *out); nlink is 1, 2 for a directory.
 * -EEXIST if path exists (*out then holds the existing inode). now_ns sets
 * the three times. */
int bfs_meta_create(bfs_meta_t *m, const char *path, uint32_t mode, uint32_t uid,
                    uint32_t gid, int64_t now_ns, struct bfs_inode *out);
/* Store an inode record as given (rename moves records between servers).
 * If path exists, POSIX rename rules apply: replacing a directory with a
 * non-directory is -EISDIR, a non-directory with a directory -ENOTDIR, a
 * non-empty directory -ENOTEMPTY; otherwise the record is replaced, *old
 * (may be NULL) receives the replaced record and 1 is returned. 0 if new. */
int bfs_meta_put(bfs_meta_t *m, const char *path, const struct bfs_inode *ino,
                 struct bfs_inode *old);
int bfs_meta_get(bfs_meta_t *m, const char *path, struct bfs_inode *out);
/* Remove the record; *out (may be NULL) receives it. -ENOENT if absent. If
 * must_be_dir is 1 and it is not a directory: -ENOTDIR; if 0 and it is a
 * directory: -EISDIR; -1: any type. A directory that still has entries:
 * -ENOTEMPTY. "/" is never removed: -EBUSY, as rmdir("/"). */
int bfs_meta_remove(bfs_meta_t *m, const char *path, int must_be_dir, struct bfs_inode *out);
/* The same, only when the record's fid is fid (0: any); -ENOENT otherwise. */
int bfs_meta_remove_fid(bfs_meta_t *m, const char *path, int must_be_dir, uint64_t fid,
                        struct bfs_inode *out);

/* size = max(size, new_size); mtime/ctime = now when the size grows.
 * Returns the resulting inode in *out (may be NULL). -ENOENT, -EISDIR. */
int bfs_meta_grow(bfs_meta_t *m, const char *path, uint64_t new_size, int64_t now_ns,
                  struct bfs_inode *out);
/* size = new_size exactly (truncate), mtime = ctime = now. *out: the inode
 * before the change (its size tells which chunks to free). -ENOENT, -EISDIR. */
int bfs_meta_set_size(bfs_meta_t *m, const char *path, uint64_t new_size, int64_t now_ns,
                      struct bfs_inode *before);
/* O_APPEND: size += len in one step, mtime = ctime = now; *before: the
 * inode before (its size is where the appended bytes go), so concurrent
 * appenders get disjoint ranges. -ENOENT, -EISDIR, -EFBIG past INT64_MAX.
 * len 0 changes nothing. */
int bfs_meta_append(bfs_meta_t *m, const char *path, uint64_t len, int64_t now_ns,
                    struct bfs_inode *before);
/* Permission bits (07777) only: type bits in mode are ignored and the
 * inode's kept; ctime = now. -ENOENT. */
int bfs_meta_chmod(bfs_meta_t *m, const char *path, uint32_t mode, int64_t now_ns);
/* Times; a negative value leaves that time unchanged. ctime = now. -ENOENT. */
int bfs_meta_utimens(bfs_meta_t *m, const char *path, int64_t atime_ns, int64_t mtime_ns,
                     int64_t now_ns);

/* Directory entries of directory `dir` (which must exist here as a directory
 * inode: -ENOENT / -ENOTDIR otherwise). add: 0 if added, 0 if already present
 * with the same name (idempotent; the entry then takes the new type). del:
 * -ENOENT if absent. */
int bfs_meta_dirent_add(bfs_meta_t *m, const char *dir, const char *name, uint8_t type);
int bfs_meta_dirent_del(bfs_meta_t *m, const char *dir, const char *name);
/* Number of entries (0 for an empty directory). */
int bfs_meta_dirent_count(bfs_meta_t *m, const char *dir, uint64_t *count);

/* List entries of dir in name order starting strictly after `after` (""
 * for the beginning). Packs entries into buf as
 *   u8 type, u16 name length (little endian), name bytes (no NUL)
 * while they fit in cap. Returns bytes used (>= 0) and sets *more to 1 when
 * entries remain after the last one packed (0 bytes and *more = 0 at the end).
 * `after` need not be an entry (listing resumes at the next name). -EOVERFLOW
 * when not even the first entry fits in cap. -ENOENT / -ENOTDIR for dir. */
ssize_t bfs_meta_readdir(bfs_meta_t *m, const char *dir, const char *after, void *buf,
                         size_t cap, int *more);

/* ---- Files by id, names with ids (docs/DESIGN.md "Namespace") ----
 * A regular file's inode lives in table `files`, keyed by its fid, on its
 * home server (the one that allocated the fid: bfs_place_home); its names
 * are entries dir + NUL + name -> struct bfs_dent in `dirents`, on the
 * server of dir. A directory keeps its record in `inodes` under its own
 * path and its name (with its fid) in its parent's entries. Statuses:
 * BFS_FOUND*, BFS_LINK_* (common/proto.h). */
struct bfs_dent {
    uint8_t type;   /* BFS_DT_REG / BFS_DT_DIR: first, as readdir reads it */
    uint8_t pad[7];
    uint64_t fid;
};
_Static_assert(sizeof(struct bfs_dent) == 16, "bfs_dent is on disk");

/* 1 when fid was allocated here (its inode lives here). */
int bfs_meta_is_home(const bfs_meta_t *m, uint64_t fid);
/* Create regular file dir/name (dir must be a directory here): 0 and the
 * new inode (fid allocated here, name and inode in one transaction);
 * existing: -EEXIST when excl, -EISDIR for a directory, else BFS_FOUND and
 * its inode, or BFS_FOUND_ELSEWHERE and its fid. The existing entry is never
 * changed. */
int bfs_meta_file_create(bfs_meta_t *m, const char *dir, const char *name, uint32_t mode,
                         uint32_t uid, uint32_t gid, int64_t now_ns, int excl,
                         struct bfs_inode *out);
/* The object named dir/name (path = dir/name, for a directory's record):
 * 0 and its inode, BFS_FOUND_ELSEWHERE and its fid and type, -ENOENT,
 * -ENOTDIR (dir is a file), -ESTALE (a file name whose inode is gone). */
int bfs_meta_lookup(bfs_meta_t *m, const char *dir, const char *name, const char *path,
                    struct bfs_inode *out);
/* Drop the file name dir/name (-EISDIR for a directory) and, when its
 * inode is here, one link of it, in one transaction: BFS_LINK_ALIVE,
 * BFS_LINK_DEAD (*out: the deleted inode), BFS_LINK_ELSEWHERE (*out: fid). */
int bfs_meta_unlink(bfs_meta_t *m, const char *dir, const char *name, struct bfs_inode *out);
/* One link less of file fid (home here): 1 and *dead at the last, else 0. */
int bfs_meta_fid_unref(bfs_meta_t *m, uint64_t fid, struct bfs_inode *dead);
/* Name dir/name -> (type, fid) under rename rules for what it replaces:
 * BFS_LINK_NONE (new) / _ALIVE / _DEAD / _ELSEWHERE (a replaced file),
 * BFS_LINK_SAME, -EISDIR, -ENOTDIR, -EEXIST (over a directory). */
int bfs_meta_name_put(bfs_meta_t *m, const char *dir, const char *name, uint8_t type,
                      uint64_t fid, struct bfs_inode *out);
/* Add a name that must be free: -EEXIST (and *old) otherwise. */
int bfs_meta_name_add(bfs_meta_t *m, const char *dir, const char *name, uint8_t type,
                      uint64_t fid, struct bfs_dent *old);
/* Delete a name; want_type (0: any) must match (-ENOTDIR / -EISDIR), and fid
 * when non-zero (-ENOENT otherwise). *got: the entry. */
int bfs_meta_name_del(bfs_meta_t *m, const char *dir, const char *name, int want_type,
                      uint64_t fid, struct bfs_dent *got);
/* Rename a file name within this server, one transaction: name_put at the
 * destination, then the source is gone. -EXDEV for a directory. */
int bfs_meta_rename_local(bfs_meta_t *m, const char *sdir, const char *sname, const char *ddir,
                          const char *dname, struct bfs_inode *out);
/* The inode of file fid; -ENOENT when there is none here. And its edits,
 * as the path versions above. */
int bfs_meta_fid_get(bfs_meta_t *m, uint64_t fid, struct bfs_inode *out);
int bfs_meta_fid_grow(bfs_meta_t *m, uint64_t fid, uint64_t new_size, int64_t now_ns,
                      struct bfs_inode *out);
int bfs_meta_fid_set_size(bfs_meta_t *m, uint64_t fid, uint64_t new_size, int64_t now_ns,
                          struct bfs_inode *before);
int bfs_meta_fid_append(bfs_meta_t *m, uint64_t fid, uint64_t len, int64_t now_ns,
                        struct bfs_inode *before);
int bfs_meta_fid_chmod(bfs_meta_t *m, uint64_t fid, uint32_t mode, int64_t now_ns);
int bfs_meta_fid_utimens(bfs_meta_t *m, uint64_t fid, int64_t atime_ns, int64_t mtime_ns,
                         int64_t now_ns);
/* One more link of file fid (a new name is about to point to it): -EMLINK
 * past 65535. *after: the inode. */
int bfs_meta_fid_link(bfs_meta_t *m, uint64_t fid, int64_t now_ns, struct bfs_inode *after);
/* Symlink dir/name -> target (tlen bytes, 1..BFS_TARGET_MAX, no NUL):
 * 0 and its inode (S_IFLNK | 0777, size tlen, fid allocated here), name
 * (BFS_DT_LNK), inode and target in one transaction; -EEXIST when the name
 * is taken, -ENOENT/-ENOTDIR for dir. */
int bfs_meta_symlink_create(bfs_meta_t *m, const char *dir, const char *name, const char *target,
                            size_t tlen, uint32_t uid, uint32_t gid, int64_t now_ns,
                            struct bfs_inode *out);
/* A FIFO or socket dir/name (mode: S_IFIFO or S_IFSOCK and permissions):
 * 0 and its inode (size 0, fid allocated here) and name (BFS_DT_FIFO /
 * BFS_DT_SOCK) in one transaction; -EINVAL for any other type, else as
 * bfs_meta_symlink_create. */
int bfs_meta_special_create(bfs_meta_t *m, const char *dir, const char *name, uint32_t mode,
                            uint32_t uid, uint32_t gid, int64_t now_ns, struct bfs_inode *out);
/* The target of symlink fid into buf: its length, -ENOENT (no symlink of
 * that id here), -ERANGE (longer than cap). */
ssize_t bfs_meta_link_target(bfs_meta_t *m, uint64_t fid, void *buf, size_t cap);
/* 1 when dir is a directory record here, 0 when not, or -errno. */
int bfs_meta_is_dir(bfs_meta_t *m, const char *dir);
/* Number of file inodes here. */
int bfs_meta_files_count(bfs_meta_t *m, uint64_t *files);

/* Number of inodes stored (ping/statistics). */
int bfs_meta_count(bfs_meta_t *m, uint64_t *inodes);

#endif
