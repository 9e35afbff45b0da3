/* The process identity a HELLO carries (rpc_wire.h, BFS_HELLO_F_PROC). */
#ifndef BFS_RPC_PROC_H
#define BFS_RPC_PROC_H

#include <stdint.h>

/* A 64-bit hash of /proc/sys/kernel/random/boot_id (0 if unknown). */
uint64_t bfs_rpc_boot_hash(void);
/* The inode of this process's pid namespace (0 if unknown). */
uint32_t bfs_rpc_pidns(void);
/* Process pid's start time, /proc/PID/stat field 22 (0 if unknown). */
uint64_t bfs_rpc_proc_start(int pid);

#endif
