/* The other side of tests/fuse_mount.sh: reads and changes files through
 * the client API directly (as a preloaded process or another node would),
 * so that the test can check what the FUSE mount shows and the other way
 * round. Paths are BenchFS paths ("/f").
 *   fuse_peer write PATH OFFSET TEXT   pwrite TEXT at OFFSET (creates PATH)
 *   fuse_peer cat PATH                 the whole file on stdout
 *   fuse_peer truncate PATH SIZE
 *   fuse_peer size PATH                st_size on stdout
 *   fuse_peer ls PATH                  the names in a directory, one a line
 *   fuse_peer mv PATH NEWPATH          rename
 *   fuse_peer ino PATH                 st_ino (the file id) on stdout
 *   fuse_peer append PATH TAG N        N lines "TAG i" appended (O_APPEND)
 * Exit 0, or 1 with the error on stderr. */
#include "client/benchfs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int fail(const char *what, int rc)
{
    fprintf(stderr, "fuse_peer: %s: %s\n", what, strerror(-rc));
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: fuse_peer write|cat|truncate|size|ls|mv|ino|append PATH [ARGS]\n");
        return 2;
    }
    const char *cmd = argv[1], *path = argv[2];
    benchfs_t *fs;
    int rc = benchfs_init(&fs, NULL);
    if (rc < 0)
        return fail("init", rc);
    benchfs_file_t *f;
    if (!strcmp(cmd, "write") && argc == 5) {
        rc = benchfs_open(fs, path, O_WRONLY | O_CREAT, 0644, &f);
        if (rc < 0)
            return fail(path, rc);
        ssize_t w = benchfs_pwrite(f, argv[4], strlen(argv[4]), atoll(argv[3]));
        if (w != (ssize_t)strlen(argv[4]))
            return fail("pwrite", w < 0 ? (int)w : -5);
        rc = benchfs_close(f);
    } else if (!strcmp(cmd, "cat")) {
        rc = benchfs_open(fs, path, O_RDONLY, 0, &f);
        if (rc < 0)
            return fail(path, rc);
        char buf[65536];
        off_t off = 0;
        ssize_t r;
        while ((r = benchfs_pread(f, buf, sizeof(buf), off)) > 0) {
            fwrite(buf, 1, (size_t)r, stdout);
            off += r;
        }
        if (r < 0)
            return fail("pread", (int)r);
        rc = benchfs_close(f);
    } else if (!strcmp(cmd, "truncate") && argc == 4) {
        rc = benchfs_truncate(fs, path, atoll(argv[3]));
    } else if (!strcmp(cmd, "size")) {
        struct stat st;
        rc = benchfs_stat(fs, path, &st);
        if (rc == 0)
            printf("%lld\n", (long long)st.st_size);
    } else if (!strcmp(cmd, "mv") && argc == 4) {
        rc = benchfs_rename(fs, path, argv[3]);
    } else if (!strcmp(cmd, "ino")) {
        struct stat st;
        rc = benchfs_stat(fs, path, &st);
        if (rc == 0)
            printf("%llu\n", (unsigned long long)st.st_ino);
    } else if (!strcmp(cmd, "append") && argc == 5) {
        rc = benchfs_open(fs, path, O_WRONLY | O_CREAT | O_APPEND, 0644, &f);
        if (rc < 0)
            return fail(path, rc);
        for (int i = 0; i < atoi(argv[4]) && rc >= 0; i++) {
            char line[128];
            int n = snprintf(line, sizeof(line), "%s %d\n", argv[3], i);
            ssize_t w = benchfs_append(f, line, (size_t)n, NULL);
            rc = w == n ? 0 : w < 0 ? (int)w : -5;
        }
        int c = benchfs_close(f);
        if (rc == 0)
            rc = c;
    } else if (!strcmp(cmd, "ls")) {
        benchfs_dir_t *d;
        rc = benchfs_opendir(fs, path, &d);
        if (rc < 0)
            return fail(path, rc);
        struct benchfs_dirent e;
        while ((rc = benchfs_readdir(d, &e)) == 1)
            printf("%s\n", e.name);
        benchfs_closedir(d);
    } else {
        fprintf(stderr, "fuse_peer: bad command\n");
        return 2;
    }
    if (rc < 0)
        return fail(cmd, rc);
    benchfs_finalize(fs);
    return 0;
}
