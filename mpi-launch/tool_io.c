/* benchfs tool: which side a path is on, and the few file operations the
 * commands need, on either side (local file system or BenchFS). */
#include "tool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tpath_parse(const struct tool *t, const char *arg, struct tpath *out)
{
    memset(out, 0, sizeof(*out));
    if (arg[0] == '/') {
        char norm[BFS_PATH_MAX];
        ssize_t n = bfs_path_normalize(arg, norm, sizeof(norm));
        if (n < 0)
            return (int)n;
        if (bfs_path_is_under(norm, (size_t)n, t->mount, t->mount_len)) {
            out->bfs = 1;
            if ((size_t)n == t->mount_len)
                strcpy(out->path, "/");
            else
                memcpy(out->path, norm + t->mount_len, (size_t)n - t->mount_len + 1);
            return 0;
        }
    }
    size_t len = strlen(arg);
    if (len >= sizeof(out->path))
        return -ENAMETOOLONG;
    memcpy(out->path, arg, len + 1);
    /* "dir/" and "dir" are the same directory; keep "/" itself. */
    while (len > 1 && out->path[len - 1] == '/')
        out->path[--len] = '\0';
    return 0;
}

int tpath_join(const struct tpath *dir, const char *name, struct tpath *out)
{
    out->bfs = dir->bfs;
    const char *sep = (strcmp(dir->path, "/") == 0) ? "" : "/";
    int n = snprintf(out->path, sizeof(out->path), "%s%s%s", dir->path, sep, name);
    return (n < 0 || (size_t)n >= sizeof(out->path)) ? -ENAMETOOLONG : 0;
}

const char *tpath_show(const struct tool *t, const struct tpath *p, char *buf, size_t cap)
{
    if (!p->bfs)
        snprintf(buf, cap, "%s", p->path);
    else
        snprintf(buf, cap, "%s%s", t->mount, strcmp(p->path, "/") ? p->path : "");
    return buf;
}

const char *tpath_base(const struct tpath *p)
{
    const char *s = strrchr(p->path, '/');
    return s ? s + 1 : p->path;
}

int tool_flag(int argc, char **argv, char flag, const char *usage)
{
    char opts[2] = {flag, 0};
    int c, seen = 0;
    while ((c = getopt(argc, argv, opts)) != -1) {
        if (!flag || c != flag) {
            fprintf(stderr, "usage: %s\n", usage);
            return -1;
        }
        seen = 1;
    }
    return seen;
}

int tool_connect(struct tool *t)
{
    if (t->fs)
        return 0;
    const char *reg = t->registry ? t->registry : getenv("BENCHFS_REGISTRY");
    if (!reg || !*reg) {
        fprintf(stderr, "benchfs: no registry: use -r FILE or set BENCHFS_REGISTRY\n");
        return -EINVAL;
    }
    int rc = benchfs_init(&t->fs, reg);
    if (rc < 0) {
        fprintf(stderr, "benchfs: cannot connect: registry %s: %s (are the servers running?)\n", reg,
                strerror(-rc));
        t->fs = NULL;
    }
    return rc;
}

int t_stat(struct tool *t, const struct tpath *p, struct stat *st)
{
    if (p->bfs)
        return benchfs_stat(t->fs, p->path, st);
    return stat(p->path, st) == 0 ? 0 : -errno;
}

int t_mkdir(struct tool *t, const struct tpath *p, mode_t mode)
{
    if (p->bfs)
        return benchfs_mkdir(t->fs, p->path, mode);
    return mkdir(p->path, mode) == 0 ? 0 : -errno;
}

int t_list(struct tool *t, const struct tpath *dir, t_entry_fn fn, void *arg)
{
    int rc = 0;
    if (dir->bfs) {
        benchfs_dir_t *d;
        if ((rc = benchfs_opendir(t->fs, dir->path, &d)) < 0)
            return rc;
        struct benchfs_dirent e;
        while (rc == 0) {
            int r = benchfs_readdir(d, &e);
            if (r <= 0) {
                rc = r;
                break;
            }
            rc = fn(arg, e.name, e.type == DT_DIR);
        }
        benchfs_closedir(d);
        return rc;
    }
    DIR *d = opendir(dir->path);
    if (!d)
        return -errno;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(d);
        if (!e) {
            rc = errno ? -errno : 0;
            break;
        }
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        int is_dir = e->d_type == DT_DIR ? 1 : e->d_type == DT_UNKNOWN ? -1 : 0;
        if ((rc = fn(arg, e->d_name, is_dir)) < 0)
            break;
    }
    closedir(d);
    return rc;
}

int names_add(void *arg, const char *name, int is_dir)
{
    (void)is_dir;
    struct names *ns = arg;
    if (ns->n == ns->cap) {
        size_t cap = ns->cap ? ns->cap * 2 : 64;
        char **v = realloc(ns->v, cap * sizeof(*v));
        if (!v)
            return -ENOMEM;
        ns->v = v;
        ns->cap = cap;
    }
    if (!(ns->v[ns->n] = strdup(name)))
        return -ENOMEM;
    ns->n++;
    return 0;
}

void names_free(struct names *ns)
{
    for (size_t i = 0; i < ns->n; i++)
        free(ns->v[i]);
    free(ns->v);
    memset(ns, 0, sizeof(*ns));
}

int t_open(struct tool *t, const struct tpath *p, int flags, mode_t mode, struct tfile *out)
{
    out->fd = -1;
    out->f = NULL;
    if (p->bfs)
        return benchfs_open(t->fs, p->path, flags, mode, &out->f);
    out->fd = open(p->path, flags | O_CLOEXEC, mode);
    return out->fd >= 0 ? 0 : -errno;
}

ssize_t t_pread(struct tfile *f, void *buf, size_t len, off_t off)
{
    if (f->f)
        return benchfs_pread(f->f, buf, len, off);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(f->fd, (char *)buf + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            break;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

ssize_t t_pwrite(struct tfile *f, const void *buf, size_t len, off_t off)
{
    if (f->f)
        return benchfs_pwrite(f->f, buf, len, off);
    size_t done = 0;
    while (done < len) {
        ssize_t n = pwrite(f->fd, (const char *)buf + done, len - done, off + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        done += (size_t)n;
    }
    return (ssize_t)done;
}

int t_close(struct tfile *f)
{
    int rc = 0;
    if (f->f)
        rc = benchfs_close(f->f);
    else if (f->fd >= 0 && close(f->fd) < 0)
        rc = -errno;
    f->f = NULL;
    f->fd = -1;
    return rc;
}

const char *human_size(uint64_t b, char *buf, size_t cap)
{
    static const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%llu B", (unsigned long long)b);
    else
        snprintf(buf, cap, "%.1f %s", v, units[u]);
    return buf;
}
