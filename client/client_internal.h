/* What the client API's files share. */
#ifndef BFS_CLIENT_INTERNAL_H
#define BFS_CLIENT_INTERNAL_H

#include "benchfs.h"
#include "../common/path.h"
#include "../common/proto.h"
#include "../rpc/rpc_client.h"
#include "../common/registry.h"

#include <pthread.h>

struct benchfs {
    bfs_rpc_client_t *rpc;
    struct bfs_registry reg; /* kept to reconnect after fork */
    char *registry;          /* its path: moved servers publish beside it */
    unsigned nservers;
    uint64_t chunk_size;
    uint32_t uid, gid;
    char mount[BFS_PATH_MAX]; /* benchfs_set_mount: host prefix ("": none) */
    size_t mount_len;
    /* CLOSEs in flight (bfs_cl_close_ref): not waited for by close. */
    pthread_mutex_t close_mu;
    struct bfs_cl_close *closes;
    unsigned nclosing;
    struct bfs_cl_closeq *closeq; /* per server: fids whose CLOSE is queued */
};

struct benchfs_file {
    benchfs_t *fs;
    char path[BFS_PATH_MAX]; /* as opened ("" by id): for fsync and names only */
    size_t plen;
    uint64_t fid;            /* everything through the file goes by it */
    unsigned home;           /* bfs_place_home(fid): where its inode lives */
    uint32_t mode;
    int flags; /* O_APPEND may change (benchfs_file_set_append): atomic */
    int opened; /* its home counts an open reference of ours (CLOSE drops it) */
};

/* Normalize a user path into out (BFS_PATH_MAX); returns its length. */
ssize_t bfs_cl_path(const char *in, char *out);
unsigned bfs_cl_meta_server(const benchfs_t *fs, const char *path, size_t len);

/* One metadata RPC on path: request payload = path (+ extra), reply data =
 * an inode when ino is not NULL. Returns the reply status. */
struct bfs_cl_meta {
    unsigned op;
    uint32_t flags;
    uint64_t offset, arg0, arg1;
    const void *extra;      /* appended after the path (arg2 = path length) */
    size_t extra_len;
    struct bfs_inode *ino;  /* reply inode, optional */
};
void bfs_cl_meta_prep(benchfs_t *fs, bfs_rpc_call_t *call, struct iovec iov[3],
                      const char *path, size_t plen, const struct bfs_cl_meta *m);
int bfs_cl_meta_call(benchfs_t *fs, const char *path, size_t plen, const struct bfs_cl_meta *m);

/* The same by file id, to the inode's home (BFS_F_BYFID): -ESTALE for an
 * id of no server. */
void bfs_cl_fid_prep(benchfs_t *fs, bfs_rpc_call_t *call, struct iovec iov[3], const uint64_t *fid,
                     const struct bfs_cl_meta *m);
int bfs_cl_fid_call(benchfs_t *fs, uint64_t fid, const struct bfs_cl_meta *m);
/* A path RPC to a given server (names go to the parent's). */
int bfs_cl_call_at(benchfs_t *fs, unsigned server, const char *path, size_t plen,
                   const struct bfs_cl_meta *m);
unsigned bfs_cl_parent_server(const benchfs_t *fs, const char *path, size_t plen);
/* The inode path names: LOOKUP at the parent's server, then, when the
 * inode lives elsewhere, STAT by id (a file) or at its path (a directory). */
int bfs_cl_resolve(benchfs_t *fs, const char *path, size_t plen, struct bfs_inode *ino);
/* The same for an open: the request that reaches a regular file's home
 * registers an open reference there (BFS_F_OPEN), to be dropped with
 * bfs_cl_close_ref. */
int bfs_cl_resolve_open(benchfs_t *fs, const char *path, size_t plen, struct bfs_inode *ino);
/* Drop the open reference of file fid at its home: queued, sent in a
 * batch without waiting (close_refs.c). */
void bfs_cl_close_ref(benchfs_t *fs, uint64_t fid);
/* Send every queued close now; with wait, also wait for their replies. */
void bfs_cl_closes_flush(benchfs_t *fs, int wait);
/* For an ENOENT about path: -ENOTDIR when its parent is a file. */
int bfs_cl_enoent(benchfs_t *fs, const char *path, size_t plen);

/* ---- path resolution with symlinks (resolve.c) ---- */
struct bfs_res {
    char path[BFS_PATH_MAX]; /* the real path: no symlink, ".", ".." in it
                              * except the last component when not followed */
    size_t len;
    int found;               /* the last component exists (ino); -1: not looked */
    int must_dir;            /* the user's path ended in "/", "/." or "/.." */
    struct bfs_inode ino;
    char target[BFS_TARGET_MAX + 1]; /* ino is a symlink: its target */
    size_t tlen;
    int opened;              /* BFS_RES_OPEN: the file's home counted an open
                              * reference already (the fast path's lookup) */
};
#define BFS_RES_FOLLOW 1 /* a symlink as the last component is followed */
#define BFS_RES_MAYBE 2  /* the last component may be missing (found = 0) */
#define BFS_RES_NAME 4   /* an operation on the name: a trailing slash does not
                          * follow a last symlink (ENOTDIR), as rmdir("l/") */
#define BFS_RES_OPEN 8   /* the caller opens what it finds: the lookup that
                          * reaches a regular file's home carries BFS_F_OPEN */
/* Resolve a user path (absolute, in BenchFS): 0 and *r, -errno, or
 * -BENCHFS_EOUTSIDE (benchfs_outside_path() holds the host path). */
int bfs_cl_res(benchfs_t *fs, const char *user, int flags, struct bfs_res *r);
/* For an operation on a name: *fast = 1 and the lexical path when it needs
 * no walk (try the operation; on ENOENT ask bfs_cl_name_retry), else the
 * walked path (*fast = 0; found says whether the name exists). */
int bfs_cl_name(benchfs_t *fs, const char *user, struct bfs_res *r, int *fast);
/* After ENOENT on the fast path: 1 when the walked real path differs
 * (retry the operation with r->path), 0 when ENOENT stands, or -errno. */
int bfs_cl_name_retry(benchfs_t *fs, const char *user, struct bfs_res *r);
/* 1 when the path needs no walk by its text (no "..", no trailing "/"). */
int bfs_cl_path_is_plain(const char *p);
/* Is the last component "." (1) or ".." (2)? 0: neither. */
int bfs_cl_last_is_dot(const char *p);
/* LOOKUP of a real path (STAT for "/"), following an inode that lives
 * elsewhere: 0 and *ino (and the target of a symlink when target, of
 * BFS_TARGET_MAX + 1 bytes, is given), -ENOENT (no such name in an existing
 * directory), BFS_NOT_HERE (the parent is no directory there), -errno. */
int bfs_cl_lookup(benchfs_t *fs, const char *path, size_t plen, struct bfs_inode *ino,
                  char *target, size_t *tlen);
/* The same with header flags (BFS_F_OPEN) on the request(s). */
int bfs_cl_lookup_flags(benchfs_t *fs, const char *path, size_t plen, struct bfs_inode *ino,
                        char *target, size_t *tlen, uint32_t flags);

/* Add / remove the entry for path in its parent directory's server, unless
 * that server is `skip_server` (which did it in the same request). */
int bfs_cl_dirent(benchfs_t *fs, const char *path, size_t plen, int add, uint8_t type);

/* Send one RPC (tmpl, server field ignored) at once to every server, or to
 * those marked in on[] when on is not NULL, and wait for all. resp
 * (optional) gives server i its reply buffer resp[i]. Returns the calls
 * (server i's outcome in [i], status 0 for servers not asked; caller frees)
 * or NULL without memory. */
bfs_rpc_call_t *bfs_cl_broadcast(benchfs_t *fs, const bfs_rpc_call_t *tmpl,
                                 const struct iovec *resp, const unsigned char *on);

/* bfs_cl_broadcast, then the first error among the replies, or 0. */
int bfs_cl_broadcast_status(benchfs_t *fs, const bfs_rpc_call_t *tmpl, const unsigned char *on);

/* The first negative status among n calls, or 0. */
int bfs_cl_first_error(const bfs_rpc_call_t *calls, unsigned n);

/* Mark in on[nservers] the servers holding chunks first .. end-1 of fid. */
void bfs_cl_chunk_servers(const benchfs_t *fs, uint64_t fid, uint64_t first, uint64_t end,
                          unsigned char *on);

/* Free a file's chunks beyond new_size on the servers that hold them.
 * flags BFS_F_DEAD: the file is dead (new_size 0): those servers refuse
 * its writes from then on. */
int bfs_cl_trunc_chunks(benchfs_t *fs, uint64_t fid, uint64_t new_size, uint64_t old_size,
                        uint32_t flags);

/* Create a regular file (name and inode at the parent's server, one RPC):
 * 0 new, 1 existed (not excl; *ino complete). */
int bfs_cl_create(benchfs_t *fs, const char *path, size_t plen, uint32_t mode, int excl,
                  struct bfs_inode *ino);
/* The same for an open (BFS_F_OPEN: see bfs_cl_resolve_open). */
int bfs_cl_create_open(benchfs_t *fs, const char *path, size_t plen, uint32_t mode, int excl,
                       struct bfs_inode *ino);
/* Truncate file fid to size and free the chunks past it. */
int bfs_cl_truncate_fid(benchfs_t *fs, uint64_t fid, uint64_t size);

/* The next entry of a READDIR reply page (entries of u8 type, u16 little
 * endian name length, name) at *pos, which it advances: 1 and *ent filled, 0
 * at the page's end, -EPROTO for a malformed page (torn entry, empty or
 * overlong name, '/' or NUL in it, "." or "..", or a name that does not sort
 * after prev, the last name returned; prev may be NULL or ""). Pure: the
 * client's parser of server replies, fuzzed in tests/fuzz. */
int bfs_cl_dirpage_next(const void *page, size_t len, size_t *pos, const char *prev,
                        struct benchfs_dirent *ent);

/* UTIMENS arguments (times as benchfs_utimens) into m. */
void bfs_cl_utimens_args(const struct timespec times[2], struct bfs_cl_meta *m);

void bfs_cl_inode_to_stat(const benchfs_t *fs, const struct bfs_inode *ino, struct stat *st);

#endif
