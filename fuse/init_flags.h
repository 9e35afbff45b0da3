/* benchfs-fuse: FUSE_INIT flags libfuse 3.14 cannot ask for (shared
 * mappings of direct-I/O files). See init_flags.c. */
#ifndef BFS_FUSE_INIT_FLAGS_H
#define BFS_FUSE_INIT_FLAGS_H

enum {
    BFS_INIT_FLAGS_PENDING = 0,     /* no FUSE_INIT seen yet */
    BFS_INIT_FLAGS_ASKED = 1,       /* the reply asked for FUSE_DIRECT_IO_ALLOW_MMAP */
    BFS_INIT_FLAGS_NOT_OFFERED = 2, /* the kernel does not offer it (before 6.6) */
};

/* Watch the session's /dev/fuse descriptor fd (before the loop starts). */
void bfs_fuse_init_flags_arm(int fd);
int bfs_fuse_init_flags_state(void);

#endif
