/* benchfs tool: namespace commands (ls, stat, mkdir, rm) on BenchFS paths. */
#include "tool.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Parse an argument that must be in BenchFS. */
static int bfs_arg(const struct tool *t, const char *cmd, const char *arg, struct tpath *p)
{
    int rc = tpath_parse(t, arg, p);
    if (rc < 0) {
        fprintf(stderr, "benchfs %s: %s: %s\n", cmd, arg, strerror(-rc));
        return rc;
    }
    if (!p->bfs) {
        fprintf(stderr, "benchfs %s: %s: not a BenchFS path (BenchFS paths start with %s/)\n", cmd,
                arg, t->mount);
        return -EINVAL;
    }
    return 0;
}

static void mode_string(mode_t m, char s[11])
{
    s[0] = S_ISDIR(m) ? 'd' : S_ISREG(m) ? '-' : S_ISLNK(m) ? 'l' : S_ISFIFO(m) ? 'p' : S_ISSOCK(m) ? 's' : '?';
    const char *rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        s[1 + i] = (m & (0400 >> i)) ? rwx[i] : '-';
    s[10] = '\0';
}

static void print_long(const struct stat *st, const char *name)
{
    char ms[11], tbuf[32], user[32], group[32];
    mode_string(st->st_mode, ms);
    struct tm tm;
    localtime_r(&st->st_mtim.tv_sec, &tm);
    strftime(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M", &tm);
    struct passwd *pw = getpwuid(st->st_uid);
    struct group *gr = getgrgid(st->st_gid);
    snprintf(user, sizeof(user), "%s", pw ? pw->pw_name : "");
    snprintf(group, sizeof(group), "%s", gr ? gr->gr_name : "");
    if (!pw)
        snprintf(user, sizeof(user), "%u", (unsigned)st->st_uid);
    if (!gr)
        snprintf(group, sizeof(group), "%u", (unsigned)st->st_gid);
    printf("%s %2lu %-8s %-8s %12lld %s %s\n", ms, (unsigned long)st->st_nlink, user, group,
           (long long)st->st_size, tbuf, name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int ls_one(struct tool *t, const char *arg, const struct tpath *p, int lng)
{
    struct stat st;
    int rc = t_stat(t, p, &st);
    if (rc < 0) {
        fprintf(stderr, "benchfs ls: %s: %s\n", arg, strerror(-rc));
        return 1;
    }
    if (!S_ISDIR(st.st_mode)) {
        if (lng)
            print_long(&st, arg);
        else
            printf("%s\n", arg);
        return 0;
    }
    struct names ns = {0};
    if ((rc = t_list(t, p, names_add, &ns)) < 0) {
        fprintf(stderr, "benchfs ls: %s: %s\n", arg, strerror(-rc));
        names_free(&ns);
        return 1;
    }
    qsort(ns.v, ns.n, sizeof(*ns.v), cmp_str);
    int status = 0;
    for (size_t i = 0; i < ns.n; i++) {
        if (!lng) {
            printf("%s\n", ns.v[i]);
            continue;
        }
        struct tpath c;
        if ((rc = tpath_join(p, ns.v[i], &c)) == 0)
            rc = t_stat(t, &c, &st);
        if (rc < 0) {
            fprintf(stderr, "benchfs ls: %s/%s: %s\n", arg, ns.v[i], strerror(-rc));
            status = 1;
            continue;
        }
        print_long(&st, ns.v[i]);
    }
    names_free(&ns);
    return status;
}

int cmd_ls(struct tool *t, int argc, char **argv)
{
    int lng = tool_flag(argc, argv, 'l', "benchfs ls [-l] [PATH...]");
    if (lng < 0)
        return 2;
    if (tool_connect(t) < 0)
        return 1;
    const char *deflt[] = {t->mount};
    char **args = optind < argc ? argv + optind : (char **)deflt;
    int nargs = optind < argc ? argc - optind : 1, status = 0;
    for (int i = 0; i < nargs; i++) {
        struct tpath p;
        if (bfs_arg(t, "ls", args[i], &p) < 0) {
            status = 1;
            continue;
        }
        if (nargs > 1)
            printf("%s%s:\n", i ? "\n" : "", args[i]);
        status |= ls_one(t, args[i], &p, lng);
    }
    return status;
}

int cmd_stat(struct tool *t, int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: benchfs stat PATH...\n");
        return 2;
    }
    if (tool_connect(t) < 0)
        return 1;
    int status = 0;
    uint64_t cs = benchfs_chunk_size(t->fs);
    for (int i = 1; i < argc; i++) {
        struct tpath p;
        struct stat st;
        int rc = bfs_arg(t, "stat", argv[i], &p);
        if (rc == 0 && (rc = t_stat(t, &p, &st)) < 0)
            fprintf(stderr, "benchfs stat: %s: %s\n", argv[i], strerror(-rc));
        if (rc < 0) {
            status = 1;
            continue;
        }
        char ms[11], tb[3][64];
        mode_string(st.st_mode, ms);
        const struct timespec *ts[3] = {&st.st_atim, &st.st_mtim, &st.st_ctim};
        for (int k = 0; k < 3; k++) {
            struct tm tm;
            localtime_r(&ts[k]->tv_sec, &tm);
            size_t n = strftime(tb[k], sizeof(tb[k]), "%Y-%m-%d %H:%M:%S", &tm);
            snprintf(tb[k] + n, sizeof(tb[k]) - n, ".%09ld", ts[k]->tv_nsec);
        }
        uint64_t chunks = S_ISREG(st.st_mode) ? ((uint64_t)st.st_size + cs - 1) / cs : 0;
        printf("  File: %s\n  Type: %s\n  Size: %lld", argv[i],
               S_ISDIR(st.st_mode)    ? "directory"
               : S_ISREG(st.st_mode)  ? "regular file"
               : S_ISLNK(st.st_mode)  ? "symbolic link"
               : S_ISFIFO(st.st_mode) ? "fifo"
               : S_ISSOCK(st.st_mode) ? "socket"
                                      : "unknown",
               (long long)st.st_size);
        if (S_ISREG(st.st_mode))
            printf("  Chunks: %llu of %llu bytes", (unsigned long long)chunks, (unsigned long long)cs);
        printf("\n  Mode: %04o (%s)  Uid: %u  Gid: %u  Inode: %llu\n", (unsigned)(st.st_mode & 07777), ms,
               (unsigned)st.st_uid, (unsigned)st.st_gid, (unsigned long long)st.st_ino);
        printf("Access: %s\nModify: %s\nChange: %s\n", tb[0], tb[1], tb[2]);
    }
    return status;
}

/* As mkdir -p: parents get 0777 less the umask (plus u+wx), the last one mode. */
static int mkdir_parents(struct tool *t, const struct tpath *p, mode_t mode, mode_t um)
{
    struct tpath q = {.bfs = 1};
    for (const char *s = p->path + 1;; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        memcpy(q.path, p->path, (size_t)(s - p->path));
        q.path[s - p->path] = '\0';
        int rc = t_mkdir(t, &q, *s ? ((0777 & ~um) | 0300) : mode);
        if (rc == -EEXIST) {
            struct stat st;
            rc = t_stat(t, &q, &st);
            if (rc == 0 && !S_ISDIR(st.st_mode))
                rc = -ENOTDIR;
        }
        if (rc < 0 || !*s)
            return rc;
    }
}

int cmd_mkdir(struct tool *t, int argc, char **argv)
{
    int parents = 0, c;
    mode_t mode = 0777;
    while ((c = getopt(argc, argv, "pm:")) != -1) {
        char *end;
        switch (c) {
        case 'p': parents = 1; break;
        case 'm':
            mode = (mode_t)strtoul(optarg, &end, 8);
            if (*end || mode > 07777) {
                fprintf(stderr, "benchfs mkdir: bad mode '%s' (octal)\n", optarg);
                return 2;
            }
            break;
        default: fprintf(stderr, "usage: benchfs mkdir [-p] [-m MODE] PATH...\n"); return 2;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "usage: benchfs mkdir [-p] [-m MODE] PATH...\n");
        return 2;
    }
    if (tool_connect(t) < 0)
        return 1;
    mode_t um = umask(0);
    umask(um);
    int status = 0;
    for (int i = optind; i < argc; i++) {
        struct tpath p;
        int rc = bfs_arg(t, "mkdir", argv[i], &p);
        if (rc == 0 && !strcmp(p.path, "/"))
            rc = parents ? 0 : -EEXIST;
        else if (rc == 0)
            rc = parents ? mkdir_parents(t, &p, mode & ~um, um) : t_mkdir(t, &p, mode & ~um);
        if (rc < 0) {
            if (rc != -EINVAL || p.bfs)
                fprintf(stderr, "benchfs mkdir: %s: %s\n", argv[i], strerror(-rc));
            status = 1;
        }
    }
    return status;
}

/* Remove a directory's contents, then the directory (not the root). */
static int rm_tree(struct tool *t, const struct tpath *p, const char *shown)
{
    struct names ns = {0};
    int rc = t_list(t, p, names_add, &ns), status = 0;
    if (rc < 0) {
        fprintf(stderr, "benchfs rm: %s: %s\n", shown, strerror(-rc));
        names_free(&ns);
        return 1;
    }
    for (size_t i = 0; i < ns.n; i++) {
        struct tpath c;
        char cshown[BFS_PATH_MAX + 300];
        snprintf(cshown, sizeof(cshown), "%s/%s", shown, ns.v[i]);
        if ((rc = tpath_join(p, ns.v[i], &c)) == 0)
            rc = benchfs_unlink(t->fs, c.path);
        if (rc == -EISDIR) {
            status |= rm_tree(t, &c, cshown);
            continue;
        }
        if (rc < 0 && rc != -ENOENT) {
            fprintf(stderr, "benchfs rm: %s: %s\n", cshown, strerror(-rc));
            status = 1;
        }
    }
    names_free(&ns);
    if (strcmp(p->path, "/") != 0 && status == 0 && (rc = benchfs_rmdir(t->fs, p->path)) < 0) {
        fprintf(stderr, "benchfs rm: %s: %s\n", shown, strerror(-rc));
        status = 1;
    }
    return status;
}

int cmd_rm(struct tool *t, int argc, char **argv)
{
    int rec = 0, force = 0, c;
    while ((c = getopt(argc, argv, "rRf")) != -1) {
        switch (c) {
        case 'r': case 'R': rec = 1; break;
        case 'f': force = 1; break;
        default: fprintf(stderr, "usage: benchfs rm [-r] [-f] PATH...\n"); return 2;
        }
    }
    if (optind >= argc) {
        if (force)
            return 0;
        fprintf(stderr, "usage: benchfs rm [-r] [-f] PATH...\n");
        return 2;
    }
    if (tool_connect(t) < 0)
        return 1;
    int status = 0;
    for (int i = optind; i < argc; i++) {
        struct tpath p;
        if (bfs_arg(t, "rm", argv[i], &p) < 0) {
            status = 1;
            continue;
        }
        int rc = strcmp(p.path, "/") ? benchfs_unlink(t->fs, p.path) : -EISDIR;
        if (rc == -EISDIR && rec) {
            status |= rm_tree(t, &p, argv[i]);
            continue;
        }
        if (rc == -ENOENT && force)
            continue;
        if (rc < 0) {
            fprintf(stderr, "benchfs rm: %s: %s%s\n", argv[i], strerror(-rc),
                    rc == -EISDIR ? " (use -r)" : "");
            status = 1;
        }
    }
    return status;
}
