/* Client API: namespace operations (create, stat, remove, rename, ...). */
#include "client_internal.h"
#include "../common/clock.h"
#include "../common/placement.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

static int same_server_as_parent(benchfs_t *fs, const char *path, size_t plen)
{
    return bfs_cl_meta_server(fs, path, plen) == bfs_cl_parent_server(fs, path, plen);
}

/* A regular file: one RPC to the parent's server, which checks the parent,
 * the name, allocates the id and writes name and inode in one transaction.
 * Returns 0 new, 1 existed, or -errno. */
static int create(benchfs_t *fs, const char *path, size_t plen, uint32_t mode, int excl,
                  struct bfs_inode *ino, uint32_t open)
{
    if (plen == 1)
        return -EEXIST;
    struct bfs_cl_meta m = {
        .op = BFS_OP_CREATE,
        .flags = (excl ? BFS_F_EXCL : 0) | open,
        .arg0 = S_IFREG | (mode & 07777),
        .arg1 = (uint64_t)fs->uid << 32 | fs->gid,
        .offset = (uint64_t)bfs_wall_ns(),
        .ino = ino,
    };
    int rc = bfs_cl_call_at(fs, bfs_cl_parent_server(fs, path, plen), path, plen, &m);
    if (rc == BFS_FOUND_ELSEWHERE) {
        struct bfs_cl_meta st = {.op = BFS_OP_STAT, .flags = open, .ino = ino};
        rc = bfs_cl_fid_call(fs, ino->fid, &st);
        return rc < 0 ? rc : 1;
    }
    return rc;
}

int bfs_cl_create(benchfs_t *fs, const char *path, size_t plen, uint32_t mode, int excl,
                  struct bfs_inode *ino)
{
    return create(fs, path, plen, mode, excl, ino, 0);
}

int bfs_cl_create_open(benchfs_t *fs, const char *path, size_t plen, uint32_t mode, int excl,
                       struct bfs_inode *ino)
{
    return create(fs, path, plen, mode, excl, ino, BFS_F_OPEN);
}

int benchfs_stat(benchfs_t *fs, const char *p, struct stat *st)
{
    struct bfs_res r;
    int rc = bfs_cl_res(fs, p, BFS_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    bfs_cl_inode_to_stat(fs, &r.ino, st);
    return 0;
}

/* An operation on the name user names (docs/DESIGN.md "Symbolic links and
 * path resolution"): tried with the lexical path (one RPC on the fast
 * path); when it says ENOENT the path is walked, and the operation runs
 * once more on the real path if that differs (a symlink in the prefix).
 * fn sees r->found: 1 exists, 0 missing (walked), -1 not looked at. */
typedef int (*name_fn)(benchfs_t *fs, struct bfs_res *r, void *arg);
static int on_name(benchfs_t *fs, const char *user, name_fn fn, void *arg)
{
    struct bfs_res r;
    int fast;
    int rc = bfs_cl_name(fs, user, &r, &fast);
    if (rc < 0)
        return rc;
    rc = fn(fs, &r, arg);
    if ((rc != -ENOENT && rc != -ENOTDIR) || !fast)
        return rc;
    int again = bfs_cl_name_retry(fs, user, &r);
    if (again < 0)
        return again;
    return again ? fn(fs, &r, arg) : rc;
}

/* rmdir/rename of "d/." or "d/..": err, once the path itself resolves
 * (ENOENT, ENOTDIR first, as Linux). */
static int dot_error(benchfs_t *fs, const char *user, int err)
{
    struct bfs_res r;
    int rc = bfs_cl_res(fs, user, BFS_RES_FOLLOW, &r);
    return rc < 0 ? rc : err;
}

/* Remove a directory record that this client made (no name points to it),
 * only while it is still that record (fid): a rename may have put another
 * one there meanwhile. */
static void drop_record(benchfs_t *fs, const char *path, size_t plen, uint64_t fid)
{
    struct bfs_inode ino;
    struct bfs_cl_meta r = {.op = BFS_OP_REMOVE, .arg0 = BFS_RM_DIR, .arg1 = fid, .ino = &ino};
    bfs_cl_meta_call(fs, path, plen, &r);
}

/* The record at the directory's own path first (invisible without a name),
 * then the name at the parent's server, which must be free: a failure
 * (EEXIST: a file's entry keeps its type) removes the record again; a
 * client killed between leaves an unnamed record, which the next mkdir of
 * that path takes over. One RPC when both are on one server. */
static int mkdir_at(benchfs_t *fs, const char *path, ssize_t plen, mode_t mode)
{
    if (plen == 1)
        return -EEXIST;
    struct bfs_inode ino;
    struct bfs_cl_meta m = {
        .op = BFS_OP_CREATE,
        .arg0 = S_IFDIR | (mode & 07777),
        .arg1 = (uint64_t)fs->uid << 32 | fs->gid,
        .offset = (uint64_t)bfs_wall_ns(),
        .ino = &ino,
    };
    size_t len = (size_t)plen;
    if (same_server_as_parent(fs, path, len)) {
        m.flags = BFS_F_DIRENT;
        int rc = bfs_cl_meta_call(fs, path, len, &m);
        return rc < 0 ? rc : 0;
    }
    const char *base = bfs_path_base(path, len);
    size_t dlen = bfs_path_parent_len(path, len), blen = len - (size_t)(base - path);
    for (int tries = 0; tries < 4; tries++) {
        int made = bfs_cl_meta_call(fs, path, len, &m);
        if (made < 0)
            return made;
        struct bfs_inode old; /* the entry taken: fid and type */
        struct bfs_cl_meta d = {.op = BFS_OP_DIRENT_ADD, .flags = BFS_F_EXCL, .arg0 = BFS_DT_DIR,
                                .arg1 = ino.fid, .extra = base, .extra_len = blen, .ino = &old};
        int rc = bfs_cl_meta_call(fs, path, dlen, &d);
        if (rc == BFS_FOUND) {
            /* Taken. A record of another fid than the name's belongs to no
             * name: ours, or an unnamed one we took over, goes (by fid; a
             * mkdir that takes it over meanwhile checks it after naming). */
            if (old.fid != ino.fid)
                drop_record(fs, path, len, ino.fid);
            return -EEXIST;
        }
        if (rc < 0) {
            if (made == 0)
                drop_record(fs, path, len, ino.fid);
            return rc;
        }
        if (made == 0)
            return 0;
        /* We named a record that was there before us (unnamed, or another
         * mkdir's): it must still be there, or an rmdir of its earlier name
         * removed it between our two steps and our name points nowhere.
         * Any rmdir from now on sees our name first. */
        struct bfs_inode now;
        struct bfs_cl_meta st = {.op = BFS_OP_STAT, .ino = &now};
        if (bfs_cl_meta_call(fs, path, len, &st) == 0 && S_ISDIR(now.mode) && now.fid == ino.fid)
            return 0;
        struct bfs_cl_meta del = {.op = BFS_OP_DIRENT_DEL, .arg0 = BFS_DT_DIR, .arg1 = ino.fid,
                                  .extra = base, .extra_len = blen, .ino = &old};
        bfs_cl_meta_call(fs, path, dlen, &del);
    }
    return -EAGAIN;
}

static int mkdir_fn(benchfs_t *fs, struct bfs_res *r, void *arg)
{
    if (r->found == 1)
        return -EEXIST;
    return mkdir_at(fs, r->path, (ssize_t)r->len, *(mode_t *)arg);
}

int benchfs_mkdir(benchfs_t *fs, const char *p, mode_t mode)
{
    return on_name(fs, p, mkdir_fn, &mode);
}

/* One RPC when the name and the record are on one server (one batch).
 * Otherwise three: LOOKUP of the name (which directory: its fid), REMOVE of
 * the record only while it is that directory's (emptiness checked there:
 * ENOTEMPTY leaves everything as it was), then DIRENT_DEL of the name only
 * while it names that fid. Between the last two, and forever if the client
 * dies there, the name is listed but cannot be stat'ed (ENOENT); an rmdir
 * of it removes such a name. (Name first left a window in which a mkdir or
 * a rename took over the unnamed record that the rmdir then deleted: a name
 * pointing nowhere. Record first without the fid removed a record that a
 * rename had just put there.) */
static int rmdir_at(benchfs_t *fs, const char *path, size_t len)
{
    if (len == 1)
        return -EBUSY;
    struct bfs_inode ino;
    if (same_server_as_parent(fs, path, len)) {
        struct bfs_cl_meta m = {.op = BFS_OP_REMOVE, .arg0 = BFS_RM_DIR, .flags = BFS_F_DIRENT,
                                .ino = &ino};
        return bfs_cl_meta_call(fs, path, len, &m);
    }
    /* The name says which directory (fid); the record goes only while it
     * is that directory's, and then the name, only while it names it. */
    const char *base = bfs_path_base(path, len);
    size_t dlen = bfs_path_parent_len(path, len), blen = len - (size_t)(base - path);
    for (int tries = 0;; tries++) {
        struct bfs_cl_meta lk = {.op = BFS_OP_LOOKUP, .ino = &ino};
        int rc = bfs_cl_call_at(fs, bfs_cl_parent_server(fs, path, len), path, len, &lk);
        if (rc == BFS_NOT_HERE)
            return -ENOENT;
        if (rc < 0)
            return rc;
        if (!S_ISDIR(ino.mode))
            return -ENOTDIR;
        uint64_t fid = ino.fid;
        struct bfs_cl_meta r = {.op = BFS_OP_REMOVE, .arg0 = BFS_RM_DIR, .arg1 = fid, .ino = &ino};
        rc = bfs_cl_meta_call(fs, path, len, &r);
        if (rc < 0 && rc != -ENOENT)
            return rc; /* ENOTEMPTY...: nothing changed */
        /* Removed, or no record of that directory any more (a dead rmdir's
         * leftover name): the name goes either way. */
        struct bfs_inode got;
        struct bfs_cl_meta del = {.op = BFS_OP_DIRENT_DEL, .arg0 = BFS_DT_DIR, .arg1 = fid,
                                  .extra = base, .extra_len = blen, .ino = &got};
        int d = bfs_cl_meta_call(fs, path, dlen, &del);
        if (d == -ENOENT && rc == -ENOENT)
            return -ENOENT; /* someone else removed it */
        if (d < 0 && d != -ENOENT)
            return d;
        if (rc == 0 || d == -ENOENT)
            return 0;
        /* No record, yet the name was there and ours: a rename of that
         * directory to this name (put_dir) may have put its record here
         * after our REMOVE and checked its name before our DIRENT_DEL (its
         * LOOKUP still saw it): the record would be left with no name
         * (fs_semantics storm, 3 servers: "inodes 1 -> 2"). The name goes
         * back and the rmdir runs again, in its usual order (record, then
         * name), so that whoever else acts on that record meanwhile - the
         * renamer naming it again, a mkdir taking it over and naming it -
         * meets a named directory that is removed as one. A record put
         * after this look is followed by its renamer's LOOKUP, which finds
         * our name gone and acts. */
        struct bfs_inode rec;
        struct bfs_cl_meta st = {.op = BFS_OP_STAT, .ino = &rec};
        if (bfs_cl_meta_call(fs, path, len, &st) != 0 || !S_ISDIR(rec.mode) || rec.fid != fid)
            return 0;
        struct bfs_cl_meta add = {.op = BFS_OP_DIRENT_ADD, .flags = BFS_F_EXCL,
                                  .arg0 = BFS_DT_DIR, .arg1 = fid, .extra = base,
                                  .extra_len = blen, .ino = &got};
        int a = bfs_cl_meta_call(fs, path, dlen, &add);
        if (a == 0 || (a == BFS_FOUND && got.fid == fid)) {
            if (tries < 4)
                continue;
            return -EBUSY; /* named again each time: it stays, and says so */
        }
        if (a < 0 || a == BFS_FOUND)
            drop_record(fs, path, len, fid); /* the name is another's now */
        return 0;
    }
}

static int rmdir_fn(benchfs_t *fs, struct bfs_res *r, void *arg)
{
    (void)arg;
    if (r->found == 0)
        return -ENOENT;
    if (r->found == 1 && !S_ISDIR(r->ino.mode))
        return -ENOTDIR;
    return rmdir_at(fs, r->path, r->len);
}

int benchfs_rmdir(benchfs_t *fs, const char *p)
{
    /* As Linux: "d/." EINVAL, "d/.." ENOTEMPTY (its parent has d). */
    int dot = p ? bfs_cl_last_is_dot(p) : 0;
    if (dot)
        return dot_error(fs, p, dot == 1 ? -EINVAL : -ENOTEMPTY);
    return on_name(fs, p, rmdir_fn, NULL);
}

/* What is left to do after a name of a file went (BFS_LINK_*): drop a
 * link at its home when that is elsewhere. The chunks of a file whose last
 * link went are freed by its home (server/reaper.c), after its last close
 * when it is open: never by the client, which may die half-way. */
static int after_unlink(benchfs_t *fs, int st, struct bfs_inode *ino)
{
    if (st == BFS_LINK_ELSEWHERE) {
        uint64_t fid = ino->fid;
        struct bfs_cl_meta u = {.op = BFS_OP_UNREF, .ino = ino};
        st = bfs_cl_fid_call(fs, fid, &u);
        if (st < 0)
            return st;
    }
    return 0;
}

/* One RPC to the parent's server (name and, when it is there, the inode's
 * link in one transaction); the reply does not wait for any chunk. */
static int unlink_fn(benchfs_t *fs, struct bfs_res *r, void *arg)
{
    (void)arg;
    const char *path = r->path;
    size_t len = r->len;
    if (r->found == 0)
        return -ENOENT;
    if (len == 1 || (r->found == 1 && S_ISDIR(r->ino.mode)))
        return -EISDIR;
    bfs_cl_closes_flush(fs, 0); /* "close; unlink" frees at once */
    unsigned srv = bfs_cl_parent_server(fs, path, len);
    struct bfs_inode ino;
    struct bfs_cl_meta m = {.op = BFS_OP_REMOVE, .arg0 = BFS_RM_FILE, .ino = &ino};
    int rc = bfs_cl_call_at(fs, srv, path, len, &m);
    if (rc == -ENOSPC) {
        /* The metadata server's disk is full and even a removal needs a few
         * pages: free the file's data first, then remove it. */
        if (bfs_cl_resolve(fs, path, len, &ino) == 0 && S_ISREG(ino.mode) && ino.size > 0 &&
            bfs_cl_trunc_chunks(fs, ino.fid, 0, ino.size, 0) == 0)
            rc = bfs_cl_call_at(fs, srv, path, len, &m);
    }
    if (rc < 0)
        return rc;
    after_unlink(fs, rc, &ino);
    return 0;
}

int benchfs_unlink(benchfs_t *fs, const char *p)
{
    return on_name(fs, p, unlink_fn, NULL);
}

/* A by-id-or-path edit of what path names: a file by its id at its home,
 * a directory at its record. */
static int bfs_cl_on_path(benchfs_t *fs, const char *user, int flags, const struct bfs_cl_meta *m)
{
    struct bfs_res r;
    int rc = bfs_cl_res(fs, user, flags, &r);
    if (rc < 0)
        return rc;
    return S_ISDIR(r.ino.mode) ? bfs_cl_meta_call(fs, r.path, r.len, m)
                               : bfs_cl_fid_call(fs, r.ino.fid, m);
}

int benchfs_chmod(benchfs_t *fs, const char *p, mode_t mode)
{
    struct bfs_cl_meta m = {.op = BFS_OP_CHMOD, .arg0 = mode & 07777,
                            .offset = (uint64_t)bfs_wall_ns()};
    return bfs_cl_on_path(fs, p, BFS_RES_FOLLOW, &m);
}

static int64_t ts_ns(const struct timespec *t, int64_t now)
{
    if (!t || t->tv_nsec == UTIME_NOW)
        return now;
    if (t->tv_nsec == UTIME_OMIT)
        return -1;
    return (int64_t)t->tv_sec * 1000000000ll + t->tv_nsec;
}

void bfs_cl_utimens_args(const struct timespec times[2], struct bfs_cl_meta *m)
{
    int64_t now = bfs_wall_ns();
    m->op = BFS_OP_UTIMENS;
    m->arg0 = (uint64_t)ts_ns(times ? &times[0] : NULL, now);
    m->arg1 = (uint64_t)ts_ns(times ? &times[1] : NULL, now);
    m->offset = (uint64_t)now;
}

int benchfs_utimens(benchfs_t *fs, const char *p, const struct timespec times[2])
{
    struct bfs_cl_meta m = {.op = BFS_OP_UTIMENS};
    bfs_cl_utimens_args(times, &m);
    return bfs_cl_on_path(fs, p, BFS_RES_FOLLOW, &m);
}

int benchfs_lutimens(benchfs_t *fs, const char *p, const struct timespec times[2])
{
    struct bfs_cl_meta m = {.op = BFS_OP_UTIMENS};
    bfs_cl_utimens_args(times, &m);
    return bfs_cl_on_path(fs, p, 0, &m);
}

int bfs_cl_truncate_fid(benchfs_t *fs, uint64_t fid, uint64_t size)
{
    struct bfs_inode before;
    struct bfs_cl_meta m = {.op = BFS_OP_SETSIZE, .arg0 = size,
                            .offset = (uint64_t)bfs_wall_ns(), .ino = &before};
    int rc = bfs_cl_fid_call(fs, fid, &m);
    if (rc < 0)
        return rc;
    if (size < before.size)
        return bfs_cl_trunc_chunks(fs, fid, size, before.size, 0);
    return 0;
}

int benchfs_truncate(benchfs_t *fs, const char *p, off_t size)
{
    struct bfs_res r;
    int rc = bfs_cl_res(fs, p, BFS_RES_FOLLOW, &r);
    if (rc < 0)
        return rc;
    if (size < 0)
        return -EINVAL;
    if (S_ISDIR(r.ino.mode))
        return -EISDIR;
    return bfs_cl_truncate_fid(fs, r.ino.fid, (uint64_t)size);
}

int benchfs_statfs(benchfs_t *fs, struct statvfs *out)
{
    unsigned n = fs->nservers;
    struct bfs_statfs *st = calloc(n, sizeof(*st));
    struct iovec *iov = calloc(n, sizeof(*iov));
    bfs_rpc_call_t *calls = NULL;
    int rc = -ENOMEM;
    if (!st || !iov)
        goto out;
    for (unsigned i = 0; i < n; i++) {
        iov[i].iov_base = &st[i];
        iov[i].iov_len = sizeof(st[i]);
    }
    bfs_rpc_call_t t = {.rpc_id = BFS_OP_STATFS};
    if (!(calls = bfs_cl_broadcast(fs, &t, iov, NULL)))
        goto out;
    if ((rc = bfs_cl_first_error(calls, n)) < 0)
        goto out;
    memset(out, 0, sizeof(*out));
    uint64_t bsize = 4096;
    out->f_bsize = out->f_frsize = bsize;
    for (unsigned i = 0; i < n; i++) {
        /* Servers whose directories share a file system (same node, same
         * device) count it once. */
        int seen = 0;
        for (unsigned j = 0; j < i && !seen && st[i].host && st[i].dev; j++)
            seen = st[j].host == st[i].host && st[j].dev == st[i].dev;
        if (seen)
            continue;
        /* Servers may sit on file systems of different block sizes. */
        out->f_blocks += st[i].blocks * st[i].bsize / bsize;
        out->f_bfree += st[i].bfree * st[i].bsize / bsize;
        out->f_bavail += st[i].bavail * st[i].bsize / bsize;
        out->f_files += st[i].files;
        out->f_ffree += st[i].ffree;
        out->f_favail += st[i].ffree;
    }
    out->f_fsid = 0xbf5;
    out->f_namemax = BFS_NAME_MAX;
out:
    free(calls);
    free(st);
    free(iov);
    return rc;
}

/* ---- rename ---- */

/* A file's name moves; its inode and chunks stay. Both parents on one
 * server: one transaction. Otherwise a hard link's steps: one more link at
 * the inode's home, the name at the destination (POSIX replace rules), the
 * source name removed if it still names the file, and the extra link
 * dropped only when that removal was ours (an unlink of the source that
 * came first dropped a link itself). The link rides on the name's step
 * when the home is that name's server (the file was created on the source
 * or the destination side: the common case), so 3 RPCs. A client killed
 * between steps leaves two names with a link count of two (a hard link),
 * or one name with one link too many (the inode outlives its last name: a
 * leak, never a name of a dead inode). */
static int unref(benchfs_t *fs, uint64_t fid)
{
    struct bfs_inode dead;
    struct bfs_cl_meta u = {.op = BFS_OP_UNREF, .ino = &dead};
    return bfs_cl_fid_call(fs, fid, &u); /* at 0 links its home reaps it */
}

static int rename_file(benchfs_t *fs, const char *src, size_t slen, const char *dst, size_t dlen,
                       uint64_t fid, uint8_t type)
{
    struct bfs_inode ino;
    unsigned ss = bfs_cl_parent_server(fs, src, slen), ds = bfs_cl_parent_server(fs, dst, dlen);
    int rc;
    if (ss == ds) {
        /* Source path + destination path, arg2 = source length. */
        struct bfs_cl_meta m = {.op = BFS_OP_RENAME, .extra = dst, .extra_len = dlen, .ino = &ino};
        rc = bfs_cl_call_at(fs, ss, src, slen, &m);
    } else {
        unsigned home = bfs_place_home(fid, fs->nservers);
        int link_at_dst = home == ds, unref_at_src = home == ss;
        if (!link_at_dst) {
            struct bfs_inode linked;
            struct bfs_cl_meta l = {.op = BFS_OP_LINK, .offset = (uint64_t)bfs_wall_ns(),
                                    .ino = &linked};
            if ((rc = bfs_cl_fid_call(fs, fid, &l)) < 0)
                return rc == -ESTALE ? -ENOENT : rc; /* unlinked meanwhile */
        }
        const char *base = bfs_path_base(dst, dlen);
        struct bfs_cl_meta put = {.op = BFS_OP_DIRENT_ADD, .flags = link_at_dst ? BFS_F_LINK : 0,
                                  .arg0 = type, .arg1 = fid, .extra = base,
                                  .extra_len = dlen - (size_t)(base - dst), .ino = &ino};
        rc = bfs_cl_meta_call(fs, dst, bfs_path_parent_len(dst, dlen), &put);
        if (rc == -ESTALE)
            return -ENOENT;
        int del = -ENOENT;
        if (rc >= 0 && rc != BFS_LINK_SAME) {
            const char *sb = bfs_path_base(src, slen);
            struct bfs_inode got;
            struct bfs_cl_meta d = {.op = BFS_OP_DIRENT_DEL,
                                    .flags = unref_at_src ? BFS_F_LINK : 0, .arg0 = type,
                                    .arg1 = fid, .extra = sb,
                                    .extra_len = slen - (size_t)(sb - src), .ino = &got};
            del = bfs_cl_meta_call(fs, src, bfs_path_parent_len(src, slen), &d);
        }
        /* Our link goes unless it now stands for a name of ours: the new
         * one, when the source name was someone else's to remove. Where it
         * rode on a step, that step took care of it. */
        int ours_left = rc < 0 || rc == BFS_LINK_SAME ? !link_at_dst : del == 0 && !unref_at_src;
        if (ours_left)
            unref(fs, fid);
    }
    if (rc < 0)
        return rc;
    if (rc != BFS_LINK_SAME)
        after_unlink(fs, rc, &ino);
    return 0;
}

/* A directory's record and name at a new path (directory rename). Across
 * servers the name first (POSIX rules: it fails over a file or a
 * directory), then the record: a record already at that path then belongs
 * to no name and is replaced. A client killed between leaves a name whose
 * stat says ENOENT until an rmdir removes it. */
static int put_dir(benchfs_t *fs, const char *path, size_t plen, const struct bfs_inode *ino)
{
    int local = same_server_as_parent(fs, path, plen);
    struct bfs_inode old;
    if (!local) {
        const char *base = bfs_path_base(path, plen);
        struct bfs_cl_meta d = {.op = BFS_OP_DIRENT_ADD, .arg0 = BFS_DT_DIR, .arg1 = ino->fid,
                                .extra = base, .extra_len = plen - (size_t)(base - path),
                                .ino = &old};
        int rc = bfs_cl_meta_call(fs, path, bfs_path_parent_len(path, plen), &d);
        if (rc < 0)
            return rc;
    }
    struct bfs_cl_meta m = {
        .op = BFS_OP_PUT,
        .flags = local ? BFS_F_DIRENT : 0,
        .extra = ino,
        .extra_len = sizeof(*ino),
        .ino = &old,
    };
    int rc = bfs_cl_meta_call(fs, path, plen, &m);
    if (rc >= 0 && !local) {
        /* An rmdir between the two steps took the name away: the record
         * just put would belong to nobody. */
        struct bfs_inode now;
        struct bfs_cl_meta lk = {.op = BFS_OP_LOOKUP, .ino = &now};
        int l = bfs_cl_call_at(fs, bfs_cl_parent_server(fs, path, plen), path, plen, &lk);
        if (l == -ENOENT) {
            /* Name the record again rather than remove it: a mkdir may
             * have taken the unnamed record over and named it with our
             * fid already, and removing it then would leave that name
             * pointing nowhere (fs_semantics storm, 3 servers). Our name
             * back, or the mkdir's with our fid: the directory is ours. */
            const char *base = bfs_path_base(path, plen);
            struct bfs_cl_meta again = {.op = BFS_OP_DIRENT_ADD, .flags = BFS_F_EXCL,
                                        .arg0 = BFS_DT_DIR, .arg1 = ino->fid, .extra = base,
                                        .extra_len = plen - (size_t)(base - path), .ino = &now};
            int a = bfs_cl_meta_call(fs, path, bfs_path_parent_len(path, plen), &again);
            if (a == BFS_FOUND && now.fid == ino->fid)
                return 0; /* that mkdir checks the record itself */
            if (a < 0 || a == BFS_FOUND) {
                /* The name is another object's now (a file created
                 * meanwhile): our record would be left unnamed. Dropped by
                 * fid: a mkdir that takes it over meanwhile checks it after
                 * naming it, and retries. */
                drop_record(fs, path, plen, ino->fid);
                return -ENOENT;
            }
            /* The rmdir that took the name may also have removed the
             * record we had just put (its LOOKUP saw our first name):
             * then our new name points nowhere and goes again. */
            struct bfs_inode rec;
            struct bfs_cl_meta st = {.op = BFS_OP_STAT, .ino = &rec};
            if (bfs_cl_meta_call(fs, path, plen, &st) == 0 && S_ISDIR(rec.mode) &&
                rec.fid == ino->fid)
                return 0;
            struct bfs_cl_meta del = {.op = BFS_OP_DIRENT_DEL, .arg0 = BFS_DT_DIR,
                                      .arg1 = ino->fid, .extra = base,
                                      .extra_len = plen - (size_t)(base - path), .ino = &now};
            bfs_cl_meta_call(fs, path, bfs_path_parent_len(path, plen), &del);
            return -ENOENT;
        }
        if (l >= 0 && now.fid != ino->fid) {
            /* The name is someone else's: our record goes, by fid (a
             * directory's own record there has its fid). */
            drop_record(fs, path, plen, ino->fid);
            return -ENOENT;
        }
    }
    return rc < 0 ? rc : 0;
}

static int rename_rec(benchfs_t *fs, const char *src, size_t slen, const char *dst, size_t dlen);

static int rename_dir_children(benchfs_t *fs, const char *src, size_t slen, const char *dst,
                               size_t dlen)
{
    benchfs_dir_t *d;
    int rc = benchfs_opendir(fs, src, &d);
    if (rc < 0)
        return rc;
    /* Children move away as we go, so list them all first. */
    struct benchfs_dirent ent;
    char **names = NULL;
    size_t n = 0, cap = 0;
    while ((rc = benchfs_readdir(d, &ent)) == 1) {
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            char **nn = realloc(names, cap * sizeof(*nn));
            if (!nn) {
                rc = -ENOMEM;
                break;
            }
            names = nn;
        }
        if (!(names[n] = strdup(ent.name))) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    benchfs_closedir(d);
    for (size_t i = 0; rc >= 0 && i < n; i++) {
        char s[BFS_PATH_MAX], t[BFS_PATH_MAX];
        size_t nl = strlen(names[i]);
        if (slen + 1 + nl >= BFS_PATH_MAX || dlen + 1 + nl >= BFS_PATH_MAX) {
            rc = -ENAMETOOLONG;
            break;
        }
        memcpy(s, src, slen);
        s[slen] = '/';
        memcpy(s + slen + 1, names[i], nl + 1);
        memcpy(t, dst, dlen);
        t[dlen] = '/';
        memcpy(t + dlen + 1, names[i], nl + 1);
        rc = rename_rec(fs, s, slen + 1 + nl, t, dlen + 1 + nl);
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc < 0 ? rc : 0;
}

static int rename_rec(benchfs_t *fs, const char *src, size_t slen, const char *dst, size_t dlen)
{
    struct bfs_inode a, b;
    int rc;
    /* A file's name can turn into a directory's between the look and the
     * move (EXDEV from the server): look again, a bounded number of times. */
    for (int tries = 0;; tries++) {
        if ((rc = bfs_cl_resolve(fs, src, slen, &a)) < 0)
            return rc;
        if (S_ISDIR(a.mode))
            break;
        rc = rename_file(fs, src, slen, dst, dlen, a.fid, bfs_dt_of_mode(a.mode));
        if (rc != -EXDEV || tries == 3)
            return rc == -EXDEV ? -EBUSY : rc;
    }
    /* A directory: its record and its entries are keyed by its path, so
     * they move entry by entry (no inode or chunk of a file moves). */
    int have_dst = bfs_cl_resolve(fs, dst, dlen, &b) == 0;
    if (have_dst) {
        if (!S_ISDIR(b.mode))
            return -ENOTDIR;
        if (b.fid == a.fid)
            return 0;
        char d[BFS_PATH_MAX];
        memcpy(d, dst, dlen);
        d[dlen] = '\0';
        if ((rc = benchfs_rmdir(fs, d)) < 0)
            return rc;
    }
    if ((rc = put_dir(fs, dst, dlen, &a)) < 0)
        return rc;
    if ((rc = rename_dir_children(fs, src, slen, dst, dlen)) < 0)
        return rc;
    char s[BFS_PATH_MAX];
    memcpy(s, src, slen);
    s[slen] = '\0';
    return benchfs_rmdir(fs, s);
}

static int rename_at(benchfs_t *fs, const char *src, ssize_t slen, const char *dst, ssize_t dlen)
{
    bfs_cl_closes_flush(fs, 0); /* a replaced file we closed frees at once */
    if (slen == 1 || dlen == 1)
        return -EBUSY;
    if (slen == dlen && !memcmp(src, dst, (size_t)slen))
        return 0;
    if (bfs_path_is_under(dst, (size_t)dlen, src, (size_t)slen))
        return -EINVAL; /* a directory into itself */
    return rename_rec(fs, src, (size_t)slen, dst, (size_t)dlen);
}

/* Both names resolved as names (a symlink as either last component is
 * itself renamed or replaced); a trailing slash needs directories. */
int benchfs_rename(benchfs_t *fs, const char *from, const char *to)
{
    if (from && bfs_cl_last_is_dot(from))
        return dot_error(fs, from, -EINVAL);
    if (to && bfs_cl_last_is_dot(to))
        return dot_error(fs, to, -EINVAL);
    struct bfs_res *s = malloc(2 * sizeof(*s));
    if (!s)
        return -ENOMEM;
    struct bfs_res *d = s + 1;
    int sfast, dfast;
    int rc = bfs_cl_name(fs, from, s, &sfast);
    if (rc == 0)
        rc = bfs_cl_name(fs, to, d, &dfast);
    for (int tries = 0; rc == 0; tries++) {
        if (s->found == 0)
            rc = -ENOENT;
        else if (s->must_dir && s->found == 1 && !S_ISDIR(s->ino.mode))
            rc = -ENOTDIR;
        else if (d->must_dir && d->found == 1 && !S_ISDIR(d->ino.mode))
            rc = -ENOTDIR;
        else
            rc = rename_at(fs, s->path, (ssize_t)s->len, d->path, (ssize_t)d->len);
        if ((rc != -ENOENT && rc != -ENOTDIR) || tries || (!sfast && !dfast))
            break;
        int a = sfast ? bfs_cl_name_retry(fs, from, s) : 0;
        int b = a >= 0 && dfast ? bfs_cl_name_retry(fs, to, d) : 0;
        if (a < 0 || b < 0) {
            rc = a < 0 ? a : b;
            break;
        }
        if (!a && !b)
            break;
        rc = 0;
    }
    free(s);
    return rc;
}

/* A second name for a file: one more link at the inode's home first, then
 * the name (which must be free) at the new parent's server; a taken name
 * takes the link back. A crash between leaves one link too many (the
 * inode then outlives its last name: a leak, never a dangling name). */
static int link_fn(benchfs_t *fs, struct bfs_res *r, void *arg)
{
    struct bfs_inode ino = *(const struct bfs_inode *)arg;
    const char *dst = r->path;
    ssize_t dlen = (ssize_t)r->len;
    int rc;
    if (dlen == 1 || r->found == 1)
        return -EEXIST;
    if (r->must_dir)
        return -ENOENT; /* "new/": a file name cannot end in a slash */
    uint64_t fid = ino.fid;
    struct bfs_cl_meta l = {.op = BFS_OP_LINK, .offset = (uint64_t)bfs_wall_ns(), .ino = &ino};
    if ((rc = bfs_cl_fid_call(fs, fid, &l)) < 0)
        return rc;
    const char *base = bfs_path_base(dst, (size_t)dlen);
    struct bfs_inode old;
    struct bfs_cl_meta d = {.op = BFS_OP_DIRENT_ADD, .flags = BFS_F_EXCL,
                            .arg0 = bfs_dt_of_mode(ino.mode),
                            .arg1 = fid, .extra = base,
                            .extra_len = (size_t)dlen - (size_t)(base - dst), .ino = &old};
    rc = bfs_cl_meta_call(fs, dst, bfs_path_parent_len(dst, (size_t)dlen), &d);
    if (rc == 0)
        return 0;
    struct bfs_inode dead;
    struct bfs_cl_meta u = {.op = BFS_OP_UNREF, .ino = &dead};
    bfs_cl_fid_call(fs, fid, &u); /* unlinked meanwhile: its home reaps it */
    if (rc == BFS_FOUND)
        return -EEXIST;
    return rc;
}

int benchfs_link(benchfs_t *fs, const char *from, const char *to)
{
    struct bfs_res r;
    int rc = bfs_cl_res(fs, from, 0, &r);
    if (rc < 0)
        return rc;
    if (S_ISDIR(r.ino.mode))
        return -EPERM;
    return on_name(fs, to, link_fn, &r.ino);
}

/* A symlink (with its target), FIFO or socket (BenchFS stores the node;
 * the kernel of the node that opens or connects to it, on the FUSE mount,
 * makes the pipe or the connection): inode and name at the parent's
 * server, one RPC and one transaction. */
struct node_arg {
    unsigned op;      /* BFS_OP_SYMLINK or BFS_OP_MKNOD */
    mode_t mode;      /* MKNOD */
    const char *target; /* SYMLINK */
};

static int node_fn(benchfs_t *fs, struct bfs_res *r, void *arg)
{
    const struct node_arg *na = arg;
    if (r->len == 1 || r->found == 1)
        return -EEXIST;
    if (r->must_dir)
        return -ENOENT;
    struct bfs_inode ino;
    struct bfs_cl_meta m = {
        .op = na->op,
        .arg0 = na->mode,
        .arg1 = (uint64_t)fs->uid << 32 | fs->gid,
        .offset = (uint64_t)bfs_wall_ns(),
        .extra = na->target,
        .extra_len = na->target ? strlen(na->target) : 0,
        .ino = &ino,
    };
    int rc = bfs_cl_call_at(fs, bfs_cl_parent_server(fs, r->path, r->len), r->path, r->len, &m);
    return rc < 0 ? rc : 0;
}

int benchfs_mknod(benchfs_t *fs, const char *path, mode_t mode)
{
    switch (mode & S_IFMT) {
    case 0:
    case S_IFREG: {
        benchfs_file_t *f;
        int rc = benchfs_open(fs, path, O_WRONLY | O_CREAT | O_EXCL, mode & 07777, &f);
        return rc < 0 ? rc : benchfs_close(f);
    }
    case S_IFIFO:
    case S_IFSOCK: {
        struct node_arg na = {.op = BFS_OP_MKNOD, .mode = mode & (S_IFMT | 07777)};
        return on_name(fs, path, node_fn, &na);
    }
    case S_IFCHR:
    case S_IFBLK:
        return -EPERM; /* devices: a node's device numbers mean nothing on another */
    default:
        return -EINVAL;
    }
}

int benchfs_symlink(benchfs_t *fs, const char *target, const char *linkpath)
{
    if (!target)
        return -EFAULT;
    if (!*target)
        return -ENOENT;
    if (strlen(target) > BFS_TARGET_MAX)
        return -ENAMETOOLONG;
    struct node_arg na = {.op = BFS_OP_SYMLINK, .target = target};
    return on_name(fs, linkpath, node_fn, &na);
}
