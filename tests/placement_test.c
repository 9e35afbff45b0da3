/* Golden vectors of every placement function (common/placement.c): where
 * names, inodes and chunks live is an on-disk format (a restart finds its
 * data only if these never change), so a change here must be deliberate. */
#include "common/placement.h"

#include <stdio.h>
#include <string.h>

static int failures;

#define EXPECT(got, want, what)                                                            \
    do {                                                                                   \
        unsigned long long g_ = (unsigned long long)(got), w_ = (unsigned long long)(want); \
        if (g_ != w_) {                                                                    \
            fprintf(stderr, "FAIL %s: %llu, want %llu\n", what, g_, w_);                   \
            failures++;                                                                    \
        }                                                                                  \
    } while (0)

int main(void)
{
    static const struct {
        const char *path;
        unsigned long long hash;
        unsigned on1, on3, on16;
    } meta[] = {
        {"/", 2577360410843890735ull, 0, 1, 15},
        {"/a", 4273936336627717636ull, 0, 1, 4},
        {"/dir/file.1", 1175150419101510190ull, 0, 1, 14},
        {"/dir/file.2", 10698855567190577802ull, 0, 0, 10},
        {"/mdtest/rank0/f000123", 8121945083083830981ull, 0, 0, 5},
    };
    for (size_t i = 0; i < sizeof(meta) / sizeof(meta[0]); i++) {
        size_t n = strlen(meta[i].path);
        EXPECT(bfs_hash64(meta[i].path, n, 0), meta[i].hash, meta[i].path);
        EXPECT(bfs_place_meta(meta[i].path, n, 1), meta[i].on1, meta[i].path);
        EXPECT(bfs_place_meta(meta[i].path, n, 3), meta[i].on3, meta[i].path);
        EXPECT(bfs_place_meta(meta[i].path, n, 16), meta[i].on16, meta[i].path);
    }
    static const struct {
        unsigned long long fid;
        unsigned idx, on3, on16;
    } chunk[] = {
        {281474976710657ull, 0, 0, 12}, {281474976710657ull, 1, 1, 13},
        {281474976710657ull, 2, 2, 14}, {562949953433657ull, 0, 0, 1},
        {562949953433657ull, 1, 1, 2},  {562949953433657ull, 2, 2, 3},
        {844424930136064ull, 0, 1, 11}, {844424930136064ull, 1, 2, 12},
        {844424930136064ull, 2, 0, 13},
    };
    for (size_t i = 0; i < sizeof(chunk) / sizeof(chunk[0]); i++) {
        EXPECT(bfs_place_chunk(chunk[i].fid, chunk[i].idx, 1), 0, "chunk on 1 server");
        EXPECT(bfs_place_chunk(chunk[i].fid, chunk[i].idx, 3), chunk[i].on3, "chunk on 3");
        EXPECT(bfs_place_chunk(chunk[i].fid, chunk[i].idx, 16), chunk[i].on16, "chunk on 16");
    }
    /* home: the allocating rank, carried in the id's top 16 bits. */
    EXPECT(bfs_place_home((1ull << 48) | 7, 3), 0, "home of rank 0's id");
    EXPECT(bfs_place_home((3ull << 48) | 7, 3), 2, "home of rank 2's id");
    EXPECT(bfs_place_home((4ull << 48) | 7, 3), 3, "an id of no server of 3");
    EXPECT(bfs_place_home(7, 3), 3, "an id without a rank");
    EXPECT(bfs_place_home(0xffffull << 48, 65535), 65534, "the last rank");
    printf("%s: placement_test, %d failures\n", failures ? "FAIL" : "PASS", failures);
    return failures != 0;
}
