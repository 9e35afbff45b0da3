/* Client API: path resolution with symbolic links (docs/DESIGN.md
 * "Symbolic links and path resolution").
 *
 * Fast path: a path without ".." and without a trailing "/" or "/." is
 * normalized by text and looked up with one LOOKUP at its parent's server.
 * Only when that server says the parent is not a directory there
 * (BFS_NOT_HERE: a symlink, a file or nothing in the prefix), or for the
 * lexical forms above, is the path walked from the root, one LOOKUP per
 * component, substituting symlink targets as Linux does (ELOOP after 40). */
#include "client_internal.h"
#include "../common/placement.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LINKS 40 /* as Linux (MAXSYMLINKS) */

/* The host path of the last call that left the mount (thread's own). */
static __thread char outside[BFS_PATH_MAX];

const char *benchfs_outside_path(void) { return outside; }

int benchfs_set_mount(benchfs_t *fs, const char *prefix)
{
    if (!prefix || !*prefix) {
        fs->mount[0] = '\0';
        fs->mount_len = 0;
        return 0;
    }
    ssize_t n = bfs_path_normalize(prefix, fs->mount, sizeof(fs->mount));
    if (n < 0) {
        fs->mount[0] = '\0';
        fs->mount_len = 0;
        return (int)n;
    }
    fs->mount_len = n == 1 ? 0 : (size_t)n; /* "/": every path is ours */
    return 0;
}

/* 1 when the path must be walked: a ".." component (it follows the
 * resolved path, not the text), or a trailing "/" or "/." (the last
 * component must then be a directory). */
static int needs_walk(const char *p)
{
    size_t n = strlen(p);
    if (n > 1 && p[n - 1] == '/')
        return 1;
    if (n >= 2 && p[n - 1] == '.' && p[n - 2] == '/')
        return 1;
    if (n >= 3 && !strcmp(p + n - 3, "/.."))
        return 1;
    return strstr(p, "/../") != NULL;
}

int bfs_cl_path_is_plain(const char *p) { return !needs_walk(p); }

/* Is the last component of p "." (1) or ".." (2)? 0: neither. */
int bfs_cl_last_is_dot(const char *p)
{
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        n--;
    size_t i = n;
    while (i > 0 && p[i - 1] != '/')
        i--;
    size_t c = n - i;
    return (c == 1 && p[i] == '.') ? 1 : (c == 2 && p[i] == '.' && p[i + 1] == '.') ? 2 : 0;
}

int bfs_cl_lookup(benchfs_t *fs, const char *path, size_t plen, struct bfs_inode *ino,
                  char *target, size_t *tlen)
{
    return bfs_cl_lookup_flags(fs, path, plen, ino, target, tlen, 0);
}

/* flags BFS_F_OPEN: the caller opens what path names (server/open_refs.h):
 * the request that reaches a regular file's home carries it. */
int bfs_cl_lookup_flags(benchfs_t *fs, const char *path, size_t plen, struct bfs_inode *ino,
                        char *target, size_t *tlen, uint32_t flags)
{
    bfs_rpc_call_t call;
    struct iovec iov[3], resp[2];
    struct bfs_cl_meta m = {.op = plen == 1 ? BFS_OP_STAT : BFS_OP_LOOKUP,
                            .flags = plen == 1 ? 0 : flags};
    bfs_cl_meta_prep(fs, &call, iov, path, plen, &m);
    if (plen > 1)
        call.server = (int)bfs_cl_parent_server(fs, path, plen);
    resp[0].iov_base = ino;
    resp[0].iov_len = sizeof(*ino);
    resp[1].iov_base = target;
    resp[1].iov_len = BFS_TARGET_MAX;
    call.resp_iov = resp;
    call.resp_iovcnt = target ? 2 : 1;
    if (tlen)
        *tlen = 0;
    int rc = bfs_rpc_call(fs->rpc, &call);
    if (rc < 0 || rc == BFS_NOT_HERE)
        return rc;
    if (call.resp_len < sizeof(*ino))
        return -EPROTO;
    if (rc == BFS_FOUND_ELSEWHERE) {
        /* The inode lives elsewhere: a directory's record at its path, a
         * file's or symlink's inode (and target) at home(fid). */
        uint64_t fid = ino->fid;
        struct bfs_cl_meta st = {.op = BFS_OP_STAT};
        if (S_ISDIR(ino->mode)) {
            bfs_cl_meta_prep(fs, &call, iov, path, plen, &st);
        } else {
            st.flags = flags;
            bfs_cl_fid_prep(fs, &call, iov, &fid, &st);
        }
        call.resp_iov = resp;
        call.resp_iovcnt = target ? 2 : 1;
        if (!S_ISDIR(ino->mode) && bfs_place_home(fid, fs->nservers) >= fs->nservers)
            return -ESTALE;
        rc = bfs_rpc_call(fs->rpc, &call);
        if (rc < 0)
            return rc;
        if (call.resp_len < sizeof(*ino))
            return -EPROTO;
    }
    if (target) {
        size_t n = call.resp_len - sizeof(*ino);
        target[n] = '\0';
        *tlen = n;
        if (S_ISLNK(ino->mode) && n == 0)
            return -EIO; /* a symlink's target always comes with it */
    }
    return 0;
}

/* out = dir + "/" + name (dir "/": "/" + name). */
static int join(char *out, const char *dir, size_t dlen, const char *name, size_t nlen,
                size_t *olen)
{
    size_t d = dlen == 1 ? 0 : dlen;
    if (d + 1 + nlen >= BFS_PATH_MAX)
        return -ENAMETOOLONG;
    memcpy(out, dir, d);
    out[d] = '/';
    memcpy(out + d + 1, name, nlen);
    out[d + 1 + nlen] = '\0';
    *olen = d + 1 + nlen;
    return 0;
}

/* The walk left the mount: outside = host + rest; the caller goes to libc. */
static int leave(const char *host, size_t hlen, const char *rest)
{
    size_t rl = strlen(rest);
    if (hlen + rl + 2 > sizeof(outside))
        return -ENAMETOOLONG;
    memcpy(outside, host, hlen);
    size_t o = hlen;
    if (rl && rest[0] != '/' && (o == 0 || outside[o - 1] != '/'))
        outside[o++] = '/';
    memcpy(outside + o, rest, rl + 1);
    if (!outside[0])
        strcpy(outside, "/");
    return -BENCHFS_EOUTSIDE;
}

/* Walk rest (components; absolute or relative to start, a real directory
 * path) as POSIX resolves a path. links: symlinks substituted so far.
 * is_target: rest is a symlink's target (an absolute one is a host path:
 * inside the mount prefix it is ours, else the call leaves the mount). */
static int walk(benchfs_t *fs, const char *start, size_t slen, const char *rest_in, int is_target,
                int flags, struct bfs_res *r, int links)
{
    char cur[BFS_PATH_MAX], cand[BFS_PATH_MAX];
    char rest[BFS_PATH_MAX + BFS_TARGET_MAX + 2], tmp[sizeof(rest)];
    size_t clen = slen, pos = 0, rl = strlen(rest_in);
    if (rl >= sizeof(rest))
        return -ENAMETOOLONG;
    memcpy(cur, start, slen);
    cur[clen] = '\0';
    memcpy(rest, rest_in, rl + 1);
    int have_ino = 0;
    struct bfs_inode cur_ino;
    r->found = 0;
    r->tlen = 0;
    r->target[0] = '\0';
    for (;;) {
        if (pos == 0 && rest[0] == '/') {
            /* An absolute path (or target) starts again at the root. */
            if (is_target && fs->mount_len) {
                /* An absolute target: a host path. */
                const char *t = rest + pos;
                if (strncmp(t, fs->mount, fs->mount_len) ||
                    (t[fs->mount_len] && t[fs->mount_len] != '/'))
                    return leave(t, strlen(t), "");
                pos += fs->mount_len;
            }
            clen = 1;
            strcpy(cur, "/");
            have_ino = 0;
        }
        is_target = 0;
        while (rest[pos] == '/')
            pos++;
        if (!rest[pos]) {
            /* Ended on the directory cur ("/", "d/", "d/.", "d/.."). */
            memcpy(r->path, cur, clen + 1);
            r->len = clen;
            r->found = 1;
            r->must_dir = 1;
            if (have_ino) {
                r->ino = cur_ino;
                return 0;
            }
            int rc = bfs_cl_lookup(fs, cur, clen, &r->ino, NULL, NULL);
            return rc == BFS_NOT_HERE ? -ENOENT : rc < 0 ? rc : 0;
        }
        size_t s = pos;
        while (rest[pos] && rest[pos] != '/')
            pos++;
        size_t n = pos - s, q = pos;
        while (rest[q] == '/')
            q++;
        int last = rest[q] == '\0', trailing = last && q > pos;
        if (n == 1 && rest[s] == '.')
            continue;
        if (n == 2 && rest[s] == '.' && rest[s + 1] == '.') {
            if (clen == 1) {
                /* Above BenchFS's root: the mount point's parent. */
                if (fs->mount_len) {
                    size_t pl = bfs_path_parent_len(fs->mount, fs->mount_len);
                    return leave(fs->mount, pl, rest + pos);
                }
                continue;
            }
            clen = bfs_path_parent_len(cur, clen);
            cur[clen] = '\0';
            have_ino = 0;
            continue;
        }
        if (n > BFS_NAME_MAX)
            return -ENAMETOOLONG;
        size_t cl;
        int rc = join(cand, cur, clen, rest + s, n, &cl);
        if (rc < 0)
            return rc;
        int follow = !last || (flags & BFS_RES_FOLLOW) || (trailing && !(flags & BFS_RES_NAME));
        struct bfs_inode ino;
        size_t tlen = 0;
        char *target = r->target;
        rc = bfs_cl_lookup(fs, cand, cl, &ino, target, &tlen);
        if (rc == BFS_NOT_HERE)
            return -ENOENT; /* cur went away meanwhile */
        if (rc == -ENOENT && last && (flags & BFS_RES_MAYBE)) {
            memcpy(r->path, cand, cl + 1);
            r->len = cl;
            r->must_dir = trailing;
            return 0;
        }
        if (rc < 0)
            return rc;
        if (S_ISLNK(ino.mode) && follow) {
            if (++links > MAX_LINKS)
                return -ELOOP;
            /* The target replaces the component; the rest follows it. */
            size_t left = strlen(rest + pos);
            if (tlen + left + 1 > sizeof(tmp))
                return -ENAMETOOLONG;
            memcpy(tmp, target, tlen);
            memcpy(tmp + tlen, rest + pos, left + 1);
            memcpy(rest, tmp, tlen + left + 1);
            pos = 0;
            is_target = 1;
            continue;
        }
        if (last && !S_ISDIR(ino.mode)) {
            if (trailing)
                return -ENOTDIR;
            memcpy(r->path, cand, cl + 1);
            r->len = cl;
            r->found = 1;
            r->ino = ino;
            r->tlen = tlen;
            r->must_dir = 0;
            return 0;
        }
        if (!S_ISDIR(ino.mode))
            return -ENOTDIR;
        memcpy(cur, cand, cl + 1);
        clen = cl;
        cur_ino = ino;
        have_ino = 1;
        if (last && !trailing) {
            memcpy(r->path, cur, clen + 1);
            r->len = clen;
            r->found = 1;
            r->ino = ino;
            r->must_dir = 0;
            return 0;
        }
    }
}

static int check_user(const char *user)
{
    if (!user)
        return -EFAULT;
    if (!*user)
        return -ENOENT;
    if (user[0] != '/')
        return -EINVAL;
    if (strnlen(user, BFS_PATH_MAX) >= BFS_PATH_MAX)
        return -ENAMETOOLONG;
    return 0;
}

/* The start of every resolution: the user's path checked, r empty, and for
 * a path that needs no walk its normal form in r->path (1); 0: walk it. */
static int res_begin(const char *user, struct bfs_res *r)
{
    int rc = check_user(user);
    if (rc < 0)
        return rc;
    r->found = 0;
    r->must_dir = 0;
    r->tlen = 0;
    r->opened = 0;
    if (needs_walk(user))
        return 0;
    ssize_t n = bfs_path_normalize(user, r->path, BFS_PATH_MAX);
    if (n < 0)
        return (int)n;
    r->len = (size_t)n;
    return 1;
}

int bfs_cl_res(benchfs_t *fs, const char *user, int flags, struct bfs_res *r)
{
    int rc = res_begin(user, r);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        rc = bfs_cl_lookup_flags(fs, r->path, r->len, &r->ino, r->target, &r->tlen,
                                 (flags & BFS_RES_OPEN) ? BFS_F_OPEN : 0);
        if (rc == 0) {
            r->found = 1;
            r->opened = (flags & BFS_RES_OPEN) && S_ISREG(r->ino.mode);
            if (!S_ISLNK(r->ino.mode) || !(flags & BFS_RES_FOLLOW))
                return 0;
            /* Follow from the link's directory (real: the lookup found it). */
            char t[BFS_TARGET_MAX + 1];
            memcpy(t, r->target, r->tlen + 1);
            return walk(fs, r->path, bfs_path_parent_len(r->path, r->len), t, 1, flags, r, 1);
        }
        if (rc == -ENOENT)
            return (flags & BFS_RES_MAYBE) ? 0 : -ENOENT;
        if (rc != BFS_NOT_HERE)
            return rc;
    }
    return walk(fs, "/", 1, user, 0, flags, r, 0);
}

int bfs_cl_name(benchfs_t *fs, const char *user, struct bfs_res *r, int *fast)
{
    int rc = res_begin(user, r);
    if (rc < 0)
        return rc;
    if (rc == 1) {
        r->found = -1; /* not looked at */
        *fast = 1;
        return 0;
    }
    *fast = 0;
    return walk(fs, "/", 1, user, 0, BFS_RES_MAYBE | BFS_RES_NAME, r, 0);
}

int bfs_cl_name_retry(benchfs_t *fs, const char *user, struct bfs_res *r)
{
    char old[BFS_PATH_MAX];
    memcpy(old, r->path, r->len + 1);
    int rc = walk(fs, "/", 1, user, 0, BFS_RES_MAYBE | BFS_RES_NAME, r, 0);
    if (rc < 0)
        return rc;
    return strcmp(old, r->path) != 0;
}

/* ---- the API calls that exist for symlinks ---- */

int benchfs_lstat(benchfs_t *fs, const char *path, struct stat *st)
{
    struct bfs_res *r = malloc(sizeof(*r));
    if (!r)
        return -ENOMEM;
    int rc = bfs_cl_res(fs, path, 0, r);
    if (rc == 0 && !r->found)
        rc = -ENOENT;
    if (rc == 0)
        bfs_cl_inode_to_stat(fs, &r->ino, st);
    free(r);
    return rc;
}

ssize_t benchfs_readlink(benchfs_t *fs, const char *path, char *buf, size_t cap)
{
    struct bfs_res *r = malloc(sizeof(*r));
    if (!r)
        return -ENOMEM;
    ssize_t rc = bfs_cl_res(fs, path, 0, r);
    if (rc == 0 && !S_ISLNK(r->ino.mode))
        rc = -EINVAL;
    if (rc == 0) {
        rc = (ssize_t)(r->tlen < cap ? r->tlen : cap);
        memcpy(buf, r->target, (size_t)rc);
    }
    free(r);
    return rc;
}

int benchfs_realpath(benchfs_t *fs, const char *path, char *out)
{
    struct bfs_res *r = malloc(sizeof(*r));
    if (!r)
        return -ENOMEM;
    int rc = bfs_cl_res(fs, path, BFS_RES_FOLLOW, r);
    if (rc == 0)
        memcpy(out, r->path, r->len + 1);
    free(r);
    return rc;
}
