/* The benchfs command-line tool: shared declarations.
 *
 * Path convention: an argument naming a path below the mount prefix
 * ($BENCHFS_MOUNT or -m, default /benchfs), such as /benchfs/in/a.dat, is a
 * BenchFS path, exactly as the LD_PRELOAD library sees it; every other
 * argument, relative ones included, is a local path. */
#ifndef BFS_TOOL_H
#define BFS_TOOL_H

#include "client/benchfs.h"
#include "common/path.h"

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

struct tool {
    const char *registry;  /* NULL: $BENCHFS_REGISTRY */
    const char *mount;     /* normalized, no trailing slash */
    size_t mount_len;
    benchfs_t *fs;         /* connected by tool_connect() */
};

/* A path on one side: in BenchFS (bfs = 1, path inside the file system) or
 * local (bfs = 0, path as given, trailing slashes dropped). */
struct tpath {
    int bfs;
    char path[BFS_PATH_MAX];
};

/* Classify arg; -ENAMETOOLONG if it does not fit. */
int tpath_parse(const struct tool *t, const char *arg, struct tpath *out);
/* dir + "/" + name into out (the same side). */
int tpath_join(const struct tpath *dir, const char *name, struct tpath *out);
/* The path as the user sees it (BenchFS paths with the mount prefix). */
const char *tpath_show(const struct tool *t, const struct tpath *p, char *buf, size_t cap);
/* Last component of p ("" for a root). */
const char *tpath_base(const struct tpath *p);

/* Connect to the servers once; prints the reason and returns -errno on
 * failure. */
int tool_connect(struct tool *t);

/* Options of a command that takes at most one flag (0: none): 1 if it was
 * given, 0 if not, -1 after printing usage for anything else. */
int tool_flag(int argc, char **argv, char flag, const char *usage);

/* Operations on either side; all return 0 / a count or -errno. */
int t_stat(struct tool *t, const struct tpath *p, struct stat *st);
int t_mkdir(struct tool *t, const struct tpath *p, mode_t mode);
/* Calls fn for every entry of the directory (not "." and ".."); fn returns
 * 0 to continue or a negative errno to stop with it. is_dir is -1 when the
 * type is not known without a stat. */
typedef int (*t_entry_fn)(void *arg, const char *name, int is_dir);
int t_list(struct tool *t, const struct tpath *dir, t_entry_fn fn, void *arg);

/* A growing list of names: t_list(t, dir, names_add, &names). */
struct names {
    char **v;
    size_t n, cap;
};
int names_add(void *names, const char *name, int is_dir);
void names_free(struct names *ns);

struct tfile {
    int fd;               /* local */
    benchfs_file_t *f;    /* BenchFS */
};
int t_open(struct tool *t, const struct tpath *p, int flags, mode_t mode, struct tfile *out);
ssize_t t_pread(struct tfile *f, void *buf, size_t len, off_t off);
ssize_t t_pwrite(struct tfile *f, const void *buf, size_t len, off_t off);
int t_close(struct tfile *f);

/* Commands: argc/argv start at the command name; return the exit status. */
int cmd_ls(struct tool *t, int argc, char **argv);
int cmd_stat(struct tool *t, int argc, char **argv);
int cmd_mkdir(struct tool *t, int argc, char **argv);
int cmd_rm(struct tool *t, int argc, char **argv);
int cmd_cp(struct tool *t, int argc, char **argv);
int cmd_df(struct tool *t, int argc, char **argv);
int cmd_ping(struct tool *t, int argc, char **argv);
int cmd_shutdown(struct tool *t, int argc, char **argv);

/* "12.3 MiB" style sizes. */
const char *human_size(uint64_t bytes, char *buf, size_t cap);

#endif
