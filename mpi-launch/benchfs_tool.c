/* benchfs: command-line access to a running BenchFS (options and dispatch;
 * the commands live in tool_*.c). See benchfs(1). */
#include "tool.h"

#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *f)
{
    fprintf(f,
            "usage: benchfs [-r REGISTRY] [-m MOUNT] COMMAND [ARGS]\n"
            "  ls [-l] PATH...          list directories (or name files)\n"
            "  stat PATH...             details of files and directories\n"
            "  cp [-r] [-j N] SRC... DST  copy in, out or within BenchFS\n"
            "  rm [-r] [-f] PATH...     remove files (and trees with -r)\n"
            "  mkdir [-p] [-m MODE] PATH...  make directories\n"
            "  df                       capacity and usage of all servers together\n"
            "  ping [-q]                round trip to every server; exit 1 if one is down\n"
            "  shutdown                 stop every server\n"
            "Paths below MOUNT (default $BENCHFS_MOUNT or /benchfs) are in BenchFS, all\n"
            "others are local: benchfs cp -r input /benchfs/in\n"
            "  -r, --registry FILE  registry file (default $BENCHFS_REGISTRY)\n"
            "  -m, --mount PATH     the prefix of BenchFS paths\n"
            "  -h, --help; -V, --version\n");
}

static const struct {
    const char *name;
    int (*fn)(struct tool *, int, char **);
} commands[] = {
    {"ls", cmd_ls},     {"stat", cmd_stat}, {"cp", cmd_cp},     {"rm", cmd_rm},
    {"mkdir", cmd_mkdir}, {"df", cmd_df}, {"ping", cmd_ping}, {"shutdown", cmd_shutdown},
};

int main(int argc, char **argv)
{
    struct tool t = {0};
    const char *mount = getenv("BENCHFS_MOUNT");
    int c;
    /* '+': stop at the command, whose options are its own. */
    static const struct option longopts[] = {
        {"registry", required_argument, NULL, 'r'}, {"mount", required_argument, NULL, 'm'},
        {"help", no_argument, NULL, 'h'},           {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    while ((c = getopt_long(argc, argv, "+r:m:hV", longopts, NULL)) != -1) {
        switch (c) {
        case 'r': t.registry = optarg; break;
        case 'm': mount = optarg; break;
        case 'h': usage(stdout); return 0;
        case 'V': printf("benchfs %s\n", PACKAGE_VERSION); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return 2;
    }
    static char mbuf[BFS_PATH_MAX];
    if (!mount || !*mount)
        mount = "/benchfs";
    ssize_t n = bfs_path_normalize(mount, mbuf, sizeof(mbuf));
    if (n < 0 || n == 1) {
        fprintf(stderr, "benchfs: bad mount prefix '%s' (an absolute path other than /)\n", mount);
        return 2;
    }
    t.mount = mbuf;
    t.mount_len = (size_t)n;

    const char *cmd = argv[optind];
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (strcmp(cmd, commands[i].name) != 0)
            continue;
        int sub_argc = argc - optind;
        char **sub_argv = argv + optind;
        optind = 0; /* full getopt reset: the command parses its own options */
        int rc = commands[i].fn(&t, sub_argc, sub_argv);
        if (t.fs)
            benchfs_finalize(t.fs);
        return rc;
    }
    fprintf(stderr, "benchfs: unknown command '%s'\n", cmd);
    usage(stderr);
    return 2;
}
