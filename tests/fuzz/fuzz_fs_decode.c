/* libFuzzer targets: the server's decoding of each file-system RPC's payload
 * (server/fs_decode.c). Built once per decoder with -DFUZZ_FS_OP=NAME:
 *   path     CREATE, STAT, CHMOD, UTIMENS, SETSIZE, GROW, REMOVE, APPEND
 *            (take_path)
 *   put      PUT: path + inode
 *   dirent   DIRENT_ADD / DIRENT_DEL: dir + name (take_name)
 *   readdir  READDIR: dir + cursor, reply capacity
 *   target   STAT, CHMOD, UTIMENS, SETSIZE, GROW, APPEND, UNREF: fid or path
 *   rename   RENAME: source + destination path
 *   write    WRITE: [path] + data within the chunk (and READ: [path], its
 *            chunk range)
 * Input: [80 bytes: struct bfs_rpc_hdr as sent][payload]. As the RPC layer
 * guarantees before any handler runs, hdr.len is the payload's length and
 * the payload is NULL when empty. */
#include "server/fs_decode.h"
#include "common/proto.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PATH 1
#define PUT 2
#define DIRENT 3
#define READDIR 4
#define WRITE 5
#define TARGET 6
#define RENAME 7
#ifndef FUZZ_FS_OP
#error "build with -DFUZZ_FS_OP=PATH|PUT|DIRENT|READDIR|WRITE|TARGET|RENAME"
#endif

static void check_path(const struct bfs_fs_args *a, int rc)
{
    if (strlen(a->path) != a->plen || bfs_path_check(a->path, a->plen) != 0)
        abort();
    if (rc >= 0 && a->bad_path)
        abort();
}

static void check_name(const char *n, int allow_empty)
{
    size_t l = strlen(n);
    if ((!allow_empty && l == 0) || l > BFS_NAME_MAX || strchr(n, '/') || !strcmp(n, ".") ||
        !strcmp(n, ".."))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bfs_rpc_hdr h;
    if (size < sizeof(h))
        return 0;
    memcpy(&h, data, sizeof(h));
    size_t len = size - sizeof(h);
    h.len = len;
    uint8_t *payload = len ? malloc(len) : NULL; /* exact size: ASan sees overreads */
    if (len)
        memcpy(payload, data + sizeof(h), len);
    static struct bfs_fs_args a; /* 4.4 KB: off the stack */
    memset(&a, 0xa5, sizeof(a));  /* no reliance on prior contents */
    int rc;
#if FUZZ_FS_OP == PATH
    rc = bfs_fs_decode_path(&h, payload, &a);
    if (rc >= 0) {
        check_path(&a, rc);
        if ((size_t)rc != len || memcmp(a.path, payload, len))
            abort();
    }
#elif FUZZ_FS_OP == PUT
    rc = bfs_fs_decode_put(&h, payload, &a);
    if (rc >= 0) {
        check_path(&a, rc);
        if (rc == 1 || (size_t)rc + sizeof(a.ino) != len ||
            memcmp(&a.ino, payload + rc, sizeof(a.ino)))
            abort();
    } else if (rc != -EINVAL && rc != -ENAMETOOLONG && rc != -EBUSY) {
        abort();
    }
#elif FUZZ_FS_OP == DIRENT
    rc = bfs_fs_decode_dirent(&h, payload, &a);
    if (rc >= 0) {
        check_path(&a, rc);
        check_name(a.name, 0);
        if (a.plen != h.arg2 || a.plen + strlen(a.name) != len)
            abort();
    }
#elif FUZZ_FS_OP == READDIR
    rc = bfs_fs_decode_readdir(&h, payload, &a);
    if (rc >= 0) {
        check_path(&a, rc);
        check_name(a.name, 1);
        if (a.plen + strlen(a.name) != len || a.rcap < BFS_FS_READDIR_MIN_REPLY ||
            a.rcap > BFS_FS_READDIR_MAX_REPLY || a.rcap > h.rcap)
            abort();
    }
#elif FUZZ_FS_OP == TARGET
    rc = bfs_fs_decode_target(&h, payload, &a);
    if (rc > 0) {
        check_path(&a, rc);
        if (a.by_fid || (size_t)rc != len || memcmp(a.path, payload, len))
            abort();
    } else if (rc == 0 && (!a.by_fid || len != 8 || !(h.flags & BFS_F_BYFID) ||
                           memcmp(&a.fid, payload, 8))) {
        abort();
    }
#elif FUZZ_FS_OP == RENAME
    rc = bfs_fs_decode_rename(&h, payload, &a);
    if (rc >= 0) {
        check_path(&a, (int)a.plen);
        if (a.plen != h.arg2 || a.plen + a.plen2 != len || strlen(a.path2) != a.plen2 ||
            bfs_path_check(a.path2, a.plen2) != 0 || memcmp(a.path2, payload + a.plen, a.plen2))
            abort();
    }
#elif FUZZ_FS_OP == WRITE
    /* The chunk size of the job, from 4 KiB to 1 GiB, picked by the input. */
    uint64_t cs = (uint64_t)4096 << (h.pad % 19);
    rc = bfs_fs_decode_write(&h, payload, cs, &a);
    if (rc >= 0) {
        if (a.has_path)
            check_path(&a, rc);
        if (a.plen + a.wlen != len || a.plen != h.arg2)
            abort();
        if (a.wlen && (a.wdata != payload + a.plen))
            abort();
        if (h.offset > cs || a.wlen > cs - h.offset)
            abort();
        /* Every byte to be written is inside the payload. */
        volatile uint8_t x = 0;
        for (uint64_t i = 0; i < a.wlen; i++)
            x ^= ((const uint8_t *)a.wdata)[i];
        (void)x;
    }
    static struct bfs_fs_args r;
    memset(&r, 0xa5, sizeof(r));
    if (bfs_fs_decode_read(&h, payload, cs, &r) == 0) {
        if (h.offset > cs || h.rcap > cs - h.offset || r.wlen != h.rcap)
            abort();
        if (r.plen != len || r.plen != h.arg2)
            abort();
        if (r.has_path)
            check_path(&r, (int)r.plen);
    }
#endif
    if (rc < 0 && rc != -EINVAL && rc != -ENAMETOOLONG && rc != -EBUSY)
        abort();
    free(payload);
    return 0;
}
