/* For the unit tests of the server's stores (meta_store_test,
 * small_chunks_test): CHECK and CHECK_EQ (a failed check prints where and
 * what, and counts in `failures`; main returns non-zero when any failed),
 * and a scratch directory made and removed. */
#ifndef BFS_UNIT_CHECK_H
#define BFS_UNIT_CHECK_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static int failures;

#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__,   \
                    #cond);                                                    \
            failures++;                                                        \
        }                                                                      \
    } while (0)

/* Compares as long long so that errno codes and ssize_t print alike. */
#define CHECK_EQ(expr, want)                                                   \
    do {                                                                       \
        long long got_ = (long long)(expr), want_ = (long long)(want);         \
        if (got_ != want_) {                                                   \
            fprintf(stderr, "%s:%d: %s = %lld, expected %lld\n", __FILE__,     \
                    __LINE__, #expr, got_, want_);                             \
            failures++;                                                        \
        }                                                                      \
    } while (0)

static inline int unit_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static inline void unit_rm_rf(const char *dir)
{
    if (nftw(dir, unit_rm_one, 16, FTW_DEPTH | FTW_PHYS) < 0)
        perror(dir);
}

/* A new directory $TMPDIR/NAME.XXXXXX (or under /tmp) in root, of n bytes.
 * 0, or -1 after saying why. */
static inline int unit_scratch(char *root, size_t n, const char *name)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(root, n, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(root)) {
        perror("mkdtemp");
        return -1;
    }
    return 0;
}

#endif
