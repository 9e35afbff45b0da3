/* Client API: directory listing. A directory's entries live on the
 * directory's own server, so a listing asks one server, a page at a time. */
#include "client_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PAGE_BYTES (64u << 10)

struct benchfs_dir {
    benchfs_t *fs;
    char path[BFS_PATH_MAX];
    size_t plen;
    char *page;        /* packed entries: u8 type, u16 len, name */
    size_t page_len, pos;
    int more;          /* the server has entries after this page */
    int started;
    char last[BFS_NAME_MAX + 1]; /* last name returned: the next page's cursor */
};

int benchfs_opendir(benchfs_t *fs, const char *p, benchfs_dir_t **out)
{
    benchfs_dir_t *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    ssize_t plen = bfs_cl_path(p, d->path);
    int rc = (int)plen;
    if (plen >= 0 && bfs_cl_path_is_plain(p)) {
        d->plen = (size_t)plen;
        struct bfs_inode ino;
        /* The record alone (its own server): listing needs no other. */
        struct bfs_cl_meta m = {.op = BFS_OP_STAT, .ino = &ino};
        rc = bfs_cl_meta_call(fs, d->path, d->plen, &m);
        if (rc == 0 && !S_ISDIR(ino.mode))
            rc = -ENOTDIR;
    } else if (plen >= 0) {
        rc = -ENOENT;
    }
    if (rc == -ENOENT) {
        /* No record there: a symlink or a file in the path, "..", or
         * nothing; resolved on this slower path. */
        struct bfs_res *r = malloc(sizeof(*r));
        rc = r ? bfs_cl_res(fs, p, BFS_RES_FOLLOW, r) : -ENOMEM;
        if (rc == 0 && !S_ISDIR(r->ino.mode))
            rc = -ENOTDIR;
        if (rc == 0) {
            memcpy(d->path, r->path, r->len + 1);
            d->plen = r->len;
        }
        free(r);
    }
    if (rc == 0 && !(d->page = malloc(PAGE_BYTES)))
        rc = -ENOMEM;
    if (rc < 0) {
        free(d);
        return rc;
    }
    d->fs = fs;
    *out = d;
    return 0;
}

static int fetch(benchfs_dir_t *d)
{
    struct iovec resp = {d->page, PAGE_BYTES};
    struct bfs_cl_meta m = {.op = BFS_OP_READDIR, .extra = d->last, .extra_len = strlen(d->last)};
    bfs_rpc_call_t call;
    struct iovec iov[3];
    bfs_cl_meta_prep(d->fs, &call, iov, d->path, d->plen, &m);
    /* An empty cursor still needs arg2 to mark where the path ends. */
    call.arg2 = (uint32_t)d->plen;
    call.req_iovcnt = m.extra_len ? 2 : 1;
    call.resp_iov = &resp;
    call.resp_iovcnt = 1;
    int rc = bfs_rpc_call(d->fs->rpc, &call);
    if (rc < 0)
        return rc;
    d->page_len = call.resp_len;
    d->pos = 0;
    d->more = call.reply.arg0 != 0;
    d->started = 1;
    return 0;
}

int benchfs_readdir(benchfs_dir_t *d, struct benchfs_dirent *ent)
{
    for (;;) {
        int rc = bfs_cl_dirpage_next(d->page, d->page_len, &d->pos, d->last, ent);
        if (rc != 0) {
            if (rc == 1)
                memcpy(d->last, ent->name, strlen(ent->name) + 1);
            return rc;
        }
        if (d->started && !d->more)
            return 0;
        if ((rc = fetch(d)) < 0)
            return rc;
        if (d->page_len == 0)
            return d->more ? -EPROTO : 0; /* "more" with nothing would loop forever */
    }
}

void benchfs_rewinddir(benchfs_dir_t *d)
{
    d->started = 0;
    d->more = 0;
    d->page_len = d->pos = 0;
    d->last[0] = '\0';
}

int benchfs_closedir(benchfs_dir_t *d)
{
    if (d) {
        free(d->page);
        free(d);
    }
    return 0;
}
