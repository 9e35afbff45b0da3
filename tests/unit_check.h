/* CHECK and CHECK_EQ for the unit tests of the server's stores
 * (meta_store_test, small_chunks_test): a failed check prints where and
 * what, and counts in `failures`; main returns non-zero when any failed. */
#ifndef BFS_UNIT_CHECK_H
#define BFS_UNIT_CHECK_H

#include <stdio.h>

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

#endif
