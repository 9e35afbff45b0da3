/* Decoding of file-system RPC requests: see fs_decode.h. */
#include "fs_decode.h"
#include "../common/proto.h"

#include <errno.h>
#include <string.h>

static int refuse(struct bfs_fs_args *a, enum bfs_refusal why, int err)
{
    a->refused = why;
    return err;
}

/* The path in the first plen payload bytes (all of them when plen is 0),
 * validated and copied into a->path. Returns its length. */
static int take_path(const struct bfs_rpc_hdr *h, const void *data, size_t plen,
                     struct bfs_fs_args *a)
{
    size_t len = plen ? plen : h->len;
    if (len > h->len || !data)
        return refuse(a, BFS_REFUSED_LENGTHS, -EINVAL);
    int rc = bfs_path_check(data, len);
    if (rc < 0) {
        a->bad_path = 1;
        return refuse(a, BFS_REFUSED_PATH, rc);
    }
    memcpy(a->path, data, len); /* bfs_path_check: len < BFS_PATH_MAX */
    a->path[len] = '\0';
    a->plen = len;
    return (int)len;
}

/* The name after the first dlen payload bytes (dlen <= h->len). */
static int take_name(const struct bfs_rpc_hdr *h, const void *data, size_t dlen,
                     struct bfs_fs_args *a, int allow_empty)
{
    size_t n = h->len - dlen;
    if (n > BFS_NAME_MAX || (!allow_empty && n == 0))
        return refuse(a, BFS_REFUSED_NAME, n ? -ENAMETOOLONG : -EINVAL);
    const char *p = (const char *)data + dlen;
    if (n && (memchr(p, '/', n) || memchr(p, '\0', n)))
        return refuse(a, BFS_REFUSED_NAME, -EINVAL);
    if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
        return refuse(a, BFS_REFUSED_NAME, -EINVAL);
    if (n)
        memcpy(a->name, p, n);
    a->name[n] = '\0';
    return 0;
}

static void args_init(struct bfs_fs_args *a)
{
    a->path[0] = '\0';
    a->plen = 0;
    a->name[0] = '\0';
    a->wdata = NULL;
    a->wlen = 0;
    a->has_path = 0;
    a->fid = 0;
    a->by_fid = 0;
    a->path2[0] = '\0';
    a->plen2 = 0;
    a->rcap = 0;
    a->bad_path = 0;
    a->refused = BFS_REFUSED_NONE;
}

static int chunk_range_ok(uint64_t chunk_size, uint64_t off, uint64_t len)
{
    return off <= chunk_size && len <= chunk_size - off;
}

int bfs_fs_decode_path(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a)
{
    args_init(a);
    return take_path(h, data, 0, a);
}

int bfs_fs_decode_target(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a)
{
    args_init(a);
    if (!(h->flags & BFS_F_BYFID))
        return take_path(h, data, 0, a);
    if (h->len != sizeof(a->fid) || !data)
        return refuse(a, BFS_REFUSED_LENGTHS, -EINVAL);
    memcpy(&a->fid, data, sizeof(a->fid));
    a->by_fid = 1;
    return 0;
}

int bfs_fs_decode_rename(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a)
{
    args_init(a);
    if (!h->arg2 || h->arg2 >= h->len)
        return refuse(a, BFS_REFUSED_LENGTHS, -EINVAL);
    int rc = take_path(h, data, h->arg2, a);
    if (rc < 0)
        return rc;
    size_t n = h->len - h->arg2;
    const char *p = (const char *)data + h->arg2;
    if ((rc = bfs_path_check(p, n)) < 0) {
        a->bad_path = 1;
        return refuse(a, BFS_REFUSED_PATH, rc);
    }
    memcpy(a->path2, p, n);
    a->path2[n] = '\0';
    a->plen2 = n;
    return 0;
}

int bfs_fs_decode_put(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a)
{
    args_init(a);
    int len = take_path(h, data, h->arg2, a);
    if (len < 0)
        return len;
    if (len == 1)
        return -EBUSY;
    if (h->len != (uint64_t)len + sizeof(a->ino))
        return refuse(a, BFS_REFUSED_LENGTHS, -EINVAL);
    memcpy(&a->ino, (const char *)data + len, sizeof(a->ino));
    return len;
}

int bfs_fs_decode_symlink(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a)
{
    args_init(a);
    if (!h->arg2 || h->arg2 >= h->len)
        return refuse(a, BFS_REFUSED_LENGTHS, h->arg2 && h->arg2 == h->len ? -ENOENT : -EINVAL);
    int len = take_path(h, data, h->arg2, a);
    if (len < 0)
        return len;
    if (len == 1)
        return -EEXIST;
    size_t tlen = h->len - h->arg2;
    if (tlen > BFS_TARGET_MAX)
        return -ENAMETOOLONG;
    memcpy(a->path2, (const char *)data + h->arg2, tlen);
    a->path2[tlen] = '\0';
    if (memchr(a->path2, '\0', tlen))
        return refuse(a, BFS_REFUSED_NAME, -EINVAL);
    a->plen2 = tlen;
    return len;
}

int bfs_fs_decode_dirent(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a)
{
    args_init(a);
    if (!h->arg2)
        return refuse(a, BFS_REFUSED_LENGTHS, -EINVAL);
    int rc = take_path(h, data, h->arg2, a);
    if (rc < 0)
        return rc;
    return take_name(h, data, h->arg2, a, 0);
}

int bfs_fs_decode_readdir(const struct bfs_rpc_hdr *h, const void *data, struct bfs_fs_args *a)
{
    args_init(a);
    size_t dlen = h->arg2 ? h->arg2 : h->len;
    int rc = take_path(h, data, dlen, a);
    if (rc < 0)
        return rc;
    if ((rc = take_name(h, data, dlen, a, 1)) < 0)
        return rc;
    uint64_t cap = h->rcap < BFS_FS_READDIR_MAX_REPLY ? h->rcap : BFS_FS_READDIR_MAX_REPLY;
    if (cap < BFS_FS_READDIR_MIN_REPLY)
        return refuse(a, BFS_REFUSED_LENGTHS, -EINVAL);
    a->rcap = (size_t)cap;
    return 0;
}

int bfs_fs_decode_write(const struct bfs_rpc_hdr *h, const void *data, uint64_t chunk_size,
                        struct bfs_fs_args *a)
{
    args_init(a);
    size_t plen = h->arg2;
    if (plen > h->len || (h->len && !data))
        return refuse(a, BFS_REFUSED_LENGTHS, -EINVAL);
    if (plen) {
        int rc = take_path(h, data, plen, a);
        if (rc < 0)
            return rc;
        a->has_path = 1;
    }
    a->wdata = h->len ? (const char *)data + plen : NULL;
    a->wlen = h->len - plen;
    if (!chunk_range_ok(chunk_size, h->offset, a->wlen))
        return refuse(a, BFS_REFUSED_RANGE, -EINVAL);
    return 0;
}

int bfs_fs_decode_read(const struct bfs_rpc_hdr *h, const void *data, uint64_t chunk_size,
                       struct bfs_fs_args *a)
{
    args_init(a);
    size_t plen = h->arg2;
    /* The payload is the path and nothing else. */
    if (plen != h->len)
        return refuse(a, BFS_REFUSED_LENGTHS, -EINVAL);
    if (plen) {
        int rc = take_path(h, data, plen, a);
        if (rc < 0)
            return rc;
        a->has_path = 1;
    }
    a->wlen = h->rcap;
    return chunk_range_ok(chunk_size, h->offset, h->rcap) ? 0
                                                          : refuse(a, BFS_REFUSED_RANGE, -EINVAL);
}
